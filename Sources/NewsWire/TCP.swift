/// TCP control bits (RFC 9293 3.1, RFC 3168 for ECE/CWR).
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)
}

/// A view over a TCP segment (RFC 9293 3.1), given the whole IP payload.
/// Enough for a packet filter; there is no state machine here.
public struct TCPHeaderView {
    public static let minHeaderLength = 20

    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.minHeaderLength else { throw .tcpTruncated }
        // RFC 9293: Data Offset is "the number of 32-bit words in the TCP
        // header"; the fixed header alone is 5.
        let offset = Int(bytes[12] >> 4) * 4
        guard offset >= Self.minHeaderLength, offset <= bytes.count else { throw .tcpBadDataOffset }
        self.bytes = bytes
    }

    public var sourcePort: UInt16 { bytes.readU16(0) }
    public var destinationPort: UInt16 { bytes.readU16(2) }
    public var sequenceNumber: UInt32 { bytes.readU32(4) }
    public var acknowledgmentNumber: UInt32 { bytes.readU32(8) }
    /// Header length in 32-bit words.
    public var dataOffset: UInt8 { bytes[12] >> 4 }
    public var headerLength: Int { Int(dataOffset) * 4 }
    public var flags: TCPFlags { TCPFlags(rawValue: bytes[13]) }
    public var window: UInt16 { bytes.readU16(14) }
    public var checksum: UInt16 { bytes.readU16(16) }
    public var urgentPointer: UInt16 { bytes.readU16(18) }
    public var options: UnsafeRawBufferPointer { bytes.slice(Self.minHeaderLength..<headerLength) }
    public var payload: UnsafeRawBufferPointer { bytes.slice(from: headerLength) }

    /// Unlike UDP, the TCP checksum is mandatory (RFC 9293 3.1): zero is not
    /// special. The pseudo-header length is the whole segment.
    public func verifyChecksum(src: IPv4Address, dst: IPv4Address) -> Bool {
        var c = InternetChecksum.pseudoHeader(src: src, dst: dst, protocol: .tcp, length: bytes.count)
        c.add(bytes)
        return c.foldedSum == 0xFFFF
    }
}

/// TCP header without options, as a plain value (e.g. for a filter's RST).
public struct TCPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: UInt32
    public var acknowledgmentNumber: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var urgentPointer: UInt16

    public init(sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: UInt32,
                acknowledgmentNumber: UInt32, flags: TCPFlags, window: UInt16, urgentPointer: UInt16 = 0) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.window = window
        self.urgentPointer = urgentPointer
    }

    /// Options in `view` are not carried over.
    public static func parse(_ view: TCPHeaderView) -> TCPHeader {
        TCPHeader(sourcePort: view.sourcePort, destinationPort: view.destinationPort,
                  sequenceNumber: view.sequenceNumber, acknowledgmentNumber: view.acknowledgmentNumber,
                  flags: view.flags, window: view.window, urgentPointer: view.urgentPointer)
    }

    /// Writes a 20-byte header + `payload` with the checksum; returns bytes
    /// written, 0 if `buffer` is too small or the segment exceeds 65535.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer, payload: UnsafeRawBufferPointer,
                     src: IPv4Address, dst: IPv4Address) -> Int {
        emit(into: buffer, options: nil, payload: payload, src: src, dst: dst)
    }

    /// Writes the header with `options` (padded to whole words; Data Offset set to match),
    /// then `payload`, and the checksum over the pseudo-header (RFC 9293 3.1). Returns the
    /// bytes written, 0 if `buffer` is too small, the options exceed the 40 bytes a header
    /// holds, or the segment exceeds 65535.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer, options: TCPOptions?, payload: UnsafeRawBufferPointer,
                     src: IPv4Address, dst: IPv4Address) -> Int {
        let headerLength = TCPHeaderView.minHeaderLength + (options?.emittedLength ?? 0)
        guard headerLength + payload.count <= buffer.count else { return 0 }
        buffer.copyBytes(payload, at: headerLength)
        return emit(into: buffer, options: options, payloadInPlace: payload.count, src: src, dst: dst, partialChecksum: false)
    }

    /// The header length `options` make (20 to 60).
    public static func headerLength(options: TCPOptions?) -> Int { TCPHeaderView.minHeaderLength + (options?.emittedLength ?? 0) }

    /// Writes the header in front of `payloadLength` bytes of payload the caller already put
    /// at `headerLength(options:)` in `buffer` (so a payload is copied once, straight into
    /// the frame). With `partialChecksum` the checksum field gets only the pseudo-header sum,
    /// not complemented, for a device to finish (virtio's VIRTIO_NET_HDR_F_NEEDS_CSUM); else
    /// the whole checksum. Returns the segment length, or 0 as `emit(into:options:payload:)`.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer, options: TCPOptions?, payloadInPlace payloadLength: Int,
                     src: IPv4Address, dst: IPv4Address, partialChecksum: Bool) -> Int {
        let optionBytes = options?.emittedLength ?? 0
        let headerLength = TCPHeaderView.minHeaderLength + optionBytes
        let length = headerLength + payloadLength
        guard optionBytes <= 40, length <= Int(UInt16.max), buffer.count >= length else { return 0 }
        buffer.writeU16(sourcePort, at: 0)
        buffer.writeU16(destinationPort, at: 2)
        buffer.writeU32(sequenceNumber, at: 4)
        buffer.writeU32(acknowledgmentNumber, at: 8)
        buffer[12] = UInt8(headerLength / 4) << 4
        buffer[13] = flags.rawValue
        buffer.writeU16(window, at: 14)
        buffer.writeU16(0, at: 16)
        buffer.writeU16(urgentPointer, at: 18)
        if let options {
            let area = UnsafeMutableRawBufferPointer(rebasing: buffer[TCPHeaderView.minHeaderLength..<headerLength])
            guard options.emit(into: area) == optionBytes else { return 0 }
        }
        var c = InternetChecksum.pseudoHeader(src: src, dst: dst, protocol: .tcp, length: length)
        if partialChecksum {
            buffer.writeU16(c.foldedSum, at: 16)
        } else {
            c.add(buffer.readOnly(0..<length))
            buffer.writeU16(c.finalize(), at: 16)
        }
        return length
    }
}
