"""keepalived 2.2.7 runs the generated notify_* lines and state script: node_exporter textfile metrics follow VRRP.

Real keepalived in three network namespaces on one bridge, with the generated
keepalived.conf. Rewrites for the lab (nothing else changes): the track
script is /bin/true (no haproxy runs here), the notify lines name the lab
copy of the generated state script, whose textfile folder is the node's lab
folder.
"""

from __future__ import annotations

import os
import re
import shutil
import time

import pytest

from hamodel.deployment import KEEPALIVED_STATE_SCRIPT, NODE_TEXTFILE_DIR
from hamodel.drill.lab import Lab
from hamodel.generators.configs import build_configs
from hamodel.pipeline import resolve
from hamodel.validate import node_interfaces

from tests.test_configs import small_arch

pytestmark = [pytest.mark.netns, pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("keepalived") is None,
                                 reason="needs root and keepalived")]


def _master(lab: Lab, node: str) -> str | None:
    found = sorted((lab.node_dir(node) / "textfile").glob("hamodel-keepalived-*.prom"))
    if not found:
        return None
    f = found[0]
    m = re.search(r"^hamodel_keepalived_master\{[^}]*\} (\d)$", f.read_text(), re.M)
    return m.group(1) if m else None


def _wait(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def test_textfile_metrics_follow_the_vrrp_master():
    arch = small_arch()
    dep = resolve(arch, analyse=False)
    files = build_configs(dep)
    lab = Lab()
    lab.create()
    procs = {}
    try:
        lab.add_switch("sw")
        for n in ("n1", "n2", "n3"):
            lab.add_host(n)
            for dev, addr in node_interfaces(arch, n):
                lab.plug(n, dev, "sw", addr)
            d = lab.node_dir(n)
            script = files[f"nodes/{n}/keepalived/keepalived-state"].decode().replace(
                NODE_TEXTFILE_DIR, str(d / "textfile"))
            lab.write_file(d / "keepalived-state", script, mode=0o700)
            conf = files[f"nodes/{n}/keepalived/keepalived.conf"].decode()
            assert conf.count(KEEPALIVED_STATE_SCRIPT) == 4  # master, backup, fault, stop
            conf = conf.replace(KEEPALIVED_STATE_SCRIPT, str(d / "keepalived-state"))
            conf = re.sub(r'script "/usr/bin/pgrep[^"]*"', 'script "/bin/true"', conf)
            lab.write_file(d / "keepalived.conf", conf)
            procs[n] = lab.start(f"keepalived@{n}", lab.node_ns(n), [
                "keepalived", "-n", "-l", "-D", "-G", "-P", "-f", str(d / "keepalived.conf"),
                "-p", str(d / "keepalived.pid"), "-r", str(d / "vrrp.pid")], log=d / "keepalived.log")
        nodes = ("n1", "n2", "n3")
        one = lambda: sorted(_master(lab, n) or "?" for n in nodes) == ["0", "0", "1"]  # noqa: E731
        assert _wait(one, 30), {n: _master(lab, n) for n in nodes}
        master = next(n for n in nodes if _master(lab, n) == "1")
        vip = "10.0.0.100"
        assert lab.has_address(lab.node_ns(master), vip)
        # a graceful stop: notify_stop writes 0 there, another member's notify_master writes 1
        lab.stop(procs[master])
        others = [n for n in nodes if n != master]
        assert _wait(lambda: _master(lab, master) == "0" and sorted(_master(lab, n) for n in others) == ["0", "1"], 30), \
            {n: _master(lab, n) for n in nodes}
        new = next(n for n in others if _master(lab, n) == "1")
        assert lab.has_address(lab.node_ns(new), vip)
    finally:
        lab.teardown()
