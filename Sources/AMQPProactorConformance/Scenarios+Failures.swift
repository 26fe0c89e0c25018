import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

// Connections and listeners that fail: each ends in a transport error and transport-closed, or a
// listener-close with the error, and the proactor goes inactive.
extension ProactorConformance {
    /// Collects a connection's transport errors and counts its transport-closed events.
    final class Outcome: Sendable {
        let errors = LockedValue<[AMQPError]>([])
        let closed = Atomic<Int>(0)

        func record(_ event: ProactorBatchEvent) {
            switch event {
            case .amqp(.transportError(let e)): errors.withLock { $0.append(e) }
            case .amqp(.transportClosed): closed.add(1, ordering: .relaxed)
            default: break
            }
        }
    }

    /// A listener that refuses: the client's connection ends with a transport error.
    static var refuse: ConformanceScenario {
        ConformanceScenario(name: "a refused connection ends with a transport error") { h in
            let client = Outcome()
            let refused = Atomic<Int>(0)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, batch in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    _ = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "c"))
                case .proactor(.listenerAccept(let l)):
                    refused.add(1, ordering: .relaxed)
                    l.refuse()
                case .amqp(.connectionInit(let c)):
                    c.open()
                case .amqp(.transportClosed):
                    ListenerRegistry.closeAll(h)
                default: break
                }
                client.record(event)
            }
            h.check(refused.load(ordering: .relaxed) == 1, "accept events: \(refused.load(ordering: .relaxed))")
            h.check(client.closed.load(ordering: .relaxed) == 1, "transport-closed: \(client.closed.load(ordering: .relaxed))")
            let errors = client.errors.withLock { $0 }
            h.check(errors.count == 1, "transport errors: \(errors)")
        }
    }

    /// Nothing listens: a transport error naming the refusal, then transport-closed.
    static var connectionRefused: ConformanceScenario {
        ConformanceScenario(name: "connection refused") { h in
            // A port that was just free: bound, then closed.
            let port = freePort()
            let client = Outcome()
            _ = h.proactor.connect(to: "127.0.0.1:\(port)", configuration: DriverConfiguration(containerID: "c"))
            h.run { event, _ in client.record(event) }
            let errors = client.errors.withLock { $0 }
            h.check(errors.map(\.condition) == [ProactorCondition.io], "errors: \(errors)")
            h.check(errors.first?.description == "connect to 127.0.0.1:\(port): Connection refused", "error: \(errors)")
            h.check(client.closed.load(ordering: .relaxed) == 1, "transport-closed: \(client.closed.load(ordering: .relaxed))")
        }
    }

    /// A name that does not resolve: a transport error on the connection, never a throw.
    static var unknownHost: ConformanceScenario {
        ConformanceScenario(name: "unknown host") { h in
            let client = Outcome()
            _ = h.proactor.connect(to: "no-such-host.invalid:5672", configuration: DriverConfiguration(containerID: "c"))
            h.run { event, _ in client.record(event) }
            let errors = client.errors.withLock { $0 }
            h.check(errors.map(\.condition) == [ProactorCondition.io], "errors: \(errors)")
            h.check(errors.first?.description?.hasPrefix("connect to no-such-host.invalid:5672: ") == true, "error: \(errors)")
            h.check(client.closed.load(ordering: .relaxed) == 1, "transport-closed")
        }
    }

    /// A second listener on a port in use closes with the error; the first goes on.
    static var portInUse: ConformanceScenario {
        ConformanceScenario(name: "a listener on a port in use") { h in
            let first = h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            let closes = LockedValue<[AMQPError?]>([])
            let opens = Atomic<Int>(0)
            let second = LockedValue<ProactorListener?>(nil)
            h.run { event, _ in
                switch event {
                case .proactor(.listenerOpen(let l)) where l === first:
                    opens.add(1, ordering: .relaxed)
                    second.withLock { $0 = h.proactor.listen(on: address(l.port), backlog: 4) }
                case .proactor(.listenerOpen):
                    opens.add(1, ordering: .relaxed)
                case .proactor(.listenerClose(let l, let error)):
                    closes.withLock { $0.append(error) }
                    if l !== first { first.close() }
                default: break
                }
            }
            let got = closes.withLock { $0 }
            h.check(opens.load(ordering: .relaxed) == 1, "listener-open events: \(opens.load(ordering: .relaxed))")
            h.check(got.count == 2, "listener-close events: \(got)")
            h.check(got.first??.condition == ProactorCondition.io, "the second listener's error: \(got)")
            h.check(got.first??.description?.hasSuffix("Address already in use") == true, "the second listener's error: \(got)")
            h.check(got.count == 2 && got[1] == nil, "the first closes without error: \(got)")
        }
    }

    /// A port nothing listens on (bound, then closed).
    static func freePort() -> UInt16 {
        guard let s = try? Socket.open(.ipv4, nonBlocking: false),
              let a = try? SocketAddress.resolve(host: "127.0.0.1", port: "0").first else { return 1 }
        defer { try? s.close() }
        try? s.bind(to: a)
        return ((try? s.localAddress().port) ?? nil) ?? 1
    }
}
