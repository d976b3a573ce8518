"""The indexes and fast paths that replaced scans in the build's generators give the scans'
answers and bytes (issue 30: ``build`` of 10,000 services)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hamodel.generators.manifest import inventory as inv
from hamodel.generators.manifest import render_manifest
from hamodel.generators.monitoring import alerts, single_cut_findings, targets
from test_configs import MODELS, reference

from hamodel import output
from hamodel.analysis.placement import place
from hamodel.analysis.results import Finding, Placement, Severity
from hamodel.loader import load
from hamodel.pipeline import resolve
from hamodel.runbooks import Runbooks, for_alert, runbooks
from hamodel.testing import synthetic

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
ALL = [*MODELS, "webplatform", "kubeadm", "synthetic"]


@pytest.fixture(scope="module")
def deployments():
    deps = {m: reference(m) for m in MODELS}
    for m in ("webplatform", "kubeadm"):  # the other two models in models/, with their own locks
        deps[m] = resolve(load(MODELS_DIR / f"{m}.py"), lock=MODELS_DIR / f"{m}.lock.json", analyse=True)
    deps["synthetic"] = resolve(synthetic(10, 60, 180, seed=3), analyse=True)
    return deps


# -- Placement.services_on: an index of every node -----------------------------------


def test_services_on_from_the_index_equals_the_scan(deployments):
    for dep in deployments.values():
        p = dep.placement
        nodes = {n.name for n in dep.architecture.nodes} | {"not-a-node"}
        for n in sorted(nodes):
            assert p.services_on(n) == tuple(s for s, ns in p.instances.items() if n in ns)


def test_services_on_lists_a_service_once_even_with_a_repeated_node():
    p = Placement({"b": ("n1", "n1", "n2"), "a": ("n2",)})
    assert p.services_on("n1") == ("b",)
    assert p.services_on("n2") == ("a", "b")
    assert p.services_on("n3") == ()


# -- Deployment.fronts_on / fronted_services ------------------------------------------


def test_fronts_on_from_the_index_equals_the_scan(deployments):
    checked = 0
    for dep in deployments.values():
        for node in dep.architecture.nodes:
            scan = tuple(
                (name, tuple(sorted(str(f.vip) for f in access.fronts)))
                for name, access in dep.fronted_services()
                if node.name in dep.front_holders(name)
            )
            assert dep.fronts_on(node.name) == scan
            checked += bool(scan)
    assert checked  # the reference models have HAProxy fronts


def test_fronted_services_hands_out_a_fresh_list(deployments):
    dep = deployments["webplatform"]
    got = dep.fronted_services()
    assert got
    got.clear()
    assert dep.fronted_services()


# -- monitoring: the finding a node's down alert carries --------------------------------


def _node_finding_by_scan(dep, node: str):
    comp = f"node:{node}"
    f = next(
        (
            x
            for x in sorted(dep.findings, key=lambda x: (-x.severity.rank, x.id))
            if any(cs == [comp] or cs == (comp,) for cs in x.details.get("cut_sets", ()))
        ),
        None,
    )
    return f or next((x for x in dep.findings if x.kind == "no-automatic-recovery"), None)


def test_node_alert_findings_from_the_index_equal_the_scan(deployments):
    matched = 0
    for dep in deployments.values():
        single = single_cut_findings(dep)
        fallback = next((x for x in dep.findings if x.kind == "no-automatic-recovery"), None)
        for t in targets(dep):
            if t.job == "node":
                assert (single.get(f"node:{t.node}") or fallback) == _node_finding_by_scan(dep, t.node)
                matched += f"node:{t.node}" in single
    assert matched  # some node is a single point of failure in the reference models


def test_single_cut_index_keeps_the_most_severe_then_the_first_id(deployments):
    dep = deployments["kubeadm"]

    def finding(id_: str, severity: str, cut_sets: list) -> Finding:
        return Finding(id_, "cut-set", Severity(severity), "t", ("s",), (), "i", "m", details={"cut_sets": cut_sets})

    low = finding("b-low", "low", [["node:x"]])
    high = finding("c-high", "high", [("node:x",)])
    high_a = finding("a-high", "high", [["node:x", "node:y"]])
    odd = finding("d", "critical", ["node:x", [1]])

    d = replace(dep, findings=(low, high, high_a, odd))
    assert single_cut_findings(d) == {"node:x": high}
    assert single_cut_findings(d)["node:x"] == _node_finding_by_scan(d, "x")


# -- runbooks: the runbook an alert announces ------------------------------------------


def test_for_alert_from_the_index_equals_the_scan(deployments):
    asked = 0
    for dep in deployments.values():
        rbs = runbooks(dep)
        indexed = Runbooks(rbs)
        names = {a.name for a in alerts(dep)} | {n for r in rbs for n in r.recognise} | {"NoSuchAlert"}
        for name in sorted(names):
            assert for_alert(indexed, name) is for_alert(list(rbs), name)
            asked += for_alert(indexed, name) is not None
    assert asked


# -- the Ansible inventory: libyaml writes the Python emitter's bytes -------------------


@pytest.mark.parametrize("model", ALL)
def test_inventory_libyaml_bytes_equal_the_python_emitter(deployments, model, monkeypatch):
    if not inv._HAVE_LIBYAML:
        pytest.skip("PyYAML without libyaml")
    dep = deployments[model]
    fast = render_manifest(dep, [])["ansible/inventory.yml"]
    monkeypatch.setattr(inv, "_HAVE_LIBYAML", False)
    slow = render_manifest(dep, [])["ansible/inventory.yml"]
    assert fast == slow


HOSTILE = [
    "plain",
    "yes",
    "0644",
    "1e3",
    "~",
    "null",
    "2026-12-08",
    "{{ lookup('pipe', 'id') }}",
    "a: b",
    "- item",
    "# comment",
    "'quoted'",
    '"double"',
    "back\\slash",
    " leading space",
    "trailing space ",
    "tab\there",
    "line\nbreak",
    "cr\rhere",
    "\x1b]0;title\x07",
    "caf\u00e9",
    "\u2028sep",
    "\U0001f600",
    "",
    "x" * 399,
    "y " * 300,
    "z" * 1200,
    ("w " * 700) + "\n" + ("v\u00e9 " * 200),
    "!unsafe",
    "&anchor",
    "*alias",
    "%percent",
    "@at",
    "`tick",
    "|",
    ">",
    "?",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_inventory_dump_of_hostile_strings_is_the_python_emitters(text):
    if not inv._HAVE_LIBYAML:
        pytest.skip("PyYAML without libyaml")
    data = {"all": {"hosts": {"n1": {"value": text, "list": [text, {"k": text}]}}}}
    try:
        slow = inv.dump_inventory(inv.inert(data), fast=False)
    except ValueError:
        with pytest.raises(ValueError):
            inv.dump_inventory(inv.inert(data))
        return
    assert inv.dump_inventory(inv.inert(data)) == slow
    assert yaml.load(slow, Loader=_UnsafeLoader) == data


class _UnsafeLoader(yaml.SafeLoader):
    pass


_UnsafeLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def test_long_scalars_take_the_python_emitter():
    assert inv.fits_libyaml({"a": ["x" * 100]})
    assert not inv.fits_libyaml({"a": ["x" * 200]})  # 2 x 200: could fold
    assert not inv.fits_libyaml({"a": "\u00e9" * 40})  # escaped, 10 x 40
    deep: dict = {}
    cur = deep
    for _ in range(inv._MAX_DEPTH + 1):
        cur["k"] = {}
        cur = cur["k"]
    assert not inv.fits_libyaml(deep)


# -- output: one syncfs instead of an fsync per file ------------------------------------


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


FILES = {
    "manifest.json": b"{}\n",
    "nodes/n1/a/b.conf": b"one\n",
    "nodes/n1/a/c.conf": b"two\n",
    "nodes/n2/x.conf": b"three\n",
}


@pytest.mark.parametrize("mode", ["syncfs", "no syncfs in libc", "per file"])
def test_write_tree_writes_the_same_tree_whichever_way_it_flushes(tmp_path, monkeypatch, mode):
    calls: list[int] = []
    fsyncs: list[int] = []
    real_syncfs, real_fsync = output._syncfs, os.fsync

    def syncfs(fd: int) -> bool:
        calls.append(fd)
        return real_syncfs(fd) if mode == "syncfs" else False

    monkeypatch.setattr(output, "_syncfs", syncfs)
    monkeypatch.setattr(output.os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    monkeypatch.setattr(output, "SYNCFS", mode != "per file")
    files = output.FileSet(FILES, secret={"nodes/n2/x.conf"})
    output.write_tree(tmp_path / "out", files)
    got = _tree(tmp_path / "out")
    assert got == {k: (v, 0o600 if k == "nodes/n2/x.conf" else 0o644) for k, v in FILES.items()}
    if mode == "syncfs":
        assert len(calls) == 1
        assert len(fsyncs) == 1  # the parent directory after the swap only
    else:
        # every file and directory of the staging tree, and the parent
        assert len(fsyncs) == len(FILES) + 5 + 1  # staging, nodes, nodes/n1, nodes/n1/a, nodes/n2
        assert len(calls) == (mode != "per file")


def test_syncfs_is_available_here():
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert output._syncfs(fd) is True
    finally:
        os.close(fd)


def test_place_is_unchanged_by_the_index():
    # services_on is read before and after the index is built: same answers, and the
    # index does not become a dataclass field (equality and repr unchanged)
    r = place(synthetic(10, 30, 90, seed=2))
    p = r.placement
    before = repr(p)
    p.services_on("n1")
    assert repr(p) == before and p == Placement(dict(p.instances), dict(p.vrids))
