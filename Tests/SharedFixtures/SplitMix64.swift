import Foundation

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator, so a randomised test
/// replays exactly. Tests take their seed from ``SplitMix64/testSeed`` and name it in every
/// failure message. Shared by every test target (the codec's tests
/// use it under the name `SeededGenerator`).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator that starts from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed when `AMQP_TEST_SEED` is not set.
    public static let defaultSeed: UInt64 = 0x5EED_2026_0A3C_0001

    /// The seed in force: `AMQP_TEST_SEED` (decimal, or hex with `0x`) when set, else a fixed default,
    /// so every run is the same run unless asked otherwise.
    public static let testSeed: UInt64 = {
        guard let text = ProcessInfo.processInfo.environment["AMQP_TEST_SEED"], !text.isEmpty else { return defaultSeed }
        let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        guard let parsed else { preconditionFailure("AMQP_TEST_SEED=\(text) is not a decimal or 0x-hex UInt64") }
        return parsed
    }()

    /// What to put in a failure message: the seed and how to replay it.
    public static var replay: String { "seed \(testSeed) (replay: AMQP_TEST_SEED=\(testSeed))" }
}
