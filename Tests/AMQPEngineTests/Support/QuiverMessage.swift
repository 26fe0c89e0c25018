import AMQPCodec

/// A quiver-style message, as the arrows send: a string body of `body` bytes and the application
/// property `SendTime` set to `n`, which tells the messages apart.
func quiverMessage(_ n: Int64, body: Int = 100) -> Message {
    var m = Message(value: .string(String(repeating: "x", count: body)))
    m.applicationProperties = ["SendTime": .long(n)]
    return m
}
