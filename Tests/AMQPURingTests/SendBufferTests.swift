import Testing
@testable import AMQPURing

struct SendBufferTests {
    @Test func nextPowerOfTwo() {
        #expect([1, 2, 3, 4095, 4096, 4097, 262_144].map(\.nextPowerOfTwo) == [1, 2, 4, 4096, 4096, 8192, 262_144])
    }

    @Test func carriesAllOfASmallOutput() {
        let buffer = SendBuffer()
        let output: [UInt8] = Array(0..<10)
        let bytes = buffer.fill(from: output[2...])
        #expect(Array(bytes) == Array(2..<10))
        #expect(buffer.bytes.count == 4096, "the smallest allocation")
    }

    @Test func carriesAtMostTheLimitAndReusesItsMemory() {
        let buffer = SendBuffer()
        let output = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let first = buffer.fill(from: output[...])
        #expect(first.count == SendBuffer.limit)
        #expect(Array(first) == Array(output.prefix(SendBuffer.limit)))
        let memory = buffer.bytes.baseAddress
        let second = buffer.fill(from: output[SendBuffer.limit...])
        #expect(Array(second) == Array(output[SendBuffer.limit...]))
        #expect(buffer.bytes.baseAddress == memory, "a smaller send reuses the buffer")
    }
}
