"""Rendering a cluster's plan: corosync.conf per node, cib.xml and pcs-setup.sh
(jinja2 templates beside this module), and where each is installed.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from hamodel.generators.common import ConfigError, NodeFile, environment, token
from hamodel.generators.pacemaker.cib import Primitive, duplicate_ids
from hamodel.generators.pacemaker.plan import ClusterPlan

from hamodel.deployment import Deployment

TEMPLATES = Path(__file__).parent
COROSYNC_DEST = "/etc/corosync/corosync.conf"
AUTHKEY = "/etc/corosync/authkey"
CIB_PATH = "pacemaker/cib.xml"
PCS_PATH = "pacemaker/pcs-setup.sh"
CIB_DEST = "/etc/hamodel/pacemaker/cib.xml"
PCS_DEST = "/etc/hamodel/pacemaker/pcs-setup.sh"
# The CIB schema Pacemaker 2.1.5 writes (cibadmin --empty).
CIB_SCHEMA = "pacemaker-3.9"
CIB_FEATURE_SET = "3.16.1"


def _xml(value: Any) -> str:
    """An XML attribute value (tokens already; escaped all the same)."""
    from xml.sax.saxutils import quoteattr

    return quoteattr(str(value))[1:-1]


def _xml_comment(value: Any) -> str:
    """Free text inside ``<!-- -->``: printable ASCII, no ``--``, no trailing ``-``."""
    from hamodel.generators.common import comment

    text = _xml(comment(str(value)))
    while "--" in text:
        text = text.replace("--", "- -")
    return text + " " if text.endswith("-") else text


def _pcs_create(r: Primitive) -> str:
    """The ``pcs -f "$CIB" ... create`` command of one resource, one option group a line."""
    q = shlex.quote

    head = ["pcs", '-f "$CIB"'] + (
        ["stonith", "create", q(r.id), q(r.type)] if r.cls == "stonith" else ["resource", "create", q(r.id), q(r.agent)]
    )
    # A secret never goes on pcs's command line (ps shows it to every user): see _pcs_secrets.
    head += [q(f"{p.name}={p.value}") for p in r.params if not p.secret] + ["--no-default-ops"]
    lines = [" ".join(head)]
    for o in r.ops:
        lines.append(
            " ".join(
                ["    op", o.name, f"interval={o.interval}"]
                + ([f"timeout={o.timeout}"] if o.timeout else [])
                + ([f"role={o.role}"] if o.role else [])
                + ([f"on-fail={o.on_fail}"] if o.on_fail else [])
            )
        )
    if r.clone:
        lines.append(
            " ".join(
                ["   ", "promotable" if r.promotable else "clone", q(r.clone)]
                + [q(f"{k}={v}") for k, v in r.clone_meta if k != "promotable"]
            )
        )
    if r.force:
        lines[-1] += " --force"
    return " \\\n".join(lines)


def _pcs_secrets(r: Primitive) -> str:
    """The secret parameters of ``r`` merged into the CIB file by ``cibadmin``
    from a here-document: the value goes through a pipe, never onto a command
    line (a ``pcs ... password=X`` shows in ``ps`` while it runs)."""
    secret = [p for p in r.params if p.secret]
    if not secret:
        return ""
    rid = _xml(r.id)
    pairs = "".join(
        f'<nvpair id="{rid}-instance_attributes-{_xml(p.name)}" name="{_xml(p.name)}" '
        f'value="{_xml(token(p.value, "fence_secret", "template"))}"/>'
        for p in secret
    )
    return (
        f"CIB_file=\"$CIB\" cibadmin --modify --scope resources --xml-pipe <<'HAMODEL_SECRET'\n"
        f'<primitive id="{rid}"><instance_attributes id="{rid}-instance_attributes">{pairs}'
        f"</instance_attributes></primitive>\nHAMODEL_SECRET\n"
    )


def _env():
    env = environment(TEMPLATES)
    env.filters["xml"] = _xml
    env.filters["xml_comment"] = _xml_comment
    env.filters["pcs_create"] = _pcs_create
    env.filters["pcs_secrets"] = _pcs_secrets
    env.filters["sh"] = lambda v: shlex.quote(str(v))
    return env


def render_pacemaker(dep: Deployment, plan: ClusterPlan | None, redacted: ClusterPlan | None) -> list[NodeFile]:
    """corosync.conf per cluster node, cib.xml and pcs-setup.sh; nothing without a cluster."""
    if plan is None or redacted is None:
        return []
    env = _env()
    model = dep.architecture.name
    files = []
    corosync = env.get_template("corosync.conf.j2").render(model=model, c=plan.corosync, authkey=AUTHKEY).encode()
    members = tuple(n.name for n in plan.corosync.nodes)
    services = plan.cib.services
    vips = tuple(sorted({v for g in dep.vrrp_groups if g.manager == "pacemaker" for v in g.vips}))
    # knet encrypts with the cluster's key: a secret of the deployment, not generated (corosync-keygen).
    key = (AUTHKEY,) if plan.corosync.transport == "knet" else ()
    for n in members:
        files.append(
            NodeFile(
                node=n,
                kind="corosync",
                path=f"nodes/{n}/corosync/corosync.conf",
                dest=COROSYNC_DEST,
                services=services,
                vips=vips,
                data=corosync,
                redacted=corosync,
                secret=False,
                references=key,
            )
        )

    def both(name: str) -> tuple[bytes, bytes]:
        t = env.get_template(name)
        return tuple(
            t.render(
                model=model,
                cib=p.cib,
                c=p.corosync,
                schema=CIB_SCHEMA,  # type: ignore[return-value]
                feature_set=CIB_FEATURE_SET,
                cib_dest=CIB_DEST,
            ).encode()
            for p in (plan, redacted)
        )

    cib, cib_r = both("cib.xml.j2")
    dup = duplicate_ids(cib)
    if dup:
        # Ids pcs derives from a resource's (ops, nvpairs) can meet another object's.
        raise ConfigError(
            [
                (
                    "pacemaker",
                    f"the CIB would give id {i} to {len(tags)} elements ({', '.join(tags)}): "
                    "crm_verify refuses it; rename the service, VIP or fence device whose name makes it; "
                    "nothing was written",
                )
                for i, tags in dup
            ]
        )
    pcs, pcs_r = both("pcs-setup.sh.j2")
    # Cluster-wide: installed on the cluster's first node and pushed once from there.
    first = members[0]
    files.append(
        NodeFile(
            node=first,
            kind="pacemaker-cib",
            path=CIB_PATH,
            dest=CIB_DEST,
            services=services,
            vips=vips,
            data=cib,
            redacted=cib_r,
            secret=plan.cib.secret,
        )
    )
    files.append(
        NodeFile(
            node=first,
            kind="pacemaker-pcs",
            path=PCS_PATH,
            dest=PCS_DEST,
            services=services,
            vips=vips,
            data=pcs,
            redacted=pcs_r,
            secret=plan.cib.secret,
        )
    )
    return files
