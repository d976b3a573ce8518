"""A collected folder: ``DIR/<node>/etc/...`` as ``hamodel collect`` (collect.yml) fetches it.

Per node: ``etc/keepalived/keepalived.conf``, ``etc/haproxy/haproxy.cfg``,
``etc/corosync/corosync.conf``, ``cib.xml`` (``cibadmin -Q``) and
``etc/hosts``; any of them may be missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hamodel.adopt.cib import Cib, parse_cib
from hamodel.adopt.corosync import CorosyncConf, parse_corosync
from hamodel.adopt.haproxy import HaproxyConf, parse_haproxy
from hamodel.adopt.hosts import parse_hosts
from hamodel.adopt.keepalived import KeepalivedConf, parse_keepalived
from hamodel.adopt.source import AdoptError, Unmapped, read_text, safe_name, shown

KEEPALIVED = "etc/keepalived/keepalived.conf"
HAPROXY = "etc/haproxy/haproxy.cfg"
COROSYNC = "etc/corosync/corosync.conf"
CIB = "cib.xml"
HOSTS = "etc/hosts"
#: What collect.yml fetches, node-relative: (path in the folder, path on the node).
COLLECTED = (
    (KEEPALIVED, "/etc/keepalived/keepalived.conf"),
    (HAPROXY, "/etc/haproxy/haproxy.cfg"),
    (COROSYNC, "/etc/corosync/corosync.conf"),
    (HOSTS, "/etc/hosts"),
)
MAX_NODES = 2000


@dataclass
class CollectedNode:
    name: str
    keepalived: KeepalivedConf | None = None
    haproxy: HaproxyConf | None = None
    corosync: CorosyncConf | None = None
    cib: Cib | None = None
    hosts: dict[str, str] = field(default_factory=dict)


@dataclass
class Collected:
    root: Path
    nodes: dict[str, CollectedNode] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)

    def all_unmapped(self) -> list[Unmapped]:
        out = list(self.unmapped)
        for n in self.nodes.values():
            for part in (n.keepalived, n.haproxy, n.corosync, n.cib):
                if part is not None:
                    out += part.unmapped
        return sorted(set(out))


def read_collected(root: Path) -> Collected:
    """Parse every node's files under ``root``; :class:`AdoptError` on a refused file."""
    root = Path(root)
    if not root.is_dir():
        raise AdoptError(f"{root}: not a folder of collected configs (DIR/<node>/etc/...)")
    site = Collected(root)
    entries = sorted(root.iterdir())
    if len(entries) > MAX_NODES:
        raise AdoptError(f"{root}: more than {MAX_NODES} entries")
    for d in entries:
        rel = d.name
        if d.is_symlink() or not d.is_dir():
            site.unmapped.append(Unmapped(rel, 0, "entry", "unknown", "not a node folder (a plain folder per node)"))
            continue
        if not safe_name(d.name):
            site.unmapped.append(Unmapped(shown(rel), 0, "node folder", "unsafe", "not a plain host name"))
            continue
        node = CollectedNode(d.name)
        label = lambda p: f"{d.name}/{p}"
        if (d / KEEPALIVED).exists() or (d / KEEPALIVED).is_symlink():
            node.keepalived = parse_keepalived(
                read_text(d / KEEPALIVED, label(KEEPALIVED)), label(KEEPALIVED), path=d / KEEPALIVED, root=d
            )
        if (d / HAPROXY).exists() or (d / HAPROXY).is_symlink():
            node.haproxy = parse_haproxy(read_text(d / HAPROXY, label(HAPROXY)), label(HAPROXY))
        if (d / COROSYNC).exists() or (d / COROSYNC).is_symlink():
            node.corosync = parse_corosync(read_text(d / COROSYNC, label(COROSYNC)), label(COROSYNC))
        if (d / CIB).exists() or (d / CIB).is_symlink():
            node.cib = parse_cib(read_text(d / CIB, label(CIB)), label(CIB))
        if (d / HOSTS).exists():
            node.hosts = parse_hosts(read_text(d / HOSTS, label(HOSTS)))
        if not any((node.keepalived, node.haproxy, node.corosync, node.cib, node.hosts)):
            site.unmapped.append(Unmapped(rel, 0, "node folder", "unknown", "none of the collected files is there"))
            continue
        site.nodes[d.name] = node
    if not site.nodes:
        raise AdoptError(
            f"{root}: no node folder with a collected file (DIR/<node>/{KEEPALIVED}, {HAPROXY}, {COROSYNC}, {CIB})"
        )
    return site
