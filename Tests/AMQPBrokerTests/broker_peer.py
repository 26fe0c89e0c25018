#!/usr/bin/python3
"""A Qpid Proton Python client of the broker, for BrokerRedeliveryTests.swift and
BrokerChaosTests.swift. Every message it sends carries its id in the application property "id";
every message it receives is printed as one line, flushed at once (so a test that kills it still
reads what it saw):

    <id> <header delivery-count> <header first-acquirer: 1 or 0>

    broker_peer.py send URL ADDRESS PREFIX COUNT
        sends PREFIX-0 .. PREFIX-(COUNT-1), prints "sent COUNT" once all are accepted.
    broker_peer.py take URL ADDRESS COUNT OUTCOME ENDING
        grants exactly COUNT credit, settles each message with OUTCOME (none: leaves it unsettled,
        accept, release, reject, modify-failed, modify-undeliverable, modify-annotated), then once
        COUNT arrived ENDING: close (the connection), detach (the link), end (the session; both
        close the connection once the broker answers), kill
        (SIGKILL itself, so the kernel cuts the socket), or stay (until killed).
    broker_peer.py receive URL ADDRESS COUNT SECONDS
        keeps a credit window of 10 open, accepts everything, exits 0 after COUNT messages or 3
        after SECONDS.
    broker_peer.py consume URL ADDRESS WINDOW
        accepts everything with a credit window of WINDOW until killed (the chaos test's consumer).
    broker_peer.py produce URL ADDRESS PREFIX SECONDS
        sends PREFIX-0, PREFIX-1, ... (up to 10 every 10 ms) for SECONDS, prints "accepted <id>"
        for each accepted, and "sent N" and exits once every message sent is settled (the chaos test's
        producer).
"""
import os
import signal
import sys
import time

from proton import Delivery, Message, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container


def line(message):
    mid = (message.properties or {}).get("id", "?")
    print("%s %d %d" % (mid, message.delivery_count or 0, 1 if message.first_acquirer else 0), flush=True)


class Send(MessagingHandler):
    def __init__(self, url, address, prefix, count):
        super(Send, self).__init__()
        self.url, self.address, self.prefix, self.count = url, address, prefix, count
        self.sent = self.accepted = 0

    def on_start(self, event):
        event.container.create_sender(event.container.connect(self.url), self.address)

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.count:
            mid = "%s-%d" % (self.prefix, self.sent)
            event.sender.send(Message(body="body of " + mid, properties={"id": mid}))
            self.sent += 1

    def on_accepted(self, event):
        self.accepted += 1
        if self.accepted == self.count:
            print("sent %d" % self.count, flush=True)
            event.connection.close()


class Take(MessagingHandler):
    def __init__(self, url, address, count, outcome, ending):
        super(Take, self).__init__(prefetch=0, auto_accept=False, auto_settle=False)
        self.url, self.address, self.count, self.outcome, self.ending = url, address, count, outcome, ending
        self.taken = 0

    def on_start(self, event):
        receiver = event.container.create_receiver(event.container.connect(self.url), self.address)
        receiver.flow(self.count)

    def on_message(self, event):
        line(event.message)
        self.settle(event.delivery)
        self.taken += 1
        if self.taken < self.count:
            return
        if self.ending == "close":
            event.connection.close()
        elif self.ending == "detach":
            event.receiver.close()
        elif self.ending == "end":
            event.session.close()
        elif self.ending == "kill":
            os.kill(os.getpid(), signal.SIGKILL)

    # After a detach or an end, the connection closes once the broker has answered it.
    def on_link_closed(self, event):
        event.connection.close()

    def on_session_closed(self, event):
        event.connection.close()

    def settle(self, d):
        if self.outcome == "none":
            return
        if self.outcome == "accept":
            d.update(Delivery.ACCEPTED)
        elif self.outcome == "release":
            d.update(Delivery.RELEASED)
        elif self.outcome == "reject":
            d.update(Delivery.REJECTED)
        else:
            d.local.failed = self.outcome in ("modify-failed", "modify-annotated")
            d.local.undeliverable = self.outcome == "modify-undeliverable"
            if self.outcome == "modify-annotated":
                d.local.annotations = {symbol("x-opt-reason"): "tried once"}
            d.update(Delivery.MODIFIED)
        d.settle()


class Receive(MessagingHandler):
    def __init__(self, url, address, count, window=10):
        super(Receive, self).__init__(prefetch=window)
        self.url, self.address, self.count = url, address, count
        self.received = 0

    def on_start(self, event):
        event.container.create_receiver(event.container.connect(self.url), self.address)

    def on_message(self, event):
        line(event.message)
        self.received += 1
        if self.received == self.count:
            event.connection.close()


class Produce(MessagingHandler):
    def __init__(self, url, address, prefix, seconds):
        super(Produce, self).__init__()
        self.url, self.address, self.prefix = url, address, prefix
        self.deadline = time.time() + seconds
        self.sent = 0
        self.outstanding = {}
        self.sender = None

    def on_start(self, event):
        self.sender = event.container.create_sender(event.container.connect(self.url, reconnect=False), self.address)
        event.container.schedule(0.01, self)

    def on_timer_task(self, event):
        if time.time() < self.deadline:
            budget = 10
            while self.sender.credit and budget:
                mid = "%s-%d" % (self.prefix, self.sent)
                d = self.sender.send(Message(body="body of " + mid, properties={"id": mid}))
                self.outstanding[d.tag] = mid
                self.sent += 1
                budget -= 1
            event.container.schedule(0.01, self)
        else:
            self.deadline = None
            self.finish_if_done(event)

    def on_accepted(self, event):
        mid = self.outstanding.pop(event.delivery.tag, None)
        if mid is not None:
            print("accepted " + mid, flush=True)
        self.finish_if_done(event)

    def on_rejected(self, event):
        self.outstanding.pop(event.delivery.tag, None)
        self.finish_if_done(event)

    def on_released(self, event):
        self.outstanding.pop(event.delivery.tag, None)
        self.finish_if_done(event)

    def finish_if_done(self, event):
        if self.deadline is None and not self.outstanding and self.sender.connection.state & self.sender.connection.LOCAL_ACTIVE:
            print("sent %d" % self.sent, flush=True)
            self.sender.connection.close()


def main(argv):
    mode, url, address = argv[1], argv[2], argv[3]
    if mode == "send":
        handler = Send(url, address, argv[4], int(argv[5]))
    elif mode == "take":
        handler = Take(url, address, int(argv[4]), argv[5], argv[6])
    elif mode == "receive":
        handler = Receive(url, address, int(argv[4]))
        signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
        signal.alarm(int(argv[5]))
    elif mode == "produce":
        handler = Produce(url, address, argv[4], float(argv[5]))
    elif mode == "consume":
        handler = Receive(url, address, -1, int(argv[4]))
    else:
        raise SystemExit("unknown mode " + mode)
    Container(handler).run()


if __name__ == "__main__":
    main(sys.argv)
