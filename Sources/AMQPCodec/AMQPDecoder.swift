/// A bounds-checked reader of AMQP-encoded bytes (AMQP 1.0 §1.6).
///
/// Every read checks the bytes that remain first and throws ``AMQPDecodingError`` rather than
/// trapping; declared sizes and counts are checked before anything is allocated, and nesting is
/// limited by ``AMQPDecodingLimits``. Binary values, and the UTF-8 of strings through
/// ``readStringBytes()``, come back as views that share the input's storage.
///
/// Threading: a plain value type; use each decoder from one thread at a time.
public struct AMQPDecoder {
    /// The input. Positions are indices into it.
    public let bytes: ArraySlice<UInt8>
    /// The index of the next byte to read.
    public var position: Int
    /// The limits this decoder enforces on nesting and element counts.
    public var limits: AMQPDecodingLimits
    @usableFromInline var depth: Int = 0

    /// A decoder that reads `bytes` from their start index, within `limits`.
    public init(_ bytes: ArraySlice<UInt8>, limits: AMQPDecodingLimits = .default) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.limits = limits
    }

    /// A decoder that reads `bytes` from the start, within `limits`.
    public init(_ bytes: [UInt8], limits: AMQPDecodingLimits = .default) {
        self.init(bytes[...], limits: limits)
    }

    /// Bytes not yet read.
    @inlinable public var remaining: Int { bytes.endIndex - position }
    /// True once every byte has been read.
    @inlinable public var isAtEnd: Bool { position >= bytes.endIndex }
    /// The offset of the read position from the start of the input.
    @inlinable public var offset: Int { position - bytes.startIndex }

    @usableFromInline
    func error(_ kind: AMQPDecodingError.Kind, at pos: Int? = nil) -> AMQPDecodingError {
        AMQPDecodingError(kind, at: (pos ?? position) - bytes.startIndex)
    }

    // MARK: raw reads

    @inlinable @inline(__always)
    mutating func need(_ n: Int) throws(AMQPDecodingError) {
        if n > bytes.endIndex - position || n < 0 { throw error(.truncated(needed: n, available: remaining)) }
    }

    @inlinable @inline(__always)
    package mutating func readByte() throws(AMQPDecodingError) -> UInt8 {
        try need(1)
        let b = bytes[position]
        position += 1
        return b
    }

    @inlinable @inline(__always)
    package func peekByte() throws(AMQPDecodingError) -> UInt8 {
        if position >= bytes.endIndex { throw error(.truncated(needed: 1, available: 0)) }
        return bytes[position]
    }

    @inlinable @inline(__always)
    mutating func readBigEndian<T: FixedWidthInteger>(_: T.Type) throws(AMQPDecodingError) -> T {
        try need(MemoryLayout<T>.size)
        let offset = position - bytes.startIndex
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        position += MemoryLayout<T>.size
        return T(bigEndian: v)
    }

    @inlinable @inline(__always)
    mutating func readSlice(_ n: Int) throws(AMQPDecodingError) -> ArraySlice<UInt8> {
        try need(n)
        let s = bytes[position ..< position + n]
        position += n
        return s
    }

    @inlinable @inline(__always)
    mutating func readLength(wide: Bool) throws(AMQPDecodingError) -> Int {
        wide ? Int(try readBigEndian(UInt32.self)) : Int(try readByte())
    }

    @inlinable
    mutating func enter() throws(AMQPDecodingError) {
        depth += 1
        if depth > limits.maxDepth { throw error(.tooDeep(limit: limits.maxDepth)) }
    }

    @inlinable mutating func leave() { depth -= 1 }

    // MARK: values

    /// Decodes the next value, whatever its type.
    public mutating func decodeValue() throws(AMQPDecodingError) -> AMQPValue {
        let code = try readByte()
        return try decodeValue(constructor: code)
    }

    /// Decodes a value whose constructor byte has already been read.
    @usableFromInline
    mutating func decodeValue(constructor code: UInt8) throws(AMQPDecodingError) -> AMQPValue {
        switch code {
        case 0x00:
            let start = position - 1
            try enter()
            let d = try decodeValue()
            if case .described = d { throw error(.invalidValue("a descriptor may not itself be described"), at: start) }
            let v = try decodeValue()
            leave()
            return .described(descriptor: d, value: v)
        case 0x40: return .null
        case 0x41: return .bool(true)
        case 0x42: return .bool(false)
        case 0x56:
            let b = try readByte()
            guard b <= 1 else { throw error(.invalidValue("boolean byte 0x\(String(b, radix: 16))"), at: position - 1) }
            return .bool(b == 1)
        case 0x43: return .uint(0)
        case 0x44: return .ulong(0)
        case 0x45: return .list([])
        case 0x50: return .ubyte(try readByte())
        case 0x51: return .byte(Int8(bitPattern: try readByte()))
        case 0x52: return .uint(UInt32(try readByte()))
        case 0x53: return .ulong(UInt64(try readByte()))
        case 0x54: return .int(Int32(Int8(bitPattern: try readByte())))
        case 0x55: return .long(Int64(Int8(bitPattern: try readByte())))
        case 0x60: return .ushort(try readBigEndian(UInt16.self))
        case 0x61: return .short(try readBigEndian(Int16.self))
        case 0x70: return .uint(try readBigEndian(UInt32.self))
        case 0x71: return .int(try readBigEndian(Int32.self))
        case 0x72: return .float(Float(bitPattern: try readBigEndian(UInt32.self)))
        case 0x73: return .char(try readChar())
        case 0x74: return .decimal32(Decimal32(bitPattern: try readBigEndian(UInt32.self)))
        case 0x80: return .ulong(try readBigEndian(UInt64.self))
        case 0x81: return .long(try readBigEndian(Int64.self))
        case 0x82: return .double(Double(bitPattern: try readBigEndian(UInt64.self)))
        case 0x83: return .timestamp(Timestamp(millisecondsSince1970: try readBigEndian(Int64.self)))
        case 0x84: return .decimal64(Decimal64(bitPattern: try readBigEndian(UInt64.self)))
        case 0x94:
            let h = try readBigEndian(UInt64.self)
            return .decimal128(Decimal128(high: h, low: try readBigEndian(UInt64.self)))
        case 0x98:
            let h = try readBigEndian(UInt64.self)
            return .uuid(AMQPUUID(high: h, low: try readBigEndian(UInt64.self)))
        case 0xa0, 0xb0: return .binary(Binary(try readSlice(try readLength(wide: code == 0xb0))))
        case 0xa1, 0xb1: return .string(try readStringBody(wide: code == 0xb1))
        case 0xa3, 0xb3: return .symbol(Symbol(try readStringBody(wide: code == 0xb3)))
        case 0xc0, 0xd0: return .list(try readListBody(wide: code == 0xd0))
        case 0xc1, 0xd1: return .map(try readMapBody(wide: code == 0xd1))
        case 0xe0, 0xf0: return .array(try readArrayBody(wide: code == 0xf0))
        default:
            throw error(.invalidConstructor(code), at: position - 1)
        }
    }

    @inlinable
    mutating func readChar() throws(AMQPDecodingError) -> Unicode.Scalar {
        let raw = try readBigEndian(UInt32.self)
        guard let s = Unicode.Scalar(raw) else {
            throw error(.invalidText("char 0x\(String(raw, radix: 16)) is not a Unicode scalar"), at: position - 4)
        }
        return s
    }

    @inlinable
    mutating func readStringBody(wide: Bool) throws(AMQPDecodingError) -> String {
        let start = position
        let slice = try readSlice(try readLength(wide: wide))
        guard let s = Self.makeString(slice) else {
            throw error(.invalidText("invalid UTF-8"), at: start)
        }
        return s
    }

    /// Validated UTF-8 to String. ASCII, by far the most common case on the wire, is checked a
    /// word at a time and skips the generic validator.
    @usableFromInline
    static func makeString(_ slice: ArraySlice<UInt8>) -> String? {
        slice.withUnsafeBytes { makeString($0) }
    }

    /// Validated UTF-8 to String, from bytes in memory.
    @usableFromInline
    static func makeString(_ raw: UnsafeRawBufferPointer) -> String? {
        let n = raw.count
        guard n > 0, let p = raw.baseAddress else { return "" }
        var high: UInt64 = 0
        if n >= 8 {
            var i = 0
            // Safe: every load reads 8 bytes at i with i + 8 <= n, and the last one at n - 8 >= 0.
            while i &+ 8 <= n {
                high |= p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                i &+= 8
            }
            if i < n { high |= p.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) }
        } else {
            // Safe: i < n.
            for i in 0 ..< n { high |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) }
        }
        // Safe: the bytes come from a [UInt8] or ArraySlice<UInt8> (the decoder's input), so the
        // memory is bound to UInt8; the buffer covers exactly the n bytes of `raw`.
        let buf = UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n)
        if high & 0x8080_8080_8080_8080 == 0 {
            return String(decoding: buf, as: UTF8.self)
        }
        return String(validating: buf, as: UTF8.self)
    }

    /// Reads a compound header (size and count) and checks both against the bytes that remain.
    /// - Returns: the count and the index just past the compound.
    @inlinable
    mutating func readCompoundHeader(wide: Bool, minElementSize: Int) throws(AMQPDecodingError) -> (count: Int, end: Int) {
        let start = position
        let size = try readLength(wide: wide)
        guard size <= bytes.endIndex - position else {
            throw error(.invalidSize("compound of \(size) bytes with \(remaining) left"), at: start)
        }
        let countWidth = wide ? 4 : 1
        guard size >= countWidth else { throw error(.invalidSize("compound size \(size) smaller than its count"), at: start) }
        let end = position + size
        let count = try readLength(wide: wide)
        if minElementSize > 0 {
            guard count <= (size - countWidth) / minElementSize else {
                throw error(.invalidSize("\(count) elements cannot fit in \(size - countWidth) bytes"), at: start)
            }
        }
        return (count, end)
    }

    @inlinable
    mutating func checkEnd(_ end: Int, _ what: String) throws(AMQPDecodingError) {
        guard position == end else {
            throw error(.invalidSize("\(what) contents end at offset \(position - bytes.startIndex), its size says \(end - bytes.startIndex)"))
        }
    }

    mutating func readListBody(wide: Bool) throws(AMQPDecodingError) -> [AMQPValue] {
        try enter()
        let (count, end) = try readCompoundHeader(wide: wide, minElementSize: 1)
        var elements: [AMQPValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try decodeValue()) }
        try checkEnd(end, "list")
        leave()
        return elements
    }

    mutating func readMapBody(wide: Bool) throws(AMQPDecodingError) -> AMQPMap {
        try enter()
        let start = position
        let (count, end) = try readCompoundHeader(wide: wide, minElementSize: 1)
        guard count % 2 == 0 else { throw error(.invalidSize("map with an odd count \(count)"), at: start) }
        var flattened: [AMQPValue] = []
        flattened.reserveCapacity(count)
        for _ in 0..<count { flattened.append(try decodeValue()) }
        try checkEnd(end, "map")
        leave()
        return AMQPMap(flattened: flattened)
    }

    /// The AMQP type of an array element constructor and the fixed width of each element's payload,
    /// or nil width for variable-width and compound elements.
    @usableFromInline
    static func elementShape(_ code: UInt8) -> (type: AMQPType, width: Int?)? {
        switch code {
        case 0x40: return (.null, 0)
        case 0x41, 0x42: return (.boolean, 0)
        case 0x56: return (.boolean, 1)
        case 0x43: return (.uint, 0)
        case 0x44: return (.ulong, 0)
        case 0x45: return (.list, 0)
        case 0x50: return (.ubyte, 1)
        case 0x51: return (.byte, 1)
        case 0x52: return (.uint, 1)
        case 0x53: return (.ulong, 1)
        case 0x54: return (.int, 1)
        case 0x55: return (.long, 1)
        case 0x60: return (.ushort, 2)
        case 0x61: return (.short, 2)
        case 0x70: return (.uint, 4)
        case 0x71: return (.int, 4)
        case 0x72: return (.float, 4)
        case 0x73: return (.char, 4)
        case 0x74: return (.decimal32, 4)
        case 0x80: return (.ulong, 8)
        case 0x81: return (.long, 8)
        case 0x82: return (.double, 8)
        case 0x83: return (.timestamp, 8)
        case 0x84: return (.decimal64, 8)
        case 0x94: return (.decimal128, 16)
        case 0x98: return (.uuid, 16)
        case 0xa0: return (.binary, nil)
        case 0xa1: return (.string, nil)
        case 0xa3: return (.symbol, nil)
        case 0xb0: return (.binary, nil)
        case 0xb1: return (.string, nil)
        case 0xb3: return (.symbol, nil)
        case 0xc0, 0xd0: return (.list, nil)
        case 0xc1, 0xd1: return (.map, nil)
        case 0xe0, 0xf0: return (.array, nil)
        default: return nil
        }
    }

    mutating func readArrayBody(wide: Bool) throws(AMQPDecodingError) -> AMQPArray {
        try enter()
        let start = position
        let (count, end) = try readCompoundHeader(wide: wide, minElementSize: 0)
        var descriptor: AMQPValue? = nil
        var code = try readByte()
        if code == 0x00 {
            try enter()
            let d = try decodeValue()
            if case .described = d { throw error(.invalidValue("a descriptor may not itself be described")) }
            descriptor = d
            leave()
            code = try readByte()
        }
        guard let shape = Self.elementShape(code) else { throw error(.invalidConstructor(code), at: position - 1) }
        // Bound the count by the bytes left in the array before allocating for it.
        let left = end - position
        if let w = shape.width, w > 0 {
            guard left >= 0, count <= left / w else { throw error(.invalidSize("\(count) elements of \(w) bytes in \(left) bytes"), at: start) }
        } else if shape.width == 0 {
            guard count <= limits.maxZeroWidthElements else {
                throw error(.tooManyElements(count: count, limit: limits.maxZeroWidthElements), at: start)
            }
        } else {
            let minimum = (code & 0xf0) == 0xa0 || code == 0xc0 || code == 0xc1 || code == 0xe0 ? 1 : 4
            guard left >= 0, count <= left / minimum else { throw error(.invalidSize("\(count) elements in \(left) bytes"), at: start) }
        }
        var elements: [AMQPValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try readArrayElement(code)) }
        try checkEnd(end, "array")
        leave()
        return AMQPArray(unchecked: shape.type, descriptor: descriptor, elements: elements)
    }

    /// Reads one array element's payload: the value encoded under `code`, with no constructor of its own.
    @usableFromInline
    mutating func readArrayElement(_ code: UInt8) throws(AMQPDecodingError) -> AMQPValue {
        switch code {
        case 0x56:
            let b = try readByte()
            guard b <= 1 else { throw error(.invalidValue("boolean byte 0x\(String(b, radix: 16))"), at: position - 1) }
            return .bool(b == 1)
        case 0x00: throw error(.invalidConstructor(code))
        default:
            // Every other constructor reads its payload the same way as a standalone value.
            return try decodeValue(constructor: code)
        }
    }

    /// Skips the next value without building it.
    public mutating func skipValue() throws(AMQPDecodingError) {
        let code = try readByte()
        guard code == 0x00 || Self.elementShape(code) != nil else { throw error(.invalidConstructor(code), at: position - 1) }
        switch code {
        case 0x00:
            try enter()
            try skipValue(); try skipValue()
            leave()
        case 0x40...0x45: break
        case 0x50...0x5f: try need(1); position += 1
        case 0x60...0x6f: try need(2); position += 2
        case 0x70...0x7f: try need(4); position += 4
        case 0x80...0x8f: try need(8); position += 8
        case 0x90...0x9f: try need(16); position += 16
        case 0xa0...0xaf: let n = try readLength(wide: false); try need(n); position += n
        case 0xb0...0xbf: let n = try readLength(wide: true); try need(n); position += n
        case 0xc0...0xcf, 0xe0...0xef: let n = try readLength(wide: false); try need(n); position += n
        case 0xd0...0xdf, 0xf0...0xff: let n = try readLength(wide: true); try need(n); position += n
        default: throw error(.invalidConstructor(code), at: position - 1)
        }
    }

    // MARK: views

    /// Reads a `binary` as a view into the input, without copying. Returns nil for `null`.
    public mutating func readBinaryView() throws(AMQPDecodingError) -> ArraySlice<UInt8>? {
        let code = try readByte()
        switch code {
        case 0x40: return nil
        case 0xa0, 0xb0: return try readSlice(try readLength(wide: code == 0xb0))
        default: throw error(.unexpectedType(expected: "binary", found: Code.name(code)), at: position - 1)
        }
    }

    /// Reads a `string` or `symbol` as a view of its UTF-8 bytes, validated but not copied.
    /// Returns nil for `null`.
    public mutating func readStringBytes() throws(AMQPDecodingError) -> ArraySlice<UInt8>? {
        let code = try readByte()
        switch code {
        case 0x40: return nil
        case 0xa1, 0xb1, 0xa3, 0xb3:
            let start = position
            let s = try readSlice(try readLength(wide: code & 0xf0 == 0xb0))
            var it = s.makeIterator()
            var utf8 = Unicode.UTF8.ForwardParser()
            while true {
                switch utf8.parseScalar(from: &it) {
                case .valid: continue
                case .emptyInput: return s
                case .error: throw error(.invalidText("invalid UTF-8"), at: start)
                }
            }
        default: throw error(.unexpectedType(expected: "string", found: Code.name(code)), at: position - 1)
        }
    }
}

extension AMQPValue {
    /// Decodes one value from the start of `bytes`.
    /// - Throws: ``AMQPDecodingError`` if the bytes are malformed or hold more than one value.
    public init(decoding bytes: [UInt8], limits: AMQPDecodingLimits = .default) throws(AMQPDecodingError) {
        var d = AMQPDecoder(bytes, limits: limits)
        self = try d.decodeValue()
        guard d.isAtEnd else { throw d.error(.invalidSize("\(d.remaining) bytes after the value")) }
    }
}
