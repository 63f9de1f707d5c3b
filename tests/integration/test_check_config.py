"""One address vocabulary (issue 7): `newsd --check-config` rejects exactly the addresses the
servers would reject at start, naming the file, the line and the key, and it checks the
`[pf] rules` file with the packet filter's own parser, naming the rules file and its line.
A config that passes the check starts every server."""

import pytest

from newsutil import run

BAD = {  # name -> (config text, line, key)
    "prefix_leading_zero": ('ipc = "shm"\n[ip]\naddress = "198.18.0.2/024"\n', 3, "address"),
    "prefix_sign": ('[ip]\naddress = "198.18.0.2/+24"\n', 2, "address"),
    "prefix_too_long": ('[ip]\naddress = "198.18.0.2/33"\n', 2, "address"),
    "octet_leading_zero": ('[ip]\naddress = "198.18.0.02/24"\n', 2, "address"),
    "octet_too_big": ('[ip]\naddress = "198.18.0.256/24"\n', 2, "address"),
    "network_address": ('[ip]\naddress = "198.18.0.0/24"\n', 2, "address"),
    "mac_sign": ('[nic]\nmac = "+2:4e:57:53:00:02"\n', 2, "mac"),
    "mac_short_group": ('[nic]\nmac = "02:4e:57:53:00:2"\n', 2, "mac"),
    "mac_seven_groups": ('[nic]\nmac = "02:4e:57:53:00:02:03"\n', 2, "mac"),
    "gateway_leading_zero": ('[ip]\ngateway = "198.18.0.01"\n', 2, "gateway"),
    "gateway_off_network": ('[ip]\naddress = "198.18.0.2/24"\ngateway = "198.19.0.1"\n', 3, "gateway"),
}


def check(path):
    return run("newsd", "--config", str(path), "--check-config")


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_address_is_rejected_naming_line_and_key(tmp_path, case):
    text, line, key = BAD[case]
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    p = check(path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{path}:{line}: key '{key}':" in p.stderr, p.stderr
    assert "configuration ok" not in p.stdout


def test_good_addresses_pass(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_text('[nic]\nmac = "02:4E:57:53:00:0A"\n[ip]\naddress = "198.18.0.9/24"\ngateway = "198.18.0.1"\n')
    p = check(path)
    assert p.returncode == 0 and "configuration ok" in p.stdout, p.stdout + p.stderr


def test_bad_rules_file_is_rejected_naming_its_line(tmp_path):
    rules = tmp_path / "rules"
    rules.write_text("default in deny\n# a comment\nallow in udp from 198.18.0.0/024 to any port 7\n")
    path = tmp_path / "cfg.toml"
    path.write_text(f'[pf]\nrules = "{rules}"\n')
    p = check(path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{rules}:3:" in p.stderr and "198.18.0.0/024" in p.stderr, p.stderr


def test_missing_rules_file_is_rejected(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_text(f'[pf]\nrules = "{tmp_path / "no-such-rules"}"\n')
    p = check(path)
    assert p.returncode == 1 and "pf rules" in p.stderr, p.stdout + p.stderr


def test_good_rules_file_passes(tmp_path):
    rules = tmp_path / "rules"
    rules.write_text("default in deny\nallow in udp from 198.18.0.0/24 to any port 7\nallow in icmp type 8\n")
    path = tmp_path / "cfg.toml"
    path.write_text(f'[pf]\nrules = "{rules}"\n')
    p = check(path)
    assert p.returncode == 0 and "configuration ok" in p.stdout, p.stdout + p.stderr


def test_checked_addresses_start_every_server(start_news, tmp_path):
    """Values --check-config accepts (not the defaults) are taken by ipserver and udpserver:
    all six servers come up and stay up, none restarted."""
    settings = {"nic": {"mac": "02:4E:57:53:00:0A"}, "ip": {"address": "198.19.3.4/16", "gateway": "198.19.0.1"}}
    news = start_news(**settings)
    p = check(news.config_path)
    assert p.returncode == 0, p.stdout + p.stderr
    for name in ("ipserver", "udpserver"):
        s = news.server(name)
        assert s["state"] == "running" and s["restarts"] == 0, s
