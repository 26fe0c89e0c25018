import AMQPCodec
import AMQPEngine
import Logging
import NIOCore

/// The client's state on the event loop: the driver's connection and its one session, the links
/// the application opened, and the calls waiting on the peer. It turns driver events into
/// completed calls; `+Senders` and `+Receivers` hold the link work.
///
/// Not `Sendable`: `AMQPConnection` reaches it only through `NIOLoopBound`, on the loop.
final class ConnectionCore: DriverEventSink {
    let driver: ConnectionDriver
    let handler: DriverChannelHandler
    let session: Session
    let logger: Logger
    let outputHighWaterMark: Int
    /// Completed when the peer's open arrives, failed if the connection ends before.
    var openCall: EventLoopPromise<Void>?
    /// The future of `openCall`, kept after the call completes.
    let opened: EventLoopFuture<Void>
    /// Why the connection is over, once it is.
    var failure: AMQPClientError?
    /// The application asked to close: a clean close after this is no failure.
    var closeRequested = false
    var senders: [UInt64: SenderState] = [:]
    var receivers: [UInt64: ReceiverState] = [:]
    /// The sender or receiver id of each link, for routing its events.
    var linkIDs: [ObjectIdentifier: UInt64] = [:]
    private var nextLinkID: UInt64 = 0

    init(configuration: DriverConfiguration, logger: Logger, outputHighWaterMark: Int, openCall: EventLoopPromise<Void>) {
        driver = ConnectionDriver(mode: .client, configuration: configuration)
        handler = DriverChannelHandler(driver: driver, logger: logger)
        self.logger = logger
        self.outputHighWaterMark = outputHighWaterMark
        self.openCall = openCall
        opened = openCall.futureResult
        // Queued now, written in the first turn with the protocol header.
        driver.connection.open()
        session = driver.connection.session()
        session.begin()
        handler.sink = self
    }

    func makeLinkID() -> UInt64 {
        nextLinkID += 1
        return nextLinkID
    }

    // MARK: DriverEventSink

    func handle(_ event: AMQPEvent) {
        switch event {
        case .connectionRemoteOpen:
            openCall?.succeed(())
            openCall = nil
        case .connectionRemoteClose(let connection):
            fail(AMQPClientError(.connectionClosed, "connection closed by the peer", remoteError: connection.remoteError))
            connection.close()
        case .transportError(let error):
            fail(AMQPClientError(.transportFailed, "connection failed", remoteError: error))
        case .sessionRemoteEnd(let s):
            let error = AMQPClientError(.sessionEnded, "session ended by the peer", remoteError: s.remoteError)
            for sender in senders.values { sender.fail(error) }
            for receiver in receivers.values { receiver.fail(error) }
            s.end()
        case .linkRemoteClose(let link), .linkRemoteDetach(let link):
            linkDetached(link)
        case .delivery(let delivery):
            if delivery.link.role == .sender { outcomeArrived(delivery) } else { transferArrived(delivery) }
        default:
            break  // local events, flow (handled after the batch), transport closing
        }
    }

    func afterEvents() {
        for sender in senders.values {
            completeAttach(sender.link, &sender.attachCall)
            pump(sender)
        }
        for receiver in receivers.values {
            completeAttach(receiver.link, &receiver.attachCall)
            receiver.topUpCredit()
        }
    }

    /// An opened link is ready once the peer attached it and did not detach it in the same
    /// batch: a peer refuses a link by attaching and detaching at once (§2.6.3).
    private func completeAttach(_ link: Link, _ call: inout PendingCall<Void>?) {
        guard let pending = call, link.remoteState == .active else { return }
        let terminus: Bool = link.role == .sender ? link.remoteAttach?.target != nil : link.remoteAttach?.source != nil
        guard terminus else { return }  // refused: the detach that follows fails the call
        call = nil
        pending.complete(.success(()))
    }

    func channelClosed(error: (any Error)?) {
        let why: AMQPClientError
        if let failure {
            why = failure
        } else if let error {
            why = AMQPConnection.describeChannelError(error)
        } else if driver.connection.localState == .closed {
            why = AMQPClientError(.connectionClosed, "connection closed")
        } else {
            why = AMQPClientError(.connectionClosed, "connection lost: the peer closed the socket")
        }
        fail(why)
    }

    /// Ends every waiting call with `error`; the first failure is the one kept.
    func fail(_ error: AMQPClientError) {
        if failure == nil { failure = error }
        let error = failure!
        openCall?.fail(error)
        openCall = nil
        for sender in senders.values { sender.fail(error) }
        for receiver in receivers.values { receiver.fail(error) }
    }

    // MARK: links

    private func linkDetached(_ link: Link) {
        guard let id = linkIDs[ObjectIdentifier(link)] else { return }
        let error = AMQPClientError(.linkDetached, "link \(link.name) detached by the peer", remoteError: link.remoteError)
        if let sender = senders[id] {
            if let call = sender.detachCall { call.complete(.success(())); sender.detachCall = nil }
            sender.fail(error)
            senders[id] = nil
        } else if let receiver = receivers[id] {
            if let call = receiver.detachCall {
                // We closed it: a task still iterating sees the end of the sequence.
                call.complete(.success(()))
                receiver.detachCall = nil
                receiver.waiter?.complete(.success(nil))
                receiver.waiter = nil
            }
            receiver.fail(error)
            receivers[id] = nil
        }
        linkIDs[ObjectIdentifier(link)] = nil
        link.close()  // answer the peer's detach; does nothing when ours went first
    }
}

@available(*, unavailable)
extension ConnectionCore: Sendable {}
