/// The grammar of SCRAM's messages (RFC 5802 §7): comma-separated attributes `a=value`, each named
/// by one ASCII letter, and the escaping of names (`=2C`, `=3D`).
enum SCRAMMessage {
    /// One attribute: its letter and its value.
    struct Attribute {
        let name: Character
        let value: Substring
    }

    /// The message's text, when `bytes` are UTF-8 without NUL (RFC 5802 §7: `value-char` excludes it).
    static func text(_ bytes: [UInt8], _ what: String) throws(SCRAMError) -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw SCRAMError(.malformed, "the \(what) is not UTF-8")
        }
        guard !bytes.contains(0) else { throw SCRAMError(.malformed, "the \(what) holds a NUL") }
        return s
    }

    /// The attributes of `text`, in order: `a=value` separated by commas (RFC 5802 §7). Split by
    /// Unicode scalar, not by Character, so that a comma followed by a combining mark still separates.
    static func attributes(_ text: Substring, _ what: String) throws(SCRAMError) -> [Attribute] {
        var out: [Attribute] = []
        for part in text.unicodeScalars.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let first = part.first, first.isASCII, first.properties.isAlphabetic,
                  part[part.index(after: part.startIndex)] == "=" else {
                throw SCRAMError(.malformed, "the \(what) has a malformed attribute \"\(Substring(part).prefix(32))\"")
            }
            out.append(Attribute(name: Character(first), value: Substring(part.dropFirst(2))))
        }
        return out
    }

    /// `text` cut at the first `separator` scalar: what comes before, and what comes after (nil
    /// when there is none). By Unicode scalar, not by Character.
    static func cut(_ text: Substring, at separator: Unicode.Scalar) -> (Substring, Substring?) {
        let scalars = text.unicodeScalars
        guard let i = scalars.firstIndex(of: separator) else { return (text, nil) }
        return (Substring(scalars[..<i]), Substring(scalars[scalars.index(after: i)...]))
    }

    /// Whether `a` and `b` are the same bytes (String's == compares canonical equivalence, under
    /// which U+212A KELVIN SIGN equals "K").
    static func same<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }

    /// Checks that `attributes` start with the letters `expected`, in order; what follows is
    /// extensions (RFC 5802 §5.1), which may be ignored. An `m=` anywhere in the required place is
    /// a mandatory extension we do not know.
    static func require(_ attributes: [Attribute], _ expected: [Character], _ what: String) throws(SCRAMError) {
        if attributes.first?.name == "m" {
            throw SCRAMError(.extensionNotSupported, "the \(what) asks for a mandatory extension (m=), which is not supported")
        }
        guard attributes.count >= expected.count else {
            throw SCRAMError(.malformed, "the \(what) lacks attribute \(expected[attributes.count])=")
        }
        for (a, e) in zip(attributes, expected) where a.name != e {
            throw SCRAMError(.malformed, "the \(what) has \(a.name)= where \(e)= belongs")
        }
    }

    /// `name` with `=` and `,` escaped as `=3D` and `=2C` (RFC 5802 §5.1, `saslname`).
    static func escape(_ name: String) -> String {
        var out = ""
        out.reserveCapacity(name.utf8.count)
        for c in name.unicodeScalars {
            switch c {
            case "=": out += "=3D"
            case ",": out += "=2C"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `saslname` unescaped; nil when an `=` is not followed by `2C` or `3D`.
    static func unescape(_ name: Substring) -> String? {
        var out = String.UnicodeScalarView()
        var rest = name.unicodeScalars[...]
        while let c = rest.popFirst() {
            guard c == "=" else { out.append(c); continue }
            switch (rest.popFirst(), rest.popFirst()) {
            case ("2", "C"): out.append(",")
            case ("3", "D"): out.append("=")
            default: return nil
            }
        }
        return String(out)
    }

    /// Whether `nonce` is a valid nonce: printable ASCII but the comma, at least one character
    /// (RFC 5802 §7, `printable`).
    static func isValidNonce(_ nonce: Substring) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }
    }

    /// A positive decimal iteration count without sign or leading zero (RFC 5802 §7), or nil.
    static func iterationCount(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 9, text.first != "0", text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int(text)
    }

    /// A fresh nonce: 24 random bytes in base64 (32 printable characters, no comma).
    static func makeNonce() throws(SCRAMError) -> String {
        Base64.encode(try randomBytes(24))
    }
}
