import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SharedFixtures
import XCTest
@testable import AMQPCodec

final class CompositeTests: XCTestCase {
    static let allTypes: [any AMQPComposite.Type] = [
        Open.self, Begin.self, Attach.self, Flow.self, Transfer.self, Disposition.self, Detach.self, End.self, Close.self,
        AMQPError.self, Header.self, Properties.self, Received.self, Accepted.self, Rejected.self, Released.self,
        Modified.self, Source.self, Target.self, DeleteOnClose.self, DeleteOnNoLinks.self, DeleteOnNoMessages.self,
        DeleteOnNoLinksOrMessages.self, SASLMechanisms.self, SASLInit.self, SASLChallenge.self, SASLResponse.self,
        SASLOutcome.self, Coordinator.self, Declare.self, Discharge.self, Declared.self, TransactionalState.self,
    ]

    /// Every composite in the spec XML exists here with the same descriptor and the same fields, in order.
    func testCompositesMatchTheSpecXML() throws {
        let dir = try SharedFixtures.require("amqp-spec")
        final class Collector: NSObject, XMLParserDelegate {
            var composites: [(name: String, code: UInt64, symbol: String, fields: [String])] = []
            func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
                switch e {
                case "type" where a["class"] == "composite":
                    composites.append((a["name"]!, 0, "", []))
                case "type":
                    composites.append(("", 0, "", []))   // a restricted type: its descriptor is ignored
                case "descriptor" where !(composites.last?.name.isEmpty ?? true):
                    let code = a["code"]!.split(separator: ":")[1].dropFirst(2)
                    composites[composites.count - 1].code = UInt64(code, radix: 16)!
                    composites[composites.count - 1].symbol = a["name"]!
                case "field" where !(composites.last?.name.isEmpty ?? true):
                    composites[composites.count - 1].fields.append(a["name"]!)
                default: break
                }
            }
        }
        var found: [String: (UInt64, String, [String])] = [:]
        for file in ["transport.xml", "messaging.xml", "security.xml", "transactions.xml"] {
            let parser = XMLParser(contentsOf: dir.appendingPathComponent(file))!
            let c = Collector()
            parser.delegate = c
            XCTAssertTrue(parser.parse(), file)
            for t in c.composites where !t.name.isEmpty { found[t.symbol] = (t.code, t.name, t.fields) }
        }
        XCTAssertEqual(found.count, Self.allTypes.count, "composites in the spec: \(found.keys.sorted())")
        for type in Self.allTypes {
            guard let spec = found[type.descriptorName.rawValue] else { XCTFail("\(type) not in the spec"); continue }
            XCTAssertEqual(type.descriptorCode, spec.0, "\(type)")
            XCTAssertEqual(type.fieldNames, spec.2, "\(type)")
            XCTAssertEqual(DescriptorTable.code(for: type.descriptorName), type.descriptorCode)
        }
    }

    func testTrailingNullsAreOmitted() {
        // begin with only the mandatory fields: remote-channel null, then three values.
        let begin = Begin(nextOutgoingID: 1, incomingWindow: 2, outgoingWindow: 3)
        XCTAssertEqual(begin.encoded, [0x00, 0x53, 0x11, 0xc0, 0x08, 0x04, 0x40, 0x52, 1, 0x52, 2, 0x52, 3])
        XCTAssertEqual(begin.encodedSize, begin.encoded.count)
        XCTAssertEqual(Accepted().encoded, [0x00, 0x53, 0x24, 0x45])
        // A field at its default is written as null, which means the default.
        XCTAssertEqual(Open(containerID: "c", maxFrameSize: 4_294_967_295).encoded, [0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa1, 0x01, 0x63])
        XCTAssertEqual(Header(durable: true).encoded, [0x00, 0x53, 0x70, 0xc0, 0x02, 0x01, 0x41])
    }

    func testAbsentTrailingFieldsTakeDefaults() throws {
        let open = try Open(decoding: [0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa1, 0x01, 0x63])
        XCTAssertEqual(open.containerID, "c")
        XCTAssertEqual(open.maxFrameSize, 4_294_967_295)
        XCTAssertEqual(open.channelMax, 65535)
        XCTAssertNil(open.idleTimeOut)
        let header = try Header(decoding: [0x00, 0x53, 0x70, 0x45])
        XCTAssertEqual(header.priority, 4)
        XCTAssertEqual(header.durable, false)
        let attach = try Attach(decoding: Attach(name: "l", handle: 0, role: .receiver).encoded)
        XCTAssertEqual(attach.sndSettleMode, .mixed)
        XCTAssertEqual(attach.rcvSettleMode, .first)
        // The symbolic descriptor works as well as the numeric one.
        var symbolic: [UInt8] = [0x00, 0xa3, 14] + Array("amqp:open:list".utf8)
        symbolic += [0xc0, 0x04, 0x01, 0xa1, 0x01, 0x63]
        XCTAssertEqual(try Open(decoding: symbolic).containerID, "c")
    }

    func testMissingMandatoryFieldIsADecodeError() {
        XCTAssertThrowsError(try Open(decoding: [0x00, 0x53, 0x10, 0x45])) { e in
            XCTAssertEqual((e as? AMQPDecodingError)?.kind, .missingMandatoryField(type: "open", field: "container-id"))
            XCTAssertEqual((e as? AMQPDecodingError)?.condition, "amqp:invalid-field")
        }
        // transfer's handle present as null
        XCTAssertThrowsError(try Transfer(decoding: [0x00, 0x53, 0x14, 0xc0, 0x02, 0x01, 0x40]))
        // wrong descriptor
        XCTAssertThrowsError(try Open(decoding: Close().encoded)) { e in
            guard case .unexpectedDescriptor = (e as? AMQPDecodingError)?.kind else { return XCTFail("\(e)") }
        }
        // wrong field type
        XCTAssertThrowsError(try Open(decoding: [0x00, 0x53, 0x10, 0xc0, 0x02, 0x01, 0x41]))
        // invalid restricted value: sender-settle-mode 7
        let bad = [0x00, 0x53, 0x12, 0xc0, 0x08, 0x04, 0xa1, 0x01, 0x6c, 0x43, 0x41, 0x50, 0x07] as [UInt8]
        XCTAssertThrowsError(try Attach(decoding: bad)) { e in
            guard case .invalidValue = (e as? AMQPDecodingError)?.kind else { return XCTFail("\(e)") }
        }
    }

    func testExtraFieldsFromNewerVersionsAreSkipped() throws {
        // close with error null and one unknown extra field
        XCTAssertEqual(try Close(decoding: [0x00, 0x53, 0x18, 0xc0, 0x03, 0x02, 0x40, 0x41]), Close())
    }

    func testFullyPopulatedCompositesRoundTrip() throws {
        let source = Source(address: "queue", durable: .unsettledState, expiryPolicy: .never, timeout: 30, dynamic: true,
                            dynamicNodeProperties: [.symbol("lifetime-policy"): .described(descriptor: .ulong(0x2b), value: .list([]))],
                            distributionMode: StandardSymbols.move, filter: [.symbol("f"): .described(descriptor: .symbol("apache.org:selector-filter:string"), value: "a = 1")],
                            defaultOutcome: .modified(Modified(deliveryFailed: true)), outcomes: ["amqp:accepted:list", "amqp:rejected:list"],
                            capabilities: ["queue"])
        let attach = Attach(name: "link", handle: 7, role: .sender, sndSettleMode: .unsettled, rcvSettleMode: .second,
                            source: source, target: .target(Target(address: "t", capabilities: ["topic"])),
                            unsettled: [.binary([1]): .described(descriptor: .ulong(0x24), value: .list([]))],
                            incompleteUnsettled: true, initialDeliveryCount: .max, maxMessageSize: 1 << 40,
                            offeredCapabilities: ["a"], desiredCapabilities: ["b", "c"], properties: [.symbol("p"): .int(1)])
        let values: [any AMQPComposite] = [
            Open(containerID: "id", hostname: "h", maxFrameSize: 512, channelMax: 9, idleTimeOut: 1000, outgoingLocales: ["en"],
                 incomingLocales: ["fr"], offeredCapabilities: ["x"], desiredCapabilities: ["y"], properties: [.symbol("k"): "v"]),
            Begin(remoteChannel: 3, nextOutgoingID: .max, incomingWindow: 0, outgoingWindow: 100, handleMax: 10),
            attach,
            Flow(nextIncomingID: 1, incomingWindow: 2, nextOutgoingID: 3, outgoingWindow: 4, handle: 5, deliveryCount: 6, linkCredit: 7, available: 8, drain: true, echo: true, properties: [:]),
            Transfer(handle: 0, deliveryID: 42, deliveryTag: [0, 1], messageFormat: 0, settled: false, more: true, rcvSettleMode: .second,
                     state: .received(Received(sectionNumber: 1, sectionOffset: 2)), resume: true, aborted: true, batchable: true),
            Disposition(role: .receiver, first: 1, last: 10, settled: true, state: .rejected(Rejected(error: AMQPError(condition: ErrorCondition.decodeError, description: "bad", info: [.symbol("i"): .int(1)])))),
            Disposition(role: .receiver, first: 1, state: .released),
            Disposition(role: .receiver, first: 1, state: .modified(Modified(deliveryFailed: true, undeliverableHere: false, messageAnnotations: [.symbol("x-opt"): .int(1)]))),
            Disposition(role: .receiver, first: 1, state: .transactional(TransactionalState(txnID: [9], outcome: .accepted))),
            Detach(handle: 1, closed: true, error: AMQPError(condition: ErrorCondition.detachForced)),
            End(error: AMQPError(condition: ErrorCondition.windowViolation)),
            Close(error: AMQPError(condition: ErrorCondition.connectionRedirect, info: [.symbol("hostname"): "other"])),
            SASLMechanisms(saslServerMechanisms: ["PLAIN", "ANONYMOUS"]),
            SASLInit(mechanism: "PLAIN", initialResponse: Binary(utf8: "\u{0}user\u{0}pass"), hostname: "h"),
            SASLChallenge(challenge: [1]), SASLResponse(response: [2]),
            SASLOutcome(code: .auth, additionalData: [3]),
            Declare(globalID: .binary([1])), Discharge(txnID: [1], fail: true), Declared(txnID: [2]),
            Coordinator(capabilities: [StandardSymbols.localTransactions]),
        ]
        for v in values {
            let bytes = v.encoded
            XCTAssertEqual(bytes.count, v.encodedSize, "\(type(of: v))")
            func check<T: AMQPComposite>(_ value: T) throws {
                XCTAssertEqual(try T(decoding: bytes), value, "\(T.self)")
            }
            try check(v)
        }
    }

    func testSingleSymbolForMultipleField() throws {
        // sasl-mechanisms with one symbol rather than an array (§1.4: multiple="true")
        let bytes: [UInt8] = [0x00, 0x53, 0x40, 0xc0, 0x07, 0x01, 0xa3, 0x04] + Array("PLAI".utf8)
        XCTAssertEqual(try SASLMechanisms(decoding: bytes).saslServerMechanisms, ["PLAI"])
    }
}
