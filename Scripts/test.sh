#!/usr/bin/env bash
# The test suite: what CI runs (see .ci/run) and what the README's quick start calls.
#   1. system packages for the interop peers, installed when missing;
#   2. the layering checks: core modules import nothing outside the standard library, and the
#      backends call the C library only through AMQPSystem (Scripts/check-imports.sh);
#   3. swift test (unit, interop vectors, fuzz corpora, Proton differential and engine interop),
#      the Proton tests again against Proton 0.40 from PyPI (a venv that Scripts/proton-venv.sh
#      builds once), the threaded tests and the proactor conformance suite again under the thread
#      sanitizer, then driver-loop and proactor-arrow against Proton C over TCP, and the SwiftNIO
#      package's own tests (Integrations/NIO/test.sh);
#   4. a bounded libFuzzer run of each fuzz target (message decode and connection driver seeded
#      with ../shared's corpora, selectors with the repository's own);
#   5. the DocC catalogues, built with warnings as errors (Scripts/docs.sh).
# Set FUZZ_SECONDS=0 to skip step 4. With AMQP_REQUIRE_SHARED=1 (as .ci/run sets) a missing ../shared
# fails step 4 instead of fuzzing from an empty corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh

echo "== layering: AMQPCodec and AMQPEngine import no Foundation, Glibc or Dispatch"
if grep -rnE '^\s*import\s+(Foundation|FoundationEssentials|Glibc|Dispatch|Darwin)\b' Sources/AMQPCodec Sources/AMQPEngine 2>/dev/null; then
  echo "a core module imports a platform module (see Docs/Architecture.md)" >&2
  exit 1
fi
echo "== layering: the backends and the conformance suite call the C library only through AMQPSystem"
bash Scripts/check-imports.sh

echo "== swift test"
export AMQP_REQUIRE_PROTON=${AMQP_REQUIRE_PROTON:-1}
swift build --build-tests
# Swift Testing runs one suite at a time (--no-parallel): the conformance suite times CPU and
# lowers process-wide limits, which other suites running beside it would disturb.
swift test --skip-build --no-parallel

# Debian's 0.37 is the peer above; a current Proton may behave differently, so both are peers.
echo "== swift test: the Proton tests again, against Qpid Proton 0.40 (python-qpid-proton from PyPI)"
if proton040=$(bash Scripts/proton-venv.sh); then
  log=$(mktemp)
  AMQP_PROTON_PYTHON=$proton040 swift test --skip-build --filter 'ProtonInteropTests|ProtonDifferentialTests|BrokerZooTests|BrokerDrainTests|BrokerRedeliveryTests|BrokerOutcomeTests|BrokerChaosTests|ProtonExamplesTests' 2>&1 | tee "$log"
  # A renamed test class would leave the filter matching nothing, which swift test passes.
  grep -qE 'Executed [1-9][0-9]* tests' "$log" || { echo "the Proton 0.40 filter matched no test" >&2; exit 1; }
  rm -f "$log"
elif [ "$AMQP_REQUIRE_PROTON" = 1 ]; then
  echo "Qpid Proton 0.40 could not be built (AMQP_REQUIRE_PROTON=1, so this fails instead of skipping)" >&2
  exit 1
else
  echo "Qpid Proton 0.40 could not be built: its run is skipped"
fi

echo "== thread sanitizer: the tests that run threads"
# The harness's reader thread, the system wrappers' threads, and the proactor conformance suite
# (wakes from foreign threads, the threaderciser) on every backend, and the container (its sequence
# guarantee, work queues from outside threads, interop runs on a thread pool).
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
log=$(mktemp)
TSAN_OPTIONS=halt_on_error=1 swift test --skip-build --no-parallel --sanitize=thread --scratch-path .build-tsan \
  --filter 'ByteInboxTests|ProtonInteropTests.testThousandTransfers|SystemThreadTests|ConditionLockTests|LockedValueTests|ConformanceTests|URingProactorTests|URingThreadExitTests|ContainerSequenceTests|WorkQueueTests|ContainerInteropTests|BrokerInteropTests|MinimalContainerTests|ReconnectTests|DeliverySemanticsTests|ObservabilityTests|SyscallFault|BrokerRedeliveryTests|BrokerOutcomeTests|BrokerQueueLifeTests|BrokerChaosTests|BrokerAcceptThenDetachTests|BrokerSelectorTests|BrokerBrowseTests|BrokerRelayTests|ContainerSASLTests|ContainerTLSTests|BrokerSASLTests|TLSLayerTests|TLSContextTests|SelectorTests|SelectorErrorTests|ProtonExamplesTests' 2>&1 | tee "$log"
# As above: a renamed test must not leave the sanitizer run with nothing to run (XCTest's count
# and Swift Testing's both).
grep -qE 'Executed [1-9][0-9]* tests' "$log" || { echo "the thread sanitizer filter matched no XCTest" >&2; exit 1; }
grep -qE 'Test run with [1-9][0-9]* tests? .*passed' "$log" || { echo "the thread sanitizer filter matched no conformance test" >&2; exit 1; }
rm -f "$log"

echo "== driver-loop against Proton C (proton-c-arrow and direct.c, both ways)"
bash Integrations/DriverLoop/interop.sh .build/debug/driver-loop

echo "== proactor-arrow (epoll, PollPoller, io_uring, automatic) against Proton C over TCP, 20,000 messages each way"
bash Integrations/ProactorArrow/interop.sh .build/debug/proactor-arrow

echo "== the SwiftNIO package (Integrations/NIO): Proton C and Python peers, TLS, then under TSan"
bash Integrations/NIO/test.sh

echo "== the amqp command against RabbitMQ (a node of its own, PLAIN and ANONYMOUS, epoll and io_uring)"
bash Scripts/rabbitmq-interop.sh

bash Scripts/fuzz.sh
echo "== docs: the DocC catalogues build with warnings as errors"
bash Scripts/docs.sh
echo "== all tests passed"
