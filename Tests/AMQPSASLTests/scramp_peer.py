#!/usr/bin/env python3
"""scramp (PyPI), an independent SCRAM implementation, as the other end of ScrampInteropTests.

  scramp_peer.py server MECHANISM USERNAME PASSWORD   scramp's server, knowing USERNAME with PASSWORD
  scramp_peer.py client MECHANISM USERNAME PASSWORD   scramp's client
  scramp_peer.py credential MECHANISM PASSWORD        prints iterations:salt:stored-key:server-key
                                                      (base64), the end of a users-file line

Each SCRAM message crosses stdin/stdout as one line of base64. The peer's last line is "ok", or
"error: <why>" when scramp refused something (the exit status is then 1). The Swift side carries
the messages in AMQP SASL frames through our ConnectionDriver.
"""
import base64
import sys

from scramp import ScramClient, ScramMechanism


def send(message):
    sys.stdout.write(base64.b64encode(message.encode("utf-8")).decode("ascii") + "\n")
    sys.stdout.flush()


def receive():
    line = sys.stdin.readline()
    if not line:
        raise EOFError("the other side stopped before the exchange was done")
    return base64.b64decode(line.strip()).decode("utf-8")


def finish(error=None):
    sys.stdout.write("ok\n" if error is None else f"error: {error}\n")
    sys.stdout.flush()
    sys.exit(0 if error is None else 1)


def server(mechanism, username, password):
    m = ScramMechanism(mechanism)
    salt, stored_key, server_key, iterations = m.make_auth_info(password)

    def auth_fn(name):
        return (salt, stored_key, server_key, iterations) if name == username else None

    s = m.make_server(auth_fn)
    try:
        s.set_client_first(receive())
        send(s.get_server_first())
        s.set_client_final(receive())
    except Exception as e:  # scramp refused: its server-final carries the error (e=...)
        if s.stage is not None and s.stage >= 3:
            send(s.get_server_final())
        finish(f"{type(e).__name__}: {e}")
    send(s.get_server_final())
    finish()


def client(mechanism, username, password):
    c = ScramClient([mechanism], username, password)
    try:
        send(c.get_client_first())
        c.set_server_first(receive())
        send(c.get_client_final())
        c.set_server_final(receive())
    except Exception as e:
        finish(f"{type(e).__name__}: {e}")
    finish()


def credential(mechanism, password):
    salt, stored_key, server_key, iterations = ScramMechanism(mechanism).make_auth_info(password)
    b64 = lambda b: base64.b64encode(b).decode("ascii")
    print(f"{iterations}:{b64(salt)}:{b64(stored_key)}:{b64(server_key)}")


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    {"server": server, "client": client, "credential": credential}[role](*args)
