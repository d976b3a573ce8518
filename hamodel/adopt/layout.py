"""A build's files laid out as a collected folder (``DIR/<node>/etc/...``),
as collect.yml would fetch them from nodes that run what ``build`` wrote.
Used by the round-trip test, the benchmark and ``hamodel drift`` (which
compares a collected folder with what the model generates)."""

from __future__ import annotations

from collections.abc import Mapping

from hamodel.adopt.collected import CIB

#: manifest kind -> where collect.yml puts it, node-relative (None: not collected)
COLLECTED_KIND = {
    "keepalived": "etc/keepalived/keepalived.conf",
    "haproxy": "etc/haproxy/haproxy.cfg",
    "corosync": "etc/corosync/corosync.conf",
    "pacemaker-cib": CIB,
}


def as_collected(files: Mapping[str, bytes], manifest: Mapping) -> dict[str, bytes]:
    """{``<node>/etc/...``: bytes} of the built ``files`` (a FileSet), using the manifest's node and kind."""
    out: dict[str, bytes] = {}
    for path, meta in manifest.get("files", {}).items():
        where = COLLECTED_KIND.get(meta.get("kind", ""))
        if where is None or path not in files or not meta.get("node"):
            continue
        out[f"{meta['node']}/{where}"] = files[path]
    return out
