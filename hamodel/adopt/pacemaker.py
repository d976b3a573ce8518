"""corosync.conf + CIB -> the Pacemaker part of a draft: the cluster, its
fence devices, IPaddr2 VIPs (PacemakerVip) and the services it manages."""

from __future__ import annotations

import re

from hamodel.adopt.cib import Cib, Primitive
from hamodel.adopt.draft import _AGENT_PROCESS, _Builder, natural, var
from hamodel.adopt.source import Unmapped


def managed_names(site) -> tuple[Cib | None, dict[str, str]]:
    """The first CIB and {service name: agent} of its non-fence, non-IP resources."""
    cib = next((n.cib for _, n in sorted(site.nodes.items()) if n.cib is not None), None)
    if cib is None:
        return None, {}
    return cib, {p.id: p.agent for p in cib.primitives if p.cls != "stonith" and p.type != "IPaddr2"}


def pacemaker(b: _Builder, cib: Cib | None) -> None:
    coro = next((n.corosync for _, n in sorted(b.site.nodes.items()) if n.corosync is not None), None)
    if coro is None and cib is None:
        return
    members: set[str] = set()
    for p in cib.primitives if cib is not None else []:
        if (
            p.type == "IPaddr2"
            and p.attrs.get("ip")
            and p.attrs.get("cidr_netmask", "").isdigit()
            and not _host_mask(p.attrs["ip"], p.attrs["cidr_netmask"])
        ):
            b.network_for(p.attrs["ip"], int(p.attrs["cidr_netmask"]))
    hosts = b.hosts()
    if coro is not None:
        for cn in coro.nodes:
            members.add(cn.name)
            for a in cn.addrs[:1]:
                try:
                    b.node_address(cn.name, hosts.get(a, a), None, coro.file, cn.line)
                except ValueError:
                    b.unmapped.append(
                        Unmapped(
                            coro.file,
                            cn.line,
                            f"ring0_addr {a}",
                            "unsupported",
                            "a host name that no collected /etc/hosts resolves",
                        )
                    )
    if cib is None:
        assert coro is not None  # returned above when both are absent
        b.unmapped.append(
            Unmapped(
                coro.file,
                1,
                "corosync.conf without a CIB",
                "ambiguous",
                "collect `cibadmin -Q` as <node>/cib.xml to import the resources",
            )
        )
        return
    role = b.role(members) if members else None
    by_handle = {p.handle: p for p in cib.primitives}
    kw = [f"on=[{role!r}]"]
    if cib.properties.get("stonith-enabled", "true") == "false":
        kw.append("fencing=False")
    if coro is not None:
        if not coro.wait_for_all:
            kw.append("wait_for_all=False")
        if coro.cluster_name != "hacluster":
            kw.append(f"cluster_name={coro.cluster_name!r}")
        if coro.transport != "knet":
            kw.append(f"transport={coro.transport!r}")
        if coro.token_ms != 3000:
            kw.append(f"token_ms={coro.token_ms}")
        if coro.qdevice:
            b.unmapped.append(
                Unmapped(
                    coro.file,
                    coro.lines.get("quorum.device", 1),
                    "quorum device",
                    "unsupported",
                    "add the qnetd host as a node with a Witness service and qdevice=...",
                )
            )
    fences = _fences(b, [p for p in cib.primitives if p.cls == "stonith"], cib)
    if fences:
        kw.append(f"fence=[{', '.join(fences)}]")
    b.imports.add("PacemakerCluster")
    b.pacemaker_src = f"PacemakerCluster({', '.join(kw)})"

    # VIPs: IPaddr2, colocated with their holder
    coloc = {rsc: other for rsc, other, score, _ in cib.colocations if score in ("INFINITY", "+INFINITY")}
    for p in cib.primitives:
        if p.type != "IPaddr2":
            continue
        ip, mask = p.attrs.get("ip"), p.attrs.get("cidr_netmask")
        if not ip:
            b.unmapped.append(Unmapped(cib.file, p.line, f"primitive {p.id}", "ambiguous", "IPaddr2 without ip"))
            continue
        name = re.sub(r"^(ip|vip)[-_]", "", p.id) or p.id
        if mask and _host_mask(ip, mask):
            # TripleO writes cidr_netmask=32 and lets IPaddr2 find the interface by route
            b.unmapped.append(
                Unmapped(
                    cib.file,
                    p.line,
                    f"primitive {p.id} cidr_netmask {mask}",
                    "ambiguous",
                    "a host mask: the draft puts the VIP on the network of the nodes' addresses around it",
                )
            )
            vname = b.add_vip(name, ip, None)
        else:
            vname = b.add_vip(name, ip, int(mask) if mask and mask.isdigit() else 32)
        nic = p.attrs.get("nic")
        if nic:
            for n in members:
                net = b.vips[vname][1]
                if net in b.node_ifaces.get(n, {}):
                    addr, _ = b.node_ifaces[n][net]
                    b.node_ifaces[n][net] = (addr, nic)
        holder = by_handle.get(coloc.get(p.id, ""))
        if holder is None:
            b.unmapped.append(
                Unmapped(
                    cib.file,
                    p.line,
                    f"primitive {p.id}",
                    "ambiguous",
                    "a VIP colocated with no resource: give it a holder service",
                )
            )
            continue
        pending = b.pending_device
        for n in sorted(members):  # an address there from /etc/hosts, else a placeholder (writer)
            pending.setdefault((n, b.vips[vname][1]), nic or "eth0")
        b.ap_vip_holders.setdefault(holder.id, [])
        b.ap_vip_holders[holder.id].append(vname)

    # order constraints: dependencies
    deps: dict[str, list[str]] = {}
    for first, then, _, _ in cib.orders:
        f, t = by_handle.get(first), by_handle.get(then)
        if f is None or t is None or f.type == "IPaddr2" or t.type == "IPaddr2":
            continue
        deps.setdefault(t.id, []).append(f.id)
    b.pm_members, b.pm_role, b.pm_deps = members, role, deps  # type: ignore[attr-defined]


def pacemaker_services(b: _Builder, cib: Cib) -> None:
    members, role, deps = b.pm_members, b.pm_role, b.pm_deps  # type: ignore[attr-defined]
    for p in sorted(cib.primitives, key=lambda p: p.id):
        if p.cls == "stonith" or p.type == "IPaddr2":
            continue
        kw: list[str] = []
        comments: list[str] = []
        process = _AGENT_PROCESS.get(p.type, p.type) if p.cls == "ocf" else p.type
        if process != p.id:
            kw.append(f"process={process!r}")
        kw.append(f"on={role!r}")
        # A VIP colocated with a promotable cluster follows its promoted member (AppCluster.vips).
        promotable = p.clone and p.type in _AGENT_PROCESS and p.clone_meta.get("promotable") == "true"
        if p.id in b.ap_vip_holders and p.clone and not promotable:
            vs = [var(v) for v in b.ap_vip_holders[p.id]]
            strat = f"PacemakerVip({vs[0] if len(vs) == 1 else '[' + ', '.join(vs) + ']'})"  # several: one list
            b.strategies.add("PacemakerVip")
            kw.append("supervisor='pacemaker'")
            b.vrrp_services = getattr(b, "vrrp_services", {})
            b.vrrp_services[p.id] = (process, set(members))
        elif p.clone and p.type in _AGENT_PROCESS:
            b.strategies.add("AppCluster")
            n = int(p.clone_meta.get("clone-max", len(members)))
            kw.append(f"replicas={n}")
            access = b.managed_access.get(p.id)
            vips = b.ap_vip_holders.get(p.id)
            strat = (
                "AppCluster(manager='pacemaker'"
                + (f", access={access}" if access else "")
                + (f", vips=[{', '.join(map(var, vips))}]" if vips else "")
                + ")"
            )
            comments.append("TODO recovery and cold_start: what the resource agent does after every member stopped.")
        elif p.clone:
            kw.append("supervisor='pacemaker'")
            strat = "Coordinated()"
            b.strategies.add("Coordinated")
            comments.append(f"TODO: a clone of {p.agent}: how do its instances share work? (Coordinated is a guess)")
        elif p.cls == "systemd" or p.cls == "ocf":
            b.strategies.add("ActivePassive")
            vips = b.ap_vip_holders.get(p.id)
            strat = (
                "ActivePassive(manager='pacemaker'" + (f", vips=[{', '.join(map(var, vips))}]" if vips else "") + ")"
            )
            kw.append("replicas='all'")
        else:
            b.unmapped.append(Unmapped(cib.file, p.line, f"primitive {p.id} ({p.agent})", "unsupported"))
            continue
        if p.id in deps:
            kw.append(f"depends_on={sorted(set(deps[p.id]))!r}")
        b.services.append((f"Service({p.id!r}, {', '.join(kw)}{{ports}}, strategy={strat})", comments))


def _fences(b: _Builder, stonith: list[Primitive], cib: Cib) -> list[str]:
    by_agent: dict[str, list[Primitive]] = {}
    for p in stonith:
        by_agent.setdefault(p.type, []).append(p)
    out = []
    for agent, prims in sorted(by_agent.items()):
        m = re.match(r"fence-(.+)-" + re.escape(prims[0].attrs.get("pcmk_host_list", "")) + "$", prims[0].id)
        name = m.group(1) if m else agent.removeprefix("fence_")
        keys = set.intersection(*(set(p.attrs) for p in prims)) - {"pcmk_host_list"}
        common = {k: prims[0].attrs[k] for k in sorted(keys) if all(p.attrs[k] == prims[0].attrs[k] for p in prims)}
        params = []
        for k, v in common.items():
            if k in ("password", "passwd"):
                env = f"HAMODEL_{var(name).upper()}_PASSWORD"
                b.imports.add("SecretRef")
                params.append(f"{k!r}: SecretRef(env={env!r})")
                b.notes.append(f"fence device {name}: its {k} is read from ${env} at build time (not copied)")
            else:
                params.append(f"{k!r}: {int(v) if v.isdigit() else v!r}")
        per_node = {}
        for p in prims:
            host = p.attrs.get("pcmk_host_list", "")
            rest = {k: v for k, v in p.attrs.items() if k not in common and k != "pcmk_host_list"}
            if host:
                per_node[host] = rest
        b.imports.add("FenceDevice")
        out.append(
            f"FenceDevice({name!r}, agent={agent!r}, params={{{', '.join(params)}}}, "
            f"per_node={dict(sorted(per_node.items(), key=lambda kv: natural(kv[0])))!r})"
        )
    return out


def _host_mask(ip: str, mask: str) -> bool:
    """A /32 (/128) mask: the address alone, no network."""
    return mask.isdigit() and int(mask) == (128 if ":" in ip else 32)
