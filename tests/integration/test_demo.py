"""Issue 7, done when #7: the README's main command is part of the suite. `scripts/demo.sh`
runs as a user would run it, and what it prints is checked: every datagram of the stream
came back although three servers were crashed under it, a 20 MB file came over NEWS TCP
intact (issue 8), those servers were restarted, and
nothing was left behind (namespace, working directory, processes)."""

import os
import re
import subprocess
from pathlib import Path

from newsutil import pid_alive

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_and_shows_what_it_promises():
    p = subprocess.run([str(ROOT / "scripts" / "demo.sh")], capture_output=True, text=True, timeout=600, cwd=ROOT)
    out = p.stdout
    assert p.returncode == 0, out[-3000:] + p.stderr[-3000:]
    assert re.search(r"^sent 20000 received 20000 lost 0 bad 0$", out, re.M), out
    # Pinged with 4000-byte payloads (fragmented both ways), no loss.
    assert re.search(r"5 packets transmitted, 5 received, 0% packet loss", out), out
    # 20 MB over NEWS TCP to curl, intact; the page; the sockets as ss shows them.
    assert re.search(r"^curl: HTTP 200, 20000000 bytes at \d+ bytes/s$", out, re.M), out
    assert "the file arrived intact" in out and "<html><body>NEWS</body></html>" in out, out
    ss = out[out.index("== NEWS's TCP sockets"):out.index("== status after the crashes")]
    assert re.search(r"^LISTEN\s+0\s+\d+\s+\*:80\s+\*:\*$", ss, re.M), ss
    assert re.search(r"^TIME-WAIT\s+0\s+0\s+198\.18\.0\.2:80\s+198\.18\.0\.1:\d+$", ss, re.M), ss

    # Status after the crashes: the three crashed servers are back, restarted once each.
    after = out[out.index("== status after the crashes"):]
    rows = {m.group(1): m for m in re.finditer(r"^(\w+)\s+(\d+)\s+\d+\s+(\w+)\s+(\d+)\s+\S+\s+(.*)$", after, re.M)}
    pids = []
    for server in ("ipserver", "packetfilter", "udpserver"):
        row = rows[server]
        assert row.group(3) == "running" and row.group(4) == "1" and "SIGSEGV" in row.group(5), row.group(0)
    for server in ("nicdriver", "tcpserver", "vfs"):
        assert rows[server].group(3) == "running" and rows[server].group(4) == "0", rows[server].group(0)
    pids = [int(rows[s].group(2)) for s in rows]
    newsd = int(re.search(r"^newsd pid (\d+)", after, re.M).group(1))
    # The filter's rules survived its crash; the capture was read back.
    assert "deny in udp" in out and "Echo (ping) request" in out

    # Nothing left behind.
    m = re.search(r"\(namespace (\S+), directory (\S+)\)\.$", out, re.M)
    assert m, out[-500:]
    ns, work = m.groups()
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not os.path.exists(work)
    assert not [pid for pid in [newsd, *pids] if pid_alive(pid)], "a NEWS process outlived the demo"
