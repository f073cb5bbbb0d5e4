import NIOCore

/// A loop-safe way to reach a handler that lives on another event loop: calls hop to its loop
/// (and run at once when already on it). The handler is only ever touched on `eventLoop`.
public struct CrossLoopRef<Handler: AnyObject>: @unchecked Sendable {
    private let handler: Handler
    public let eventLoop: EventLoop

    /// Made on any thread (the other loop's, typically), so it cannot be a `NIOLoopBound`, whose
    /// init checks the loop; `run` is what guarantees the handler is only touched on `eventLoop`.
    public init(_ handler: Handler, on eventLoop: EventLoop) {
        self.handler = handler
        self.eventLoop = eventLoop
    }

    public func run(_ body: @escaping @Sendable (Handler) -> Void) {
        if eventLoop.inEventLoop {
            body(handler)
        } else {
            eventLoop.execute { body(self.handler) }
        }
    }
}
