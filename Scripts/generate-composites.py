#!/usr/bin/env python3
"""Generates Sources/AMQPCodec/Generated/Composites.swift from the AMQP 1.0 spec XML.

Usage: python3 Scripts/generate-composites.py [SPEC_DIR]   (default ../shared/amqp-spec)

The output is committed; rerun this after changing the mapping below. AMQPCodecTests checks the
generated field lists against the XML, so a stale file fails the tests.
"""
import os
import sys
import xml.etree.ElementTree as ET

SPEC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "amqp-spec")
OUT = os.path.join(os.path.dirname(__file__), "..", "Sources", "AMQPCodec", "Generated", "Composites.swift")
NS = "{http://www.amqp.org/schema/amqp.xsd}"

# Type names that would clash with Swift or read badly.
TYPE_NAMES = {"error": "AMQPError", "sasl-mechanisms": "SASLMechanisms", "sasl-init": "SASLInit",
              "sasl-challenge": "SASLChallenge", "sasl-response": "SASLResponse", "sasl-outcome": "SASLOutcome"}

# AMQP field type -> Swift type, for restricted and primitive types.
FIELD_TYPES = {
    "string": "String", "symbol": "Symbol", "boolean": "Bool", "ubyte": "UInt8", "ushort": "UInt16",
    "uint": "UInt32", "ulong": "UInt64", "binary": "Binary", "timestamp": "Timestamp",
    "handle": "UInt32", "seconds": "UInt32", "milliseconds": "UInt32", "sequence-no": "UInt32",
    "transfer-number": "UInt32", "delivery-number": "UInt32", "message-format": "UInt32",
    "delivery-tag": "Binary", "ietf-language-tag": "Symbol",
    "map": "AMQPMap", "fields": "AMQPMap", "filter-set": "AMQPMap", "node-properties": "AMQPMap", "annotations": "AMQPMap",
    "error": "AMQPError", "role": "Role", "sender-settle-mode": "SenderSettleMode",
    "receiver-settle-mode": "ReceiverSettleMode", "terminus-durability": "TerminusDurability",
    "terminus-expiry-policy": "TerminusExpiryPolicy", "sasl-code": "SASLCode",
}
# Fields of type "*": the Swift type follows what the field requires.
REQUIRES = {"delivery-state": "DeliveryState", "outcome": "DeliveryState", "source": "Source",
            "target": "LinkTarget", "message-id": "MessageID", "address": "String", "txn-id": "Binary"}

# Defaults as Swift literals for restricted enums.
ENUM_DEFAULTS = {
    ("sender-settle-mode", "mixed"): ".mixed", ("receiver-settle-mode", "first"): ".first",
    ("terminus-durability", "none"): ".none", ("terminus-expiry-policy", "session-end"): ".sessionEnd",
}

# Restricted types generated as Swift enums: AMQP name -> (Swift name, raw Swift type).
ENUMS = {"role": ("Role", "Bool"), "sender-settle-mode": ("SenderSettleMode", "UInt8"),
         "receiver-settle-mode": ("ReceiverSettleMode", "UInt8"), "terminus-durability": ("TerminusDurability", "UInt32"),
         "terminus-expiry-policy": ("TerminusExpiryPolicy", "Symbol"), "sasl-code": ("SASLCode", "UInt8")}


# Where each section of the XML sits in the spec, and how many numbered subsections precede its
# first type there: a type's section is the prefix, then its index in the XML's section plus the offset.
SECTIONS = {"performatives": ("2.7", 0), "definitions": ("2.8", 0), "message-format": ("3.2", 0),
            "delivery-state": ("3.4", 0), "addressing": ("3.5", 2), "sasl": ("5.3.3", 0),
            "coordination": ("4.5", 0)}


def camel(name, upper=False):
    parts = name.split("-")
    out = []
    for i, p in enumerate(parts):
        if p == "id":
            out.append("ID")
        elif i == 0 and not upper:
            out.append(p)
        else:
            out.append(p[0].upper() + p[1:])
    s = "".join(out)
    return "`%s`" % s if s in ("default", "none", "first", "true", "false", "in", "repeat") and not upper else s


def article(name):
    return "an" if name[0] in "aeio" else "a"


def type_name(name):
    return TYPE_NAMES.get(name) or camel(name, upper=True)


def swift_field_type(f):
    t = f.get("type")
    if t == "*":
        return REQUIRES.get(f.get("requires"), "AMQPValue")
    st = FIELD_TYPES[t]
    if f.get("multiple") == "true":
        return "[%s]" % st
    return st


def default_literal(f, st):
    d = f.get("default")
    if d is None:
        return None
    t = f.get("type")
    if (t, d) in ENUM_DEFAULTS:
        return ENUM_DEFAULTS[(t, d)]
    if st == "Bool":
        return d
    return d  # numbers


SECTION_OF = {}


def load():
    composites, restricted = [], []
    for fn in ["types.xml", "transport.xml", "messaging.xml", "security.xml", "transactions.xml"]:
        root = ET.parse(os.path.join(SPEC, fn)).getroot()
        for section in root.iter(NS + "section"):
            prefix, offset = SECTIONS.get(section.get("name"), (None, 0))
            for i, t in enumerate(section.iter(NS + "type")):
                if prefix:
                    SECTION_OF[t.get("name")] = "%s.%d" % (prefix, i + 1 + offset)
        for t in root.iter(NS + "type"):
            if t.get("class") == "composite":
                composites.append(t)
            elif t.get("class") == "restricted":
                restricted.append(t)
    return composites, restricted


def spec_ref(name):
    """ "AMQP 1.0 §2.7.1", or "AMQP 1.0" for a type outside the mapped sections."""
    return "AMQP 1.0 §%s" % SECTION_OF[name] if name in SECTION_OF else "AMQP 1.0"


def emit():
    composites, restricted = load()
    o = []
    w = o.append
    w("// Generated by Scripts/generate-composites.py from the AMQP 1.0 spec XML. Do not edit.")
    w("// swiftlint:disable all")
    w("")
    # Restricted enums.
    for t in restricted:
        n = t.get("name")
        if n not in ENUMS:
            continue
        sname, raw = ENUMS[n]
        w("/// The AMQP restricted type `%s`, a `%s` on the wire (%s)." % (n, t.get("source"), spec_ref(n)))
        w("///")
        w("/// Threading: a plain value type, `Sendable`.")
        w("public enum %s: %s, AMQPRestrictedField, Sendable, Hashable, CaseIterable {" % (sname, "UInt8" if raw == "UInt8" else raw if raw != "Symbol" and raw != "Bool" else "RawRepresentable"))
        for c in t.iter(NS + "choice"):
            v = c.get("value")
            w("    /// `%s`: %s on the wire." % (c.get("name"), '`"%s"`' % v if raw == "Symbol" else "`%s`" % v))
            w("    case %s" % camel(c.get("name")))
        if raw in ("Symbol", "Bool"):
            w("")
            w("    /// The choice `rawValue` stands for; nil when it is none of them.")
            w("    public init?(rawValue: %s) {" % raw)
            w("        switch rawValue {")
            for c in t.iter(NS + "choice"):
                v = c.get("value")
                lit = '"%s"' % v if raw == "Symbol" else v
                w("        case %s: self = .%s" % (lit, camel(c.get("name"))))
            if raw == "Symbol":
                w("        default: return nil")
            w("        }")
            w("    }")
            w("")
            w("    /// The value this choice has on the wire.")
            w("    public var rawValue: %s {" % raw)
            w("        switch self {")
            for c in t.iter(NS + "choice"):
                v = c.get("value")
                lit = '"%s"' % v if raw == "Symbol" else v
                w("        case .%s: return %s" % (camel(c.get("name")), lit))
            w("        }")
            w("    }")
        w("}")
        w("")
    # Fix raw-value enums: rewrite header for numeric enums.
    # Error conditions and other symbolic choices as constants.
    w("/// The error conditions the spec defines (AMQP 1.0 §2.8.15 to §2.8.18, §4.5.8), for")
    w("/// ``AMQPError/condition``.")
    w("///")
    w("/// Threading: constants only, `Sendable`.")
    w("public enum ErrorCondition {")
    for t in restricted:
        if t.get("provides") == "error-condition":
            w("    // %s" % t.get("name"))
            for c in t.iter(NS + "choice"):
                name = camel(c.get("name"))
                if t.get("name") == "link-error" and c.get("name") == "redirect":
                    name = "linkRedirect"
                if t.get("name") == "connection-error" and c.get("name") == "redirect":
                    name = "connectionRedirect"
                w("    /// `%s` (%s, %s)." % (c.get("value"), t.get("name"), spec_ref(t.get("name"))))
                w('    public static let %s: Symbol = "%s"' % (name, c.get("value")))
    w("}")
    w("")
    w("/// Symbolic choices of other restricted types (distribution modes, transaction capabilities).")
    w("///")
    w("/// Threading: constants only, `Sendable`.")
    w("public enum StandardSymbols {")
    for t in restricted:
        if t.get("name") in ("std-dist-mode", "txn-capability"):
            for c in t.iter(NS + "choice"):
                w("    /// `%s` (%s, %s)." % (c.get("value"), t.get("name"), spec_ref(t.get("name"))))
                w('    public static let %s: Symbol = "%s"' % (camel(c.get("name")), c.get("value")))
    w("}")
    w("")
    # Composites.
    table = []
    for t in composites:
        n = t.get("name")
        sname = type_name(n)
        d = t.find(NS + "descriptor")
        code = int(d.get("code").split(":")[1], 16)
        table.append((d.get("name"), code, sname))
        fields = list(t.iter(NS + "field"))
        w("/// The AMQP composite `%s`, descriptor `%s` (0x%08x, %s)." % (n, d.get("name"), code, spec_ref(n)))
        w("///")
        w("/// Threading: a plain value type, `Sendable`.")
        w("public struct %s: AMQPComposite, CompositeFields {" % sname)
        w("    /// `0x%08x`, the numeric descriptor." % code)
        w("    public static let descriptorCode: UInt64 = 0x%08x" % code)
        w("    /// `%s`, the symbolic descriptor." % d.get("name"))
        w('    public static let descriptorName: Symbol = "%s"' % d.get("name"))
        w("    /// The spec's field names, in order.")
        w("    public static let fieldNames: [String] = [%s]" % ", ".join('"%s"' % f.get("name") for f in fields))
        w("")
        params = []
        for f in fields:
            st = swift_field_type(f)
            fn = camel(f.get("name"))
            dl = default_literal(f, st)
            mand = f.get("mandatory") == "true"
            doc = "    /// `%s`: %s%s%s." % (f.get("name"), f.get("type") if f.get("type") != "*" else "* requires " + f.get("requires", "?"),
                                            ", mandatory" if mand else "", ", default %s" % f.get("default") if f.get("default") else "")
            w(doc)
            if mand or dl is not None:
                w("    public var %s: %s" % (fn, st))
                params.append("%s: %s%s" % (fn, st, " = %s" % dl if dl is not None else ""))
            else:
                w("    public var %s: %s?" % (fn, st))
                params.append("%s: %s? = nil" % (fn, st))
        w("")
        if fields:
            w("    /// Creates %s `%s` from its fields; those left out take the spec's default or are absent." % (article(n), n))
        else:
            w("    /// Creates %s `%s`, which has no fields." % (article(n), n))
        w("    public init(%s) {" % ", ".join(params))
        for f in fields:
            fn = camel(f.get("name"))
            w("        self.%s = %s" % (fn, fn))
        w("    }")
        w("")
        w("    /// Decodes one `%s` from `bytes`: the descriptor, then the field list." % n)
        w("    /// - Throws: ``AMQPDecodingError`` when the bytes are not a well-formed `%s`." % n)
        w("    public init(decoding bytes: [UInt8]) throws(AMQPDecodingError) {")
        w("        self = try Self.decodeComposite(bytes)")
        w("    }")
        w("")
        w("    /// Decodes the field list, the descriptor having been read already.")
        w("    package init(fieldsFrom d: inout AMQPDecoder) throws(AMQPDecodingError) {")
        w('        var list = try AMQPListReader(&d, type: "%s")' % n)
        for f in fields:
            st = swift_field_type(f)
            fn = camel(f.get("name"))
            dl = default_literal(f, st)
            if f.get("mandatory") == "true":
                w('        self.%s = try list.required(&d, "%s", %s.self)' % (fn, f.get("name"), st))
            elif dl is not None:
                w("        self.%s = try list.next(&d, %s.self) ?? %s" % (fn, st, dl))
            else:
                w("        self.%s = try list.next(&d, %s.self)" % (fn, st))
        w("        try list.finish(&d)")
        w("    }")
        w("")
        for kind in ("encode", "size"):
            if kind == "encode":
                w("    /// Appends the described list: descriptor, then the fields, trailing nulls left out (AMQP 1.0 §1.4).")
                w("    public func encode(into b: inout [UInt8]) {")
                w("        %s list = AMQPListWriter(descriptor: Self.descriptorCode, &b)" % ("var" if fields else "let"))
            else:
                w("    /// The number of bytes ``encode(into:)`` appends.")
                w("    public var encodedSize: Int {")
                w("        %s list = AMQPListSizer()" % ("var" if fields else "let"))
            for f in fields:
                st = swift_field_type(f)
                fn = camel(f.get("name"))
                dl = default_literal(f, st)
                tail = ", &b)" if kind == "encode" else ")"
                if dl is not None and f.get("mandatory") != "true":
                    w("        list.field(%s, default: %s%s" % (fn, dl, tail))
                else:
                    w("        list.field(%s%s" % (fn, tail))
            if kind == "encode":
                w("        list.finish(&b)")
            else:
                w("        return list.size(descriptor: Self.descriptorCode)")
            w("    }")
            w("")
        w("}")
        w("")
    w("/// Every composite descriptor of the spec, by symbolic name and code.")
    w("package enum DescriptorTable {")
    w("    /// (name, code, Swift type name) for each composite.")
    w("    package static let composites: [(name: Symbol, code: UInt64, type: String)] = [")
    for name, code, sname in table:
        w('        ("%s", 0x%08x, "%s"),' % (name, code, sname))
    w("    ]")
    w("")
    w("    /// The code for a symbolic descriptor, including the sections and restricted types with descriptors.")
    w("    package static func code(for name: Symbol) -> UInt64? {")
    w("        switch name.rawValue {")
    # Described restricted types (sections) too.
    _, restricted = load()
    for t in restricted:
        d = t.find(NS + "descriptor")
        if d is not None:
            table.append((d.get("name"), int(d.get("code").split(":")[1], 16), None))
    for name, code, _ in table:
        w('        case "%s": return 0x%08x' % (name, code))
    w("        default: return nil")
    w("        }")
    w("    }")
    w("")
    w("    /// A readable name for a descriptor code.")
    w("    package static func name(_ code: UInt64) -> String {")
    w("        switch code {")
    for name, code, _ in table:
        w('        case 0x%08x: return "%s"' % (code, name))
    w('        default: return "0x" + String(code, radix: 16)')
    w("        }")
    w("    }")
    w("}")
    return "\n".join(o) + "\n"


src = emit()
# Numeric-raw enums get their raw type directly; Symbol/Bool ones implement RawRepresentable by hand.
for amqp, (sname, raw) in ENUMS.items():
    if raw not in ("Symbol", "Bool"):
        src = src.replace("public enum %s: UInt8, AMQPRestrictedField" % sname, "public enum %s: %s, AMQPRestrictedField" % (sname, raw))
        src = src.replace("public enum %s: %s, AMQPRestrictedField" % (sname, raw), "public enum %s: %s, AMQPRestrictedField" % (sname, raw))
os.makedirs(os.path.dirname(OUT), exist_ok=True)
open(OUT, "w").write(src)
print("wrote", OUT)
