/// A TCP sequence number: 32 bits that wrap (RFC 9293 3.4: "all arithmetic dealing with
/// sequence numbers must be performed modulo 2**32"). Ordering compares the signed
/// distance, so it holds for numbers less than 2^31 apart, which windows always are.
public struct SequenceNumber: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static func + (a: SequenceNumber, n: Int) -> SequenceNumber { SequenceNumber(a.rawValue &+ UInt32(truncatingIfNeeded: n)) }
    public static func - (a: SequenceNumber, n: Int) -> SequenceNumber { SequenceNumber(a.rawValue &- UInt32(truncatingIfNeeded: n)) }
    public static func += (a: inout SequenceNumber, n: Int) { a = a + n }

    /// The signed distance from `b` to `a` (positive when `a` is later).
    public static func - (a: SequenceNumber, b: SequenceNumber) -> Int { Int(Int32(bitPattern: a.rawValue &- b.rawValue)) }

    public static func < (a: SequenceNumber, b: SequenceNumber) -> Bool { a - b < 0 }
    public static func <= (a: SequenceNumber, b: SequenceNumber) -> Bool { a - b <= 0 }
    public static func > (a: SequenceNumber, b: SequenceNumber) -> Bool { a - b > 0 }
    public static func >= (a: SequenceNumber, b: SequenceNumber) -> Bool { a - b >= 0 }

    /// `low <= self < high`, the form most window tests in RFC 9293 take.
    public func isIn(_ low: SequenceNumber, upTo high: SequenceNumber) -> Bool { low <= self && self < high }

    public var description: String { String(rawValue) }
}
