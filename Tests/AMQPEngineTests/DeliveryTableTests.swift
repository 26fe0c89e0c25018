import AMQPCodec
@testable import AMQPEngine
import SharedFixtures
import XCTest

/// The ring of unsettled deliveries by id, checked against a Dictionary doing the same.
final class DeliveryTableTests: XCTestCase {
    private let driver = ConnectionDriver(mode: .client, configuration: DriverConfiguration(containerID: "t"))
    private lazy var link = driver.connection.session().sender(name: "l")

    private func delivery(_ n: UInt64) -> Delivery { Delivery(link: link, tag: .counter(n), payload: []) }

    func testInOrderAcrossTheWraparoundOfDeliveryIDs() {
        var table = DeliveryTable()
        let start = UInt32.max - 500
        var held: [UInt32: Delivery] = [:]
        for i in 0..<1000 {
            let id = start &+ UInt32(i)
            let d = delivery(UInt64(i))
            table.insert(d, id: id)
            held[id] = d
        }
        XCTAssertEqual(table.count, 1000)
        for (id, d) in held { XCTAssertTrue(table[id] === d, "id \(id)") }
        XCTAssertNil(table[start &- 1])
        XCTAssertNil(table[start &+ 1000])
        for i in 0..<1000 {
            let id = start &+ UInt32(i)
            XCTAssertTrue(table.remove(id) === held[id])
            XCTAssertNil(table[id])
        }
        XCTAssertTrue(table.isEmpty)
    }

    func testSettlingOutOfOrderKeepsTheRest() {
        var table = DeliveryTable()
        let ds = (0..<100).map { delivery(UInt64($0)) }
        for (i, d) in ds.enumerated() { table.insert(d, id: UInt32(i)) }
        for id in stride(from: 1, to: 100, by: 2) { table.remove(UInt32(id)) }
        XCTAssertEqual(table.count, 50)
        table.remove(0)
        table.remove(2)
        XCTAssertEqual(table.count, 48)
        XCTAssertNil(table[0])
        XCTAssertTrue(table[4] === ds[4])
        XCTAssertTrue(table[98] === ds[98])
        XCTAssertNil(table[99])
        // The ring moved past 0..3; new ids still go on the end.
        let extra = delivery(1000)
        table.insert(extra, id: 100)
        XCTAssertTrue(table[100] === extra)
        XCTAssertEqual(table.count, 49)
    }

    func testIDsThatSkipOrGoBackAreStillHeld() {
        var table = DeliveryTable()
        let a = delivery(1), b = delivery(2), c = delivery(3), e = delivery(4)
        table.insert(a, id: 10)
        table.insert(b, id: 5_000_000)   // far ahead: not a ring slot
        table.insert(c, id: 3)           // before the oldest
        table.insert(e, id: 11)
        XCTAssertEqual(table.count, 4)
        XCTAssertTrue(table[5_000_000] === b)
        XCTAssertTrue(table[3] === c)
        XCTAssertTrue(table[11] === e)
        var seen: [(UInt32, Delivery)] = []
        table.collect(from: 0, through: .max, into: &seen)
        XCTAssertEqual(seen.map(\.0).sorted(), [3, 10, 11, 5_000_000])
        XCTAssertTrue(table.remove(5_000_000) === b)
        XCTAssertTrue(table.remove(3) === c)
        XCTAssertNil(table.remove(3))
        XCTAssertEqual(table.count, 2)
    }

    /// A peer that never settles the oldest delivery but settles each newer one: the ring must not
    /// stretch over the holes, yet every delivery stays reachable.
    func testAStuckOldestDeliveryDoesNotStretchTheRing() {
        var table = DeliveryTable()
        let stuck = delivery(0)
        table.insert(stuck, id: 0)
        for id in UInt32(1)...200_000 {
            let d = delivery(UInt64(id))
            table.insert(d, id: id)
            XCTAssertTrue(table[id] === d)
            if id > 1 { XCTAssertTrue(table.remove(id - 1) != nil) }
        }
        XCTAssertEqual(table.count, 2)
        XCTAssertTrue(table[0] === stuck)
        XCTAssertLessThanOrEqual(table.slots, 2048)
        table.remove(0)
        table.remove(200_000)
        XCTAssertTrue(table.isEmpty)
    }

    func testInsertingAnIDAgainReplacesIt() {
        var table = DeliveryTable()
        let a = delivery(1), b = delivery(2)
        table.insert(a, id: 7)
        table.insert(b, id: 7)
        XCTAssertEqual(table.count, 1)
        XCTAssertTrue(table[7] === b)
    }

    func testRangeWalkVisitsEachHeldIDInTheRangeOnce() {
        var table = DeliveryTable()
        for i in 0..<20 where i % 3 != 0 { table.insert(delivery(UInt64(i)), id: UInt32.max - 9 &+ UInt32(i)) }
        var found: [(UInt32, Delivery)] = []
        // A range that wraps: max-3 ... 4.
        table.collect(from: .max - 3, through: 4, into: &found)
        let seen = found.map(\.0)
        let expected = (0..<20).filter { $0 % 3 != 0 }.map { UInt32.max - 9 &+ UInt32($0) }
            .filter { $0 &- (UInt32.max - 3) <= 8 }   // max-3 ... 4 is nine ids
        XCTAssertEqual(seen.sorted(), expected.sorted())
    }

    /// Random inserts (mostly the next id, sometimes any), removals and look-ups, checked against a
    /// Dictionary after every step. Seeded (``SplitMix64/testSeed``): a failure names its seed.
    func testMatchesADictionaryUnderRandomOperations() {
        var rng = SplitMix64(seed: SplitMix64.testSeed)
        let seed = SplitMix64.replay
        var inserts = 0, removals = 0, lookups = 0, hits = 0
        for round in 0..<20 {
            var table = DeliveryTable()
            var model: [UInt32: Delivery] = [:]
            var next = UInt32.random(in: 0...UInt32.max, using: &rng)
            for step in 0..<3000 {
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<5:
                    let id: UInt32 = Int.random(in: 0..<8, using: &rng) == 0 ? next &+ UInt32.random(in: 0..<40, using: &rng) : next
                    if id == next { next &+= 1 }
                    let d = delivery(UInt64(step))
                    table.insert(d, id: id)
                    model[id] = d
                    inserts += 1
                case 5..<9:
                    // Sorted first: a Dictionary's order differs from run to run, the seed must not.
                    let id = model.keys.sorted().randomElement(using: &rng) ?? next
                    let expected = model.removeValue(forKey: id)
                    XCTAssertTrue(table.remove(id) === expected, "round \(round) step \(step), remove \(id); \(seed)")
                    if expected != nil { removals += 1 }
                default:
                    let id = next &- UInt32.random(in: 0..<50, using: &rng)
                    XCTAssertTrue(table[id] === model[id], "round \(round) step \(step), look up \(id); \(seed)")
                    lookups += 1
                    if model[id] != nil { hits += 1 }
                }
                XCTAssertEqual(table.count, model.count, "round \(round) step \(step); \(seed)")
            }
            for (id, d) in model { XCTAssertTrue(table[id] === d, "round \(round), id \(id) at the end; \(seed)") }
            XCTAssertEqual(Set(table.all.map(ObjectIdentifier.init)), Set(model.values.map(ObjectIdentifier.init)), "round \(round); \(seed)")
        }
        // Every kind of step ran, and look-ups both found and missed.
        XCTAssertGreaterThan(inserts, 10_000, seed)
        XCTAssertGreaterThan(removals, 10_000, seed)
        XCTAssertGreaterThan(hits, 0, seed)
        XCTAssertGreaterThan(lookups - hits, 0, seed)
    }

    /// `take` removes a range and hands the deliveries over highest id first, across the wrap-around of
    /// ids, holes and the dictionary of ids far from the ring, exactly as look-ups then removals
    /// would; checked against a dictionary under random inserts and takes.
    func testTakeMatchesCollectThenRemove() {
        var rng = SplitMix64(seed: SplitMix64.testSeed)
        let seed = SplitMix64.replay
        var taken = 0
        for round in 0..<20 {
            var table = DeliveryTable()
            var model: [UInt32: Delivery] = [:]
            var next = UInt32.max &- UInt32.random(in: 0..<2000, using: &rng)
            for step in 0..<2000 {
                if Int.random(in: 0..<3, using: &rng) > 0 {
                    let id: UInt32 = Int.random(in: 0..<10, using: &rng) == 0 ? next &+ UInt32.random(in: 0..<3000, using: &rng) : next
                    if id == next { next &+= 1 }
                    let d = delivery(UInt64(step))
                    table.insert(d, id: id)
                    model[id] = d
                } else {
                    let first = next &- UInt32.random(in: 0..<100, using: &rng)
                    let last = first &+ UInt32.random(in: 0..<(Int.random(in: 0..<20, using: &rng) == 0 ? 5000 : 30), using: &rng)
                    var out: [(UInt32, Delivery)] = []
                    table.take(from: first, through: last, into: &out)
                    let expected = model.keys.filter { $0 &- first <= last &- first }.sorted { ($0 &- first) < ($1 &- first) }
                    XCTAssertEqual(out.map(\.0), expected.reversed(), "round \(round) step \(step); \(seed)")
                    for (id, d) in out { XCTAssertTrue(model.removeValue(forKey: id) === d, "round \(round) step \(step), id \(id); \(seed)") }
                    taken += out.count
                }
                XCTAssertEqual(table.count, model.count, "round \(round) step \(step); \(seed)")
            }
            for (id, d) in model { XCTAssertTrue(table[id] === d, "round \(round), id \(id) at the end; \(seed)") }
        }
        XCTAssertGreaterThan(taken, 5_000, seed)
    }

    /// Within the ring the deliveries come out highest id first, and the front slots are freed.
    func testTakeHandsOverInOrderAndFreesTheFront() {
        var table = DeliveryTable()
        let ds = (0..<10).map { delivery(UInt64($0)) }
        for (i, d) in ds.enumerated() { table.insert(d, id: (UInt32.max - 4) &+ UInt32(i)) }
        var out: [(UInt32, Delivery)] = []
        table.take(from: UInt32.max - 4, through: 2, into: &out)
        XCTAssertEqual(out.map(\.0), [2, 1, 0, UInt32.max, UInt32.max - 1, UInt32.max - 2, UInt32.max - 3, UInt32.max - 4],
                       "highest first, for popLast")
        XCTAssertTrue(zip(out.map(\.1).reversed(), ds).allSatisfy { $0 === $1 })
        XCTAssertEqual(table.count, 2)
        XCTAssertTrue(table[3] === ds[8])
        XCTAssertNil(table[2])
    }
}
