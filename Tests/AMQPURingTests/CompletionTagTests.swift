import Testing
@testable import AMQPURing

struct CompletionTagTests {
    @Test func packsSlotGenerationAndOperation() throws {
        let tag = CompletionTag(slot: 0xAB_CDEF, generation: 0xDEAD_BEEF, operation: .send)
        #expect(tag.userData == 0xDEAD_BEEF_AB_CDEF_03)
        let back = try #require(CompletionTag(userData: tag.userData))
        #expect(back == tag)
    }

    @Test func userDataOfNoOperationIsNotATag() {
        #expect(CompletionTag(userData: 0) == nil)
        #expect(CompletionTag(userData: 0xFF) == nil)
    }

    @Test func aFreedSlotGetsAnotherGenerationAndDropsOldTags() {
        var table = SlotTable()
        let first = SocketOperations(descriptor: 7, taskID: 1)
        table.insert(first)
        let old = first.tag(.receive)
        #expect(table[old] === first)
        table.remove(first)
        #expect(table[old] == nil)
        let second = SocketOperations(descriptor: 7, taskID: 2)
        table.insert(second)
        #expect(second.slot == first.slot)
        #expect(second.generation == first.generation + 1)
        #expect(table[old] == nil, "a completion for the slot's previous owner reached the new one")
        #expect(table[second.tag(.receive)] === second)
        #expect(table.count == 1)
    }
}
