import AMQPProactor
import Testing
@testable import AMQPURing

/// Unusable io_uring gives an error naming the cause, and the automatic choice falls back to
/// epoll saying why; each failure path is forced with ``URingConfiguration/simulatedFailure``.
struct URingAvailabilityTests {
    static let expected: [(URingConfiguration.SimulatedFailure, URingUnavailable.Cause, String)] = [
        (.disabled, .disabledBySysctl(2), "io_uring is disabled on this machine (/proc/sys/kernel/io_uring_disabled is 2)"),
        (.eperm, .notPermitted, "io_uring_setup is not permitted (EPERM): a seccomp filter (a container's default profile) or kernel.io_uring_disabled"),
        (.enosys, .notSupported, "io_uring_setup is not implemented (ENOSYS): the kernel has no io_uring, or a filter hides it"),
        (.feature, .missingFeature("IORING_OP_RECV"), "the kernel's io_uring lacks IORING_OP_RECV"),
    ]

    @Test(arguments: URingConfiguration.SimulatedFailure.allCases)
    func unusableRingNamesTheCause(_ failure: URingConfiguration.SimulatedFailure) throws {
        let (_, cause, text) = try #require(Self.expected.first { $0.0 == failure })
        var configuration = URingConfiguration()
        configuration.simulatedFailure = failure
        #expect(throws: URingUnavailable.self) { try URingProactor(configuration: configuration) }
        do {
            _ = try URingProactor(configuration: configuration)
        } catch {
            #expect(error.cause == cause)
            #expect(error.description == text)
        }
    }

    @Test(arguments: URingConfiguration.SimulatedFailure.allCases)
    func automaticFallsBackToEpollAndSaysWhy(_ failure: URingConfiguration.SimulatedFailure) throws {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = failure
        let chosen = try AutomaticProactor.make(configuration: configuration)
        let (_, cause, text) = try #require(Self.expected.first { $0.0 == failure })
        #expect(chosen.backend == "epoll")
        #expect(chosen.fallbackReason?.cause == cause)
        #expect(chosen.summary == "proactor backend: epoll (io_uring unusable: \(text))")
    }

    @Test func automaticTakesIOURingWhereItWorks() throws {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        let works = (try? URingProactor(configuration: configuration)) != nil
        let chosen = try AutomaticProactor.make(configuration: configuration)
        #expect(chosen.backend == (works ? "io_uring" : "epoll"))
        #expect(chosen.proactor is URingProactor == works)
        if works { #expect(chosen.summary == "proactor backend: io_uring") }
    }
}
