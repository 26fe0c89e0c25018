import AMQPCodec
import AMQPNIO
import Logging
import ServiceLifecycle

/// The example's work, as a service beside the connection: send, receive, request/response.
/// When it finishes, the service group shuts down, which closes the connection cleanly.
struct Example: Service {
    let connection: AMQPConnection
    let count: Int
    let logger: Logger

    func run() async throws {
        let address = connection.defaultAddress ?? "examples"
        try await sendAll(to: address)
        try await receiveAll(from: address)
        try await requestResponse()
    }

    /// Sends `count` messages with at most 100 waiting for their outcome at a time.
    func sendAll(to address: String) async throws {
        let sender = try await connection.openSender(address: address)
        var accepted = 0
        try await withThrowingTaskGroup(of: SendOutcome.self) { group in
            for i in 0..<count {
                if i >= 100, let outcome = try await group.next(), outcome == .accepted { accepted += 1 }
                group.addTask { try await sender.send(Message(value: .string("message \(i)"))) }
            }
            for try await outcome in group where outcome == .accepted { accepted += 1 }
        }
        try await sender.close()
        print("\(accepted) messages sent and accepted")
    }

    /// Receives `count` messages. The receiver's capacity (20) is the back-pressure: the peer is
    /// never granted credit for more than the messages this loop has not yet taken.
    func receiveAll(from address: String) async throws {
        let receiver = try await connection.openReceiver(address: address, capacity: 20)
        var received = 0
        for try await delivery in receiver {
            try await receiver.accept(delivery)
            received += 1
            if received == count { break }
        }
        try await receiver.close()
        print("\(received) messages received")
    }

    /// A responder task answers on "requests" to each message's reply-to; the requester sends a
    /// request and waits for the reply with its correlation id.
    func requestResponse() async throws {
        let requests = try await connection.openReceiver(address: "requests", capacity: 10)
        let replies = try await connection.openReceiver(address: "replies", capacity: 10)
        let responder = Task {
            let answer = try await connection.openSender(address: "replies")
            guard let request = try await requests.receive() else { return }
            try await requests.accept(request)
            guard case .value(.string(let text)) = request.message.body else { return }
            var reply = Message(value: .string(text.uppercased()))
            reply.properties = Properties(to: request.message.properties?.replyTo, correlationID: request.message.properties?.messageID)
            _ = try await answer.send(reply)
        }
        let sender = try await connection.openSender(address: "requests")
        var request = Message(value: .string("hello"))
        request.properties = Properties(messageID: "request-1", replyTo: "replies")
        _ = try await sender.send(request)
        guard let reply = try await replies.receive() else { throw AMQPClientError(.linkDetached, "no reply") }
        try await replies.accept(reply)
        try await responder.value
        guard case .string(let id)? = reply.message.properties?.correlationID, case .value(.string(let text))? = reply.message.body else {
            throw AMQPClientError(.decodeFailed, "the reply has no string body or correlation id")
        }
        print("reply to \(id): \(text)")
    }
}
