#!/usr/bin/python3
"""A Proton Python peer for the AMQPNIO tests: a small broker on one listener.

  proton_peer.py PORT [--tls CERT KEY] [--require-client-cert CA] [--source-count N] [--idle-timeout S]

Prints "listening PORT" once it accepts connections. Addresses:
  any name     a queue: messages sent to it are accepted and kept; receivers get them in order
  "source"     a receiver gets --source-count messages {"seq": i} as fast as its credit allows
  "reject"     every message is rejected with amqp:precondition-failed "rejected by test peer"
  "release"    every message is released
  "nocredit"   a sender attaches but never gets credit
  "hold"       messages are taken and left unsettled until a message arrives on "settle-held",
               which accepts them all; each one the sender then settles prints "sender settled hold"
  "missing"    attaching either way is refused with amqp:not-found
  "zoo"        a receiver gets one message with every AMQP type (make_zoo)
  "zoo-check"  a message equal to make_zoo() in every field Proton decodes is accepted; any other
               is rejected with amqp:precondition-failed naming the first field that differs
Each connection's authenticated user is printed as "user NAME" (for SASL EXTERNAL checks).
The peer runs until killed; a connection error is printed as "error CONDITION: DESCRIPTION".
"""
import collections
import sys
import uuid

from proton import (Array, Condition, Data, Delivery, Described, Message, SSLDomain, Terminus, UNDESCRIBED, byte, char,
                    decimal32, decimal64, decimal128, float32, int32, short, symbol, timestamp, ubyte, uint, ulong, ushort)
from proton.handlers import MessagingHandler
from proton.reactor import Container


ZOO_FIELDS = ["id", "user_id", "subject", "reply_to", "correlation_id", "content_type", "content_encoding",
              "creation_time", "group_id", "durable", "priority", "ttl", "properties", "annotations", "body"]


def make_zoo():
    """A message with one value of every AMQP 1.0 type, in the body and the other sections."""
    body = {
        "null": None, "bool": True, "ubyte": ubyte(200), "ushort": ushort(60000), "uint": uint(4000000000),
        "ulong": ulong(2 ** 63 + 5), "byte": byte(-100), "short": short(-30000), "int": int32(-2000000000),
        "long": -2 ** 62, "float": float32(1.5), "double": 2.25, "decimal32": decimal32(0x22000001),
        "decimal64": decimal64(0x2238000000000001), "decimal128": decimal128(bytes(range(16))), "char": char("\u00e9"),
        "timestamp": timestamp(1700000000123), "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "binary": b"\x00\x01\xff", "string": "h\u00e9llo \U0001F600", "symbol": symbol("a-symbol"),
        "list": [int32(1), "two", [int32(3)]], "map": {"k": "v", int32(2): None},
        "array": Array(UNDESCRIBED, Data.INT, 1, 2, 3), "described": Described(symbol("x:desc"), "v"),
    }
    return Message(body=body, id="zoo-1", user_id=b"zoo-user", subject="types", reply_to="replies",
                   correlation_id=uuid.UUID("87654321-4321-8765-4321-876543218765"), content_type="application/x-zoo",
                   content_encoding="identity", creation_time=1700000000.5, group_id="g", durable=True, priority=7,
                   ttl=12.5, properties={"app": int32(7), "name": "zoo"}, annotations={symbol("x-opt-a"): "b"})


def zoo_difference(message):
    want = make_zoo()
    for field in ZOO_FIELDS:
        if getattr(message, field) != getattr(want, field):
            return "%s differs: got %r, want %r" % (field, getattr(message, field), getattr(want, field))
    return None


class Refuse:
    def __init__(self, link):
        self.link = link

    def on_timer_task(self, event):
        self.link.close()


class Broker(MessagingHandler):
    def __init__(self, port, tls, ca, source_count, idle_timeout):
        super().__init__(prefetch=0, auto_accept=False)
        self.port, self.tls, self.ca, self.source_count = port, tls, ca, source_count
        self.idle_timeout = idle_timeout
        self.queues = collections.defaultdict(collections.deque)
        self.consumers = collections.defaultdict(list)
        self.source_sent = {}
        self.held = []

    def on_start(self, event):
        if self.tls:
            domain = SSLDomain(SSLDomain.MODE_SERVER)
            domain.set_credentials(self.tls[0], self.tls[1], None)
            if self.ca:
                domain.set_trusted_ca_db(self.ca)
                domain.set_peer_authentication(SSLDomain.VERIFY_PEER, self.ca)
            else:
                domain.set_peer_authentication(SSLDomain.ANONYMOUS_PEER)
            event.container.ssl.server = domain
            self.acceptor = event.container.listen("amqps://127.0.0.1:%d" % self.port)
        else:
            self.acceptor = event.container.listen("127.0.0.1:%d" % self.port)
        print("listening %d" % self.port, flush=True)

    def on_connection_bound(self, event):
        if self.idle_timeout:
            # Proton closes a connection silent for this long, and announces it in its open.
            event.transport.idle_timeout = self.idle_timeout

    def on_connection_opened(self, event):
        user = event.transport.user if event.transport else None
        print("user %s" % user, flush=True)

    def on_link_opening(self, event):
        link = event.link
        address = (link.remote_target.address if link.is_receiver else link.remote_source.address) or ""
        if address == "missing":
            # Attach, then detach with the error (§2.6.3). Proton 0.37 drops a close made inside
            # this callback, so the detach is made on the next turn of the reactor.
            link.condition = Condition("amqp:not-found", "no node named missing")
            (link.target if link.is_receiver else link.source).type = Terminus.UNSPECIFIED  # null
            link.open()
            event.container.schedule(0, Refuse(link))
            return
        if link.is_receiver:
            link.target.address = address
            link.open()
            if address != "nocredit":
                link.flow(100)
        else:
            link.source.address = address
            link.open()
            if address != "source":
                self.consumers[address].append(link)

    def on_sendable(self, event):
        link = event.link
        address = link.source.address
        if address == "zoo":
            if link.credit > 0 and not self.source_sent.get(link):
                event.sender.send(make_zoo())
                self.source_sent[link] = 1
        elif address == "source":
            sent = self.source_sent.get(link, 0)
            while link.credit > 0 and sent < self.source_count:
                event.sender.send(Message(body={"seq": sent}))
                sent += 1
            self.source_sent[link] = sent
        else:
            self.dispatch(address)

    def on_message(self, event):
        link, delivery = event.link, event.delivery
        address = link.target.address
        if address == "zoo-check":
            difference = zoo_difference(event.message)
            if difference:
                delivery.local.condition = Condition("amqp:precondition-failed", difference)
                self.settle(delivery, Delivery.REJECTED)
            else:
                self.accept(delivery)
        elif address == "hold":
            self.held.append(delivery)
        elif address == "settle-held":
            for held in self.held:
                held.update(Delivery.ACCEPTED)
            self.held = []
            self.accept(delivery)
        elif address == "reject":
            delivery.local.condition = Condition("amqp:precondition-failed", "rejected by test peer")
            self.settle(delivery, Delivery.REJECTED)
        elif address == "release":
            self.settle(delivery, Delivery.RELEASED)
        else:
            self.queues[address].append(event.message)
            self.accept(delivery)
            self.dispatch(address)
        link.flow(1)

    def dispatch(self, address):
        queue = self.queues[address]
        for link in self.consumers[address]:
            while queue and link.credit > 0 and link.state & link.LOCAL_ACTIVE:
                link.send(queue.popleft())

    def on_settled(self, event):
        if event.link.is_receiver and event.link.target.address == "hold":
            print("sender settled hold", flush=True)
            event.delivery.settle()

    def on_link_closing(self, event):
        link = event.link
        for links in self.consumers.values():
            if link in links:
                links.remove(link)

    def on_transport_error(self, event):
        c = event.transport.condition
        if c:
            print("error %s: %s" % (c.name, c.description), flush=True)


def main(argv):
    port = int(argv[1])
    tls, ca, count, idle = None, None, 0, None
    i = 2
    while i < len(argv):
        if argv[i] == "--tls":
            tls = (argv[i + 1], argv[i + 2]); i += 3
        elif argv[i] == "--require-client-cert":
            ca = argv[i + 1]; i += 2
        elif argv[i] == "--source-count":
            count = int(argv[i + 1]); i += 2
        elif argv[i] == "--idle-timeout":
            idle = float(argv[i + 1]); i += 2
        else:
            raise SystemExit("unknown argument %s" % argv[i])
    Container(Broker(port, tls, ca, count, idle)).run()


if __name__ == "__main__":
    main(sys.argv)
