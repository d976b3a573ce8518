"""The generated Redis rules read metrics the real exporter writes.

The rules (``monitoring/rules/redis.yml``) count ``redis_instance_info`` with
``role="master"``; ``promtool test rules`` proves their logic on series the
generator wrote itself. This proves those series' name and labels on Debian's
``prometheus-redis-exporter`` in front of a real ``redis-server`` master and
replica (loopback ports), run with the generated arguments (address and port
substituted), and that the exporter's ``role`` follows a promotion.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from hamodel.generators.configs import build_configs

from hamodel.loader import load
from hamodel.pipeline import resolve

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not all(shutil.which(x) for x in ("redis-server", "redis-cli", "prometheus-redis-exporter")),
    reason="needs redis-server, redis-cli and prometheus-redis-exporter",
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port: int, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
                text = r.read().decode()
            if re.search(r"^redis_up 1$", text, re.M):
                return text
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the exporter on {port} did not report redis_up 1 within {timeout} s")
        time.sleep(0.3)


def _role(text: str) -> str | None:
    m = re.search(r'^redis_instance_info\{[^}]*\brole="([a-z]+)"[^}]*\} 1$', text, re.M)
    return m.group(1) if m else None


def test_the_rules_series_exist_on_the_real_exporter_and_follow_a_promotion(tmp_path):
    files = build_configs(resolve(load(ROOT / "models" / "openstack_keepalived.py")))
    rules = yaml.safe_load(files["monitoring/rules/redis.yml"])["groups"][0]["rules"]
    exprs = " ".join(r["expr"] for r in rules)
    # What the rules read: the metric, and role="master" (a replica reports role="slave").
    assert "redis_instance_info" in exprs and 'role="master"' in exprs, exprs
    args = shlex.split(re.search(r'^ARGS="(.*)"$', files["nodes/ctl-2/prometheus/redis-exporter"].decode(), re.M)[1])
    assert args[0::2] == ["-web.listen-address", "-redis.addr"], args

    procs: list[subprocess.Popen] = []
    redis = {name: _port() for name in ("a", "b")}
    exporters = {name: _port() for name in redis}
    try:
        for port in redis.values():
            procs.append(
                subprocess.Popen(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for name, port in exporters.items():
            # The generated arguments, with this test's address and port in place of the node's.
            mine = [
                a.replace(args[1], f"127.0.0.1:{port}").replace(args[3], f"redis://127.0.0.1:{redis[name]}")
                for a in args
            ]
            procs.append(
                subprocess.Popen(
                    ["prometheus-redis-exporter", *mine], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        assert _role(_scrape(exporters["a"])) == "master"
        assert _role(_scrape(exporters["b"])) == "master"  # two masters: what RedisTwoMasters counts
        subprocess.run(
            ["redis-cli", "-p", str(redis["b"]), "REPLICAOF", "127.0.0.1", str(redis["a"])], check=True, timeout=10
        )
        deadline = time.monotonic() + 15
        while _role(_scrape(exporters["b"])) != "slave":
            assert time.monotonic() < deadline, "the replica's role never read slave"
            time.sleep(0.3)
        assert _role(_scrape(exporters["a"])) == "master"
        # A promotion: the replica becomes master again, as Sentinel or the agent would make it.
        subprocess.run(["redis-cli", "-p", str(redis["b"]), "REPLICAOF", "NO", "ONE"], check=True, timeout=10)
        deadline = time.monotonic() + 15
        while _role(_scrape(exporters["b"])) != "master":
            assert time.monotonic() < deadline, "the promoted member's role never read master"
            time.sleep(0.3)
    finally:
        for p in procs:
            p.kill()
            p.wait()
