// The fast path of Message(decoding:): the sections most messages are made of (application
// properties of simple values, an amqp-value of a simple type, data sections, Proton's empty
// properties) are read straight from the input's memory through a raw pointer, with no decoder
// value, no slice per string and no reference counting per read. Any section it does not
// recognise, and any input it finds malformed, is handed to the general, bounds-checked
// AMQPDecoder at the start of that section, so errors (kind and offset) are the general
// decoder's, byte for byte.

/// A cursor over a message's bytes in memory. Every read checks `pos` against `count` first and
/// returns nil when the bytes run out; nothing here traps or reads outside `base ..< base + count`.
struct RawReader {
    /// Valid for `count` bytes for the whole life of the reader: it only lives inside the
    /// `withUnsafeBytes` call that produced the pointer (Message.decodeAll).
    let base: UnsafeRawPointer
    let count: Int
    var pos = 0

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    @inline(__always)
    mutating func u8() -> UInt8? {
        guard pos < count else { return nil }
        // Safe: pos < count, checked just above.
        let b = base.load(fromByteOffset: pos, as: UInt8.self)
        pos &+= 1
        return b
    }

    @inline(__always)
    mutating func bigEndian<T: FixedWidthInteger>(_: T.Type) -> T? {
        guard count &- pos >= MemoryLayout<T>.size else { return nil }
        // Safe: the size of T fits in the bytes that remain, checked just above; unaligned load.
        let v = base.loadUnaligned(fromByteOffset: pos, as: T.self)
        pos &+= MemoryLayout<T>.size
        return T(bigEndian: v)
    }

    @inline(__always)
    mutating func length(wide: Bool) -> Int? {
        if wide {
            guard let n = bigEndian(UInt32.self) else { return nil }
            return Int(n)
        }
        guard let n = u8() else { return nil }
        return Int(n)
    }

    /// The next `n` bytes, or nil when fewer remain.
    @inline(__always)
    mutating func bytes(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n <= count &- pos else { return nil }
        // Safe: pos + n <= count, checked just above.
        let r = UnsafeRawBufferPointer(start: base + pos, count: n)
        pos &+= n
        return r
    }

    /// A section header written as Proton and we write it: 0x00, smallulong, code.
    @inline(__always)
    mutating func sectionCode() -> UInt64? {
        guard count &- pos >= 3 else { return nil }
        // Safe: three bytes remain, checked just above.
        guard base.load(fromByteOffset: pos, as: UInt8.self) == Code.described,
              base.load(fromByteOffset: pos &+ 1, as: UInt8.self) == Code.smallulong else { return nil }
        let code = base.load(fromByteOffset: pos &+ 2, as: UInt8.self)
        pos &+= 3
        return UInt64(code)
    }

    /// A string's UTF-8, validated.
    @inline(__always)
    mutating func stringBody(wide: Bool) throws(Bail) -> String {
        guard let n = length(wide: wide), let raw = bytes(n), let s = AMQPDecoder.makeString(raw) else { throw Bail() }
        return s
    }

    /// A binary as a view of `input`, the slice whose bytes `base` points at.
    @inline(__always)
    mutating func binaryBody(wide: Bool, _ input: ArraySlice<UInt8>) throws(Bail) -> Binary {
        guard let n = length(wide: wide), n <= count &- pos else { throw Bail() }
        let start = input.startIndex + pos
        pos &+= n
        return Binary(input[start ..< start + n])
    }

    /// A value of a fixed-width type that holds no reference (constructor included); nil, having
    /// read nothing, when the next value is of another type.
    @inline(__always)
    mutating func scalar() throws(Bail) -> AMQPScalar? {
        guard pos < count else { throw Bail() }
        // Safe: pos < count, checked just above.
        let code = base.load(fromByteOffset: pos, as: UInt8.self)
        let start = pos
        pos &+= 1
        let v: AMQPScalar?
        switch code {
        case 0x40: v = .null
        case 0x41: v = .bool(true)
        case 0x42: v = .bool(false)
        case 0x56:
            guard let b = u8(), b <= 1 else { throw Bail() }
            v = .bool(b == 1)
        case 0x43: v = .uint(0)
        case 0x44: v = .ulong(0)
        case 0x50: v = u8().map { .ubyte($0) }
        case 0x51: v = u8().map { .byte(Int8(bitPattern: $0)) }
        case 0x52: v = u8().map { .uint(UInt32($0)) }
        case 0x53: v = u8().map { .ulong(UInt64($0)) }
        case 0x54: v = u8().map { .int(Int32(Int8(bitPattern: $0))) }
        case 0x55: v = u8().map { .long(Int64(Int8(bitPattern: $0))) }
        case 0x60: v = bigEndian(UInt16.self).map { .ushort($0) }
        case 0x61: v = bigEndian(Int16.self).map { .short($0) }
        case 0x70: v = bigEndian(UInt32.self).map { .uint($0) }
        case 0x71: v = bigEndian(Int32.self).map { .int($0) }
        case 0x72: v = bigEndian(UInt32.self).map { .float(Float(bitPattern: $0)) }
        case 0x80: v = bigEndian(UInt64.self).map { .ulong($0) }
        case 0x81: v = bigEndian(Int64.self).map { .long($0) }
        case 0x82: v = bigEndian(UInt64.self).map { .double(Double(bitPattern: $0)) }
        case 0x83: v = bigEndian(Int64.self).map { .timestamp(Timestamp(millisecondsSince1970: $0)) }
        default:
            pos = start
            return nil
        }
        guard let v else { throw Bail() } // truncated
        return v
    }

    /// A value of a type with no nesting (no list, map, array or described value).
    mutating func simpleValue(_ input: ArraySlice<UInt8>) throws(Bail) -> AMQPValue {
        if let s = try scalar() { return s.value }
        guard let code = u8() else { throw Bail() }
        switch code {
        case 0xa1, 0xb1: return .string(try stringBody(wide: code == 0xb1))
        case 0xa3, 0xb3: return .symbol(Symbol(try stringBody(wide: code == 0xb3)))
        case 0xa0, 0xb0: return .binary(try binaryBody(wide: code == 0xb0, input))
        default: throw Bail()
        }
    }

    /// A map whose keys and values are all simple values.
    mutating func simpleMap(_ input: ArraySlice<UInt8>) throws(Bail) -> AMQPMap {
        guard let code = u8(), code == Code.map8 || code == Code.map32 else { throw Bail() }
        let wide = code == Code.map32
        let countWidth = wide ? 4 : 1
        guard let size = length(wide: wide), size >= countWidth, size <= count &- pos else { throw Bail() }
        let end = pos &+ size
        // Each element takes at least one byte: the count is bounded before anything is allocated.
        guard let n = length(wide: wide), n & 1 == 0, n <= size &- countWidth else { throw Bail() }
        if n == 2, pos < end, base.load(fromByteOffset: pos, as: UInt8.self) == Code.str8 {
            // One entry with a string key, the usual application properties: inline when the
            // value is a scalar. (Safe load: pos < end <= count.)
            let entry = pos
            pos &+= 1
            let key = try stringBody(wide: false)
            if let v = try scalar() {
                guard pos == end else { throw Bail() }
                return AMQPMap(key: key, value: v)
            }
            pos = entry
        }
        var flattened: [AMQPValue] = []
        flattened.reserveCapacity(n)
        var i = 0
        while i < n {
            flattened.append(try simpleValue(input))
            i &+= 1
        }
        guard pos == end else { throw Bail() }
        return AMQPMap(flattened: flattened)
    }
}

/// The fast path gives up: the general decoder takes the section from its start.
struct Bail: Error {}

extension Message {
    /// Decodes every section of `bytes` into self: the fast path where it applies, the general
    /// decoder for the rest.
    mutating func decodeAll(_ bytes: ArraySlice<UInt8>, limits: AMQPDecodingLimits) throws(AMQPDecodingError) {
        var failure: AMQPDecodingError? = nil
        bytes.withUnsafeBytes { raw in
            do throws(AMQPDecodingError) { try decodeFast(raw, bytes, limits) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Whether a section may follow `last` (§3.2); the general decoder throws for those that may not.
    @inline(__always)
    static func mayFollow(_ section: UInt64, _ last: UInt64) -> Bool {
        let repeatable = section == Section.data || section == Section.sequence
        guard section > last || (section == last && repeatable) else { return false }
        let body = Section.data...Section.value
        return !(body.contains(section) && body.contains(last) && section != last)
    }

    /// - Parameters:
    ///   - raw: the bytes of `bytes`, valid for the duration of the call.
    private mutating func decodeFast(_ raw: UnsafeRawBufferPointer, _ bytes: ArraySlice<UInt8>,
                                     _ limits: AMQPDecodingLimits) throws(AMQPDecodingError) {
        guard let base = raw.baseAddress else { return } // no bytes, no sections
        var r = RawReader(base: base, count: raw.count)
        var last: UInt64 = 0
        while r.pos < r.count {
            let start = r.pos
            if let section = r.sectionCode(), Self.mayFollow(section, last) {
                do throws(Bail) {
                    switch section {
                    case Section.applicationProperties:
                        guard limits.maxDepth >= 1 else { throw Bail() }
                        applicationProperties = try r.simpleMap(bytes)
                    case Section.value:
                        body = .value(try r.simpleValue(bytes))
                    case Section.data:
                        guard let code = r.u8(), code == Code.vbin8 || code == Code.vbin32 else { throw Bail() }
                        appendData(try r.binaryBody(wide: code == Code.vbin32, bytes))
                    case Section.properties:
                        // Proton writes an empty properties section (list0) on every message.
                        guard r.u8() == Code.list0 else { throw Bail() }
                        propertiesBox = Box.emptyProperties
                    default:
                        throw Bail()
                    }
                    last = section
                    continue
                } catch {}
            }
            // Anything else, well-formed or not: the general decoder, for this one section.
            r.pos = try decodeGeneral(bytes, limits, at: start, &last)
        }
    }

    /// Decodes the section at `offset` with the general decoder; returns the offset after it.
    @inline(never)
    private mutating func decodeGeneral(_ bytes: ArraySlice<UInt8>, _ limits: AMQPDecodingLimits, at offset: Int,
                                        _ last: inout UInt64) throws(AMQPDecodingError) -> Int {
        var d = AMQPDecoder(bytes, limits: limits)
        d.position = bytes.startIndex + offset
        try decodeSection(&d, &last)
        return d.position - bytes.startIndex
    }
}
