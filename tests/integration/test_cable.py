"""Issue 4 (NIC driver, shared-memory cable): two NEWS instances joined by a cable file in
/dev/shm instead of a TAP: NEWS a (198.18.0.2) runs an echo client, NEWS b (198.18.0.3) the
echo app; every datagram comes back intact, in both ipc modes. No namespace, no device."""

import os
import subprocess

from newsutil import binary, proc_status


def test_two_news_instances_over_a_cable(start_news, ipc, tmp_path):
    cable = f"/dev/shm/news-cable-test-{os.getpid()}-{ipc}"
    try:
        a = start_news(ipc=ipc, subdir="a", nic={"backend": "cable", "cable": cable, "cable_side": "a"},
                       ip={"address": "198.18.0.2/24"})
        # Each instance's servers have ids of their own (uid_base), so the two drivers that
        # share the cable run as different uids: nothing on the cable may depend on one uid.
        b = start_news(ipc=ipc, subdir="b", nic={"backend": "cable", "cable": cable, "cable_side": "b",
                                                 "mac": "02:4e:57:53:00:03"}, ip={"address": "198.18.0.3/24"},
                       uid_base=62000)
        drivers = [proc_status(n.server("nicdriver")["pid"])["Uid"].split()[0] for n in (a, b)]
        assert drivers == ["61000", "62000"], drivers
        st = os.stat(cable)
        # A tmpfs file cannot be sealed: only root may hold it, or anyone could truncate it
        # under both NIC drivers.
        assert (oct(st.st_mode & 0o777), st.st_uid) == ("0o600", 0), "the cable is root's alone"
        echo = subprocess.Popen([binary("newsecho"), "--app-socket", b.app_socket, "--port", "7"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert "listening" in echo.stdout.readline()
            for args in (["--count", "5000"], ["--count", "100", "--min", "8000", "--max", "8000", "--window", "8"]):
                p = subprocess.run([binary("newsecho"), "--app-socket", a.app_socket, "--client", "198.18.0.3:7", *args],
                                   capture_output=True, text=True, timeout=120)
                drops = {f"{n}.{s}": {k: v for k, v in news.counters(s).items() if v and not k.startswith(("rx.", "tx."))}
                         for n, news in (("a", a), ("b", b)) for s in ("nicdriver", "ipserver", "udpserver")}
                assert p.returncode == 0 and "mismatched 0" in p.stdout, p.stdout + p.stderr + str(drops)
        finally:
            echo.kill()
            echo.wait()
        assert a.counters("nicdriver")["tx_frames"] >= 5000 and b.counters("nicdriver")["rx_frames"] >= 5000
    finally:
        if os.path.exists(cable):
            os.unlink(cable)
