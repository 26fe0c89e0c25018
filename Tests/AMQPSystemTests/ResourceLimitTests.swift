import AMQPSystem
import XCTest

/// The real process limits; each test puts back what it changes.
final class ResourceLimitTests: XCTestCase {
    func testOpenFilesSoftIsAtMostHard() throws {
        let (soft, hard) = try ResourceLimit.openFiles()
        XCTAssertGreaterThan(soft, 0)
        XCTAssertLessThanOrEqual(soft, hard)
        XCTAssertEqual(ResourceLimit.unlimited, UInt64.max)
    }

    func testSetOpenFilesLowersAndRestoresSoft() throws {
        let (soft, hard) = try ResourceLimit.openFiles()
        try XCTSkipIf(soft < 64 || soft == ResourceLimit.unlimited, "soft limit \(soft)")
        defer { XCTAssertNoThrow(try ResourceLimit.setOpenFiles(soft: soft, hard: hard)) }
        try ResourceLimit.setOpenFiles(soft: soft - 1, hard: hard)
        XCTAssertTrue(try ResourceLimit.openFiles() == (soft - 1, hard))
        try ResourceLimit.setOpenFiles(soft: soft, hard: hard)
        XCTAssertTrue(try ResourceLimit.openFiles() == (soft, hard))
    }

    func testSoftAboveHardIsInvalid() throws {
        let (soft, hard) = try ResourceLimit.openFiles()
        try XCTSkipIf(hard == ResourceLimit.unlimited, "no hard limit")
        XCTAssertThrowsError(try ResourceLimit.setOpenFiles(soft: hard + 1, hard: hard)) {
            XCTAssertEqual($0 as? Errno, .invalidArgument)
        }
        XCTAssertTrue(try ResourceLimit.openFiles() == (soft, hard))
    }

    func testPastTheSoftLimitDescriptorsRunOut() throws {
        let (soft, hard) = try ResourceLimit.openFiles()
        try XCTSkipIf(soft < 256, "soft limit \(soft)")
        try ResourceLimit.setOpenFiles(soft: 256, hard: hard)
        var opened: [EventDescriptor] = []
        defer {
            for event in opened { try? event.close() }
            XCTAssertNoThrow(try ResourceLimit.setOpenFiles(soft: soft, hard: hard))
        }
        var failure: Errno?
        while failure == nil && opened.count < 300 {
            do {
                opened.append(try EventDescriptor.create())
            } catch {
                failure = error
            }
        }
        XCTAssertEqual(failure, .tooManyOpenFiles)
        XCTAssertLessThan(opened.count, 256)
        XCTAssertEqual(opened.map(\.descriptor.rawValue).max(), 255, "descriptors 0...255 are all open")
    }
}
