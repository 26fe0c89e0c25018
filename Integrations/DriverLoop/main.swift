// driver-loop: the smallest host for a ConnectionDriver, and the example to read first.
//
//   driver-loop send HOST PORT ADDRESS COUNT [SIZE]
//   driver-loop receive HOST PORT ADDRESS COUNT
//
// The driver does no IO: it takes bytes and the time and gives back events, bytes and a deadline.
// This program owns one blocking TCP socket and turns the loop, one step at a time:
//
//   1. tick:  pass the time in; the driver says when it next needs it (heartbeats, idle timeout)
//   2. react: take every event and act on it (send, accept, close)
//   3. write: hand the driver's output to the socket
//   4. wait:  poll(2) the socket until it is readable/writable or the deadline passes
//   5. read:  read into the driver's buffer, then report how much arrived
//
// until the driver is finished. Docs/Embedding.md walks through it; AMQP_TRACE_FRM=1 prints frames.

import AMQPCodec
import AMQPEngine
import AMQPSystem
import Glibc  // exit, getenv

// MARK: - Command line

enum Operation { case send, receive }

struct Options {
    var operation: Operation
    var host: String
    var port: String
    var address: String
    var count: Int
    var size = 100
}

func parseOptions(_ args: [String]) -> Options? {
    guard args.count >= 5, let count = Int(args[4]), count > 0 else { return nil }
    let operation: Operation
    switch (args[0], args.count) {
    case ("send", 5), ("send", 6): operation = .send
    case ("receive", 5): operation = .receive
    default: return nil
    }
    var options = Options(operation: operation, host: args[1], port: args[2], address: args[3], count: count)
    if args.count == 6 {
        guard let size = Int(args[5]), size >= 0 else { return nil }
        options.size = size
    }
    return options
}

/// Writes `text` to standard error (stdio's `stderr` is a C global that strict concurrency rejects).
func printError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty, let n = try? bytes.withUnsafeBytes({ try FileDescriptor.standardError.write($0) }), n > 0 {
        bytes = bytes.dropFirst(n)
    }
}

/// Reports a failure in one line on standard error and exits.
func exitWithFailure(_ message: String, status: Int32 = 1) -> Never {
    printError("driver-loop: \(message)\n")
    exit(status)
}

func describe(_ error: AMQPError) -> String {
    error.description.map { "\(error.condition): \($0)" } ?? "\(error.condition)"
}

func describe(_ state: DeliveryState) -> String {
    switch state {
    case .rejected(let rejected): return "rejected" + (rejected.error.map { " (\(describe($0)))" } ?? "")
    case .released: return "released"
    case .modified: return "modified"
    default: return "\(state)"
    }
}

// MARK: - The application: what to do with events

/// Everything about messages and nothing about sockets: this class sees only the driver's
/// connection and its events, so it would run unchanged under any other host.
final class Client {
    let options: Options
    let connection: Connection
    let link: Link
    /// The first thing that went wrong; the run fails with it once the connection is down.
    private(set) var failure: String?
    /// Set once COUNT messages are done and our close has been sent.
    private(set) var isDone = false

    // Sending: one encoded message, sent COUNT times; deliveries wait here for their outcome.
    private let payload: [UInt8]
    private var sent = 0
    private var accepted = 0
    private var awaitingOutcome: [ObjectIdentifier: Delivery] = [:]

    // Receiving: keep up to `creditWindow` messages granted, and never grant more than COUNT in all.
    private let creditWindow: UInt32 = 1000
    private var granted = 0
    private var received = 0

    init(options: Options, connection: Connection) {
        self.options = options
        self.connection = connection
        payload = Message(value: .string(String(repeating: "x", count: options.size))).encoded
        // Nothing goes on the wire yet: these calls queue frames the loop will write.
        connection.open()
        let session = connection.session()
        session.begin()
        switch options.operation {
        case .send:
            link = session.sender(name: "driver-loop-sender", target: options.address)
            link.attach()
        case .receive:
            link = session.receiver(name: "driver-loop-receiver", source: options.address)
            link.attach()
            topUpCredit()
        }
    }

    var summary: String {
        options.operation == .send
            ? "\(accepted) messages sent and accepted" : "\(received) messages received"
    }

    private var progress: String {
        options.operation == .send
            ? "\(accepted) of \(options.count) messages accepted" : "\(received) of \(options.count) messages received"
    }

    /// Acts on one event. The driver has already updated the objects the event names.
    func handle(_ event: AMQPEvent) {
        switch event {
        case .delivery(let delivery) where options.operation == .send:
            outcomeArrived(delivery)
        case .delivery(let delivery):
            transferArrived(delivery)
        case .linkRemoteDetach(let detached), .linkRemoteClose(let detached):
            // A peer that refuses the address attaches and detaches at once, with an error.
            let why = detached.remoteError.map(describe) ?? "no error given"
            if !isDone { fail("link \(detached.name) detached by the peer after \(progress): \(why)") }
            detached.close()
        case .sessionRemoteEnd(let session):
            let why = session.remoteError.map(describe) ?? "no error given"
            if !isDone { fail("session ended by the peer after \(progress): \(why)") }
            session.end()
        case .connectionRemoteClose:
            if let error = connection.remoteError {
                fail("connection closed by the peer: \(describe(error))")
            } else if !isDone {
                fail("connection closed by the peer after \(progress)")
            }
            connection.close()  // answer the close (AMQP 1.0 §2.4.3)
        case .transportError(let error):
            // The driver has already sent close (if it could) and stopped reading.
            fail("connection error: \(describe(error))")
        default:
            break  // opens, begins, flow and the transport's own events need nothing from us
        }
    }

    /// Sender: queues messages while the receiver's credit allows. Called after every batch of
    /// events, since credit arrives with flow and queued messages leave as the session window opens.
    func sendAsCreditAllows() {
        guard options.operation == .send, failure == nil, link.remoteState == .active else { return }
        // `credit` counts what may still start; `queued` what waits for a session window.
        while sent < options.count && Int(link.credit) > link.queued {
            let delivery = link.send(payload)
            awaitingOutcome[ObjectIdentifier(delivery)] = delivery
            sent += 1
        }
    }

    private func outcomeArrived(_ delivery: Delivery) {
        guard let state = delivery.remoteState, state.isOutcome,
              awaitingOutcome.removeValue(forKey: ObjectIdentifier(delivery)) != nil else { return }
        if !delivery.remotelySettled { delivery.settle() }
        guard case .accepted = state else {
            fail("message \(delivery.id.map { "\($0)" } ?? "?") was not accepted: \(describe(state))")
            return
        }
        accepted += 1
        if accepted == options.count { finish() }
    }

    private func transferArrived(_ delivery: Delivery) {
        // A delivery of several frames posts an event per frame, and the driver may have read
        // them all before the first event is handled: act once, when it is whole and unsettled.
        guard !delivery.isPartial, !delivery.locallySettled else { return }
        if delivery.isAborted {
            topUpCredit()  // the sender gave up on it, but it used up credit
            return
        }
        do {
            _ = try delivery.message()
        } catch {
            let error = AMQPError(condition: ErrorCondition.decodeError, description: "\(error)")
            delivery.update(.rejected(Rejected(error: error)), settle: true)
            fail("message \(received + 1) does not decode: \(error)")
            return
        }
        delivery.accept()
        received += 1
        if received == options.count { finish() } else { topUpCredit() }
    }

    /// Grants credit up to the window once half of it is used, so that flow frames stay few.
    /// `link.credit` is what is left after every transfer the driver has read, which can be ahead
    /// of the delivery events handled so far; so the total granted is capped, not `received`.
    private func topUpCredit() {
        guard link.credit <= creditWindow / 2 else { return }
        let more = min(Int(creditWindow - link.credit), options.count - granted)
        guard more > 0 else { return }
        granted += more
        link.flow(credit: UInt32(more))
    }

    private func finish() {
        isDone = true
        connection.close()
    }

    /// Records the first failure and closes the connection; later failures are consequences.
    func fail(_ message: String) {
        if failure == nil { failure = message }
        connection.close()
    }
}

// MARK: - The host: socket, driver and loop

/// Milliseconds from `now` until `deadline`, rounded up so that poll(2) does not wake too early;
/// -1 (wait for the socket alone) when there is no deadline.
func pollTimeout(until deadline: ContinuousClock.Instant?, from now: ContinuousClock.Instant) -> CInt {
    guard let deadline else { return -1 }
    let (seconds, attoseconds) = (deadline - now).components
    guard seconds >= 0 && attoseconds >= 0 else { return 0 }
    let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return CInt(min(milliseconds, Int64(CInt.max)))
}

/// Connects, runs the connection to its end, and exits with the outcome.
func run(_ options: Options) -> Never {
    let socket: Socket
    do {
        socket = try Socket.connect(host: options.host, port: options.port)
        try socket.setNoDelay(true)  // flow and disposition frames are small and must not wait
    } catch {
        exitWithFailure("connect \(options.host):\(options.port): \(error)")
    }

    var configuration = DriverConfiguration(containerID: "driver-loop")
    configuration.hostname = options.host
    configuration.trace = ConnectionDriver.traceFromEnvironment(
        getenv("AMQP_TRACE_FRM").map { String(cString: $0) } ?? getenv("PN_TRACE_FRM").map { String(cString: $0) })
    let driver = ConnectionDriver(mode: .client, configuration: configuration)
    let client = Client(options: options, connection: driver.connection)

    /// How long to wait for the peer's close once we have sent ours, before giving up on it.
    let closeGrace = Duration.seconds(10)
    var giveUpAt: ContinuousClock.Instant?

    /// Hands the driver's output to the socket without blocking. A blocking write could wait for a
    /// peer that is itself waiting for us to read; with `dontWait` the loop goes on and poll(2)
    /// says when the socket has room again.
    func writeOutput() {
        while !driver.pendingOutput.isEmpty {
            // The pointer lives only inside the closure; send(2) copies the bytes into the kernel.
            let result = driver.pendingOutput.withUnsafeBytes { bytes in
                Result { () throws(Errno) in try socket.send(bytes, flags: [.noSignal, .dontWait]) }
            }
            switch result {
            case .success(let written):
                driver.writeDone(written)
            case .failure(.wouldBlock):
                return
            case .failure(let error):
                client.fail("write: \(error)")
                driver.writeClose()  // nothing more can go out; the driver reports the rest
                return
            }
        }
    }

    /// Reads what the socket has into the driver's buffer. Called only when poll(2) said the socket
    /// is readable, so the blocking read returns at once.
    func readInput() {
        let buffer = driver.readBuffer()  // the driver's memory, valid until the next driver call
        do {
            let count = try socket.read(into: buffer)
            if count == 0 {
                driver.readClose()  // end of input; the driver reports an early close as an error
            } else {
                driver.readDone(count)  // parses the frames and queues their events
            }
        } catch {
            client.fail("read: \(error)")
            driver.readClose()
        }
    }

    while !driver.isFinished {
        // 1. Tick: heartbeats are due and the peer's silence is measured against this time.
        let now = ContinuousClock.now
        var deadline = driver.tick(now: now)

        // 2. React to everything that happened since the last turn, then queue more messages.
        // 3. Write. Writing can post events of its own (the transport closes once the last
        //    bytes are out), so react and write again while the driver has events.
        repeat {
            while let event = driver.nextEvent() { client.handle(event) }
            client.sendAsCreditAllows()
            writeOutput()
        } while driver.hasEvent
        if driver.isFinished { break }

        // Once our close is out, wait only so long for the peer's.
        if client.isDone || client.failure != nil {
            let limit = giveUpAt ?? now.advanced(by: closeGrace)
            giveUpAt = limit
            if now >= limit {
                client.fail("the peer did not answer our close within \(closeGrace)")
                break
            }
            deadline = min(deadline ?? limit, limit)
        }

        // 4. Wait: for input while the driver still reads, for room while it has output.
        var events: PollEvents = []
        if !driver.isTailClosed { events.insert(.input) }
        if !driver.pendingOutput.isEmpty { events.insert(.output) }
        guard !events.isEmpty || deadline != nil else {
            client.fail("the driver is not finished but waits for nothing (a driver bug)")
            break
        }
        let ready: PollEvents
        do {
            ready = try socket.descriptor.poll(for: events, timeout: pollTimeout(until: deadline, from: now))
        } catch {
            client.fail("poll: \(error)")
            break
        }

        // 5. Read. A hang-up or error is also read, to learn of it as end of input or an errno.
        if events.contains(.input) && !ready.isDisjoint(with: [.input, .hangUp, .error]) { readInput() }
    }

    try? socket.close()
    if let failure = client.failure { exitWithFailure(failure) }
    guard client.isDone else { exitWithFailure("the connection ended before the work was done") }
    print(client.summary)
    exit(0)
}

guard let options = parseOptions(Array(CommandLine.arguments.dropFirst())) else {
    printError("""
        usage: driver-loop send HOST PORT ADDRESS COUNT [SIZE]
               driver-loop receive HOST PORT ADDRESS COUNT
        Sends COUNT messages of SIZE bytes (default 100) to ADDRESS and waits until all are accepted,
        or receives and accepts COUNT messages from ADDRESS. AMQP_TRACE_FRM=1 prints every frame.

        """)
    exit(2)
}

run(options)
