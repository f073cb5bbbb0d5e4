import Foundation
import NIOConcurrencyHelpers
import Shared
import Yams

/// A clock reading, named for the table above.
public struct NIODeadlineBox: Sendable {
    var instant: ContinuousClock.Instant
}
