"""keepalived.conf -> VRRP facts (instances, track scripts), each with its line.

``include`` is followed only inside the node's collected folder, at most
:data:`MAX_INCLUDES` files, and a file included twice (a loop) is refused.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from hamodel.adopt.braces import Block, Stmt, parse_braces
from hamodel.adopt.source import AdoptError, Unmapped, read_text, safe_name, shown
from hamodel.deployment import KEEPALIVED_STATE_SCRIPT

MAX_INCLUDES = 32

# What a track script runs, and the process it watches: pgrep -x NAME,
# pgrep -F PIDFILE -x NAME, killall -0 NAME, pidof NAME, systemctl is-active NAME.
_PROCESS = [
    re.compile(p)
    for p in (
        r"pgrep\b.*?-x\s+([A-Za-z0-9_.-]+)",
        r"killall\s+-0\s+([A-Za-z0-9_.-]+)",
        r"pidof\s+([A-Za-z0-9_.-]+)",
        r"systemctl\s+is-active\s+(?:--quiet\s+)?([A-Za-z0-9_.-]+)",
        r"check_alive_([A-Za-z0-9_-]+)",
    )
]

_INSTANCE_KEYS = {
    "state",
    "nopreempt",
    "preempt",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "unicast_src_ip",
    "unicast_peer",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "track_script",
    "track_interface",
    "authentication",
    "garp_master_refresh",
    "notify",
    "preempt_delay",
    "dont_track_primary",
}
_STATE_NOTIFY = {"notify_master", "notify_backup", "notify_fault", "notify_stop"}
_IGNORED_GLOBAL = {
    "router_id",
    "enable_script_security",
    "script_user",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "vrrp_skip_check_adv_addr",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "max_auto_priority",
}


@dataclass
class VrrpScript:
    name: str
    line: int
    script: str = ""
    process: str | None = None
    interval: int = 1
    timeout: int | None = None
    fall: int = 1
    rise: int = 1
    weight: int = 0


@dataclass
class VrrpInstance:
    name: str
    line: int
    file: str
    state: str = "BACKUP"
    nopreempt: bool = False
    interface: str | None = None
    vrid: int | None = None
    priority: int = 100
    advert_int: int = 1
    unicast_src: str | None = None
    peers: tuple[str, ...] = ()
    vips: tuple[tuple[str, int | None, str | None], ...] = ()  # (address, prefix or None: /32, dev)
    track_scripts: tuple[str, ...] = ()
    track_interfaces: tuple[str, ...] = ()
    auth: bool = False
    garp_master_refresh: int | None = None
    notify: str | None = None
    lines: dict[str, int] = field(default_factory=dict)


@dataclass
class KeepalivedConf:
    file: str
    scripts: dict[str, VrrpScript] = field(default_factory=dict)
    instances: dict[str, VrrpInstance] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)
    sync_groups: dict[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)  # name -> (instances, line)


def process_of(script: str) -> str | None:
    """The process a track script checks, when it says so plainly."""
    for p in _PROCESS:
        m = p.search(script)
        if m:
            return m.group(1)
    return None


def _int(st: Stmt, label: str, lo: int, hi: int) -> int:
    try:
        v = int(st.words[1])
    except (IndexError, ValueError):
        raise AdoptError(f"{label}:{st.line}: {st.key} needs a number") from None
    if not lo <= v <= hi:
        raise AdoptError(f"{label}:{st.line}: {st.key} {v} outside {lo}-{hi}")
    return v


def _expand(
    items: list[Stmt | Block], path: Path | None, root: Path | None, label: str, seen: set[Path]
) -> list[tuple[str, Stmt | Block]]:
    """(file label, item) with ``include`` lines replaced by the included file's items."""
    out: list[tuple[str, Stmt | Block]] = []
    for it in items:
        if isinstance(it, Stmt) and it.key == "include":
            if root is None or path is None:
                raise AdoptError(f"{label}:{it.line}: include: not followed outside a collected folder")
            target = it.words[1] if len(it.words) > 1 else ""
            inc = (root / target.lstrip("/")) if target.startswith("/") else (path.parent / target)
            if not Path(os.path.normpath(inc)).is_relative_to(root.resolve()) and not Path(
                os.path.normpath(inc)
            ).is_relative_to(root):
                raise AdoptError(f"{label}:{it.line}: include {shown(target)}: outside the node's collected folder")
            try:
                real = inc.resolve(strict=True)
            except OSError:
                raise AdoptError(
                    f"{label}:{it.line}: include {shown(target)}: not in the collected folder (collect it too)"
                ) from None
            if not real.is_relative_to(root.resolve()):
                raise AdoptError(f"{label}:{it.line}: include {shown(target)}: outside the node's collected folder")
            if real in seen:
                raise AdoptError(f"{label}:{it.line}: include {shown(target)}: included twice (an include loop)")
            if len(seen) >= MAX_INCLUDES:
                raise AdoptError(f"{label}:{it.line}: more than {MAX_INCLUDES} included files")
            seen.add(real)
            sub = f"{label.rsplit('/etc/', 1)[0]}/{real.relative_to(root.resolve())}" if "/etc/" in label else str(real)
            text = read_text(real, sub)
            out += _expand(parse_braces(text, sub), real, root, sub, seen)
        else:
            out.append((label, it))
    return out


def parse_keepalived(text: str, label: str, path: Path | None = None, root: Path | None = None) -> KeepalivedConf:
    """Facts of one keepalived.conf; ``root`` is the node's collected folder (for ``include``)."""
    conf = KeepalivedConf(file=label)
    seen = {path.resolve()} if path is not None else set()
    for where, it in _expand(parse_braces(text, label), path, root, label, seen):
        if isinstance(it, Block) and it.key == "vrrp_script":
            _script(conf, it, where)
        elif isinstance(it, Block) and it.key == "vrrp_instance":
            _instance(conf, it, where)
        elif isinstance(it, Block) and it.key == "vrrp_sync_group":
            _sync_group(conf, it, where)
        elif isinstance(it, Block) and it.key == "global_defs":
            for st in it.body:
                if st.key not in _IGNORED_GLOBAL:
                    conf.unmapped.append(
                        Unmapped(where, st.line, f"global_defs {st.key}", "unsupported", "not part of the model")
                    )
        else:
            reason = (
                "unsupported"
                if it.key in ("virtual_server", "static_ipaddress", "static_routes", "virtual_server_group")
                else "unknown"
            )
            conf.unmapped.append(
                Unmapped(
                    where,
                    it.line,
                    shown(" ".join(it.words[:2])),
                    reason,
                    "hamodel models VRRP instances and their track scripts",
                )
            )
    return conf


def _script(conf: KeepalivedConf, b: Block, label: str) -> None:
    name = b.args[0] if b.args else ""
    if not safe_name(name):
        conf.unmapped.append(Unmapped(label, b.line, f"vrrp_script {shown(name)}", "unsafe", "not a plain name"))
        return
    s = VrrpScript(name, b.line)
    for st in b.body:
        if not isinstance(st, Stmt):
            conf.unmapped.append(Unmapped(label, st.line, st.key, "unknown"))
        elif st.key == "script":
            s.script = " ".join(st.words[1:])
            s.process = process_of(s.script)
            if s.process is None:
                conf.unmapped.append(
                    Unmapped(label, st.line, "script", "ambiguous", f"which process {shown(s.script)} checks")
                )
        elif st.key in ("interval", "fall", "rise", "timeout"):
            setattr(s, st.key, _int(st, label, 1, 3600))
        elif st.key == "weight":
            s.weight = _int(st, label, -254, 254)
        else:
            conf.unmapped.append(Unmapped(label, st.line, st.key, "unsupported"))
    conf.scripts[name] = s


def _sync_group(conf: KeepalivedConf, b: Block, label: str) -> None:
    """``vrrp_sync_group NAME { group { INSTANCE... } }``: the instances that fail over together."""
    name = b.args[0] if b.args else ""
    if not safe_name(name):
        conf.unmapped.append(Unmapped(label, b.line, f"vrrp_sync_group {shown(name)}", "unsafe", "not a plain name"))
        return
    members: list[str] = []
    for st in b.body:
        if isinstance(st, Block) and st.key == "group":
            members += [s.key for s in st.body if isinstance(s, Stmt)]
        else:
            conf.unmapped.append(
                Unmapped(
                    label,
                    st.line,
                    f"vrrp_sync_group {name} {st.key}",
                    "unsupported",
                    "a sync group in the model is its member groups only",
                )
            )
    conf.sync_groups[name] = (tuple(members), b.line)


def _instance(conf: KeepalivedConf, b: Block, label: str) -> None:
    name = b.args[0] if b.args else ""
    if not safe_name(name):
        conf.unmapped.append(Unmapped(label, b.line, f"vrrp_instance {shown(name)}", "unsafe", "not a plain name"))
        return
    i = VrrpInstance(name, b.line, label)
    for st in b.body:
        i.lines.setdefault(st.key, st.line)
        k = st.key
        if isinstance(st, Block):
            entries = [s for s in st.body if isinstance(s, Stmt)]
            if k == "unicast_peer":
                i.peers = tuple(_addr(s.words[0], label, s.line) for s in entries)
            elif k in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
                vips = []
                for s in entries:
                    a, _, pre = s.words[0].partition("/")
                    ip = ipaddress.ip_address(_addr(a, label, s.line))
                    dev = s.words[s.words.index("dev") + 1] if "dev" in s.words[:-1] else None
                    vips.append((str(ip), int(pre) if pre.isdigit() else None, dev))  # None: keepalived's /32
                i.vips += tuple(vips)
            elif k == "track_script":
                i.track_scripts = tuple(s.words[0] for s in entries)
            elif k == "track_interface":
                i.track_interfaces = tuple(s.words[0] for s in entries)
            elif k == "authentication":
                i.auth = True
            else:
                conf.unmapped.append(Unmapped(label, st.line, k, "unknown", "block inside vrrp_instance"))
            continue
        if k == "state":
            i.state = st.words[1] if len(st.words) > 1 else "BACKUP"
        elif k == "nopreempt":
            i.nopreempt = True
        elif k == "interface":
            i.interface = st.words[1]
        elif k == "virtual_router_id":
            i.vrid = _int(st, label, 1, 255)
        elif k == "priority":
            i.priority = _int(st, label, 0, 255)
        elif k == "advert_int":
            i.advert_int = _int(st, label, 1, 255)
        elif k == "unicast_src_ip":
            i.unicast_src = _addr(st.words[1], label, st.line)
        elif k == "garp_master_refresh":
            i.garp_master_refresh = _int(st, label, 1, 3600)
        elif k == "notify":
            i.notify = " ".join(st.words[1:])
        elif k in _STATE_NOTIFY and KEEPALIVED_STATE_SCRIPT in " ".join(st.words[1:2]).strip('"'):
            continue  # the VRRP state metrics hook that build writes (monitoring)
        else:
            conf.unmapped.append(Unmapped(label, st.line, k, "unsupported" if k in _INSTANCE_KEYS else "unknown"))
    if i.vrid is None:
        raise AdoptError(f"{label}:{b.line}: vrrp_instance {name} has no virtual_router_id")
    conf.instances[name] = i


def _addr(text: str, label: str, line: int) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise AdoptError(f"{label}:{line}: {shown(text)!r} is not an IP address") from None
