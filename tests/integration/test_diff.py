"""hamodel diff (issue 14): two versions of a model compared, for review."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAMODEL = [sys.executable, "-m", "hamodel.cli"]

GALERA = """\
from hamodel import Architecture, Network, Node, Rack, Service, Switch, VirtualIP
from hamodel.strategies import AppCluster, BehindVip, Vrrp

sw = Switch("sw-1")
net = Network("db", subnet="10.0.0.0/24", switches=[sw])
vip = VirtualIP("db-vip", "10.0.0.100", network=net)
RACKS = {racks}
nodes = [Node(f"db-{{i}}", roles={{"db"}}, domains=[Rack(RACKS[i - 1])], addresses={{net: f"10.0.0.1{{i}}"}},
              switch=sw) for i in (1, 2, 3)]
arch = Architecture("galera-racks", networks=[net], nodes=nodes, vips=[vip], services=[
    Service("haproxy", on="db", ports=[9300],
            strategy=Vrrp(vip, track="haproxy", auth={{"env": "DIFF_TEST_VRRP_PASS"}})),
    Service("galera", process="mariadb", on="db", replicas=3, ports=[4567],
            strategy=AppCluster(quorum="majority", recovery="galera bootstrap",
                                access=BehindVip(vip, port=3306, single_writer=True))),
])
"""


def run(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HAMODEL, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "80", **(env or {})}
    )


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def keepalived_to_pacemaker() -> dict:
    r = run("diff", "models/openstack_keepalived.py", "models/openstack_pacemaker.py", "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_pacemaker_removes_cinder_volume_spof_and_split_brain(keepalived_to_pacemaker: dict) -> None:
    d = keepalived_to_pacemaker
    removed = {f["id"]: f for f in d["findings"]["removed"]}
    assert removed["spof:cinder-volume"]["severity"] == "high"
    assert any(i.startswith("split-brain:") for i in removed)
    assert "spof:cinder-volume" not in {f["id"] for f in d["findings"]["added"]}
    # what Pacemaker adds: its own findings, cinder-volume on more nodes, a managed VIP
    added = {f["id"] for f in d["findings"]["added"]}
    assert "cold-start:wait-for-all" in added
    assert {"service": "cinder-volume"}.items() <= next(
        m for m in d["placement_moves"] if m["service"] == "cinder-volume"
    ).items()
    assert {"service": "haproxy", "field": "manager", "old": "keepalived", "new": "pacemaker"} in d["vrrp"]
    cinder = next(s for s in d["services"] if s["service"] == "cinder-volume")
    assert cinder["smallest_failure_set"] == [1, 2]
    # keepalived.conf disappears from every controller: the action says so
    gone = [f for f in d["files"] if f["path"].endswith("keepalived.conf")]
    assert gone and all(
        f["status"] == "removed" and f["action"].startswith("stop and disable keepalived") for f in gone
    )
    assert d["headline"].startswith("Removes high finding")


def test_removed_finding_points_at_the_model_line(keepalived_to_pacemaker: dict) -> None:
    spof = next(f for f in keepalived_to_pacemaker["findings"]["removed"] if f["id"] == "spof:cinder-volume")
    loc = spof["locations"][0]
    assert loc["object"] == "service:cinder-volume" and loc["file"] == "models/openstack_keepalived.py"
    lines = (ROOT / "models/openstack_keepalived.py").read_text().splitlines()
    assert 'Service("cinder-volume"' in lines[loc["line"] - 1]


def test_text_and_markdown_outputs(keepalived_to_pacemaker: dict) -> None:
    r = run("diff", "models/openstack_keepalived.py", "models/openstack_pacemaker.py")
    assert r.returncode == 0, r.stderr
    # the report fits 80 columns; the file diffs after it are verbatim (wrapping would corrupt them)
    report = r.stdout.split("\n--- ", 1)[0]
    assert "spof:cinder-volume" in report and "--- a/" in r.stdout
    assert max(len(line) for line in report.splitlines()) <= 80
    r = run("diff", "models/openstack_keepalived.py", "models/openstack_pacemaker.py", "--format", "markdown")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("### hamodel diff: Removes high finding") and "spof:cinder-volume" in first
    assert r.stdout.count("<details>") == r.stdout.count("</details>") >= 2
    # rendered by a CommonMark parser with GFM tables (markdown-it, as rich ships it)
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(r.stdout)
    f, services = keepalived_to_pacemaker["findings"], keepalived_to_pacemaker["services"]
    # every change a row of a table: findings (header + rows), services (header + rows), predicted recovery
    rec = keepalived_to_pacemaker["recovery"]
    assert html.count("<tr>") == 1 + len(f["added"]) + len(f["removed"]) + len(f["changed"]) + 1 + len(services) + (
        1 + len(rec) if rec else 0
    )
    assert "<td>removed</td>" in html and "<code>spof:cinder-volume</code>" in html
    assert '<code class="language-diff">' in html and "keepalived.conf" in html


@pytest.fixture
def galera_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "models/galera.py").write_text(GALERA.format(racks='["r1", "r2", "r3"]'))
    git(repo, "init", "-q")
    git(repo, "add", "models/galera.py")
    git(repo, "commit", "-qm", "three racks")
    return repo


def test_base_head_two_galera_members_in_one_rack(galera_repo: Path) -> None:
    model = galera_repo / "models/galera.py"
    model.write_text(GALERA.format(racks='["r1", "r1", "r3"]'))
    secret = "s3cr-pw"
    r = run(
        "diff",
        "--base",
        "HEAD",
        "models/galera.py",
        "--fail-on",
        "high",
        "--format",
        "json",
        cwd=galera_repo,
        env={"DIFF_TEST_VRRP_PASS": secret},
    )
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    quorum = [
        c
        for c in d["findings"]["changed"]
        + [{"id": f["id"], "to": f["severity"], "finding": f} for f in d["findings"]["added"]]
        if c["id"] == "quorum-loss:galera"
    ]
    assert quorum and quorum[0]["to"] == "high"
    assert quorum[0]["finding"]["scenario"] == ["domain:r1"]
    assert d["headline"].startswith("New high finding") and "quorum-loss:galera" in d["headline"]
    loc = quorum[0]["finding"]["locations"][0]
    assert loc["file"] == "models/galera.py" and 'Service("galera"' in GALERA.splitlines()[loc["line"] - 1]
    assert secret not in r.stdout and secret not in r.stderr
    # the same change judged at --fail-on critical passes; no change at all passes at any level
    assert run("diff", "--base", "HEAD", "models/galera.py", "--fail-on", "critical", cwd=galera_repo).returncode == 0
    model.write_text(GALERA.format(racks='["r1", "r2", "r3"]'))
    same = run("diff", "--base", "HEAD", "models/galera.py", "--fail-on", "info", "--format", "json", cwd=galera_repo)
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["findings"] == {"added": [], "removed": [], "changed": []}


def test_secret_change_shows_placeholders_only(tmp_path: Path) -> None:
    old, new = tmp_path / "old.py", tmp_path / "new.py"
    old.write_text(GALERA.format(racks='["r1", "r2", "r3"]'))
    new.write_text(GALERA.format(racks='["r1", "r2", "r3"]').replace('"10.0.0.100"', '"10.0.0.101"'))
    secret = "Zq9-pw"
    for fmt in ("text", "json", "markdown"):
        r = run("diff", str(old), str(new), "--format", fmt, env={"DIFF_TEST_VRRP_PASS": secret})
        assert r.returncode == 0, r.stderr
        assert "keepalived.conf" in r.stdout and "10.0.0.101" in r.stdout
        assert secret not in r.stdout and secret not in r.stderr


def test_diff_usage_and_revision_errors(galera_repo: Path) -> None:
    r = run("diff", "models/galera.py", cwd=galera_repo)
    assert r.returncode == 2 and "give OLD and NEW, or one model file with --base REV" in r.stderr
    (galera_repo / "models/new.py").write_text(GALERA.format(racks='["r1", "r2", "r3"]'))
    r = run("diff", "--base", "HEAD", "models/new.py", cwd=galera_repo)
    assert r.returncode == 2 and "does not exist at revision HEAD" in r.stderr
    r = run("diff", "--base", "no-such-rev", "models/galera.py", cwd=galera_repo)
    assert r.returncode == 2 and "no-such-rev" in r.stderr
    assert not [
        p
        for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("hamodel-diff-*")
        if p.stat().st_uid == os.getuid() and p.stat().st_mtime > (galera_repo.stat().st_mtime)
    ]


def test_sibling_import_resolved_at_the_revision(galera_repo: Path) -> None:
    """The old side imports its sibling module as it was at REV."""
    (galera_repo / "models/racks.py").write_text('RACKS = ["r1", "r2", "r3"]\n')
    model = galera_repo / "models/galera.py"
    model.write_text(GALERA.format(racks="__import__('racks').RACKS"))
    git(galera_repo, "add", "models")
    git(galera_repo, "commit", "-qm", "racks in a module")
    (galera_repo / "models/racks.py").write_text('RACKS = ["r1", "r1", "r3"]\n')
    r = run("diff", "--base", "HEAD", "models/galera.py", "--format", "json", cwd=galera_repo)
    d = json.loads(r.stdout)
    assert [c["to"] for c in d["findings"]["changed"] if c["id"] == "quorum-loss:galera"] == ["high"], r.stderr


def test_source_location_is_not_data(tmp_path: Path) -> None:
    from hamodel.loader import load

    a = tmp_path / "a.py"
    a.write_text(GALERA.format(racks='["r1", "r2", "r3"]'))
    b = tmp_path / "b.py"
    b.write_text("\n\n" + GALERA.format(racks='["r1", "r2", "r3"]'))
    x, y = load(str(a)), load(str(b))
    gx, gy = x.service("galera"), y.service("galera")
    assert gx.source[0] == str(a) and gy.source[1] == gx.source[1] + 2
    assert x == y and x.to_json() == y.to_json()
    assert "source" not in x.to_json()


def test_pre_commit_hooks_run_through_pre_commit(tmp_path: Path) -> None:
    """The hooks of .pre-commit-hooks.yaml run with the real pre-commit
    (try-repo against this checkout), on a repository holding a model."""
    repo = tmp_path / "user"
    (repo / "models").mkdir(parents=True)
    for name in ("openstack_keepalived.py", "openstack_pacemaker.py", "openstack_pacemaker.lock.json"):
        shutil.copy(ROOT / "models" / name, repo / "models" / name)  # pacemaker imports keepalived
    git(repo, "init", "-q")
    git(repo, "add", "models")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pc-home"),
        "COLUMNS": "100",
    }

    def try_repo(hook: str, model: str = "models/openstack_pacemaker.py") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--files", model, "--verbose"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=env,
        )

    # the keepalived model has an unacknowledged high finding: the default hook fails on it
    bad = try_repo("hamodel-check", "models/openstack_keepalived.py")
    assert bad.returncode == 1 and "spof:cinder-volume" in bad.stdout, bad.stdout + bad.stderr
    # as a team configures it: this checkout at its HEAD, with args; the Pacemaker model has no
    # finding at or above high, the keepalived model has
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {ROOT}\n  rev: {rev}\n  hooks:\n  - id: hamodel-check\n    args: [--fail-on=high]\n"
    )
    run_hook = [sys.executable, "-m", "pre_commit", "run", "hamodel-check", "--verbose", "--files"]
    ok = subprocess.run([*run_hook, "models/openstack_pacemaker.py"], cwd=repo, capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "Passed" in ok.stdout, ok.stdout + ok.stderr
    both = subprocess.run(
        [*run_hook, "models/openstack_pacemaker.py", "models/openstack_keepalived.py"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )
    assert both.returncode == 1 and "spof:cinder-volume" in both.stdout, both.stdout + both.stderr
    # no output tree yet: build --check reports drift and fails
    drift = try_repo("hamodel-build-check")
    assert drift.returncode == 1 and "Failed" in drift.stdout, drift.stdout + drift.stderr
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "hamodel.cli",
            "build",
            "models/openstack_pacemaker.py",
            "-o",
            "out/openstack_pacemaker",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )
    assert built.returncode == 0, built.stderr
    fresh = try_repo("hamodel-build-check")
    assert fresh.returncode == 0 and "Passed" in fresh.stdout, fresh.stdout + fresh.stderr


def test_exported_json_side(tmp_path: Path) -> None:
    """An exported JSON (with its lock) compares equal to its model; its
    findings point at the JSON file, without a line."""
    exported = tmp_path / "k.json"
    assert run("export", "models/openstack_keepalived.py", "-o", str(exported)).returncode == 0
    shutil.copy(ROOT / "models/openstack_keepalived.lock.json", tmp_path / "k.lock.json")
    same = run("diff", str(exported), "models/openstack_keepalived.py", "--fail-on", "info", "--format", "json")
    assert same.returncode == 0, same.stderr
    d = json.loads(same.stdout)
    assert d["findings"] == {"added": [], "removed": [], "changed": []}
    assert d["files"] == [] and d["placement_moves"] == [] and d["vrrp"] == []
    r = run("diff", str(exported), "models/openstack_pacemaker.py", "--format", "json")
    spof = next(f for f in json.loads(r.stdout)["findings"]["removed"] if f["id"] == "spof:cinder-volume")
    assert spof["locations"][0] == {"object": "service:cinder-volume", "file": str(exported), "line": None}


def test_a_side_that_does_not_load_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(GALERA.format(racks='["r1", "r2", "r3"]').replace("replicas=3", "replicas=-3"))
    r = run("diff", "models/openstack_keepalived.py", str(bad))
    assert r.returncode == 2 and f"{bad}:" in r.stderr and "replicas" in r.stderr, r.stderr


def test_vrrp_id_change_and_the_reload_it_needs(tmp_path: Path) -> None:
    old, new = tmp_path / "old.py", tmp_path / "new.py"
    old.write_text(GALERA.format(racks='["r1", "r2", "r3"]').replace('track="haproxy"', 'track="haproxy", vrid=41'))
    new.write_text(GALERA.format(racks='["r1", "r2", "r3"]').replace('track="haproxy"', 'track="haproxy", vrid=42'))
    r = run("diff", str(old), str(new), "--format", "json", env={"DIFF_TEST_VRRP_PASS": "x"})
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"service": "haproxy", "field": "vrid", "old": 41, "new": 42} in d["vrrp"]
    conf = {f["path"]: f for f in d["files"] if f["path"].endswith("keepalived.conf")}
    assert sorted(conf) == [f"nodes/db-{i}/keepalived/keepalived.conf" for i in (1, 2, 3)]
    assert conf["nodes/db-2/keepalived/keepalived.conf"]["action"] == "reload keepalived on db-2"
    assert "+    virtual_router_id 42" in conf["nodes/db-2/keepalived/keepalived.conf"]["diff"]


def test_a_third_link_closing_the_ring_reads_as_it_happens(tmp_path: Path) -> None:
    """Switches in a chain sw1 - sw2 - sw3, then a ring (sw1 - sw3 added). Before:
    a recovery row whose service stopped on the old side printed "unknown -> unknown"
    (sw2 stopped etcd), and changed alert rules, which the Prometheus server must
    reload, said "none (deployment metadata)". The gate failed on the lowered
    severities (split-brain high -> medium), which the change does not add."""
    chain = ROOT / "tests" / "data" / "vrrp_switch_chain.py"
    ring = tmp_path / "ring.py"
    ring.write_text(
        chain.read_text().replace(
            'links=[("sw1", "sw2"), ("sw2", "sw3")]', 'links=[("sw1", "sw2"), ("sw2", "sw3"), ("sw1", "sw3")]'
        )
    )
    assert ring.read_text() != chain.read_text()
    r = run("diff", str(chain), str(ring), "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    rec = {x["service"]: x for x in d["recovery"]}
    assert rec["etcd"]["old_down"] == ["switch:sw2"] and rec["etcd"]["new_down"] == [], rec["etcd"]
    assert rec["postgres"]["new"] is not None, rec["postgres"]
    actions = {f["path"]: f["action"] for f in d["files"]}
    assert actions["monitoring/rules/vrrp.yml"].startswith("reload the Prometheus server"), actions
    assert actions["monitoring/tests/vrrp.test.yml"].startswith("none (promtool tests"), actions
    assert actions["manifest.json"] == "none (deployment metadata)", actions
    text = run("diff", str(chain), str(ring)).stdout
    assert "etcd switch: stops (switch:sw2) -> unknown" in text, text
    assert "unknown -> unknown" not in text, text
    # The other way round the severities rise: the gate fails.
    back = run("diff", str(ring), str(chain), "--format", "json")
    assert back.returncode == 1, back.stderr
    assert {c["finding"]["id"] for c in json.loads(back.stdout)["findings"]["changed"]} >= {"split-brain:haproxy"}


def test_an_exporter_change_names_its_restart(tmp_path: Path) -> None:
    """A node file other than keepalived/haproxy/sysctl: the manifest's action, not "none"."""
    chain = ROOT / "tests" / "data" / "vrrp_switch_chain.py"
    moved = tmp_path / "moved.py"
    moved.write_text(chain.read_text().replace('"10.40.0.{host}"', '"10.40.0.{host + 100}"'))
    r = run("diff", str(chain), str(moved), "--format", "json")
    assert r.returncode == 0, r.stderr
    actions = {f["path"]: f["action"] for f in json.loads(r.stdout)["files"]}
    assert actions["nodes/e-1/prometheus/node-exporter"] == "restart node exporter on e-1", actions
