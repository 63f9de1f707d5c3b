/// A view over a UDP datagram (RFC 768), given the IP payload.
///
/// `bytes` is trimmed to the UDP Length field, so `payload` is exactly
/// length - 8 bytes.
public struct UDPDatagram {
    public static let headerLength = 8

    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .udpTruncated }
        // RFC 768: "Length is the length in octets of this user datagram
        // including this header and the data. (This means the minimum
        // value of the length is eight.)" It cannot exceed what IP carried.
        let length = Int(bytes.readU16(4))
        guard length >= Self.headerLength, length <= bytes.count else { throw .udpBadLength }
        self.bytes = bytes.slice(0..<length)
    }

    public var sourcePort: UInt16 { bytes.readU16(0) }
    public var destinationPort: UInt16 { bytes.readU16(2) }
    public var length: Int { Int(bytes.readU16(4)) }
    public var checksum: UInt16 { bytes.readU16(6) }
    public var payload: UnsafeRawBufferPointer { bytes.slice(from: Self.headerLength) }
    /// RFC 768: a zero checksum field means the sender computed none (lawful over IPv4;
    /// RFC 1122 4.1.3.4 lets a receiver accept it, and Linux does).
    public var hasChecksum: Bool { checksum != 0 }

    /// RFC 768: "An all zero transmitted checksum value means that the
    /// transmitter generated no checksum" — accepted. Otherwise the sum over
    /// pseudo-header + datagram must be all ones.
    public func verifyChecksum(src: IPv4Address, dst: IPv4Address) -> Bool {
        if checksum == 0 { return true }
        var c = InternetChecksum.pseudoHeader(src: src, dst: dst, protocol: .udp, length: length)
        c.add(bytes)
        return c.foldedSum == 0xFFFF
    }
}

/// UDP header as a plain value; the payload travels separately.
public struct UDPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var payloadLength: Int

    public init(sourcePort: UInt16, destinationPort: UInt16, payloadLength: Int) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.payloadLength = payloadLength
    }

    /// Checks the checksum (RFC 1122 4.1.3.4: "If a UDP datagram is received
    /// with a checksum that is non-zero and invalid, UDP MUST silently
    /// discard the datagram") and returns the header.
    public static func parse(_ datagram: UDPDatagram, src: IPv4Address, dst: IPv4Address,
                             verifyChecksum: Bool = true) throws(WireError) -> UDPHeader {
        if verifyChecksum && !datagram.verifyChecksum(src: src, dst: dst) { throw .udpBadChecksum }
        return UDPHeader(sourcePort: datagram.sourcePort, destinationPort: datagram.destinationPort,
                         payloadLength: datagram.payload.count)
    }

    public var bufferLength: Int { UDPDatagram.headerLength + payloadLength }

    /// Writes header + `payload` with the checksum; returns bytes written, 0 if
    /// `buffer` is too small, `payload.count != payloadLength`, or the
    /// datagram would not fit the 16-bit Length field.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer, payload: UnsafeRawBufferPointer,
                     src: IPv4Address, dst: IPv4Address) -> Int {
        let length = bufferLength
        guard payload.count == payloadLength, length <= Int(UInt16.max),
              buffer.count >= length else { return 0 }
        buffer.writeU16(sourcePort, at: 0)
        buffer.writeU16(destinationPort, at: 2)
        buffer.writeU16(UInt16(length), at: 4)
        buffer.writeU16(0, at: 6)
        buffer.copyBytes(payload, at: UDPDatagram.headerLength)
        var c = InternetChecksum.pseudoHeader(src: src, dst: dst, protocol: .udp, length: length)
        c.add(buffer.readOnly(0..<length))
        // RFC 768: "If the computed checksum is zero, it is transmitted as
        // all ones" — zero on the wire means "no checksum".
        let sum = c.finalize()
        buffer.writeU16(sum == 0 ? 0xFFFF : sum, at: 6)
        return length
    }

    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer, payload: [UInt8],
                     src: IPv4Address, dst: IPv4Address) -> Int {
        payload.withUnsafeBytes { emit(into: buffer, payload: $0, src: src, dst: dst) }
    }
}
