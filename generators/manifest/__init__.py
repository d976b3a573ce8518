"""manifest.json, ansible/inventory.yml (and ansible/deploy.yml): what was generated, for deploy tools.

The manifest lists every node file with its sha256, install path, the
services and VIPs it serves, plus the model's name and content hash, and
how to install it (format 2), all from the one table :data:`KINDS`:
``owner``, ``group``, ``mode``; ``validate`` (the command that checks a new
file before it replaces the old one, ``%s`` for its path, or ``null`` with
a ``note`` saying why); ``on_change`` (the action and command that make the
daemon use a changed file); ``order`` (lower first; the top-level
``install_order`` lists the kinds present); ``prerequisites`` (``packages``,
``files`` the config reads such as certificates, runtime ``directories``
such as the stats socket's, ``sysctl`` settings such as
``net.ipv4.ip_nonlocal_bind``, ``firewall`` rules such as VRRP, IP
protocol 112, in from the group's peers). Format 1 had none of these, and
the mode only.
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

The inventory is made to be merged with a site inventory (``-i site -i
OUT/ansible/inventory.yml``, either order): its groups are ``hamodel`` and
``hamodel_<kind>`` (never OpenStack-Ansible's or kolla-ansible's
``haproxy``/``keepalived``); a node's model address is ``hamodel_address``,
and ``ansible_host`` only when the build is asked for it
(``hamodel build --ansible-host``), so the site's value stays; and
``hamodel_root`` is ``{{ playbook_dir }}/..``, OUT for the shipped
OUT/ansible/deploy.yml, instead of ``inventory_dir``, which Ansible sets
from the first inventory that names a host (the site's, when it comes
first). Another playbook passes ``-e hamodel_root=OUT``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import posixpath
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hamodel.generators.common import ConfigError, NodeFile, Secrets
from hamodel.generators.manifest.inventory import PATH, Template, checked, dump_inventory, inert
from hamodel.generators.pacemaker.push import CIB_PUSH

from hamodel import __version__
from hamodel.deployment import Deployment

FORMAT = 2
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
        raise ConfigError(
            [
                (
                    where,
                    f"the manifest key must be at least {MIN_KEY_LEN} characters (e.g. "
                    "`openssl rand -hex 32`); nothing was written",
                )
            ]
        )
    return key.encode()


def secret_digest(key: bytes, path: str, data: bytes) -> str:
    """HMAC-SHA256 of one secret-bearing file, bound to its path."""
    return hmac.new(key, path.encode() + b"\0" + data, hashlib.sha256).hexdigest()


def model_sha256(dep: Deployment) -> str:
    """sha256 of the canonical model JSON (``Architecture.to_json``)."""
    return hashlib.sha256(dep.architecture.to_json().encode()).hexdigest()


# -- what each kind of node file needs to be installed -------------------------


@dataclass(frozen=True)
class Kind:
    """How one kind of node file (``NodeFile.kind``) is installed: one row of :data:`KINDS`.

    ``validate`` is a command with ``%s`` for the new file, run on the node
    before it replaces the old one (Ansible's ``validate:``); ``None`` needs
    ``validate_note`` saying why there is none. ``on_change`` is the command
    that makes the daemon use a changed file (``{dest}`` is replaced by the
    file's install path) and ``action`` its short name (the playbook's
    handler). ``order``: files of a lower order are installed (and their
    ``on_change`` run) first. ``prerequisites`` adds what this file needs
    beyond ``packages`` (see :func:`prerequisites`).
    """

    order: int
    action: str | None
    on_change: tuple[str, ...] | None
    validate: str | None
    validate_note: str = ""
    packages: tuple[str, ...] = ()
    owner: str = "root"
    group: str = "root"
    mode: str = "0644"
    secret_mode: str = "0600"
    prerequisites: Callable[[Deployment, NodeFile, Sequence[NodeFile]], dict[str, list]] | None = None
    #: "node": installed one node at a time (the playbook's rolling play); "cluster": installed on
    #: every cluster node first, then applied once (corosync.conf, then the CIB).
    scope: str = "node"


def _haproxy_prerequisites(dep: Deployment, f: NodeFile, node_files: Sequence[NodeFile]) -> dict[str, list]:
    """Certificates and CA files haproxy.cfg reads, the stats socket's
    folder, and ip_nonlocal_bind when the node binds VIPs it may not hold.

    Read from the rendered file (its redacted copy: no secret) so that every
    path the daemon opens is listed, however the template spells it."""
    # Comments may quote model text: only directives count (no token holds a '#').
    text = re.sub(r"#.*", "", f.redacted.decode("utf-8", "replace"))
    files = []
    for m in _HAPROXY_FILE.finditer(text):
        files.append({"path": m.group(2), "why": f"haproxy.cfg `{m.group(1)}`: haproxy -c and haproxy open it"})
    dirs = []
    for m in _HAPROXY_SOCKET.finditer(text):
        folder = posixpath.dirname(m.group(1))
        dirs.append(
            {
                "path": folder,
                "owner": "haproxy",
                "group": "haproxy",
                "mode": "2775",
                "why": f"runtime folder of the stats socket {m.group(1)} (Debian's haproxy package creates "
                "it at boot with tmpfiles.d; the playbook makes sure it exists)",
            }
        )
    sysctl = []
    if f.vips:
        for other in node_files:
            if other.kind == "sysctl":
                for m in _SYSCTL_LINE.finditer(other.redacted.decode("utf-8", "replace")):
                    sysctl.append(
                        {
                            "key": m.group(1),
                            "value": m.group(2),
                            "file": other.path,
                            "why": "HAProxy binds virtual IPs this node may not hold",
                        }
                    )
    return {"files": files, "directories": dirs, "sysctl": sysctl, "health_endpoints": _health_endpoints(dep, f)}


#: Processes whose separate HAProxy check port is Galera's clustercheck.
_GALERA = frozenset({"galera", "mariadb", "mysqld", "mysql"})


def _health_endpoints(dep: Deployment, f: NodeFile) -> list[dict[str, Any]]:
    """The health endpoints this haproxy.cfg's checks query on a port of their
    own (``check.port``): who must serve them (every backend node), what they
    must answer, the package when one provides it, and the firewall rule on the
    backend that lets this node's HAProxy in. hamodel generates none of them."""
    from hamodel.generators.haproxy import backend_network

    arch = dep.architecture
    me = arch.node(f.node)
    out = []
    for name, access in dep.fronted_services():
        port = access.check.port
        if name not in f.services or port is None:
            continue
        svc = arch.service(name)
        path = access.check.http_path
        answer = (
            f"HTTP GET {path} answers {access.check.expect_status}" if path else "accepts a TCP connection"
        ) + " only while this member may serve"
        if port == 8008 or svc.process == "patroni":
            provider, packages = "Patroni's REST API (/primary: 200 on the leader only)", ["patroni"]
        elif svc.process in _GALERA:
            provider, packages = (
                (
                    "clustercheck: 200 while the member is Synced (wsrep_local_state 4), 503 "
                    "otherwise; not packaged in Debian: a script run by xinetd or a systemd "
                    "socket unit"
                ),
                [],
            )
        else:
            provider, packages = f"an endpoint of {name} on port {port}", []
        for b in dep.placement.nodes_of(name):
            net = backend_network(dep, name, b)
            theirs, mine = arch.node(b).interface_on(net), me.interface_on(net)
            out.append(
                {
                    "service": name,
                    "node": b,
                    "address": str(theirs.address) if theirs else b,
                    "port": port,
                    "check": answer,
                    "provider": provider,
                    "packages": packages,
                    "firewall": {
                        "protocol": "tcp",
                        "port": port,
                        "direction": "in",
                        "node": b,
                        "interface": theirs.device if theirs else None,
                        "sources": [str(mine.address)] if mine else [f.node],
                    },
                    "why": f"haproxy.cfg checks {name} on {b} there; without it HAProxy marks {b} DOWN",
                }
            )
    return out


def _keepalived_prerequisites(dep: Deployment, f: NodeFile, node_files: Sequence[NodeFile]) -> dict[str, list]:
    """VRRP (IP protocol 112) allowed in from the group's peers, per group."""
    arch = dep.architecture
    node = arch.node(f.node)
    unicast = b"unicast_peer" in f.redacted
    rules = []
    for g in sorted(dep.vrrp_groups, key=lambda g: (g.network, g.vrid)):
        if g.manager != "keepalived" or f.node not in g.priorities:
            continue
        own = node.interface_on(g.network)
        if own is None:
            continue
        peers = []
        for p in sorted(g.priorities):
            iface = arch.node(p).interface_on(g.network) if p != f.node else None
            if iface is not None:
                peers.append(str(iface.address))
        family = own.address.version
        rules.append(
            {
                "protocol": 112,
                "name": "vrrp",
                "direction": "in",
                "interface": own.device,
                "sources": peers,
                "destination": str(own.address) if unicast else ("224.0.0.18" if family == 4 else "ff02::12"),
                "why": f"VRRP adverts of {g.service} (VRID {g.vrid} on {g.network}) from its peers; "
                "dropped adverts make every member MASTER",
            }
        )
    return {"firewall": rules}


def _monitoring_prerequisites(dep: Deployment, f: NodeFile, node_files: Sequence[NodeFile]) -> dict[str, list]:
    """The exporter's port open to the Prometheus server; the textfile folder for keepalived's state;
    HAProxy's metrics port rides on the exporter_node file of a node that runs haproxy.cfg."""
    from hamodel.generators.monitoring import EXPORTERS

    node = dep.architecture.node(f.node)
    dev = node.interfaces[0].device if node.interfaces else None
    if f.kind in ("keepalived_state", "keepalived_up"):
        from hamodel.deployment import NODE_TEXTFILE_DIR

        return {
            "directories": [
                {
                    "path": NODE_TEXTFILE_DIR,
                    "owner": "root",
                    "group": "root",
                    "mode": "0755",
                    "why": "node_exporter's textfile collector folder: keepalived's state script "
                    "writes VRRP state here",
                }
            ]
        }
    job = f.kind.removeprefix("exporter_")
    ports = [(EXPORTERS[job].port, f"{job} exporter")]
    if job == "node" and any(o.kind == "haproxy" for o in node_files):
        ports.append((EXPORTERS["haproxy"].port, "HAProxy's built-in Prometheus exporter (frontend hamodel-metrics)"))
    return {
        "firewall": [
            {
                "protocol": "tcp",
                "port": p,
                "name": "prometheus",
                "direction": "in",
                "interface": dev,
                "sources": ["the Prometheus server (monitoring/prometheus.yml)"],
                "destination": str(node.interfaces[0].address) if node.interfaces else f.node,
                "why": f"Prometheus scrapes the {what} here",
            }
            for p, what in ports
        ]
    }


# Paths HAProxy opens when it reads its config (tokens: no spaces).
_HAPROXY_FILE = re.compile(r"\b(crt|ca-file|crl-file|crt-list)\s+(/\S+)")
_HAPROXY_SOCKET = re.compile(r"^\s*stats\s+socket\s+(/\S+)", re.M)
_SYSCTL_LINE = re.compile(r"^\s*([a-z0-9_.]+)\s*=\s*(\S+)\s*$", re.M)

#: One row per ``NodeFile.kind``: install metadata for the manifest, the
#: inventory and the playbook. A generator adding a kind adds its row here.
KINDS: dict[str, Kind] = {
    "sysctl": Kind(
        order=10,
        action="apply sysctl",
        on_change=("sysctl", "-p", "{dest}"),
        validate=None,
        validate_note="sysctl has no check-only mode; `sysctl -p FILE` (on change) fails on an unknown key",
        packages=("procps",),
    ),
    "haproxy": Kind(
        order=20,
        action="reload haproxy",
        on_change=("systemctl", "reload-or-restart", "haproxy"),
        validate="haproxy -c -f %s",
        packages=("haproxy",),
        prerequisites=_haproxy_prerequisites,
    ),
    "keepalived": Kind(
        order=30,
        action="reload keepalived",
        on_change=("systemctl", "reload-or-restart", "keepalived"),
        validate="keepalived -t -f %s",
        validate_note="keepalived -t needs the node's interfaces: it runs on the node",
        packages=("keepalived", "procps"),
        prerequisites=_keepalived_prerequisites,
    ),
    # Pacemaker (hamodel.generators.pacemaker): corosync.conf on every cluster node; the CIB and
    # its pcs script on the cluster's first node, pushed once from there (it is cluster-wide).
    "corosync": Kind(
        order=40,
        action="reload corosync",
        on_change=("corosync-cfgtool", "-R"),
        validate="corosync -t -c %s",
        validate_note="corosync -t needs one of the node list's addresses on the host: it runs on the node",
        packages=("corosync",),
        scope="cluster",
    ),
    "pacemaker-cib": Kind(
        # Only hamodel's sections, as a patch against the live CIB: node state (standby, node
        # attributes) survives a deploy (see hamodel.generators.pacemaker.push).
        order=50,
        action="push cib",
        on_change=("python3", "-c", CIB_PUSH, "{dest}"),
        validate="crm_verify --xml-file %s",
        packages=("pacemaker", "pcs", "resource-agents", "fence-agents"),
        scope="cluster",
    ),
    # Monitoring (hamodel.generators.monitoring): the exporters' /etc/default files and keepalived's
    # state script (installed before keepalived.conf, which names it).
    "keepalived_state": Kind(
        order=25,
        action=None,
        on_change=None,
        validate="sh -n %s",
        validate_note="keepalived runs it on each VRRP transition; nothing to reload",
        packages=("prometheus-node-exporter",),
        mode="0755",
        prerequisites=_monitoring_prerequisites,
    ),
    # keepalived's liveness and VIP addresses (monitoring.liveness): a script, the timer that runs it.
    "keepalived_up": Kind(
        order=26,
        action=None,
        on_change=None,
        validate="sh -n %s",
        validate_note="the timer below runs it; nothing to reload",
        packages=("prometheus-node-exporter", "procps", "iproute2"),
        mode="0755",
        prerequisites=_monitoring_prerequisites,
    ),
    "keepalived_up_unit": Kind(
        order=35,
        action="enable keepalived-up timer",
        on_change=("systemctl", "enable", "--now", "hamodel-keepalived-up.timer"),
        validate=None,
        validate_note="systemd units; systemctl enable reloads systemd and refuses a unit it cannot parse",
        packages=("systemd",),
    ),
    "exporter_node": Kind(
        order=60,
        action="restart node exporter",
        on_change=("systemctl", "restart", "prometheus-node-exporter"),
        validate=None,
        validate_note="an environment file (ARGS=...); the exporter refuses bad flags at start",
        packages=("prometheus-node-exporter",),
        prerequisites=_monitoring_prerequisites,
    ),
    "exporter_mysqld": Kind(
        order=61,
        action="restart mysqld exporter",
        on_change=("systemctl", "restart", "prometheus-mysqld-exporter"),
        validate=None,
        validate_note="an environment file (ARGS=...); the exporter refuses bad flags at start",
        packages=("prometheus-mysqld-exporter",),
        prerequisites=_monitoring_prerequisites,
    ),
    "exporter_redis": Kind(
        order=62,
        action="restart redis exporter",
        on_change=("systemctl", "restart", "prometheus-redis-exporter"),
        validate=None,
        validate_note="an environment file (ARGS=...); the exporter refuses bad flags at start",
        packages=("prometheus-redis-exporter",),
        prerequisites=_monitoring_prerequisites,
    ),
    "exporter_pacemaker": Kind(
        order=63,
        action="restart pacemaker exporter",
        on_change=("systemctl", "restart", "ha_cluster_exporter"),
        validate=None,
        validate_note="an environment file (ARGS=...) that Debian's ha_cluster_exporter unit reads; the "
        "exporter refuses bad flags at start",
        packages=("prometheus-hacluster-exporter",),
        prerequisites=_monitoring_prerequisites,
    ),
    "exporter_rabbitmq": Kind(  # RabbitMQ's own plugin: a conf.d snippet, its listener on the node's address
        order=64,
        action="enable rabbitmq_prometheus",
        on_change=("rabbitmq-plugins", "enable", "rabbitmq_prometheus"),
        validate=None,
        validate_note="a rabbitmq.conf snippet read at the broker's start (a changed address applies at "
        "the node's next restart); enabling the plugin keeps the others enabled",
        packages=("rabbitmq-server",),
        prerequisites=_monitoring_prerequisites,
    ),
    "exporter_mongodb": Kind(
        order=65,
        action="restart mongodb exporter",
        on_change=("systemctl", "restart", "prometheus-mongodb-exporter"),
        validate=None,
        validate_note="an environment file (ARGS=...); the exporter refuses bad flags at start",
        packages=("prometheus-mongodb-exporter",),
        prerequisites=_monitoring_prerequisites,
    ),
    "pacemaker-pcs": Kind(
        order=51,
        action=None,
        on_change=None,
        validate=None,
        validate_note="the pcs commands equivalent to cib.xml: read or replay them (sh FILE [CIB]), not installed "
        "into a daemon",
        packages=("pcs",),
        scope="cluster",
    ),
}


def kind_of(f: NodeFile) -> Kind:
    """The :data:`KINDS` row of ``f``; a kind without one is a generator bug."""
    try:
        return KINDS[f.kind]
    except KeyError:
        raise ConfigError(
            [(f.path, f"no install metadata for file kind {f.kind!r}: add a row to hamodel.generators.manifest.KINDS")]
        ) from None


def _mode(f: NodeFile) -> str:
    k = kind_of(f)
    return k.secret_mode if f.secret else k.mode


def prerequisites(dep: Deployment, f: NodeFile, node_files: Sequence[NodeFile]) -> dict[str, list]:
    """What must be on the node before ``f`` is installed: ``packages``,
    ``files`` (certificates, keys it reads; ``NodeFile.references`` too),
    ``directories``, ``sysctl`` settings, ``firewall`` rules and
    ``health_endpoints`` (served on other nodes: see :func:`_health_endpoints`)."""
    k = kind_of(f)
    out: dict[str, list] = {
        "packages": sorted(set(k.packages)),
        "files": [],
        "directories": [],
        "sysctl": [],
        "firewall": [],
        "health_endpoints": [],
    }
    if k.prerequisites is not None:
        for key, items in k.prerequisites(dep, f, node_files).items():
            out[key].extend(items)
    out["files"].extend({"path": p, "why": "read by this file"} for p in f.references)
    seen: set[str] = set()
    files = []
    for item in sorted(out["files"], key=lambda i: i["path"]):
        if item["path"] not in seen:
            seen.add(item["path"])
            files.append(item)
    out["files"] = files
    return out


def on_change(f: NodeFile, supervised: frozenset[str] = frozenset()) -> list[str] | None:
    """The argv that makes the daemon use ``f`` once it changed, or None.

    ``supervised``: the processes Pacemaker runs on ``f``'s node. A daemon
    Pacemaker runs is reloaded only if it runs (``systemctl
    try-reload-or-restart``): a deploy never starts it behind Pacemaker's
    back on a node where Pacemaker stopped it."""
    k = kind_of(f)
    if k.on_change is None:
        return None
    argv = [a.replace("{dest}", f.dest) for a in k.on_change]
    if argv[:2] == ["systemctl", "reload-or-restart"] and argv[2] in supervised:
        argv[1] = "try-reload-or-restart"
    return argv


def pacemaker_processes(dep: Deployment, node: str) -> frozenset[str]:
    """The processes Pacemaker runs on ``node`` (a Pacemaker strategy or
    ``supervisor="pacemaker"``)."""
    held = _PACEMAKER_PROCESSES.get(id(dep))
    by_node = held[1] if held is not None and held[0]() is dep else None
    if by_node is None:  # once per deployment (a scan of every service per node was O(nodes x services))
        by_node = {}
        for name in dep.pacemaker_managed():
            process = dep.architecture.service(name).process
            for n in dep.placement.nodes_of(name):
                by_node.setdefault(n, set()).add(process)
        _PACEMAKER_PROCESSES.clear()  # the last deployment only
        _PACEMAKER_PROCESSES[id(dep)] = (weakref.ref(dep), by_node)
    return frozenset(by_node.get(node, ()))


#: id(deployment) -> (a weak reference to it, node -> the processes Pacemaker runs there)
_PACEMAKER_PROCESSES: dict[int, tuple[weakref.ref, dict[str, set[str]]]] = {}


#: The daemons whose state the playbook's health gate checks, per file kind.
_DAEMONS = {"haproxy": ("haproxy",), "keepalived": ("keepalived",), "corosync": ("corosync", "pacemaker")}
_HAPROXY_BIND = re.compile(r"^\s*bind\s+\[?([0-9A-Fa-f.:]+?)\]?:(\d+)\b", re.M)


def health(dep: Deployment, node_files: Sequence[NodeFile], supervised: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What the playbook's health gate checks on a node after its files went
    in: ``daemons`` (systemd units), ``fronts`` (VIP address and port of every
    front its HAProxy binds on a VIP: answering means the VIP is held somewhere
    and HAProxy listens there) and ``stats_socket`` (HAProxy's, for its
    backends' state; empty without one). The node gate leaves out what the
    cluster play checks: the cluster stack itself and the daemons Pacemaker
    runs (``supervised``), which are up only once the cluster is."""
    arch = dep.architecture
    daemons = sorted(
        {d for f in node_files if kind_of(f).scope == "node" for d in _DAEMONS.get(f.kind, ())} - supervised
    )
    fronts: set[tuple[str, int]] = set()
    socket = ""
    for f in node_files:
        if f.kind != "haproxy" or "haproxy" in supervised:
            continue
        text = re.sub(r"#.*", "", f.redacted.decode("utf-8", "replace"))
        vips = {str(arch.vip(v).address) for v in f.vips}
        fronts |= {(m.group(1), int(m.group(2))) for m in _HAPROXY_BIND.finditer(text) if m.group(1) in vips}
        m = _HAPROXY_SOCKET.search(text)
        socket = m.group(1) if m else ""
    return {"daemons": daemons, "fronts": [{"host": h, "port": p} for h, p in sorted(fronts)], "stats_socket": socket}


def rolling_sets(dep: Deployment) -> list[set[str]]:
    """Hosts the rollout never changes together: each VRRP (or Pacemaker VIP)
    group's members, and the Pacemaker cluster's nodes."""
    arch = dep.architecture
    out = [set(g.members) for g in dep.vrrp_groups]
    if arch.pacemaker is not None:
        out.append({n.name for n in arch.nodes_with_roles(arch.pacemaker.on)})
    return out


def render_manifest(
    dep: Deployment,
    files: list[NodeFile],
    key: bytes | None = None,
    *,
    ansible_host: bool = False,
    central: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """manifest.json, ansible/inventory.yml and ansible/deploy.yml.

    ``key`` (:func:`manifest_key`) turns on ``hmac_sha256`` for
    secret-bearing files; ``ansible_host`` writes each node's first model
    address as its ``ansible_host`` (otherwise only as ``hamodel_address``,
    so that a site inventory's value is never overridden).
    """
    from hamodel.generators.ansible import GROUP, group_name, render_playbook, waves
    from hamodel.generators.ansible.collect import render_collect

    arch = dep.architecture
    model_digest = model_sha256(dep)  # once: the canonical JSON of a large model takes a while
    by_node: dict[str, list[NodeFile]] = {}
    for f in files:
        by_node.setdefault(f.node, []).append(f)
    entries = {}
    prereqs: dict[str, dict[str, list]] = {}
    for f in files:
        k = kind_of(f)
        prereqs[f.path] = prerequisites(dep, f, by_node[f.node])
        entry = {
            "node": f.node,
            "kind": f.kind,
            "dest": f.dest,
            "owner": k.owner,
            "group": k.group,
            "mode": _mode(f),
            "secret": f.secret,
            "order": k.order,
            "validate": {"command": k.validate, "note": k.validate_note or None},
            "on_change": None
            if k.action is None
            else {"action": k.action, "command": on_change(f, pacemaker_processes(dep, f.node))},
            "prerequisites": prereqs[f.path],
            "services": list(f.services),
            "vips": list(f.vips),
        }
        if f.secret:
            entry["sha256_redacted"] = hashlib.sha256(f.redacted).hexdigest()
            entry["hmac_sha256"] = None if key is None else secret_digest(key, f.path, f.data)
        else:
            entry["sha256"] = hashlib.sha256(f.data).hexdigest()
        entries[f.path] = entry
    manifest = {
        "format": FORMAT,
        "generator": f"hamodel {__version__}",
        "model": {"name": arch.name, "sha256": model_digest},
        "install_order": [
            {"kind": name, "order": k.order, "action": k.action}
            for name, k in sorted(KINDS.items(), key=lambda kv: (kv[1].order, kv[0]))
            if any(f.kind == name for f in files)
        ],
        "nodes": {
            n.name: {
                "addresses": {i.network: str(i.address) for i in n.interfaces},
                "files": sorted(f.path for f in by_node.get(n.name, [])),
                "services": list(dep.placement.services_on(n.name)),
            }
            for n in sorted(arch.nodes, key=lambda n: n.name)
        },
        "vips": {
            v.name: {"address": str(v.address), "network": v.network, "holders": list(dep.vip_holders(v.name))}
            for v in sorted(arch.vips, key=lambda v: v.name)
        },
        "files": dict(sorted(entries.items())),
    }
    if central:
        # Files for no node (the Prometheus server's config, rules and their tests): hashed, listed, not installed.
        manifest["central"] = {p: {"sha256": hashlib.sha256(d).hexdigest()} for p, d in sorted(central.items())}
    if any(f.secret for f in files):
        manifest["secret_digest"] = "none" if key is None else "hmac-sha256"
    hosts = {}
    for n in sorted(by_node):
        node = arch.node(n)
        supervised = pacemaker_processes(dep, n)
        mine = sorted(by_node[n], key=lambda f: (kind_of(f).order, f.path))
        need = [prereqs[f.path] for f in mine]
        host: dict[str, Any] = {
            "hamodel_address": str(node.interfaces[0].address) if node.interfaces else n,
            "hamodel_files": [
                {
                    "path": f.path,
                    "src": Template("{{ hamodel_root }}/" + checked(PATH, f.path, "path")),
                    "dest": f.dest,
                    "kind": f.kind,
                    "owner": kind_of(f).owner,
                    "group": kind_of(f).group,
                    "mode": _mode(f),
                    "secret": f.secret,
                    "on_change": on_change(f, supervised),
                }
                for f in mine
            ],
            "hamodel_health": health(dep, mine, supervised),
            "hamodel_packages": sorted({p for x in need for p in x["packages"]}),
            "hamodel_required_files": sorted({i["path"] for x in need for i in x["files"]}),
            "hamodel_directories": sorted(
                {(d["path"], d["owner"], d["group"], d["mode"]) for x in need for d in x["directories"]}
            ),
        }
        host["hamodel_directories"] = [
            dict(zip(("path", "owner", "group", "mode"), d)) for d in host["hamodel_directories"]
        ]
        if ansible_host:
            host["ansible_host"] = host["hamodel_address"]
        hosts[n] = host
    kinds = sorted({f.kind for f in files})
    inventory = {
        "all": {
            "vars": {
                "hamodel_model": arch.name,
                "hamodel_model_sha256": model_digest,
                "hamodel_format": FORMAT,
                # Where the build output is: the shipped playbook is OUT/ansible/deploy.yml, so this holds
                # whichever inventories are given and in whatever order (see the module doc).
                "hamodel_root": Template("{{ playbook_dir }}/.."),
                "hamodel_manifest": Template("{{ hamodel_root }}/manifest.json"),
            },
            "hosts": hosts,
            "children": {
                GROUP: {
                    "hosts": dict.fromkeys(sorted(by_node)),
                    "children": {
                        **{
                            group_name(k): {"hosts": dict.fromkeys(sorted({f.node for f in files if f.kind == k}))}
                            for k in kinds
                        },
                        **{
                            w: {"hosts": dict.fromkeys(ns)}
                            for w, ns in waves(sorted(by_node), rolling_sets(dep)).items()
                        },
                    },
                }
            },
        }
    }
    header = (
        "# Ansible inventory generated by hamodel; deploy with ansible/deploy.yml (see the manifest for what "
        "each file needs).\n"
    )
    return {
        "manifest.json": (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode(),
        "ansible/inventory.yml": (header + dump_inventory(inert(inventory))).encode(),
        "ansible/deploy.yml": render_playbook(KINDS, FORMAT),
        "ansible/collect.yml": render_collect(),  # hamodel drift / import: fetch the configs back
    }
