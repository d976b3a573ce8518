"""Issue 17, wrong acceptance and crashes: generated lines within the
daemons' limits (and ``build --validate`` catching one that is not), hostile
JSON models, Rich markup in printed strings, messages in plain words, and
exit codes (2 for a bad model, 70 for a bug, never a traceback with 1).

Real parts: keepalived -t in a network namespace, haproxy -c, the CLI in a
subprocess (the console-script path, ``main()``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hamodel.generators.configs import COMMENT_WIDTH, build_configs, comment_block
from hypothesis import given, settings
from hypothesis import strategies as st
from test_configs import small_arch

from hamodel import Architecture, Network, Node, Service, VirtualIP
from hamodel.pipeline import resolve
from hamodel.strategies import Vrrp
from hamodel.validate import KEEPALIVED_MAX_LINE, haproxy_check, keepalived_check, namespace, node_interfaces

ROOT = Path(__file__).resolve().parents[2]
DAEMONS = os.geteuid() == 0 and all(shutil.which(x) for x in ("haproxy", "keepalived", "ip", "openssl"))
needs_daemons = pytest.mark.skipif(not DAEMONS, reason="needs root, haproxy, keepalived, ip")


def hamodel(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hamodel.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=300,
    )


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


# -- line limits ----------------------------------------------------------------------------


def big_arch() -> Architecture:
    """256 VIPs in one VRRP group, 30 members with 63-character names."""
    lan = Network("lan", subnet="10.20.0.0/16")
    vips = [VirtualIP(f"vip-{i:03d}", f"10.20.{1 + i // 200}.{1 + i % 200}", network=lan) for i in range(256)]
    nodes = [Node(f"lb-{i:02d}-" + "x" * 57, roles={"lb"}, addresses={lan: f"10.20.0.{10 + i}"}) for i in range(30)]
    return Architecture(
        "big",
        nodes=nodes,
        networks=[lan],
        vips=vips,
        services=[Service("haproxy", on="lb", strategy=Vrrp(vips, track="haproxy"))],
    )


@needs_daemons
def test_256_vips_and_30_long_member_names_pass_the_real_keepalived():
    arch = big_arch()
    files = build_configs(resolve(arch, analyse=False))
    confs = sorted(p for p in files if p.endswith("keepalived.conf"))
    assert len(confs) == 30
    for path in confs:
        longest = max(len(line) for line in files[path].split(b"\n"))
        # Before the fix: one comment line of about 3 kB.
        assert longest <= COMMENT_WIDTH < KEEPALIVED_MAX_LINE, (path, longest)
    text = files[confs[0]].decode()
    # Every VIP is configured once; those beyond one advert are excluded, not dropped.
    assert sum(text.count(f"10.20.{1 + i // 200}.{1 + i % 200}/16 dev") for i in range(256)) == 256
    assert "virtual_ipaddress_excluded {" in text
    for path in confs[:3]:  # the same config shape on every member: three are enough for the daemon
        r = keepalived_check(files[path], node_interfaces(arch, path.split("/")[1]), path)
        # Before the fix: exit 5, "Number of VIPs (256) exceeds maximum/space available in packet".
        assert r.ok, r.output


CONF = """global_defs {
    router_id t
}
vrrp_instance v {
    interface eth0
    virtual_router_id 5
    priority 100
%s
    virtual_ipaddress {
        10.1.1.1/24 dev eth0
    }
}
"""


@needs_daemons
def test_validate_catches_a_line_that_keepalived_silently_misparses(tmp_path):
    # A comment whose 1023rd byte onwards reads "nopreempt": keepalived -t is
    # happy, and the instance would really be configured nopreempt.
    line = "    # " + "c" * (1023 - 6) + "nopreempt"
    conf = (CONF % line).encode()
    f = tmp_path / "keepalived.conf"
    f.write_bytes(conf)
    with namespace([("eth0", "10.1.1.5/24")]) as ns:
        daemon = subprocess.run(
            ["ip", "netns", "exec", ns, "keepalived", "-t", "-f", str(f)], capture_output=True, text=True, timeout=30
        )
    assert daemon.returncode == 0, daemon.stderr  # the daemon alone does not notice
    r = keepalived_check(conf, [("eth0", "10.1.1.5/24")], "k.conf")
    assert not r.ok and "k.conf:8: line of 1032 bytes" in r.output and "1022" in r.output
    ok = keepalived_check((CONF % ("    # " + "c" * (KEEPALIVED_MAX_LINE - 6))).encode(), [("eth0", "10.1.1.5/24")])
    assert ok.ok, ok.output


@needs_daemons
def test_validate_checks_haproxy_line_length_too(tmp_path):
    cfg = (
        b"global\n    maxconn 100\n# " + b"x" * 3000 + b"\ndefaults\n    mode tcp\n    timeout client 1s\n"
        b"    timeout server 1s\n    timeout connect 1s\nlisten a\n    bind 127.0.0.1:9999\n"
    )
    (tmp_path / "h.cfg").write_bytes(cfg)
    alone = subprocess.run(["haproxy", "-dW", "-c", "-f", str(tmp_path / "h.cfg")], capture_output=True, timeout=30)
    assert alone.returncode == 0, alone.stdout  # haproxy 2.6 grows its line buffer; older ones stop at 2048
    r = haproxy_check(cfg, "h.cfg")
    assert not r.ok and "h.cfg:3: line of 3002 bytes" in r.output, r.output


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_comment_blocks_never_exceed_their_width_and_stay_comments(text):
    block = comment_block(text)
    for line in block.split("\n"):
        assert line.startswith("#") and len(line) <= COMMENT_WIDTH and line.isascii() and line.isprintable()


# -- hostile JSON models -------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_json() -> str:
    return small_arch().to_json()


def _with(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


JSON_CASES = {
    # name: (mutation of the exported JSON, expected words of the error)
    "nan": (lambda t: _with(t, '"cpu": 16.0', '"cpu": NaN'), "nodes[n1].capacity.cpu: NaN is not a JSON number"),
    "infinity": (lambda t: _with(t, '"cpu": 16.0', '"cpu": -Infinity'), "nodes[n1].capacity.cpu: -Infinity is not"),
    "huge float": (lambda t: _with(t, '"cpu": 16.0', '"cpu": 1e400'), "nodes[n1].capacity.cpu: 1e400 is too large"),
    "huge int": (lambda t: _with(t, '"cpu": 16.0', '"cpu": ' + "9" * 5000), "an integer of 5000 digits"),
    "deep nesting": (lambda t: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "duplicate key": (
        lambda t: _with(t, '"name": "n2"', '"name": "n2", "roles": []'),
        "nodes[n2]: key 'roles' appears more than once",
    ),
    "bad ip": (
        lambda t: _with(t, '"10.0.0.100"', '"10.0.0.999"'),
        "vips[vip].address: '10.0.0.999' is not a valid IPv4/IPv6 address",
    ),
    "newline in a name": (lambda t: _with(t, '"name": "n1"', '"name": "n\\n1"'), r"nodes[n\n1].name: invalid name"),
}


@pytest.mark.parametrize("case", JSON_CASES)
def test_hostile_json_models_are_clear_errors_with_exit_2(case, model_json, tmp_path):
    mutate, expected = JSON_CASES[case]
    f = tmp_path / "model.json"
    f.write_text(mutate(model_json))
    r = hamodel("check", str(f))
    no_traceback(r)
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr, r.stderr
    for internal in ("lax-or-strict", "function-after", "function-plain", "json-or-python"):
        assert internal not in r.stderr
    assert "\n1].name" not in r.stderr  # the raw newline is escaped, the message stays one line


def test_invalid_utf8_json_names_line_and_column(model_json, tmp_path):
    f = tmp_path / "model.json"
    f.write_bytes(model_json.encode().replace(b'"n3"', b'"n\xff3"', 1))
    r = hamodel("check", str(f))
    no_traceback(r)
    assert r.returncode == 2 and "not UTF-8 text: invalid byte at line" in r.stderr, r.stderr


def test_infinite_numbers_in_a_python_model_are_refused(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        textwrap.dedent("""
        from hamodel import Architecture, Node
        architecture = Architecture("m", nodes=[Node("n1", capacity={"cpu": float("inf")})])
    """)
    )
    r = hamodel("check", str(f))
    no_traceback(r)  # before: OverflowError in the placement solver, exit 1
    assert r.returncode == 2 and "capacity.cpu: Input should be a finite number" in r.stderr, r.stderr
    # Finite, but infinite once the solver scales it: bounded in the model.
    f.write_text(f.read_text().replace('float("inf")', "1.7e308"))
    r = hamodel("check", str(f))
    no_traceback(r)
    assert r.returncode == 2 and "capacity.cpu: Input should be less than or equal to" in r.stderr, r.stderr


def test_union_errors_are_plain_words():
    from hamodel.errors import ModelError
    from hamodel.strategies import AppCluster

    with pytest.raises(ModelError) as exc:
        AppCluster(quorum="most")
    assert str(exc.value).startswith("AppCluster.quorum: Input should be ")
    assert "'majority'" in str(exc.value) and "integer" in str(exc.value)
    assert "literal[" not in str(exc.value) and "constrained-int" not in str(exc.value)


# -- Rich markup and exit codes --------------------------------------------------------------


def test_markup_in_the_model_name_and_paths_is_printed_literally(model_json, tmp_path):
    data = json.loads(model_json)
    data["name"] = "lab [/] [bold]x"
    f = tmp_path / "m.json"
    f.write_text(json.dumps(data))
    r = hamodel("check", str(f))
    no_traceback(r)  # before: rich.errors.MarkupError, exit 1
    assert r.returncode in (0, 1) and "lab [/] [bold]x" in r.stdout, r.stderr

    out = tmp_path / "o[/]x" / "out"
    out.parent.mkdir(parents=True)
    r = hamodel("build", str(f), "-o", str(out))
    no_traceback(r)
    assert r.returncode == 0 and f"to {out}" in r.stdout, r.stderr
    r = hamodel("build", str(f), "-o", str(out), "--check")
    assert r.returncode == 0 and str(out) in r.stdout, r.stderr
    r = hamodel("place", str(f), "--lock", str(tmp_path / "o[/]x" / "l.json"))
    no_traceback(r)
    assert r.returncode == 0 and "o[/]x/l.json" in r.stdout, r.stderr

    r = hamodel("export", str(f), "--format", "[/]")
    no_traceback(r)
    assert r.returncode == 2 and "unknown format '[/]'" in r.stderr


def test_an_unexpected_exception_is_an_internal_error_with_exit_70(tmp_path):
    code = (
        "import sys, hamodel.pipeline as p, hamodel.cli as c\n"
        "def boom(*a, **k): raise ZeroDivisionError('boom')\n"
        "p.resolve = boom\n"
        f"sys.argv = ['hamodel', 'check', {str(ROOT / 'models' / 'multirack.py')!r}]\n"
        "c.main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    no_traceback(r)
    assert r.returncode == 70, (r.returncode, r.stderr)
    assert "internal error: ZeroDivisionError: boom" in r.stderr and "bug" in r.stderr


def test_deeply_nested_lock_file_and_manifest_are_named_errors(tmp_path):
    model = tmp_path / "m.py"
    model.write_text((ROOT / "models" / "multirack.py").read_text())
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "m.lock.json").write_text(deep)
    r = hamodel("check", str(model))
    no_traceback(r)  # before: RecursionError, exit 1
    assert r.returncode == 2 and "m.lock.json: not a placement lock file" in r.stderr, r.stderr
    (tmp_path / "m.lock.json").unlink()
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(deep)
    r = hamodel("build", str(model), "-o", str(out))
    no_traceback(r)
    assert r.returncode == 2 and "holds no hamodel manifest.json" in r.stderr, r.stderr
    assert (out / "manifest.json").read_text() == deep


def test_planned_secrets_never_show_in_a_repr():
    from hamodel.generators.configs import Secrets
    from hamodel.generators.haproxy import plan_haproxy
    from hamodel.generators.keepalived import plan_keepalived

    from hamodel.model.base import SecretRef

    dep = resolve(small_arch(vrrp={"auth": {"env": "R_V"}}, stats_auth=SecretRef(env="R_S")), analyse=False)
    secrets = Secrets({"R_V": "Vpw12345", "R_S": "admin:Spw12345"})
    text = repr(plan_keepalived(dep, secrets)) + repr(plan_haproxy(dep, secrets))
    assert "Vpw12345" not in text and "Spw12345" not in text and "stats-9300" in text


def test_a_value_too_long_for_a_keepalived_line_is_refused_at_build():
    from hamodel.generators.configs import ConfigError

    dep = resolve(small_arch(vrrp={"notify": "/usr/local/bin/" + "n" * 1100}), analyse=False)
    with pytest.raises(
        ConfigError,
        match=r"nodes\[n1\] keepalived.conf line \d+ \(notify\): 1126 bytes; "
        r"keepalived reads at most 1022",
    ):
        build_configs(dep)
