import AMQPSystem
import Foundation
import Glibc

/// A TCP proxy in front of the broker, so that a test can cut a client's connection at any moment:
/// both of its sockets are reset (SO_LINGER 0), as when a cable is pulled, and the broker sees its
/// transport fail in the middle of whatever it was doing. A connection that ends by itself is
/// closed both ways once what it sent is passed on.
///
/// One thread moves the bytes, with poll(2) over non-blocking sockets; it holds every socket, and
/// the test reaches it only through the locked `control`.
final class ChaosProxy: Sendable {
    let port: UInt16

    private struct Control {
        /// Cuts asked for and not done yet, each with the random number that picks its connection.
        var cuts: [UInt64] = []
        var cutsDone = 0
        var connections = 0
        var stopping = false
        var stopped = false
    }
    private let control = LockedValue(Control())

    /// Listens on a free port of 127.0.0.1 and passes each connection on to 127.0.0.1:`target`.
    init(to target: UInt16) throws {
        let listener = try Socket.open(.ipv4, nonBlocking: true)
        try listener.setReuseAddress(true)
        try listener.bind(to: try SocketAddress.resolve(host: "127.0.0.1", port: "0")[0])
        try listener.listen(backlog: 64)
        port = try listener.localAddress().port ?? 0
        let control = control
        Thread { ProxyLoop(listener: listener, target: target, control: control).run() }.start()
    }

    /// Connections open now.
    var connections: Int { control.withLock { $0.connections } }

    /// Connections cut so far.
    var cutsDone: Int { control.withLock { $0.cutsDone } }

    /// Cuts one open connection, `pick` modulo their number choosing which (nothing when none is
    /// open); done on the proxy's thread within about 10 ms.
    func cutOne(pick: UInt64) { control.withLock { $0.cuts.append(pick) } }

    /// Closes every connection and the listener; waits for the proxy's thread to finish.
    func stop() {
        control.withLock { $0.stopping = true }
        _ = eventually(within: .seconds(5)) { control.withLock { $0.stopped } }
    }

    /// The proxy's thread: its sockets and buffers are touched by no other.
    private final class ProxyLoop {
        struct Pair {
            let client: Socket
            let upstream: Socket
            var toUpstream: [UInt8] = []
            var toClient: [UInt8] = []
            var ended = false
        }
        let listener: Socket
        let target: UInt16
        let control: LockedValue<Control>
        var pairs: [Pair] = []
        // The read buffer: allocated once, used only by this loop's thread, one read at a time
        // (each read's bytes are copied out before the next), freed in deinit when the loop ends.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 1)
        /// Past this much waiting for a slow side, the other side is not read: the proxy's memory stays bounded.
        let highWater = 1 << 20

        init(listener: Socket, target: UInt16, control: LockedValue<Control>) {
            self.listener = listener
            self.target = target
            self.control = control
        }

        deinit { buffer.deallocate() }

        func run() {
            while true {
                let (cuts, stopping) = control.withLock { c in defer { c.cuts = [] }; return (c.cuts, c.stopping) }
                if stopping { break }
                for pick in cuts where !pairs.isEmpty {
                    reset(pairs.remove(at: Int(pick % UInt64(pairs.count))))
                    control.withLock { $0.cutsDone += 1 }
                }
                var set = [PollDescriptor(listener.descriptor, events: .input)]
                for p in pairs {
                    set.append(PollDescriptor(p.client.descriptor, events: interest(reading: p.toUpstream, writing: p.toClient)))
                    set.append(PollDescriptor(p.upstream.descriptor, events: interest(reading: p.toClient, writing: p.toUpstream)))
                }
                _ = try? PollDescriptor.poll(&set, timeout: 10)
                for i in pairs.indices {
                    pump(&pairs[i], client: set[1 + 2 * i].returnedEvents, upstream: set[2 + 2 * i].returnedEvents)
                }
                for p in pairs where p.ended { close(p) }
                pairs.removeAll { $0.ended }
                if set[0].returnedEvents.contains(.input) { acceptAll() }
                control.withLock { $0.connections = pairs.count }
            }
            for p in pairs { reset(p) }
            pairs = []
            try? listener.close()
            control.withLock { $0.connections = 0; $0.stopped = true }
        }

        private func interest(reading pending: [UInt8], writing out: [UInt8]) -> PollEvents {
            var e: PollEvents = []
            if pending.count < highWater { e.insert(.input) }
            if !out.isEmpty { e.insert(.output) }
            return e
        }

        private func acceptAll() {
            while let client = try? listener.accept(nonBlocking: true) {
                do {
                    let upstream = try Socket.connect(host: "127.0.0.1", port: String(target))
                    _ = fcntl(upstream.descriptor.rawValue, F_SETFL, fcntl(upstream.descriptor.rawValue, F_GETFL) | O_NONBLOCK)
                    pairs.append(Pair(client: client, upstream: upstream))
                } catch {
                    try? client.close()
                }
            }
        }

        /// Moves what each side has for the other; marks the pair ended when either side ends.
        private func pump(_ p: inout Pair, client: PollEvents, upstream: PollEvents) {
            if !client.intersection([.input, .hangUp, .error]).isEmpty, !read(p.client, into: &p.toUpstream) { p.ended = true }
            if !upstream.intersection([.input, .hangUp, .error]).isEmpty, !read(p.upstream, into: &p.toClient) { p.ended = true }
            if !write(&p.toUpstream, to: p.upstream) || !write(&p.toClient, to: p.client) { p.ended = true }
        }

        /// Reads what is there; false when the socket ended (EOF or error).
        private func read(_ s: Socket, into pending: inout [UInt8]) -> Bool {
            while pending.count < highWater {
                do {
                    let n = try s.read(into: buffer)
                    if n == 0 { return false }
                    pending.append(contentsOf: buffer[..<n])
                } catch {
                    return error == .wouldBlock
                }
            }
            return true
        }

        /// Writes what it can; false when the socket failed.
        private func write(_ pending: inout [UInt8], to s: Socket) -> Bool {
            guard !pending.isEmpty else { return true }
            do {
                let n = try pending.withUnsafeBytes { try s.send($0, flags: [.noSignal, .dontWait]) }
                pending.removeFirst(n)
                return true
            } catch let e as Errno {
                return e == .wouldBlock
            } catch {
                return false
            }
        }

        /// An orderly end: what is pending goes out if it can at once, then both sides close.
        private func close(_ p: Pair) {
            var p = p
            _ = write(&p.toUpstream, to: p.upstream)
            _ = write(&p.toClient, to: p.client)
            try? p.client.close()
            try? p.upstream.close()
        }

        /// A cut: both sockets reset, nothing pending passed on.
        private func reset(_ p: Pair) {
            for s in [p.client, p.upstream] {
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                _ = setsockopt(s.descriptor.rawValue, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                try? s.close()
            }
        }
    }
}
