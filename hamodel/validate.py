"""Run the real daemons' config checkers on generated files.

- :func:`haproxy_check`: ``haproxy -dW -c -f`` (``-dW``: warnings are
  errors). ``haproxy -c`` opens TLS certificates and CA files, which live
  on the target node, not here: each ``ssl crt <path>`` and ``ca-file
  <path>`` is pointed at a throwaway self-signed certificate in the checked
  copy; nothing else is changed.
- :func:`keepalived_check`: ``keepalived -t -f`` inside a throwaway network
  namespace that has the node's interface names and addresses (keepalived
  exits 5 when an interface of the config does not exist). The namespace
  is deleted in every case, including failures and interrupts.
- :func:`cib_check`: ``crm_verify --xml-file`` on the Pacemaker CIB (a
  warning fails); :func:`corosync_check`: ``corosync -t`` inside a
  namespace holding the node's addresses; :func:`pcs_replay_check`: the
  pcs script replayed onto an empty CIB gives the same configuration.
- :func:`promtool_checks`: ``promtool check config``, ``check rules`` and
  ``test rules`` on the monitoring files (when promtool is installed);
- :func:`validate_files`: each of them, for every file of a generated tree.

Needs root (namespaces) and the ``haproxy``/``keepalived`` binaries.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hamodel.generators.keepalived import MAX_LINE as KEEPALIVED_LINE_LIMIT
from hamodel.model import Architecture

_CRT = re.compile(rb"(\bssl\b[^\n]*?\bcrt\s+)(\S+)")
_CA = re.compile(rb"(\bssl\b[^\n]*?\bca-file\s+)(\S+)")


@dataclass(frozen=True)
class CheckResult:
    """One validator run: which file, which command, exit code and output."""

    path: str
    command: str
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _run(cmd: Sequence[str], timeout: float = 30) -> tuple[int, str]:
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


_SECRET_LINE = re.compile(rb"^\s*(?:auth_pass|stats\s+auth)\s+(\S+)", re.M)


def _scrub(output: str, conf: bytes) -> str:
    """The validator's output without the config's secrets (it is printed)."""
    for m in _SECRET_LINE.finditer(conf):
        secret = m.group(1).decode("utf-8", "replace")
        output = output.replace(secret, "<secret>")
        if b":" in m.group(1):  # user:password: the password alone too
            output = output.replace(secret.split(":", 1)[1], "<secret>")
    return output


def _write_private(f: Path, data: bytes) -> None:
    """Create ``f`` mode 0600 before a byte is written (configs hold secrets)."""
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _self_signed(folder: Path) -> Path:
    key, crt, pem = folder / "key.pem", folder / "crt.pem", folder / "combined.pem"
    rc, out = _run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=hamodel-validate",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ]
    )
    if rc != 0:
        raise RuntimeError(f"openssl could not make a test certificate: {out}")
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return pem


# Line limits of the daemons' config readers, in bytes without the newline.
# keepalived: see MAX_LINE there (a longer line's tail is parsed as a line
# of its own, and `keepalived -t` may accept that silently). HAProxy starts
# with LINESIZE (2048) and grows its buffer since 1.6; older versions
# truncate there, and no generated line comes near it, so a longer one is
# refused as a generator fault.
KEEPALIVED_MAX_LINE = KEEPALIVED_LINE_LIMIT
HAPROXY_MAX_LINE = 2047


def line_limit_check(conf: bytes, limit: int, daemon: str, path: str) -> CheckResult | None:
    """A failed :class:`CheckResult` naming every over-long line (or a NUL
    byte, which both readers take as the end of a line); None when all fit."""
    problems = []
    for no, line in enumerate(conf.split(b"\n"), 1):
        if len(line) > limit:
            problems.append(
                f"{path}:{no}: line of {len(line)} bytes; {daemon} reads at most {limit} "
                "and would parse the rest as another line"
            )
        if b"\0" in line:
            problems.append(f"{path}:{no}: NUL byte; {daemon} would ignore the rest of the line")
    if not problems:
        return None
    return CheckResult(path, f"line length check ({daemon}: at most {limit} bytes a line)", 1, "\n".join(problems))


def haproxy_check(cfg: bytes, path: str = "haproxy.cfg") -> CheckResult:
    """``haproxy -dW -c -f`` on ``cfg``; certificate paths point at a test cert.

    Lines longer than HAProxy's line buffer fail before haproxy runs.
    """
    too_long = line_limit_check(cfg, HAPROXY_MAX_LINE, "haproxy", path)
    if too_long is not None:
        return too_long
    with tempfile.TemporaryDirectory(prefix="hamodel-haproxy-") as tmp:
        folder = Path(tmp)
        if _CRT.search(cfg) or _CA.search(cfg):
            pem = _self_signed(folder)
            cfg = _CRT.sub(lambda m: m.group(1) + str(pem).encode(), cfg)
            cfg = _CA.sub(lambda m: m.group(1) + str(folder / "crt.pem").encode(), cfg)
        f = folder / "haproxy.cfg"
        _write_private(f, cfg)  # may hold a stats password
        cmd = ["haproxy", "-dW", "-c", "-f", str(f)]
        rc, out = _run(cmd)
        return CheckResult(path, " ".join(cmd), rc, _scrub(out, cfg))


Interfaces = Sequence[tuple[str, str]]  # (device, "address/prefix")


@contextmanager
def namespace(interfaces: Interfaces, prefix: str = "hmv") -> Iterator[str]:
    """A throwaway network namespace with veth ends named like ``interfaces``.

    Yields the namespace name; deletes it (and its links) on exit.
    """
    name = f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        devices = {d for d, _ in interfaces}
        for i, (dev, addr) in enumerate(interfaces):
            peer = f"hmvp{i}"
            while peer in devices:
                peer += "x"
            for cmd in (
                ["link", "add", dev, "type", "veth", "peer", "name", peer],
                ["addr", "add", addr, "dev", dev] + (["nodad"] if ":" in addr else []),
                ["link", "set", dev, "up"],
                ["link", "set", peer, "up"],
            ):
                subprocess.run(["ip", "-n", name, *cmd], check=True, capture_output=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def keepalived_check(conf: bytes, interfaces: Interfaces, path: str = "keepalived.conf") -> CheckResult:
    """``keepalived -t -f`` on ``conf`` inside a namespace with ``interfaces``.

    Lines longer than keepalived's line buffer fail first: keepalived would
    read their tail as configuration, and ``-t`` does not always say so.
    """
    too_long = line_limit_check(conf, KEEPALIVED_MAX_LINE, "keepalived", path)
    if too_long is not None:
        return too_long
    with tempfile.TemporaryDirectory(prefix="hamodel-keepalived-") as tmp:
        f = Path(tmp) / "keepalived.conf"
        _write_private(f, conf)  # may hold auth_pass
        with namespace(interfaces) as ns:
            cmd = ["ip", "netns", "exec", ns, "keepalived", "-t", "-f", str(f)]
            rc, out = _run(cmd)
            out = _scrub(out, conf)
        return CheckResult(
            path, "keepalived -t -f " + path + f" (in a namespace with {', '.join(d for d, _ in interfaces)})", rc, out
        )


def node_interfaces(arch: Architecture, node: str) -> list[tuple[str, str]]:
    """(device, address/prefix) of a model node, for :func:`keepalived_check`."""
    out = []
    for i in arch.node(node).interfaces:
        prefix = arch.network(i.network).subnet.prefixlen
        out.append((i.device, f"{ipaddress.ip_address(i.address)}/{prefix}"))
    return out


# -- Pacemaker: crm_verify, corosync -t, and the pcs script replayed --------------------

_COROSYNC_FILE = re.compile(rb"^(\s*(?:keyfile|logfile):\s*)(\S+)", re.M)
_DIAGNOSTIC = re.compile(r"\b(warning|error)\b", re.I)


def _scrub_cib(output: str, cib: bytes) -> str:
    """Tool output without the fence devices' parameter values (passwords among them):
    crm_verify echoes the document when it cannot parse it."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(cib)
    except ET.ParseError:
        return "\n".join(line for line in output.splitlines() if "Partial" not in line and "value=" not in line)
    values = {
        nv.get("value") or ""
        for prim in root.iter("primitive")
        if prim.get("class") == "stonith"
        for nv in prim.iter("nvpair")
    } - {""}
    for value in sorted(values, key=len, reverse=True):  # longest first: no value is left half replaced
        if len(value) >= 3:
            output = output.replace(value, "<fence parameter>")
        else:
            # a short value (a 2-character password) replaced wherever it stands
            # alone, not inside longer words ("on" in "configuration")
            output = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", "<fence parameter>", output)
    return output


def cib_check(cib: bytes, path: str = "pacemaker/cib.xml") -> CheckResult:
    """``crm_verify --xml-file CIB -V``; a warning fails as an error does."""
    with tempfile.TemporaryDirectory(prefix="hamodel-cib-") as tmp:
        f = Path(tmp) / "cib.xml"
        _write_private(f, cib)  # fence passwords
        rc, out = _run(["crm_verify", "--xml-file", str(f), "-V"], timeout=120)
    if rc == 0 and _DIAGNOSTIC.search(out):
        rc = 1  # crm_verify exits 0 on some warnings: hamodel accepts none
    return CheckResult(path, f"crm_verify --xml-file {path} -V", rc, _scrub_cib(out, cib))


def corosync_check(conf: bytes, interfaces: Interfaces, path: str = "corosync.conf") -> CheckResult:
    """``corosync -t -c`` inside a namespace with ``interfaces`` (corosync
    refuses a node list with no local address). The checked copy's keyfile
    is a throwaway random key and its logfile a temporary file: the real
    authkey lives on the node, and the host's log stays untouched."""
    with tempfile.TemporaryDirectory(prefix="hamodel-corosync-") as tmp:
        folder = Path(tmp)
        key = folder / "authkey"
        _write_private(key, os.urandom(256))
        targets = {b"keyfile": str(key).encode(), b"logfile": str(folder / "corosync.log").encode()}
        checked = _COROSYNC_FILE.sub(lambda m: m.group(1) + targets[m.group(1).strip().rstrip(b":")], conf)
        f = folder / "corosync.conf"
        _write_private(f, checked)
        with namespace(interfaces, prefix="hmc") as ns:
            rc, out = _run(["ip", "netns", "exec", ns, "corosync", "-t", "-c", str(f)], timeout=60)
    if rc == 0 and _DIAGNOSTIC.search(out):
        rc = 1
    return CheckResult(
        path, f"corosync -t -c {path} (in a namespace with {', '.join(a for _, a in interfaces)})", rc, out
    )


def _cib_sections(cib: bytes) -> dict[str, object]:
    """The configuration sections a pcs script writes (not ``nodes``: they join from corosync),
    each as a canonical tree: tag, attributes, children in sorted order, no comments."""
    import xml.etree.ElementTree as ET

    def canon(e: ET.Element) -> tuple:
        return (e.tag, tuple(sorted(e.attrib.items())), tuple(sorted(canon(c) for c in e if isinstance(c.tag, str))))

    conf = ET.fromstring(cib).find("configuration")
    if conf is None:
        return {}
    return {c.tag: canon(c) for c in conf if c.tag != "nodes" and (len(c) or c.attrib)}


def pcs_replay_check(cib: bytes, script: bytes, path: str = "pacemaker/pcs-setup.sh") -> CheckResult:
    """Replay the pcs script with ``pcs -f`` onto an empty CIB (``cibadmin --empty``)
    and require the same configuration as ``cib``: properties, defaults,
    resources with their parameters and operations, constraints, ids included."""
    import difflib
    import pprint

    command = f"sh {path} EMPTY_CIB (pcs -f) and compare with cib.xml"
    with tempfile.TemporaryDirectory(prefix="hamodel-pcs-") as tmp:
        folder = Path(tmp)
        rc, empty = _run(["cibadmin", "--empty"])
        if rc != 0:
            return CheckResult(path, command, rc, "cibadmin --empty: " + empty)
        target = folder / "cib.xml"
        _write_private(target, empty.encode())
        f = folder / "pcs-setup.sh"
        _write_private(f, script)
        rc, out = _run(["sh", str(f), str(target)], timeout=900)
        out = _scrub_cib(out, cib)
        if rc != 0:
            return CheckResult(path, command, rc, out)
        want, got = _cib_sections(cib), _cib_sections(target.read_bytes())
    if want == got:
        return CheckResult(path, command, 0, "")
    diff = []
    for key in sorted(set(want) | set(got)):
        if want.get(key) != got.get(key):
            a = pprint.pformat(want.get(key), width=140).splitlines()
            b = pprint.pformat(got.get(key), width=140).splitlines()
            diff += list(difflib.unified_diff(a, b, f"cib.xml {key}", f"pcs replay {key}", lineterm=""))
    return CheckResult(path, command, 1, _scrub_cib("\n".join(diff), cib))


def promtool_checks(files: Mapping[str, bytes]) -> list[CheckResult]:
    """``promtool check config``, ``check rules`` and ``test rules`` on the
    build's ``monitoring/`` tree, as written; ``[]`` without one or without promtool."""
    mon = {rel: data for rel, data in files.items() if rel.startswith("monitoring/")}
    if not mon or shutil.which("promtool") is None:
        return []
    results = []
    with tempfile.TemporaryDirectory(prefix="hamodel-promtool-") as tmp:
        root = Path(tmp)
        for rel, data in mon.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        base = root / "monitoring"
        rules = sorted(r for r in mon if r.startswith("monitoring/rules/"))
        tests = sorted(r for r in mon if r.startswith("monitoring/tests/"))
        for argv, rel in (
            (["check", "config", "prometheus.yml"], "monitoring/prometheus.yml"),
            (["check", "rules", *[r.removeprefix("monitoring/") for r in rules]], "monitoring/rules"),
            (["test", "rules", *[r.removeprefix("monitoring/") for r in tests]], "monitoring/tests"),
        ):
            if len(argv) == 2:
                continue
            p = subprocess.run(
                ["promtool", *argv], cwd=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120
            )
            results.append(
                CheckResult(rel, "promtool " + " ".join(argv), p.returncode, p.stdout.decode("utf-8", "replace"))
            )
    return results


def validate_files(arch: Architecture, files: Mapping[str, bytes], *, replay: bool = True) -> list[CheckResult]:
    """Run the matching validator on every node config of a generated tree
    (``replay=False``: not the pcs script replay, the slow one)."""
    results = []
    for rel in sorted(files):
        parts = rel.split("/")
        if len(parts) == 4 and parts[0] == "nodes":
            if parts[2:] == ["haproxy", "haproxy.cfg"]:
                results.append(haproxy_check(files[rel], rel))
            elif parts[2:] == ["keepalived", "keepalived.conf"]:
                results.append(keepalived_check(files[rel], node_interfaces(arch, parts[1]), rel))
            elif parts[2:] == ["corosync", "corosync.conf"]:
                results.append(corosync_check(files[rel], node_interfaces(arch, parts[1]), rel))
        elif rel == "pacemaker/cib.xml":
            results.append(cib_check(files[rel], rel))
            if replay and "pacemaker/pcs-setup.sh" in files:
                results.append(pcs_replay_check(files[rel], files["pacemaker/pcs-setup.sh"]))
    return results + promtool_checks(files)


def available() -> bool:
    """Whether both validators and namespaces can run here."""
    return os.geteuid() == 0 and all(shutil.which(x) for x in ("haproxy", "keepalived", "ip", "openssl"))
