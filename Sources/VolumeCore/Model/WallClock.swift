// The clock leases and records read: a protocol, so tests move time themselves.
import Foundation

/// Where the store reads the current time for leases, sandboxes and attachments.
public protocol WallClock: Sendable {
    /// The current time.
    func now() -> Date
}

/// The system's clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
