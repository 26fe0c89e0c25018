import AMQPEngine

/// Something between a connection's socket and its driver that transforms the byte stream: TLS
/// (`AMQPProactorTLS`'s layer over `AMQPTLS`), or a user's own. The backend still owns the socket
/// (it reads, writes, polls and closes it); the layer owns the conversation with the driver.
///
/// Without a layer a backend reads into ``ConnectionDriver/readBuffer()`` and writes
/// ``ConnectionDriver/pendingOutput`` itself: the plaintext path has no layer to call, and pays
/// nothing for this protocol's existence.
///
/// The contract, as a backend uses it:
/// - **Input.** Read the socket into ``readBuffer()`` and report ``readDone(_:driver:)`` (a
///   readiness backend), or hand bytes read into the backend's own memory to
///   ``read(_:driver:)`` (a completion backend); ``readClose(driver:)`` at end of input. The layer
///   feeds the driver (its ``ConnectionDriver/readBuffer()`` and
///   ``ConnectionDriver/readDone(_:)``), closes the driver's input when its own closes, and on a
///   failure fails the driver's transport (``ConnectionDriver/failTransport(_:)``) with a
///   readable reason.
/// - **Output.** ``output(driver:)`` takes the driver's pending output through the layer and
///   returns what to write next; the bytes stay where they are, unchanged, until
///   ``writeDone(_:driver:)`` reports them written (so a completion backend may send from them
///   asynchronously). Call it again after each report: empty means nothing to write now.
/// - **Interest and the end.** Poll for reading while ``wantsInput``; for writing while
///   ``hasOutput``. Close the socket only once the driver is finished *and* ``hasOutput`` is
///   false: the layer may still hold the last bytes (TLS's close_notify after the AMQP close).
///
/// Threading: used by the thread that holds the connection's batch only, like the driver.
public protocol TransportLayer: AnyObject {
    /// Memory for the next socket read; valid until the next call into the layer.
    func readBuffer() -> UnsafeMutableRawBufferPointer

    /// `count` bytes were read into ``readBuffer()``: the layer processes them and passes what
    /// it can to `driver`.
    func readDone(_ count: Int, driver: ConnectionDriver)

    /// Bytes the backend read into its own memory: all of them are taken (copied as needed)
    /// before this returns, so the backend may reuse the memory at once.
    func read(_ bytes: UnsafeRawBufferPointer, driver: ConnectionDriver)

    /// The socket's input ended.
    func readClose(driver: ConnectionDriver)

    /// Takes what the driver has to write through the layer; returns what to write to the socket
    /// next (empty: nothing now). Stays valid and unchanged until ``writeDone(_:driver:)``
    /// reports it written.
    func output(driver: ConnectionDriver) -> UnsafeRawBufferPointer

    /// `count` bytes of ``output(driver:)`` were written.
    func writeDone(_ count: Int, driver: ConnectionDriver)

    /// Whether the layer has bytes still to write, now or once it is asked for output.
    var hasOutput: Bool { get }

    /// Whether the layer takes more input (its input has not closed).
    var wantsInput: Bool { get }
}
