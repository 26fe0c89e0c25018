import AMQPCodec
import AMQPEngine
import Logging

// Reconnect: what to do after a drop (ReconnectSchedule decides), the timer that makes the next
// connection, and ending connections that wait for one when the container stops.
extension Container {
    /// After a drop: the next URL to try and the wait before, or nil when reconnect stops (the
    /// log and the handler are told why; the caller then ends the connection).
    func nextAttempt(_ record: ConnectionRecord, _ c: MessagingConnection) -> (MessagingURL, Duration)? {
        guard var plan = record.reconnect else { return nil }
        let step = plan.next(after: c.facts, now: proactor.now)
        record.reconnect = plan
        switch step {
        case .retry(let index, let wait, let attempt):
            let url = record.urls[index]
            record.logger.info("reconnecting", metadata: ["amqp.url": "\(url)", "amqp.attempt": "\(attempt)", "amqp.delay": "\(wait)"])
            return (url, wait)
        case .stop(let error):
            record.logger.warning("not reconnecting", metadata: Self.metadata(error))
            c.handler.onReconnectStopped(c, error)
            return nil
        }
    }

    /// Opens `record`'s next connection to `url` after `wait`.
    func scheduleReconnect(_ record: ConnectionRecord, to url: MessagingURL, after wait: Duration) {
        // Registered before the timer is set, so a stop() in between finds the record.
        reconnecting.withLock { $0[ObjectIdentifier(record)] = record }
        schedule(after: wait) { [self] in
            // stop() may have taken the record: it is then ended elsewhere.
            guard reconnecting.withLock({ $0.removeValue(forKey: ObjectIdentifier(record)) }) != nil else { return }
            // Checked and opened under the state lock: stop() either comes after the open (and
            // its disconnect closes the new connection) or before the check.
            let opened = state.withLock { s -> Bool in
                guard !s.stopped else { return false }
                open(record, to: url)
                return true
            }
            if !opened { endBetweenConnections(record) }
        }
    }

    /// After stop(): the work that ends the connections waiting to reconnect, to run at once on a
    /// container thread; nil when none waits. Called under the timers' lock, so a reconnect timer
    /// set before stop() dropped it has its record registered here (scheduleReconnect registers
    /// first), and one set after survives and ends its record itself.
    func endWaitingReconnects() -> ContainerTimers.Work? {
        guard !reconnecting.withLock({ $0.isEmpty }) else { return nil }
        // A timer, not a call here: stop() may be called from a handler, and these records'
        // handlers must not run inside another's call. Records stay registered until the timer
        // runs, so a later stop() (which drops timers) makes its own.
        return { [self] in
            let waiting = reconnecting.withLock { r in
                defer { r = [:] }
                return Array(r.values)
            }
            for record in waiting { endBetweenConnections(record) }
        }
    }

    /// Ends a connection between a drop and its next attempt: no batch of it will come, so the
    /// work its queue took runs here, then `onTransportClose`.
    func endBetweenConnections(_ record: ConnectionRecord) {
        guard let c = record.messaging, !record.finished else { return }
        // The dropped connection's driver may be freed by now, and a released connection refuses
        // new sessions (a precondition): the work runs on a driver that never connects, kept until
        // the end. Its connection, too, says the transport is closed.
        let placeholder = ConnectionDriver(mode: .client, configuration: DriverConfiguration(containerID: id))
        c.rebind(to: placeholder.connection)
        c.isTransportClosed = true
        end(record, c)
        withExtendedLifetime(placeholder) {}
    }
}
