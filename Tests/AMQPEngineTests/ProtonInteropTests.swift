import AMQPCodec
@testable import AMQPEngine
import Foundation
import XCTest

/// Interop of our ``ConnectionDriver`` with Qpid Proton's own engine, byte for byte: Debian's 0.37,
/// and 0.40 from PyPI when `Scripts/test.sh` runs these tests again with `AMQP_PROTON_PYTHON`.
///
/// Each test runs one scenario of `proton_peer.py` (Proton's Transport, Connection and Collector
/// in memory, over the child's stdin/stdout) against our driver; see `Support/ProtonPeer.swift`.
/// Both sides check what they saw: the peer's checks decide its exit status, ours are asserted
/// here. Most scenarios run twice, once with our driver as client and once as server; the client
/// opens, begins and attaches, the server answers in kind.
///
/// Needs `/usr/bin/python3` (or `$AMQP_PROTON_PYTHON`) with `import proton` (Debian: `apt-get
/// install python3-qpid-proton`). Without it the tests skip, unless `AMQP_REQUIRE_PROTON=1` (as CI
/// sets), when they fail.
/// Our driver runs without a trace, so inbound transfers take the production fast path
/// (`TransferCodec.decode`); `run.frames` and the failure messages decode the recorded wire instead.
/// Every run fails on any error either side did not expect: a Proton transport error (proton_peer.py
/// exits 1), one of ours, or an error in Proton's close (see ``ProtonPeer/Expected``).
/// Tracing: `PN_TRACE_FRM=1` prints Proton's frames (with the peer's log), `AMQP_TRACE_FRM=1` ours
/// (which turns the fast path off for that run).
///
/// SASL: Debian's Proton is built without Cyrus (`SASL.extended()` is False), and so is our 0.40
/// (`Scripts/proton-venv.sh`), so as a server it offers only ANONYMOUS and EXTERNAL; PLAIN is
/// checked with Proton as the client.
final class ProtonInteropTests: XCTestCase {
    // Values both sides agree on (mirrored in proton_peer.py).
    static let swiftHostname = "swift.example"
    static let protonContainer = "proton-peer"
    static let protonHostname = "proton.example"
    static let protonOffered: [Symbol] = ["proton-offer-a", "proton-offer-b"]
    static let protonDesired: [Symbol] = ["proton-desire"]
    static let protonProperties: AMQPMap = [.symbol("proton-prop"): .int(37), .symbol("proton-name"): "peer"]
    static let swiftOffered: [Symbol] = ["swift-offer"]
    static let swiftDesired: [Symbol] = ["swift-desire-a", "swift-desire-b"]
    static let swiftProperties: AMQPMap = [.symbol("swift-prop"): "yes", .symbol("swift-number"): .int(6)]
    static let swiftClose = AMQPError(condition: ErrorCondition.connectionForced, description: "swift closes")
    static let protonClose = AMQPError(condition: ErrorCondition.internalError, description: "proton closes")

    static func message(_ party: String, _ i: Int) -> Message {
        Message(applicationProperties: ["i": .int(Int32(i))], body: .value(.string("\(party) \(i)")))
    }

    /// Client side: opens the connection and begins one session.
    static func openSession(_ c: Connection) -> Session {
        c.open()
        let s = c.session()
        s.begin()
        return s
    }

    static let largeBody = Binary((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })

    // MARK: open and close

    func testOpenCloseSwiftClientClosesFirst() throws { try openClose(as: .client, closer: "swift") }
    func testOpenCloseSwiftClientProtonClosesFirst() throws { try openClose(as: .client, closer: "proton") }
    func testOpenCloseSwiftServerClosesFirst() throws { try openClose(as: .server, closer: "swift") }
    func testOpenCloseSwiftServerProtonClosesFirst() throws { try openClose(as: .server, closer: "proton") }
    /// Proton's Python binding sends a SymbolList as an AMQP list, not the spec's array: accepted.
    func testOpenCloseWithCapabilitiesAsAList() throws { try openClose(as: .client, closer: "proton", caps: "list") }

    /// Every open field both ways; each side closes with an error and sees the other's.
    private func openClose(as mode: ConnectionDriver.Mode, closer: String, caps: String = "array") throws {
        guard try ProtonPeer.require() else { return }
        var options = ProtonPeer.Options()
        options.configuration.hostname = Self.swiftHostname
        options.configuration.offeredCapabilities = Self.swiftOffered
        options.configuration.desiredCapabilities = Self.swiftDesired
        options.configuration.properties = Self.swiftProperties
        let run = try ProtonPeer.run("open-close", ["closer": closer, "caps": caps], as: mode, options: options,
                                     expecting: .init(remoteError: Self.protonClose)) { event, _ in
            switch event {
            case .connectionInit(let c):
                if mode == .client { c.open() }
            case .connectionRemoteOpen(let c):
                if c.localState == .uninitialized { c.open() }
                if closer == "swift" { c.close(Self.swiftClose) }
            case .connectionRemoteClose(let c):
                if c.localState != .closed { c.close(Self.swiftClose) }
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        let remote = run.driver.connection.remoteOpen
        XCTAssertEqual(remote?.containerID, Self.protonContainer)
        XCTAssertEqual(remote?.hostname, Self.protonHostname)
        XCTAssertEqual(remote?.offeredCapabilities, Self.protonOffered)
        XCTAssertEqual(remote?.desiredCapabilities, Self.protonDesired)
        XCTAssertEqual(remote?.properties, Self.protonProperties)
        XCTAssertEqual(run.driver.connection.remoteError, Self.protonClose)
        XCTAssertEqual(run.driver.connection.remoteState, .closed)
    }

    // MARK: SASL

    /// Runs the peer's sasl scenario; our side opens when it is the client and answers a close.
    private func sasl(as mode: ConnectionDriver.Mode, _ arguments: [String: String], expecting: ProtonPeer.Expected = .none,
                      configure: (inout DriverConfiguration) -> Void) throws -> ProtonPeer.Run {
        var options = ProtonPeer.Options()
        configure(&options.configuration)
        return try ProtonPeer.run("sasl", arguments, as: mode, options: options, expecting: expecting) { event, _ in
            switch event {
            case .connectionInit(let c): if mode == .client { c.open() }
            case .connectionRemoteOpen(let c): if c.localState == .uninitialized { c.open() }
            case .connectionRemoteClose(let c): c.close()
            default: break
            }
        }
    }

    func testSASLAnonymousSwiftClientToProtonServer() throws {
        guard try ProtonPeer.require() else { return }
        let run = try sasl(as: .client, ["sasl": "ANONYMOUS", "expect": "ok", "identity": "anonymous"]) { $0.saslClient = .anonymous }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(run.driver.saslOutcome, .ok)
        XCTAssertEqual(run.driver.connection.remoteOpen?.containerID, Self.protonContainer)
    }

    func testSASLAnonymousProtonClientToSwiftServer() throws {
        guard try ProtonPeer.require() else { return }
        let run = try sasl(as: .server, ["sasl": "ANONYMOUS", "expect": "ok"]) { $0.saslServer = .anonymous }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(run.driver.saslMechanism, "ANONYMOUS")
        XCTAssertEqual(run.driver.authenticatedIdentity, "anonymous")
        XCTAssertEqual(run.driver.connection.remoteState, .closed)
    }

    func testSASLPlainProtonClientToSwiftServer() throws {
        guard try ProtonPeer.require() else { return }
        let seen = LockedBox<PlainCredentials?>(nil)
        let run = try sasl(as: .server, ["sasl": "PLAIN", "user": "guest", "password": "secret", "insecure": "1", "expect": "ok"]) {
            $0.saslServer = .plain { seen.value = $0; return $0.username == "guest" && $0.password == "secret" }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(seen.value?.username, "guest")
        XCTAssertEqual(seen.value?.password, "secret")
        XCTAssertEqual(run.driver.authenticatedIdentity, "guest")
    }

    func testSASLPlainWrongPasswordFromProtonClient() throws {
        guard try ProtonPeer.require() else { return }
        // Proton's client reports the failed outcome as a transport error; so do we.
        let expected = ProtonPeer.Expected(protonTransportError: ErrorCondition.unauthorizedAccess,
                                           transportErrors: [ErrorCondition.unauthorizedAccess])
        let run = try sasl(as: .server, ["sasl": "PLAIN", "user": "guest", "password": "wrong", "insecure": "1",
                                         "expect": "fail", "code": "1"], expecting: expected) {
            $0.saslServer = .plain { $0.password == "secret" }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(run.driver.saslOutcome, .auth)
        XCTAssertEqual(run.transportErrors.first?.description, "SASL authentication failed: outcome auth (mechanism PLAIN)")
        XCTAssertTrue(run.log.contains("transport error amqp:unauthorized-access: Authentication failed [mech=PLAIN]"),
                      "Proton's own report of the failure\n\(run.diagnostics)")
        XCTAssertNil(run.driver.connection.remoteOpen)
    }

    func testSASLNoCommonMechanismWithProtonServer() throws {
        guard try ProtonPeer.require() else { return }
        // With nothing to choose, our client can only drop the connection: Proton's server sees
        // its input end before an outcome ("connection aborted").
        let expected = ProtonPeer.Expected(protonTransportError: ErrorCondition.framingError,
                                           transportErrors: [ErrorCondition.unauthorizedAccess])
        let run = try sasl(as: .client, ["sasl": "ANONYMOUS", "expect": "fail"], expecting: expected) {
            $0.saslClient = .plain(username: "u", password: "p")
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(run.transportErrors.first?.description,
                       "no common SASL mechanism: the server offers [ANONYMOUS], we have [PLAIN]", run.diagnostics)
        XCTAssertTrue(run.log.contains("transport error amqp:connection:framing-error: connection aborted"),
                      "Proton's own report of the failure\n\(run.diagnostics)")
        XCTAssertNil(run.driver.connection.remoteOpen)
    }

    // MARK: sessions and links

    struct TerminusSpec {
        var address: String, durable: TerminusDurability, expiry: TerminusExpiryPolicy
        var timeout: UInt32, dynamic: Bool, capabilities: [Symbol]

        /// What `party` ("swift" or "proton") puts in its attach of `link` (proton_peer.py: terminus_spec).
        init(_ party: String, _ link: String, _ kind: String) {
            address = "\(party)/\(link)/\(kind)"
            capabilities = [Symbol("\(party)-\(kind)-cap"), "shared-cap"]
            switch (party, kind) {
            case ("swift", "source"): (durable, expiry, timeout, dynamic) = (.configuration, .never, 17, true)
            case ("swift", _): (durable, expiry, timeout, dynamic) = (.unsettledState, .connectionClose, 42, false)
            case (_, "source"): (durable, expiry, timeout, dynamic) = (.unsettledState, .linkDetach, 99, false)
            default: (durable, expiry, timeout, dynamic) = (.configuration, .never, 7, true)
            }
        }

        var source: Source {
            Source(address: address, durable: durable, expiryPolicy: expiry, timeout: timeout, dynamic: dynamic, capabilities: capabilities)
        }
        var target: Target {
            Target(address: address, durable: durable, expiryPolicy: expiry, timeout: timeout, dynamic: dynamic, capabilities: capabilities)
        }

        func check(_ s: Source?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertNotNil(s, what, file: file, line: line)
            guard let s else { return }
            check(s.address, s.durable, s.expiryPolicy, s.timeout, s.dynamic, s.capabilities, what, file: file, line: line)
        }

        func check(_ t: Target?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertNotNil(t, what, file: file, line: line)
            guard let t else { return }
            check(t.address, t.durable, t.expiryPolicy, t.timeout, t.dynamic, t.capabilities, what, file: file, line: line)
        }

        private func check(_ a: String?, _ d: TerminusDurability, _ e: TerminusExpiryPolicy, _ t: UInt32, _ dyn: Bool,
                           _ caps: [Symbol]?, _ what: String, file: StaticString, line: UInt) {
            XCTAssertEqual(a, address, "\(what) address", file: file, line: line)
            XCTAssertEqual(d, durable, "\(what) durable", file: file, line: line)
            XCTAssertEqual(e, expiry, "\(what) expiry-policy", file: file, line: line)
            XCTAssertEqual(t, timeout, "\(what) timeout", file: file, line: line)
            XCTAssertEqual(dyn, dynamic, "\(what) dynamic", file: file, line: line)
            XCTAssertEqual(caps, capabilities, "\(what) capabilities", file: file, line: line)
        }
    }

    func testSessionAndLinksSwiftClient() throws { try sessionAndLinks(as: .client) }
    func testSessionAndLinksSwiftServer() throws { try sessionAndLinks(as: .server) }

    /// Begin; a link in each role with every terminus field set, checked on both sides; detach; end.
    private func sessionAndLinks(as mode: ConnectionDriver.Mode) throws {
        guard try ProtonPeer.require() else { return }
        let names = ["client-sends", "client-receives"]
        var checked: [String] = []
        var detached: [String] = []
        let run = try ProtonPeer.run("session-link", as: mode) { event, _ in
            switch event {
            case .connectionInit(let c) where mode == .client:
                let s = Self.openSession(c)
                for name in names {
                    let l = name == "client-sends" ? s.sender(name: name) : s.receiver(name: name)
                    l.localSource = TerminusSpec("swift", name, "source").source
                    l.localTarget = TerminusSpec("swift", name, "target").target
                    l.attach()
                }
            case .linkRemoteOpen(let l):
                XCTAssertEqual(l.role == .sender, (l.name == "client-sends") == (mode == .client), "role of \(l.name)")
                TerminusSpec("proton", l.name, "source").check(l.remoteAttach?.source, "\(l.name) source")
                TerminusSpec("proton", l.name, "target").check(l.remoteAttach?.target?.target, "\(l.name) target")
                checked.append(l.name)
                if mode == .server {
                    l.localSource = TerminusSpec("swift", l.name, "source").source
                    l.localTarget = TerminusSpec("swift", l.name, "target").target
                    l.attach()
                } else if checked.count == names.count {
                    for link in l.session.allLinks { link.close() }
                }
            case .linkRemoteClose(let l):
                detached.append(l.name)
                if mode == .client && detached.count == names.count { l.session.end() }
            case .sessionRemoteEnd(let s):
                XCTAssertNil(s.remoteError)
                if mode == .client { s.connection.close() }
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(Set(checked), Set(names), "attaches whose termini we checked")
        XCTAssertEqual(Set(detached), Set(names), "links closed by the other side")
        // Ended both ways, the session has left the tree.
        XCTAssertEqual(run.driver.connection.allSessions.count, 0)
    }

    // MARK: many transfers

    func testThousandTransfersSwiftClientToProton() throws { try transfersToProton(as: .client) }
    func testThousandTransfersSwiftServerToProton() throws { try transfersToProton(as: .server) }

    /// Proton's session takes 4 frames of 512 bytes at a time: our sender must wait for its window.
    func testThousandTransfersThroughProtonsSmallSessionWindow() throws {
        let run = try transfersToProton(as: .client, ["max_frame": "512", "session_capacity": "2048"])
        let flows = run?.frames.filter { $0.hasPrefix("<- ") && $0.contains("flow(") }.count ?? 0
        XCTAssertGreaterThanOrEqual(flows, 1000 / 4, "Proton reopened its window of 4 frames again and again")
    }

    /// Unsettled sends to Proton's receiver (credit 100, topped up); Proton accepts and settles each.
    @discardableResult
    private func transfersToProton(as mode: ConnectionDriver.Mode, _ extra: [String: String] = [:]) throws -> ProtonPeer.Run? {
        guard try ProtonPeer.require() else { return nil }
        var sent: [Delivery] = []
        var settled = 0
        let arguments = ["count": "1000", "credit": "100"].merging(extra) { $1 }
        let run = try ProtonPeer.run("receive", arguments, as: mode) { event, _ in
            switch event {
            case .connectionInit(let c) where mode == .client:
                let s = Self.openSession(c)
                let l = s.sender(name: "to-proton", target: "proton-queue")
                l.attach()
                sent = (0..<1000).map { l.send(Self.message("swift", $0)) }
            case .linkRemoteOpen(let l) where mode == .server:
                XCTAssertEqual(l.role, .sender)
                l.localSource = Source(address: "swift-queue")
                l.localTarget = l.remoteAttach?.target?.target
                l.attach()
                sent = (0..<1000).map { l.send(Self.message("swift", $0)) }
            case .delivery(let d) where d.remotelySettled:
                settled += 1
                if settled == 1000 { d.link.session.connection.close() }
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(sent.count, 1000)
        XCTAssertEqual(settled, 1000, "settled dispositions seen")
        XCTAssertEqual(sent.filter { $0.remoteState == .accepted && $0.remotelySettled }.count, 1000,
                       "deliveries accepted and settled by Proton")
        XCTAssertEqual(run.driver.connection.allSessions.first?.unsettledOutgoing.count, 0)
        return run
    }

    func testThousandTransfersProtonToSwiftClient() throws { try transfersFromProton(as: .client) }
    func testThousandTransfersProtonToSwiftServer() throws { try transfersFromProton(as: .server) }

    /// Our session takes 4 frames at a time: Proton's sender must wait for our window.
    func testThousandTransfersThroughOurSmallSessionWindow() throws {
        var options = ProtonPeer.Options()
        options.configuration.sessionIncomingWindow = 4
        let run = try transfersFromProton(as: .client, options: options)
        let flows = run?.frames.filter { $0.hasPrefix("-> ") && $0.contains("flow(") }.count ?? 0
        XCTAssertGreaterThanOrEqual(flows, 1000 / 4, "we reopened our window of 4 frames again and again")
    }

    /// Proton sends; our receiver grants 100 and tops up at half, accepts each; Proton checks.
    @discardableResult
    private func transfersFromProton(as mode: ConnectionDriver.Mode, options: ProtonPeer.Options = ProtonPeer.Options()) throws -> ProtonPeer.Run? {
        guard try ProtonPeer.require() else { return nil }
        var bodies: [Message.Body?] = []
        var properties: [AMQPMap?] = []
        let run = try ProtonPeer.run("send", ["count": "1000"], as: mode, options: options) { event, _ in
            switch event {
            case .connectionInit(let c) where mode == .client:
                let s = Self.openSession(c)
                let l = s.receiver(name: "from-proton", source: "proton-queue")
                l.attach()
                l.flow(credit: 100)
            case .linkRemoteOpen(let l) where mode == .server:
                XCTAssertEqual(l.role, .receiver)
                l.localSource = l.remoteAttach?.source
                l.localTarget = Target(address: "swift-queue")
                l.attach()
                l.flow(credit: 100)
            case .delivery(let d) where d.link.role == .receiver && !d.isPartial && d.localState == nil:
                let m = try? d.message()
                bodies.append(m?.body)
                properties.append(m?.applicationProperties)
                d.accept()
                if d.link.credit < 50 { d.link.flow(credit: 100 - d.link.credit) }
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        if ProcessInfo.processInfo.environment["AMQP_TRACE_FRM"] == nil {
            XCTAssertNil(run.driver.configuration.trace, "no trace: Proton's transfers went through TransferCodec.decode")
        }
        XCTAssertEqual(bodies.count, 1000)
        let expected = (0..<1000).map { Self.message("proton", $0) }
        XCTAssertEqual(bodies, expected.map(\.body), "bodies in order")
        XCTAssertEqual(properties, expected.map(\.applicationProperties), "application properties in order")
        return run
    }

    // MARK: dispositions

    /// Delivery i gets states[i] (proton_peer.py: STATES, apply_state); `party` fills in the text.
    static func states(by party: String) -> [DeliveryState] {
        [
            .accepted,
            .rejected(Rejected(error: AMQPError(condition: ErrorCondition.preconditionFailed, description: "rejected by \(party)",
                                                info: [.symbol("reason"): "test"]))),
            .released,
            .modified(Modified(deliveryFailed: true, undeliverableHere: true, messageAnnotations: [.symbol(Symbol("x-opt-\(party)")): .int(7)])),
            .received(Received(sectionNumber: 3, sectionOffset: 1234)),
        ]
    }

    func testDispositionsFromProtonReceiverToSwiftClient() throws { try dispositionsFromProton(as: .client) }
    func testDispositionsFromProtonReceiverToSwiftServer() throws { try dispositionsFromProton(as: .server) }

    /// Proton's receiver applies each state; our sender must see exactly that state and settlement.
    private func dispositionsFromProton(as mode: ConnectionDriver.Mode) throws {
        guard try ProtonPeer.require() else { return }
        let expected = Self.states(by: "proton")
        var sent: [Delivery] = []
        let run = try ProtonPeer.run("dispositions-in", as: mode) { event, _ in
            switch event {
            case .connectionInit(let c) where mode == .client:
                let s = Self.openSession(c)
                let l = s.sender(name: "to-proton", target: "proton-queue")
                l.attach()
                sent = expected.indices.map { l.send(Self.message("swift", $0)) }
            case .linkRemoteOpen(let l) where mode == .server:
                l.localSource = Source(address: "swift-queue")
                l.localTarget = l.remoteAttach?.target?.target
                l.attach()
                sent = expected.indices.map { l.send(Self.message("swift", $0)) }
            case .delivery(let d) where d.link.role == .sender:
                if sent.allSatisfy({ $0.remoteState != nil }) { d.link.session.connection.close() }
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(sent.map(\.remoteState), expected.map { $0 })
        XCTAssertEqual(sent.map(\.remotelySettled), expected.map(\.isOutcome), "outcomes settled, received not")
    }

    func testDispositionsFromSwiftClientToProtonSender() throws { try dispositionsToProton(as: .client) }
    func testDispositionsFromSwiftServerToProtonSender() throws { try dispositionsToProton(as: .server) }

    /// Our receiver applies each state; Proton's sender checks it saw exactly that (and closes).
    private func dispositionsToProton(as mode: ConnectionDriver.Mode) throws {
        guard try ProtonPeer.require() else { return }
        let states = Self.states(by: "swift")
        var received = 0
        let run = try ProtonPeer.run("dispositions-out", as: mode) { event, _ in
            switch event {
            case .connectionInit(let c) where mode == .client:
                let s = Self.openSession(c)
                let l = s.receiver(name: "from-proton", source: "proton-queue")
                l.attach()
                l.flow(credit: UInt32(states.count))
            case .linkRemoteOpen(let l) where mode == .server:
                l.localSource = l.remoteAttach?.source
                l.localTarget = Target(address: "swift-queue")
                l.attach()
                l.flow(credit: UInt32(states.count))
            case .delivery(let d) where d.link.role == .receiver && !d.isPartial && d.localState == nil:
                XCTAssertEqual(try? d.message().body, Self.message("proton", received).body)
                let state = states[received]
                d.update(state, settle: state.isOutcome)
                received += 1
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(received, states.count)
    }

    // MARK: pre-settled

    func testPresettledSwiftToProton() throws {
        guard try ProtonPeer.require() else { return }
        var sender: Link?
        var deliveryEvents = 0
        let run = try ProtonPeer.run("receive", ["count": "100", "outcome": "none"], as: .client) { event, _ in
            switch event {
            case .connectionInit(let c):
                let s = Self.openSession(c)
                let l = s.sender(name: "to-proton", target: "proton-queue")
                l.attach()
                for i in 0..<100 { l.send(Self.message("swift", i), settled: true) }
                sender = l
            case .linkFlow(let l) where l.queued == 0:
                // All went out settled: nothing more will come back for them.
                l.session.connection.close()
            case .delivery:
                deliveryEvents += 1
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(sender?.queued, 0)
        XCTAssertEqual(sender?.deliveryCount, 100)
        XCTAssertEqual(deliveryEvents, 0, "no dispositions for pre-settled deliveries")
        XCTAssertFalse(run.frames.contains { $0.hasPrefix("<- ") && $0.contains("disposition") }, "Proton sent no disposition")
        XCTAssertEqual(run.driver.connection.allSessions.first?.unsettledOutgoing.count, 0)
    }

    func testPresettledProtonToSwift() throws {
        guard try ProtonPeer.require() else { return }
        var received = 0
        var allSettled = true
        let run = try ProtonPeer.run("send", ["count": "100", "settle": "pre"], as: .server) { event, _ in
            switch event {
            case .linkRemoteOpen(let l):
                l.localSource = l.remoteAttach?.source
                l.localTarget = Target(address: "swift-queue")
                l.attach()
                l.flow(credit: 100)
            case .delivery(let d) where !d.isPartial:
                allSettled = allSettled && d.remotelySettled
                XCTAssertEqual(try? d.message().body, Self.message("proton", received).body)
                received += 1
                if received == 100 { d.link.session.connection.close() }
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(received, 100)
        XCTAssertTrue(allSettled, "every transfer arrived settled")
        XCTAssertFalse(run.frames.contains { $0.hasPrefix("-> ") && $0.contains("disposition") }, "we sent no disposition")
        XCTAssertEqual(run.driver.connection.allSessions.first?.unsettledIncoming.count, 0)
    }

    // MARK: large messages

    /// 1 MiB to Proton, whose max-frame-size is 512: split by us, reassembled by Proton.
    func testLargeMessageSwiftToProton() throws { try largeMessageToProton([:]) }

    /// The same through Proton's session window of 4 frames, reopened as Proton reads.
    func testLargeMessageSwiftToProtonThroughSmallSessionWindow() throws {
        let run = try largeMessageToProton(["session_capacity": "2048"])
        let flows = run?.frames.filter { $0.hasPrefix("<- ") && $0.contains("flow(") }.count ?? 0
        XCTAssertGreaterThanOrEqual(flows, (1 << 20) / 512 / 4, "we waited for Proton's window again and again")
    }

    @discardableResult
    private func largeMessageToProton(_ extra: [String: String]) throws -> ProtonPeer.Run? {
        guard try ProtonPeer.require() else { return nil }
        var delivery: Delivery?
        let arguments = ["count": "1", "credit": "1", "body": "large", "max_frame": "512"].merging(extra) { $1 }
        let run = try ProtonPeer.run("receive", arguments, as: .client) { event, _ in
            switch event {
            case .connectionInit(let c):
                let s = Self.openSession(c)
                let l = s.sender(name: "to-proton", target: "proton-queue")
                l.attach()
                delivery = l.send(Message(data: Self.largeBody))
            case .delivery(let d) where d.remotelySettled:
                d.link.session.connection.close()
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(run.driver.remoteMaxFrameSize, 512)
        XCTAssertEqual(delivery?.remoteState, .accepted)
        let transfers = run.frames.filter { $0.hasPrefix("-> ") && $0.contains("transfer") }.count
        XCTAssertGreaterThan(transfers, (1 << 20) / 512, "split into frames of at most 512 bytes")
        return run
    }

    /// 1 MiB from Proton to our driver, whose max-frame-size is 512.
    func testLargeMessageProtonToSwift() throws {
        guard try ProtonPeer.require() else { return }
        var options = ProtonPeer.Options()
        options.configuration.maxFrameSize = 512
        var frames = 0
        var body: Message.Body?
        let run = try ProtonPeer.run("send", ["count": "1", "body": "large"], as: .server, options: options) { event, _ in
            switch event {
            case .linkRemoteOpen(let l):
                l.localSource = l.remoteAttach?.source
                l.localTarget = Target(address: "swift-queue")
                l.attach()
                l.flow(credit: 1)
            case .delivery(let d) where d.link.role == .receiver:
                frames += 1
                if !d.isPartial {
                    body = try? d.message().body
                    d.accept()
                }
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertGreaterThan(frames, (1 << 20) / 512, "one delivery event per frame of at most 512 bytes")
        XCTAssertEqual(body, .value(.binary(Self.largeBody)), "Proton sends a bytes body as an amqp-value binary")
    }

    // MARK: drain

    func testSwiftClientDrainsIdleProtonSender() throws { try drainProton(as: .client) }
    func testSwiftServerDrainsIdleProtonSender() throws { try drainProton(as: .server) }
    /// Proton has 3 messages for 10 credit: they arrive (pre-settled), the other 7 come back.
    func testSwiftClientDrainsProtonSenderWithThreeMessages() throws { try drainProton(as: .client, available: 3) }

    /// Our receiver drains a Proton sender: what it does not use comes back as delivery-count.
    private func drainProton(as mode: ConnectionDriver.Mode, available: Int = 0) throws {
        guard try ProtonPeer.require() else { return }
        var receiver: Link?
        var received: [Message.Body?] = []
        let run = try ProtonPeer.run("drain", ["role": "sender", "available": "\(available)"], as: mode) { event, _ in
            switch event {
            case .connectionInit(let c) where mode == .client:
                let s = Self.openSession(c)
                let l = s.receiver(name: "drain", source: "proton-queue")
                l.attach()
                l.flow(credit: 10, drain: true)
                receiver = l
            case .linkRemoteOpen(let l) where mode == .server:
                l.localSource = l.remoteAttach?.source
                l.localTarget = l.remoteAttach?.target?.target
                l.attach()
                l.flow(credit: 10, drain: true)
                receiver = l
            case .delivery(let d) where !d.isPartial:
                received.append(try? d.message().body)
            case .linkFlow(let l) where l.credit == 0:
                l.session.connection.close()
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(received, (0..<available).map { Self.message("proton", $0).body })
        XCTAssertEqual(receiver?.credit, 0, "credit back to 0")
        XCTAssertEqual(receiver?.deliveryCount, 10, "the sender advanced delivery-count by the unused credit")
    }

    /// Proton's receiver drains our sender, which has nothing queued; Proton checks the answer.
    func testProtonDrainsIdleSwiftSender() throws {
        guard try ProtonPeer.require() else { return }
        var sender: Link?
        var flows = 0
        let run = try ProtonPeer.run("drain", ["role": "receiver"], as: .client) { event, _ in
            switch event {
            case .connectionInit(let c):
                let s = Self.openSession(c)
                let l = s.sender(name: "drain", target: "proton-queue")
                l.attach()
                sender = l
            case .linkFlow:
                flows += 1
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertGreaterThan(flows, 0, "Proton's drain arrived")
        XCTAssertEqual(sender?.credit, 0)
        XCTAssertEqual(sender?.deliveryCount, 10)
    }

    // MARK: detach, end, close

    func testDetachBySwiftClient() throws { try detach(as: .client, detacher: "swift") }
    func testDetachBySwiftServer() throws { try detach(as: .server, detacher: "swift") }
    func testDetachByProtonServer() throws { try detach(as: .client, detacher: "proton") }
    func testDetachByProtonClient() throws { try detach(as: .server, detacher: "proton") }

    /// "closing" is detached with closed=true, "resumable" with closed=false, each with an error;
    /// the other side answers in kind; then the detacher ends the session and closes.
    private func detach(as mode: ConnectionDriver.Mode, detacher: String) throws {
        guard try ProtonPeer.require() else { return }
        let names = ["closing", "resumable"]
        let ours = detacher == "swift"
        var opened: [Link] = []
        var remote: [String: Bool] = [:]
        var remoteErrors: [String: AMQPError] = [:]
        func detachAll() {
            for l in opened {
                let error = AMQPError(condition: ErrorCondition.detachForced, description: "detached by swift")
                if l.name == "closing" { l.close(error) } else { l.detach(closing: false, error) }
            }
        }
        func remoteDetach(_ l: Link, closed: Bool) {
            remote[l.name] = closed
            remoteErrors[l.name] = l.remoteError
            if ours && remote.count == names.count { l.session.end() }
        }
        let run = try ProtonPeer.run("detach", ["detacher": detacher], as: mode) { event, _ in
            switch event {
            case .connectionInit(let c) where mode == .client:
                let s = Self.openSession(c)
                for name in names { s.sender(name: name, target: name).attach() }
            case .linkRemoteOpen(let l):
                if l.localState == .uninitialized {
                    l.localSource = l.remoteAttach?.source
                    l.localTarget = l.remoteAttach?.target?.target
                    l.attach()
                }
                opened.append(l)
                if ours && opened.count == names.count { detachAll() }
            case .linkRemoteClose(let l):
                remoteDetach(l, closed: true)
            case .linkRemoteDetach(let l):
                remoteDetach(l, closed: false)
            case .sessionRemoteEnd(let s) where ours:
                s.connection.close()
            default:
                break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(remote, ["closing": true, "resumable": false], "detaches from Proton (name: closed)")
        if !ours {
            // Proton (0.37 and 0.40) sends its link's condition only on a closing detach.
            let error = AMQPError(condition: ErrorCondition.detachForced, description: "detached by proton")
            XCTAssertEqual(remoteErrors, ["closing": error])
        }
        XCTAssertEqual(opened.map(\.localState), [.closed, .closed])
        XCTAssertEqual(opened.map(\.session.remoteState), [.closed, .closed])
        XCTAssertEqual(opened.map(\.session.localState), [.closed, .closed])
        // Ended both ways, the session has left the tree.
        XCTAssertEqual(run.driver.connection.allSessions.count, 0)
    }

    // MARK: heartbeats and idle timeout

    /// Both sides have a 2 s idle timeout and must keep the connection alive with empty frames for
    /// 4 s. Real time on a machine that may be busy (two cores, a build beside): every side's
    /// heartbeats come at a quarter or half of the other's timeout, so a stall of over a second
    /// passes, and the counts asked for are those any run that stays open must reach.
    func testHeartbeatsKeepTheConnectionOpen() throws {
        guard try ProtonPeer.require() else { return }
        var options = ProtonPeer.Options()
        options.configuration.idleTimeout = 2000
        var remoteIdle: UInt32?
        let run = try ProtonPeer.run("idle", ["idle_timeout": "2", "expect": "alive", "run": "4"], as: .client,
                                     options: options) { event, _ in
            switch event {
            case .connectionInit(let c): c.open()
            case .connectionRemoteOpen(let c): remoteIdle = c.remoteOpen?.idleTimeOut
            default: break
            }
        }
        ProtonPeer.assertPassed(run)
        XCTAssertEqual(remoteIdle, 1000, "Proton announces half its 2 s idle timeout")
        XCTAssertGreaterThanOrEqual(run.elapsed, .seconds(4))
        let heartbeatsIn = run.frames.filter { $0.hasPrefix("<- ") && $0.contains("empty frame") }.count
        let heartbeatsOut = run.frames.filter { $0.hasPrefix("-> ") && $0.contains("empty frame") }.count
        // We send every 500 ms (half of Proton's 1000): 8 in 4 s. Proton, at half of what we
        // announce, sends 4 or more. Two each: no side was silent for a whole timeout.
        XCTAssertGreaterThanOrEqual(heartbeatsIn, 2, "Proton's heartbeats\n\(run.diagnostics)")
        XCTAssertGreaterThanOrEqual(heartbeatsOut, 2, "our heartbeats, due every 500 ms\n\(run.diagnostics)")
        // Nothing but heartbeats between the opens and the closes.
        XCTAssertEqual(run.frames.filter { !$0.contains("empty frame") }.map { String($0.prefix { $0 != "(" }) },
                       ["-> amqp header", "-> [0] open", "<- amqp header", "<- [0] open", "<- [0] close", "-> [0] close"])
        XCTAssertNil(run.driver.connection.localError)
    }

    /// Proton sends nothing after open (it never ticks): our 1000 ms idle timeout closes the connection.
    func testSilentProtonIsTimedOutBySwift() throws {
        guard try ProtonPeer.require() else { return }
        var options = ProtonPeer.Options()
        options.configuration.idleTimeout = 1000
        let run = try ProtonPeer.run("idle", ["expect": "peer-expires", "tick": "0"], as: .client, options: options,
                                     expecting: .init(transportErrors: [ErrorCondition.resourceLimitExceeded])) { event, _ in
            if case .connectionInit(let c) = event { c.open() }
        }
        ProtonPeer.assertPassed(run)
        let expected = AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "no frames from the peer for 1000 ms")
        XCTAssertEqual(run.transportErrors, [expected])
        XCTAssertEqual(run.driver.connection.localError, expected, "our close carries it")
        XCTAssertGreaterThanOrEqual(run.elapsed, .milliseconds(1000), "not before the timeout")
    }

    /// We send nothing after open (no ticks): Proton's 1 s idle timeout closes the connection.
    func testSilentSwiftIsTimedOutByProton() throws {
        guard try ProtonPeer.require() else { return }
        var options = ProtonPeer.Options()
        options.tick = false
        let expiry = AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "local-idle-timeout expired")
        let run = try ProtonPeer.run("idle", ["expect": "proton-expires", "idle_timeout": "1"], as: .server, options: options,
                                     expecting: .init(protonTransportError: ErrorCondition.resourceLimitExceeded,
                                                      remoteError: expiry)) { _, _ in }
        ProtonPeer.assertPassed(run)
        XCTAssertTrue(run.log.contains("transport error amqp:resource-limit-exceeded: local-idle-timeout expired"),
                      "Proton's own report of the expiry\n\(run.diagnostics)")
        XCTAssertGreaterThanOrEqual(run.elapsed, .milliseconds(1000), "not before the timeout")
    }
}
