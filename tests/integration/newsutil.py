"""Shared helpers for the NEWS integration tests: where the binaries are, and `News`, one
running newsd with its six servers, driven through newsctl."""

import json as jsonlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path(os.environ.get("NEWS_BIN", Path(__file__).resolve().parents[2] / ".build" / "release"))
SERVERS = ["nicdriver", "packetfilter", "ipserver", "udpserver", "tcpserver", "vfs"]
IPC_MODES = ["shm", "kernel"]


def binary(name):
    return str(BIN / name)


def run(name, *args, timeout=60, prefix=()):
    """Runs the NEWS binary `name` (after `prefix`, e.g. setpriv), capturing text output."""
    return subprocess.run([*prefix, binary(name), *args], capture_output=True, text=True, timeout=timeout)


def wait_for(pred, timeout, interval=0.02, what="condition"):
    """Polls `pred` until it returns something truthy; returns that, or raises after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def proc_status(pid):
    """/proc/PID/status as a dict of field -> raw value string."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return jsonlib.dumps(v)


def render_config(settings):
    """A TOML file from a dict: scalars at top level, dicts as tables."""
    top = [f"{k} = {toml_value(v)}" for k, v in settings.items() if not isinstance(v, dict)]
    tables = [f"\n[{k}]\n" + "\n".join(f"{kk} = {toml_value(vv)}" for kk, vv in v.items())
              for k, v in settings.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


class News:
    """One newsd in a private directory: config, log and control socket live in `tmp`."""

    def __init__(self, tmp, ipc="shm", fault_injection=True, socket_dir=None, extra_args=(), **settings):
        self.tmp = Path(tmp)
        sock_dir = Path(socket_dir) if socket_dir else self.tmp
        self.socket = str(sock_dir / "newsd.sock")
        if len(self.socket.encode()) > 107:  # sun_path limit: fall back to a short private dir
            self.socket = tempfile.mkdtemp(prefix="news-") + "/newsd.sock"
        self.app_socket = str(Path(self.socket).with_name("app.sock"))
        cfg = {"ipc": ipc, "control_socket": self.socket, "app_socket": self.app_socket, "fault_injection": fault_injection}
        cfg.update(settings)
        self.config_path = self.tmp / "newsd.toml"
        self.config_path.write_text(render_config(cfg))
        self.log_path = self.tmp / "newsd.log"
        self.extra_args = list(extra_args)
        self.proc = None
        self.seen_pids = set()

    # -- life cycle ----------------------------------------------------------------------

    def start(self, timeout=10):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary("newsd"), "--config", str(self.config_path), *self.extra_args],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_all_running(timeout)
        return self

    def wait_all_running(self, timeout=10):
        def ready():
            assert self.proc.poll() is None, f"newsd exited with {self.proc.returncode}\n{self.log()}"
            if not os.path.exists(self.socket):
                return None
            r = self.ctl("status", check=False)
            if not isinstance(r, dict) or not r.get("ok"):
                return None
            servers = r["status"]["servers"]
            return r if all(s["state"] == "running" for s in servers) and len(servers) == 6 else None
        return wait_for(ready, timeout, what="all six servers running")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL; then kills any server process it ever saw that is still alive."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for pid in self.seen_pids:
            if pid_alive(pid) and self._is_news_server(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if getattr(self, "_log", None):
            self._log.close()

    @staticmethod
    def _is_news_server(pid):
        try:
            return os.path.basename(os.readlink(f"/proc/{pid}/exe")) in SERVERS
        except OSError:
            return False

    # -- newsctl -------------------------------------------------------------------------

    def ctl(self, *args, json=True, check=True, timeout=60):
        """Runs `newsctl ARGS --socket S [--json]`: the parsed reply with json=True (None if
        stdout is not JSON), else the CompletedProcess. `check` asserts exit code 0."""
        argv = [binary("newsctl"), *args, "--socket", self.socket] + (["--json"] if json else [])
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, f"{' '.join(args)} exited {p.returncode}: {p.stdout}{p.stderr}"
        if not json:
            return p
        try:
            reply = jsonlib.loads(p.stdout)
        except ValueError:
            return None
        if reply.get("status"):
            self.seen_pids.update(s["pid"] for s in reply["status"]["servers"] if s.get("pid"))
        return reply

    def status(self):
        return self.ctl("status")["status"]

    def servers(self):
        return {s["name"]: s for s in self.status()["servers"]}

    def server(self, name):
        return self.servers()[name]

    def stats(self):
        return self.ctl("stats")["stats"]

    def counters(self, server):
        entry = next(s for s in self.stats()["servers"] if s["name"] == server)
        return {c["name"]: c["value"] for c in entry["counters"]}

    def probe(self, n=200):
        return self.ctl("probe", "--count", str(n))["probe"]

    def assert_probe_ok(self, n=200, context=""):
        p = self.probe(n)
        ok = p["sent"] == p["received"] == n and p["lost"] == 0 and p["bad_hops"] == 0 \
            and p["out_of_order"] == 0 and p["duplicates"] == 0
        assert ok, f"probe failed {context}: {p}"
        return p

    def wait_for(self, pred, timeout, interval=0.02, what="condition"):
        return wait_for(pred, timeout, interval, what)

    def wait_restarted(self, name, old_pid, restarts, timeout):
        """Waits until `name` runs with a pid other than `old_pid` and `restarts` restarts."""
        def back():
            s = self.server(name)
            return s if s["state"] == "running" and s.get("pid") not in (None, old_pid) and s["restarts"] == restarts else None
        return wait_for(back, timeout, what=f"{name} running again with a new pid and {restarts} restarts")



class Netns:
    """A network namespace made for one test, holding the Linux end of NEWS's TAP link
    (198.18.0.1/24; NEWS is 198.18.0.2). newsd creates the TAP inside it; `configure` gives
    the Linux side its address once the device exists. Always removed by `close`."""

    count = 0

    def __init__(self):
        Netns.count += 1
        tag = f"{os.getpid() % 100000}x{Netns.count}"
        self.name = f"news-{tag}"
        self.tap = f"nt{tag}"[:15]
        subprocess.run(["ip", "netns", "add", self.name], check=True)

    def nic_config(self):
        return {"nic": {"backend": "tap", "tap": self.tap, "netns": self.name}}

    def exec(self, *cmd, timeout=120, check=False, **kw):
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], capture_output=True, text=True,
                              timeout=timeout, check=check, **kw)

    def configure(self, address="198.18.0.1/24"):
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", self.tap, "up"],
                    ["ip", "addr", "add", address, "dev", self.tap]):
            self.exec(*cmd, check=True)

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
