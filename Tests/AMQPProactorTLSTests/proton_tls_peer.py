#!/usr/bin/python3
"""A Qpid Proton peer over TLS (Proton's SSLDomain) for ProtonTLSInteropTests.swift.

    proton_tls_peer.py server CERT KEY CA COUNT       a TLS server requiring client certificates
                                                      from CA; prints "port N" once listening
    proton_tls_peer.py client PORT CA CERT KEY COUNT  a TLS client of 127.0.0.1:PORT that checks
                                                      the server's name ("localhost") against CA
                                                      and presents CERT

Either way the peer receives COUNT messages on the link the other side sends on (accepting each)
and sends COUNT messages on the link the other side receives from: the Swift side opens both
links when it is the client, Proton does when it is. Messages are amqp-value strings
"proton <i>" / whatever the Swift side sends. On success it prints "ok sent=N received=N
protocol=TLSvX cipher=NAME" and exits 0; a transport error, a rejected delivery or its own
30-second deadline print "FAIL: ..." on stderr and exit 1.
"""

import socket
import sys

from proton import Message, SSL, SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import Container


def fail(why):
    sys.stderr.write("FAIL: %s\n" % why)
    sys.stderr.flush()
    sys.exit(1)


class Peer(MessagingHandler):
    def __init__(self, args):
        super(Peer, self).__init__(prefetch=0, auto_accept=False)
        self.role = args[0]
        self.args = args[1:]
        self.count = int(args[-1])
        self.sent = 0
        self.received = 0
        self.settled = 0
        self.connection = None
        self.ssl_info = ""

    def on_start(self, event):
        event.container.schedule(30, self)
        if self.role == "server":
            cert, key, ca, _ = self.args
            domain = SSLDomain(SSLDomain.MODE_SERVER)
            domain.set_credentials(cert, key, None)
            domain.set_trusted_ca_db(ca)
            domain.set_peer_authentication(SSLDomain.VERIFY_PEER, ca)
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            self.acceptor = event.container.listen("127.0.0.1:%d" % port, ssl_domain=domain)
            print("port %d" % port)
            sys.stdout.flush()
        else:
            port, ca, cert, key, _ = self.args
            domain = SSLDomain(SSLDomain.MODE_CLIENT)
            domain.set_trusted_ca_db(ca)
            domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, ca)
            domain.set_credentials(cert, key, None)
            self.connection = event.container.connect("amqps://localhost:%s" % port, ssl_domain=domain,
                                                      sasl_enabled=False, reconnect=False)
            event.container.create_sender(self.connection, "q")
            event.container.create_receiver(self.connection, "q")

    def on_timer_task(self, event):
        fail("deadline: sent %d (settled %d), received %d of %d" % (self.sent, self.settled, self.received, self.count))

    def on_connection_opened(self, event):
        self.connection = event.connection
        try:
            ssl = event.transport.ssl()
            self.ssl_info = " protocol=%s cipher=%s" % (ssl.protocol_name(), ssl.cipher_name())
        except Exception as e:
            self.ssl_info = " ssl=%r" % e

    def on_link_opened(self, event):
        if event.link.is_receiver:
            event.link.flow(self.count)

    def on_sendable(self, event):
        while event.sender.credit > 0 and self.sent < self.count:
            event.sender.send(Message(body="proton %d" % self.sent))
            self.sent += 1

    def on_message(self, event):
        self.received += 1
        self.accept(event.delivery)
        self.check_done()

    def on_accepted(self, event):
        self.settled += 1
        self.check_done()

    def on_rejected(self, event):
        fail("a delivery was rejected")

    def check_done(self):
        if self.received == self.count and self.settled == self.count and self.role == "client":
            self.connection.close()

    def on_transport_error(self, event):
        c = event.transport.condition
        if c is not None and self.received == self.count and self.settled == self.count:
            return
        fail("Proton transport error %s: %s" % (c.name if c else "?", c.description if c else "?"))

    def on_transport_closed(self, event):
        # Both closes exchanged (or the connection lost: then the counts say so).
        if self.received != self.count or self.settled != self.count:
            fail("closed after sent %d (settled %d), received %d of %d"
                 % (self.sent, self.settled, self.received, self.count))
        print("ok sent=%d received=%d%s" % (self.sent, self.received, self.ssl_info))
        sys.stdout.flush()
        sys.exit(0)


if __name__ == "__main__":
    if not SSL.present():
        fail("this Proton has no SSL")
    Container(Peer(sys.argv[1:])).run()
    fail("the container stopped without a verdict")
