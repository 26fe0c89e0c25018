import AMQPBroker
import AMQPCodec
import AMQPMessaging
import AMQPSystem
import Foundation
import SharedFixtures
import XCTest

/// Kill consumers, lose nothing: on each backend, producers and consumers on two queues of the
/// broker, ours (our container, through a proxy that cuts their sockets at random moments, so the
/// producers reconnect and send again what was not settled) and Qpid Proton Python's (processes
/// SIGKILLed at random moments and started again). At the end every id a producer saw accepted was
/// delivered, the only duplicates are messages unsettled at a kill (or sent twice by a producer
/// after a cut), and the broker's queues are empty. The counts are printed; lost must be 0.
///
/// Seeded (`AMQP_TEST_SEED`); `AMQP_CHAOS_SECONDS` sets how long the chaos lasts per backend
/// (default 12), the whole test staying within about a minute on both backends.
final class BrokerChaosTests: XCTestCase {
    private let queues = ["chaos-0", "chaos-1"]
    private var seconds: Int {
        ProcessInfo.processInfo.environment["AMQP_CHAOS_SECONDS"].flatMap { Int($0) } ?? 12
    }

    func testKillConsumersLoseNothing() throws {
        guard try ProtonPython.require(for: "the broker's chaos test") else { return }
        for (i, backend) in TestBackends.names.enumerated() {
            try chaos(backend, seed: SplitMix64.testSeed &+ UInt64(i))
        }
    }

    /// A Proton Python consumer process: one incarnation.
    private struct ProtonConsumer {
        let name: String
        let queue: String
        let peer: ProtonPeer
    }

    private func chaos(_ backend: String, seed: UInt64) throws {
        let started = ContinuousClock.now
        let label = "chaos \(backend), seed \(seed) (replay: AMQP_TEST_SEED=\(seed))"
        var random = SplitMix64(seed: seed)
        let broker = try RunningBroker(backend: backend, queueLimit: 500, creditWindow: 50)
        defer { broker.stop() }
        let proxy = try ChaosProxy(to: broker.port)
        defer { proxy.stop() }
        let clients = try RunningContainer(id: "chaos-clients", backend: backend, threads: 2)
        defer { clients.stop() }
        let ledger = ChaosLedger()
        let stopAt = ContinuousClock.now + .seconds(seconds)
        let proxied = "amqp://127.0.0.1:\(proxy.port)"

        var options = ConnectionOptions()
        var reconnect = ReconnectOptions()
        reconnect.delay = .milliseconds(10)
        reconnect.maxDelay = .milliseconds(100)
        options.reconnect = reconnect
        var producers: [LockedValue<Bool>] = []
        var ourConsumers: [WorkQueue] = []
        for (q, queue) in queues.enumerated() {
            let producer = ChaosProducer(address: queue, prefix: "ours\(q)", ledger: ledger, stopAt: stopAt)
            producers.append(producer.done)
            try clients.container.connect(proxied, options: options, handler: producer)
            ourConsumers.append(try clients.container.connect(proxied, options: options,
                                                              handler: ChaosConsumer(name: "ours-\(queue)", address: queue, ledger: ledger)))
        }
        let protonProducers = try queues.enumerated().map { q, queue in
            try ProtonPeer(["produce", broker.url, queue, "proton\(q)", "\(seconds)"])
        }
        var incarnations = 0
        func protonConsumer(_ queue: String) throws -> ProtonConsumer {
            incarnations += 1
            return ProtonConsumer(name: "proton-\(queue)#\(incarnations)", queue: queue, peer: try ProtonPeer(["consume", broker.url, queue, "20"]))
        }
        var consumers = try queues.map { try protonConsumer($0) }
        var finished: [(ProtonConsumer, killed: Bool)] = []

        // The chaos: every 50 to 400 ms, a Proton consumer killed (and another started on its
        // queue), or one of our connections cut.
        var kills = 0
        while ContinuousClock.now < stopAt {
            usleep(useconds_t(50_000 + random.next() % 350_000))
            if random.next() % 2 == 0 {
                let victim = consumers.remove(at: Int(random.next() % UInt64(consumers.count)))
                victim.peer.kill()
                ledger.killed(victim.name)
                finished.append((victim, true))
                consumers.append(try protonConsumer(victim.queue))
                kills += 1
            } else {
                proxy.cutOne(pick: random.next())
            }
        }

        // The drain: producers finish, consumers empty the queues.
        for (q, p) in protonProducers.enumerated() {
            let (status, lines) = p.finish(timeout: .seconds(30))
            XCTAssertEqual(status, 0, "\(label): Proton producer \(q)")
            for l in lines where l.hasPrefix("accepted ") { ledger.accepted(String(l.dropFirst("accepted ".count))) }
            if let sent = lines.last(where: { $0.hasPrefix("sent ") }).flatMap({ Int($0.dropFirst(5)) }) { ledger.sent(sent) }
        }
        XCTAssertTrue(eventually(within: .seconds(30)) { producers.allSatisfy { $0.withLock { $0 } } }, "\(label): our producers finished")
        let drained = eventually(within: .seconds(30)) {
            queues.allSatisfy { broker.broker.depth(of: $0) == 0 && broker.broker.unsettled(of: $0) == 0 }
        }
        XCTAssertTrue(drained, "\(label): the queues emptied: "
                      + queues.map { "\($0) depth \(broker.broker.depth(of: $0)) unsettled \(broker.broker.unsettled(of: $0))" }.joined(separator: ", "))

        // Nothing is unsettled now: stopping the consumers cannot make a duplicate.
        for c in consumers {
            c.peer.kill()
            finished.append((c, false))
        }
        for w in ourConsumers { w.add { c in c.close() } }
        for (c, _) in finished {
            for r in ProtonPeer.received(c.peer.finish().lines) {
                ledger.delivered(ChaosLedger.Delivery(id: r.id, deliveryCount: r.deliveryCount, incarnation: c.name))
            }
        }
        XCTAssertTrue(eventually { proxy.connections == 0 }, "\(label): our consumers closed")

        let report = ledger.report()
        let stats = broker.broker.statistics
        print("\(label): \(report); Proton consumers killed \(kills), connections cut \(proxy.cutsDone); "
              + "broker: \(stats); \(ContinuousClock.now - started)")
        XCTAssertEqual(report.lost, 0, "\(label): \(report)")
        XCTAssertEqual(report.problems, [], label)
        XCTAssertGreaterThan(report.accepted, 0, label)
        XCTAssertEqual(stats.rejected + stats.droppedWithQueue, 0, label)
        for q in queues {
            XCTAssertEqual(broker.broker.depth(of: q) + broker.broker.unsettled(of: q) + broker.broker.bytes(of: q), 0, "\(label): \(q) is empty")
        }
    }
}
