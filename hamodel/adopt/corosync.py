"""corosync.conf -> cluster facts (name, token, nodes and their ring addresses, quorum)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hamodel.adopt.braces import Block, Stmt, parse_braces
from hamodel.adopt.source import AdoptError, Unmapped, safe_name, shown

_TOTEM_READ = {
    "version",
    "cluster_name",
    "transport",
    "token",
    "crypto_cipher",
    "crypto_hash",
    "keyfile",
    "secauth",
    "token_coefficient",
    "consensus",
    "join",
    "max_messages",
    "ip_version",
}


@dataclass
class CorosyncNode:
    name: str
    nodeid: int | None
    addrs: tuple[str, ...]
    line: int


@dataclass
class CorosyncConf:
    file: str
    cluster_name: str = "hacluster"
    transport: str = "knet"
    token_ms: int = 1000
    nodes: list[CorosyncNode] = field(default_factory=list)
    wait_for_all: bool = False
    two_node: bool = False
    qdevice: str | None = None
    crypto: bool = False
    unmapped: list[Unmapped] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)


def _value(st: Stmt) -> str:
    return st.words[1] if len(st.words) > 1 else ""


def parse_corosync(text: str, label: str) -> CorosyncConf:
    conf = CorosyncConf(file=label)
    for b in parse_braces(text, label):
        if not isinstance(b, Block):
            conf.unmapped.append(Unmapped(label, b.line, shown(b.key), "unknown"))
            continue
        if b.key == "totem":
            for st in b.body:
                conf.lines.setdefault(f"totem.{st.key}", st.line)
                if isinstance(st, Block):
                    continue  # interface { linknumber } blocks: the link is the node's ring address
                if st.key == "cluster_name":
                    conf.cluster_name = _value(st)
                elif st.key == "transport":
                    conf.transport = _value(st)
                elif st.key == "token":
                    if not _value(st).isdigit():
                        raise AdoptError(f"{label}:{st.line}: token needs a number of milliseconds")
                    conf.token_ms = int(_value(st))
                elif st.key in ("crypto_cipher", "secauth"):
                    conf.crypto = conf.crypto or _value(st) not in ("none", "off")
                elif st.key not in _TOTEM_READ:
                    conf.unmapped.append(Unmapped(label, st.line, f"totem {shown(st.key)}", "unknown"))
                elif st.key in ("token_coefficient", "consensus", "join", "max_messages"):
                    conf.unmapped.append(
                        Unmapped(label, st.line, f"totem {st.key}", "unsupported", "hamodel writes corosync's default")
                    )
        elif b.key == "nodelist":
            for nb in b.body:
                if not isinstance(nb, Block) or nb.key != "node":
                    conf.unmapped.append(Unmapped(label, nb.line, shown(nb.key), "unknown"))
                    continue
                vals = {st.key: _value(st) for st in nb.body if isinstance(st, Stmt)}
                addrs = tuple(v for k, v in sorted(vals.items()) if k.startswith("ring") and k.endswith("_addr"))
                name = vals.get("name") or (addrs[0] if addrs else "")
                if not safe_name(name):
                    conf.unmapped.append(Unmapped(label, nb.line, f"node {shown(name)}", "unsafe", "not a plain name"))
                    continue
                nid = vals.get("nodeid")
                conf.nodes.append(CorosyncNode(name, int(nid) if nid and nid.isdigit() else None, addrs, nb.line))
        elif b.key == "quorum":
            for st in b.body:
                conf.lines.setdefault(f"quorum.{st.key}", st.line)
                if isinstance(st, Block) and st.key == "device":
                    net = next((x for x in st.body if isinstance(x, Block) and x.key == "net"), None)
                    host = next(
                        (_value(s) for s in (net.body if net else []) if isinstance(s, Stmt) and s.key == "host"), None
                    )
                    conf.qdevice = host or "qdevice"
                elif isinstance(st, Stmt) and st.key == "wait_for_all":
                    conf.wait_for_all = _value(st) == "1"
                elif isinstance(st, Stmt) and st.key == "two_node":
                    conf.two_node = _value(st) == "1"
                elif isinstance(st, Stmt) and st.key != "provider":
                    conf.unmapped.append(Unmapped(label, st.line, f"quorum {shown(st.key)}", "unsupported"))
        elif b.key != "logging":
            conf.unmapped.append(Unmapped(label, b.line, shown(b.key), "unknown"))
    return conf
