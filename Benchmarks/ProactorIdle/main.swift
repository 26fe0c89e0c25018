// proactor-idle (Swift): the heap an idle connection costs in the epoll proactor. Listens on
// loopback, connects K clients to itself; each client opens a session and a receiving link with
// 1000 credit, the server side answers in kind. Once all K links have their credit, it prints
//   idle-connection-bytes <bytes>   heap growth (mallinfo2 uordblks + hblkhd) / (2K)
// Same work as Benchmarks/ProtonC/proactor-idle.c. Usage: ProactorIdle [K]
import AMQPEngine
import AMQPEngineTesting
import AMQPEpoll
import AMQPProactor
import AMQPSystem
import CMallocStats
import Synchronization

let k = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1000 : 1000
let proactor = try EpollProactor.epoll()
let before = LockedValue(0)
let flowed = Atomic<Int>(0)
let responder = Responder()
proactor.listen(on: "127.0.0.1:0", backlog: 1024)
let pool = ProactorThreadPool(proactor)
try pool.start(threads: 1) { batch in
    while let event = batch.next() {
        switch event {
        case .proactor(.listenerOpen(let l)):
            before.withLock { $0 = Int(cmallocstats_in_use()) }
            for _ in 0..<k { proactor.connect(to: "127.0.0.1:\(l.port ?? 0)", configuration: DriverConfiguration(containerID: "idle")) }
        case .proactor(.listenerAccept(let l)):
            l.accept(configuration: DriverConfiguration(containerID: "idle-server"))
        case .amqp(.connectionInit(let c)) where batch.driver?.mode == .client:
            c.open()
            let s = c.session()
            s.begin()
            let r = s.receiver(name: "idle", source: "q")
            r.attach()
            r.flow(credit: 1000)
        case .amqp(.linkFlow(let l)) where l.role == .sender && l.credit == 1000:
            if flowed.add(1, ordering: .relaxed).newValue == k {
                let growth = Int(cmallocstats_in_use()) - before.withLock { $0 }
                print("idle-connection-bytes \(growth / (2 * k))")
                pool.stop()
            }
        case .amqp(let e):
            responder.respond(to: e)
        default: break
        }
    }
}
pool.join()
