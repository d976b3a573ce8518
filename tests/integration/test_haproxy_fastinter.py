"""HAProxy fastinter/downinter (issue 26): written where the model sets
them, accepted by the real haproxy, and counted in the predicted recovery
interval of a backend's death (inter, then fall - 1 checks fastinter apart)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hamodel.generators.configs import build_configs

from hamodel.pipeline import resolve
from hamodel.validate import haproxy_check

MODELS = Path(__file__).resolve().parents[2] / "models"


def _with_check(arch, **check):
    ks = arch.service("keystone").strategy
    return arch.replace_services({"keystone": {"strategy": ks.replace(check=ks.check.replace(**check))}})


def test_fastinter_shortens_the_predicted_detection(reference_arch):
    base = reference_arch("openstack_keepalived")  # keystone: inter 500 ms, fall 3
    fast = _with_check(base, inter_ms=2000, fastinter_ms=200, downinter_ms=5000)
    slow = _with_check(base, inter_ms=2000)
    dep, dep_slow = (resolve(a, lock=MODELS / "openstack_keepalived.lock.json") for a in (fast, slow))
    # refused at once: the first failed check within inter, then 2 more fastinter apart
    row = dep.recovery.get("keystone", "process")
    assert row.rto_s == (0.0, 2.4), row  # lower bound 0: option redispatch retries a refused connection
    assert dep_slow.recovery.get("keystone", "process").rto_s == (0.0, 6.0)  # fall x inter without it
    assert "fastinter" in row.formula


def test_fastinter_and_downinter_are_written_and_haproxy_accepts_them(reference_arch):
    arch = _with_check(reference_arch("openstack_keepalived"), fastinter_ms=250, downinter_ms=3000)
    files = build_configs(resolve(arch, lock=MODELS / "openstack_keepalived.lock.json", analyse=False))
    cfg = next(v for k, v in sorted(files.items()) if k.endswith("haproxy/haproxy.cfg"))
    lines = [ln for ln in cfg.decode().splitlines() if ln.strip().startswith("server ") and ":5000 " in ln]
    assert lines and all("check inter 500 fastinter 250 downinter 3000 rise" in ln for ln in lines), lines
    others = [ln for ln in cfg.decode().splitlines() if ln.strip().startswith("server ") and ":3306 " in ln]
    assert others and not any("fastinter" in ln for ln in others)  # only where the model sets it
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy not installed")
    r = haproxy_check(cfg)
    assert r.ok, r


def test_fastinter_is_read_back_by_import(tmp_path):
    """A hand-written server line with fastinter/downinter becomes the check's fields."""
    from hamodel.adopt.haproxy import parse_haproxy

    conf = parse_haproxy(
        "listen api\n    bind 10.0.0.250:80\n"
        "    server a 10.0.0.11:80 check inter 2s fastinter 500 downinter 10s rise 2 fall 3\n",
        "x",
    )
    s = conf.fronts["api"].servers[0]
    assert (s.inter_ms, s.fastinter_ms, s.downinter_ms) == (2000, 500, 10000)
