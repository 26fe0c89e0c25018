import AMQPCodec

/// The fields of a transfer performative the engine acts on (AMQP 1.0 §2.7.5), as plain values.
///
/// Transfers are nearly every frame on a busy link, so they bypass ``Transfer`` and
/// ``Performative``: ``TransferCodec`` reads and writes these fields straight from and to frame
/// bytes. Anything it does not expect (a delivery state, resume, an odd encoding) sends the frame
/// down the general path, which decodes it fully and reports any error.
///
/// Plain values only (the tag is a range of the frame), so passing them around copies no references.
struct TransferFields {
    var handle: UInt32
    var deliveryID: UInt32?
    /// Where the delivery-tag lies in the frame it was decoded from.
    var tagRange: Range<Int>?
    /// The delivery-tag's length, checked against §2.8.7's 32 bytes without touching the tag.
    var tagCount = 0
    var messageFormat: UInt32?
    var settled: Bool?
    var more = false
    var aborted = false

    init(handle: UInt32) { self.handle = handle }

    /// The fields of `t`, whose tag is not in a frame: the caller passes it separately.
    init(_ t: Transfer) {
        handle = t.handle
        deliveryID = t.deliveryID
        messageFormat = t.messageFormat
        settled = t.settled
        more = t.more
        aborted = t.aborted
        tagCount = t.deliveryTag?.count ?? 0
    }
}

/// A delivery tag: a sender's counter of its own or a received tag of up to 8 bytes, both held
/// inline (no allocation or shared buffer per message), or any other bytes.
///
/// A counter is written in 7-bit groups, most significant first, so every tag is ASCII: Proton's
/// Python binding from 0.39 on decodes tags as UTF-8 text and fails on anything else.
enum DeliveryTag {
    case counter(UInt64)
    /// Up to 8 bytes, packed big-endian into the low `count` bytes.
    case short(UInt64, count: Int)
    case bytes(Binary)

    /// The longest delivery-tag the spec allows (§2.8.7).
    static let maxCount = 32

    /// A received tag: inline when it fits, so the delivery does not keep the frame's buffer alive.
    init(received frame: ArraySlice<UInt8>, _ range: Range<Int>) {
        if range.count <= 8 {
            var packed: UInt64 = 0
            for i in range { packed = packed << 8 | UInt64(frame[i]) }
            self = .short(packed, count: range.count)
        } else {
            self = .bytes(Binary(frame[range]))
        }
    }

    var binary: Binary {
        switch self {
        case .counter(let n):
            let k = Self.groups(n)
            return Binary((0..<k).map { Self.group(n, $0, of: k) })
        case .short(let packed, let k):
            return Binary((0..<k).map { Self.byte(packed, $0, of: k) })
        case .bytes(let b): return b
        }
    }

    var count: Int {
        switch self {
        case .counter(let n): return Self.groups(n)
        case .short(_, let k): return k
        case .bytes(let b): return b.count
        }
    }

    /// Byte `i` of the `k` bytes packed in `packed`.
    @inline(__always) static func byte(_ packed: UInt64, _ i: Int, of k: Int) -> UInt8 { UInt8(truncatingIfNeeded: packed >> UInt64(8 * (k - 1 - i))) }

    /// 7-bit groups needed for `n`: 1 to 10.
    @inline(__always) static func groups(_ n: UInt64) -> Int { Swift.max(1, (64 - n.leadingZeroBitCount + 6) / 7) }

    /// Byte `i` of the `k` groups of `n`.
    @inline(__always) static func group(_ n: UInt64, _ i: Int, of k: Int) -> UInt8 { UInt8(truncatingIfNeeded: n >> UInt64(7 * (k - 1 - i))) & 0x7f }
}

enum TransferCodec {
    /// Frame header and transfer fields take at most this much besides the tag, with every field
    /// present in its widest form.
    static let maxOverhead = Frame.headerSize + 3 + 9 + 5 + 5 + 5 + 5 + 1 + 1

    // MARK: decoding

    /// Decodes a transfer frame's channel, fields and payload, or nil when the frame is not a
    /// transfer in the common form (the general path then takes it).
    static func decode(_ frame: ArraySlice<UInt8>) -> (channel: UInt16, fields: TransferFields, payloadStart: Int)? {
        frame.withUnsafeBytes { raw -> (UInt16, TransferFields, Int)? in
            // Header: size(4) doff=2 type=0 channel(2), then 00 53 14 (described by small ulong 0x14).
            guard raw.count > 11, raw[4] == 2, raw[5] == 0, raw[8] == 0x00, raw[9] == 0x53,
                  raw[10] == UInt8(Transfer.descriptorCode) else { return nil }
            let channel = UInt16(raw[6]) << 8 | UInt16(raw[7])
            var r = Reader(raw: raw, at: 11)
            guard let (count, end) = r.listHeader(), count >= 1, count <= 11, end <= raw.count else { return nil }
            guard let handle = r.uint(), let h = handle else { return nil }
            var f = TransferFields(handle: h)
            var field = 1
            while field < count {
                switch field {
                case 1: guard let v = r.uint() else { return nil }; f.deliveryID = v
                case 2: guard let v = r.binary() else { return nil }; f.tagRange = v.map { (frame.startIndex + $0.lowerBound)..<(frame.startIndex + $0.upperBound) }; f.tagCount = v?.count ?? 0
                case 3: guard let v = r.uint() else { return nil }; f.messageFormat = v
                case 4: guard let v = r.bool() else { return nil }; f.settled = v
                case 5: guard let v = r.bool() else { return nil }; f.more = v ?? false
                case 6: guard r.ubyteOrNull() else { return nil }   // rcv-settle-mode: validated, not used
                case 7: guard r.null() else { return nil }          // a state: the general path
                case 8: guard let v = r.bool(), v != true else { return nil }   // resume: the general path
                case 9: guard let v = r.bool() else { return nil }; f.aborted = v ?? false
                default: guard r.bool() != nil else { return nil }  // batchable
                }
                field += 1
            }
            guard r.at == end else { return nil }
            return (channel, f, frame.startIndex + end)
        }
    }

    /// A bounds-checked cursor; every read returns nil on anything unexpected.
    /// Safe use of the raw pointer: it lives only inside `decode`'s `withUnsafeBytes`, and every read
    /// checks `at` against `raw.count` first.
    private struct Reader {
        let raw: UnsafeRawBufferPointer
        var at: Int

        init(raw: UnsafeRawBufferPointer, at: Int) { self.raw = raw; self.at = at }

        @inline(__always) mutating func byte() -> UInt8? {
            guard at < raw.count else { return nil }
            defer { at += 1 }
            return raw[at]
        }

        /// A list header: element count and the index just past the list.
        @inline(__always) mutating func listHeader() -> (Int, Int)? {
            switch byte() {
            case 0x45: return (0, at)
            case 0xc0:
                guard let size = byte(), let count = byte() else { return nil }
                return (Int(count), at - 1 + Int(size))
            case 0xd0:
                guard let size = u32(), let count = u32() else { return nil }
                return (Int(count), at - 4 + Int(size))
            default: return nil
            }
        }

        @inline(__always) mutating func u32() -> UInt32? {
            guard raw.count - at >= 4 else { return nil }
            defer { at += 4 }
            return UInt32(raw[at]) << 24 | UInt32(raw[at + 1]) << 16 | UInt32(raw[at + 2]) << 8 | UInt32(raw[at + 3])
        }

        /// `.some(nil)` for null.
        @inline(__always) mutating func uint() -> UInt32?? {
            switch byte() {
            case 0x40: return .some(nil)
            case 0x43: return 0
            case 0x52: return byte().map { UInt32($0) }
            case 0x70: return u32()
            default: return nil
            }
        }

        @inline(__always) mutating func bool() -> Bool?? {
            switch byte() {
            case 0x40: return .some(nil)
            case 0x41: return true
            case 0x42: return false
            case 0x56:
                switch byte() {
                case 0: return false
                case 1: return true
                default: return nil
                }
            default: return nil
            }
        }

        @inline(__always) mutating func null() -> Bool { byte() == 0x40 }

        @inline(__always) mutating func ubyteOrNull() -> Bool {
            switch byte() {
            case 0x40: return true
            case 0x50: return byte() != nil
            default: return false
            }
        }

        /// The range of a binary's bytes within `raw`; `.some(nil)` for null.
        @inline(__always) mutating func binary() -> Range<Int>?? {
            let n: Int
            switch byte() {
            case 0x40: return .some(nil)
            case 0xa0: guard let b = byte() else { return nil }; n = Int(b)
            case 0xb0: guard let w = u32() else { return nil }; n = Int(w)
            default: return nil
            }
            guard raw.count - at >= n else { return nil }
            defer { at += n }
            return at..<(at + n)
        }
    }

    // MARK: encoding

    /// Appends a whole transfer frame: header, the fields given (trailing absent ones left out, as
    /// §1.4 allows), then `payload`. For tags up to 200 bytes these are the bytes ``Transfer/encode(into:)``
    /// writes; longer tags get a list32.
    static func append(channel: UInt16, handle: UInt32, deliveryID: UInt32?, tag: DeliveryTag?, messageFormat: UInt32?,
                       settled: Bool?, more: Bool, payload: ArraySlice<UInt8>, into out: inout [UInt8]) {
        // No closure: one capturing the payload retained it per frame.
        let frameStart = appendFields(channel: channel, handle: handle, deliveryID: deliveryID, tag: tag,
                                      messageFormat: messageFormat, settled: settled, more: more, into: &out)
        out.append(contentsOf: payload)
        patchFrameSize(at: frameStart, in: &out)
    }

    /// The same, with the payload written by `writePayload` straight after the fields (a message
    /// encoded in place); the frame's size is set from what it wrote.
    static func append(channel: UInt16, handle: UInt32, deliveryID: UInt32?, tag: DeliveryTag?, messageFormat: UInt32?,
                       settled: Bool?, more: Bool, into out: inout [UInt8], writePayload: (inout [UInt8]) -> Void) {
        let frameStart = appendFields(channel: channel, handle: handle, deliveryID: deliveryID, tag: tag,
                                      messageFormat: messageFormat, settled: settled, more: more, into: &out)
        writePayload(&out)
        patchFrameSize(at: frameStart, in: &out)
    }

    /// The same, with a message encoded straight after the fields. No closure carries the
    /// message: one that captured it would copy it (a retain of every part) per send.
    /// - Returns: the size of the encoded message.
    @discardableResult
    static func append(channel: UInt16, handle: UInt32, deliveryID: UInt32?, tag: DeliveryTag?, messageFormat: UInt32?,
                       settled: Bool?, message: borrowing Message, into out: inout [UInt8]) -> Int {
        let frameStart = appendFields(channel: channel, handle: handle, deliveryID: deliveryID, tag: tag,
                                      messageFormat: messageFormat, settled: settled, more: false, into: &out)
        let payloadStart = out.count
        message.encode(into: &out)
        patchFrameSize(at: frameStart, in: &out)
        return out.count - payloadStart
    }

    /// A transfer frame's header and fields, its size left to ``patchFrameSize(at:in:)`` once the
    /// payload follows; returns where the frame starts.
    @inline(__always)
    private static func appendFields(channel: UInt16, handle: UInt32, deliveryID: UInt32?, tag: DeliveryTag?, messageFormat: UInt32?,
                                     settled: Bool?, more: Bool, into out: inout [UInt8]) -> Int {
        let frameStart = out.count
        let tagCount = tag?.count ?? 0
        withUnsafeTemporaryAllocation(byteCount: maxOverhead + tagCount, alignment: 1) { buf in
            var w = Writer(buf: buf)
            w.zeros(4)   // frame size, patched below
            w.put(2, 0)  // data offset, AMQP frame type
            w.bigEndian(channel)
            w.put(0x00, 0x53, UInt8(Transfer.descriptorCode))
            let listStart = w.at
            let wide = tagCount > 200
            if wide { w.put(0xd0); w.zeros(8) } else { w.put(0xc0, 0, 0) }
            let bodyStart = w.at
            // Fields in order; `present` counts up to the last one written, `end` is where it ends.
            var present = 1, end = 0
            w.uint(handle)
            end = w.at
            if let deliveryID { w.uint(deliveryID); present = 2; end = w.at } else { w.put(0x40) }
            if let tag {
                switch tag {
                case .counter(let n):
                    let k = DeliveryTag.groups(n)
                    w.put(0xa0, UInt8(k))
                    for i in 0..<k { w.put(DeliveryTag.group(n, i, of: k)) }
                case .short(let packed, let k):
                    w.put(0xa0, UInt8(k))
                    for i in 0..<k { w.put(DeliveryTag.byte(packed, i, of: k)) }
                case .bytes(let b):
                    if b.count < 256 { w.put(0xa0, UInt8(b.count)) } else { w.put(0xb0); w.bigEndian(UInt32(b.count)) }
                    b.bytes.withUnsafeBytes { w.put($0) }
                }
                present = 3; end = w.at
            } else { w.put(0x40) }
            if let messageFormat { w.uint(messageFormat); present = 4; end = w.at } else { w.put(0x40) }
            if let settled { w.put(settled ? 0x41 : 0x42); present = 5; end = w.at } else { w.put(0x40) }
            if more { w.put(0x41); present = 6; end = w.at }
            w.at = end
            let size = end - bodyStart
            if wide {
                w.patch(listStart + 1, UInt32(size + 4))
                w.patch(listStart + 5, UInt32(present))
            } else {
                buf[listStart + 1] = UInt8(size + 1)
                buf[listStart + 2] = UInt8(present)
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<end]))
        }
        return frameStart
    }

    @inline(__always)
    private static func patchFrameSize(at frameStart: Int, in out: inout [UInt8]) {
        let size = UInt32(out.count - frameStart)
        out[frameStart] = UInt8(truncatingIfNeeded: size >> 24)
        out[frameStart + 1] = UInt8(truncatingIfNeeded: size >> 16)
        out[frameStart + 2] = UInt8(truncatingIfNeeded: size >> 8)
        out[frameStart + 3] = UInt8(truncatingIfNeeded: size)
    }

    /// Writes without bounds checks in release builds. Safe use of the raw pointer: `append` gives it
    /// a stack buffer of `maxOverhead` plus the tag's length, which is the most the fields can take
    /// (every field in its widest form), and it does not outlive `withUnsafeTemporaryAllocation`.
    private struct Writer {
        let buf: UnsafeMutableRawBufferPointer
        var at = 0

        // Fixed arities rather than a variadic, which would allocate an array per call.
        mutating func put(_ a: UInt8) { buf[at] = a; at += 1 }
        mutating func put(_ a: UInt8, _ b: UInt8) { buf[at] = a; buf[at + 1] = b; at += 2 }
        mutating func put(_ a: UInt8, _ b: UInt8, _ c: UInt8) { buf[at] = a; buf[at + 1] = b; buf[at + 2] = c; at += 3 }
        mutating func zeros(_ n: Int) { for i in 0..<n { buf[at + i] = 0 }; at += n }

        mutating func put(_ bytes: UnsafeRawBufferPointer) {
            UnsafeMutableRawBufferPointer(rebasing: buf[at..<(at + bytes.count)]).copyMemory(from: bytes)
            at += bytes.count
        }

        mutating func bigEndian<T: FixedWidthInteger>(_ v: T) {
            buf.storeBytes(of: v.bigEndian, toByteOffset: at, as: T.self)
            at += MemoryLayout<T>.size
        }

        func patch(_ offset: Int, _ v: UInt32) {
            buf.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt32.self)
        }

        mutating func uint(_ v: UInt32) {
            if v == 0 { put(0x43) } else if v < 256 { put(0x52, UInt8(v)) } else { put(0x70); bigEndian(v) }
        }
    }
}
