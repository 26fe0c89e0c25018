import XCTest

/// Issue 22, finding 3: a receiver that drains (a JMS `receiveNoWait`) gets what the queue holds.
/// Before the fix the engine answered the drain before the broker's handler was asked, so it got
/// 1 of 5. Qpid Proton Python is the client (proton_drain.py); `amqp broker` runs on each backend.
final class BrokerDrainTests: XCTestCase {
    func testADrainingReceiverGetsWhatTheQueueHolds() throws {
        try assertProtonScriptThroughBroker("proton_drain.py", arguments: { ["amqp://127.0.0.1:\($0)", "jms", "5"] },
                                            lastLine: "drained 5 of 5")
    }
}
