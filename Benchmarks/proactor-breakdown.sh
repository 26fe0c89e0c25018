#!/usr/bin/env bash
# Where the CPU goes in Benchmarks/proactor.sh's three cases, on epoll and on io_uring: each run
# is recorded system-wide by `perf record -a -g`, and Benchmarks/cpu-breakdown.py puts every sample
# of the two processes in a class (user code, TCP/IP, epoll, io_uring, the rest of the system call,
# sleep/wake). The last column is the most io_uring could gain over epoll if its own work cost
# nothing at all: what epoll spends on epoll_wait/epoll_ctl and on system call entry, as a speed-up.
# Usage: Benchmarks/proactor-breakdown.sh [MESSAGES]   (needs perf; run as root or with
# kernel.perf_event_paranoid <= -1)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-2000000}
source Benchmarks/common.sh
command -v perf >/dev/null || { echo "needs perf (linux-perf)" >&2; exit 1; }
swift build -c release --product proactor-arrow >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# record BACKEND COUNT CONNECTIONS CREDIT: one transfer under perf; prints the breakdown.
record() {
  local p extra=""; p=$(port)
  [ "$3" = 1 ] || extra="connections=$3"
  perf record -q -a -g -F 2000 -e cpu-clock -o "$out/perf.data" -- bash -c "
    .build/release/proactor-arrow backend=$1 connection-mode=server operation=receive port=$p count=$2 credit-window=$4 quiet=1 &
    for _ in \$(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.02; done
    .build/release/proactor-arrow backend=$1 connection-mode=client operation=send port=$p count=$2 credit-window=$4 $extra quiet=1
    wait" >/dev/null 2>&1
  python3 Benchmarks/cpu-breakdown.py "$out/perf.data"
}

printf "%-18s %-9s %6s %6s %6s %8s %7s %6s | %s\n" case backend user tcp/ip epoll io_uring syscall sleep "io_uring's ceiling"
for c in "one-pair $messages 1 1000" "100-pairs $messages 100 1000" "request-response $((messages / 10)) 100 1"; do
  set -- $c
  for b in epoll io_uring; do
    record "$b" "$2" "$3" "$4" > "$out/$b"
    v() { awk -v k="$1" '$1 == k {sub("%", "", $2); print $2}' "$out/$b"; }
    ceiling=""
    [ "$b" = epoll ] && ceiling=$(echo "$(v epoll) $(v syscall)" | awk '{printf "%.2fx epoll", 100 / (100 - $1 - $2)}')
    printf "%-18s %-9s %5s%% %5s%% %5s%% %7s%% %6s%% %5s%% | %s\n" "$1" "$b" "$(v user)" "$(v tcp/ip)" "$(v epoll)" "$(v io_uring)" "$(v syscall)" "$(v sleep/wake)" "$ceiling"
  done
done
echo "($messages messages, a tenth for request-response; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r))"
