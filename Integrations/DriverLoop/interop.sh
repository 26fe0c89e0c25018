#!/usr/bin/env bash
# Runs driver-loop against Qpid Proton C both ways and checks exact output and exit codes.
#
#   Integrations/DriverLoop/interop.sh [PATH-TO-driver-loop]
#
# Without an argument it builds driver-loop with `swift build --product driver-loop`. The Proton
# peers are built from source into a temporary directory: proton-c-arrow from
# Benchmarks/ProtonC/proton-c-arrow.c, and Proton's direct.c example from
# /usr/share/proton/examples/c (libqpid-proton11-dev, libqpid-proton11-dev-examples; see
# Scripts/install-deps.sh). Each check prints PASS or FAIL with the reason; the script runs every
# check and exits 1 if any failed. MESSAGES and LARGE_SIZE override the sizes. A missing optional
# peer (direct.c, the Proton Python binding) is a SKIP, or a FAIL under AMQP_REQUIRE_PROTON=1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
messages=${MESSAGES:-10000}
large_size=${LARGE_SIZE:-200000}
large_count=200
timeout_seconds=120

work=$(mktemp -d "${TMPDIR:-/tmp}/driver-loop-interop.XXXXXX")
peer_pid=""
cleanup() {
  if [ -n "$peer_pid" ]; then kill "$peer_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "interop: $*" >&2; exit 1; }

# --- what to test and what to test against ------------------------------------------------
if [ $# -ge 1 ]; then
  driver_loop=$1
else
  (cd "$repo" && swift build --product driver-loop >&2)
  driver_loop="$(cd "$repo" && swift build --product driver-loop --show-bin-path)/driver-loop"
fi
[ -x "$driver_loop" ] || die "no driver-loop executable at $driver_loop"
[ -f /usr/include/proton/proactor.h ] || die "Proton C headers missing: apt-get install -y libqpid-proton11-dev"
command -v gcc >/dev/null || die "gcc missing"
command -v python3 >/dev/null || die "python3 missing (used to find free ports)"

arrow_src=$repo/Benchmarks/ProtonC/proton-c-arrow.c
gcc -O2 -o "$work/proton-c-arrow" "$arrow_src" -lqpid-proton || die "cannot build $arrow_src"
direct_src=/usr/share/proton/examples/c/direct.c
direct=""
if [ -f "$direct_src" ]; then
  gcc -O2 -o "$work/direct" "$direct_src" -lqpid-proton -lpthread || die "cannot build $direct_src"
  direct=$work/direct
fi

# --- helpers ---------------------------------------------------------------------------------
failures=0
require_proton=${AMQP_REQUIRE_PROTON:-0}
pass() { echo "PASS: $1"; }
fail() {
  echo "FAIL: $1" >&2
  shift
  for detail in "$@"; do echo "      $detail" >&2; done
  failures=$((failures + 1))
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts connections on $1. proton-c-arrow counts a connection that
# leaves without opening as a probe, not a failure.
wait_listening() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$peer_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# Waits until the peer prints a line starting with $1. Peers other than proton-c-arrow count a
# probe connection as a failure, so their own line is the signal.
# The peer's output file is emptied by the caller before the peer starts: the shell truncates it
# only in the child, so the previous peer's "listening on" line could otherwise be read first.
wait_for_line() {
  for _ in $(seq 100); do
    grep -q "^$1" "$work/peer.out" && return 0
    kill -0 "$peer_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# Starts direct.c on a port it picks, and sets $port from its "listening on PORT" line.
start_direct() {
  : >"$work/peer.out"
  "$direct" 127.0.0.1 0 q "$1" >"$work/peer.out" 2>"$work/peer.err" &
  peer_pid=$!
  wait_for_line "listening on " || return 1
  port=$(sed -n 's/^listening on //p' "$work/peer.out")
}

# Waits for the peer to exit by itself and sets $peer_rc; kills it after the timeout.
wait_peer() {
  for _ in $(seq $((timeout_seconds * 20))); do
    if ! kill -0 "$peer_pid" 2>/dev/null; then
      peer_rc=0
      wait "$peer_pid" || peer_rc=$?
      peer_pid=""
      return 0
    fi
    sleep 0.05
  done
  kill "$peer_pid" 2>/dev/null || true
  wait "$peer_pid" 2>/dev/null || true
  peer_pid=""
  peer_rc=timeout
}

# Runs driver-loop with the given arguments; sets $rc, and leaves its output in $work/dl.out/err.
run_driver_loop() {
  rc=0
  timeout "$timeout_seconds" "$driver_loop" "$@" >"$work/dl.out" 2>"$work/dl.err" || rc=$?
}

# Checks driver-loop's exit code, stdout and stderr, then the peer's; $1 names the check.
check_run() {
  local name=$1 want_out=$2 peer_want=$3 peer_stream=$4
  wait_peer
  local out err peer_last
  out=$(cat "$work/dl.out")
  err=$(cat "$work/dl.err")
  peer_last=$(tail -n 1 "$work/$peer_stream")
  if [ "$rc" != 0 ] || [ "$out" != "$want_out" ] || [ -n "$err" ]; then
    fail "$name: driver-loop" "exit code $rc (want 0)" "stdout: $(head -c 300 "$work/dl.out")" "want:   $want_out" \
      "stderr: $(head -c 300 "$work/dl.err")" "peer exit $peer_rc, peer says: $peer_last"
  elif [ "$peer_rc" != 0 ] || [ "$peer_last" != "$peer_want" ]; then
    fail "$name: the Proton peer" "peer exit code $peer_rc (want 0)" "peer says: $peer_last" "want:      $peer_want" \
      "peer stderr: $(head -c 300 "$work/peer.err")"
  else
    pass "$name"
  fi
}

arrow() {
  "$work/proton-c-arrow" connection-mode=server host=127.0.0.1 port="$port" path=q quiet=1 "$@" \
    >"$work/peer.out" 2>"$work/peer.err" &
  peer_pid=$!
  wait_listening "$port" || { fail "proton-c-arrow did not start listening on $port" "$(cat "$work/peer.err")"; return 1; }
}

# --- driver-loop against proton-c-arrow --------------------------------------------------------
# (a) driver-loop sends, Proton receives; (b) Proton sends, driver-loop receives.
for size in 100 "$large_size"; do
  count=$messages
  [ "$size" = "$large_size" ] && count=$large_count
  port=$(free_port)
  if arrow operation=receive count="$count"; then
    run_driver_loop send 127.0.0.1 "$port" q "$count" "$size"
    check_run "driver-loop send $count x $size B -> proton-c-arrow receive" \
      "$count messages sent and accepted" "proton-c-arrow: $count transfers" peer.err
  fi
  port=$(free_port)
  if arrow operation=send count="$count" body-size="$size"; then
    run_driver_loop receive 127.0.0.1 "$port" q "$count"
    check_run "proton-c-arrow send $count x $size B -> driver-loop receive" \
      "$count messages received" "proton-c-arrow: $count transfers" peer.err
  fi
done

# --- driver-loop against Proton's direct.c example ----------------------------------------------
# direct listens, receives from a sender that attaches, sends to a receiver that attaches, and
# prints "N messages received" or "N messages sent and acknowledged" last.
if [ -n "$direct" ]; then
  for size in 100 "$large_size"; do
    count=$messages
    [ "$size" = "$large_size" ] && count=$large_count
    if start_direct "$count"; then
      run_driver_loop send 127.0.0.1 "$port" q "$count" "$size"
      check_run "driver-loop send $count x $size B -> direct.c" \
        "$count messages sent and accepted" "$count messages received" peer.out
    else
      fail "direct.c did not start" "$(cat "$work/peer.err")"
    fi
  done
  if start_direct "$messages"; then
    run_driver_loop receive 127.0.0.1 "$port" q "$messages"
    check_run "direct.c send $messages -> driver-loop receive" \
      "$messages messages received" "$messages messages sent and acknowledged" peer.out
  else
    fail "direct.c did not start" "$(cat "$work/peer.err")"
  fi
elif [ "$require_proton" = 1 ]; then
  fail "driver-loop against direct.c: $direct_src is absent (AMQP_REQUIRE_PROTON=1)" \
    "apt-get install -y libqpid-proton11-dev-examples"
else
  echo "SKIP: driver-loop against direct.c: $direct_src is absent (apt-get install -y libqpid-proton11-dev-examples)"
fi

# --- failures: one line on stderr, non-zero exit -------------------------------------------------
# Checks that driver-loop failed with exactly one stderr line matching the pattern $2.
check_failure() {
  local name=$1 pattern=$2 want_rc=${3:-}
  local lines
  lines=$(wc -l <"$work/dl.err")
  if [ "$rc" = 0 ] || { [ -n "$want_rc" ] && [ "$rc" != "$want_rc" ]; } || [ "$lines" != 1 ] \
     || ! grep -Eq "$pattern" "$work/dl.err" || [ -s "$work/dl.out" ]; then
    fail "$name" "exit code $rc (want non-zero${want_rc:+, $want_rc}), $lines stderr lines (want 1)" \
      "stderr: $(head -c 300 "$work/dl.err")" "want:   $pattern" "stdout: $(head -c 300 "$work/dl.out")"
  else
    pass "$name: $(cat "$work/dl.err")"
  fi
}

port=$(free_port)   # nothing listens there now
run_driver_loop send 127.0.0.1 "$port" q 1
check_failure "connect to a closed port" "^driver-loop: connect 127\.0\.0\.1:$port: Connection refused\$" 1

port=$(free_port)
if arrow operation=send count=5; then
  run_driver_loop receive 127.0.0.1 "$port" q 10
  wait_peer
  check_failure "peer closes after 5 of 10" "^driver-loop: connection closed by the peer after 5 of 10 messages received\$" 1
fi

run_driver_loop send 127.0.0.1 5672 q many
if [ "$rc" = 2 ] && grep -q '^usage: driver-loop send' "$work/dl.err" && [ ! -s "$work/dl.out" ]; then
  pass "bad arguments print usage and exit 2"
else
  fail "bad arguments print usage and exit 2" "exit code $rc" "stderr: $(head -c 300 "$work/dl.err")"
fi

# --- frame order: nothing after our close (AMQP 1.0 §2.7.9) --------------------------------------
# "Sending a close signals that the sender will not be sending any more frames." Proton 0.37 acts
# on frames after a close that arrive in the same read, so the runs above pass (a later read would
# get "data after close"); the frame trace shows the order.
port=$(free_port)
if arrow operation=send count=10; then
  rc=0
  AMQP_TRACE_FRM=1 timeout "$timeout_seconds" "$driver_loop" receive 127.0.0.1 "$port" q 10 \
    >"$work/trace.out" 2>"$work/dl.err" || rc=$?
  wait_peer
  after_close=$(awk '/^-> \[[0-9]+\] close\(/ { closed = 1; next } closed && /^-> / { print }' "$work/trace.out")
  if [ "$rc" != 0 ]; then
    fail "frame trace run" "exit code $rc" "stderr: $(head -c 300 "$work/dl.err")"
  elif [ -n "$after_close" ]; then
    fail "driver-loop writes no frame after its close (AMQP 1.0 §2.7.9)" \
      "$(echo "$after_close" | wc -l) frame(s) written after close, the first: $(echo "$after_close" | head -n 3 | cut -c 1-160)"
  else
    pass "driver-loop writes no frame after its close (AMQP 1.0 §2.7.9)"
  fi
fi

# --- heartbeats: poll(2) wakes at the driver's deadline (AMQP 1.0 §2.4.5) --------------------------
# A Proton peer (Python binding) with a 2 s idle timeout advertises 1000 ms in its open and sends
# its one message only after 4 s. driver-loop must keep the connection alive with empty frames,
# written about every 500 ms (half the advertised value, as the driver's tick intends, and as
# Proton does). The gaps are measured on driver-loop's frame trace, in wall-clock time on a machine
# that may be busy: the check fails only at a silence of the whole advertised 1000 ms, which the
# peer may treat as dead (twice the 500 ms aimed for).
if /usr/bin/python3 -c 'import proton' 2>/dev/null; then
  cat >"$work/late_sender.py" <<'EOF'
import sys
from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

class Call:
    """A timer handler that runs a function."""
    def __init__(self, f): self.on_timer_task = lambda event: f()

class LateSender(MessagingHandler):
    """Listens, lets a receiver attach, and sends one message after 4 s of silence."""
    def on_start(self, event):
        self.acceptor = event.container.listen("127.0.0.1:%s" % sys.argv[1])
        self.deadline = event.container.schedule(30.0, Call(lambda: sys.exit("late_sender: timed out")))
        print("listening", flush=True)
    def on_connection_opening(self, event):
        event.connection.transport.idle_timeout = 2.0  # advertised as 1000 ms
    def on_link_opening(self, event):
        if event.link.is_sender:
            event.link.source.address = event.link.remote_source.address
            event.link.open()
            link = event.link
            event.container.schedule(4.0, Call(lambda: link.send(Message(body="late"))))
    def on_accepted(self, event):
        self.deadline.cancel()
        event.connection.close()
        self.acceptor.close()
    def on_transport_error(self, event):
        sys.exit("late_sender: %s" % event.transport.condition)

Container(LateSender()).run()
EOF
  port=$(free_port)
  : >"$work/peer.out"
  /usr/bin/python3 "$work/late_sender.py" "$port" >"$work/peer.out" 2>"$work/peer.err" &
  peer_pid=$!
  if wait_for_line listening; then
    rc=0
    AMQP_TRACE_FRM=1 timeout "$timeout_seconds" stdbuf -oL "$driver_loop" receive 127.0.0.1 "$port" q 1 2>"$work/dl.err" \
      | /usr/bin/python3 -c 'import sys, time
for line in sys.stdin: print("%.3f %s" % (time.monotonic(), line.rstrip()), flush=True)' >"$work/trace.out" \
      || rc=$?
    wait_peer
    # the longest silence on our side between the peer's open and the message
    gap=$(awk '$2 == "<-" && /open\(/ { t = $1 } t && $2 == "<-" && /transfer\(/ { exit }
               t && $2 == "->" { if ($1 - t > max) max = $1 - t; t = $1 } END { printf "%d", max * 1000 }' "$work/trace.out")
    beats=$(grep -c -- '-> (empty frame)' "$work/trace.out" || true)
    if [ "$rc" != 0 ] || ! grep -q ' 1 messages received$' "$work/trace.out" || [ "$peer_rc" != 0 ]; then
      fail "heartbeats keep an idle connection open" "driver-loop exit $rc: $(head -c 300 "$work/dl.err")" \
        "peer exit $peer_rc: $(head -c 300 "$work/peer.err")"
    elif [ "$gap" -ge 1000 ]; then
      fail "heartbeats every ~500 ms for a peer that advertises idle-time-out 1000 ms (AMQP 1.0 §2.4.5)" \
        "longest silence on our side: $gap ms (over $beats empty frames), at least the peer's whole advertised" \
        "idle-time-out; heartbeats are due at half of it."
    else
      pass "heartbeats keep an idle connection open: $beats empty frames, longest silence $gap ms"
    fi
  else
    fail "the Python Proton peer did not start" "$(head -c 300 "$work/peer.err")"
  fi
elif [ "$require_proton" = 1 ]; then
  fail "heartbeat check: /usr/bin/python3 cannot import proton (AMQP_REQUIRE_PROTON=1)" \
    "apt-get install -y python3-qpid-proton"
else
  echo "SKIP: heartbeat check needs the Proton Python binding (apt-get install -y python3-qpid-proton)"
fi

if [ "$failures" != 0 ]; then
  echo "interop: $failures check(s) failed" >&2
  exit 1
fi
echo "interop: all checks passed"
