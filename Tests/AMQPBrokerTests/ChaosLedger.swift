import AMQPSystem

/// What the chaos test's clients saw, written from every client thread and read back from the
/// Proton processes' output: each id a producer sent and saw accepted, each id a producer sent again
/// after a drop (it may have reached the broker before), each delivery a consumer got, with the
/// consumer incarnation (one connection of one consumer) it went to, and the incarnations that were
/// killed or cut.
final class ChaosLedger: Sendable {
    struct Delivery: Sendable {
        let id: String
        let deliveryCount: UInt32
        let incarnation: String
    }

    private struct State {
        var sent = 0
        var accepted = Set<String>()
        var resent = Set<String>()
        var deliveries: [Delivery] = []
        var killed = Set<String>()
    }
    private let state = LockedValue(State())

    func sent(_ n: Int = 1) { state.withLock { $0.sent += n } }
    func accepted(_ id: String) { _ = state.withLock { $0.accepted.insert(id) } }
    func resent(_ id: String) { _ = state.withLock { $0.resent.insert(id) } }
    func delivered(_ d: Delivery) { state.withLock { $0.deliveries.append(d) } }
    func killed(_ incarnation: String) { _ = state.withLock { $0.killed.insert(incarnation) } }

    /// The counts the test prints, and each broken promise it fails on.
    struct Report: CustomStringConvertible {
        var sent = 0, accepted = 0, delivered = 0, redelivered = 0, duplicates = 0, duplicatesAfterResend = 0, lost = 0
        var killedIncarnations = 0
        var problems: [String] = []

        var description: String {
            "sent \(sent), accepted \(accepted), delivered \(delivered), redelivered \(redelivered) (delivery-count > 0), "
                + "duplicates \(duplicates) (\(duplicatesAfterResend) of them sent twice by a producer after a cut), lost \(lost); "
                + "consumer incarnations killed or cut: \(killedIncarnations)"
        }
    }

    /// Checks the promise: every id a producer saw accepted was delivered; an id delivered more
    /// than once went, all but once, to incarnations that were killed or cut (unsettled at a kill),
    /// and its redeliveries say so (one delivery at most with delivery-count 0), unless its
    /// producer sent it twice.
    func report() -> Report {
        state.withLock { s in
            var r = Report()
            r.sent = s.sent
            r.accepted = s.accepted.count
            r.delivered = s.deliveries.count
            r.redelivered = s.deliveries.filter { $0.deliveryCount > 0 }.count
            r.killedIncarnations = s.killed.count
            var byID: [String: [Delivery]] = [:]
            for d in s.deliveries { byID[d.id, default: []].append(d) }
            r.duplicates = s.deliveries.count - byID.count
            let missing = s.accepted.filter { byID[$0] == nil }
            r.lost = missing.count
            if !missing.isEmpty { r.problems.append("lost: \(missing.sorted().prefix(20))") }
            for (id, ds) in byID where ds.count > 1 {
                if s.resent.contains(id) { r.duplicatesAfterResend += ds.count - 1; continue }
                let clean = ds.filter { !s.killed.contains($0.incarnation) }
                if clean.count > 1 {
                    r.problems.append("\(id) went to \(clean.count) consumers that were never killed: \(clean.map(\.incarnation))")
                }
                if ds.filter({ $0.deliveryCount == 0 }).count > 1 {
                    r.problems.append("\(id) was redelivered without being marked: \(ds.map { "\($0.incarnation)#\($0.deliveryCount)" })")
                }
            }
            return r
        }
    }
}
