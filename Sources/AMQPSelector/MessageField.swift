import AMQPCodec

/// A header or properties field that an identifier names instead of an application property.
///
/// Two families of names:
/// - JMS header names, mapped as the AMQP JMS Mapping and Qpid Broker-J do (JMSMessageID and
///   JMSCorrelationID in Qpid JMS's string form, JMSType from `subject`, and so on);
/// - Qpid C++ broker's `amqp.` names, one per AMQP field (hyphens as underscores), raw.
///
/// Every other identifier is an application property (§3.2.5).
enum MessageField: Sendable, Hashable {
    // JMS headers and JMSX properties.
    case jmsMessageID, jmsCorrelationID, jmsPriority, jmsDeliveryMode, jmsTimestamp, jmsExpiration
    case jmsType, jmsDestination, jmsReplyTo, jmsRedelivered
    case jmsxDeliveryCount, jmsxGroupID, jmsxGroupSeq, jmsxUserID
    // amqp.<field>: the header and properties fields as they are, plus three computed ones.
    case durable, priority, ttl, firstAcquirer, deliveryCount
    case messageID, userID, to, subject, replyTo, correlationID, contentType, contentEncoding
    case absoluteExpiryTime, creationTime, groupID, groupSequence, replyToGroupID
    case deliveryMode, redelivered, jmsTypeAnnotation

    static let byName: [String: MessageField] = {
        var names: [String: MessageField] = [
            "JMSMessageID": .jmsMessageID, "JMSCorrelationID": .jmsCorrelationID, "JMSPriority": .jmsPriority,
            "JMSDeliveryMode": .jmsDeliveryMode, "JMSTimestamp": .jmsTimestamp, "JMSExpiration": .jmsExpiration,
            "JMSType": .jmsType, "JMSDestination": .jmsDestination, "JMSReplyTo": .jmsReplyTo,
            "JMSRedelivered": .jmsRedelivered, "JMSXDeliveryCount": .jmsxDeliveryCount, "JMSXGroupID": .jmsxGroupID,
            "JMSXGroupSeq": .jmsxGroupSeq, "JMSXUserID": .jmsxUserID,
        ]
        let amqp: [(String, MessageField)] = [
            ("durable", .durable), ("priority", .priority), ("ttl", .ttl), ("first_acquirer", .firstAcquirer),
            ("delivery_count", .deliveryCount), ("message_id", .messageID), ("user_id", .userID), ("to", .to),
            ("subject", .subject), ("reply_to", .replyTo), ("correlation_id", .correlationID),
            ("content_type", .contentType), ("content_encoding", .contentEncoding),
            ("absolute_expiry_time", .absoluteExpiryTime), ("creation_time", .creationTime), ("group_id", .groupID),
            ("group_sequence", .groupSequence), ("reply_to_group_id", .replyToGroupID),
            ("delivery_mode", .deliveryMode), ("redelivered", .redelivered), ("jms_type", .jmsTypeAnnotation),
        ]
        for (name, field) in amqp {
            names["amqp." + name] = field
            // The AMQP spelling, reachable through a quoted identifier: "amqp.first-acquirer".
            if name.contains("_") { names["amqp." + name.replacingUnderscores()] = field }
        }
        return names
    }()

    /// The message annotation Qpid JMS once used for JMSType, still read when `subject` is absent.
    static let jmsTypeAnnotationKey: AMQPValue = .symbol("x-opt-jms-type")

    /// The field's value in `message`.
    func value(_ message: Message) -> SelectorValue {
        let header = message.header
        switch self {
        case .jmsPriority, .priority:
            return .long(Int64(header?.priority ?? 4))
        case .jmsDeliveryMode, .deliveryMode:
            return .string(header?.durable == true ? "PERSISTENT" : "NON_PERSISTENT")
        case .jmsRedelivered, .redelivered:
            return .bool((header?.deliveryCount ?? 0) > 0)
        case .jmsxDeliveryCount:
            return .long(Int64(header?.deliveryCount ?? 0) + 1)
        case .durable:
            return .bool(header?.durable ?? false)
        case .ttl:
            return header?.ttl.map { .long(Int64($0)) } ?? .null
        case .firstAcquirer:
            return .bool(header?.firstAcquirer ?? false)
        case .deliveryCount:
            return .long(Int64(header?.deliveryCount ?? 0))
        case .jmsTypeAnnotation:
            return Self.annotationString(message)
        default:
            break
        }
        // The rest read the properties section, which `Message.properties` copies out of its box:
        // once per field read, and only by these.
        let properties = message.properties
        switch self {
        case .jmsMessageID:
            guard let id = properties?.messageID else { return .null }
            return .string(Self.jmsID(id, correlation: false))
        case .jmsCorrelationID:
            guard let id = properties?.correlationID else { return .null }
            return .string(Self.jmsID(id, correlation: true))
        case .jmsTimestamp:
            return .long(properties?.creationTime?.millisecondsSince1970 ?? 0)
        case .jmsExpiration:
            if let t = properties?.absoluteExpiryTime { return .long(t.millisecondsSince1970) }
            if let c = properties?.creationTime, let ttl = header?.ttl { return .long(c.millisecondsSince1970 &+ Int64(ttl)) }
            return .long(0)
        case .jmsType:
            if let s = properties?.subject { return .string(s) }
            return Self.annotationString(message)
        case .jmsDestination, .to:
            return properties?.to.map { .string($0) } ?? .null
        case .jmsReplyTo, .replyTo:
            return properties?.replyTo.map { .string($0) } ?? .null
        case .jmsxGroupID, .groupID:
            return properties?.groupID.map { .string($0) } ?? .null
        case .jmsxGroupSeq, .groupSequence:
            return properties?.groupSequence.map { .long(Int64($0)) } ?? .null
        case .jmsxUserID, .userID:
            return properties?.userID.map { .string(String(decoding: $0.bytes, as: UTF8.self)) } ?? .null
        case .messageID:
            return properties?.messageID.map { .string(Self.rawID($0)) } ?? .null
        case .correlationID:
            return properties?.correlationID.map { .string(Self.rawID($0)) } ?? .null
        case .subject:
            return properties?.subject.map { .string($0) } ?? .null
        case .contentType:
            return properties?.contentType.map { .string($0.rawValue) } ?? .null
        case .contentEncoding:
            return properties?.contentEncoding.map { .string($0.rawValue) } ?? .null
        case .absoluteExpiryTime:
            return properties?.absoluteExpiryTime.map { .long($0.millisecondsSince1970) } ?? .null
        case .creationTime:
            return properties?.creationTime.map { .long($0.millisecondsSince1970) } ?? .null
        case .replyToGroupID:
            return properties?.replyToGroupID.map { .string($0) } ?? .null
        case .jmsPriority, .priority, .jmsDeliveryMode, .deliveryMode, .jmsRedelivered, .redelivered, .jmsxDeliveryCount,
             .durable, .ttl, .firstAcquirer, .deliveryCount, .jmsTypeAnnotation:
            return .null // answered above
        }
    }

    private static func annotationString(_ message: Message) -> SelectorValue {
        switch message.messageAnnotations?[jmsTypeAnnotationKey] {
        case .string(let s)?: return .string(s)
        case .symbol(let s)?: return .string(s.rawValue)
        default: return .null
        }
    }

    /// A message-id or correlation-id as Qpid JMS shows it, so a JMS client's selector sees the
    /// JMSMessageID it was given (AMQP JMS Mapping §3.2.1.1, as Qpid Broker-J applies it): a string
    /// starting with `ID:` is itself, unless an `AMQP_` type prefix follows (then it is escaped as
    /// `ID:AMQP_STRING:`); any other string is `ID:AMQP_NO_PREFIX:` and itself for a message-id, and
    /// itself for a correlation-id; a ulong, uuid or binary is `ID:AMQP_ULONG:` and the number,
    /// `ID:AMQP_UUID:` and the lowercase UUID, `ID:AMQP_BINARY:` and uppercase hex.
    static func jmsID(_ id: MessageID, correlation: Bool) -> String {
        switch id {
        case .string(let s):
            guard s.utf8.starts(with: "ID:".utf8) else { return correlation ? s : "ID:AMQP_NO_PREFIX:" + s }
            let rest = s.utf8.dropFirst(3)
            for prefix in ["AMQP_BINARY:", "AMQP_UUID:", "AMQP_ULONG:", "AMQP_STRING:", "AMQP_NO_PREFIX:"]
            where rest.starts(with: prefix.utf8) {
                return "ID:AMQP_STRING:" + s
            }
            return s
        case .ulong(let v): return "ID:AMQP_ULONG:" + String(v)
        case .uuid(let u): return "ID:AMQP_UUID:" + u.description
        case .binary(let b): return "ID:AMQP_BINARY:" + hex(b)
        }
    }

    /// A message-id or correlation-id as Qpid C++'s `amqp.message_id` shows it: a string as it is,
    /// a ulong in decimal, a uuid in its canonical form, binary in uppercase hex.
    static func rawID(_ id: MessageID) -> String {
        switch id {
        case .string(let s): return s
        case .ulong(let v): return String(v)
        case .uuid(let u): return u.description
        case .binary(let b): return hex(b)
        }
    }

    private static func hex(_ b: Binary) -> String {
        let digits: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count * 2)
        for byte in b.bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

private extension String {
    func replacingUnderscores() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "_" ? "-" : $0 }))
    }
}
