"""TCP through the TAP's offloads (issue 9): NEWS hands the kernel TSO segments larger than
the MSS and takes the kernel's coalesced ones, shown by a capture on the TAP inside the test's
namespace (tcpdump sees the frames as they cross the device, before the kernel cuts ours) and
by nicdriver's and tcpserver's counters; the same 100 MB arrive intact either way, with the
offloads and without them (`[nic] offloads = false`)."""

import subprocess
import time

import pytest

from test_tcp_linux import App, BIG, LINUX_IP, NEWS_IP, examples, make_file, sha256_of  # noqa: F401 (fixture)

MSS = 1460


def frame_sizes(pcap, src):
    """The IP total lengths of TCP packets from `src` in a capture (tshark reads tcpdump's file)."""
    r = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"ip.src=={src} && tcp", "-T", "fields", "-e", "ip.len"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def transfer_both_ways(news, ns, examples, tmp_path, tag):
    """100 MB NEWS->Linux (curl from NEWS's http_server) and Linux->NEWS (http_get from
    python3 -m http.server); returns the two rates in MB/s."""
    root = tmp_path / f"www-{tag}"
    root.mkdir()
    digest = make_file(root / "big.bin", BIG, 7)
    app = App(examples["http_server"], news.app_socket, "80", str(root)).wait_listening()
    server = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-m", "http.server", "8000", "--bind", LINUX_IP,
                               "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = tmp_path / f"down-{tag}.bin"
        t = time.monotonic()
        r = ns.exec("curl", "-sS", "--max-time", "240", "-o", str(out), "-w", "%{http_code} %{size_download}",
                    f"http://{NEWS_IP}/big.bin", timeout=300)
        down = BIG / (time.monotonic() - t) / 1e6
        assert r.returncode == 0 and r.stdout == f"200 {BIG}", r.stdout + r.stderr
        assert sha256_of(out) == digest
        out.unlink()
        time.sleep(0.3)
        got = tmp_path / f"up-{tag}.bin"
        t = time.monotonic()
        r = subprocess.run([examples["http_get"], news.app_socket, f"http://{LINUX_IP}:8000/big.bin", str(got)],
                           capture_output=True, text=True, timeout=300)
        up = BIG / (time.monotonic() - t) / 1e6
        assert r.returncode == 0 and r.stdout.startswith(f"ok {BIG} "), r.stdout + r.stderr
        assert sha256_of(got) == digest
        got.unlink()
        return down, up
    finally:
        app.stop()
        server.kill()
        server.wait()


def test_tso_and_coalesced_segments_cross_the_tap(linked_news, examples, tmp_path):
    news, ns = linked_news()
    pcap = tmp_path / "tap.pcap"
    # Headers only (-s 96): the sizes are in the IP header; the file stays small.
    dump = subprocess.Popen(["ip", "netns", "exec", ns.name, "tcpdump", "-i", ns.tap, "-s", "96", "-w", str(pcap), "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        down, up = transfer_both_ways(news, ns, examples, tmp_path, "on")
        time.sleep(0.5)
    finally:
        dump.terminate()
        dump.wait(timeout=10)
    print(f"with offloads: NEWS->Linux {down:.1f} MB/s, Linux->NEWS {up:.1f} MB/s")
    nic, tcp = news.counters("nicdriver"), news.counters("tcpserver")
    print({k: v for k, v in nic.items() if "tso" in k or "coalesced" in k or "offload" in k})
    ours, theirs = frame_sizes(pcap, NEWS_IP), frame_sizes(pcap, LINUX_IP)
    big_ours = [n for n in ours if n > MSS + 40 + 40]
    big_theirs = [n for n in theirs if n > MSS + 40 + 40]
    print(f"capture: {len(big_ours)} of {len(ours)} NEWS packets over one MSS (largest {max(ours)}), "
          f"{len(big_theirs)} of {len(theirs)} Linux packets (largest {max(theirs)})")
    # NEWS's data went into the TAP mostly as TSO segments, each at most 64 KB.
    assert len(big_ours) > 100 and max(ours) <= 65535, (len(big_ours), max(ours))
    assert nic.get("tx_tso_frames", 0) >= len(big_ours) * 0.9, nic
    assert tcp.get("tso_segments_out", 0) > 100 and tcp.get("wire_segments_out", 0) > tcp["tso_segments_out"] * 2, tcp
    # ...and the kernel handed coalesced segments up to NEWS, whose checksums it vouched for.
    assert len(big_theirs) > 100, len(big_theirs)
    assert nic.get("rx_coalesced_frames", 0) > 100 and nic.get("rx_checksum_offloaded", 0) > 100, nic
    assert tcp.get("coalesced_segments_in", 0) > 100, tcp
    assert tcp.get("dropped_bad_checksum", 0) == 0 and nic.get("tx_errors", 0) == 0, (tcp, nic)


def test_without_offloads_every_frame_fits_the_mtu(linked_news, examples, tmp_path):
    news, ns = linked_news(nic={"offloads": False})
    down, up = transfer_both_ways(news, ns, examples, tmp_path, "off")
    print(f"without offloads: NEWS->Linux {down:.1f} MB/s, Linux->NEWS {up:.1f} MB/s")
    nic, tcp = news.counters("nicdriver"), news.counters("tcpserver")
    assert nic.get("tx_tso_frames", 0) == 0 and nic.get("rx_coalesced_frames", 0) == 0, nic
    assert tcp.get("tso_segments_out", 0) == 0 and tcp.get("checksums_offloaded", 0) == 0, tcp


def test_impairments_turn_offloads_off(linked_news, examples, tmp_path):
    """Impairments act on wire frames: with one set, the link runs without offloads."""
    news, ns = linked_news(nic={"out_delay_us": 100})
    root = tmp_path / "www"
    root.mkdir()
    make_file(root / "f.bin", 2_000_000, 3)
    app = App(examples["http_server"], news.app_socket, "80", str(root)).wait_listening()
    try:
        r = ns.exec("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", f"http://{NEWS_IP}/f.bin", timeout=60)
        assert r.stdout == "200 2000000", r.stdout + r.stderr
    finally:
        app.stop()
    nic = news.counters("nicdriver")
    assert nic.get("tx_tso_frames", 0) == 0 and nic.get("rx_coalesced_frames", 0) == 0, nic
