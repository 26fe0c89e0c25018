import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

/// The interop harness's one piece of shared state: a reader thread fills a ``ByteInbox`` while
/// the test thread takes from it. Run under `swift test --sanitize=thread` (Scripts/test.sh does),
/// this catches any access to the inbox outside its lock.
final class ByteInboxTests: XCTestCase {
    func testConcurrentDrainAndTakeLoseNothing() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let (readFD, writeFD) = (fds[0], fds[1])
        let inbox = ByteInbox()
        let drained = expectation(description: "reader thread done")
        Thread {
            inbox.drain(readFD)
            drained.fulfill()
        }.start()

        let sent = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
        var received: [UInt8] = []
        var offset = 0
        while offset < sent.count {
            let n = min(4096, sent.count - offset)
            let written = sent[offset..<(offset + n)].withUnsafeBytes { write(writeFD, $0.baseAddress, n) }
            XCTAssertGreaterThan(written, 0)
            offset += max(0, written)
            received += inbox.take(waitingAtMost: .zero).bytes   // while the reader is filling it
        }
        close(writeFD)
        var eof = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !eof && ContinuousClock.now < deadline {
            let (bytes, end) = inbox.take(waitingAtMost: .milliseconds(50))
            received += bytes
            eof = end
        }
        wait(for: [drained], timeout: 10)
        close(readFD)
        XCTAssertTrue(eof)
        XCTAssertEqual(received.count, sent.count)
        XCTAssertTrue(received == sent, "bytes arrive whole and in order")
    }
}
