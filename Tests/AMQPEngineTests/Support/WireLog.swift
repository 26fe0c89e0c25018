@testable import AMQPEngine

/// The bytes of one connection, both ways, in the order they were moved, decoded into frame lines
/// only when asked (``lines``).
///
/// The interop harness records the wire instead of installing the driver's `trace` closure: with a
/// trace installed the driver leaves its inbound transfer fast path (``TransferCodec``) unused, and
/// the tests must run the decoder that production runs. The lines have the driver's trace format
/// (`-> [0] flow(...)`, `<- SASL sasl-outcome(...)`, `-> amqp header`, `<- [0] (empty frame)`),
/// where `->` is what our driver wrote and `<-` what it was given to read.
struct WireLog {
    private var chunks: [(outgoing: Bool, bytes: [UInt8])] = []

    mutating func record(outgoing: Bool, _ bytes: some Collection<UInt8>) {
        if !bytes.isEmpty { chunks.append((outgoing, Array(bytes))) }
    }

    var byteCount: (outgoing: Int, incoming: Int) {
        chunks.reduce(into: (0, 0)) { if $1.outgoing { $0.0 += $1.bytes.count } else { $0.1 += $1.bytes.count } }
    }

    /// Every frame and header in the order its last byte moved; a direction's unfinished tail and
    /// anything that does not parse are reported as such.
    var lines: [String] {
        var out = Direction(arrow: "->"), incoming = Direction(arrow: "<-")
        var lines: [String] = []
        for chunk in chunks {
            if chunk.outgoing { out.take(chunk.bytes, into: &lines) } else { incoming.take(chunk.bytes, into: &lines) }
        }
        out.finish(into: &lines)
        incoming.finish(into: &lines)
        return lines
    }

    /// One direction's framing: headers (`AMQP` and four bytes) and frames (a 4-byte size first).
    private struct Direction {
        let arrow: String
        var buffer: [UInt8] = []
        var broken = false

        mutating func take(_ bytes: [UInt8], into lines: inout [String]) {
            guard !broken else { return }
            buffer += bytes
            var at = 0
            while buffer.count - at >= 8 {
                if buffer[at..<(at + 4)].elementsEqual("AMQP".utf8) {
                    let header = buffer[at..<(at + 8)]
                    lines.append("\(arrow) \(ProtocolHeader(header).map { "\($0)" } ?? "unknown (\(Array(header)))") header")
                    at += 8
                    continue
                }
                let size = Int(buffer[at]) << 24 | Int(buffer[at + 1]) << 16 | Int(buffer[at + 2]) << 8 | Int(buffer[at + 3])
                guard size >= 8 else {
                    lines.append("\(arrow) (a frame size of \(size): the rest, \(buffer.count - at) bytes and more, is not framed)")
                    broken = true
                    buffer = []
                    return
                }
                guard buffer.count - at >= size else { break }
                lines.append("\(arrow) \(Self.describe(buffer[at..<(at + size)]))")
                at += size
            }
            buffer.removeFirst(at)
        }

        func finish(into lines: inout [String]) {
            if !broken && !buffer.isEmpty { lines.append("\(arrow) (\(buffer.count) bytes of an unfinished frame)") }
        }

        static func describe(_ bytes: ArraySlice<UInt8>) -> String {
            do {
                let frame = try Frame.parse(bytes, limits: .default)
                guard let p = frame.performative else { return "[\(frame.channel)] (empty frame)" }
                return frame.kind == .sasl ? "SASL \(p)" : "[\(frame.channel)] \(p)"
            } catch {
                return "(a frame of \(bytes.count) bytes that does not parse: \(error))"
            }
        }
    }
}
