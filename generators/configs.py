"""Per-node daemon configs: keepalived, HAProxy, sysctl, plus a manifest.

:func:`build_configs` is the one entry point: it plans every node's
keepalived instances and HAProxy proxies from the :class:`Deployment`,
checks that the nodes agree with each other (same VRID, auth and VIPs in a
group, symmetric unicast peers, one Galera writer, ...), and only then
renders bytes. Nothing is written here: the caller hands the returned
:class:`FileSet` to :func:`hamodel.output.write_tree` (atomic) or
:func:`hamodel.output.diff_tree` (drift gate).

Output layout (paths relative to OUT)::

    nodes/<node>/keepalived/keepalived.conf
    nodes/<node>/haproxy/haproxy.cfg
    nodes/<node>/sysctl.d/60-hamodel-nonlocal-bind.conf
    manifest.json
    ansible/inventory.yml

Every generator has the same entry point, ``generate(dep, secrets,
redacted) -> list[NodeFile]`` (:data:`GENERATORS`, in install order), and
reads the facts it shares with another generator from the
:class:`~hamodel.deployment.Deployment`, never from that generator. The
shared pieces (errors, token checks, secrets, the file record) are the leaf
:mod:`hamodel.generators.common`; their names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hamodel.generators.common import (
    COMMENT_WIDTH,
    SECRET_CHARS,
    ConfigError,
    InconsistentConfig,
    NodeFile,
    Secrets,
    address,
    comment,
    comment_block,
    environment,
    integer,
    token,
)

from hamodel.deployment import Deployment
from hamodel.output import FileSet


def generators() -> list[Any]:
    """The config generators in install order: modules with ``generate(dep, secrets, redacted)``."""
    from hamodel.generators import haproxy, keepalived, monitoring, pacemaker, sysctl

    return [sysctl, haproxy, keepalived, pacemaker, monitoring]


def build_configs(
    dep: Deployment, env: Mapping[str, str] | None = None, *, redact: bool = False, ansible_host: bool = False
) -> FileSet:
    """Deployment -> every config file, the manifest, the Ansible inventory and playbook.

    ``ansible_host=True`` writes each node's model address as its
    ``ansible_host`` in the inventory (see :func:`render_manifest`).

    Raises :class:`ConfigError` (naming object and field) when a value is not
    safe for a config grammar, a secret reference cannot be resolved, or the
    nodes would disagree; nothing is returned then, so nothing is written.
    """
    from hamodel.generators.manifest import manifest_key, render_manifest

    # redact=True: placeholders for every secret (hamodel diff prints files)
    secrets = Secrets(env, redact=redact)
    redacted = Secrets(env, redact=True)

    files: list[NodeFile] = []
    problems: list[tuple[str, str]] = []
    for gen in generators():
        try:
            files += gen.generate(dep, secrets, redacted)
        except InconsistentConfig as exc:
            # the nodes would disagree: collect every generator's findings, then refuse
            problems += exc.problems
    if problems:
        raise InconsistentConfig(problems)
    out = FileSet()
    for f in sorted(files, key=lambda f: f.path):
        out[f.path] = f.data
        if f.secret:
            out.secret.add(f.path)
    from hamodel.generators.monitoring import render as render_monitoring

    central = render_monitoring(dep)  # monitoring/: for the Prometheus server, not for a node
    out.update(central)
    out.update(render_manifest(dep, files, manifest_key(secrets.env), ansible_host=ansible_host, central=central))
    return out


def drift(out: Path, files: FileSet) -> str:
    """Unified diff between directory ``out`` and ``files``; '' when equal.

    Secret-bearing files (``files.secret``, marked secret by OUT's manifest,
    or mode 0600 on disk) are compared but never printed, so a CI log of the
    drift gate does not leak a VRRP or stats password; no symlink inside OUT
    is followed (see :func:`hamodel.output.diff_tree`).
    """
    from hamodel.output import diff_tree

    return diff_tree(Path(out), files)
