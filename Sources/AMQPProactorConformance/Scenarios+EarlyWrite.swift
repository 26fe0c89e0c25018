import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

// Early writes: output leaves during a long handler call, not only when the batch is done.
extension ProactorConformance {
    /// A client sends 1000 messages of 200 bytes in one handler call and then, still in that
    /// call, waits for the server (on the pool's other thread) to receive one. A backend that
    /// writes only when the batch is done fails this: the server gets nothing while the sender
    /// holds its batch, and the two peers take turns instead of working at once.
    static var earlyWrite: ConformanceScenario {
        ConformanceScenario(name: "a long send reaches the peer before its batch ends") { h in
            let count = 1000
            let received = Atomic<Int>(0)
            let receivedDuringSend = Atomic<Int>(-1)
            let accepted = Atomic<Int>(0)
            let errors = LockedValue<[AMQPError]>([])
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run(threads: 2, timeout: .seconds(60)) { event, batch in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    _ = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "sender"))
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "server"))
                case .amqp(let e):
                    guard let driver = batch.driver else { return }
                    switch e {
                    case .transportError(let error):
                        errors.withLock { $0.append(error) }
                    case .transportClosed:
                        if driver.mode == .client { ListenerRegistry.closeAll(h) }
                    default:
                        break
                    }
                    if driver.mode == .server {
                        switch e {
                        case .connectionRemoteOpen(let c): c.open()
                        case .sessionRemoteBegin(let s): s.begin()
                        case .linkRemoteOpen(let link):
                            link.localTarget = link.remoteAttach?.target?.target
                            link.attach()
                            link.flow(credit: UInt32(count))
                        case .delivery(let d) where !d.isPartial:
                            received.add(1, ordering: .releasing)
                            _ = d.readPayload()
                            d.accept()
                        case .connectionRemoteClose(let c): c.close()
                        default: break
                        }
                        return
                    }
                    switch e {
                    case .connectionInit(let c):
                        c.open()
                        let s = c.session()
                        s.begin()
                        s.sender(name: "sender", target: "queue").attach()
                    case .linkFlow(let link) where link.credit >= UInt32(count) && link.deliveryCount == 0:
                        for _ in 0..<count { link.send([UInt8](repeating: 0x5a, count: 200)) }
                        // Still in the batch: the server can only have these if they were written.
                        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
                        while received.load(ordering: .acquiring) == 0 && ContinuousClock.now < deadline {
                            SystemThread.sleep(for: .milliseconds(1))
                        }
                        receivedDuringSend.store(received.load(ordering: .acquiring), ordering: .relaxed)
                    case .delivery(let d) where d.remotelySettled || d.remoteState != nil:
                        if d.remoteState == .accepted, accepted.add(1, ordering: .relaxed).newValue == count {
                            d.link.session.connection.close()
                        }
                        d.settle()
                    default:
                        break
                    }
                default:
                    break
                }
            }
            let during = receivedDuringSend.load(ordering: .relaxed)
            h.check(during > 0, "the server received \(during) messages while the sender's batch was held (none: nothing was written early)")
            h.check(accepted.load(ordering: .relaxed) == count, "accepted \(accepted.load(ordering: .relaxed)) of \(count)")
            h.check(received.load(ordering: .relaxed) == count, "received \(received.load(ordering: .relaxed)) of \(count)")
            h.check(errors.withLock { $0.isEmpty }, "transport errors: \(errors.withLock { $0 })")
        }
    }
}
