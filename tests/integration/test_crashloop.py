"""Done when #5 (crash loop): a server that keeps exiting is marked failed once it exceeds
`intensity` exits within `window_s`; newsd and the other servers carry on, and
`newsctl restart` brings the failed server back."""

from newsutil import SERVERS

INTENSITY = 3


def test_crash_loop_marks_failed_then_operator_restart(start_news):
    news = start_news(restart={"intensity": INTENSITY, "window_s": 30, "backoff_initial_ms": 5,
                               "backoff_max_ms": 50})
    exits = 0
    s = news.server("ipserver")
    while s["state"] != "failed" and exits <= INTENSITY + 2:
        assert s["state"] == "running", s
        old_pid = s["pid"]
        news.ctl("crash", "ipserver", "--how", "exit")
        exits += 1

        def settled():
            x = news.server("ipserver")
            return x if x["state"] == "failed" or (x["state"] == "running" and x["pid"] != old_pid) else None
        s = news.wait_for(settled, 3, what="ipserver to be running again or failed")

    assert s["state"] == "failed", f"still {s['state']} after {exits} exits"
    assert exits == INTENSITY + 1, f"failed after {exits} exits, expected {INTENSITY + 1}"
    assert s.get("pid") is None and s.get("last_exit") == "exit code 3", s

    status = news.status()  # newsd still answers status and stats
    assert news.stats()["servers"][0]["name"] == "newsd"
    others = [x for x in status["servers"] if x["name"] != "ipserver"]
    assert len(others) == len(SERVERS) - 1 and all(x["state"] == "running" for x in others), others

    news.ctl("restart", "ipserver")
    news.wait_for(lambda: news.server("ipserver")["state"] == "running", 3, what="ipserver running after restart")
    news.assert_probe_ok(200, context="after newsctl restart")
