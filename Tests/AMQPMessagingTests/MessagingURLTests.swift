import AMQPMessaging
import XCTest

final class MessagingURLTests: XCTestCase {
    func testFullURL() throws {
        let u = try MessagingURL("amqp://alice:s%40cret@broker.example:5673/orders")
        XCTAssertEqual(u.scheme, "amqp")
        XCTAssertEqual(u.user, "alice")
        XCTAssertEqual(u.password, "s@cret")
        XCTAssertEqual(u.host, "broker.example")
        XCTAssertEqual(u.port, 5673)
        XCTAssertEqual(u.address, "orders")
        XCTAssertEqual(u.hostAndPort, "broker.example:5673")
        XCTAssertEqual(u.description, "amqp://alice:***@broker.example:5673/orders")
    }

    func testDefaultsAndTheAddressKeptUnchanged() throws {
        let u = try MessagingURL("amqp://h//queue/a")
        XCTAssertEqual(u.port, 5672)
        XCTAssertNil(u.user)
        XCTAssertEqual(u.address, "/queue/a", "everything after the first / is the address, as RabbitMQ needs")
        XCTAssertNil(try MessagingURL("amqp://h").address)
        XCTAssertNil(try MessagingURL("amqp://h/").address)
        XCTAssertEqual(try MessagingURL("amqps://h").port, 5671)
        XCTAssertEqual(try MessagingURL("AMQP://bob@h:1/x?y").address, "x?y")
        XCTAssertEqual(try MessagingURL("AMQP://bob@h:1/x").user, "bob")
        XCTAssertEqual(try MessagingURL("amqp://0.0.0.0:0").port, 0, "a listener's free port")
    }

    func testIPv6() throws {
        let u = try MessagingURL("amqp://[::1]:5000/q")
        XCTAssertEqual(u.host, "::1")
        XCTAssertEqual(u.port, 5000)
        XCTAssertEqual(u.hostAndPort, "[::1]:5000")
        XCTAssertEqual(try MessagingURL("amqp://[fe80::1]").port, 5672)
    }

    func testInvalidURLsSayWhy() {
        let cases: [(String, String)] = [
            ("localhost:5672", "no scheme (expected amqp:// or amqps://)"),
            ("http://h", "unknown scheme 'http' (expected amqp or amqps)"),
            ("amqp://", "no host"),
            ("amqp://:5672/q", "no host"),
            ("amqp://h:70000", "invalid port '70000'"),
            ("amqp://h:port", "invalid port 'port'"),
            ("amqp://[::1", "unclosed '[' in the host"),
            ("amqp://[::1]x", "unexpected 'x' after the host"),
            ("amqp://a%zz@h", "bad percent escape in the user or password"),
        ]
        for (text, why) in cases {
            XCTAssertThrowsError(try MessagingURL(text), text) { error in
                XCTAssertEqual(error as? MessagingError, .invalidURL(text, why), text)
                XCTAssertEqual("\(error)", "invalid URL '\(text)': \(why)")
            }
        }
    }
}
