#!/usr/bin/env bash
# Proactor benchmark: a receiver and a sender written on the proactor API (proactor-arrow, release
# build, one thread each) in two processes over loopback, on epoll and on io_uring, against the
# same pair of Proton C's proactor (Benchmarks/ProtonC/proton-c-arrow.c), in the same run, alternating.
# 100-byte messages with SendTime, at-least-once (the receiver accepts and settles), three cases:
#   one pair         one connection, credit 1000;
#   100 pairs        the sender opens 100 connections sharing the count, credit 1000 each;
#   request/response 100 connections, credit 1: one message in flight per pair, syscalls dominate.
# For each: the median messages per second, CPU time per message (user+system of both processes),
# and system calls per message (perf's raw_syscalls:sys_enter, or strace -c -f without perf, in a
# separate run so counting does not slow the timed one). Proton C's arrow opens one connection, so
# it runs in the one-pair case only.
# Then the heap one idle connection costs in each proactor (Benchmarks/ProactorIdle and
# Benchmarks/ProtonC/proactor-idle.c: K connections to themselves, each with a session and a link
# holding 1000 credit), alternating too.
# Usage: Benchmarks/proactor.sh [ROUNDS] [MESSAGES] [IDLE_CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; messages=${2:-200000}; idle=${3:-1000}
source Benchmarks/common.sh
bash Scripts/install-deps.sh
build_proton_arrow
gcc -O2 -o .build/proactor-idle Benchmarks/ProtonC/proactor-idle.c -lqpid-proton
swift build -c release --product proactor-arrow >&2
swift build -c release --product ProactorIdle >&2
# Two descriptors per idle connection (both ends are in one process).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT


# The programs, by name; Proton C's takes no backend= and no connections=.
program() {
  case $1 in
    epoll|io_uring) echo ".build/release/proactor-arrow backend=$1" ;;
    proton) echo ".build/proton-c-arrow" ;;
  esac
}
# args CONNECTIONS: the sender's extra arguments for a case.
args() { [ "$1" = 1 ] || echo "connections=$1"; }

# run BACKEND CASE COUNT CONNECTIONS CREDIT: one timed transfer; appends messages per second and
# CPU microseconds per message to $out/BACKEND-CASE.
run() {
  local prog p start end; prog=$(program "$1"); p=$(port)
  /usr/bin/time -f "%U %S" -o "$out/rtime" $prog connection-mode=server operation=receive port="$p" count="$3" credit-window="$5" quiet=1 2>/dev/null &
  local pid=$!
  wait_port "$p"
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$out/stime" $prog connection-mode=client operation=send port="$p" count="$3" credit-window="$5" $(args "$4") quiet=1 2>/dev/null
  wait "$pid"
  end=$(date +%s.%N)
  cat "$out/rtime" "$out/stime" | awk -v n="$3" -v s="$start" -v e="$end" \
    '{cpu += $1 + $2} END {printf "%.0f %.2f\n", n / (e - s), cpu * 1e6 / n}' >> "$out/$1-$2"
}

# count BACKEND CASE COUNT CONNECTIONS CREDIT: system calls per message of both processes.
count() {
  local prog p; prog=$(program "$1"); p=$(port)
  if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null true 2>/dev/null; then
    perf stat -e raw_syscalls:sys_enter -x, -o "$out/rcount" $prog connection-mode=server operation=receive port="$p" count="$3" credit-window="$5" quiet=1 2>/dev/null &
    local pid=$!; wait_port "$p"
    perf stat -e raw_syscalls:sys_enter -x, -o "$out/scount" $prog connection-mode=client operation=send port="$p" count="$3" credit-window="$5" $(args "$4") quiet=1 2>/dev/null
    wait "$pid"
    cat "$out/rcount" "$out/scount" | awk -F, -v n="$3" '/sys_enter/ {c += $1} END {printf "%.2f\n", c / n}' > "$out/$1-$2-syscalls"
  else
    strace -c -f -o "$out/rcount" $prog connection-mode=server operation=receive port="$p" count="$3" credit-window="$5" quiet=1 2>/dev/null &
    local pid=$!; wait_port "$p"
    strace -c -f -o "$out/scount" $prog connection-mode=client operation=send port="$p" count="$3" credit-window="$5" $(args "$4") quiet=1 2>/dev/null
    wait "$pid"
    cat "$out/rcount" "$out/scount" | awk -v n="$3" '$NF == "total" {c += $4} END {printf "%.2f\n", c / n}' > "$out/$1-$2-syscalls"
  fi
}

# The cases: name, messages, connections, credit, backends.
cases=("one-pair $messages 1 1000 epoll io_uring proton"
       "100-pairs $messages 100 1000 epoll io_uring"
       "request-response $((messages / 2)) 100 1 epoll io_uring")
for i in $(seq "$rounds"); do
  for c in "${cases[@]}"; do
    set -- $c; name=$1 n=$2 conns=$3 credit=$4; shift 4
    for b in "$@"; do run "$b" "$name" "$n" "$conns" "$credit"; done
  done
done
for c in "${cases[@]}"; do
  set -- $c; name=$1 n=$2 conns=$3 credit=$4; shift 4
  for b in "$@"; do count "$b" "$name" "$n" "$conns" "$credit"; done
done
for i in $(seq "$rounds"); do
  .build/release/ProactorIdle "$idle" | awk '/^idle-connection-bytes/ {print $2}' >> "$out/swift-idle"
  .build/proactor-idle "$idle" | awk '/^idle-connection-bytes/ {print $2}' >> "$out/proton-idle"
done

# med FILE COLUMN: the median of one column.
med() { [ -f "$1" ] && awk -v c="$2" '{print $c}' "$1" | median || echo "-"; }
ratio() { [ "$1" != - ] && [ "$2" != - ] && echo "$1 $2" | awk '{printf "%.2fx", $1 / $2}' || echo "-"; }
printf "%-18s %11s %11s %11s %9s %9s | %s\n" "case" "epoll" "io_uring" "proton-c" "uring/ep" "uring/pc" "CPU us/msg, syscalls/msg: epoll io_uring proton-c"
for c in "${cases[@]}"; do
  set -- $c; name=$1
  e=$(med "$out/epoll-$name" 1); u=$(med "$out/io_uring-$name" 1); p=$(med "$out/proton-$name" 1)
  ec=$(med "$out/epoll-$name" 2); uc=$(med "$out/io_uring-$name" 2); pc=$(med "$out/proton-$name" 2)
  es=$(cat "$out/epoll-$name-syscalls" 2>/dev/null || echo -); us=$(cat "$out/io_uring-$name-syscalls" 2>/dev/null || echo -)
  ps=$(cat "$out/proton-$name-syscalls" 2>/dev/null || echo -)
  printf "%-18s %11s %11s %11s %9s %9s | %s %s %s, %s %s %s\n" "$name msg/s" "$e" "$u" "$p" "$(ratio "$u" "$e")" "$(ratio "$u" "$p")" "$ec" "$uc" "$pc" "$es" "$us" "$ps"
done
si=$(median < "$out/swift-idle"); pi=$(median < "$out/proton-idle")
printf "%-18s %11s %11s %11s (Proton/Swift %.2fx)\n" "idle conn, bytes" "$si" "" "$pi" "$(echo "$pi $si" | awk '{print $1/$2}')"
echo "(median of $rounds alternating rounds, $messages messages, half for request-response; one thread"
echo " per process; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r))"
