import XCTest

/// Qpid Proton Python sends messages of every AMQP type and section, with bodies larger than a
/// frame, through `amqp broker` and receives them unchanged (proton_zoo.py), on each backend.
/// Scripts/test.sh runs it against Debian's Proton 0.37 and again against 0.40 from PyPI.
final class BrokerZooTests: XCTestCase {
    func testEveryTypeAndSectionArrivesUnchanged() throws {
        try assertProtonScriptThroughBroker("proton_zoo.py", arguments: { ["amqp://127.0.0.1:\($0)"] },
                                            lastLine: "ok 29 messages")
    }
}
