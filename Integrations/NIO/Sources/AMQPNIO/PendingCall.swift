import NIOConcurrencyHelpers

/// One async call waiting on the event loop: its continuation and a cancelled flag that both the
/// cancelling thread and the loop read, so a cancellation that races the call's arrival on the
/// loop is never lost (the loop checks the flag when it registers the call).
final class PendingCall<Value: Sendable>: Sendable {
    private let state = NIOLockedValueBox<(cancelled: Bool, continuation: CheckedContinuation<Result<Value, AMQPClientError>, Never>?)>((false, nil))

    /// Marks the call cancelled, from the cancelling thread.
    func markCancelled() { state.withLockedValue { $0.cancelled = true } }

    var isCancelled: Bool { state.withLockedValue { $0.cancelled } }

    func attach(_ continuation: CheckedContinuation<Result<Value, AMQPClientError>, Never>) {
        state.withLockedValue { $0.continuation = continuation }
    }

    /// Resumes the caller once; later calls do nothing.
    func complete(_ result: Result<Value, AMQPClientError>) {
        let continuation = state.withLockedValue { s -> CheckedContinuation<Result<Value, AMQPClientError>, Never>? in
            defer { s.continuation = nil }
            return s.continuation
        }
        continuation?.resume(returning: result)
    }
}

extension AMQPConnection {
    /// Runs `register` on the loop with a new pending call and waits for the loop to complete it.
    /// Task cancellation marks the call and runs `cancel` on the loop, which decides what the
    /// cancelled call leaves behind (see Docs/NIO.md).
    func call<Value: Sendable>(
        _ register: @escaping @Sendable (ConnectionCore, PendingCall<Value>) -> Void,
        onCancel cancel: @escaping @Sendable (ConnectionCore, PendingCall<Value>) -> Void
    ) async throws(AMQPClientError) -> Value {
        let pending = PendingCall<Value>()
        let core = self.core
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                pending.attach(continuation)
                channel.eventLoop.execute {
                    if pending.isCancelled { pending.complete(.failure(.cancelled)); return }
                    register(core.value, pending)
                }
            }
        } onCancel: {
            pending.markCancelled()
            channel.eventLoop.execute { cancel(core.value, pending) }
        }
        return try result.get()
    }

    /// Runs `body` on the loop and returns what it returns; for calls that never wait on the peer.
    func onLoop<Value: Sendable>(_ body: @escaping @Sendable (ConnectionCore) throws(AMQPClientError) -> Value) async throws(AMQPClientError) -> Value {
        let core = self.core
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, AMQPClientError>, Never>) in
            channel.eventLoop.execute {
                continuation.resume(returning: Result { () throws(AMQPClientError) in try body(core.value) })
            }
        }
        return try result.get()
    }
}
