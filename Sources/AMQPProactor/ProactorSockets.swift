import AMQPCodec
import AMQPEngine
import AMQPSystem

// What every backend does the same way before its IO starts: resolving a connect target and
// binding a listening socket. Failures become the AMQPErrors the contract promises, never throws.

/// A client connection's driver and where it will try to connect.
package struct ConnectPlan {
    package let driver: ConnectionDriver
    package let phase: ConnectionTask.Phase

    /// Resolves `address` on the caller's thread (as Proton does) and makes the driver; the SNI
    /// hostname defaults to the address's host.
    package init(address: String, configuration: DriverConfiguration) {
        var configuration = configuration
        let parsed = ProactorAddress(address)
        if configuration.hostname == nil, let host = parsed?.host, !host.isEmpty { configuration.hostname = host }
        driver = ConnectionDriver(mode: .client, configuration: configuration)
        guard let parsed else {
            phase = .starting([], error: AMQPError(condition: ProactorCondition.io, description: "connect to \(address): not an address"))
            return
        }
        do {
            let host = parsed.host.isEmpty ? "localhost" : parsed.host
            phase = .starting(try SocketAddress.resolve(host: host, port: parsed.numericPort), error: nil)
        } catch {
            phase = .starting([], error: AMQPError(condition: ProactorCondition.io, description: "connect to \(address): \(error)"))
        }
    }
}

/// A non-blocking connect started on the first of `addresses` that takes it: it completes (or
/// fails) when the socket turns writable. The rest are for trying next.
package struct ConnectAttempt {
    /// nil when no address could be tried; `last` says why.
    package var socket: Socket?
    package var remaining: [SocketAddress] = []
    package var last: Errno?

    package init(_ addresses: [SocketAddress], last: Errno?) {
        var rest = addresses[...]
        self.last = last
        while let address = rest.popFirst() {
            let socket: Socket
            do {
                socket = try Socket.open(address.family, nonBlocking: true)
            } catch {
                self.last = error
                continue
            }
            try? socket.setNoDelay(true)
            do {
                try socket.connect(to: address)
            } catch .inProgress {
                // Completes (or fails) later: the socket turns writable.
            } catch {
                self.last = error
                try? socket.close()
                continue
            }
            self.socket = socket
            remaining = Array(rest)
            return
        }
    }
}

/// A listening socket bound to the first address that binds, or why there is none.
package struct ListeningSocket {
    package var socket: Socket?
    package var port: UInt16?
    package var failure: AMQPError?

    /// Binds and listens on `address` (an empty host is every interface); `nonBlocking` for
    /// readiness backends, blocking for completion backends, whose kernel does the waiting.
    package init(address: String, backlog: Int, nonBlocking: Bool) {
        guard let parsed = ProactorAddress(address) else {
            failure = AMQPError(condition: ProactorCondition.io, description: "listen on \(address): not an address")
            return
        }
        do {
            let addresses = try SocketAddress.resolve(host: parsed.host.isEmpty ? nil : parsed.host, port: parsed.numericPort, passive: true)
            // The first address that binds: IPv4 or IPv6, as the resolver prefers.
            var lastError: Errno?
            for a in addresses {
                do throws(Errno) {
                    let s = try Socket.open(a.family, nonBlocking: nonBlocking)
                    do {
                        try s.setReuseAddress(true)
                        try s.bind(to: a)
                        try s.listen(backlog: CInt(clamping: max(1, backlog)))
                        socket = s
                        port = try? s.localAddress().port
                        return
                    } catch {
                        try? s.close()
                        throw error
                    }
                } catch {
                    lastError = error
                }
            }
            failure = AMQPError(condition: ProactorCondition.io, description: "listen on \(address): \(lastError.map { "\($0)" } ?? "no address")")
        } catch {
            failure = AMQPError(condition: ProactorCondition.io, description: "listen on \(address): \(error)")
        }
    }
}
