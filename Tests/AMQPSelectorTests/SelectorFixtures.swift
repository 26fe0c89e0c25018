import AMQPCodec

/// The messages the selector tests evaluate against.
enum Fixtures {
    /// A message with every section a selector reads, and application properties of many types.
    static let full: Message = {
        var m = Message(value: "body")
        m.header = Header(durable: true, priority: 7, ttl: 60_000, firstAcquirer: false, deliveryCount: 2)
        m.messageAnnotations = [.symbol("x-opt-jms-type"): "legacy"]
        m.properties = Properties(messageID: "ID:abc", userID: Binary(utf8: "alice"), to: "orders", subject: "news",
                                  replyTo: "replies", correlationID: "corr-1", contentType: "text/plain",
                                  contentEncoding: "gzip", absoluteExpiryTime: Timestamp(millisecondsSince1970: 5000),
                                  creationTime: Timestamp(millisecondsSince1970: 1000), groupID: "g1", groupSequence: 3,
                                  replyToGroupID: "rg")
        m.applicationProperties = AMQPMap([
            (.string("color"), .string("red")),
            (.string("weight"), .int(12)),
            (.string("price"), .double(9.99)),
            (.string("flag"), .bool(true)),
            (.string("off"), .bool(false)),
            (.string("nothing"), .null),
            (.string("zero"), .long(0)),
            (.string("name"), .string("Bob's")),
            (.string("code"), .string("10% off")),
            (.string("under"), .string("a_b")),
            (.string("empty"), .string("")),
            (.string("greeting"), .string("Grüße")),
            (.string("jp"), .string("日本")),
            (.string("emoji"), .string("😀x")),
            (.string("nfc"), .string("\u{E9}")),
            (.string("größe"), .int(3)),
            (.string("my-prop"), .int(1)),
            (.string("ub"), .ubyte(200)),
            (.string("sh"), .short(-5)),
            (.string("ui"), .uint(4_000_000_000)),
            (.string("big"), .ulong(UInt64.max)),
            (.string("f"), .float(1.5)),
            (.string("ts"), .timestamp(Timestamp(millisecondsSince1970: 1_700_000_000_000))),
            (.string("sym"), .symbol("abc")),
            (.string("ch"), .char("x")),
            (.string("bin"), .binary([1, 2, 3])),
            (.string("list"), .list([.int(1)])),
            (.string("max"), .long(Int64.max)),
            (.string("min"), .long(Int64.min)),
        ])
        return m
    }()

    /// No sections at all.
    static let empty = Message()

    /// JMSType only in the legacy annotation (a symbol), no properties section.
    static let annotated: Message = {
        var m = Message()
        m.messageAnnotations = [.symbol("x-opt-jms-type"): .symbol("legacy-type")]
        return m
    }()

    /// Creation time and TTL but no absolute expiry; non-string ids.
    static let ttl: Message = {
        var m = Message()
        m.header = Header(ttl: 500)
        m.properties = Properties(messageID: .ulong(5), correlationID: .binary([0x01, 0x02, 0xAB]),
                                  creationTime: Timestamp(millisecondsSince1970: 1000))
        return m
    }()

    static func withIDs(_ messageID: MessageID?, _ correlationID: MessageID?) -> Message {
        var m = Message()
        m.properties = Properties(messageID: messageID, correlationID: correlationID)
        return m
    }

    /// The benchmark's message: three application properties.
    static let typical: Message = {
        var m = Message(value: "hello")
        m.applicationProperties = AMQPMap([
            (.string("color"), .string("red")),
            (.string("weight"), .int(12)),
            (.string("size"), .string("L")),
        ])
        return m
    }()
}
