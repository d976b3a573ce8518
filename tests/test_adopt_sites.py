"""hamodel import of sites that hamodel did not write: keepalived's
vrrp_sync_group read back into Vrrp(sync_group=...), and hand-written
collected folders in the styles of OpenStack-Ansible and TripleO (issue 27)."""

from __future__ import annotations

import json
from pathlib import Path

from hamodel.adopt import import_folder
from hamodel.adopt.canon import canonical
from hamodel.adopt.layout import as_collected
from hamodel.generators.configs import build_configs
from hamodel.loader import load
from hamodel.pipeline import resolve
from test_sync_groups import lbs


def _lay_out(files, root: Path) -> dict[str, bytes]:
    laid = as_collected(files, json.loads(files["manifest.json"]))
    for rel, data in laid.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return laid


def _draft_model(root: Path, name: str):
    draft = import_folder(root, name)
    (root.parent / f"{name}.py").write_text(draft.source)
    return draft, load(str(root.parent / f"{name}.py"))


def test_sync_group_round_trip(tmp_path):
    """build -> collected folder -> import -> build: the sync group comes
    back on both VRRP groups and keepalived.conf is equal modulo ordering."""
    original = _lay_out(build_configs(resolve(lbs(), analyse=False)), tmp_path / "site")
    draft, arch = _draft_model(tmp_path / "site", "sync")
    assert not [u for u in draft.unmapped if "sync_group" in u.directive], draft.unmapped
    assert {s.name: s.strategy.sync_group for s in arch.services if s.strategy.kind == "vrrp"} == \
        {"haproxy": "lb", "haproxy-public": "lb"}
    files2 = build_configs(resolve(arch, analyse=False))
    rebuilt = as_collected(files2, json.loads(files2["manifest.json"]))
    for n in ("lb1", "lb2"):
        rel = f"{n}/etc/keepalived/keepalived.conf"
        assert canonical("keepalived", rebuilt[rel].decode()) == canonical("keepalived", original[rel].decode())


def test_sync_group_naming_an_unknown_instance_is_reported(tmp_path):
    """A sync group whose second member no node runs cannot be a model sync
    group: reported as ambiguous with its file:line, and the draft still loads."""
    _lay_out(build_configs(resolve(lbs(), analyse=False)), tmp_path / "site")
    for n in ("lb1", "lb2"):
        p = tmp_path / "site" / n / "etc/keepalived/keepalived.conf"
        p.write_text(p.read_text().replace("        haproxy-public\n    }", "        gone\n    }"))
    draft, arch = _draft_model(tmp_path / "site", "sync")
    hits = [u for u in draft.unmapped if u.directive == "vrrp_sync_group lb"]
    assert hits and hits[0].reason == "ambiguous" and hits[0].line > 0, draft.unmapped
    assert all(s.strategy.sync_group is None for s in arch.services if s.strategy.kind == "vrrp")
