"""A JMS-style receiveNoWait against a broker, with Qpid Proton Python: fill a queue with N
messages, then ask for them with a drain (credit 10, drain=true) and count what arrives before the
broker reports the drain done. Usage: proton_drain.py URL QUEUE N. Prints 'drained K of N'."""
import sys

from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Drainer(MessagingHandler):
    def __init__(self, url, queue, fill):
        super().__init__(prefetch=0, auto_accept=True)
        self.url, self.queue, self.fill = url, queue, fill
        self.sent = self.accepted = self.received = 0
        self.receiver = None
        self.done = False

    def on_start(self, event):
        self.conn = event.container.connect(self.url)
        event.container.create_sender(self.conn, self.queue)

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.fill:
            event.sender.send(Message(body="m%d" % self.sent))
            self.sent += 1

    def on_accepted(self, event):
        self.accepted += 1
        if self.accepted == self.fill:
            event.sender.close()
            self.receiver = event.container.create_receiver(self.conn, self.queue)
            self.receiver.drain(10)

    def on_message(self, event):
        self.received += 1
        self.check()

    def on_link_flow(self, event):
        self.check()

    def check(self):
        # The drain is over once the broker used up or gave back the credit.
        if self.done or self.receiver is None or self.receiver.draining():
            return
        if self.receiver.credit == 0:
            self.done = True
            print("drained %d of %d" % (self.received, self.fill))
            self.conn.close()

    def on_transport_error(self, event):
        print("transport error:", event.transport.condition)
        sys.exit(1)


Container(Drainer(sys.argv[1], sys.argv[2], int(sys.argv[3]))).run()
