"""Issue 9, placement: with fewer CPUs than processes newsd keeps the stack's servers (and
itself) on the first CPUs and applications on the last; its hello tells libnews, which sets
the application's affinity (NEWS_AFFINITY=0 leaves it alone). `[cores]` entries win,
`[cores] apps` names the application CPUs, and `newsd --check-config` checks both."""

import os
import subprocess

import pytest

from newsutil import SERVERS, binary, proc_status, run

CPUS = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="placement apart needs two CPUs")


def cpulist(cpus):
    """The kernel's Cpus_allowed_list form of a sorted list (ranges collapsed)."""
    parts, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        parts.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(parts)


def start_echo(news, env=None):
    p = subprocess.Popen([binary("newsecho"), "--app-socket", news.app_socket, "--port", "7"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    assert "listening" in line, line + p.stderr.read()
    return p


def allowed_of(pid):
    return proc_status(pid)["Cpus_allowed_list"]


@pytest.fixture
def echo():
    started = []

    def start(news, env=None):
        p = start_echo(news, env)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        p.wait()


def cores_of(news):
    return {s["name"]: s["core"] for s in news.status()["servers"]}


def test_default_keeps_servers_apart_from_the_application(start_news, echo):
    news = start_news()
    stack = CPUS[:-1] if len(CPUS) < len(SERVERS) + 2 else CPUS[:len(SERVERS) + 1]
    apps = [c for c in CPUS if c not in stack]
    cores = cores_of(news)
    assert all(cores[s] in stack for s in SERVERS), cores
    assert allowed_of(news.proc.pid) == str(stack[0]), "newsd sits on the stack's first CPU"
    app = echo(news)
    assert allowed_of(app.pid) == cpulist(apps), "libnews moved the application to the CPUs newsd named"


def test_news_affinity_0_leaves_the_application_alone(start_news, echo):
    news = start_news()
    app = echo(news, env={**os.environ, "NEWS_AFFINITY": "0"})
    assert allowed_of(app.pid) == cpulist(CPUS)


def test_configured_application_cpus_win(start_news, echo):
    news = start_news(cores={"apps": str(CPUS[0])})
    cores = cores_of(news)
    assert all(cores[s] != CPUS[0] for s in SERVERS), cores
    app = echo(news)
    assert allowed_of(app.pid) == str(CPUS[0])


def test_every_server_configured_leaves_the_application_unrestricted(start_news, echo):
    # The round-robin placement from before issue 9, written out in [cores].
    cores = {s: CPUS[(1 + i) % len(CPUS)] for i, s in enumerate(SERVERS)}
    news = start_news(cores=cores)
    assert cores_of(news) == cores
    app = echo(news)
    assert allowed_of(app.pid) == cpulist(CPUS)


@pytest.mark.parametrize("value,line,message", [
    ('"1-"', 2, "is not a CPU number"),
    ('"3-1"', 2, "runs backwards"),
    ("true", 2, "expected a CPU list"),
])
def test_check_config_rejects_bad_application_cpus(tmp_path, value, line, message):
    path = tmp_path / "cfg.toml"
    path.write_text(f"[cores]\napps = {value}\n")
    p = run("newsd", "--config", str(path), "--check-config")
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{path}:{line}: key 'apps':" in p.stderr and message in p.stderr, p.stderr


def test_check_config_rejects_cpus_newsd_may_not_use(tmp_path):
    missing = next(c for c in range(64) if c not in CPUS)
    path = tmp_path / "cfg.toml"
    path.write_text(f'[cores]\napps = "{missing}"\n')
    p = run("newsd", "--config", str(path), "--check-config")
    assert p.returncode == 1 and f"cpu {missing} is not available" in p.stderr, p.stdout + p.stderr
    path.write_text(f'[cores]\nvfs = {missing}\n')
    p = run("newsd", "--config", str(path), "--check-config")
    assert p.returncode == 1 and f"vfs = {missing}: cpu {missing} is not available" in p.stderr, p.stdout + p.stderr
    path.write_text(f'[cores]\napps = "{CPUS[-1]}"\n')
    p = run("newsd", "--config", str(path), "--check-config")
    assert p.returncode == 0 and "configuration ok" in p.stdout, p.stdout + p.stderr
