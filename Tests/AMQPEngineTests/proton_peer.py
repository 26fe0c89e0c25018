#!/usr/bin/python3
"""A Qpid Proton peer for the ConnectionDriver interop tests (ProtonInteropTests.swift).

    proton_peer.py SCENARIO [key=value ...]

Runs Proton's own engine (Transport + Connection + Collector, in memory: no reactor, no sockets)
and moves its bytes over fd 0 (AMQP in) and fd 1 (AMQP out). Nothing else ever goes to fd 1:
diagnostics, Proton's frame trace and the final verdict go to stderr. Exit status 0 means the
scenario's own checks held; 1 means a check failed (each failure is printed as "FAIL: ...");
2 means the peer itself broke (an exception or its own deadline).

A Proton transport error (a framing error, "data after close", an idle timeout, a SASL failure...)
is a failed check, printed as "FAIL: Proton transport error CONDITION: DESCRIPTION", unless the
scenario expects exactly that one (transport_error=CONDITION).

Options (key=value), common to every scenario:
    mode=client|server    Proton's role (default server); the Swift driver takes the other one.
    timeout=SECONDS       the peer's own deadline (default 20), below the Swift harness's 30 s.
    max_frame=N           transport.max_frame_size before open.
    idle_timeout=SECONDS  transport.idle_timeout (Proton's local idle timeout, announced in open).
    transport_error=COND  the one transport error Proton must report (by condition name); without
                          it any transport error fails the run.
    tick=0                never call transport.tick: Proton then sends no heartbeats.
    sasl=MECHS            turn on Proton's SASL layer with these allowed mechanisms (space
    user=, password=      separated, e.g. sasl=PLAIN); user/password set Connection.user/password
    insecure=1            (client) and allow_insecure_mechs (PLAIN without TLS). See
                          Peer.configure_sasl; the sasl scenario uses it.
Scenario options are listed in each scenario's docstring.

PN_TRACE_FRM=1 in the environment turns on Proton's frame trace (to stderr).

Conventions shared with the Swift side (keep in step with ProtonInteropTests.swift):
  * whoever is the client begins the session and attaches the links; the server answers;
  * the side that checks the last thing closes the connection; the other side answers;
  * messages are amqp-value strings "<party> <i>" with application property "i" = int i.
"""

import os
import select
import sys
import time
import traceback

import cproton
from proton import (UNDESCRIBED, VERSION, Array, Collector, Condition, Connection, Data, Delivery, Endpoint, Link, Message,
                    SASL, SymbolList, Terminus, Transport, int32, symbol)

# Stray prints must never reach the AMQP byte stream on fd 1.
sys.stdout = sys.stderr

SCENARIO = sys.argv[1] if len(sys.argv) > 1 else "?"


def log(msg):
    sys.stderr.write("proton_peer[%s]: %s\n" % (SCENARIO, msg))
    sys.stderr.flush()


def delivery_tag(dlv):
    """The delivery's tag, as a key. The cffi binding (Proton 0.39 on) decodes Delivery.tag as
    UTF-8, and so raises on a tag that is not (AMQP allows any bytes; our driver's own counter tags
    are ASCII since this was found); there the C function gives the bytes. The SWIG binding (0.37)
    copes with any tag."""
    if hasattr(cproton, "lib"):
        tag = cproton.lib.pn_delivery_tag(dlv._impl)
        return bytes(cproton.ffi.unpack(tag.start, tag.size))
    return dlv.tag


# ---------------------------------------------------------------------------------------------
# Values both sides agree on (mirrored in ProtonInteropTests.swift)

SWIFT_CONTAINER = "swift-driver"
SWIFT_HOSTNAME = "swift.example"
PROTON_CONTAINER = "proton-peer"
PROTON_HOSTNAME = "proton.example"
PROTON_OFFERED = ["proton-offer-a", "proton-offer-b"]
PROTON_DESIRED = ["proton-desire"]
PROTON_PROPERTIES = {symbol("proton-prop"): int32(37), symbol("proton-name"): "peer"}
SWIFT_OFFERED = ["swift-offer"]
SWIFT_DESIRED = ["swift-desire-a", "swift-desire-b"]
SWIFT_PROPERTIES = {symbol("swift-prop"): "yes", symbol("swift-number"): int32(6)}

SWIFT_CLOSE = ("amqp:connection:forced", "swift closes")
PROTON_CLOSE = ("amqp:internal-error", "proton closes")
DETACH_ERROR = ("amqp:link:detach-forced", "detached by %s")

DURABLE = {0: Terminus.NONDURABLE, 1: Terminus.CONFIGURATION, 2: Terminus.DELIVERIES}
EXPIRY = {"link-detach": Terminus.EXPIRE_WITH_LINK, "session-end": Terminus.EXPIRE_WITH_SESSION,
          "connection-close": Terminus.EXPIRE_WITH_CONNECTION, "never": Terminus.EXPIRE_NEVER}


def terminus_spec(party, link, kind):
    """The source or target that `party` ("swift" or "proton") puts in its attach of `link`."""
    table = {
        ("swift", "source"): (1, "never", 17, True),
        ("swift", "target"): (2, "connection-close", 42, False),
        ("proton", "source"): (2, "link-detach", 99, False),
        ("proton", "target"): (1, "never", 7, True),
    }
    durable, expiry, timeout, dynamic = table[(party, kind)]
    return {"address": "%s/%s/%s" % (party, link, kind), "durable": durable, "expiry": expiry,
            "timeout": timeout, "dynamic": dynamic, "capabilities": ["%s-%s-cap" % (party, kind), "shared-cap"]}


# The dispositions scenario: the receiver applies STATES[i] to delivery i.
STATES = ["accepted", "rejected", "released", "modified", "received"]
REJECT_ERROR = ("amqp:precondition-failed", "rejected by %s", {symbol("reason"): "test"})


def modified_annotations(party):
    return {symbol("x-opt-" + party): int32(7)}
RECEIVED_SECTION = (3, 1234)

LARGE_SIZE = 1 << 20


def large_body():
    return bytes((i * 31) & 0xFF for i in range(LARGE_SIZE))


def symbols(obj):
    """Proton's decoding of a symbol or array of symbols as a list of str (None stays None)."""
    if obj is None:
        return None
    if isinstance(obj, (list, tuple)):
        return [str(s) for s in obj]
    if hasattr(obj, "elements"):
        return [str(s) for s in obj.elements]
    return [str(obj)]


def symbol_array(names):
    return Array(UNDESCRIBED, Data.SYMBOL, *[symbol(n) for n in names])


def data_object(data):
    """The first value of a proton.Data, or None."""
    data.rewind()
    return data.get_object() if data.next() else None


def set_terminus(t, spec):
    t.address = spec["address"]
    t.durability = DURABLE[spec["durable"]]
    t.expiry_policy = EXPIRY[spec["expiry"]]
    t.timeout = spec["timeout"]
    t.dynamic = spec["dynamic"]
    caps = t.capabilities
    caps.clear()
    caps.put_array(False, Data.SYMBOL)
    caps.enter()
    for c in spec["capabilities"]:
        caps.put_symbol(symbol(c))
    caps.exit()


def message(party, i):
    return Message(body="%s %d" % (party, i), properties={"i": int32(i)})


class Failed(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The peer: Proton's engine over fds 0 and 1


class Peer:
    def __init__(self, scenario_cls, opts):
        self.opts = opts
        self.mode = opts.get("mode", "server")
        self.transport = Transport(Transport.SERVER if self.mode == "server" else Transport.CLIENT)
        if os.environ.get("PN_TRACE_FRM") == "1":
            self.transport.trace(Transport.TRACE_FRM)
        if "max_frame" in opts:
            self.transport.max_frame_size = int(opts["max_frame"])
        if "idle_timeout" in opts:
            self.transport.idle_timeout = float(opts["idle_timeout"])
        self.ticking = opts.get("tick", "1") != "0"
        self.connection = Connection()
        self.collector = Collector()
        self.connection.collect(self.collector)
        self.configure_sasl()
        self.failures = []
        # (condition, description) of each transport error Proton reported.
        self.transport_errors = []
        self.scenario = scenario_cls(self, opts)
        self.scenario.configure(self.transport, self.connection)
        self.transport.bind(self.connection)
        self.deadline = time.monotonic() + float(opts.get("timeout", "20"))
        self.input_open = True
        self.output_open = True

    def configure_sasl(self):
        """Turns on Proton's SASL layer when sasl=MECHS is given."""
        mechs = self.opts.get("sasl")
        if not mechs:
            return
        sasl = self.transport.sasl()
        sasl.allowed_mechs(mechs)
        if self.opts.get("insecure") == "1":
            sasl.allow_insecure_mechs = True
        if "user" in self.opts:
            self.connection.user = self.opts["user"]
        if "password" in self.opts:
            self.connection.password = self.opts["password"]

    def check(self, ok, what):
        """Records a failed check; the scenario carries on so the Swift side still finishes."""
        if not ok:
            self.failures.append(what)
            if len(self.failures) <= 20:
                log("FAIL: " + what)
            elif len(self.failures) == 21:
                log("FAIL: ... (only the first 20 failures are shown)")
        return ok

    def check_eq(self, got, expected, what):
        return self.check(got == expected, "%s: expected %r, got %r" % (what, expected, got))

    def transport_error(self, cond):
        """Records a transport error Proton reported (checked in check_transport_errors)."""
        error = (cond.name, cond.description) if cond is not None else (None, None)
        if error not in self.transport_errors:
            self.transport_errors.append(error)
        log("transport error %s: %s" % error)

    def check_transport_errors(self):
        """Fails on any transport error but the one the scenario expects (transport_error=)."""
        # The transport's own condition, in case an error came without its event.
        cond = self.transport.condition
        if cond is not None and (cond.name, cond.description) not in self.transport_errors:
            self.transport_error(cond)
        expected = self.opts.get("transport_error")
        unexpected = [e for e in self.transport_errors if e[0] != expected]
        for name, description in unexpected:
            self.check(False, "Proton transport error %s: %s" % (name, description))
        if expected is not None:
            self.check(len(self.transport_errors) > 0,
                       "Proton reported no transport error; expected %s" % expected)

    def dispatch(self):
        while True:
            event = self.collector.peek()
            if event is None:
                return
            method = getattr(self.scenario, event.type.method, None)
            if method is not None:
                method(event)
            self.collector.pop()

    def flush(self):
        """Writes all of Proton's pending output; closes fd 1 once Proton's head is closed."""
        while self.output_open:
            pending = self.transport.pending()
            if pending < 0:
                os.close(1)
                self.output_open = False
                return
            if pending == 0:
                return
            out = self.transport.peek(pending)
            try:
                n = os.write(1, out)
            except BrokenPipeError:
                log("the Swift side closed our output")
                self.transport.close_head()
                self.output_open = False
                return
            self.transport.pop(n)

    def read(self, timeout):
        if not self.input_open:
            time.sleep(timeout)
            return
        ready, _, _ = select.select([0], [], [], timeout)
        if not ready:
            return
        data = os.read(0, 65536)
        if not data:
            self.input_open = False
            if self.transport.capacity() >= 0:
                self.transport.close_tail()
            return
        view = memoryview(data)
        while len(view) > 0:
            capacity = self.transport.capacity()
            if capacity < 0:
                return  # Proton's tail is closed (it read the close): the rest is discarded
            if capacity == 0:
                # Proton is full until it processes what it has; output first, then retry.
                if time.monotonic() > self.deadline:
                    raise Failed("Proton's input stayed full")
                self.dispatch()
                self.flush()
                continue
            self.transport.push(bytes(view[:capacity]))
            view = view[capacity:]

    def run(self):
        next_tick = 0.0
        while True:
            self.dispatch()
            self.scenario.poll()
            self.dispatch()
            self.flush()
            if self.transport.closed and not self.output_open:
                break
            now = time.monotonic()
            if now > self.deadline:
                raise Failed("peer deadline passed; the scenario was waiting for: " + self.scenario.waiting_for())
            if self.ticking:
                next_tick = self.transport.tick(now)
            wait = 0.05
            if next_tick:
                wait = max(0.0, min(wait, next_tick - now))
            self.read(wait)
        self.scenario.finish()
        self.check_transport_errors()


# ---------------------------------------------------------------------------------------------
# Scenarios. The base class is a polite peer: it answers what the other side opens or closes.


class Scenario:
    """Answers opens and closes in kind; opens the connection (and, as client, what start() makes)."""

    def __init__(self, peer, opts):
        self.peer = peer
        self.opts = opts
        self.conn = peer.connection
        self.client = peer.mode == "client"

    # Hooks a scenario overrides.
    def configure(self, transport, connection):
        connection.container = PROTON_CONTAINER

    def start(self):
        """Client only, after our open: make the session and links."""

    def poll(self):
        """Called each loop turn, for time-driven scenarios."""

    def waiting_for(self):
        return "the scenario to finish"

    def finish(self):
        """Final checks, once the transport is closed."""

    def check(self, ok, what):
        return self.peer.check(ok, what)

    def check_eq(self, got, expected, what):
        return self.peer.check_eq(got, expected, what)

    # Polite defaults.
    def on_connection_init(self, event):
        if self.client:
            self.conn.open()
            self.start()

    def on_connection_remote_open(self, event):
        if self.conn.state & Endpoint.LOCAL_UNINIT:
            self.conn.open()

    def on_session_remote_open(self, event):
        if event.session.state & Endpoint.LOCAL_UNINIT:
            event.session.open()

    def on_link_remote_open(self, event):
        link = event.link
        if link.state & Endpoint.LOCAL_UNINIT:
            link.source.copy(link.remote_source)
            link.target.copy(link.remote_target)
            self.answer_attach(link)
            link.open()

    def answer_attach(self, link):
        """Server: set up a link the client attached, before it is opened."""

    def on_link_remote_close(self, event):
        if event.link.state & Endpoint.LOCAL_ACTIVE:
            event.link.close()

    def on_link_remote_detach(self, event):
        if event.link.state & Endpoint.LOCAL_ACTIVE:
            event.link.detach()

    def on_session_remote_close(self, event):
        if event.session.state & Endpoint.LOCAL_ACTIVE:
            event.session.close()

    def on_connection_remote_close(self, event):
        if self.conn.state & Endpoint.LOCAL_ACTIVE:
            self.conn.close()

    def on_transport_error(self, event):
        self.peer.transport_error(event.transport.condition)

    def close(self, cond=None):
        if cond is not None:
            self.conn.condition = Condition(*cond)
        self.conn.close()

    def link_named(self, name):
        link = self.conn.link_head(0)
        while link is not None:
            if link.name == name:
                return link
            link = link.next(0)
        return None


class OpenClose(Scenario):
    """Open with every open field set; close with an error condition both ways.

    closer=swift|proton: who closes first (the other answers with its own error).
    caps=list: set the capabilities the binding's usual way (a SymbolList), which Proton puts on
    the wire as a list of symbols rather than an array (not a valid encoding of a multiple field).
    Checks the Swift open's container-id, hostname, capabilities and properties, and the Swift
    close's condition.
    """

    def configure(self, transport, connection):
        connection.container = PROTON_CONTAINER
        connection.hostname = PROTON_HOSTNAME
        # An array of symbols, as the spec has it: the binding's SymbolList (a plain list) goes out
        # as an AMQP list, which is not a valid encoding of a multiple symbol field.
        make = SymbolList if self.opts.get("caps") == "list" else symbol_array
        connection.offered_capabilities = make(PROTON_OFFERED)
        connection.desired_capabilities = make(PROTON_DESIRED)
        connection.properties = PROTON_PROPERTIES
        self.saw_open = False
        self.saw_close = False

    def on_connection_remote_open(self, event):
        c = self.conn
        self.saw_open = True
        self.check_eq(c.remote_container, SWIFT_CONTAINER, "remote container-id")
        self.check_eq(c.remote_hostname, SWIFT_HOSTNAME, "remote hostname")
        self.check_eq(symbols(c.remote_offered_capabilities), SWIFT_OFFERED, "remote offered-capabilities")
        self.check_eq(symbols(c.remote_desired_capabilities), SWIFT_DESIRED, "remote desired-capabilities")
        self.check_eq(c.remote_properties, SWIFT_PROPERTIES, "remote properties")
        Scenario.on_connection_remote_open(self, event)
        if self.opts.get("closer") == "proton":
            self.close(PROTON_CLOSE)

    def on_connection_remote_close(self, event):
        self.saw_close = True
        cond = self.conn.remote_condition
        self.check(cond is not None, "the Swift close carries an error")
        if cond is not None:
            self.check_eq((cond.name, cond.description), SWIFT_CLOSE, "remote close condition")
        if self.conn.state & Endpoint.LOCAL_ACTIVE:
            self.close(PROTON_CLOSE)

    def waiting_for(self):
        return "open" if not self.saw_open else "close"

    def finish(self):
        self.check(self.saw_open and self.saw_close, "saw the Swift open and close")


class SessionLink(Scenario):
    """Begin, attach a link in each role with every terminus field set, detach, end, close.

    The client makes links "client-sends" and "client-receives"; both sides set both termini
    (terminus_spec) and check the other's. The client closes the links, ends the session and
    closes the connection once both attaches are answered.
    """

    LINKS = ("client-sends", "client-receives")

    def configure(self, transport, connection):
        Scenario.configure(self, transport, connection)
        self.checked = set()
        self.answered = set()
        self.session_ended = False

    def start(self):
        ssn = self.conn.session()
        ssn.open()
        for name in self.LINKS:
            link = ssn.sender(name) if name == "client-sends" else ssn.receiver(name)
            set_terminus(link.source, terminus_spec("proton", name, "source"))
            set_terminus(link.target, terminus_spec("proton", name, "target"))
            link.open()

    def answer_attach(self, link):
        set_terminus(link.source, terminus_spec("proton", link.name, "source"))
        set_terminus(link.target, terminus_spec("proton", link.name, "target"))

    def check_terminus(self, t, spec, what):
        self.check_eq(t.address, spec["address"], what + " address")
        self.check_eq(t.durability, DURABLE[spec["durable"]], what + " durable")
        self.check_eq(t.expiry_policy, EXPIRY[spec["expiry"]], what + " expiry-policy")
        self.check_eq(t.timeout, spec["timeout"], what + " timeout")
        self.check_eq(t.dynamic, spec["dynamic"], what + " dynamic")
        self.check_eq(symbols(data_object(t.capabilities)), spec["capabilities"], what + " capabilities")

    def on_link_remote_open(self, event):
        link = event.link
        self.check(link.name in self.LINKS, "link name %r is one of ours" % link.name)
        self.check_eq(link.is_sender, (link.name == "client-sends") == self.client, "role of %s" % link.name)
        self.check_terminus(link.remote_source, terminus_spec("swift", link.name, "source"), link.name + " source")
        self.check_terminus(link.remote_target, terminus_spec("swift", link.name, "target"), link.name + " target")
        self.checked.add(link.name)
        Scenario.on_link_remote_open(self, event)
        if self.client and self.checked == set(self.LINKS):
            for name in self.LINKS:
                self.link_named(name).close()

    def on_link_remote_close(self, event):
        self.answered.add(event.link.name)
        Scenario.on_link_remote_close(self, event)
        if self.client and self.answered == set(self.LINKS):
            event.session.close()

    def on_session_remote_close(self, event):
        self.session_ended = True
        Scenario.on_session_remote_close(self, event)
        if self.client:
            self.close()

    def waiting_for(self):
        return "attaches checked %s, detaches %s, end %s" % (sorted(self.checked), sorted(self.answered),
                                                             self.session_ended)

    def finish(self):
        self.check_eq(self.checked, set(self.LINKS), "links whose termini were checked")
        self.check_eq(self.answered, set(self.LINKS), "links detached")
        self.check(self.session_ended, "the session ended")


class Receive(Scenario):
    """Proton receives COUNT messages "swift <i>" and answers each with OUTCOME, settling.

    count=N (1000), credit=N (100, topped up as it is used), outcome=accept|none (none: expect
    pre-settled transfers and settle nothing), body=large (one LARGE_SIZE data message instead),
    session_capacity=BYTES (Proton's session incoming capacity: with max_frame it makes Proton's
    incoming window capacity/max_frame transfer frames, reopened as Proton reads).
    The Swift sender closes the connection once it has seen every outcome.
    """

    def configure(self, transport, connection):
        Scenario.configure(self, transport, connection)
        self.count = int(self.opts.get("count", "1000"))
        self.credit = int(self.opts.get("credit", "100"))
        self.presettled = self.opts.get("outcome") == "none"
        self.large = self.opts.get("body") == "large"
        self.received = 0
        self.buffers = {}

    def start(self):
        ssn = self.conn.session()
        self.set_capacity(ssn)
        ssn.open()
        link = ssn.receiver("to-proton")
        link.source.address = "swift-queue"
        link.target.address = "proton-queue"
        link.open()
        link.flow(self.credit)

    def set_capacity(self, ssn):
        if "session_capacity" in self.opts:
            ssn.incoming_capacity = int(self.opts["session_capacity"])

    def on_session_remote_open(self, event):
        if event.session.state & Endpoint.LOCAL_UNINIT:
            self.set_capacity(event.session)
        Scenario.on_session_remote_open(self, event)

    def answer_attach(self, link):
        self.check(link.is_receiver, "the Swift side attached a sender")
        link.flow(self.credit)

    def on_delivery(self, event):
        dlv = event.delivery
        link = event.link
        if not dlv.readable:
            return
        chunk = link.recv(dlv.pending)
        self.buffers.setdefault(delivery_tag(dlv), bytearray()).extend(chunk or b"")
        if dlv.partial:
            return
        link.advance()
        payload = bytes(self.buffers.pop(delivery_tag(dlv)))
        msg = Message()
        msg.decode(payload)
        i = self.received
        self.received += 1
        if self.large:
            self.check(msg.body == large_body(), "the large body arrived intact (%d bytes)" % len(payload))
            self.check(self.peer.transport.frames_input > LARGE_SIZE // 512,
                       "the large message came in many frames (%d)" % self.peer.transport.frames_input)
        else:
            self.check_eq(msg.body, "swift %d" % i, "body of message %d" % i)
            self.check_eq(msg.properties, {"i": i}, "application properties of message %d" % i)
        if self.presettled:
            self.check(dlv.settled, "message %d arrived settled" % i)
            dlv.settle()
        else:
            self.check(not dlv.settled, "message %d arrived unsettled" % i)
            dlv.update(Delivery.ACCEPTED)
            dlv.settle()
        if link.credit < self.credit // 2 and self.received < self.count:
            link.flow(min(self.credit, self.count - self.received) - link.credit)

    def waiting_for(self):
        return "%d of %d messages" % (self.received, self.count)

    def finish(self):
        self.check_eq(self.received, self.count, "messages received")


class Send(Scenario):
    """Proton sends COUNT messages "proton <i>" as credit allows and checks each outcome.

    count=N (1000), settle=pre (pre-settled sends: expect no outcomes; the Swift receiver
    closes), body=large (one LARGE_SIZE data message). Otherwise Proton closes the connection once
    it has seen every message accepted and settled by the Swift receiver.
    """

    def configure(self, transport, connection):
        Scenario.configure(self, transport, connection)
        self.count = int(self.opts.get("count", "1000"))
        self.presettled = self.opts.get("settle") == "pre"
        self.large = self.opts.get("body") == "large"
        self.sent = 0
        self.outcomes = 0

    def start(self):
        ssn = self.conn.session()
        ssn.open()
        link = ssn.sender("from-proton")
        link.source.address = "proton-queue"
        link.target.address = "swift-queue"
        self.answer_attach(link)
        link.open()

    def answer_attach(self, link):
        self.check(link.is_sender, "the Swift side attached a receiver")
        if self.presettled:
            link.snd_settle_mode = Link.SND_SETTLED

    def on_link_flow(self, event):
        link = event.link
        while link.is_sender and link.credit > 0 and self.sent < self.count:
            if self.large:
                dlv = link.send(Message(body=large_body()))
            else:
                dlv = link.send(message("proton", self.sent))
            if self.presettled:
                dlv.settle()
            self.sent += 1

    def on_delivery(self, event):
        dlv = event.delivery
        if self.presettled:
            self.check(False, "a disposition came for a pre-settled delivery")
            return
        if not dlv.updated:
            return
        self.check_eq(dlv.remote_state, Delivery.ACCEPTED, "outcome of a delivery")
        self.check(dlv.settled, "the Swift receiver settled")
        dlv.settle()
        self.outcomes += 1
        if self.outcomes == self.count:
            self.close()

    def waiting_for(self):
        return "%d sent, %d outcomes of %d" % (self.sent, self.outcomes, self.count)

    def finish(self):
        self.check_eq(self.sent, self.count, "messages sent")
        if not self.presettled:
            self.check_eq(self.outcomes, self.count, "outcomes")


def apply_state(dlv, i):
    kind = STATES[i]
    local = dlv.local
    if kind == "accepted":
        dlv.update(Delivery.ACCEPTED)
    elif kind == "rejected":
        name, desc, info = REJECT_ERROR
        local.condition = Condition(name, desc % "proton", info)
        dlv.update(Delivery.REJECTED)
    elif kind == "released":
        dlv.update(Delivery.RELEASED)
    elif kind == "modified":
        local.failed = True
        local.undeliverable = True
        local.annotations = modified_annotations("proton")
        dlv.update(Delivery.MODIFIED)
    elif kind == "received":
        local.section_number, local.section_offset = RECEIVED_SECTION
        dlv.update(Delivery.RECEIVED)
    if kind != "received":
        dlv.settle()


class DispositionsIn(Scenario):
    """Proton receives len(STATES) messages and applies STATES[i] to message i (settling outcomes).

    The Swift sender checks what it saw and closes.
    """

    def configure(self, transport, connection):
        Scenario.configure(self, transport, connection)
        self.received = 0

    def start(self):
        ssn = self.conn.session()
        ssn.open()
        link = ssn.receiver("to-proton")
        link.open()
        link.flow(len(STATES))

    def answer_attach(self, link):
        link.flow(len(STATES))

    def on_delivery(self, event):
        dlv = event.delivery
        if not dlv.readable or dlv.partial:
            return
        event.link.recv(dlv.pending)
        event.link.advance()
        apply_state(dlv, self.received)
        self.received += 1

    def waiting_for(self):
        return "%d of %d messages" % (self.received, len(STATES))

    def finish(self):
        self.check_eq(self.received, len(STATES), "messages received")


class DispositionsOut(Scenario):
    """Proton sends len(STATES) messages; the Swift receiver applies STATES[i] to message i.

    Proton checks each remote state and its fields, then closes.
    """

    def configure(self, transport, connection):
        Scenario.configure(self, transport, connection)
        self.sent = []
        self.seen = {}

    def start(self):
        ssn = self.conn.session()
        ssn.open()
        link = ssn.sender("from-proton")
        link.open()

    def on_link_flow(self, event):
        link = event.link
        while link.is_sender and link.credit > 0 and len(self.sent) < len(STATES):
            self.sent.append(link.send(message("proton", len(self.sent))))

    def on_delivery(self, event):
        dlv = event.delivery
        if not dlv.updated:
            return
        i = self.sent.index(dlv)
        kind = STATES[i]
        remote = dlv.remote
        what = "delivery %d (%s)" % (i, kind)
        expected_type = {"accepted": Delivery.ACCEPTED, "rejected": Delivery.REJECTED,
                         "released": Delivery.RELEASED, "modified": Delivery.MODIFIED,
                         "received": Delivery.RECEIVED}[kind]
        self.check_eq(dlv.remote_state, expected_type, what + " state")
        self.check_eq(dlv.settled, kind != "received", what + " settled")
        if kind == "rejected":
            cond = remote.condition
            name, desc, info = REJECT_ERROR
            self.check(cond is not None, what + " carries an error")
            if cond is not None:
                self.check_eq((cond.name, cond.description, cond.info), (name, desc % "swift", info),
                              what + " error")
        elif kind == "modified":
            self.check_eq((remote.failed, remote.undeliverable), (True, True),
                          what + " delivery-failed, undeliverable-here")
            self.check_eq(remote.annotations, modified_annotations("swift"), what + " message-annotations")
        elif kind == "received":
            self.check_eq((remote.section_number, remote.section_offset), RECEIVED_SECTION,
                          what + " section-number, section-offset")
        if dlv.settled:
            dlv.settle()
        self.seen[i] = kind
        if len(self.seen) == len(STATES):
            self.close()

    def waiting_for(self):
        return "states of %s" % sorted(set(range(len(STATES))) - set(self.seen))

    def finish(self):
        self.check_eq(len(self.seen), len(STATES), "dispositions seen")


class Drain(Scenario):
    """Drain both ways.

    role=sender: Proton's sender has `available` messages (default 0); the Swift receiver drains
    it with CREDIT, gets those and closes once its credit is back to 0. role=receiver: Proton's
    receiver drains the idle Swift sender (credit CREDIT) and checks the credit comes back to 0
    with the delivery-count advanced; then closes.
    """

    CREDIT = 10

    def configure(self, transport, connection):
        Scenario.configure(self, transport, connection)
        self.role = self.opts.get("role", "sender")
        self.available = int(self.opts.get("available", "0"))
        self.sent = 0
        self.drained = None
        self.done = False

    def start(self):
        ssn = self.conn.session()
        ssn.open()
        link = ssn.sender("drain") if self.role == "sender" else ssn.receiver("drain")
        link.open()
        if self.role == "receiver":
            link.drain(self.CREDIT)

    def answer_attach(self, link):
        if self.role == "receiver":
            self.check(link.is_receiver, "Proton's side of the link receives")

    def on_link_remote_open(self, event):
        Scenario.on_link_remote_open(self, event)
        if self.role == "receiver" and not self.client:
            event.link.drain(self.CREDIT)

    def on_link_flow(self, event):
        link = event.link
        if link.is_sender:
            if link.drain_mode and link.credit > 0 and self.drained is None:
                self.check_eq(link.credit, self.CREDIT, "credit the Swift receiver gave")
                while link.credit > 0 and self.sent < self.available:
                    link.send(message("proton", self.sent)).settle()
                    self.sent += 1
                self.drained = link.drained()
                self.check_eq(self.drained, self.CREDIT - self.available, "credit Proton gave back")
        elif not self.done and link.credit == 0 and not link.draining():
            self.done = True
            self.close()

    def waiting_for(self):
        return "the drain to complete"

    def finish(self):
        if self.role == "sender":
            self.check_eq(self.drained, self.CREDIT - self.available, "drained credit")
        else:
            self.check(self.done, "the Swift sender answered the drain")


class Detach(Scenario):
    """Links detached closing and not closing, both ways; then end and close.

    detacher=swift|proton. The client attaches links "closing" and "resumable" (the client sends
    on both). The detacher detaches "closing" with closed=true and "resumable" with closed=false,
    each with error DETACH_ERROR; once both are answered it ends the session, then closes the
    connection after the end is answered. The other side answers each in kind.
    """

    LINKS = ("closing", "resumable")

    def configure(self, transport, connection):
        Scenario.configure(self, transport, connection)
        self.detacher = self.opts.get("detacher", "proton") == "proton"
        self.opened = set()
        self.remote = {}
        self.ended = False

    def start(self):
        ssn = self.conn.session()
        ssn.open()
        for name in self.LINKS:
            link = ssn.sender(name)
            link.target.address = name
            link.open()

    def on_link_remote_open(self, event):
        Scenario.on_link_remote_open(self, event)
        self.opened.add(event.link.name)
        if self.detacher and self.opened == set(self.LINKS):
            for name in self.LINKS:
                link = self.link_named(name)
                link.condition = Condition(DETACH_ERROR[0], DETACH_ERROR[1] % "proton")
                if name == "closing":
                    link.close()
                else:
                    link.detach()

    def remote_detach(self, event, closed):
        link = event.link
        self.remote[link.name] = closed
        if not self.detacher:
            self.check_eq(closed, link.name == "closing", "closed flag of %s's detach" % link.name)
            cond = link.remote_condition
            self.check(cond is not None, "%s's detach carries an error" % link.name)
            if cond is not None:
                self.check_eq((cond.name, cond.description), (DETACH_ERROR[0], DETACH_ERROR[1] % "swift"),
                              "%s's detach error" % link.name)
            if closed:
                link.close()
            else:
                link.detach()
        else:
            self.check_eq(closed, link.name == "closing", "closed flag of the answer to %s" % link.name)
            if len(self.remote) == len(self.LINKS):
                event.session.close()

    def on_link_remote_close(self, event):
        self.remote_detach(event, True)

    def on_link_remote_detach(self, event):
        self.remote_detach(event, False)

    def on_session_remote_close(self, event):
        self.ended = True
        Scenario.on_session_remote_close(self, event)
        if self.detacher:
            self.close()

    def waiting_for(self):
        return "opened %s, detaches %s, ended %s" % (sorted(self.opened), self.remote, self.ended)

    def finish(self):
        self.check_eq(self.remote, {"closing": True, "resumable": False}, "detaches seen (name: closed)")
        self.check(self.ended, "the session ended")


class Idle(Scenario):
    """Heartbeats and the idle timeout (run with idle_timeout=SECONDS, tick=0 to go silent).

    expect=alive: stay open for SECONDS (run=3) of real time, checking empty frames arrive from the
        Swift side (which must send one every idle_timeout/2); then close without error. The
        Swift side checks it got Proton's heartbeats and no error.
    expect=peer-expires: Proton never ticks (tick=0), so sends nothing; the Swift driver must close
        with amqp:resource-limit-exceeded.
    expect=proton-expires: the Swift side sends nothing after open; Proton must close with
        amqp:resource-limit-exceeded itself (checked on the Swift side; here: that it did).
    """

    def configure(self, transport, connection):
        Scenario.configure(self, transport, connection)
        self.expect = self.opts.get("expect", "alive")
        self.run_for = float(self.opts.get("run", "3"))
        self.opened_at = None
        self.frames_at_open = 0
        self.heartbeats = 0
        self.remote_condition = None
        self.closed_by_proton = False

    def on_connection_remote_open(self, event):
        Scenario.on_connection_remote_open(self, event)
        self.opened_at = time.monotonic()
        self.frames_at_open = self.peer.transport.frames_input

    def on_connection_local_close(self, event):
        self.closed_by_proton = not (self.conn.state & Endpoint.REMOTE_CLOSED)
        if self.closed_by_proton:
            cond = self.conn.condition
            log("Proton closes with %s" % (cond,))

    def on_connection_remote_close(self, event):
        cond = self.conn.remote_condition
        self.remote_condition = cond and (cond.name, cond.description)
        Scenario.on_connection_remote_close(self, event)

    def poll(self):
        if self.expect == "alive" and self.opened_at is not None and self.conn.state & Endpoint.LOCAL_ACTIVE:
            if time.monotonic() - self.opened_at >= self.run_for:
                # Every frame after open is empty here: nothing else is sent.
                self.heartbeats = self.peer.transport.frames_input - self.frames_at_open
                self.close()

    def waiting_for(self):
        return "the connection to close (expect=%s)" % self.expect

    def finish(self):
        if self.expect == "alive":
            # Fewer than one per local timeout would have let Proton's idle timer expire.
            least = int(self.run_for / float(self.opts["idle_timeout"]))
            log("%d heartbeats from Swift in %.1f s" % (self.heartbeats, self.run_for))
            self.check(self.heartbeats >= least, "heartbeats from Swift in %.1f s: %d, expected at least %d" %
                       (self.run_for, self.heartbeats, least))
            self.check(self.closed_by_proton, "Proton closed the connection after %.1f s" % self.run_for)
            self.check_eq(self.remote_condition, None, "Swift's close condition")
        elif self.expect == "peer-expires":
            self.check(self.remote_condition is not None and self.remote_condition[0] == "amqp:resource-limit-exceeded",
                       "the Swift driver closed with resource-limit-exceeded (got %r)" % (self.remote_condition,))
        elif self.expect == "proton-expires":
            # Proton's idle timeout is a transport error: the close carries the transport's condition.
            cond = self.peer.transport.condition
            self.check(cond is not None and cond.name == "amqp:resource-limit-exceeded",
                       "Proton timed the Swift side out with resource-limit-exceeded (got %s)" % (cond,))


class Sasl(Scenario):
    """SASL with Proton's layer on (sasl=MECHS, user=, password=, insecure=1; see Peer.configure_sasl).

    expect=ok: the exchange succeeds, both sides open, Proton closes, the Swift side answers.
    As server, identity=NAME is the user Proton must report for the Swift client.
    expect=fail: Proton must see no open and end with a SASL failure (outcome code=N when given).
    """

    def configure(self, transport, connection):
        connection.container = PROTON_CONTAINER
        self.saw_open = False
        self.saw_error = None

    def on_connection_remote_open(self, event):
        self.saw_open = True
        Scenario.on_connection_remote_open(self, event)
        if not self.client and "identity" in self.opts:
            self.check_eq(self.peer.transport.user, self.opts["identity"], "authenticated user")
        self.close()

    def on_transport_error(self, event):
        self.saw_error = event.transport.condition
        Scenario.on_transport_error(self, event)

    def waiting_for(self):
        return "open" if self.opts.get("expect") == "ok" else "the SASL failure"

    def finish(self):
        outcome = self.peer.transport.sasl().outcome
        if self.opts.get("expect") == "ok":
            self.check(self.saw_open, "the Swift side opened after SASL")
            self.check_eq(outcome, SASL.OK, "SASL outcome")
        else:
            self.check(not self.saw_open, "no open after a failed SASL exchange")
            cond = self.saw_error or self.peer.transport.condition
            log("Proton's transport condition: %s" % (cond,))
            self.check(cond is not None or outcome not in (None, SASL.OK), "Proton saw the failure")
            if "code" in self.opts:
                self.check_eq(outcome, int(self.opts["code"]), "SASL outcome code")


SCENARIOS = {
    "sasl": Sasl,
    "open-close": OpenClose,
    "session-link": SessionLink,
    "receive": Receive,
    "send": Send,
    "dispositions-in": DispositionsIn,
    "dispositions-out": DispositionsOut,
    "drain": Drain,
    "detach": Detach,
    "idle": Idle,
}


def main():
    if SCENARIO not in SCENARIOS:
        log("unknown scenario %r; known: %s" % (SCENARIO, ", ".join(sorted(SCENARIOS))))
        return 2
    opts = dict(arg.split("=", 1) for arg in sys.argv[2:])
    # Which Proton: the tests run against more than one (Scripts/test.sh).
    log("Qpid Proton %s under %s" % (".".join(map(str, VERSION)), sys.executable))
    try:
        peer = Peer(SCENARIOS[SCENARIO], opts)
        peer.run()
    except Failed as e:
        log("ERROR: %s" % e)
        for f in peer.failures[:20]:
            log("  earlier FAIL: " + f)
        return 2
    except Exception:
        log("ERROR: the peer raised:\n" + traceback.format_exc())
        return 2
    if peer.failures:
        log("verdict: %d check(s) failed" % len(peer.failures))
        return 1
    log("verdict: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
