"""Generated configs, read and re-rooted into a lab.

The drill runs the files the generators produced, changed only where a lab
on one machine must differ from real hosts: paths point into the lab's
state dir (never /etc), daemons stay in the foreground under the drill's
control. The shipped keepalived track script (``pgrep -F /run/haproxy.pid
-x haproxy``) runs unchanged: every lab node has its own ``/run`` (a mount
namespace per daemon over one folder per node), where haproxy writes the
pid file it is told with ``-p``, as Debian's unit runs it. Every change is listed in the
returned notes and ends up in the report.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

# -- haproxy ------------------------------------------------------------------

_GLOBAL_DROP = {
    "daemon",
    "master-worker",
    "chroot",
    "user",
    "group",
    "uid",
    "gid",
    "pidfile",
    "log",
    "ca-base",
    "crt-base",
    "server-state-file",
    "server-state-base",
    "lua-load",
    "nbproc",
}
_ENV_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _ms(v: str) -> int:
    """haproxy time ('1000', '1s', '500ms', '2m') in milliseconds."""
    m = re.fullmatch(r"(\d+)(us|ms|s|m|h|d)?", v)
    if not m:
        raise ValueError(f"not a haproxy time: {v!r}")
    n, unit = int(m.group(1)), m.group(2) or "ms"
    return {"us": n // 1000, "ms": n, "s": n * 1000, "m": n * 60_000, "h": n * 3_600_000, "d": n * 86_400_000}[unit]


@dataclass
class Server:
    name: str
    address: str
    port: int
    backup: bool = False
    check: bool = False
    check_port: int | None = None
    inter_ms: int = 2000
    fall: int = 3
    rise: int = 2


@dataclass
class Backend:
    name: str
    servers: list[Server] = field(default_factory=list)
    httpchk: str | None = None
    mode: str | None = None
    timeout_connect_ms: int | None = None
    timeout_check_ms: int | None = None
    redispatch: bool = False

    def check_connect_timeout_ms(self, server: Server) -> int:
        """How long one check of an unreachable server takes to fail.

        haproxy: with ``timeout check`` the check connects with
        min(timeout connect, inter); without, with inter.
        """
        if self.timeout_check_ms is not None and self.timeout_connect_ms is not None:
            return min(self.timeout_connect_ms, server.inter_ms)
        return server.inter_ms


@dataclass
class HaproxyConfig:
    """What a drill needs to know of one node's haproxy.cfg."""

    frontends: dict[tuple[str, int], str] = field(default_factory=dict)  # (addr, port) -> backend name
    backends: dict[str, Backend] = field(default_factory=dict)
    env: set[str] = field(default_factory=set)

    def backend_for(self, address: str, port: int) -> Backend | None:
        name = self.frontends.get((address, port)) or self.frontends.get(("*", port))
        return self.backends.get(name) if name else None


def _sections(text: str) -> list[tuple[str, str, list[str]]]:
    """[(keyword, name, body lines)] of a haproxy.cfg (comments stripped)."""
    out: list[tuple[str, str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if not raw[:1].isspace():
            words = line.split()
            out.append((words[0], words[1] if len(words) > 1 else "", []))
        elif out:
            out[-1][2].append(line.strip())
    return out


def _server(words: list[str], defaults: dict[str, str]) -> Server:
    addr, _, port = words[2].rpartition(":")
    s = Server(words[1], addr.strip("[]"), int(port))
    opts = dict(defaults)
    i = 3
    while i < len(words):
        w = words[i]
        if w == "backup":
            s.backup = True
        elif w == "check":
            s.check = True
        elif w in ("port", "inter", "fall", "rise") and i + 1 < len(words):
            opts[w] = words[i + 1]
            i += 1
        i += 1
    if "port" in opts:
        s.check_port = int(opts["port"])
    if "inter" in opts:
        s.inter_ms = _ms(opts["inter"])
    if "fall" in opts:
        s.fall = int(opts["fall"])
    if "rise" in opts:
        s.rise = int(opts["rise"])
    return s


def _default_server(line: str, into: dict[str, str]) -> None:
    words = line.split()[1:]
    for k, v in zip(words, words[1:]):
        if k in ("port", "inter", "fall", "rise"):
            into[k] = v


def _common(be: Backend, words: list[str]) -> bool:
    """Settings a proxy inherits from ``defaults``; True when ``words`` was one."""
    if words[:1] == ["mode"] and len(words) > 1:
        be.mode = words[1]
    elif words[:2] == ["timeout", "connect"] and len(words) > 2:
        be.timeout_connect_ms = _ms(words[2])
    elif words[:2] == ["timeout", "check"] and len(words) > 2:
        be.timeout_check_ms = _ms(words[2])
    elif words[:2] == ["option", "redispatch"]:
        be.redispatch = True
    elif words[:3] == ["no", "option", "redispatch"]:
        be.redispatch = False
    else:
        return False
    return True


def parse_haproxy(text: str) -> HaproxyConfig:
    cfg = HaproxyConfig(env=set(_ENV_RE.findall(text)))
    defaults_ds: dict[str, str] = {}
    dflt = Backend("defaults")
    for kw, name, body in _sections(text):
        if kw == "defaults":
            for line in body:
                if line.startswith("default-server"):
                    _default_server(line, defaults_ds)
                _common(dflt, line.split())
            continue
        if kw not in ("frontend", "backend", "listen"):
            continue
        ds = dict(defaults_ds)
        be = Backend(
            name,
            mode=dflt.mode,
            timeout_connect_ms=dflt.timeout_connect_ms,
            timeout_check_ms=dflt.timeout_check_ms,
            redispatch=dflt.redispatch,
        )
        target = name if kw == "listen" else None
        binds: list[tuple[str, int]] = []
        for line in body:
            words = line.split()
            if words[0] == "bind" and len(words) > 1:
                for spec in words[1].split(","):
                    addr, _, port = spec.rpartition(":")
                    if port.isdigit():
                        binds.append((addr.strip("[]") or "*", int(port)))
            elif (words[0] == "default_backend" and len(words) > 1) or (
                words[0] == "use_backend" and len(words) > 1 and target is None
            ):
                target = words[1]
            elif words[0] == "default-server":
                _default_server(line, ds)
            elif _common(be, words):
                pass
            elif words[:2] == ["option", "httpchk"]:
                # old form: option httpchk [METH] URI; the new form names the uri in http-check send
                rest = words[2:]
                be.httpchk = next((w for w in rest if w.startswith("/")), be.httpchk or "/")
            elif words[:2] == ["http-check", "send"] and "uri" in words[2:-1]:
                be.httpchk = words[words.index("uri", 2) + 1]
            elif words[0] == "server" and len(words) >= 3:
                be.servers.append(_server(words, ds))
        if kw in ("backend", "listen"):
            cfg.backends[name] = be
        if target:
            for b in binds:
                cfg.frontends[b] = target
    return cfg


def lab_haproxy(text: str, node_dir: Path) -> tuple[str, list[str]]:
    """haproxy.cfg for the lab: foreground, no chroot/user, stats socket in ``node_dir``.

    A ``pidfile`` line (in an adopted config) is dropped: the drill passes the
    pid file with ``-p``, as Debian's haproxy.service does.
    """
    out: list[str] = []
    notes: set[str] = set()
    section = ""
    stats_done = False
    dropped: list[str] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        words = stripped.split()
        if raw[:1].strip() and words:
            section = words[0]
            out.append(raw)
            if section == "global":
                out.append(f"    stats socket {node_dir}/haproxy.sock mode 600 level admin")
                stats_done = True
            continue
        if not words or words[0].startswith("#"):
            out.append(raw)
            continue
        if section == "global" and (words[0] in _GLOBAL_DROP or words[:2] == ["stats", "socket"]):
            dropped.append(" ".join(words[:2]) if words[0] == "stats" else words[0])
            continue
        if words[0] in ("errorfile", "lua-load"):
            notes.add(f"haproxy '{words[0]}' lines dropped: they point at host files")
            continue
        if words[0] == "bind" and "ssl" in words:
            kept, skip = [], False
            for w in words:
                if skip:
                    skip = False
                    continue
                if w in ("crt", "ca-file", "crl-file", "crt-list"):
                    skip = True
                    continue
                if w == "ssl":
                    continue
                kept.append(w)
            notes.add(
                "TLS termination dropped in the lab (certificates are host files); frontends serve plain TCP/HTTP"
            )
            out.append("    " + " ".join(kept))
            continue
        out.append(raw)
    if not stats_done:
        out.insert(0, f"global\n    stats socket {node_dir}/haproxy.sock mode 600 level admin")
    if dropped:
        notes.add(
            f"haproxy global {', '.join(dict.fromkeys(dropped))} removed: the drill runs haproxy in the "
            "foreground as root, logging to its own file, with its stats socket in the lab dir"
        )
    return "\n".join(out) + "\n", sorted(notes)


# -- keepalived ---------------------------------------------------------------


@dataclass
class VrrpScript:
    name: str
    script: str = ""
    interval: float = 1.0
    fall: int = 1
    rise: int = 1
    weight: int = 0


@dataclass
class VrrpInstance:
    name: str
    interface: str = ""
    vrid: int = 0
    priority: int = 100
    advert_int: float = 1.0
    nopreempt: bool = False
    state: str = "BACKUP"
    addresses: list[str] = field(default_factory=list)
    track_scripts: dict[str, int | None] = field(default_factory=dict)  # name -> weight override
    unicast_peers: list[str] = field(default_factory=list)


@dataclass
class KeepalivedConfig:
    instances: dict[str, VrrpInstance] = field(default_factory=dict)
    scripts: dict[str, VrrpScript] = field(default_factory=dict)


def _lines(text: str) -> list[list[str]]:
    """Token lists per line, comments removed, braces as their own tokens."""
    out = []
    for raw in text.splitlines():
        line = re.split(r"(?<!\S)[#!]", raw, maxsplit=1)[0]
        line = line.replace("{", " { ").replace("}", " } ")
        try:
            toks = shlex.split(line, posix=True)
        except ValueError:
            toks = line.split()
        if toks:
            out.append(toks)
    return out


def parse_keepalived(text: str) -> KeepalivedConfig:
    cfg = KeepalivedConfig()
    stack: list[list[str]] = []
    for toks in _lines(text):
        for seg in _split_braces(toks):
            if seg == ["{"]:
                continue
            if seg == ["}"]:
                if stack:
                    stack.pop()
                continue
            if seg[-1] == "{":
                stack.append(seg[:-1])
                head = seg[:-1]
                if head[:1] == ["vrrp_instance"] and len(head) > 1:
                    cfg.instances[head[1]] = VrrpInstance(head[1])
                elif head[:1] == ["vrrp_script"] and len(head) > 1:
                    cfg.scripts[head[1]] = VrrpScript(head[1])
                continue
            _statement(cfg, stack, seg)
    return cfg


def _split_braces(toks: list[str]) -> list[list[str]]:
    """Split a token line into statements ending at '{' or '}' (``a { b }``)."""
    segs, cur = [], []
    for t in toks:
        if t == "{":
            segs.append(cur + ["{"])
            cur = []
        elif t == "}":
            if cur:
                segs.append(cur)
            segs.append(["}"])
            cur = []
        else:
            cur.append(t)
    if cur:
        segs.append(cur)
    return segs


def _statement(cfg: KeepalivedConfig, stack: list[list[str]], seg: list[str]) -> None:
    if not stack:
        return
    outer = stack[0]
    inner = stack[-1][0] if stack else ""
    if outer[0] == "vrrp_script" and len(stack) == 1:
        s = cfg.scripts[outer[1]]
        k, v = seg[0], seg[1:]
        if k == "script" and v:
            s.script = " ".join(v)
        elif k in ("interval", "fall", "rise", "weight") and v:
            setattr(s, k, float(v[0]) if k == "interval" else int(v[0]))
    elif outer[0] == "vrrp_instance" and len(outer) > 1:
        inst = cfg.instances[outer[1]]
        k, v = seg[0], seg[1:]
        if len(stack) == 1:
            if k == "interface" and v:
                inst.interface = v[0]
            elif k == "virtual_router_id" and v:
                inst.vrid = int(v[0])
            elif k == "priority" and v:
                inst.priority = int(v[0])
            elif k == "advert_int" and v:
                inst.advert_int = float(v[0])
            elif k == "nopreempt":
                inst.nopreempt = True
            elif k == "state" and v:
                inst.state = v[0]
        elif inner in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
            inst.addresses.append(k.split("/")[0])
        elif inner == "track_script":
            w = int(v[v.index("weight") + 1]) if "weight" in v else None
            inst.track_scripts[k] = w
        elif inner == "unicast_peer":
            inst.unicast_peers.append(k)


_TRACKED_RE = re.compile(r"\bhaproxy\b")


def lab_keepalived(
    text: str, node_dir: Path, notify: tuple[str, str] | None = None
) -> tuple[str, dict[str, str], list[str]]:
    """keepalived.conf for the lab, plus the lab's own track scripts ({path: content}).

    A ``vrrp_script`` that checks haproxy runs unchanged, byte for byte:
    each lab node's daemons see a ``/run`` of their own (see
    :meth:`hamodel.drill.lab.Lab.start`), so the shipped ``pgrep -F
    /run/haproxy.pid -x haproxy`` reads this node's pid file. A script for
    a process the lab does not run is replaced by one that always succeeds
    (with a note); notify scripts are dropped, except, with ``notify``
    ``(generated path, lab path)``, the notify lines calling the generated
    script at that path, which call the lab's copy instead (the monitoring
    state script, :mod:`hamodel.drill.keepalived.monitoring`).
    """
    out: list[str] = []
    notes: set[str] = set()
    scripts: dict[str, str] = {}
    depth = 0
    block: list[str] = []
    for raw in text.splitlines():
        toks = _lines(raw)
        words = toks[0] if toks else []
        opening = raw.count("{") - raw.count("}")
        if words and words[0] == "vrrp_script" and opening > 0 and depth == 0:
            block = words
        if depth == 1 and block[:1] == ["vrrp_script"] and words and words[0] == "script":
            original = " ".join(words[1:])
            name = block[1]
            if _TRACKED_RE.search(original):
                out.append(raw)
                notes.add(
                    f"vrrp_script {name} runs as shipped ({original}): each lab node has a /run of its "
                    "own (a mount namespace), where haproxy writes its pid file"
                )
                if "-F" not in original.split():
                    notes.add(
                        f"vrrp_script {name} finds haproxy by name: lab nodes share one pid namespace, so "
                        "another node's haproxy passes it (as neutron's metadata proxies would on a host)"
                    )
            else:
                path = node_dir / f"track-{name}.sh"
                scripts[str(path)] = "#!/bin/sh\nexit 0\n"
                notes.add(
                    f"vrrp_script {name} ({original}) replaced by a script that always succeeds: the lab "
                    "does not run it"
                )
                out.append(f'    script "{path}"')
            depth += opening
            continue
        if words and ((words[0].startswith("notify") and words[0] != "notify_fifo") or words[0] == "notify_fifo"):
            if notify is not None and words[0] != "notify_fifo" and notify[0] in raw:
                out.append(raw.replace(notify[0], notify[1]))
                notes.add(f"keepalived notify lines call the lab's copy of {notify[0]} (textfile folder: the node's)")
                continue
            notes.add("keepalived notify scripts dropped: they point at host files")
            depth += opening
            continue
        if words and words[0] == "script_user" and words[1:] != ["root"]:
            out.append("    script_user root")
            notes.add("keepalived script_user set to root (the lab has no script user)")
            depth += opening
            continue
        if words and words[0] in ("include", "includet"):
            raise ValueError("keepalived.conf includes other files; the drill needs self-contained configs")
        out.append(raw)
        depth += opening
        if depth == 0:
            block = []
    return "\n".join(out) + "\n", scripts, sorted(notes)
