#!/usr/bin/python3
"""A Proton Python peer for the AMQPNIO tests: a small broker on one listener.

  proton_peer.py PORT [--tls CERT KEY] [--require-client-cert CA] [--source-count N]

Prints "listening PORT" once it accepts connections. Addresses:
  any name     a queue: messages sent to it are accepted and kept; receivers get them in order
  "source"     a receiver gets --source-count messages {"seq": i} as fast as its credit allows
  "reject"     every message is rejected with amqp:precondition-failed "rejected by test peer"
  "release"    every message is released
  "nocredit"   a sender attaches but never gets credit
  "missing"    attaching either way is refused with amqp:not-found
Each connection's authenticated user is printed as "user NAME" (for SASL EXTERNAL checks).
The peer runs until killed; a connection error is printed as "error CONDITION: DESCRIPTION".
"""
import collections
import sys

from proton import Condition, Message, SSLDomain, Delivery
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Broker(MessagingHandler):
    def __init__(self, port, tls, ca, source_count):
        super().__init__(prefetch=0, auto_accept=False)
        self.port, self.tls, self.ca, self.source_count = port, tls, ca, source_count
        self.queues = collections.defaultdict(collections.deque)
        self.consumers = collections.defaultdict(list)
        self.source_sent = {}

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

    def on_connection_opened(self, event):
        user = event.transport.user if event.transport else None
        print("user %s" % user, flush=True)

    def on_link_opening(self, event):
        link = event.link
        address = (link.remote_target.address if link.is_receiver else link.remote_source.address) or ""
        if address == "missing":
            link.condition = Condition("amqp:not-found", "no node named missing")
            if link.is_receiver:
                link.target.address = None
            else:
                link.source.address = None
            link.open()
            link.close()
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
        if address == "source":
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
        if address == "reject":
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
    tls, ca, count = None, None, 0
    i = 2
    while i < len(argv):
        if argv[i] == "--tls":
            tls = (argv[i + 1], argv[i + 2]); i += 3
        elif argv[i] == "--require-client-cert":
            ca = argv[i + 1]; i += 2
        elif argv[i] == "--source-count":
            count = int(argv[i + 1]); i += 2
        else:
            raise SystemExit("unknown argument %s" % argv[i])
    Container(Broker(port, tls, ca, count)).run()


if __name__ == "__main__":
    main(sys.argv)
