"""manifest.json and ansible/inventory.yml: what was generated, for deploy tools.

The manifest lists every node file with its sha256, install path, mode and
the services and VIPs it serves, plus the model's name and content hash.
It never holds a secret: a secret-bearing file is hashed with its secrets
replaced by a placeholder (``sha256_redacted``), never with a plain sha256
of the real file: keepalived keeps 8 characters of a VRRP password, so a
plain digest could be brute-forced offline from the manifest alone.

A deploy tool that pushes a file when its hash changes must still see a
rotated secret, so a secret-bearing file also gets ``hmac_sha256``: an
HMAC-SHA256 of its real content keyed with a per-deployment key of at
least :data:`MIN_KEY_LEN` characters, read from the environment variable
``HAMODEL_MANIFEST_KEY`` or the file ``HAMODEL_MANIFEST_KEY_FILE`` names
(kept with the deployment's other secrets, never in the output). Without
the key nobody can test a password guess against the digest, however short
the password; the same key gives the same digest, so builds stay
deterministic. Without a key the entry says ``"hmac_sha256": null`` and a
rotation leaves the manifest unchanged (``secret_digest`` at the top tells
a deploy tool which case it has).

Ansible templates every string variable of an inventory with Jinja2 when a
playbook uses it, so model text (an architecture named ``{{ lookup('pipe',
'id') }}``) would run on the deploy controller. Every string the inventory
holds is therefore tagged ``!unsafe`` (Ansible's documented way to mark a
value that must never be templated), except the few variables hamodel
templates on purpose (``hamodel_root``, ``hamodel_manifest`` and each
file's ``src``), which are built from constants and checked path segments.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
import re
from typing import Any

import yaml

from hamodel import __version__
from hamodel.deployment import Deployment
from hamodel.generators.configs import ConfigError, NodeFile, Secrets

FORMAT = 1
KEY_ENV = "HAMODEL_MANIFEST_KEY"
KEY_FILE_ENV = "HAMODEL_MANIFEST_KEY_FILE"
# 32 characters of hex or base64 carry at least 128 bits: beyond guessing.
MIN_KEY_LEN = 32


def manifest_key(env: Mapping[str, str]) -> bytes | None:
    """The per-deployment HMAC key from ``env`` (see the module doc), or None."""
    where = "manifest key"
    if env.get(KEY_ENV) is not None and env.get(KEY_FILE_ENV) is not None:
        raise ConfigError([(where, f"set {KEY_ENV} or {KEY_FILE_ENV}, not both; nothing was written")])
    if env.get(KEY_FILE_ENV) is not None:
        key = Secrets(env)._read_file(env[KEY_FILE_ENV], f"{where} ({KEY_FILE_ENV})").strip()
    elif env.get(KEY_ENV) is not None:
        key = env[KEY_ENV].strip()
    else:
        return None
    if len(key) < MIN_KEY_LEN:
        raise ConfigError([(where, f"the manifest key must be at least {MIN_KEY_LEN} characters (e.g. "
                            "`openssl rand -hex 32`); nothing was written")])
    return key.encode()


def secret_digest(key: bytes, path: str, data: bytes) -> str:
    """HMAC-SHA256 of one secret-bearing file, bound to its path."""
    return hmac.new(key, path.encode() + b"\0" + data, hashlib.sha256).hexdigest()


def model_sha256(dep: Deployment) -> str:
    """sha256 of the canonical model JSON (``Architecture.to_json``)."""
    return hashlib.sha256(dep.architecture.to_json().encode()).hexdigest()


def _mode(f: NodeFile) -> str:
    return "0600" if f.secret else "0644"


class _Unsafe(str):
    """A string Ansible must never template (written as ``!unsafe``)."""

    __slots__ = ()


class _Template(str):
    """A string hamodel templates on purpose (written as a plain string)."""

    __slots__ = ()


class _InventoryDumper(yaml.SafeDumper):
    pass


def _represent_unsafe(dumper: yaml.SafeDumper, value: _Unsafe) -> yaml.Node:
    # Ansible re-resolves an !unsafe scalar as if it were plain, ignoring
    # its quotes: '0644' would load as the integer 420 and 'yes' as true. A
    # string that resolves to another type cannot hold a template delimiter
    # (no YAML 1.1 int, float, bool, null or timestamp contains a brace), so
    # it is written as a quoted string instead, which Ansible loads as is.
    text = str(value)
    if dumper.resolve(yaml.ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str":
        if any(c in text for c in "{}%#"):
            raise ValueError(f"refusing to write {text!r} into the Ansible inventory")
        return dumper.represent_str(text)
    return dumper.represent_scalar("!unsafe", text)


_InventoryDumper.add_representer(_Unsafe, _represent_unsafe)
_InventoryDumper.add_representer(_Template, lambda d, v: d.represent_str(str(v)))

# Host names, group names and file paths inside a templated ``src``: names
# only (the model's Name grammar), so nothing in them can template.
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


def _checked(pattern: re.Pattern, value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"refusing to write {value!r} into the Ansible inventory as a {what}")
    return value


def _inert(value: Any) -> Any:
    """Every string of ``value`` as ``!unsafe`` (mapping keys are checked
    names: Ansible does not template keys, and a tag on a key is not portable)."""
    if isinstance(value, _Template):
        return value
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, dict):
        return {_checked(_KEY, k, "name"): _inert(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_inert(v) for v in value]
    return value


def render_manifest(dep: Deployment, files: list[NodeFile], key: bytes | None = None) -> dict[str, bytes]:
    """manifest.json and ansible/inventory.yml; ``key`` (:func:`manifest_key`)
    turns on ``hmac_sha256`` for secret-bearing files."""
    arch = dep.architecture
    by_node: dict[str, list[NodeFile]] = {}
    for f in files:
        by_node.setdefault(f.node, []).append(f)
    entries = {}
    for f in files:
        entry = {"node": f.node, "kind": f.kind, "dest": f.dest, "mode": _mode(f), "secret": f.secret,
                 "services": list(f.services), "vips": list(f.vips)}
        if f.secret:
            entry["sha256_redacted"] = hashlib.sha256(f.redacted).hexdigest()
            entry["hmac_sha256"] = None if key is None else secret_digest(key, f.path, f.data)
        else:
            entry["sha256"] = hashlib.sha256(f.data).hexdigest()
        entries[f.path] = entry
    manifest = {
        "format": FORMAT,
        "generator": f"hamodel {__version__}",
        "model": {"name": arch.name, "sha256": model_sha256(dep)},
        "nodes": {
            n.name: {
                "addresses": {i.network: str(i.address) for i in n.interfaces},
                "files": sorted(f.path for f in by_node.get(n.name, [])),
                "services": list(dep.placement.services_on(n.name)),
            }
            for n in sorted(arch.nodes, key=lambda n: n.name)
        },
        "vips": {v.name: {"address": str(v.address), "network": v.network, "holders": list(dep.vip_holders(v.name))}
                 for v in sorted(arch.vips, key=lambda v: v.name)},
        "files": dict(sorted(entries.items())),
    }
    if any(f.secret for f in files):
        manifest["secret_digest"] = "none" if key is None else "hmac-sha256"
    hosts = {}
    for n in sorted(by_node):
        node = arch.node(n)
        hosts[n] = {
            "ansible_host": str(node.interfaces[0].address) if node.interfaces else n,
            "hamodel_files": [
                {"path": f.path, "src": _Template("{{ hamodel_root }}/" + _checked(_PATH, f.path, "path")), "dest": f.dest, "mode": _mode(f), "kind": f.kind}
                for f in sorted(by_node[n], key=lambda f: f.path)
            ],
        }
    kinds = sorted({f.kind for f in files})
    inventory = {"all": {
        "vars": {"hamodel_model": arch.name, "hamodel_model_sha256": model_sha256(dep),
                 "hamodel_root": _Template("{{ inventory_dir }}/.."),
                 "hamodel_manifest": _Template("{{ hamodel_root }}/manifest.json")},
        "hosts": hosts,
        "children": {k: {"hosts": {n: None for n in sorted({f.node for f in files if f.kind == k})}} for k in kinds},
    }}
    header = "# Ansible inventory generated by hamodel; copy each host's hamodel_files (src -> dest, mode).\n"
    return {
        "manifest.json": (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode(),
        "ansible/inventory.yml": (header + yaml.dump(_inert(inventory), Dumper=_InventoryDumper, sort_keys=True,
                                                     default_flow_style=False, allow_unicode=False,
                                                     width=1000)).encode(),
    }
