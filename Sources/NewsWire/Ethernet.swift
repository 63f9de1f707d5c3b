/// EtherType values (IEEE 802.3 / IANA registry).
public struct EtherType: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ipv4 = EtherType(rawValue: 0x0800)
    public static let arp = EtherType(rawValue: 0x0806)
    public static let vlan = EtherType(rawValue: 0x8100)
    public static let ipv6 = EtherType(rawValue: 0x86DD)
}

/// A view over an Ethernet II frame, FCS already stripped by the NIC.
///
/// Only the 14-byte header is required: frames shorter than the 60-byte
/// minimum are accepted (virtual NICs deliver them unpadded). 802.1Q tags are
/// not interpreted; such a frame reports `etherType == .vlan`.
public struct EthernetFrame {
    public static let headerLength = 14

    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .ethernetTruncated }
        self.bytes = bytes
    }

    public var destination: MACAddress { MACAddress(reading: bytes, at: 0) }
    public var source: MACAddress { MACAddress(reading: bytes, at: 6) }
    public var etherType: EtherType { EtherType(rawValue: bytes.readU16(12)) }
    /// Everything after the header, including any padding to 60 bytes; the
    /// next layer (IPv4 Total Length) decides how much is real.
    public var payload: UnsafeRawBufferPointer { bytes.slice(from: Self.headerLength) }
}

/// Ethernet II header as a plain value.
public struct EthernetHeader: Hashable, Sendable {
    public var destination: MACAddress
    public var source: MACAddress
    public var etherType: EtherType

    public init(destination: MACAddress, source: MACAddress, etherType: EtherType) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
    }

    public static func parse(_ frame: EthernetFrame) -> EthernetHeader {
        EthernetHeader(destination: frame.destination, source: frame.source, etherType: frame.etherType)
    }

    public var bufferLength: Int { EthernetFrame.headerLength }

    /// Writes the 14-byte header; returns bytes written, 0 if `buffer` is too small.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard buffer.count >= EthernetFrame.headerLength else { return 0 }
        destination.write(to: buffer, at: 0)
        source.write(to: buffer, at: 6)
        buffer.writeU16(etherType.rawValue, at: 12)
        return EthernetFrame.headerLength
    }
}
