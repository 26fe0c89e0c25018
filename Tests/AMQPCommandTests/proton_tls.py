#!/usr/bin/python3
"""Qpid Proton Python over TLS (SSLDomain), as a client of `amqp broker` and as a server for
`amqp send`. Run by CommandTLSTests.swift with /usr/bin/python3 (Debian's python3-qpid-proton 0.37)
or $AMQP_PROTON_PYTHON.

    proton_tls.py send URL COUNT CA [MECHS]      sends COUNT messages, verifying the server's
                                                 certificate and host name against CA; the URL
                                                 carries user:password; MECHS limits SASL
    proton_tls.py receive URL COUNT CA [MECHS]   receives COUNT messages
    proton_tls.py server PORT COUNT CERT KEY [CA] listens with TLS on 127.0.0.1:PORT (asking for a
                                                 client certificate from CA when given) and
                                                 receives COUNT messages

Prints one line at the end ("sent N", "received N", or the server's "received N from
<subject>"), or the error and exits 1. A server prints "listening" once it listens.
"""
import sys

from proton import Message, SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import Container


def client_domain(ca):
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(ca)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, ca)
    return domain


class Client(MessagingHandler):
    def __init__(self, operation, url, count, ca, mechs):
        super().__init__()
        self.operation, self.url, self.count, self.ca, self.mechs = operation, url, count, ca, mechs
        self.sent = self.accepted = self.received = 0
        self.error = None

    def on_start(self, event):
        options = {"ssl_domain": client_domain(self.ca), "sasl_enabled": True, "reconnect": False}
        if self.mechs:
            options["allowed_mechs"] = self.mechs
        conn = event.container.connect(self.url, **options)
        address = self.url.split("/", 3)[3]
        if self.operation == "send":
            event.container.create_sender(conn, target=address)
        else:
            event.container.create_receiver(conn, source=address)

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.count:
            event.sender.send(Message(body="proton over TLS %d" % self.sent))
            self.sent += 1

    def on_accepted(self, event):
        self.accepted += 1
        if self.accepted == self.count:
            print("sent %d" % self.accepted)
            event.connection.close()

    def on_message(self, event):
        self.received += 1
        if self.received == self.count:
            print("received %d" % self.received)
            event.connection.close()

    def on_transport_error(self, event):
        cond = event.transport.condition
        self.error = "%s: %s" % (cond.name, cond.description) if cond else "transport error"

    def on_connection_error(self, event):
        cond = event.connection.remote_condition
        self.error = "%s: %s" % (cond.name, cond.description) if cond else "connection error"


class Server(MessagingHandler):
    def __init__(self, port, count, cert, key, ca):
        super().__init__()
        self.port, self.count, self.cert, self.key, self.ca = port, count, cert, key, ca
        self.received = 0
        self.subjects = set()
        self.acceptor = None

    def on_start(self, event):
        domain = SSLDomain(SSLDomain.MODE_SERVER)
        domain.set_credentials(self.cert, self.key, None)
        if self.ca:
            domain.set_trusted_ca_db(self.ca)
            domain.set_peer_authentication(SSLDomain.VERIFY_PEER, self.ca)
        else:
            domain.set_peer_authentication(SSLDomain.ANONYMOUS_PEER)
        self.acceptor = event.container.listen("amqps://127.0.0.1:%s" % self.port, ssl_domain=domain)
        print("listening", flush=True)

    def on_connection_opened(self, event):
        ssl = getattr(event.transport, "_ssl", None)
        subject = ssl.remote_subject if ssl else None
        self.subjects.add("user %s, certificate %s" % (event.transport.user, subject))

    def on_message(self, event):
        self.received += 1
        if self.received == self.count:
            print("received %d from %s" % (self.received, ", ".join(sorted(self.subjects))))
            event.connection.close()
            self.acceptor.close()


def main():
    mode = sys.argv[1]
    if mode == "server":
        port, count, cert, key = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
        ca = sys.argv[6] if len(sys.argv) > 6 else None
        Container(Server(port, count, cert, key, ca)).run()
        return 0
    url, count, ca = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    mechs = sys.argv[5] if len(sys.argv) > 5 else None
    handler = Client(mode, url, count, ca, mechs)
    Container(handler).run()
    done = handler.accepted if mode == "send" else handler.received
    if done < count:
        print("error: %s" % (handler.error or "only %d of %d" % (done, count)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
