"""Done when #4 (hang): a server that stops beating is declared hung after two heartbeat
periods, killed and restarted promptly; the reported silence and the time to recovery stay
within the bounds the heartbeat period implies, and the chain works afterwards."""

import re
import time

PERIOD = 200


def test_hang_is_detected_and_recovered(start_news, ipc):
    news = start_news(ipc=ipc, heartbeat={"period_ms": PERIOD})
    before = news.server("udpserver")
    t0 = time.monotonic()
    news.ctl("crash", "udpserver", "--how", "hang")
    after = news.wait_restarted("udpserver", before["pid"], before["restarts"] + 1, timeout=3)
    back_ms = (time.monotonic() - t0) * 1000

    last_exit = after.get("last_exit") or ""
    assert last_exit.startswith("hang"), last_exit
    m = re.search(r"heartbeat stalled for at least (\d+) ms \(period (\d+) ms\)", last_exit)
    assert m, last_exit
    silence, period = int(m.group(1)), int(m.group(2))
    assert period == PERIOD
    assert 2 * PERIOD <= silence < 2 * PERIOD + PERIOD / 2 + 150, f"silence {silence} ms: {last_exit}"
    assert back_ms < 2 * PERIOD + PERIOD / 2 + 400, f"back after {back_ms:.0f} ms"
    news.assert_probe_ok(200, context="after the hang")
