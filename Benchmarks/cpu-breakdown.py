#!/usr/bin/env python3
"""Where a proactor benchmark's CPU goes, from a system-wide `perf record -a -g` of one run.

Usage: Benchmarks/cpu-breakdown.py PERF_DATA [COMM_PREFIX]

Each sample of the benchmark's threads (command name starting with COMM_PREFIX, default
"proactor") is put in one class by its call chain, first match wins:
  tcp/ip        the kernel's TCP and IP code, loopback delivery included (the same for every backend)
  epoll         epoll_wait and epoll_ctl
  io_uring      io_uring's own work: submission, task work, completions (not the TCP under it)
  syscall       the rest of a system call: entry, file lookup, the socket layer above TCP
  sleep/wake    the scheduler
  user          the engine, the application, the proactor's user-space code
Idle CPUs and other processes are left out. Prints each class's share of the benchmark's CPU.
"""
import collections
import subprocess
import sys

TCP = ("tcp_", "net_rx_action", "__netif_receive", "ip_rcv", "ip_local", "ip_output", "ip_finish",
       "__ip_queue_xmit", "__dev_queue_xmit", "sock_def_readable", "skb_", "__skb", "__kfree_skb")
EPOLL = ("epoll_wait", "do_epoll", "epoll_ctl", "ep_poll", "ep_item", "ep_send_events")
URING = ("io_uring", "io_submit", "io_issue", "__io_", "io_poll", "io_recv", "io_send", "tctx_task",
         "task_work", "io_cq", "io_req", "io_handle_tw", "io_run_task_work")
SLEEP = ("schedule", "futex", "finish_task_switch", "try_to_wake_up")


def classify(frames):
    """`frames`: (is_kernel, symbol), innermost first."""
    kernel = [s for k, s in frames if k]
    if not kernel:
        return "user"
    joined = " ".join(kernel)
    if any(t in joined for t in TCP):
        return "tcp/ip"
    if any(t in joined for t in EPOLL):
        return "epoll"
    if any(t in joined for t in URING):
        return "io_uring"
    if any(t in joined for t in SLEEP):
        return "sleep/wake"
    if frames[0][0]:
        return "syscall"
    return "user"


def main():
    data = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else "proactor"
    script = subprocess.Popen(["perf", "script", "-i", data, "-F", "comm,ip,sym"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    counts = collections.Counter()
    comm, frames = None, []
    for line in script.stdout:
        line = line.rstrip("\n")
        if not line:
            if comm is not None and comm.startswith(prefix) and frames:
                counts[classify(frames)] += 1
            comm, frames = None, []
            continue
        if comm is None:
            comm = line.split()[0] if line.split() else ""
            continue
        parts = line.strip().split(None, 1)
        symbol = parts[1] if len(parts) > 1 else "?"
        frames.append((parts[0].startswith("ffffffff"), symbol))
    total = sum(counts.values())
    if total == 0:
        sys.exit(f"no samples of threads named {prefix}* in {data}")
    for name in ("user", "tcp/ip", "epoll", "io_uring", "syscall", "sleep/wake"):
        print(f"{name:12s} {100.0 * counts[name] / total:5.1f}%")
    print(f"{'samples':12s} {total}")


if __name__ == "__main__":
    main()
