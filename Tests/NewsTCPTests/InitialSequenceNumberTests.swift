import XCTest
import NewsTCP

final class InitialSequenceNumberTests: XCTestCase {
    /// The reference vectors of the SipHash paper (appendix A): key 00 01 .. 0f, messages
    /// 00, 00 01, 00 01 02, ... of length 0 to 15.
    func testSipHashReferenceVectors() {
        let key = (UInt64(0x0706_0504_0302_0100), UInt64(0x0f0e_0d0c_0b0a_0908))
        let h = SipHash24(key: key)
        let expected: [UInt64] = [
            0x726f_db47_dd0e_0e31, 0x74f8_39c5_93dc_67fd, 0x0d6c_8009_d9a9_4f5a, 0x8567_6696_d7fb_7e2d,
            0xcf27_94e0_2771_87b7, 0x1876_5564_cd99_a68d, 0xcbc9_466e_58fe_e3ce, 0xab02_00f5_8b01_d137,
            0x93f5_f579_9a93_2462, 0x9e00_82df_0ba9_e4b0, 0x7a5d_bbc5_94dd_b9f3, 0xf4b3_2f46_226b_ada7,
            0x751e_8fbc_860e_e5fb, 0x14ea_5627_c084_3d90, 0xf723_ca90_8e7a_f2ee, 0xa129_ca61_49be_45e5,
        ]
        for (n, want) in expected.enumerated() {
            let message = (0..<n).map { UInt8($0) }
            XCTAssertEqual(message.withUnsafeBytes { h.hash($0) }, want, "length \(n)")
        }
    }

    func testISNsAdvanceWithTheFourMicrosecondClockPerConnectionId() {
        let g = InitialSequenceNumbers(secret: (1, 2))
        let a = g.isn(localAddress: 0xC612_0002, localPort: 80, remoteAddress: 0xC612_0001, remotePort: 40000, now: 1_000_000_000)
        let later = g.isn(localAddress: 0xC612_0002, localPort: 80, remoteAddress: 0xC612_0001, remotePort: 40000, now: 1_000_004_000)
        XCTAssertEqual(later - a, 1, "4 µs later, one more")
        let b = g.isn(localAddress: 0xC612_0002, localPort: 80, remoteAddress: 0xC612_0001, remotePort: 40001, now: 1_000_000_000)
        XCTAssertNotEqual(a, b, "another connection id, another offset")
    }

    func testTheSecretDecides() {
        let one = InitialSequenceNumbers(secret: (1, 2)), other = InitialSequenceNumbers(secret: (1, 3))
        let args = (UInt32(0xC612_0002), UInt16(80), UInt32(0xC612_0001), UInt16(40000))
        XCTAssertNotEqual(one.isn(localAddress: args.0, localPort: args.1, remoteAddress: args.2, remotePort: args.3, now: 0),
                          other.isn(localAddress: args.0, localPort: args.1, remoteAddress: args.2, remotePort: args.3, now: 0))
        XCTAssertEqual(one.isn(localAddress: args.0, localPort: args.1, remoteAddress: args.2, remotePort: args.3, now: 5),
                       InitialSequenceNumbers(secret: (1, 2)).isn(localAddress: args.0, localPort: args.1, remoteAddress: args.2, remotePort: args.3, now: 5),
                       "the same secret (kept across a restart) gives the same space")
    }
}
