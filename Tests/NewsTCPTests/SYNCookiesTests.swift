import XCTest
import NewsTCP

final class SYNCookiesTests: XCTestCase {
    let cookies = SYNCookies(secret: (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210))
    // 198.18.0.2:80 listening, 198.18.0.1:40000 connecting.
    let h = SYNCookies.Handshake(localAddress: 0xC612_0002, localPort: 80, remoteAddress: 0xC612_0001,
                                 remotePort: 40000, remoteISN: SequenceNumber(1_000_000))
    let t0: UInt64 = 5 * SYNCookies.period + 1_000

    func testTheAckOfACookieGivesBackTheMSSItEncoded() {
        for (peer, expected) in [(UInt16(1460), UInt16(1460)), (1400, 1360), (536, 536), (100, 536), (9000, 8960), (65535, 8960)] {
            let isn = cookies.cookie(for: h, peerMSS: peer, now: t0)
            XCTAssertEqual(cookies.check(h, acknowledgment: isn + 1, now: t0 + 1_000_000), expected, "peer MSS \(peer)")
        }
    }

    func testACookieIsHonouredInTheNextPeriodAndNotAfter() {
        let isn = cookies.cookie(for: h, peerMSS: 1460, now: t0)
        XCTAssertEqual(cookies.check(h, acknowledgment: isn + 1, now: t0 + SYNCookies.period), 1460)
        XCTAssertNil(cookies.check(h, acknowledgment: isn + 1, now: t0 + 2 * SYNCookies.period))
        // The period counter wraps at 32: a cookie from 31 periods ago is not taken for a fresh one.
        XCTAssertNil(cookies.check(h, acknowledgment: isn + 1, now: t0 + 31 * SYNCookies.period))
    }

    func testACookieFitsOneHandshakeOnly() {
        let isn = cookies.cookie(for: h, peerMSS: 1460, now: t0)
        var other = h
        other.remotePort = 40001
        XCTAssertNil(cookies.check(other, acknowledgment: isn + 1, now: t0))
        other = h
        other.remoteISN = h.remoteISN + 1  // an ACK whose sequence number is not the SYN's + 1
        XCTAssertNil(cookies.check(other, acknowledgment: isn + 1, now: t0))
        XCTAssertNil(cookies.check(h, acknowledgment: isn + 2, now: t0))
        XCTAssertNil(SYNCookies(secret: (1, 2)).check(h, acknowledgment: isn + 1, now: t0))
    }

    func testGuessedAcknowledgmentsAlmostNeverPass() {
        // An off-path forger's made-up ACKs pass with odds of 2 in 32 * 2^24 each: of 4096
        // guesses, more than one passing would mean the hash is not being checked.
        var accepted = 0
        for _ in 0..<4096 where cookies.check(h, acknowledgment: SequenceNumber(UInt32.random(in: 0...UInt32.max)), now: t0) != nil {
            accepted += 1
        }
        XCTAssertLessThanOrEqual(accepted, 1)
    }
}
