import ServiceLifecycle

extension AMQPConnection: Service {
    /// Runs until the connection ends. On graceful shutdown it closes the connection (AMQP close,
    /// then the socket) and returns; if the connection fails first, it throws why, so a
    /// `ServiceGroup` learns of it.
    public func run() async throws {
        await withGracefulShutdownHandler {
            do { try await channel.closeFuture.get() } catch { /* closed either way */ }
        } onGracefulShutdown: {
            self.startClose()
        }
        if let failure = await failure() { throw failure }
    }
}
