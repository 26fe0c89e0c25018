/// An AMQP 1.0 message: the bare message and its annotations, as sections (AMQP 1.0 §3.2).
///
/// Every section is optional. The body is one or more data sections, one or more amqp-sequence
/// sections, or a single amqp-value (§3.2.5 to §3.2.8). Decoded `Binary` values share the input's
/// storage, so decoding a large data body copies nothing.
///
/// Threading: a plain value type, `Sendable`.
public struct Message: Sendable, Hashable {
    /// The body of a message.
    ///
    /// Threading: a plain value type, `Sendable`.
    public enum Body: Sendable, Hashable {
        /// One or more `data` sections of opaque bytes.
        case data([Binary])
        /// One or more `amqp-sequence` sections, each a list of values.
        case sequence([[AMQPValue]])
        /// A single `amqp-value` section.
        case value(AMQPValue)
    }

    /// Transport headers: durability, priority, time to live, first acquirer, delivery count (§3.2.1).
    public var header: Header?
    /// Annotations for the next hop only, symbol keys (§3.2.2).
    public var deliveryAnnotations: AMQPMap?
    /// Annotations that travel with the message, symbol keys (§3.2.3).
    public var messageAnnotations: AMQPMap?
    /// The immutable properties of the bare message (§3.2.4).
    public var properties: Properties? {
        get { propertiesBox?.value }
        set { propertiesBox = newValue.map(Box.init) }
    }
    // Boxed: Properties is 264 bytes, and a Message is returned and moved often enough that
    // carrying it inline costs more than one allocation when it is present.
    var propertiesBox: Box<Properties>?
    /// Application properties: string keys, simple values (§3.2.5).
    public var applicationProperties: AMQPMap?
    /// The application data, if any (§3.2.6 to §3.2.8).
    public var body: Body?
    /// Details computed over the message, such as hashes or signatures (§3.2.9).
    public var footer: AMQPMap?

    /// A message with the sections given; those left out are absent.
    public init(header: Header? = nil, deliveryAnnotations: AMQPMap? = nil, messageAnnotations: AMQPMap? = nil,
                properties: Properties? = nil, applicationProperties: AMQPMap? = nil, body: Body? = nil,
                footer: AMQPMap? = nil) {
        self.header = header
        self.deliveryAnnotations = deliveryAnnotations
        self.messageAnnotations = messageAnnotations
        self.properties = properties
        self.applicationProperties = applicationProperties
        self.body = body
        self.footer = footer
    }

    /// A message whose body is one amqp-value section.
    public init(value: AMQPValue) { self.init(body: .value(value)) }

    /// A message whose body is one data section.
    public init(data: Binary) { self.init(body: .data([data])) }

    /// Section descriptor codes (§3.2).
    enum Section {
        static let header: UInt64 = 0x70
        static let deliveryAnnotations: UInt64 = 0x71
        static let messageAnnotations: UInt64 = 0x72
        static let properties: UInt64 = 0x73
        static let applicationProperties: UInt64 = 0x74
        static let data: UInt64 = 0x75
        static let sequence: UInt64 = 0x76
        static let value: UInt64 = 0x77
        static let footer: UInt64 = 0x78
    }
}

extension Message {
    /// Appends the message's sections to `buffer`, in the order §3.2 prescribes.
    public func encode(into b: inout [UInt8]) {
        if let header { header.encode(into: &b) }
        if let deliveryAnnotations { Self.appendMapSection(Section.deliveryAnnotations, deliveryAnnotations, &b) }
        if let messageAnnotations { Self.appendMapSection(Section.messageAnnotations, messageAnnotations, &b) }
        if let propertiesBox { propertiesBox.value.encode(into: &b) }
        if let applicationProperties { Self.appendMapSection(Section.applicationProperties, applicationProperties, &b) }
        switch body {
        case .none: break
        case .data(let sections):
            for s in sections {
                b.append(Code.described); b.append(Code.smallulong); b.append(UInt8(Section.data))
                AMQPEncoder.appendBinary(s, &b)
            }
        case .sequence(let sections):
            for s in sections {
                b.append(Code.described); b.append(Code.smallulong); b.append(UInt8(Section.sequence))
                AMQPValue.list(s).encode(into: &b)
            }
        case .value(let v):
            b.append(Code.described); b.append(Code.smallulong); b.append(UInt8(Section.value))
            v.encode(into: &b)
        }
        if let footer { Self.appendMapSection(Section.footer, footer, &b) }
    }

    /// The number of bytes ``encode(into:)`` appends, computed without encoding.
    public var encodedSize: Int {
        var n = 0
        if let header { n += header.encodedSize }
        if let deliveryAnnotations { n += 3 + deliveryAnnotations.encodedSize }
        if let messageAnnotations { n += 3 + messageAnnotations.encodedSize }
        if let properties { n += properties.encodedSize }
        if let applicationProperties { n += 3 + applicationProperties.encodedSize }
        switch body {
        case .none: break
        case .data(let sections): for s in sections { n += 3 + AMQPValue.variableSize(s.count) }
        case .sequence(let sections): for s in sections { n += 3 + AMQPValue.list(s).encodedSize }
        case .value(let v): n += 3 + v.encodedSize
        }
        if let footer { n += 3 + footer.encodedSize }
        return n
    }

    /// The encoding as a new array, allocated once at its exact size.
    public var encoded: [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(encodedSize)
        encode(into: &b)
        return b
    }

    @inline(__always)
    static func appendMapSection(_ code: UInt64, _ map: AMQPMap, _ b: inout [UInt8]) {
        b.append(Code.described); b.append(Code.smallulong); b.append(UInt8(code))
        map.encode(into: &b)
    }
}

extension Message {
    /// Decodes a message from its sections.
    /// - Throws: ``AMQPDecodingError`` for malformed bytes, unknown sections, or sections out of
    ///   the order §3.2 requires.
    public init(decoding bytes: [UInt8], limits: AMQPDecodingLimits = .default) throws(AMQPDecodingError) {
        // Each entry point decodes into self in place: delegating through a chain of initializers
        // would copy the whole struct at every step.
        self.init()
        try decodeAll(bytes[...], limits: limits)
    }

    /// Decodes a message from a slice, such as the payload of a transfer; binary values share its storage.
    public init(decoding bytes: ArraySlice<UInt8>, limits: AMQPDecodingLimits = .default) throws(AMQPDecodingError) {
        self.init()
        try decodeAll(bytes, limits: limits)
    }

    /// Decodes sections until the decoder's input ends.
    public init(from d: inout AMQPDecoder) throws(AMQPDecodingError) {
        self.init()
        try decodeSections(&d)
    }

    mutating func decodeSections(_ d: inout AMQPDecoder) throws(AMQPDecodingError) {
        var last: UInt64 = 0
        while !d.isAtEnd { try decodeSection(&d, &last) }
    }

    /// Decodes the section at the decoder's position; `last` is the code of the section before it.
    mutating func decodeSection(_ d: inout AMQPDecoder, _ last: inout UInt64) throws(AMQPDecodingError) {
        let start = d.position
        let code = try d.readByte()
        guard code == Code.described else {
            throw d.error(.unexpectedType(expected: "message section", found: Code.name(code)), at: start)
        }
        let section = try d.readDescriptor()
        let repeatable = section == Section.data || section == Section.sequence
        guard section > last || (section == last && repeatable) else {
            throw d.error(.invalidValue("section \(DescriptorTable.name(section)) out of order"), at: start)
        }
        // data and amqp-sequence sections cannot mix, and amqp-value stands alone (§3.2).
        if (Section.data...Section.value).contains(section) && (Section.data...Section.value).contains(last) && section != last {
            throw d.error(.invalidValue("body sections of different kinds"), at: start)
        }
        last = section
        switch section {
        case Section.header: header = try Header(fieldsFrom: &d)
        case Section.deliveryAnnotations: deliveryAnnotations = try Self.readMap(&d)
        case Section.messageAnnotations: messageAnnotations = try Self.readMap(&d)
        case Section.properties:
            // Proton writes an empty properties section (list0) on every message: one shared box.
            if try d.peekByte() == Code.list0 {
                d.position += 1
                propertiesBox = Box.emptyProperties
            } else {
                propertiesBox = Box(try Properties(fieldsFrom: &d))
            }
        case Section.applicationProperties: applicationProperties = try Self.readMap(&d)
        case Section.data:
            let at = d.position
            guard let bytes = try d.readBinaryView() else {
                throw d.error(.unexpectedType(expected: "binary", found: "null"), at: at)
            }
            appendData(Binary(bytes))
        case Section.sequence:
            let at = d.position
            guard case .list(let elements) = try d.decodeValue() else {
                throw d.error(.unexpectedType(expected: "list", found: "another type"), at: at)
            }
            if case .sequence(var sections) = body {
                body = nil
                sections.append(elements)
                body = .sequence(sections)
            } else {
                body = .sequence([elements])
            }
        case Section.value:
            body = .value(try d.decodeValue())
        case Section.footer: footer = try Self.readMap(&d)
        default:
            throw d.error(.unexpectedDescriptor(expected: "a message section", found: DescriptorTable.name(section)), at: start)
        }
    }

    /// Adds a data section to the body, which is nil or already data.
    mutating func appendData(_ section: Binary) {
        if case .data(var sections) = body {
            body = nil // drop the reference so the append does not copy
            sections.append(section)
            body = .data(sections)
        } else {
            body = .data([section])
        }
    }

    static func readMap(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> AMQPMap {
        let at = d.position
        guard let m = try AMQPMap.decodeField(&d) else {
            throw d.error(.unexpectedType(expected: "map", found: "null"), at: at)
        }
        return m
    }
}

/// An immutable heap box compared by value.
final class Box<T: Hashable & Sendable>: Hashable, Sendable {
    let value: T
    init(_ value: T) { self.value = value }
    static func == (a: Box, b: Box) -> Bool { a === b || a.value == b.value }
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

extension Box where T == Properties {
    static let emptyProperties = Box(Properties())
}
