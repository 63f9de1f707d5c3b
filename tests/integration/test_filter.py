"""Issue 4, done when #5 (packet filter): a rules file blocks one UDP port and allows
another, shown by what a Linux client sees and by the rule counters; after the filter is
crashed the rules, their counters and the tracked flows are still in force."""

import json
import subprocess

from newsutil import binary

RULES = """# test rules
default in allow
default out allow
deny in udp to any port 9
allow in udp to any port 7
"""

PROBE_UDP = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.connect(("198.18.0.2", int(sys.argv[1])))
s.send(b"hello")
try:
    s.recv(100)
    print("answered")
except ConnectionRefusedError:
    print("refused")
except TimeoutError:
    print("timeout")
"""


def udp(ns, port):
    """What a Linux UDP client sees: 'refused' (the datagram passed the filter and NEWS's UDP
    server answered port unreachable), or 'timeout' (dropped on the way)."""
    return ns.exec("python3", "-c", PROBE_UDP, str(port), timeout=10).stdout.strip()


def pf_show(news):
    p = subprocess.run([binary("newsctl"), "pf", "show", "--json", "--socket", news.socket], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["pf"]


def test_rules_block_and_allow_and_survive_a_crash(linked_news, tmp_path, ipc):
    rules = tmp_path / "rules"
    rules.write_text(RULES)
    news, ns = linked_news(ipc=ipc, pf={"rules": str(rules)})
    for _ in range(3):
        assert udp(ns, 9) == "timeout"
        assert udp(ns, 7) == "refused"
    before = pf_show(news)
    assert [r["rule"] for r in before["rules"]] == ["deny in udp to any port 9", "allow in udp to any port 7"]
    assert before["rules"][0]["packets"] >= 3 and before["rules"][1]["packets"] >= 3, before
    assert before["flows"] >= 1, before

    old = news.server("packetfilter")
    news.ctl("crash", "packetfilter", "--how", "segv")
    news.wait_restarted("packetfilter", old["pid"], old["restarts"] + 1, timeout=2)
    after = pf_show(news)
    assert after["rules"] == before["rules"] or all(
        a["rule"] == b["rule"] and a["packets"] >= b["packets"] for a, b in zip(after["rules"], before["rules"])), after
    assert after["generation"] == before["generation"], "rules adopted, not reloaded"
    assert after["flows"] >= before["flows"], after
    assert udp(ns, 9) == "timeout" and udp(ns, 7) == "refused"
    assert pf_show(news)["rules"][0]["packets"] >= before["rules"][0]["packets"] + 1


def test_state_lets_replies_out_under_default_deny(linked_news, tmp_path):
    rules = tmp_path / "rules"
    rules.write_text("default in deny\ndefault out deny\nallow in icmp type 8\n")
    news, ns = linked_news(pf={"rules": str(rules)})
    # ARP is not IP: it passes, so the link works; echo replies go out only by state.
    p = ns.exec("ping", "-c", "20", "-i", "0.02", "-W", "1", "198.18.0.2")
    assert " 20 received" in p.stdout, p.stdout
    pf = news.counters("packetfilter")
    assert pf.get("passed_by_state", 0) >= 20, pf
    old = news.server("packetfilter")
    news.ctl("crash", "packetfilter", "--how", "kill")
    news.wait_restarted("packetfilter", old["pid"], old["restarts"] + 1, timeout=2)
    p = ns.exec("ping", "-c", "20", "-i", "0.02", "-W", "1", "198.18.0.2")
    assert " 20 received" in p.stdout, p.stdout
    assert news.counters("packetfilter")["passed_by_state"] >= pf["passed_by_state"] + 20


def test_pf_load_replaces_rules_and_rejects_bad_files(linked_news, tmp_path):
    news, ns = linked_news()
    assert udp(ns, 7) == "refused"
    good = tmp_path / "good"
    good.write_text("default in allow\ndeny in udp to any port 7\n")
    p = subprocess.run([binary("newsctl"), "pf", "load", str(good), "--socket", news.socket], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert udp(ns, 7) == "timeout"
    bad = tmp_path / "bad"
    bad.write_text("default in allow\nallow in udpp to any port 7\n")
    p = subprocess.run([binary("newsctl"), "pf", "load", str(bad), "--socket", news.socket], capture_output=True, text=True)
    assert p.returncode == 1 and "line 2" in p.stderr and "udpp" in p.stderr, p.stderr
    assert udp(ns, 7) == "timeout", "a refused file changes nothing"
