"""Run the real daemons' config checkers on generated files.

- :func:`haproxy_check`: ``haproxy -dW -c -f`` (``-dW``: warnings are
  errors). ``haproxy -c`` opens TLS certificates, which live on the target
  node, not here: each ``ssl crt <path>`` is pointed at a throwaway
  self-signed certificate in the checked copy; nothing else is changed.
- :func:`keepalived_check`: ``keepalived -t -f`` inside a throwaway network
  namespace that has the node's interface names and addresses (keepalived
  exits 5 when an interface of the config does not exist). The namespace
  is deleted in every case, including failures and interrupts.
- :func:`validate_files`: both, for every node file of a generated tree.

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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from hamodel.model import Architecture

_CRT = re.compile(rb"(\bssl\b[^\n]*?\bcrt\s+)(\S+)")


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


def _self_signed(folder: Path) -> Path:
    key, crt, pem = folder / "key.pem", folder / "crt.pem", folder / "combined.pem"
    rc, out = _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=hamodel-validate", "-days", "2", "-keyout", str(key), "-out", str(crt)])
    if rc != 0:
        raise RuntimeError(f"openssl could not make a test certificate: {out}")
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return pem


def haproxy_check(cfg: bytes, path: str = "haproxy.cfg") -> CheckResult:
    """``haproxy -dW -c -f`` on ``cfg``; certificate paths point at a test cert."""
    with tempfile.TemporaryDirectory(prefix="hamodel-haproxy-") as tmp:
        folder = Path(tmp)
        if _CRT.search(cfg):
            pem = _self_signed(folder)
            cfg = _CRT.sub(lambda m: m.group(1) + str(pem).encode(), cfg)
        f = folder / "haproxy.cfg"
        f.write_bytes(cfg)
        cmd = ["haproxy", "-dW", "-c", "-f", str(f)]
        rc, out = _run(cmd)
        return CheckResult(path, " ".join(cmd), rc, out)


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
            for cmd in (["link", "add", dev, "type", "veth", "peer", "name", peer],
                        ["addr", "add", addr, "dev", dev] + (["nodad"] if ":" in addr else []),
                        ["link", "set", dev, "up"], ["link", "set", peer, "up"]):
                subprocess.run(["ip", "-n", name, *cmd], check=True, capture_output=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def keepalived_check(conf: bytes, interfaces: Interfaces, path: str = "keepalived.conf") -> CheckResult:
    """``keepalived -t -f`` on ``conf`` inside a namespace with ``interfaces``."""
    with tempfile.TemporaryDirectory(prefix="hamodel-keepalived-") as tmp:
        f = Path(tmp) / "keepalived.conf"
        f.write_bytes(conf)
        os.chmod(f, 0o600)
        with namespace(interfaces) as ns:
            cmd = ["ip", "netns", "exec", ns, "keepalived", "-t", "-f", str(f)]
            rc, out = _run(cmd)
        return CheckResult(path, "keepalived -t -f " + path + f" (in a namespace with {', '.join(d for d, _ in interfaces)})", rc, out)


def node_interfaces(arch: Architecture, node: str) -> list[tuple[str, str]]:
    """(device, address/prefix) of a model node, for :func:`keepalived_check`."""
    out = []
    for i in arch.node(node).interfaces:
        prefix = arch.network(i.network).subnet.prefixlen
        out.append((i.device, f"{ipaddress.ip_address(i.address)}/{prefix}"))
    return out


def validate_files(arch: Architecture, files: Mapping[str, bytes]) -> list[CheckResult]:
    """Run the matching validator on every node config of a generated tree."""
    results = []
    for rel in sorted(files):
        parts = rel.split("/")
        if len(parts) == 4 and parts[0] == "nodes":
            if parts[2:] == ["haproxy", "haproxy.cfg"]:
                results.append(haproxy_check(files[rel], rel))
            elif parts[2:] == ["keepalived", "keepalived.conf"]:
                results.append(keepalived_check(files[rel], node_interfaces(arch, parts[1]), rel))
    return results


def available() -> bool:
    """Whether both validators and namespaces can run here."""
    return os.geteuid() == 0 and all(shutil.which(x) for x in ("haproxy", "keepalived", "ip", "openssl"))
