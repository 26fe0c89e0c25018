@testable import AMQPEngine

/// The frames in `bytes`, one after another, as a peer would read them.
func frameList(_ bytes: [UInt8]) throws -> [Frame] {
    var frames: [Frame] = []
    var at = 0
    while at + 4 <= bytes.count {
        let size = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        frames.append(try Frame.parse(bytes[at..<(at + size)]))
        at += size
    }
    return frames
}
