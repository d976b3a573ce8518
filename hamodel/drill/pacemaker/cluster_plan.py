"""The plan of a Pacemaker drill lab: which nodes, rings, VIPs and resources, from the
model and the files ``hamodel build`` writes, and the lab's substitutions in the CIB.

:func:`plan` reads the shipped ``corosync.conf`` and ``cib.xml`` (or builds a
minimal cluster from the model, :func:`builtin_corosync_conf` and
:func:`builtin_cib`, when the build has none); :func:`lab_cib` makes the
substitutions listed in :mod:`hamodel.drill.pacemaker.lab`;
:func:`generated_files` builds the files with a lab value for each unset
secret (:func:`lab_env`).
"""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamodel.drill.files import generated_files as build_files
from hamodel.drill.lab import LabError
from hamodel.drill.plan import loop_free, switch_of
from hamodel.model import Architecture, PacemakerCluster

FENCE_AGENT = "fence_hamodel_lab"
#: Agents the lab runs for real; every other primitive gets a stand-in.
REAL_AGENTS = {("ocf", "heartbeat", "IPaddr2")}
#: Agents the lab runs for real only when a scenario asks for them (``ClusterScenario.real_agents``):
#: Redis under ocf:heartbeat:redis (Debian's redis-server, per-node /etc/redis, /var/lib/redis, /var/log/redis).
REDIS_AGENT = ("ocf", "heartbeat", "redis")


def available() -> str | None:
    """Why a Pacemaker drill cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces)"
    for tool in ("corosync", "pacemakerd", "crm_mon", "cibadmin", "nsenter", "unshare", "corosync-cmapctl"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"missing {tool} (install corosync, pacemaker, pacemaker-cli-utils, util-linux)"
    if not Path("/usr/lib/ocf/resource.d/heartbeat/IPaddr2").exists():
        return "missing the IPaddr2 resource agent (install resource-agents)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlay file system (the lab's fence agent is mounted with it)"
    return None


# -- the plan ---------------------------------------------------------------------


@dataclass
class Member:
    node: str
    address: str  # ring0 address
    prefix: int
    device: str
    switch: str
    nodeid: int
    static: list[str] = field(default_factory=list)  # every address/prefix of the node (kept on power-off)


@dataclass
class Vip:
    name: str
    address: str
    prefix: int
    resource: str | None = None  # the CIB's IPaddr2 primitive id


@dataclass
class PacemakerPlan:
    cluster: str
    members: list[Member]
    switches: list[str]
    links: list[tuple[str, str]]
    split_horizon: set[tuple[str, str]]
    vips: list[Vip]
    single: list[str]  # model services Pacemaker runs on one node (cinder-volume)
    corosync_conf: dict[str, str]
    cib: str  # the CIB the lab pushes (after the lab's substitutions)
    source: str  # "generated" or "built-in"
    substitutions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The quorum device's host (``PacemakerCluster.qdevice``): runs corosync-qnetd, outside the cluster.
    qnetd: Member | None = None

    @property
    def nodes(self) -> list[str]:
        return [m.node for m in self.members]

    def member(self, node: str) -> Member:
        return next(m for m in self.members if m.node == node)


def pacemaker_of(arch: Architecture) -> PacemakerCluster:
    """The model's Pacemaker cluster, which a Pacemaker lab needs."""
    if arch.pacemaker is None:
        raise LabError("the model has no Pacemaker cluster (Architecture.pacemaker)")
    return arch.pacemaker


def cluster_nodes(arch: Architecture) -> list[str]:
    """The nodes of the model's Pacemaker cluster in corosync's node-id order
    (:meth:`~hamodel.model.Architecture.pacemaker_nodes`, as the generated corosync.conf numbers them)."""
    pc = pacemaker_of(arch)
    nodes = list(arch.pacemaker_nodes())
    if len(nodes) < 2:
        raise LabError(f"pacemaker.on {sorted(pc.on)} selects {len(nodes)} node(s); a cluster needs 2")
    return nodes


def _pacemaker_vips(arch: Architecture, dep) -> list[str]:
    return [v for g in dep.vrrp_groups if g.manager == "pacemaker" for v in g.vips]


def _single_services(arch: Architecture) -> list[str]:
    from hamodel.model.strategies import ActivePassive

    return [
        s.name
        for s in arch.services
        if isinstance(s.strategy, ActivePassive) and getattr(s.strategy, "manager", None) == "pacemaker"
    ]


def resource_id(name: str) -> str:
    """A CIB id for a model name (ids are XML NCNames)."""
    rid = re.sub(r"[^A-Za-z0-9_.-]", "-", name)
    return rid if re.match(r"^[A-Za-z_]", rid) else f"r-{rid}"


def parse_corosync_nodes(text: str) -> list[dict[str, str]]:
    """The ``node { }`` entries of a corosync.conf nodelist, as dicts."""
    out = []
    for block in re.findall(r"(?ms)^\s*node\s*\{(.*?)\}", text):
        d = {}
        for line in block.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                d[k.strip()] = v.strip()
        out.append(d)
    return out


def corosync_value(text: str, section: str, key: str) -> str | None:
    """``key`` of a top-level ``section { }`` of a corosync.conf (no nested blocks read)."""
    m = re.search(rf"(?ms)^\s*{section}\s*\{{(.*?)^\s*\}}", text)
    if not m:
        return None
    v = re.search(rf"(?m)^\s*{re.escape(key)}\s*:\s*(\S+)", m.group(1))
    return v.group(1) if v else None


def plan(arch: Architecture, dep, files: Mapping[str, bytes]) -> PacemakerPlan:
    """Members, addresses, switches and configs of the Pacemaker lab."""
    names = cluster_nodes(arch)
    generated = {
        n: files[f"nodes/{n}/corosync/corosync.conf"].decode()
        for n in names
        if f"nodes/{n}/corosync/corosync.conf" in files
    }
    cib_text = files["pacemaker/cib.xml"].decode() if "pacemaker/cib.xml" in files else None
    notes: list[str] = []
    vip_names = _pacemaker_vips(arch, dep)
    vip_net = arch.network(arch.vip(vip_names[0]).network) if vip_names else None
    ring: dict[str, str] = {}
    if generated:
        missing = [n for n in names if n not in generated]
        if missing:
            raise LabError(f"the build has corosync.conf for {sorted(generated)} but not for {missing}")
        for d in parse_corosync_nodes(next(iter(generated.values()))):
            if "name" in d and "ring0_addr" in d:
                ring[d["name"]] = d["ring0_addr"]
    members = []
    for i, n in enumerate(names, start=1):
        node = arch.node(n)
        if n in ring:
            iface = next((x for x in node.interfaces if str(x.address) == ring[n]), None)
            if iface is None:
                raise LabError(f"corosync.conf: ring0_addr {ring[n]} of {n} is none of its interface addresses")
        else:
            iface = node.interface_on(vip_net.name) if vip_net else None
            iface = iface or (node.interfaces[0] if node.interfaces else None)
            if iface is None:
                raise LabError(f"node {n!r} has no interface: no ring address for corosync")
        net = arch.network(iface.network)
        static = [f"{x.address}/{arch.network(x.network).subnet.prefixlen}" for x in node.interfaces]
        members.append(
            Member(
                n,
                str(iface.address),
                net.subnet.prefixlen,
                iface.device,
                switch_of(arch, net.name, iface.switch),
                i,
                static,
            )
        )
    qnetd = _qnetd_member(arch, generated, vip_net) if pacemaker_of(arch).qdevice else None
    switches = sorted({m.switch for m in members + ([qnetd] if qnetd else [])})
    links = sorted({(a, b) for net in arch.networks for a, b in net.switch_links() if a in switches and b in switches})
    split = loop_free(switches, links, notes)
    vips = [Vip(v, str(arch.vip(v).address), arch.network(arch.vip(v).network).subnet.prefixlen) for v in vip_names]
    single = _single_services(arch)
    if generated and cib_text:
        source = "generated"
        conf = generated
    else:
        source = "built-in"
        conf = {m.node: builtin_corosync_conf(arch, members) for m in members}
        cib_text = builtin_cib(arch, dep, members, vips, single)
        notes.append(
            "the build has no corosync.conf / cib.xml yet: the lab ran a minimal cluster of its own "
            "built from the model (hamodel.drill.pacemaker.builtin_corosync_conf / builtin_cib)"
        )
    if qnetd is not None and source != "generated":
        raise LabError(
            "the model has a quorum device but the build shipped no corosync.conf: the lab's built-in "
            "corosync.conf has no device block"
        )
    return PacemakerPlan(
        resource_id(f"hamodel-{arch.name}")[:32],
        members,
        switches,
        links,
        split,
        vips,
        single,
        conf,
        cib_text,
        source,
        notes=notes,
        qnetd=qnetd,
    )


def _qnetd_member(arch: Architecture, generated: Mapping[str, str], vip_net) -> Member:
    """The qnetd host: the address corosync-qdevice connects to (the shipped ``device { net { host } }``)."""
    name = pacemaker_of(arch).qdevice
    if name is None:
        raise LabError("the model's Pacemaker cluster has no quorum device (PacemakerCluster.qdevice)")
    node = arch.node(name)
    host = None
    for text in generated.values():
        m = re.search(r"(?ms)^\s*device\s*\{.*?^\s*host\s*:\s*(\S+)", text)
        host = m.group(1) if m else host
    iface = next((x for x in node.interfaces if host and str(x.address) == host), None)
    if iface is None and host is None:
        iface = (node.interface_on(vip_net.name) if vip_net else None) or (
            node.interfaces[0] if node.interfaces else None
        )
    if iface is None:
        raise LabError(f"qdevice node {name!r}: no interface with the address corosync-qdevice connects to ({host})")
    net = arch.network(iface.network)
    static = [f"{x.address}/{arch.network(x.network).subnet.prefixlen}" for x in node.interfaces]
    return Member(
        name, str(iface.address), net.subnet.prefixlen, iface.device, switch_of(arch, net.name, iface.switch), 0, static
    )


# -- built-in configs (until the generator ships them) -----------------------------


def builtin_corosync_conf(arch: Architecture, members: list[Member]) -> str:
    pc = pacemaker_of(arch)
    lines = [
        "# corosync.conf for the hamodel drill lab (built in: the build shipped none)",
        "totem {",
        "    version: 2",
        f"    cluster_name: {resource_id(arch.name)[:32]}",
        "    transport: knet",
        "    crypto_cipher: none",
        "    crypto_hash: none",
        "}",
        "",
        "nodelist {",
    ]
    for m in members:
        lines += [
            "    node {",
            f"        ring0_addr: {m.address}",
            f"        name: {m.node}",
            f"        nodeid: {m.nodeid}",
            "    }",
        ]
    lines += ["}", "", "quorum {", "    provider: corosync_votequorum"]
    if pc.wait_for_all:
        lines.append("    wait_for_all: 1")
    if len(members) == 2 and pc.two_node:
        lines.append("    two_node: 1")
    lines += [
        "}",
        "",
        "logging {",
        "    to_logfile: yes",
        "    logfile: /var/log/corosync/corosync.log",
        "    to_stderr: yes",
        "    to_syslog: no",
        "    timestamp: on",
        "}",
        "",
    ]
    return "\n".join(lines)


def builtin_cib(arch: Architecture, dep, members: list[Member], vips: list[Vip], single: list[str]) -> str:
    """A minimal CIB: properties, a fencing device per node, the VIPs, the HAProxy clone, the
    single-node services, the Pacemaker-managed clusters (as the generator would name them)."""
    cib = ET.Element("cib", {"validate-with": "pacemaker-3.9", "admin_epoch": "0", "epoch": "1", "num_updates": "0"})
    conf = ET.SubElement(cib, "configuration")
    crm = ET.SubElement(ET.SubElement(conf, "crm_config"), "cluster_property_set", id="cib-bootstrap-options")
    props = {"stonith-enabled": "true" if pacemaker_of(arch).fencing else "false", "no-quorum-policy": "stop"}
    for k, v in props.items():
        ET.SubElement(crm, "nvpair", id=f"cib-bootstrap-options-{k}", name=k, value=v)
    ET.SubElement(conf, "nodes")
    res = ET.SubElement(conf, "resources")
    cons = ET.SubElement(conf, "constraints")

    def prim(parent, rid, cls, typ, provider=None, params=None, ops=()):
        attrs = {"id": rid, "class": cls, "type": typ}
        if provider:
            attrs["provider"] = provider
        p = ET.SubElement(parent, "primitive", attrs)
        if params:
            ia = ET.SubElement(p, "instance_attributes", id=f"{rid}-instance_attributes")
            for k, v in params.items():
                ET.SubElement(ia, "nvpair", id=f"{rid}-instance_attributes-{k}", name=k, value=v)
        if ops:
            o = ET.SubElement(p, "operations")
            for name, interval, timeout in ops:
                ET.SubElement(
                    o, "op", id=f"{rid}-{name}-interval-{interval}", name=name, interval=interval, timeout=timeout
                )
        return p

    if pacemaker_of(arch).fencing:
        for m in members:
            rid = f"fence-{resource_id(m.node)}"
            prim(
                res, rid, "stonith", "fence_ipmilan", params={"pcmk_host_list": m.node}, ops=[("monitor", "60s", "20s")]
            )
            ET.SubElement(cons, "rsc_location", id=f"location-{rid}", rsc=rid, node=m.node, score="-INFINITY")
    for v in vips:
        v.resource = rid = resource_id(v.name)
        prim(
            res,
            rid,
            "ocf",
            "IPaddr2",
            "heartbeat",
            {"ip": v.address, "cidr_netmask": str(v.prefix)},
            [("monitor", "10s", "20s"), ("start", "0s", "20s"), ("stop", "0s", "20s")],
        )
    hap = next((g.service for g in dep.vrrp_groups if g.manager == "pacemaker"), None)
    if hap:
        clone = ET.SubElement(res, "clone", id=f"{resource_id(hap)}-clone")
        prim(clone, resource_id(hap), "systemd", hap, ops=[("monitor", "10s", "20s")])
        for v in vips:
            rid = resource_id(v.name)
            ET.SubElement(
                cons,
                "rsc_colocation",
                {
                    "id": f"colocation-{rid}-{hap}",
                    "rsc": rid,
                    "with-rsc": f"{resource_id(hap)}-clone",
                    "score": "INFINITY",
                },
            )
            ET.SubElement(
                cons, "rsc_order", id=f"order-{hap}-{rid}", first=f"{resource_id(hap)}-clone", then=rid, kind="Optional"
            )
    for s in single:
        prim(res, resource_id(s), "systemd", f"openstack-{s}", ops=[("monitor", "10s", "20s")])
    ET.indent(cib)
    return ET.tostring(cib, encoding="unicode") + "\n"


# -- the lab's substitutions in the CIB ---------------------------------------------


def lab_cib(
    cib_text: str, plan_: PacemakerPlan, lab_dir: Path, real: frozenset[tuple[str, str, str]] = frozenset()
) -> tuple[str, list[str], dict[str, str]]:
    """The ``<configuration>`` the lab pushes, the substitutions made, and the VIP resource ids.

    Fencing devices become ``fence_hamodel_lab``; resources the lab cannot
    run become Dummy (Stateful in a promotable clone); IPaddr2 stays, and
    so do the agents in ``real`` (``(class, provider, type)``, e.g. :data:`REDIS_AGENT`),
    with their shipped parameters.
    """
    try:
        root = ET.fromstring(cib_text)
    except ET.ParseError as exc:
        raise LabError(f"pacemaker/cib.xml: not XML: {exc}") from None
    conf = root.find("configuration") if root.tag == "cib" else root
    if conf is None or conf.tag != "configuration":
        raise LabError("pacemaker/cib.xml has no <configuration>")
    notes: list[str] = []
    vip_ids: dict[str, str] = {}
    parents = {c: p for p in conf.iter() for c in p}
    nodes = plan_.nodes
    for p in list(conf.iter("primitive")):
        cls, prov, typ = p.get("class"), p.get("provider"), p.get("type")
        rid = p.get("id", "")
        if cls == "stonith":
            hosts = _nv(p, "pcmk_host_list") or _nv(p, "pcmk_host_map") or " ".join(nodes)
            if _nv(p, "pcmk_host_map") and not _nv(p, "pcmk_host_list"):
                hosts = " ".join(x.split(":")[0] for x in re.split(r"[;,\s]+", hosts) if x)
            keep = {k: v for k, v in _nvs(p).items() if k.startswith("pcmk_") and k not in ("pcmk_host_map",)}
            keep.update({"pcmk_host_list": hosts, "lab": str(lab_dir)})
            _replace_params(p, keep)
            p.set("type", FENCE_AGENT)
            p.attrib.pop("provider", None)
            notes.append(
                f"fencing device {rid}: stonith:{typ} replaced by stonith:{FENCE_AGENT} "
                f"(pcmk_host_list={hosts}), its pcmk_* parameters kept"
            )
            continue
        if (cls, prov, typ) in real:
            notes.append(f"resource {rid}: {cls}:{prov}:{typ} runs for real (its parameters as shipped)")
            continue
        if (cls, prov, typ) in REAL_AGENTS:
            ip = _nv(p, "ip")
            for v in plan_.vips:
                if ip == v.address:
                    vip_ids[v.name] = rid
            continue
        parent = parents.get(p)
        promotable = (
            parent is not None
            and parent.tag == "clone"
            and any(
                nv.get("name") == "promotable" and nv.get("value", "").lower() in ("true", "1", "yes")
                for nv in parent.iter("nvpair")
            )
        ) or (parent is not None and parent.tag == "master")
        new = "Stateful" if promotable else "Dummy"
        was = f"{cls}:{prov + ':' if prov else ''}{typ}"
        p.set("class", "ocf")
        p.set("provider", "pacemaker")
        p.set("type", new)
        _replace_params(p, {})
        ops = p.find("operations")
        if ops is not None:
            for op in list(ops):
                if op.get("name") in ("promote", "demote") and not promotable:
                    ops.remove(op)
                if (
                    op.get("name") == "monitor"
                    and op.get("role") in ("Promoted", "Master", "Unpromoted", "Slave")
                    and not promotable
                ):
                    ops.remove(op)
        notes.append(
            f"resource {rid}: {was} replaced by ocf:pacemaker:{new} (the lab runs no "
            f"{'systemd' if cls == 'systemd' else typ})"
        )
    ET.indent(conf)
    return ET.tostring(conf, encoding="unicode") + "\n", notes, vip_ids


def _nvs(p: ET.Element) -> dict[str, str]:
    ia = p.find("instance_attributes")
    return {nv.get("name", ""): nv.get("value", "") for nv in (ia if ia is not None else [])}


def _nv(p: ET.Element, name: str) -> str | None:
    return _nvs(p).get(name)


def _replace_params(p: ET.Element, params: dict[str, str]) -> None:
    for ia in p.findall("instance_attributes"):
        p.remove(ia)
    if params:
        rid = p.get("id", "")
        ia = ET.Element("instance_attributes", id=f"{rid}-instance_attributes")
        for k, v in params.items():
            ET.SubElement(ia, "nvpair", id=f"{rid}-instance_attributes-{k}", name=k, value=v)
        p.insert(0, ia)


LAB_SECRET = "hamodeldrilllab"


def secret_env_refs(obj: Any) -> set[str]:
    """The environment variables the model's secret references name (fence passwords...)."""
    from pydantic import BaseModel

    from hamodel.model.base import SecretRef

    found: set[str] = set()
    stack = [obj]
    seen: set[int] = set()
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, SecretRef):
            if o.env:
                found.add(o.env)
        elif isinstance(o, BaseModel):
            stack.extend(getattr(o, f) for f in type(o).model_fields)
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    return found


def lab_env(arch: Architecture) -> dict[str, str]:
    """The environment for building the lab's files: each secret reference that is not set
    gets a lab value (the lab replaces the fencing devices, the only consumers of those)."""
    env = dict(os.environ)
    for name in secret_env_refs(arch):
        env.setdefault(name, LAB_SECRET)
    return env


def generated_files(arch: Architecture, *, lock: Path | None = None) -> tuple[Any, Mapping[str, bytes]]:
    """The analysed Deployment and the files ``hamodel build`` writes (secrets unset in the
    environment get a lab value, see :func:`lab_env`)."""
    return build_files(arch, analyse=True, lock=lock, env=lab_env(arch))
