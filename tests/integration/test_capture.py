"""Issue 4, done when #3 (capture): a pcap written by `newsctl capture` while ping runs opens
in tshark with no malformed-packet or bad-checksum warnings, and holds both directions."""

import subprocess
import threading

from newsutil import binary


def test_capture_is_clean_pcap(linked_news, tmp_path):
    news, ns = linked_news()
    pcap = tmp_path / "cap.pcap"
    pinger = threading.Timer(0.5, lambda: ns.exec("ping", "-c", "10", "-i", "0.05", "-s", "3000", "198.18.0.2"))
    pinger.start()
    p = subprocess.run([binary("newsctl"), "capture", str(pcap), "--count", "60", "--seconds", "8", "--socket", news.socket],
                       capture_output=True, text=True, timeout=30)
    pinger.join()
    assert p.returncode == 0, p.stderr
    assert "frames to" in p.stdout

    prefs = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"]
    summary = subprocess.run(["tshark", "-r", str(pcap), *prefs], capture_output=True, text=True, timeout=60)
    assert summary.returncode == 0, summary.stderr
    assert "Echo (ping) request" in summary.stdout and "Echo (ping) reply" in summary.stdout, summary.stdout
    assert "Fragmented IP protocol" in summary.stdout, "3000-byte pings are fragmented both ways"
    detail = subprocess.run(["tshark", "-r", str(pcap), "-V", *prefs], capture_output=True, text=True, timeout=60).stdout
    for bad in ("Malformed", "[Checksum Status: Bad]", "Bad checksum", "incorrect"):
        assert bad not in detail, f"tshark reports {bad!r}"
    assert "[Checksum Status: Good]" in detail
    expert = subprocess.run(["tshark", "-r", str(pcap), "-q", "-z", "expert,error", *prefs], capture_output=True, text=True).stdout
    assert "Errors" not in expert, expert


def test_capture_refused_without_device(start_news, tmp_path):
    news = start_news()
    p = subprocess.run([binary("newsctl"), "capture", str(tmp_path / "x.pcap"), "--socket", news.socket],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "no device" in p.stderr, p.stderr
