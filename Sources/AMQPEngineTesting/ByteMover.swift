import AMQPEngine

/// Moves what `from` has written into `to`, through `to`'s own read buffer as a host would, at
/// most `limit` bytes; returns how many moved. Bytes for a peer whose input is closed are
/// written and dropped, as a socket to a closed peer would.
@discardableResult
public func moveBytes(from: ConnectionDriver, to: ConnectionDriver, limit: Int = .max) -> Int {
    let out = from.pendingOutput
    guard !out.isEmpty else { return 0 }
    let total = min(out.count, limit)
    var moved = 0
    out.withUnsafeBytes { src in
        while moved < total && !to.isTailClosed {
            let buf = to.readBuffer()
            let n = min(buf.count, total - moved)
            buf.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[moved..<(moved + n)]))
            to.readDone(n)
            moved += n
        }
    }
    from.writeDone(total)
    return total
}
