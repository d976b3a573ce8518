"""``hamodel drift``: collected configs against what ``build`` generates, semantically.

Both sides are parsed with the import's parsers; a reordered backend list
or a changed comment is no drift, a changed timeout, a missing backend, a
different priority or a moved VIP is. Each difference is a
:class:`DriftItem` naming the node, the collected file and line, and the
model object that generates the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamodel.adopt.collected import CIB, COROSYNC, HAPROXY, KEEPALIVED, Collected, read_collected
from hamodel.adopt.layout import as_collected


@dataclass(frozen=True, order=True)
class DriftItem:
    node: str
    file: str  # node-relative path in the collected folder
    line: int  # in the collected file (0: the file as a whole)
    object: str  # the model object, e.g. services[keystone]
    message: str

    @property
    def id(self) -> str:
        key = re.sub(r"[^A-Za-z0-9:._@~+-]+", "-", f"{self.object}:{self.message.split(':')[0]}")[:150]
        return f"drift:{self.node}:{key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node": self.node,
            "file": self.file,
            "line": self.line,
            "object": self.object,
            "message": self.message,
        }


@dataclass
class DriftReport:
    items: list[DriftItem] = field(default_factory=list)
    root: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"collected": self.root, "drift": [i.to_dict() for i in self.items], "count": len(self.items)}


def _svc(arch, front: str) -> str:
    m = re.fullmatch(r"(.+?)(?:-\d+)?(?:-redirect.*)?", front)
    name = m.group(1) if m else front
    try:
        arch.service(name)
        return f"services[{name}]"
    except KeyError:
        return "haproxy" if front.startswith("stats-") else f"haproxy section {front}"


def _vrrp_obj(arch, inst: str) -> str:
    name = re.sub(r"_v[46]$", "", inst)
    try:
        arch.service(name)
        return f"services[{name}].strategy"
    except KeyError:
        return f"vrrp_instance {inst}"


def compare(arch, files: Mapping[str, bytes], site: Collected) -> DriftReport:
    """Differences between the built ``files`` (a FileSet with its manifest) and the collected ``site``."""
    from hamodel.adopt.cib import parse_cib
    from hamodel.adopt.collected import CollectedNode
    from hamodel.adopt.corosync import parse_corosync
    from hamodel.adopt.haproxy import parse_haproxy
    from hamodel.adopt.keepalived import parse_keepalived

    expected = as_collected(files, json.loads(files["manifest.json"]))
    want: dict[str, CollectedNode] = {}
    for path, data in expected.items():
        node, rel = path.split("/", 1)
        n = want.setdefault(node, CollectedNode(node))
        text = data.decode()
        if rel == KEEPALIVED:
            n.keepalived = parse_keepalived(text, path)
        elif rel == HAPROXY:
            n.haproxy = parse_haproxy(text, path)
        elif rel == COROSYNC:
            n.corosync = parse_corosync(text, path)
        elif rel == CIB:
            n.cib = parse_cib(text, path)
    out: list[DriftItem] = []
    cib_have = next((n.cib for _, n in sorted(site.nodes.items()) if n.cib is not None), None)
    for node in sorted(set(want) | set(site.nodes)):
        w, h = want.get(node), site.nodes.get(node)
        for rel, attr in ((KEEPALIVED, "keepalived"), (HAPROXY, "haproxy"), (COROSYNC, "corosync")):
            a, b = getattr(w, attr, None), getattr(h, attr, None)
            if a is None and b is None:
                continue
            if b is None:
                out.append(DriftItem(node, rel, 0, attr, "missing on the node: the model generates it"))
            elif a is None:
                out.append(DriftItem(node, rel, 0, attr, "on the node, but the model generates none for it"))
            elif attr == "keepalived":
                out += _keepalived(arch, node, rel, a, b)
            elif attr == "haproxy":
                out += _haproxy(arch, node, rel, a, b)
            else:
                out += _corosync(node, rel, a, b)
        if w is not None and w.cib is not None:
            if cib_have is None:
                out.append(DriftItem(node, CIB, 0, "pacemaker", "no CIB collected (cibadmin -Q as <node>/cib.xml)"))
            else:
                where = next(n for n, c in sorted(site.nodes.items()) if c.cib is not None)
                out += _cib(where, w.cib, cib_have)
    return DriftReport(sorted(set(out)), str(site.root))


def _diff_fields(node, rel, obj, label, a, b, fields, lines) -> list[DriftItem]:
    out = []
    for f in fields:
        va, vb = getattr(a, f), getattr(b, f)
        if isinstance(va, (list, tuple)):
            va, vb = sorted(map(str, va)), sorted(map(str, vb))
        if va != vb:
            out.append(DriftItem(node, rel, lines(f), obj, f"{label} {f}: {vb} on the node, {va} in the model"))
    return out


def _keepalived(arch, node, rel, a, b) -> list[DriftItem]:
    out = []
    for name in sorted(set(a.instances) | set(b.instances)):
        ia, ib = a.instances.get(name), b.instances.get(name)
        obj = _vrrp_obj(arch, name)
        if ib is None:
            out.append(DriftItem(node, rel, 0, obj, f"vrrp_instance {name}: missing on the node"))
        elif ia is None:
            out.append(DriftItem(node, rel, ib.line, obj, f"vrrp_instance {name}: on the node, not in the model"))
        else:
            out += _diff_fields(
                node,
                rel,
                obj,
                f"vrrp_instance {name}",
                ia,
                ib,
                (
                    "vrid",
                    "priority",
                    "state",
                    "nopreempt",
                    "interface",
                    "advert_int",
                    "unicast_src",
                    "peers",
                    "vips",
                    "track_scripts",
                    "track_interfaces",
                    "auth",
                    "garp_master_refresh",
                ),
                lambda f, ib=ib: ib.lines.get(
                    {
                        "vrid": "virtual_router_id",
                        "vips": "virtual_ipaddress",
                        "peers": "unicast_peer",
                        "unicast_src": "unicast_src_ip",
                        "track_scripts": "track_script",
                        "track_interfaces": "track_interface",
                    }.get(f, f),
                    ib.line,
                ),
            )
    for name in sorted(set(a.scripts) | set(b.scripts)):
        sa, sb = a.scripts.get(name), b.scripts.get(name)
        if sa is None or sb is None:
            out.append(
                DriftItem(
                    node,
                    rel,
                    sb.line if sb else 0,
                    "vrrp_script",
                    f"vrrp_script {name}: " + ("missing on the node" if sb is None else "not in the model"),
                )
            )
        else:
            out += _diff_fields(
                node,
                rel,
                "vrrp_script",
                f"vrrp_script {name}",
                sa,
                sb,
                ("process", "interval", "timeout", "fall", "rise", "weight"),
                lambda f, sb=sb: sb.line,
            )
    for name in sorted(set(a.sync_groups) | set(b.sync_groups)):  # which groups fail over together
        ma, mb = a.sync_groups.get(name), b.sync_groups.get(name)
        if ma is None or mb is None or set(ma[0]) != set(mb[0]):
            group = ma or mb
            assert group is not None  # its name is one of theirs
            obj = next((_vrrp_obj(arch, m) for m in group[0]), "vrrp_sync_group")
            out.append(
                DriftItem(
                    node,
                    rel,
                    mb[1] if mb else 0,
                    obj,
                    f"vrrp_sync_group {name}: "
                    + (
                        "missing on the node"
                        if mb is None
                        else "on the node, not in the model"
                        if ma is None
                        else f"{', '.join(sorted(mb[0]))} on the node, {', '.join(sorted(ma[0]))} in the model"
                    ),
                )
            )
    return out


def _haproxy(arch, node, rel, a, b) -> list[DriftItem]:
    out = []
    for sect in ("globals", "defaults"):
        da, db = getattr(a, sect), getattr(b, sect)
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                line = b.lines.get(f"{'global' if sect == 'globals' else 'defaults'}.{k}", 0)
                out.append(
                    DriftItem(
                        node, rel, line, "haproxy", f"{sect} {k}: {db.get(k)} on the node, {da.get(k)} in the model"
                    )
                )
    for name in sorted(set(a.fronts) | set(b.fronts)):
        fa, fb = a.fronts.get(name), b.fronts.get(name)
        obj = _svc(arch, name)
        if fb is None:
            out.append(DriftItem(node, rel, 0, obj, f"{name}: missing on the node"))
            continue
        if fa is None:
            out.append(DriftItem(node, rel, fb.line, obj, f"{name}: on the node, not in the model"))
            continue
        binds_a = {(x.host, x.port, x.crt) for x in fa.binds}
        binds_b = {(x.host, x.port, x.crt) for x in fb.binds}
        if binds_a != binds_b:
            out.append(
                DriftItem(
                    node,
                    rel,
                    fb.lines.get("bind", fb.line),
                    obj,
                    f"{name} bind: {sorted(binds_b, key=str)} on the node, {sorted(binds_a, key=str)} in the model",
                )
            )
        for t in sorted(set(fa.timeouts) | set(fb.timeouts)):
            if fa.timeouts.get(t) != fb.timeouts.get(t):
                out.append(
                    DriftItem(
                        node,
                        rel,
                        fb.lines.get(f"timeout {t}", fb.line),
                        obj,
                        f"{name} timeout {t}: {fb.timeouts.get(t)} on the node, {fa.timeouts.get(t)} in the model",
                    )
                )
        out += _diff_fields(
            node,
            rel,
            obj,
            name,
            fa,
            fb,
            (
                "mode",
                "balance",
                "http_path",
                "expect_status",
                "cookie",
                "stick_dst",
                "tcpka",
                "maxconn",
                "redirect",
                "passthrough",
            ),
            lambda f, fb=fb: fb.lines.get(
                {"http_path": "http-check", "cookie": "cookie", "stick_dst": "stick", "tcpka": "option"}.get(f, f),
                fb.line,
            ),
        )
        sa, sb = {s.name: s for s in fa.servers}, {s.name: s for s in fb.servers}
        for s in sorted(set(sa) | set(sb)):
            if s not in sb:
                out.append(
                    DriftItem(
                        node, rel, fb.lines.get("server", fb.line), obj, f"{name}: backend {s} missing on the node"
                    )
                )
            elif s not in sa:
                out.append(DriftItem(node, rel, sb[s].line, obj, f"{name}: backend {s} on the node, not in the model"))
            else:
                out += _diff_fields(
                    node,
                    rel,
                    obj,
                    f"{name} server {s}",
                    sa[s],
                    sb[s],
                    (
                        "host",
                        "port",
                        "backup",
                        "inter_ms",
                        "fastinter_ms",
                        "downinter_ms",
                        "rise",
                        "fall",
                        "check_port",
                        "cookie",
                        "ssl",
                        "ca_file",
                        "verify",
                    ),
                    lambda f, x=sb[s]: x.line,
                )
    return out


def _corosync(node, rel, a, b) -> list[DriftItem]:
    out = _diff_fields(
        node,
        rel,
        "pacemaker",
        "corosync",
        a,
        b,
        ("cluster_name", "transport", "token_ms", "wait_for_all", "two_node", "qdevice", "crypto"),
        lambda f: b.lines.get({"token_ms": "totem.token", "cluster_name": "totem.cluster_name"}.get(f, ""), 0),
    )
    na = {(n.name, n.nodeid, n.addrs) for n in a.nodes}
    nb = {(n.name, n.nodeid, n.addrs) for n in b.nodes}
    for x in sorted(na - nb, key=str):
        out.append(
            DriftItem(node, rel, 0, "pacemaker", f"corosync node {x[0]} ({', '.join(x[2])}): missing on the node")
        )
    for x in sorted(nb - na, key=str):
        line = next((n.line for n in b.nodes if n.name == x[0]), 0)
        out.append(
            DriftItem(node, rel, line, "pacemaker", f"corosync node {x[0]} ({', '.join(x[2])}): not in the model")
        )
    return out


def _cib(node, a, b) -> list[DriftItem]:
    out = []
    pa = {p.id: p for p in a.primitives}
    pb = {p.id: p for p in b.primitives}
    for rid in sorted(set(pa) | set(pb)):
        x, y = pa.get(rid), pb.get(rid)
        obj = f"pacemaker resource {rid}"
        if y is None:
            out.append(DriftItem(node, CIB, 0, obj, f"primitive {rid}: missing in the CIB"))
        elif x is None:
            out.append(DriftItem(node, CIB, y.line, obj, f"primitive {rid}: in the CIB, not in the model"))
        else:
            for f in ("agent", "attrs", "clone", "promotable", "clone_meta"):
                va, vb = getattr(x, f), getattr(y, f)
                if f == "attrs":  # secrets are compared by presence only: never printed
                    va = {k: ("***" if "pass" in k else v) for k, v in va.items()}
                    vb = {k: ("***" if "pass" in k else v) for k, v in vb.items()}
                if va != vb:
                    out.append(
                        DriftItem(node, CIB, y.line, obj, f"primitive {rid} {f}: {vb} in the CIB, {va} in the model")
                    )
    for what in ("colocations", "orders", "locations"):
        sa = {t[:3] for t in getattr(a, what)}
        sb = {t[:3]: t[3] for t in getattr(b, what)}
        for t in sorted(sa - set(sb)):
            out.append(DriftItem(node, CIB, 0, "pacemaker", f"{what[:-1]} {' '.join(t)}: missing in the CIB"))
        for t in sorted(set(sb) - sa):
            out.append(
                DriftItem(node, CIB, sb[t], "pacemaker", f"{what[:-1]} {' '.join(t)}: in the CIB, not in the model")
            )
    for k in sorted(set(a.properties) | set(b.properties)):
        if a.properties.get(k) != b.properties.get(k):
            out.append(
                DriftItem(
                    node,
                    CIB,
                    0,
                    "pacemaker",
                    f"property {k}: {b.properties.get(k)} in the CIB, {a.properties.get(k)} in the model",
                )
            )
    return out


def drift(arch, files: Mapping[str, bytes], root: Path) -> DriftReport:
    """Read ``root`` (a collected folder) and compare it with ``files``."""
    return compare(arch, files, read_collected(Path(root)))


def drift_sarif(report: DriftReport) -> str:
    """SARIF 2.1.0 (the check command's writer): one result per difference, at its collected line."""
    from hamodel.deployment import Finding, Severity
    from hamodel.report_formats import sarif_log

    root = Path(report.root)
    items = []
    for d in report.items:
        f = Finding(
            id=d.id,
            kind="drift",
            severity=Severity.MEDIUM,
            title=f"{d.node}: {d.message}",
            services=(d.object[9:-1],) if d.object.startswith("services[") else (),
            scenario=(),
            impact=f"{d.file} on {d.node} differs from what the model generates.",
            mitigation="deploy the model's files (hamodel build, then the deploy playbook) or change the model",
        )
        items.append((f, [{"file": str(root / d.node / d.file), "line": d.line, "object": d.object}], None))
    return json.dumps(sarif_log(items), indent=2, sort_keys=True) + "\n"
