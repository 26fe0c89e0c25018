// proactor-arrow: a peer on the proactor API (no container yet) that speaks the quiver arrow
// contract, like Benchmarks/ProtonC/proton-c-arrow.c: key=value arguments, one line per transfer.
//   connection-mode=client|server operation=send|receive host= port= path= count= body-size=
//   credit-window= [quiet=1] [backend=epoll|poll|io_uring|automatic] [threads=N] [connections=N]
//   [tls=1 tls-cert=PEM tls-key=PEM tls-ca=PEM tls-verify=0|1 tls-ciphersuites=... tls-server-name=...]
// With tls=1 the connections go through AMQPProactorTLS's TLSLayer: a server needs tls-cert and
// tls-key (and asks for client certificates from tls-ca when given); a client trusts tls-ca (or
// the system's store), checks the host name unless tls-verify=0, and presents tls-cert if given.
// A client with connections=N opens N connections that share the count (Benchmarks/proactor.sh's
// 100 pairs); a server takes as many as come.
// Messages carry a string body and the application property SendTime (a long, ms); the receiver
// accepts and settles. It prints "<send-ms>,0" per message sent, "<send-ms>,<receive-ms>" per
// message received, and "proactor-arrow: N transfers" on stderr; it exits 1 on any error.
// Used by Integrations/ProactorArrow/interop.sh (against Proton C) and Benchmarks/proactor.sh.
import AMQPCodec
import AMQPEngine
import AMQPEpoll
import AMQPProactor
import AMQPProactorTLS
import AMQPSystem
import AMQPTLS
import AMQPURing
import PollPoller
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct Options: Sendable {
    var server = false
    var sending = false
    var host = "127.0.0.1"
    var port = "5672"
    var path = "q"
    var count = 100_000
    var bodySize = 100
    var creditWindow: UInt32 = 1000
    var quiet = false
    var backend = "epoll"
    var threads = 1
    var connections = 1
    var tls = false
    var tlsCertificate: String?
    var tlsKey: String?
    var tlsCA: String?
    var tlsVerify = true
    var tlsCipherSuites: String?
    var tlsServerName: String?

    init(_ arguments: [String]) {
        for a in arguments {
            guard let eq = a.firstIndex(of: "=") else { fail("not key=value: \(a)") }
            let key = a[..<eq], value = String(a[a.index(after: eq)...])
            switch key {
            case "connection-mode": server = value == "server"
            case "operation": sending = value == "send"
            case "host": host = value
            case "port": port = value
            case "path": path = value
            case "count": count = Int(value) ?? count
            case "body-size": bodySize = Int(value) ?? bodySize
            case "credit-window": creditWindow = UInt32(value) ?? creditWindow
            case "quiet": quiet = value == "1"
            case "backend": backend = value
            case "threads": threads = max(1, Int(value) ?? 1)
            case "connections": connections = max(1, Int(value) ?? 1)
            case "tls": tls = value == "1"
            case "tls-cert": tlsCertificate = value
            case "tls-key": tlsKey = value
            case "tls-ca": tlsCA = value
            case "tls-verify": tlsVerify = value != "0"
            case "tls-ciphersuites": tlsCipherSuites = value
            case "tls-server-name": tlsServerName = value
            default: fail("unknown option \(key)")
            }
        }
    }
}

func fail(_ why: String) -> Never {
    let line = "proactor-arrow: \(why)\n"
    _ = line.utf8CString.withUnsafeBytes { try? FileDescriptor.standardError.write(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
    exit(1)
}

func wallMilliseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return Int64(t.tv_sec) * 1000 + Int64(t.tv_nsec) / 1_000_000
}

/// What the arrow has done, shared by the pool's threads.
final class Arrow: Sendable {
    let options: Options
    let proactor: any Proactor
    let sent = Atomic<Int>(0)
    let settled = Atomic<Int>(0)
    let received = Atomic<Int>(0)
    let failed = Atomic<Bool>(false)
    let listener = LockedValue<ProactorListener?>(nil)
    let body: String
    let output = LockedValue<[UInt8]>([])
    /// The client's connections, woken to close once the count is done.
    let clients = LockedValue<[ProactorConnection]>([])
    /// With tls=1: the context every connection's TLSLayer is made from.
    let tls: TLSContext?

    init(_ options: Options, _ proactor: any Proactor) {
        self.options = options
        self.proactor = proactor
        body = String(repeating: "x", count: options.bodySize)
        guard options.tls else {
            tls = nil
            return
        }
        var configuration: TLSConfiguration
        if options.server {
            guard let certificate = options.tlsCertificate, let key = options.tlsKey else { fail("tls=1 needs tls-cert= and tls-key= on a server") }
            configuration = .server(certificateChainFile: certificate, privateKeyFile: key)
            if let ca = options.tlsCA {
                configuration.trustRoots = .file(ca)
                configuration.clientCertificates = .optional
            }
        } else {
            configuration = .client(serverName: options.tlsServerName ?? options.host)
            if let ca = options.tlsCA { configuration.trustRoots = .file(ca) }
            configuration.verifyPeer = options.tlsVerify
            configuration.verifyHostname = options.tlsVerify
            configuration.certificateChainFile = options.tlsCertificate
            configuration.privateKeyFile = options.tlsKey
        }
        configuration.cipherSuites = options.tlsCipherSuites
        do { tls = try TLSContext(configuration: configuration) } catch { fail("\(error)") }
    }

    /// A new connection's layer: TLS with tls=1, else none.
    func layer() -> (any TransportLayer)? {
        guard let tls else { return nil }
        do { return try TLSLayer(context: tls) } catch { fail("\(error)") }
    }

    func line(_ text: @autoclosure () -> String) {
        guard !options.quiet else { return }
        let text = text()
        output.withLock { out in
            out.append(contentsOf: text.utf8)
            out.append(10)
            if out.count >= 1 << 16 { flush(&out) }
        }
    }

    func flush(_ out: inout [UInt8]) {
        out.withUnsafeBytes { b in
            var done = 0
            while done < b.count, let n = try? FileDescriptor(rawValue: 1).write(UnsafeRawBufferPointer(rebasing: b[done...])) { done += n }
        }
        out.removeAll(keepingCapacity: true)
    }

    func error(_ e: AMQPError) {
        failed.store(true, ordering: .relaxed)
        let text = "proactor-arrow: \(e.condition.rawValue): \(e.description ?? "")\n"
        _ = text.utf8CString.withUnsafeBytes { try? FileDescriptor.standardError.write(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
    }

    func handle(_ event: ProactorBatchEvent, _ batch: ProactorBatch) {
        switch event {
        case .proactor(.listenerOpen(let l)):
            listener.withLock { $0 = l }
        case .proactor(.listenerAccept(let l)):
            l.accept(configuration: DriverConfiguration(containerID: "proactor-arrow"), layer: layer())
        case .proactor(.listenerClose(_, let e?)):
            error(e)
        case .amqp(let e):
            amqp(e)
        default:
            break
        }
    }

    private func amqp(_ e: AMQPEvent) {
        switch e {
        case .connectionInit(let c) where !options.server:
            c.open()
            let s = c.session()
            s.begin()
            if options.sending {
                s.sender(name: "proactor-arrow", target: options.path).attach()
            } else {
                let r = s.receiver(name: "proactor-arrow", source: options.path)
                r.attach()
                r.flow(credit: options.creditWindow)
            }
        case .connectionRemoteOpen(let c):
            if c.localState == .uninitialized { c.open() }
        case .sessionRemoteBegin(let s):
            if s.localState == .uninitialized { s.begin() }
        case .linkRemoteOpen(let l):
            if l.localState == .uninitialized {
                l.localSource = l.remoteAttach?.source
                l.localTarget = l.remoteAttach?.target?.target
                l.attach()
                if l.role == .receiver { l.flow(credit: options.creditWindow) }
            }
        case .linkFlow(let l) where l.role == .sender:
            send(on: l)
        case .delivery(let d) where d.link.role == .sender:
            guard d.remotelySettled else { return }
            guard d.remoteState == .accepted else { return error(AMQPError(condition: ErrorCondition.internalError, description: "not accepted: \(String(describing: d.remoteState))")) }
            if settled.add(1, ordering: .relaxed).newValue == options.count { finish(d.link.session.connection) }
        case .delivery(let d) where d.link.role == .receiver && !d.isPartial && !d.locallySettled:
            receive(d)
        case .connectionWake(let c) where done && !options.server:
            c.close()
        case .connectionRemoteClose(let c):
            if let e = c.remoteError { error(e) }
            c.close()
        case .transportError(let e):
            // A peer that hangs up after the last message is no error once all is done.
            if !done { error(e) }
        case .transportClosed:
            // A probe that connected and left (a port check) is not the end: only a finished run.
            if options.server && done { listener.withLock { $0?.close() } }
        default:
            break
        }
    }

    /// The count is done: close this connection, and wake the client's others to close theirs.
    private func finish(_ connection: Connection) {
        connection.close()
        for c in clients.withLock({ $0 }) { c.wake() }
    }

    var done: Bool {
        options.sending ? settled.load(ordering: .relaxed) >= options.count : received.load(ordering: .relaxed) >= options.count
    }

    private func send(on l: Link) {
        while l.credit > UInt32(l.queued) && sent.load(ordering: .relaxed) < options.count {
            let ms = wallMilliseconds()
            var m = Message(value: .string(body))
            m.applicationProperties = [.string("SendTime"): .long(ms)]
            l.send(m)
            sent.add(1, ordering: .relaxed)
            line("\(ms),0")
        }
    }

    private func receive(_ d: Delivery) {
        let message: Message
        do { message = try d.message() } catch { return self.error(AMQPError(condition: ErrorCondition.decodeError, description: "\(error)")) }
        var sendTime: Int64 = 0
        if case .long(let t)? = message.applicationProperties?[.string("SendTime")] { sendTime = t }
        line("\(sendTime),\(wallMilliseconds())")
        d.accept()
        let n = received.add(1, ordering: .relaxed).newValue
        if n == options.count {
            if !options.server { finish(d.link.session.connection) }
        } else {
            d.link.flow(credit: 1)
        }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let proactor: any Proactor
do {
    switch options.backend {
    case "epoll": proactor = try EpollProactor.epoll()
    case "poll": proactor = try PollProactor.poll()
    case "io_uring": proactor = try URingProactor()
    case "automatic":
        // Says which it took, and why not io_uring when it fell back.
        let chosen = try AutomaticProactor.make()
        let line = "proactor-arrow: \(chosen.summary)\n"
        _ = line.utf8CString.withUnsafeBytes { try? FileDescriptor.standardError.write(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
        proactor = chosen.proactor
    default: fail("unknown backend \(options.backend) (epoll, poll, io_uring or automatic)")
    }
} catch {
    fail("cannot start the \(options.backend) backend: \(error)")
}
let arrow = Arrow(options, proactor)
let address = "\(options.host):\(options.port)"
if options.server {
    proactor.listen(on: address, backlog: max(128, options.connections))
} else {
    for _ in 0..<options.connections {
        let c = proactor.connect(to: address, configuration: DriverConfiguration(containerID: "proactor-arrow"), layer: arrow.layer())
        arrow.clients.withLock { $0.append(c) }
    }
}
do {
    try ProactorThreadPool.run(proactor, threads: options.threads) { batch in
        while let event = batch.next() { arrow.handle(event, batch) }
    }
} catch {
    fail("cannot start threads: \(error)")
}
arrow.output.withLock { arrow.flush(&$0) }
let transfers = options.sending ? arrow.settled.load(ordering: .relaxed) : arrow.received.load(ordering: .relaxed)
let summary = "proactor-arrow: \(transfers) transfers\n"
_ = summary.utf8CString.withUnsafeBytes { try? FileDescriptor.standardError.write(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
exit(arrow.failed.load(ordering: .relaxed) || transfers != options.count ? 1 : 0)
