"""haproxy.cfg -> fronts (``listen``, or ``frontend`` + ``default_backend``), each with its lines.

HAProxy's grammar is a section keyword at the start of a line and one
directive a line; words are split with :mod:`shlex` (HAProxy's quoting:
double and single quotes, backslash escapes, ``#`` comments).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache

from hamodel.adopt.source import AdoptError, Unmapped, safe_name, shown

SECTIONS = {
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "cache",
    "program",
    "http-errors",
    "ring",
    "mailers",
}
MAX_WORDS = 512

# Lines every hamodel haproxy.cfg carries whatever the model says, and their
# equivalents in hand-written files: read, nothing to carry over.
_GLOBAL_FIXED = {
    "log",
    "user",
    "group",
    "pidfile",
    "stats",
    "daemon",
    "chroot",
    "nbthread",
    "nbproc",
    "ca-base",
    "crt-base",
    "tune.ssl.default-dh-param",
    "ssl-default-server-options",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "master-worker",
}
_DEFAULTS_FIXED = {
    ("log",),
    ("option", "dontlognull"),
    ("option", "redispatch"),
    ("mode",),
    ("option", "httplog"),
    ("option", "tcplog"),
}
_LISTEN_FIXED = {
    ("option", "httplog"),
    ("option", "tcplog"),
    ("option", "forwardfor"),
    ("option", "httpchk"),
    ("http-request", "del-header"),
    ("http-request", "set-header"),
    ("stick-table",),
    ("stick", "on"),
    ("tcp-request",),
    ("log",),
    ("option", "dontlognull"),
}


@dataclass
class Server:
    name: str
    line: int
    host: str
    port: int | None
    check: bool = False
    inter_ms: int = 2000
    fastinter_ms: int | None = None
    downinter_ms: int | None = None
    rise: int = 2
    fall: int = 3
    check_port: int | None = None
    backup: bool = False
    cookie: str | None = None
    ssl: bool = False
    ca_file: str | None = None
    verify: str | None = None
    sni: str | None = None


@dataclass
class Bind:
    host: str
    port: int
    line: int
    crt: str | None = None


@dataclass
class Front:
    """One service front: a ``listen`` section, or a ``frontend`` with its ``default_backend``."""

    name: str
    line: int
    file: str
    binds: list[Bind] = field(default_factory=list)
    mode: str | None = None
    balance: str = "roundrobin"
    http_path: str | None = None
    expect_status: int | None = None
    timeouts: dict[str, float] = field(default_factory=dict)
    cookie: bool = False
    stick_dst: bool = False
    tcpka: bool = False
    maxconn: int | None = None
    servers: list[Server] = field(default_factory=list)
    redirect: bool = False
    stats: bool = False
    stats_auth: bool = False
    passthrough: bool = False
    lines: dict[str, int] = field(default_factory=dict)
    public: set[str] = field(default_factory=set)  # bind addresses whose status pages are denied (public VIPs)


@dataclass
class HaproxyConf:
    file: str
    globals: dict[str, object] = field(default_factory=dict)
    defaults: dict[str, object] = field(default_factory=dict)
    fronts: dict[str, Front] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)


def duration_s(text: str, default_unit: str = "ms") -> float:
    """An HAProxy time (``500ms``, ``5s``, ``1m``, ``2h``, ``1d``; a bare number is milliseconds) in seconds."""
    m = re.fullmatch(r"(\d+)(us|ms|s|m|h|d)?", text)
    if not m:
        raise ValueError(text)
    unit = m.group(2) or default_unit
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    v = int(m.group(1)) * scale
    return int(v) if v == int(v) else v


def _words(raw: str, label: str, no: int) -> list[str]:
    """One line's words: HAProxy's quoting when the line has quotes or escapes (shlex
    costs some 30 times a plain split, and most lines have none)."""
    if not any(c in raw for c in "\"'\\"):
        return raw.split("#", 1)[0].split()
    try:
        lex = shlex.shlex(raw, posix=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        return list(lex)
    except ValueError as exc:
        raise AdoptError(f"{label}:{no}: cannot split this line ({exc})") from None


def split_sections(text: str, label: str) -> list[tuple[str, str, int, list[tuple[list[str], int]]]]:
    """(kind, name, line, [(words, line)]) for every section of ``text``."""
    out: list[tuple[str, str, int, list[tuple[list[str], int]]]] = []
    for no, raw in enumerate(text.split("\n"), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        words = _words(raw, label, no)
        if not words:
            continue
        if len(words) > MAX_WORDS:
            raise AdoptError(f"{label}:{no}: more than {MAX_WORDS} words on one line")
        if words[0] in SECTIONS:
            out.append((words[0], words[1] if len(words) > 1 else "", no, []))
        elif not out:
            raise AdoptError(f"{label}:{no}: {shown(words[0])} outside any section")
        else:
            out[-1][3].append((words, no))
    return out


def _hostport(text: str, label: str, line: int) -> tuple[str, int | None]:
    try:
        return _hostport_cached(text)
    except ValueError:
        pass
    return _hostport_checked(text, label, line)


@lru_cache(maxsize=65536)
def _hostport_cached(text: str) -> tuple[str, int | None]:
    """The same parse for the common case (addresses repeat across sections); ValueError otherwise."""
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise ValueError(text)
    return str(ipaddress.ip_address(host)), int(port)


def _hostport_checked(text: str, label: str, line: int) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    host = host or "*"
    if host not in ("*", "") and not host.startswith("/"):
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            if not safe_name(host):
                raise AdoptError(f"{label}:{line}: {shown(text)!r} is not an address") from None
    if port and not port.isdigit():
        raise AdoptError(f"{label}:{line}: port of {shown(text)!r} is not a number")
    return host, int(port) if port else None


def parse_haproxy(text: str, label: str) -> HaproxyConf:
    """Facts of one haproxy.cfg."""
    conf = HaproxyConf(file=label)
    backends: dict[str, tuple[int, list[tuple[list[str], int]]]] = {}
    frontends: list[tuple[str, int, list[tuple[list[str], int]]]] = []
    for kind, name, line, body in split_sections(text, label):
        if kind == "global":
            _global(conf, body, label)
        elif kind == "defaults":
            _defaults(conf, body, label)
        elif kind == "listen":
            _front(conf, name, line, body, label)
        elif kind == "frontend":
            frontends.append((name, line, body))
        elif kind == "backend":
            backends[name] = (line, body)
        else:
            conf.unmapped.append(
                Unmapped(
                    label,
                    line,
                    f"{kind} {shown(name)}",
                    "unsupported",
                    "hamodel models listen/frontend/backend sections",
                )
            )
    used = set()
    shared: dict[str, list[tuple[str, int, list]]] = {}  # backend -> the frontends that default to it
    for name, line, body in frontends:
        default = [w for w, _ in body if w[0] == "default_backend"]
        routed = [(w, n) for w, n in body if w[0] == "use_backend"]
        for _w, n in routed:
            conf.unmapped.append(
                Unmapped(
                    label,
                    n,
                    "use_backend",
                    "ambiguous",
                    "content switching between backends is not modelled; the default backend is",
                )
            )
        front_lines = [(w, n) for w, n in body if w[0] not in ("default_backend", "use_backend")]
        if default and len(default[0]) > 1 and default[0][1] in backends:
            shared.setdefault(default[0][1], []).append((name, line, front_lines))
        else:
            _front(conf, name, line, front_lines, label)
    for bname, fronts in shared.items():
        # One service however many frontends (one per VIP, as OpenStack-Ansible writes
        # them) send to its backend: named after the backend without a -back suffix.
        used.add(bname)
        bline, bbody = backends[bname]
        base = re.sub(r"[-_]back(end)?$", "", bname)
        name = fronts[0][0] if len(fronts) == 1 and base == bname else base
        line = min(f[1] for f in fronts)
        binds = [(w, n) for f in fronts for w, n in f[2] if w[0] == "bind"]
        rest = [(w, n) for w, n in fronts[0][2] if w[0] != "bind"]
        for other in fronts[1:]:
            theirs = {tuple(w) for w, _ in other[2] if w[0] != "bind"}
            for w, _n in rest:
                if tuple(w) not in theirs and w[0] not in ("http-request",):
                    conf.unmapped.append(
                        Unmapped(
                            label,
                            other[1],
                            f"frontend {shown(other[0])}: {shown(' '.join(w[:2]))}",
                            "ambiguous",
                            f"not in every frontend of backend {shown(bname)}; {shown(fronts[0][0])}'s is used",
                        )
                    )
        _front(conf, name, line, binds + rest + bbody, label)
    for bname, (bline, _) in backends.items():
        if bname not in used:
            conf.unmapped.append(
                Unmapped(
                    label, bline, f"backend {shown(bname)}", "ambiguous", "no frontend names it as default_backend"
                )
            )
    return conf


def _global(conf: HaproxyConf, body, label: str) -> None:
    for w, n in body:
        k = w[0]
        conf.lines.setdefault(f"global.{k}", n)
        if k == "maxconn" and len(w) > 1 and w[1].isdigit():
            conf.globals["maxconn"] = int(w[1])
        elif k == "ssl-default-bind-options" and "ssl-min-ver" in w[:-1]:
            conf.globals["tls_min_version"] = w[w.index("ssl-min-ver") + 1]
        elif k == "ssl-default-bind-ciphers" and len(w) > 1:
            conf.globals["tls_ciphers"] = w[1]
        elif k == "ssl-default-bind-ciphersuites" and len(w) > 1:
            conf.globals["tls_ciphersuites"] = w[1]
        elif k not in _GLOBAL_FIXED:
            conf.unmapped.append(Unmapped(label, n, f"global {shown(k)}", "unsupported", "not part of the model"))


def _timeout(w: list[str], label: str, n: int) -> tuple[str, float]:
    try:
        return w[1], duration_s(w[2])
    except (IndexError, ValueError):
        raise AdoptError(f"{label}:{n}: timeout needs a name and a time") from None


def _defaults(conf: HaproxyConf, body, label: str) -> None:
    for w, n in body:
        k = w[0]
        conf.lines.setdefault(f"defaults.{k}" + (f" {w[1]}" if k == "timeout" and len(w) > 1 else ""), n)
        if k == "timeout":
            t, v = _timeout(w, label, n)
            conf.defaults[f"timeout {t}"] = v
        elif k in ("retries", "maxconn") and len(w) > 1 and w[1].isdigit():
            conf.defaults[k] = int(w[1])
        elif (k,) in _DEFAULTS_FIXED or tuple(w[:2]) in _DEFAULTS_FIXED:
            continue
        else:
            conf.unmapped.append(
                Unmapped(label, n, f"defaults {shown(' '.join(w[:2]))}", "unsupported", "not part of the model")
            )


def _front(conf: HaproxyConf, name: str, line: int, body, label: str) -> None:
    if name == "hamodel-metrics":
        return  # HAProxy's own exporter front, which build writes on every HAProxy node (monitoring)
    if not safe_name(name):
        conf.unmapped.append(Unmapped(label, line, f"section {shown(name)}", "unsafe", "not a plain name"))
        return
    f = Front(name, line, label)
    for w, n in body:
        k = w[0]
        f.lines.setdefault(k if k != "timeout" or len(w) < 2 else f"timeout {w[1]}", n)
        if k == "bind":
            host, port = _hostport(w[1] if len(w) > 1 else "", label, n)
            if port is None:
                raise AdoptError(f"{label}:{n}: bind without a port")
            crt = w[w.index("crt") + 1] if "ssl" in w and "crt" in w[:-1] else None
            f.binds.append(Bind(host, port, n, crt))
        elif k == "mode":
            f.mode = w[1] if len(w) > 1 else None
        elif k == "balance":
            f.balance = w[1] if len(w) > 1 else "roundrobin"
        elif k == "server":
            f.servers.append(_server(w, n, label))
        elif k == "option" and len(w) > 1 and w[1] == "httpchk":
            # option httpchk [METHOD] URI (the older one-line form)
            if len(w) > 2:
                f.http_path = w[-1] if w[-1].startswith("/") else f.http_path
            f.http_path = f.http_path or "/"
        elif k == "http-check" and len(w) > 1 and w[1] == "send" and "uri" in w[:-1]:
            f.http_path = w[w.index("uri") + 1]
        elif k == "http-check" and len(w) > 3 and w[1] == "expect" and w[2] == "status":
            f.expect_status = int(w[3]) if w[3].isdigit() else None
        elif k == "option" and len(w) > 1 and w[1] == "tcpka":
            f.tcpka = True
        elif k == "option" and len(w) > 1 and w[1] == "mysql-check":
            f.http_path = None
        elif k == "timeout":
            t, v = _timeout(w, label, n)
            f.timeouts[t] = v
        elif k == "cookie":
            f.cookie = True
        elif k == "stick" and w[1:3] == ["on", "dst"]:
            f.stick_dst = True
        elif k == "maxconn" and len(w) > 1 and w[1].isdigit():
            f.maxconn = int(w[1])
        elif (k == "http-request" and len(w) > 1 and w[1] == "redirect" and "https" in w) or (
            k == "redirect" and "https" in w
        ):
            f.redirect = True
        elif k == "stats":
            f.stats = True
            f.stats_auth = f.stats_auth or (len(w) > 1 and w[1] == "auth")
        elif k == "monitor-uri":
            f.stats = True
        elif k == "tcp-request" and "req.ssl_hello_type" in w:
            f.passthrough = True
        elif k == "http-request" and w[1:2] == ["deny"] and "/server-status" in w:
            # hamodel's public-VIP deny: on the binds named by its dst condition, or on every bind.
            dst = w[w.index("dst") + 1 :] if "dst" in w else [b.host for b in f.binds]
            f.public |= {a for a in dst if a != "}"}
        elif k == "http-response" and w[1:3] == ["set-header", "Strict-Transport-Security"]:
            continue  # HSTS on the TLS binds: hamodel writes it there itself
        elif (k,) in _LISTEN_FIXED or tuple(w[:2]) in _LISTEN_FIXED:
            continue
        else:
            conf.unmapped.append(
                Unmapped(label, n, f"{name}: {shown(' '.join(w[:2]))}", "unsupported", "not part of the model")
            )
    conf.fronts[name] = f


def _server(w: list[str], n: int, label: str) -> Server:
    if len(w) < 3:
        raise AdoptError(f"{label}:{n}: server needs a name and an address")
    host, port = _hostport(w[2], label, n)
    s = Server(w[1], n, host, port)
    it = iter(range(3, len(w)))
    for i in it:
        k = w[i]
        nxt = w[i + 1] if i + 1 < len(w) else ""
        if k == "check":
            s.check = True
        elif k in ("inter", "fastinter", "downinter") and nxt:
            setattr(s, f"{k}_ms", int(duration_s(nxt) * 1000))
            next(it, None)
        elif k in ("rise", "fall") and nxt.isdigit():
            setattr(s, k, int(nxt))
            next(it, None)
        elif k == "port" and nxt.isdigit():
            s.check_port = int(nxt)
            next(it, None)
        elif k == "backup":
            s.backup = True
        elif k == "cookie" and nxt:
            s.cookie = nxt
            next(it, None)
        elif k == "ssl":
            s.ssl = True
        elif k == "verify" and nxt:
            s.verify = nxt
            next(it, None)
        elif k == "ca-file" and nxt:
            s.ca_file = nxt
            next(it, None)
        elif (
            k
            in (
                "sni",
                "check-sni",
                "verifyhost",
                "on-marked-down",
                "on-marked-up",
                "weight",
                "maxconn",
                "id",
                "slowstart",
            )
            and nxt
        ):
            if k == "check-sni":
                s.sni = nxt
            next(it, None)
    return s
