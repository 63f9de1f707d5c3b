/// ARP opcode (RFC 826 "ar$op"). Values other than request/reply (e.g.
/// RARP 3/4) parse fine; deciding to ignore them is the ARP layer's job.
public struct ARPOperation: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let request = ARPOperation(rawValue: 1)
    public static let reply = ARPOperation(rawValue: 2)
}

/// A view over an ARP packet for Ethernet hardware and IPv4 protocol
/// addresses (RFC 826), the only combination this stack speaks.
public struct ARPPacket {
    /// 8 fixed bytes + 2 * (6 + 4) addresses.
    public static let length = 28
    static let hardwareEthernet: UInt16 = 1

    /// Exactly the 28 ARP bytes (Ethernet padding after them is dropped).
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        // Look at the fixed part first so a well-formed ARP for another
        // hardware/protocol type counts as unsupported, not truncated.
        guard bytes.count >= 8 else { throw .arpTruncated }
        // RFC 826: "?Do I have the hardware type in ar$hrd? ... ?Do I speak
        // the protocol in ar$pro?" — if not, discard.
        guard bytes.readU16(0) == Self.hardwareEthernet,
              bytes.readU16(2) == EtherType.ipv4.rawValue,
              bytes[4] == 6, bytes[5] == 4 else { throw .arpUnsupported }
        guard bytes.count >= Self.length else { throw .arpTruncated }
        self.bytes = bytes.slice(0..<Self.length)
    }

    public var operation: ARPOperation { ARPOperation(rawValue: bytes.readU16(6)) }
    public var senderMAC: MACAddress { MACAddress(reading: bytes, at: 8) }
    public var senderIP: IPv4Address { IPv4Address(reading: bytes, at: 14) }
    public var targetMAC: MACAddress { MACAddress(reading: bytes, at: 18) }
    public var targetIP: IPv4Address { IPv4Address(reading: bytes, at: 24) }
}

/// Ethernet/IPv4 ARP packet as a plain value.
public struct ARPRepr: Hashable, Sendable {
    public var operation: ARPOperation
    public var senderMAC: MACAddress
    public var senderIP: IPv4Address
    public var targetMAC: MACAddress
    public var targetIP: IPv4Address

    public init(operation: ARPOperation, senderMAC: MACAddress, senderIP: IPv4Address,
                targetMAC: MACAddress, targetIP: IPv4Address) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }

    public static func parse(_ packet: ARPPacket) -> ARPRepr {
        ARPRepr(operation: packet.operation, senderMAC: packet.senderMAC, senderIP: packet.senderIP,
                targetMAC: packet.targetMAC, targetIP: packet.targetIP)
    }

    public var bufferLength: Int { ARPPacket.length }

    /// Writes 28 bytes; returns bytes written, 0 if `buffer` is too small.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard buffer.count >= ARPPacket.length else { return 0 }
        buffer.writeU16(ARPPacket.hardwareEthernet, at: 0)
        buffer.writeU16(EtherType.ipv4.rawValue, at: 2)
        buffer[4] = 6
        buffer[5] = 4
        buffer.writeU16(operation.rawValue, at: 6)
        senderMAC.write(to: buffer, at: 8)
        senderIP.write(to: buffer, at: 14)
        targetMAC.write(to: buffer, at: 18)
        targetIP.write(to: buffer, at: 24)
        return ARPPacket.length
    }
}
