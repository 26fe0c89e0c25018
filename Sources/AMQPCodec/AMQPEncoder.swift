// Encoding appends straight to the caller's [UInt8]. Compound sizes are written as placeholders
// and patched afterwards, so each value is visited once; a list that outgrows the 8-bit form is
// widened in place (one move of its own bytes, rare for the small lists AMQP frames carry).

extension Array where Element == UInt8 {
    @inlinable @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { self.append(contentsOf: $0) }
    }

    @inlinable @inline(__always)
    mutating func patchBigEndian(_ value: UInt32, at index: Int) {
        self[index] = UInt8(truncatingIfNeeded: value >> 24)
        self[index + 1] = UInt8(truncatingIfNeeded: value >> 16)
        self[index + 2] = UInt8(truncatingIfNeeded: value >> 8)
        self[index + 3] = UInt8(truncatingIfNeeded: value)
    }
}

/// Encoding of primitive values into a caller-owned buffer (AMQP 1.0 §1.6).
///
/// Each `append…` writes one value with its constructor, choosing the most compact encoding.
/// Nothing here allocates beyond the buffer's own growth. Not API: ``AMQPValue/encode(into:)``
/// and the composites' `encode(into:)` are.
@usableFromInline
enum AMQPEncoder {
    @inlinable static func appendNull(_ b: inout [UInt8]) { b.append(Code.null) }

    @inlinable static func appendBool(_ v: Bool, _ b: inout [UInt8]) { b.append(v ? Code.true : Code.false) }

    @inlinable static func appendUByte(_ v: UInt8, _ b: inout [UInt8]) { b.append(Code.ubyte); b.append(v) }

    @inlinable static func appendUShort(_ v: UInt16, _ b: inout [UInt8]) { b.append(Code.ushort); b.appendBigEndian(v) }

    @inlinable static func appendUInt(_ v: UInt32, _ b: inout [UInt8]) {
        if v == 0 { b.append(Code.uint0) }
        else if v < 256 { b.append(Code.smalluint); b.append(UInt8(v)) }
        else { b.append(Code.uint); b.appendBigEndian(v) }
    }

    @inlinable static func appendULong(_ v: UInt64, _ b: inout [UInt8]) {
        if v == 0 { b.append(Code.ulong0) }
        else if v < 256 { b.append(Code.smallulong); b.append(UInt8(v)) }
        else { b.append(Code.ulong); b.appendBigEndian(v) }
    }

    @inlinable static func appendByte(_ v: Int8, _ b: inout [UInt8]) { b.append(Code.byte); b.append(UInt8(bitPattern: v)) }

    @inlinable static func appendShort(_ v: Int16, _ b: inout [UInt8]) { b.append(Code.short); b.appendBigEndian(v) }

    @inlinable static func appendInt(_ v: Int32, _ b: inout [UInt8]) {
        if v >= -128 && v <= 127 { b.append(Code.smallint); b.append(UInt8(bitPattern: Int8(v))) }
        else { b.append(Code.int); b.appendBigEndian(v) }
    }

    @inlinable static func appendLong(_ v: Int64, _ b: inout [UInt8]) {
        if v >= -128 && v <= 127 { b.append(Code.smalllong); b.append(UInt8(bitPattern: Int8(v))) }
        else { b.append(Code.long); b.appendBigEndian(v) }
    }

    @inlinable static func appendTimestamp(_ v: Timestamp, _ b: inout [UInt8]) {
        b.append(Code.timestamp); b.appendBigEndian(v.millisecondsSince1970)
    }

    @inlinable static func appendBinary(_ v: Binary, _ b: inout [UInt8]) {
        appendVariable(v.bytes, small: Code.vbin8, large: Code.vbin32, &b)
    }

    @inlinable static func appendBinary(_ v: UnsafeRawBufferPointer, _ b: inout [UInt8]) {
        appendLength(v.count, small: Code.vbin8, large: Code.vbin32, &b)
        b.append(contentsOf: v)
    }

    @inlinable static func appendString(_ v: String, _ b: inout [UInt8]) {
        // Native strings lend their UTF-8 in place; only others are copied (withUTF8 is mutating).
        let done: Void? = v.utf8.withContiguousStorageIfAvailable {
            appendLength($0.count, small: Code.str8, large: Code.str32, &b)
            b.append(contentsOf: $0)
        }
        if done == nil {
            var s = v
            s.withUTF8 { appendLength($0.count, small: Code.str8, large: Code.str32, &b); b.append(contentsOf: $0) }
        }
    }

    @inlinable static func appendSymbol(_ v: Symbol, _ b: inout [UInt8]) {
        let done: Void? = v.rawValue.utf8.withContiguousStorageIfAvailable {
            appendLength($0.count, small: Code.sym8, large: Code.sym32, &b)
            b.append(contentsOf: $0)
        }
        if done == nil {
            var s = v.rawValue
            s.withUTF8 { appendLength($0.count, small: Code.sym8, large: Code.sym32, &b); b.append(contentsOf: $0) }
        }
    }

    @inlinable static func appendVariable(_ bytes: ArraySlice<UInt8>, small: UInt8, large: UInt8, _ b: inout [UInt8]) {
        appendLength(bytes.count, small: small, large: large, &b)
        b.append(contentsOf: bytes)
    }

    @inlinable @inline(__always)
    static func appendLength(_ n: Int, small: UInt8, large: UInt8, _ b: inout [UInt8]) {
        if n < 256 { b.append(small); b.append(UInt8(n)) }
        else { b.append(large); b.appendBigEndian(UInt32(truncatingIfNeeded: n)) }
    }

    /// Writes the constructor of a described value whose descriptor is a `ulong` code.
    @inlinable static func appendDescriptor(_ code: UInt64, _ b: inout [UInt8]) {
        b.append(Code.described)
        appendULong(code, &b)
    }

    /// Starts a list: writes a list8 header with placeholder size and count.
    /// - Returns: the position to pass to ``endList(_:count:_:)``.
    @inlinable static func beginList(_ b: inout [UInt8]) -> Int {
        let start = b.count
        b.append(Code.list8); b.append(0); b.append(0)
        return start
    }

    /// Finishes a list begun at `start` holding `count` elements: patches its header, widening it to
    /// list32 when needed, or turns it into list0 when empty.
    @inlinable static func endList(_ start: Int, count: Int, _ b: inout [UInt8]) {
        endCompound(start, count: count, small: Code.list8, large: Code.list32, &b, emptyCode: Code.list0)
    }

    /// Starts a map; pass the result to ``endMap(_:count:_:)`` with the number of keys plus values.
    @inlinable static func beginMap(_ b: inout [UInt8]) -> Int {
        let start = b.count
        b.append(Code.map8); b.append(0); b.append(0)
        return start
    }

    @inlinable static func endMap(_ start: Int, count: Int, _ b: inout [UInt8]) {
        endCompound(start, count: count, small: Code.map8, large: Code.map32, &b, emptyCode: nil)
    }

    @inlinable
    static func endCompound(_ start: Int, count: Int, small: UInt8, large: UInt8, _ b: inout [UInt8], emptyCode: UInt8?) {
        let bodySize = b.count - start - 3   // bytes of elements
        if count == 0, let empty = emptyCode {
            b.removeSubrange(start..<b.count)
            b.append(empty)
        } else if bodySize + 1 <= 255 && count <= 255 {
            b[start + 1] = UInt8(bodySize + 1)
            b[start + 2] = UInt8(count)
        } else {
            // widen: 8-bit size and count become 32-bit (6 more bytes)
            b.insert(contentsOf: repeatElement(0, count: 6), at: start + 3)
            b[start] = large
            b.patchBigEndian(UInt32(truncatingIfNeeded: bodySize + 4), at: start + 1)
            b.patchBigEndian(UInt32(truncatingIfNeeded: count), at: start + 5)
        }
    }
}

extension AMQPValue {
    /// Appends this value's encoding to `buffer`, choosing the most compact encoding AMQP allows.
    public func encode(into buffer: inout [UInt8]) {
        switch self {
        case .null: buffer.append(Code.null)
        case .bool(let v): AMQPEncoder.appendBool(v, &buffer)
        case .ubyte(let v): AMQPEncoder.appendUByte(v, &buffer)
        case .ushort(let v): AMQPEncoder.appendUShort(v, &buffer)
        case .uint(let v): AMQPEncoder.appendUInt(v, &buffer)
        case .ulong(let v): AMQPEncoder.appendULong(v, &buffer)
        case .byte(let v): AMQPEncoder.appendByte(v, &buffer)
        case .short(let v): AMQPEncoder.appendShort(v, &buffer)
        case .int(let v): AMQPEncoder.appendInt(v, &buffer)
        case .long(let v): AMQPEncoder.appendLong(v, &buffer)
        case .float(let v): buffer.append(Code.float); buffer.appendBigEndian(v.bitPattern)
        case .double(let v): buffer.append(Code.double); buffer.appendBigEndian(v.bitPattern)
        case .decimal32(let v): buffer.append(Code.decimal32); buffer.appendBigEndian(v.bitPattern)
        case .decimal64(let v): buffer.append(Code.decimal64); buffer.appendBigEndian(v.bitPattern)
        case .decimal128(let v): buffer.append(Code.decimal128); buffer.appendBigEndian(v.high); buffer.appendBigEndian(v.low)
        case .char(let v): buffer.append(Code.char); buffer.appendBigEndian(v.value)
        case .timestamp(let v): AMQPEncoder.appendTimestamp(v, &buffer)
        case .uuid(let v): buffer.append(Code.uuid); buffer.appendBigEndian(v.high); buffer.appendBigEndian(v.low)
        case .binary(let v): AMQPEncoder.appendBinary(v, &buffer)
        case .string(let v): AMQPEncoder.appendString(v, &buffer)
        case .symbol(let v): AMQPEncoder.appendSymbol(v, &buffer)
        case .list(let elements):
            if elements.isEmpty { buffer.append(Code.list0); return }
            let start = AMQPEncoder.beginList(&buffer)
            for i in elements.indices { elements[i].encode(into: &buffer) }
            AMQPEncoder.endList(start, count: elements.count, &buffer)
        case .map(let m): m.encode(into: &buffer)
        case .array(let a): a.encode(into: &buffer)
        case .described(let d, let v):
            buffer.append(Code.described)
            d.encode(into: &buffer)
            v.encode(into: &buffer)
        }
    }

    /// This value's encoding as a new array.
    public var encoded: [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(encodedSize)
        encode(into: &b)
        return b
    }

    /// The number of bytes ``encode(into:)`` appends, computed without encoding.
    public var encodedSize: Int {
        switch self {
        case .null, .bool: return 1
        case .ubyte, .byte: return 2
        case .ushort, .short: return 3
        case .uint(let v): return v == 0 ? 1 : v < 256 ? 2 : 5
        case .ulong(let v): return v == 0 ? 1 : v < 256 ? 2 : 9
        case .int(let v): return (v >= -128 && v <= 127) ? 2 : 5
        case .long(let v): return (v >= -128 && v <= 127) ? 2 : 9
        case .float, .decimal32, .char: return 5
        case .double, .decimal64, .timestamp: return 9
        case .decimal128, .uuid: return 17
        case .binary(let v): return Self.variableSize(v.count)
        case .string(let v): return Self.variableSize(v.utf8.count)
        case .symbol(let v): return Self.variableSize(v.rawValue.utf8.count)
        case .list(let elements):
            if elements.isEmpty { return 1 }
            var body = 0
            for i in elements.indices { body += elements[i].encodedSize }
            return Self.compoundSize(body: body, count: elements.count)
        case .map(let m): return m.encodedSize
        case .array(let a): return a.encodedSize
        case .described(let d, let v): return 1 + d.encodedSize + v.encodedSize
        }
    }

    @usableFromInline @inline(__always) static func variableSize(_ n: Int) -> Int { n < 256 ? 2 + n : 5 + n }

    @usableFromInline @inline(__always) static func compoundSize(body: Int, count: Int) -> Int {
        (body + 1 <= 255 && count <= 255) ? 3 + body : 9 + body
    }
}

extension AMQPMap {
    /// Appends this map's encoding to `buffer`.
    public func encode(into buffer: inout [UInt8]) {
        let start = AMQPEncoder.beginMap(&buffer)
        switch storage {
        case .flat(let flattened):
            // By index, not `for v in`: the iterator would copy (retain) each value.
            for i in flattened.indices { flattened[i].encode(into: &buffer) }
            AMQPEncoder.endMap(start, count: flattened.count, &buffer)
        case .single(let k, let v):
            AMQPEncoder.appendString(k, &buffer)
            v.value.encode(into: &buffer)
            AMQPEncoder.endMap(start, count: 2, &buffer)
        }
    }

    /// The number of bytes ``encode(into:)`` appends.
    public var encodedSize: Int {
        switch storage {
        case .flat(let flattened):
            var body = 0
            for i in flattened.indices { body += flattened[i].encodedSize }
            return AMQPValue.compoundSize(body: body, count: flattened.count)
        case .single(let k, let v):
            return AMQPValue.compoundSize(body: AMQPValue.variableSize(k.utf8.count) + v.value.encodedSize, count: 2)
        }
    }
}

// Arrays: one constructor, then each element's payload without its own constructor. Element
// constructors are fixed per type (full-width integers, as Proton writes them), except that
// variable-width and compound types use their 8-bit form when every element fits.
extension AMQPArray {
    /// Appends this array's encoding to `buffer`.
    public func encode(into buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(Code.array8); buffer.append(0); buffer.append(0)
        if let d = descriptor { buffer.append(Code.described); d.encode(into: &buffer) }
        let wide = needsWideElements
        buffer.append(Self.elementConstructor(elementType, wide: wide))
        for e in elements { Self.encodePayload(e, wide: wide, &buffer) }
        AMQPEncoder.endCompound(start, count: elements.count, small: Code.array8, large: Code.array32, &buffer, emptyCode: nil)
    }

    /// The number of bytes ``encode(into:)`` appends.
    public var encodedSize: Int {
        let wide = needsWideElements
        var body = 1 + (descriptor.map { 1 + $0.encodedSize } ?? 0)
        for e in elements { body += Self.payloadSize(e, wide: wide) }
        return AMQPValue.compoundSize(body: body, count: elements.count)
    }

    /// Whether some element needs the 32-bit form of a variable-width or compound encoding.
    var needsWideElements: Bool {
        switch elementType {
        case .binary, .string, .symbol, .list, .map, .array:
            for e in elements {
                let n = Self.payloadSize(e, wide: false)
                switch e {
                case .binary(let v): if v.count > 255 { return true }
                case .string(let v): if v.utf8.count > 255 { return true }
                case .symbol(let v): if v.rawValue.utf8.count > 255 { return true }
                case .list(let l): if n - 1 > 255 || l.count > 255 { return true }
                case .map(let m): if n - 1 > 255 || m.count * 2 > 255 { return true }
                case .array(let a): if n - 1 > 255 || a.count > 255 { return true }
                default: break
                }
            }
            return false
        default:
            return false
        }
    }

    static func elementConstructor(_ type: AMQPType, wide: Bool) -> UInt8 {
        switch type {
        case .null: return Code.null
        case .boolean: return Code.boolean
        case .ubyte: return Code.ubyte
        case .ushort: return Code.ushort
        case .uint: return Code.uint
        case .ulong: return Code.ulong
        case .byte: return Code.byte
        case .short: return Code.short
        case .int: return Code.int
        case .long: return Code.long
        case .float: return Code.float
        case .double: return Code.double
        case .decimal32: return Code.decimal32
        case .decimal64: return Code.decimal64
        case .decimal128: return Code.decimal128
        case .char: return Code.char
        case .timestamp: return Code.timestamp
        case .uuid: return Code.uuid
        case .binary: return wide ? Code.vbin32 : Code.vbin8
        case .string: return wide ? Code.str32 : Code.str8
        case .symbol: return wide ? Code.sym32 : Code.sym8
        case .list: return wide ? Code.list32 : Code.list8
        case .map: return wide ? Code.map32 : Code.map8
        case .array: return wide ? Code.array32 : Code.array8
        case .described: return Code.null // unreachable: AMQPArray refuses described elements
        }
    }

    static func payloadSize(_ v: AMQPValue, wide: Bool) -> Int {
        let lengthField = wide ? 4 : 1
        switch v {
        case .null: return 0
        case .bool, .ubyte, .byte: return 1
        case .ushort, .short: return 2
        case .uint, .int, .float, .decimal32, .char: return 4
        case .ulong, .long, .double, .decimal64, .timestamp: return 8
        case .decimal128, .uuid: return 16
        case .binary(let b): return lengthField + b.count
        case .string(let s): return lengthField + s.utf8.count
        case .symbol(let s): return lengthField + s.rawValue.utf8.count
        case .list(let l):
            var body = 0
            for e in l { body += e.encodedSize }
            return 2 * lengthField + body
        case .map(let m):
            var body = 0
            for v in m.flattened { body += v.encodedSize }
            return 2 * lengthField + body
        case .array(let a):
            let innerWide = a.needsWideElements
            var body = 1 + (a.descriptor.map { 1 + $0.encodedSize } ?? 0)
            for e in a.elements { body += payloadSize(e, wide: innerWide) }
            return 2 * lengthField + body
        case .described: return 0 // unreachable: AMQPArray refuses described elements
        }
    }

    static func encodePayload(_ v: AMQPValue, wide: Bool, _ b: inout [UInt8]) {
        switch v {
        case .null: break
        case .bool(let x): b.append(x ? 1 : 0)
        case .ubyte(let x): b.append(x)
        case .byte(let x): b.append(UInt8(bitPattern: x))
        case .ushort(let x): b.appendBigEndian(x)
        case .short(let x): b.appendBigEndian(x)
        case .uint(let x): b.appendBigEndian(x)
        case .int(let x): b.appendBigEndian(x)
        case .float(let x): b.appendBigEndian(x.bitPattern)
        case .decimal32(let x): b.appendBigEndian(x.bitPattern)
        case .char(let x): b.appendBigEndian(x.value)
        case .ulong(let x): b.appendBigEndian(x)
        case .long(let x): b.appendBigEndian(x)
        case .double(let x): b.appendBigEndian(x.bitPattern)
        case .decimal64(let x): b.appendBigEndian(x.bitPattern)
        case .timestamp(let x): b.appendBigEndian(x.millisecondsSince1970)
        case .decimal128(let x): b.appendBigEndian(x.high); b.appendBigEndian(x.low)
        case .uuid(let x): b.appendBigEndian(x.high); b.appendBigEndian(x.low)
        case .binary(let x): appendLengthPrefixed(x.bytes, wide: wide, &b)
        case .string(let x): appendLengthPrefixed(ArraySlice(x.utf8), wide: wide, &b)
        case .symbol(let x): appendLengthPrefixed(ArraySlice(x.rawValue.utf8), wide: wide, &b)
        case .list(let l):
            appendCompoundPayload(wide: wide, count: l.count, &b) { buf in for e in l { e.encode(into: &buf) } }
        case .map(let m):
            appendCompoundPayload(wide: wide, count: m.count * 2, &b) { buf in
                for v in m.flattened { v.encode(into: &buf) }
            }
        case .array(let a):
            let innerWide = a.needsWideElements
            appendCompoundPayload(wide: wide, count: a.count, &b) { buf in
                if let d = a.descriptor { buf.append(Code.described); d.encode(into: &buf) }
                buf.append(elementConstructor(a.elementType, wide: innerWide))
                for e in a.elements { encodePayload(e, wide: innerWide, &buf) }
            }
        case .described: break // unreachable: AMQPArray refuses described elements
        }
    }

    static func appendLengthPrefixed(_ bytes: ArraySlice<UInt8>, wide: Bool, _ b: inout [UInt8]) {
        if wide { b.appendBigEndian(UInt32(truncatingIfNeeded: bytes.count)) } else { b.append(UInt8(truncatingIfNeeded: bytes.count)) }
        b.append(contentsOf: bytes)
    }

    static func appendCompoundPayload(wide: Bool, count: Int, _ b: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        let start = b.count
        if wide { b.appendBigEndian(UInt32(0)); b.appendBigEndian(UInt32(truncatingIfNeeded: count)) }
        else { b.append(0); b.append(UInt8(truncatingIfNeeded: count)) }
        body(&b)
        let size = b.count - start - (wide ? 4 : 1)
        if wide { b.patchBigEndian(UInt32(truncatingIfNeeded: size), at: start) } else { b[start] = UInt8(truncatingIfNeeded: size) }
    }
}
