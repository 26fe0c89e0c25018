import AMQPEngine
import AMQPProactor
import Testing
import AMQPURing

/// `get()` on io_uring: one thread, no pool, never blocking. Each call submits what was prepared
/// and reaps what completed without waiting, so a connection pair opens and closes by polling.
@Suite(.enabled(if: URingSupport.runs, URingSupport.reason))
struct URingGetTests {
    @Test func aPairOpensAndClosesOnGetAlone() throws {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        let proactor = try URingProactor(configuration: configuration)
        proactor.listen(on: "127.0.0.1:0", backlog: 4)
        var listener: ProactorListener?
        var opened = 0, closed = 0, inactive = 0, emptyPolls = 0
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while inactive == 0 && ContinuousClock.now < deadline {
            guard let batch = proactor.get() else {
                emptyPolls += 1
                continue
            }
            while let event = batch.next() {
                switch event {
                case .proactor(.listenerOpen(let l)):
                    listener = l
                    proactor.connect(to: "127.0.0.1:\(l.port ?? 0)", configuration: DriverConfiguration(containerID: "client"))
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "server"))
                case .amqp(.connectionInit(let c)) where batch.driver?.mode == .client:
                    c.open()
                case .amqp(.connectionRemoteOpen(let c)):
                    opened += 1
                    if c.localState == .uninitialized { c.open() } else { c.close() }
                case .amqp(.connectionRemoteClose(let c)):
                    c.close()
                case .amqp(.transportClosed):
                    closed += 1
                    if closed == 2 { listener?.close() }
                case .proactor(.inactive):
                    inactive += 1
                default:
                    break
                }
            }
            proactor.done(batch)
        }
        #expect(opened == 2, "each side saw the other's open")
        #expect(closed == 2, "both connections reached transport-closed")
        #expect(inactive == 1)
        #expect(emptyPolls > 0, "get() returned nil while nothing was ready, never blocking")
    }
}
