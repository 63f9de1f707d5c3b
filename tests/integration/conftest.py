"""Fixtures for the NEWS integration tests (helpers live in newsutil.py).

`start_news(**config)` starts a newsd with its control socket, config and log in the test's
tmp dir and waits until all six servers run; every newsd it started is stopped at teardown
(SIGTERM, then SIGKILL, then any leftover server pid is killed), and newsd's log is printed
when the test failed."""

import os

import pytest

from newsutil import BIN, SERVERS, Netns, News


def pytest_configure(config):
    missing = [n for n in ["newsd", "newsctl", "newsbench", "newsecho", *SERVERS] if not (BIN / n).exists()]
    if missing:
        raise pytest.UsageError(f"NEWS_BIN={BIN} lacks {', '.join(missing)}")
    if os.geteuid() != 0:
        raise pytest.UsageError("the NEWS integration tests must run as root (newsd requires it)")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


@pytest.fixture
def start_news(tmp_path, request):
    started = []

    def start(ipc="shm", subdir=None, **settings):
        d = tmp_path / (subdir or f"news{len(started)}")
        d.mkdir()
        news = News(d, ipc=ipc, **settings)
        started.append(news)
        return news.start()

    yield start
    failed = any(getattr(request.node, "rep_" + w, None) and getattr(request.node, "rep_" + w).failed
                 for w in ("setup", "call"))
    for news in started:
        news.stop()
        if failed:
            print(f"----- newsd log ({news.log_path}) -----\n{news.log()}")


@pytest.fixture(params=["shm", "kernel"])
def ipc(request):
    return request.param


@pytest.fixture
def linked_news(start_news):
    """`linked_news(**config)`: a newsd whose NIC driver drives a TAP in a namespace made for
    this test, the Linux side at 198.18.0.1/24. Returns (news, netns); both go at teardown."""
    made = []

    def start(**settings):
        ns = Netns()
        made.append(ns)
        nic = {**ns.nic_config()["nic"], **settings.pop("nic", {})}
        news = start_news(nic=nic, **settings)
        ns.configure()
        return news, ns

    yield start
    for ns in made:
        ns.close()
