#!/usr/bin/python3
"""Hostile connections to a broker: each must be closed within a few seconds, with an AMQP close
frame where the protocol allows one, while the broker's memory stays bounded.

    hostile.py PORT BROKER_PID ROUNDS
Prints one line per case and a summary; exits 1 if any connection was left open.
"""
import os
import socket
import struct
import sys
import time

HEADER = b"AMQP\x00\x01\x00\x00"
SASL_HEADER = b"AMQP\x03\x01\x00\x00"


def frame(body, channel=0):
    return struct.pack(">IBBH", 8 + len(body), 2, 0, channel) + body


OPEN = frame(b"\x00\x53\x10\xc0\x04\x01\xa1\x01x")


def begin(channel):
    return frame(b"\x00\x53\x11\xc0\x0e\x04\x40\x43\x70\x00\x00\x08\x00\x70\x00\x00\x08\x00", channel)


def attach(handle):
    """An attach as a sender, with neither source nor target: name, handle, role."""
    name = b"s%d" % handle
    body = b"\xa1" + bytes([len(name)]) + name + b"\x70" + struct.pack(">I", handle) + b"\x42"
    return frame(b"\x00\x53\x12\xc0" + bytes([len(body) + 1, 3]) + body)


def nested(depth):
    inner = b"\x45"
    for _ in range(depth):
        inner = b"\xd0" + struct.pack(">II", len(inner) + 4, 1) + inner
    return inner


CASES = {
    "random bytes": lambda: os.urandom(4096),
    "a lying frame size": lambda: HEADER + struct.pack(">I", 0xFFFFFF00) + b"\x02\x00\x00\x00" + os.urandom(64),
    "a frame smaller than its header": lambda: HEADER + struct.pack(">I", 4) + b"\x02\x00\x00\x00",
    "5000 nested lists": lambda: HEADER + frame(b"\x00\x53\x10" + nested(5000)),
    "a list claiming 2^31 elements": lambda: HEADER + frame(b"\x00\x53\x10\xd0" + struct.pack(">II", 8, 0x7FFFFFFF) + b"\x40" * 4),
    "SASL garbage": lambda: SASL_HEADER + os.urandom(512),
    "a storm of 300 sessions": lambda: HEADER + OPEN + b"".join(begin(c) for c in range(300)),
    "a storm of 20000 links": lambda: HEADER + OPEN + begin(0) + b"".join(attach(h) for h in range(20000)),
    "a socket that never speaks": lambda: b"",
    "half a protocol header": lambda: b"AMQ",
}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_case(port, payload):
    s = socket.create_connection(("127.0.0.1", port))
    start = time.monotonic()
    if payload:
        try:
            s.sendall(payload)
        except OSError:
            pass
    s.settimeout(0.2)
    got = b""
    while time.monotonic() - start < 6:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    else:
        s.close()
        return None, got
    s.close()
    return time.monotonic() - start, got


def main():
    port, pid, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    before = rss_kb(pid)
    open_left = 0
    for r in range(rounds):
        for name, make in CASES.items():
            took, got = run_case(port, make())
            # An AMQP close frame carries the close performative's descriptor, 0x00 0x53 0x18.
            closed_amqp = b"\x00\x53\x18" in got
            if took is None:
                open_left += 1
            if r == 0:
                print("%-32s %s%s" % (name, "still open after 6 s" if took is None else "closed after %.2f s" % took,
                                      ", with an AMQP close" if closed_amqp else ""))
    after = rss_kb(pid)
    print("broker memory: %d KB before, %d KB after %d rounds" % (before, after, rounds))
    if open_left:
        print("FAILED: %d connections were left open" % open_left)
        sys.exit(1)
    print("ok")


main()
