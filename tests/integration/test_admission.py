"""Issue 7, done when #2: with `app_group` set, a program of a uid outside that group is
refused with a clear message (by the kernel's socket permissions and, should those be
loosened, by newsd's own check of the peer's groups); a member by supplementary group is
served. `newsctl` from a member of `control_group` by supplementary group works."""

import grp
import os
import stat
import subprocess
import tempfile

from newsutil import binary

GROUP = "users"  # an existing group on Debian (gid 100); the test adds no group of its own
MEMBER_UID, OUTSIDER_UID = 65533, 65534


def as_user(uid, groups=()):
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}",
            *(["--groups=" + ",".join(map(str, groups))] if groups else ["--clear-groups"])]


def test_app_group_admits_members_only(linked_news):
    gid = grp.getgrnam(GROUP).gr_gid
    sock_dir = tempfile.mkdtemp(prefix="news-admit-")
    os.chmod(sock_dir, 0o755)
    news, _ = linked_news(socket_dir=sock_dir, app_group=GROUP)
    st = os.stat(news.app_socket)
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, gid)

    echo = [binary("newsecho"), "--app-socket", news.app_socket, "--port", "7000"]
    outsider = subprocess.run([*as_user(OUTSIDER_UID), *echo], capture_output=True, text=True, timeout=20)
    assert outsider.returncode != 0
    assert "refuses this user" in outsider.stderr and "app_group" in outsider.stderr, outsider.stderr

    member = subprocess.Popen([*as_user(MEMBER_UID, [gid]), *echo], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = member.stdout.readline()
        assert "listening" in line, line + member.stderr.read()
    finally:
        member.kill()
        member.wait()

    # Should the socket's permissions be loosened, newsd still checks the peer's groups.
    os.chmod(news.app_socket, 0o666)
    outsider = subprocess.run([*as_user(OUTSIDER_UID), *echo], capture_output=True, text=True, timeout=20)
    assert outsider.returncode != 0
    assert f"uid {OUTSIDER_UID} is not in app_group '{GROUP}'" in outsider.stderr, outsider.stderr
    assert news.counters("newsd")["apps_refused"] >= 1


def test_newsctl_by_supplementary_group(start_news):
    gid = grp.getgrnam(GROUP).gr_gid
    sock_dir = tempfile.mkdtemp(prefix="news-ctl-")
    os.chmod(sock_dir, 0o755)
    news = start_news(socket_dir=sock_dir, control_group=GROUP)
    status = [binary("newsctl"), "status", "--socket", news.socket]
    member = subprocess.run([*as_user(MEMBER_UID, [gid]), *status], capture_output=True, text=True, timeout=20)
    assert member.returncode == 0, member.stdout + member.stderr
    assert "udpserver" in member.stdout and "running" in member.stdout
    outsider = subprocess.run([*as_user(OUTSIDER_UID), *status], capture_output=True, text=True, timeout=20)
    assert outsider.returncode != 0
    assert "ermission denied" in outsider.stdout + outsider.stderr, outsider.stdout + outsider.stderr
