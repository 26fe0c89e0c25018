import AMQPEpoll
import AMQPProactor
import AMQPProactorConformance
import AMQPURing
import PollPoller
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The backends this package ships.
let backends: [ProactorBackend] = [
    ProactorBackend(name: "epoll") { try EpollProactor.epoll() },
    ProactorBackend(name: "poll (Integrations/PollPoller)") { try PollProactor.poll() },
] + uringBackends

/// io_uring where it works here. Without it (a container's seccomp profile, the sysctl) its runs
/// are left out with the reason printed, unless `AMQP_REQUIRE_URING=1` (as `.ci/run` sets), when
/// they run and fail.
let uringBackends: [ProactorBackend] = {
    let required = getenv("AMQP_REQUIRE_URING").map { String(cString: $0) } == "1"
    do {
        _ = try URingProactor()
    } catch where !required {
        print("conformance: io_uring is unusable here (\(error)): its runs are left out; AMQP_REQUIRE_URING=1 makes them fail")
        return []
    } catch {}
    return [ProactorBackend(name: "io_uring") { try URingProactor() }]
}()

/// `AMQP_CONFORMANCE_BACKEND=name` runs only on the backends whose names contain `name`.
let selectedBackends: [ProactorBackend] = {
    guard let only = getenv("AMQP_CONFORMANCE_BACKEND").map({ String(cString: $0) }), !only.isEmpty else { return backends }
    return backends.filter { $0.name.contains(only) }
}()

/// `AMQP_CONFORMANCE_ONLY=text` runs only the scenarios whose names contain `text`.
let selectedScenarios: [ConformanceScenario] = {
    guard let only = getenv("AMQP_CONFORMANCE_ONLY").map({ String(cString: $0) }), !only.isEmpty else {
        return ProactorConformance.scenarios
    }
    return ProactorConformance.scenarios.filter { $0.name.contains(only) }
}()

/// The conformance suite on every backend. Serialized: some scenarios change process-wide
/// limits (open files) or count CPU time, and the machine has two cores.
@Suite(.serialized)
struct ConformanceTests {
    @Test(.serialized, arguments: selectedScenarios, selectedBackends)
    func scenario(_ scenario: ConformanceScenario, on backend: ProactorBackend) {
        let start = ContinuousClock.now
        let failures = scenario.run(on: backend)
        print("conformance: \(scenario) on \(backend): \(failures.isEmpty ? "passed" : "FAILED") in \(ContinuousClock.now - start)")
        #expect(failures.isEmpty, "\(scenario) on \(backend):\n\(failures.joined(separator: "\n"))")
    }
}
