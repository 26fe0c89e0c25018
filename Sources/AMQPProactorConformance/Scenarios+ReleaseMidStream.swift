import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

// Release while output is on its way: whoever drives the connection next must neither repeat a
// byte the backend already wrote nor lose one it had not.
extension ProactorConformance {
    /// A client sends 400 messages of 4,000 bytes (more than the socket takes at once, so writes
    /// are in flight) and releases the connection in the same batch. The test then writes the
    /// driver's pending output itself, as an application that took the socket back does. The
    /// server must receive every message exactly once, in order, with no framing error: a backend
    /// that returns output it had already written (an io_uring send that completed unseen) makes
    /// the peer read a transfer twice, or a frame cut in the middle.
    static var releaseMidStream: ConformanceScenario {
        ConformanceScenario(name: "release with output in flight repeats and loses nothing") { h in
            let count = 400
            let size = 4000
            let received = LockedValue<[UInt32]>([])
            let serverErrors = LockedValue<[AMQPError]>([])
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run(threads: 2, timeout: .seconds(60)) { event, batch in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    _ = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "releasing"))
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "server"))
                case .amqp(let e):
                    guard let driver = batch.driver else { return }
                    if driver.mode == .server {
                        switch e {
                        case .connectionRemoteOpen(let c): c.open()
                        case .sessionRemoteBegin(let s): s.begin()
                        case .linkRemoteOpen(let link):
                            link.localTarget = link.remoteAttach?.target?.target
                            link.attach()
                            link.flow(credit: UInt32(count))
                        case .delivery(let d) where !d.isPartial:
                            let p = d.readPayload()
                            let index = p.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                            received.withLock { $0.append(p.count == size ? index : .max) }
                            d.accept()
                        case .transportError(let error):
                            serverErrors.withLock { $0.append(error) }
                        case .transportClosed:
                            ListenerRegistry.closeAll(h)
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
                        for i in 0..<count {
                            var payload = [UInt8](repeating: 0x5a, count: size)
                            for k in 0..<4 { payload[k] = UInt8(truncatingIfNeeded: UInt32(i) >> UInt32(24 - 8 * k)) }
                            link.send(payload)
                        }
                        guard let (released, socket) = h.proactor.release(batch), let socket else {
                            return h.fail("release returned no socket")
                        }
                        h.noteReleased(released)
                        writeRest(of: released, to: socket, h)
                        // Left open until the server has read all of it: closing sooner could cut it.
                        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
                        while received.withLock({ $0.count }) < count && ContinuousClock.now < deadline { SystemThread.sleep(for: .milliseconds(1)) }
                        try? socket.close()
                    default:
                        break
                    }
                default:
                    break
                }
            }
            let got = received.withLock { $0 }
            h.check(got.count == count, "the server received \(got.count) of \(count) messages")
            h.check(got == (0..<UInt32(count)).filter { Int($0) < got.count }, "out of order, repeated or cut: \(got.prefix(20))…")
            // The socket closed with the server's replies unread resets the connection: an IO
            // error, and expected. A frame cut or repeated shows as a framing or decode error.
            let framing = serverErrors.withLock { $0 }.filter { $0.condition != ErrorCondition.connectionForced && $0.condition != ProactorCondition.io }
            h.check(framing.isEmpty, "the server saw \(framing)")
        }
    }

    /// What a host does with a released connection that still has output: writes it all, here
    /// without a poller (a short sleep when the socket is full), within 20 seconds.
    private static func writeRest(of driver: ConnectionDriver, to socket: Socket, _ h: ConformanceHarness) {
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while !driver.pendingOutput.isEmpty && ContinuousClock.now < deadline {
            let result = driver.pendingOutput.withUnsafeBytes { bytes -> Result<Int, Errno> in
                do throws(Errno) { return .success(try socket.send(bytes, flags: [.noSignal, .dontWait])) } catch { return .failure(error) }
            }
            switch result {
            case .success(let n): driver.writeDone(n)
            case .failure(let e) where e == .wouldBlock || e == .interrupted: SystemThread.sleep(for: .microseconds(500))
            case .failure(let e): return h.fail("writing the released connection's output: \(e)")
            }
        }
        h.check(driver.pendingOutput.isEmpty, "the released connection's output was not all written in 20 s")
    }
}
