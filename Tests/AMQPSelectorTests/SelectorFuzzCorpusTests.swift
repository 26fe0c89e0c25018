import AMQPCodec
import AMQPSelector
import Foundation
import XCTest

/// Replays Fuzz/FuzzSelector/corpus with the fuzz target's checks, so a regression on a seed fails
/// `swift test` without the sanitizer build.
final class SelectorFuzzCorpusTests: XCTestCase {
    func testSeedCorpus() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/FuzzSelector/corpus").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()
        XCTAssertGreaterThanOrEqual(files.count, 20)
        var compiled = 0
        for file in files {
            let bytes = try Data(contentsOf: corpus.appendingPathComponent(file))
            let text = String(decoding: bytes, as: UTF8.self)
            guard let selector = try? Selector(text) else { continue }
            compiled += 1
            let negated = try? Selector("NOT ( " + text + " )")
            for message in [Fixtures.full, Fixtures.empty] {
                let result = selector.evaluate(message)
                XCTAssertEqual(selector.matches(message), result == true, file)
                if let negated, !text.allSatisfy(\.isWhitespace) {
                    XCTAssertEqual(negated.evaluate(message), result.map { !$0 }, file)
                }
            }
        }
        XCTAssertGreaterThanOrEqual(compiled, 20)
    }
}
