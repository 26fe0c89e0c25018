#!/usr/bin/python3
"""Qpid Proton Python sends messages of every AMQP type and section through a broker and reads
them back: each must arrive unchanged. Run by BrokerZooTests.swift with /usr/bin/python3 (Debian's
python3-qpid-proton 0.37) or $AMQP_PROTON_PYTHON (0.40 from PyPI).

    proton_zoo.py URL
Prints "ok N messages" and exits 0, or prints each difference and exits 1.
"""
import sys
import uuid

from proton import (Array, Data, Described, Message, char, decimal32, decimal64, decimal128, float32, int32,
                    short, symbol, timestamp, ubyte, uint, ulong, ushort, byte)
from proton.utils import BlockingConnection


def values():
    """One of each AMQP type, and compounds of them."""
    scalars = [None, True, False, ubyte(7), ushort(65535), uint(4000000000), ulong(2**64 - 1), byte(-7),
               short(-30000), int32(-2000000000), -2**63, float32(1.5), 2.718281828, decimal32(0x22000001),
               decimal64(0x2200000000000001), decimal128(b"\x22" + b"\x00" * 14 + b"\x01"), char("é"), timestamp(1700000000123),
               uuid.UUID("12345678-1234-5678-1234-567812345678"), b"\x00\x01binary\xff", "text ✓",
               symbol("a-symbol")]
    compounds = [list(scalars),
                 {"string-key": int32(1), symbol("sym"): [1, 2], ulong(3): {"nested": True}},
                 Array(Data.NULL, Data.INT, int32(1), int32(2), int32(3)),
                 Array(Data.NULL, Data.STRING, "a", "b"),
                 Described(symbol("example:desc"), ["described", int32(5)])]
    return scalars + compounds


def messages():
    out = []
    for i, v in enumerate(values()):
        m = Message(body=v)
        m.id = ulong(i)
        m.durable = i % 2 == 0
        m.priority = i % 10
        m.ttl = 60.0
        m.user_id = b"zoo"
        m.address = "zoo"
        m.subject = "value %d" % i
        m.reply_to = "replies"
        m.correlation_id = uuid.UUID(int=i)
        m.content_type = symbol("application/x-test")
        m.content_encoding = symbol("identity")
        m.expiry_time = timestamp(1800000000000)
        m.creation_time = timestamp(1700000000000)
        m.group_id = "group"
        m.group_sequence = i
        m.reply_to_group_id = "reply-group"
        m.properties = {"index": int32(i), "kind": type(v).__name__}
        m.annotations = {symbol("x-opt-zoo"): "message annotation", symbol("x-opt-index"): i}
        out.append(m)
    # Bodies larger than one frame (the broker announces 64 KiB frames).
    for size in (70000, 300000):
        m = Message(body=bytes(range(256)) * (size // 256))
        m.id = "big-%d" % size
        m.properties = {"index": int32(len(out))}
        out.append(m)
    return out


FIELDS = ["id", "durable", "priority", "ttl", "user_id", "address", "subject", "reply_to", "correlation_id",
          "content_type", "content_encoding", "expiry_time", "creation_time", "group_id", "group_sequence",
          "reply_to_group_id", "properties", "annotations", "body"]


def norm(x):
    """Proton 0.40 hands binary values over as memoryview, 0.37 as bytes: compare them as bytes."""
    if isinstance(x, memoryview):
        return bytes(x)
    if isinstance(x, dict):
        return {norm(k): norm(v) for k, v in x.items()}
    if isinstance(x, list):
        return [norm(v) for v in x]
    return x


def short(x):
    r = repr(x)
    return r if len(r) < 120 else r[:120] + "..."


def main():
    url = sys.argv[1]
    sent = messages()
    conn = BlockingConnection(url, timeout=30)
    sender = conn.create_sender("zoo")
    for m in sent:
        sender.send(m)
    receiver = conn.create_receiver("zoo", credit=len(sent))
    problems = []
    for expected in sent:
        got = receiver.receive(timeout=30)
        receiver.accept()
        for f in FIELDS:
            a, b = norm(getattr(expected, f)), norm(getattr(got, f))
            if a != b or type(a) is not type(b):
                problems.append("message %r field %s: sent %s (%s), got %s (%s)" % (expected.id, f, short(a), type(a).__name__,
                                                                                 short(b), type(b).__name__))
    conn.close()
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print("ok %d messages" % len(sent))


main()
