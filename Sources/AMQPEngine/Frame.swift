import AMQPCodec

/// The eight bytes that open each protocol layer (AMQP 1.0 §2.2, §5.3.1).
package enum ProtocolHeader: Sendable, Hashable {
    /// `AMQP 0 1 0 0`: plain AMQP.
    case amqp
    /// `AMQP 3 1 0 0`: SASL security layer.
    case sasl
    /// `AMQP 2 1 0 0`: TLS, which this engine leaves to the transport.
    case tls

    package var bytes: [UInt8] {
        switch self {
        case .amqp: return [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]
        case .tls: return [0x41, 0x4d, 0x51, 0x50, 2, 1, 0, 0]
        case .sasl: return [0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]
        }
    }

    /// Parses eight header bytes; nil when they are not a header this engine speaks.
    package init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let b = Array(bytes.prefix(8))
        guard b.count == 8, b[0..<4] == [0x41, 0x4d, 0x51, 0x50], b[5] == 1, b[6] == 0, b[7] == 0 else { return nil }
        switch b[4] {
        case 0: self = .amqp
        case 3: self = .sasl
        case 2: self = .tls
        default: return nil
        }
    }
}

/// A performative or SASL frame body (AMQP 1.0 §2.7, §5.3.3).
package enum Performative: Sendable, Hashable {
    case open(Open)
    case begin(Begin)
    case attach(Attach)
    case flow(Flow)
    case transfer(Transfer)
    case disposition(Disposition)
    case detach(Detach)
    case end(End)
    case close(Close)
    case saslMechanisms(SASLMechanisms)
    case saslInit(SASLInit)
    case saslChallenge(SASLChallenge)
    case saslResponse(SASLResponse)
    case saslOutcome(SASLOutcome)

    /// Decodes the performative at the decoder's position.
    package static func decode(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> Performative {
        let start = d.offset
        let code = try d.readByte()
        guard code == 0x00 else {
            throw AMQPDecodingError(.unexpectedType(expected: "performative", found: "constructor 0x\(String(code, radix: 16))"), at: start)
        }
        let descriptor = try d.readDescriptor()
        switch descriptor {
        case Open.descriptorCode: return .open(try Open(fieldsFrom: &d))
        case Begin.descriptorCode: return .begin(try Begin(fieldsFrom: &d))
        case Attach.descriptorCode: return .attach(try Attach(fieldsFrom: &d))
        case Flow.descriptorCode: return .flow(try Flow(fieldsFrom: &d))
        case Transfer.descriptorCode: return .transfer(try Transfer(fieldsFrom: &d))
        case Disposition.descriptorCode: return .disposition(try Disposition(fieldsFrom: &d))
        case Detach.descriptorCode: return .detach(try Detach(fieldsFrom: &d))
        case End.descriptorCode: return .end(try End(fieldsFrom: &d))
        case Close.descriptorCode: return .close(try Close(fieldsFrom: &d))
        case SASLMechanisms.descriptorCode: return .saslMechanisms(try SASLMechanisms(fieldsFrom: &d))
        case SASLInit.descriptorCode: return .saslInit(try SASLInit(fieldsFrom: &d))
        case SASLChallenge.descriptorCode: return .saslChallenge(try SASLChallenge(fieldsFrom: &d))
        case SASLResponse.descriptorCode: return .saslResponse(try SASLResponse(fieldsFrom: &d))
        case SASLOutcome.descriptorCode: return .saslOutcome(try SASLOutcome(fieldsFrom: &d))
        default:
            throw AMQPDecodingError(.unexpectedDescriptor(expected: "a performative", found: DescriptorTable.name(descriptor)), at: start)
        }
    }

    package func encode(into b: inout [UInt8]) {
        switch self {
        case .open(let p): p.encode(into: &b)
        case .begin(let p): p.encode(into: &b)
        case .attach(let p): p.encode(into: &b)
        case .flow(let p): p.encode(into: &b)
        case .transfer(let p): p.encode(into: &b)
        case .disposition(let p): p.encode(into: &b)
        case .detach(let p): p.encode(into: &b)
        case .end(let p): p.encode(into: &b)
        case .close(let p): p.encode(into: &b)
        case .saslMechanisms(let p): p.encode(into: &b)
        case .saslInit(let p): p.encode(into: &b)
        case .saslChallenge(let p): p.encode(into: &b)
        case .saslResponse(let p): p.encode(into: &b)
        case .saslOutcome(let p): p.encode(into: &b)
        }
    }

    /// A short name for traces, e.g. `@open`.
    package var name: String {
        switch self {
        case .open: return "open"
        case .begin: return "begin"
        case .attach: return "attach"
        case .flow: return "flow"
        case .transfer: return "transfer"
        case .disposition: return "disposition"
        case .detach: return "detach"
        case .end: return "end"
        case .close: return "close"
        case .saslMechanisms: return "sasl-mechanisms"
        case .saslInit: return "sasl-init"
        case .saslChallenge: return "sasl-challenge"
        case .saslResponse: return "sasl-response"
        case .saslOutcome: return "sasl-outcome"
        }
    }
}

/// One frame (AMQP 1.0 §2.3): a channel, a body, and for transfers the payload after it.
package struct Frame: Sendable, Hashable {
    /// Frame type 0x00 for AMQP, 0x01 for SASL.
    package enum Kind: UInt8, Sendable { case amqp = 0, sasl = 1 }

    package var kind: Kind
    package var channel: UInt16
    /// nil for an empty frame (a heartbeat).
    package var performative: Performative?
    /// Bytes after the performative: a transfer's message payload.
    package var payload: ArraySlice<UInt8>

    package init(kind: Kind = .amqp, channel: UInt16 = 0, _ performative: Performative?, payload: ArraySlice<UInt8> = []) {
        self.kind = kind; self.channel = channel; self.performative = performative; self.payload = payload
    }

    /// Frame header size; data offset 2 (in 4-byte words) means no extended header.
    package static let headerSize = 8

    /// Appends the frame, size field included.
    package func encode(into b: inout [UInt8]) {
        Frame.append(kind: kind, channel: channel, into: &b) { b in
            performative?.encode(into: &b)
            b.append(contentsOf: payload)
        }
    }

    /// Appends a frame header, then whatever `body` appends, then fills in the size: the one place
    /// frames are laid out, for callers that encode a body without building a ``Frame``.
    @inlinable
    package static func append(kind: Kind = .amqp, channel: UInt16, into b: inout [UInt8], body: (inout [UInt8]) -> Void) {
        let start = b.count
        b.append(contentsOf: [0, 0, 0, 0, 2, kind.rawValue, UInt8(channel >> 8), UInt8(channel & 0xff)])
        body(&b)
        let size = UInt32(b.count - start)
        b[start] = UInt8(size >> 24); b[start + 1] = UInt8((size >> 16) & 0xff)
        b[start + 2] = UInt8((size >> 8) & 0xff); b[start + 3] = UInt8(size & 0xff)
    }

    /// The frame's encoding as a new array.
    package var encoded: [UInt8] {
        var b: [UInt8] = []
        encode(into: &b)
        return b
    }

    /// Why a frame cannot be parsed.
    package enum ParseError: Error, Sendable, Hashable {
        /// The size field is below 8 or the data offset below 2 (§2.3.1): the stream is unusable.
        case malformedHeader(String)
        /// The body does not decode.
        case body(AMQPDecodingError)
    }

    /// Parses one whole frame: `bytes` holds exactly the frame, header included.
    package static func parse(_ bytes: ArraySlice<UInt8>, limits: AMQPDecodingLimits = .default) throws(ParseError) -> Frame {
        guard bytes.count >= headerSize else { throw .malformedHeader("frame of \(bytes.count) bytes") }
        let s = bytes.startIndex
        let doff = Int(bytes[s + 4])
        guard doff >= 2, doff * 4 <= bytes.count else { throw .malformedHeader("data offset \(doff)") }
        guard let kind = Kind(rawValue: bytes[s + 5]) else { throw .malformedHeader("frame type \(bytes[s + 5])") }
        let channel = UInt16(bytes[s + 6]) << 8 | UInt16(bytes[s + 7])
        let body = bytes[(s + doff * 4)...]
        if body.isEmpty { return Frame(kind: kind, channel: channel, nil) }
        var d = AMQPDecoder(body, limits: limits)
        do {
            let p = try Performative.decode(&d)
            return Frame(kind: kind, channel: channel, p, payload: body[d.position...])
        } catch {
            throw .body(error)
        }
    }
}
