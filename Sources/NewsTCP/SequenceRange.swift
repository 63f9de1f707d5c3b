/// A half-open range of sequence space, `start ..< end`, the shape of a SACK block
/// (RFC 2018 3: "Left Edge of Block: This is the first sequence number of this block.
/// Right Edge of Block: This is the sequence number immediately following the last
/// sequence number of this block."). NewsTCP's own type, so it needs no wire library.
/// Both edges wrap; the range is meaningful while it is shorter than 2^31.
public struct SequenceRange: Hashable, Sendable, CustomStringConvertible {
    public var start: SequenceNumber
    public var end: SequenceNumber
    public init(start: SequenceNumber, end: SequenceNumber) { self.start = start; self.end = end }
    public init(start: SequenceNumber, length: Int) { self.start = start; self.end = start + length }

    /// The number of sequence numbers covered (negative if the edges are reversed).
    public var length: Int { end - start }
    public var isEmpty: Bool { end <= start }

    public func contains(_ s: SequenceNumber) -> Bool { s.isIn(start, upTo: end) }
    public func contains(_ other: SequenceRange) -> Bool { start <= other.start && other.end <= end }

    public var description: String { "\(start)..<\(end)" }
}

/// The later / earlier of two sequence numbers (by the wrapping order).
@inline(__always) func later(_ a: SequenceNumber, _ b: SequenceNumber) -> SequenceNumber { a >= b ? a : b }
@inline(__always) func earlier(_ a: SequenceNumber, _ b: SequenceNumber) -> SequenceNumber { a <= b ? a : b }
