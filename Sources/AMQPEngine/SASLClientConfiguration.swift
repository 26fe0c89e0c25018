import AMQPCodec

/// How a client driver authenticates. Without one, a client speaks plain AMQP with no SASL layer.
///
/// Threading: a value; `Sendable`.
public struct SASLClientConfiguration: Sendable {
    /// Mechanisms we can use. Of those the server offers, the strongest is chosen
    /// (``SASLClientMechanism/strength(of:)``: SCRAM-SHA-512 > SCRAM-SHA-256 > PLAIN, EXTERNAL >
    /// ANONYMOUS); between equally strong ones, the one listed first here.
    public var mechanisms: [SASLClientMechanism]

    /// A client configuration with `mechanisms` (§5.3.3.2): the strongest that the server offers is
    /// chosen, and between equally strong ones the first listed.
    public init(mechanisms: [SASLClientMechanism]) { self.mechanisms = mechanisms }

    /// The mechanism chosen from those the server offers (§5.3.3.1): the strongest of ours that it
    /// offers, the first listed between equals; nil when it offers none of ours.
    public func choose(offered: [Symbol]) -> SASLClientMechanism? {
        var best: SASLClientMechanism?
        for m in mechanisms where offered.contains(m.name) && m.strength > (best?.strength ?? Int.min) { best = m }
        return best
    }

    /// ANONYMOUS only: what most brokers accept by default.
    public static let anonymous = SASLClientConfiguration(mechanisms: [.anonymous()])

    /// PLAIN with these credentials.
    public static func plain(username: String, password: String) -> SASLClientConfiguration {
        SASLClientConfiguration(mechanisms: [.plain(username: username, password: password)])
    }
}
