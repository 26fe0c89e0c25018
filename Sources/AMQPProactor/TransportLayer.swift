import AMQPEngine

/// Something between a connection's socket and its driver that transforms the byte stream: TLS
/// (`AMQPProactorTLS`'s `TLSLayer` over `AMQPTLS`), or a user's own. The backend still owns the
/// socket (it reads, writes, polls and closes it); the layer owns the conversation with the driver.
///
/// A connection gets one with ``Proactor/connect(to:configuration:layer:)``,
/// ``ProactorListener/accept(configuration:layer:)`` or ``Proactor/adopt(_:driver:layer:)``.
/// Without a layer a backend reads into `ConnectionDriver.readBuffer()` and writes
/// `ConnectionDriver.pendingOutput` itself: the plaintext path has no layer to call, and pays
/// nothing for this protocol's existence (one nil check per batch).
///
/// The contract, as a backend uses it (every call passes the connection's driver; a layer serves
/// one connection and may keep state about it, but need not keep the driver):
/// - **Input.** Read the socket into ``readBuffer(driver:)`` and report
///   ``readDone(_:driver:)`` (a readiness backend), or hand bytes read into the backend's own
///   memory to ``read(_:driver:)`` (a completion backend); ``readClose(driver:)`` at end of input.
///   An empty ``readBuffer(driver:)`` means "not now": do not read. The layer feeds the driver (its
///   `ConnectionDriver.readBuffer()` and `ConnectionDriver.readDone(_:)`), closes the driver's
///   input when its own closes, and on a failure fails the driver's transport
///   (`ConnectionDriver.failTransport(_:)`) with a readable reason and closes the driver both
///   ways, so the driver finishes.
/// - **Output.** ``output(driver:early:)`` takes the driver's pending output through the layer and
///   returns what to write next; the bytes stay where they are, unchanged, until
///   ``writeDone(_:driver:)`` reports them written (so a completion backend may send from them
///   asynchronously). Call it again after each report: empty means nothing to write now. While a
///   write from it is in flight, do not call it again. From the driver's early write
///   (`ConnectionDriver.setEarlyWrite(threshold:_:)`) pass `early: true`: the layer then only
///   moves output (it may call `ConnectionDriver.pendingOutput` and
///   `ConnectionDriver.writeDone(_:)`, nothing that processes input or posts events), and a
///   failure met there is reported by the next call that is not early.
/// - **Interest and the end.** Poll for reading while ``wantsInput(driver:)``; for writing while
///   ``hasOutput(driver:)`` (asked after output was written until the socket would block).
///   Close the socket only once the driver is finished *and* ``hasOutput(driver:)`` is false:
///   the layer may still hold the last bytes (TLS's close_notify after the AMQP close, or an
///   alert after a failure). A backend gives such a finished connection a short while to write
///   them (``TransportLayerLinger/duration``), then closes it anyway.
///
/// A layered connection cannot be taken out with ``Proactor/release(_:)`` (it returns nil): the
/// layer's state (a TLS session) cannot go with the socket.
///
/// Threading: handed to the proactor with the connection, and from then on used only by the
/// thread that holds the connection's batch, like the driver; a layer need not be `Sendable`.
public protocol TransportLayer: AnyObject {
    /// Memory for the next socket read; valid until the next call into the layer or the driver.
    /// Empty when the layer cannot take input now (do not read then).
    func readBuffer(driver: ConnectionDriver) -> UnsafeMutableRawBufferPointer

    /// `count` bytes were read into ``readBuffer(driver:)``: the layer processes them and passes
    /// what it can to `driver`.
    func readDone(_ count: Int, driver: ConnectionDriver)

    /// Bytes the backend read into its own memory: all of them are taken (copied as needed)
    /// before this returns, so the backend may reuse the memory at once.
    func read(_ bytes: UnsafeRawBufferPointer, driver: ConnectionDriver)

    /// The socket's input ended (end of file).
    func readClose(driver: ConnectionDriver)

    /// Takes what the driver has to write through the layer; returns what to write to the socket
    /// next (empty: nothing now). Stays valid and unchanged until ``writeDone(_:driver:)``
    /// reports it written. `early` when called from the driver's early write.
    func output(driver: ConnectionDriver, early: Bool) -> UnsafeRawBufferPointer

    /// `count` bytes of ``output(driver:early:)`` were written.
    func writeDone(_ count: Int, driver: ConnectionDriver)

    /// Whether the layer has bytes still to write, now or once it is asked for output.
    func hasOutput(driver: ConnectionDriver) -> Bool

    /// Whether the layer takes more input now: its input has not closed and it has room.
    func wantsInput(driver: ConnectionDriver) -> Bool
}

/// How long a backend keeps a finished connection whose layer still has bytes to write (a TLS
/// close_notify or alert the peer is not reading), before closing it anyway.
///
/// Threading: constants; Sendable.
public enum TransportLayerLinger {
    /// Two seconds.
    public static let duration: Duration = .seconds(2)
}
