import AMQPProactor
import AMQPProactorConformance
import AMQPSystem
import Testing
@testable import AMQPURing

/// The io_uring backend meeting the failures of the system calls it makes itself, injected
/// through AMQPSystem's hook (SyscallMock): io_uring_enter(2) failing with `EINTR`, `EBUSY` or
/// `EAGAIN` (nothing prepared may be lost: the entries stay queued for the next enter), and mmap(2)
/// of the buffer ring failing with `ENOMEM` (io_uring is unusable, and the automatic choice says
/// why). Its accepts, receives and sends are completions, not system calls: their failures are
/// the conformance suite's (out of descriptors, `ENOBUFS` in URingProactorTests).
@Suite(.serialized, .enabled(if: URingSupport.runs, URingSupport.reason),
       .enabled(if: SyscallMock.isAvailable, "system-call faults exist only in debug builds (ENABLE_MOCKING)"))
struct URingSyscallFaultTests {
    static var configuration: URingConfiguration {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        return configuration
    }

    @Test(arguments: [Errno.interrupted, .resourceBusy, .wouldBlock])
    func failedEntersLoseNothing(_ error: Errno) throws {
        let proactor = try URingProactor(configuration: Self.configuration)
        let ring = FileDescriptor(rawValue: proactor.ring.ring.pointee.ring_fd)
        let fault = SyscallFault.fail(.ioUringEnter, with: error, on: .descriptor(ring), times: 10)
        // The suite's own transfer: 200 messages, every one accepted, both ends closed.
        let failures = SyscallMock.with(fault) {
            scenario("connect, listen, accept, transfer, close").run(on: ProactorBackend(name: "io_uring") { proactor })
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(fault.applied == 10)
        #expect(fault.matched > 10, "the ring was entered again after the failures")
        #expect(Set(fault.matches.map(\.descriptor)) == [ring.rawValue])
    }

    @Test func unmappableBufferRingMakesIOURingUnusable() throws {
        let enomem = SyscallFault.fail(.mmap, with: .noMemory, on: .callingThread)
        let made = SyscallMock.with(enomem) {
            Result { () throws(URingUnavailable) in try URingProactor(configuration: Self.configuration) }
        }
        #expect(throws: URingUnavailable.self) { try made.get() }
        if case .failure(let error) = made {
            #expect(error.cause == .setupFailed(.noMemory))
            #expect(error.description == "io_uring_setup failed: Cannot allocate memory")
        }
        #expect([enomem.matched, enomem.applied] == [1, 1])

        let again = SyscallFault.fail(.mmap, with: .noMemory, on: .callingThread)
        let chosen = try SyscallMock.with(again) { try AutomaticProactor.make(configuration: Self.configuration) }
        #expect(chosen.backend == "epoll")
        #expect(chosen.summary == "proactor backend: epoll (io_uring unusable: io_uring_setup failed: Cannot allocate memory)")
        #expect(again.applied == 1)
    }
}
