import Foundation
import XCTest

/// A test that cannot run because something it needs is missing (a Proton peer, the `openssl`
/// command, io_uring): on a user's machine it skips with one line; where the environment says the
/// thing is required (CI sets `AMQP_REQUIRE_PROTON=1` and `AMQP_REQUIRE_URING=1`, and installs
/// what they cover) the same line fails the test instead, so CI never passes by skipping.
public enum Prerequisite {
    /// The error to throw for a missing prerequisite: a failure when any of `requiredBy` is "1"
    /// in the environment, otherwise a skip.
    public static func missing(_ why: String, requiredBy variables: [String] = ["AMQP_REQUIRE_PROTON"]) -> any Error {
        let environment = ProcessInfo.processInfo.environment
        if let variable = variables.first(where: { environment[$0] == "1" }) {
            return Missing(description: "\(why) (\(variable)=1, so this fails instead of skipping)")
        }
        return XCTSkip(why)
    }

    /// io_uring is unusable here: a failure under `AMQP_REQUIRE_URING=1`, else a skip.
    public static func ioURingMissing() -> any Error {
        missing("io_uring is unusable here", requiredBy: ["AMQP_REQUIRE_URING"])
    }

    /// A missing prerequisite where it is required.
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }
}
