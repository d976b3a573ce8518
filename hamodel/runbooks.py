"""Runbooks: the operator's procedures for the recovery cases the analysis found.

One :class:`Runbook` per case the :class:`~hamodel.deployment.Deployment`'s
findings name, never a case written here for its own sake:

- every cluster of the ``manual-recovery`` finding, one runbook per case
  its ``details.cases`` marks ``manual`` (Galera: graceful stop of every
  member; crash after which a member is missing; RabbitMQ and others:
  their ``recovery`` procedure, with this model's nodes);
- every keepalived group with a ``split-brain:<service>`` finding: the
  checks after the partition heals;
- every Pacemaker-managed VIP group whose service has a cut set, quorum or
  Pacemaker finding: a cluster that lost quorum.

A runbook is data: ``recognise`` (the alerts that announce the case, by
name, from :mod:`hamodel.generators.monitoring`), ``steps`` in order, each
with the node it runs on, the shell command with this model's node names
and Debian paths, and a machine-readable ``action`` (the Galera drill
executes the steps by action, :mod:`hamodel.drill.galera.runbook`), and
``verify``. The docs render it (``runbooks.rst``); alerts link to it by
:func:`anchor` (``runbook_url``). It lives beside the Deployment, not among the generators: the
monitoring and docs generators and the Galera drill all read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hamodel.deployment import Deployment, Finding
from hamodel.metrics import software as _software

#: Where Debian's MariaDB keeps its data (grastate.dat lives here).
MYSQL_DATADIR = "/var/lib/mysql"
#: The docs page every runbook is a section of, relative to the model's document folder.
PAGE = "runbooks"


@dataclass(frozen=True)
class Step:
    """One step: run ``command`` on ``node`` (None: any node / the operator's
    workstation). ``action`` names what it does for a program that executes
    the runbook (the drill): ``read-grastate``, ``choose-bootstrap``,
    ``wsrep-recover``, ``set-safe-to-bootstrap``, ``bootstrap``, ``start``,
    ``stop``, ``verify-primary``, ``shell`` (only for a person)."""

    action: str
    command: str
    why: str
    node: str | None = None


@dataclass(frozen=True)
class Runbook:
    id: str  # the page anchor
    title: str
    service: str
    finding: str  # the finding id it mitigates
    case: str  # the case, in the finding's own words
    summary: str
    recognise: tuple[str, ...]  # alert names
    steps: tuple[Step, ...]
    verify: tuple[Step, ...]
    nodes: tuple[str, ...] = field(default=())

    @property
    def url(self) -> str:
        """Relative to the model's document folder (the alerts' ``runbook_url``)."""
        return f"{PAGE}.html#{self.id}"


def anchor(*parts: str) -> str:
    """A stable Sphinx-style anchor (lower case, ``-`` between words)."""
    text = "-".join(parts).lower()
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").replace("--", "-")


def software(dep: Deployment, service: str) -> str:
    """The procedure family of a cluster (:func:`hamodel.metrics.software`)."""
    return _software(dep.architecture, service)


# -- alerts that announce each case (names shared with the monitoring generator) --


def alert_name(kind: str, service: str) -> str:
    """``HamodelGaleraNoPrimary`` style names: one per (kind, service)."""
    camel = "".join(p.capitalize() for p in service.replace("_", "-").replace(".", "-").split("-"))
    return f"Hamodel{kind}{camel}"


def _galera_graceful(dep: Deployment, f: Finding, svc: str, nodes: tuple[str, ...]) -> Runbook:
    g = f"{MYSQL_DATADIR}/grastate.dat"
    steps = [
        Step(
            "stop",
            "systemctl stop mariadb",
            "members still waiting for a primary component take no connections; stop them all first",
            n,
        )
        for n in nodes
    ]
    steps += [Step("read-grastate", f"cat {g}", "note seqno and safe_to_bootstrap", n) for n in nodes]
    steps.append(
        Step(
            "choose-bootstrap",
            "",
            "bootstrap the member with safe_to_bootstrap: 1 (the last one stopped); if none has it, the "
            f"one with the highest seqno, after `sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' {g}` "
            "on it",
        )
    )
    steps.append(
        Step(
            "bootstrap", "galera_new_cluster", "on the chosen member only: starts a new primary component from its data"
        )
    )
    steps += [Step("start", "systemctl start mariadb", "joins the bootstrapped member (IST or SST)", n) for n in nodes]
    verify = [
        Step(
            "verify-primary",
            'mysql -e "SHOW STATUS WHERE Variable_name IN '
            "('wsrep_cluster_status','wsrep_cluster_size','wsrep_local_state_comment')\"",
            f"Primary, size {len(nodes)}, Synced on every member",
            n,
        )
        for n in nodes
    ]
    return Runbook(
        anchor(svc, "graceful-full-stop"),
        f"{svc}: every member stopped gracefully",
        svc,
        f.id,
        "graceful stop of every member",
        f"After a clean stop of all of {', '.join(nodes)} no member starts a primary component by itself: "
        "the last one stopped holds safe_to_bootstrap: 1 and must be bootstrapped, the others join it.",
        (alert_name("GaleraNoPrimary", svc), alert_name("GaleraMemberDown", svc)),
        tuple(steps),
        tuple(verify),
        nodes,
    )


def _galera_missing(dep: Deployment, f: Finding, svc: str, nodes: tuple[str, ...]) -> Runbook:
    g = f"{MYSQL_DATADIR}/grastate.dat"
    steps = [
        Step(
            "wsrep-recover",
            "mysqld --user=mysql --wsrep-recover --log-error=/tmp/wsrep-recover.log && "
            "grep 'Recovered position' /tmp/wsrep-recover.log",
            "after a crash grastate.dat says seqno: -1; this prints uuid:seqno of the last committed transaction",
            n,
        )
        for n in nodes
    ]
    steps.append(Step("choose-bootstrap", "", "the reachable member with the highest recovered seqno"))
    steps.append(
        Step(
            "set-safe-to-bootstrap",
            f"sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' {g}",
            "on the chosen member only: Galera refuses to bootstrap a member not marked safe",
        )
    )
    steps.append(Step("bootstrap", "galera_new_cluster", "on the chosen member only"))
    steps += [
        Step(
            "start",
            "systemctl start mariadb",
            "each other reachable member joins; the missing one joins by itself when it is back",
            n,
        )
        for n in nodes
    ]
    verify = [
        Step("verify-primary", "mysql -e \"SHOW STATUS LIKE 'wsrep_cluster_%'\"", "Primary on every running member", n)
        for n in nodes
    ]
    return Runbook(
        anchor(svc, "crash-member-missing"),
        f"{svc}: crash of every member, one does not return",
        svc,
        f.id,
        "crash, a member missing",
        "After a power loss the saved view state re-forms the cluster only when every member is back; if one "
        "stays down, recover each member's position and bootstrap the most advanced one.",
        (alert_name("GaleraMemberDown", svc), alert_name("GaleraNoPrimary", svc)),
        tuple(steps),
        tuple(verify),
        nodes,
    )


def _rabbitmq(dep: Deployment, f: Finding, svc: str, nodes: tuple[str, ...], case: str) -> Runbook:
    steps = [
        Step(
            "shell",
            "journalctl -u rabbitmq-server -b -1 | tail -n 3",
            "find which member stopped last (its shutdown has the latest time)",
            n,
        )
        for n in nodes
    ]
    steps.append(
        Step(
            "shell",
            "systemctl start rabbitmq-server",
            "start the member that stopped last first: it holds the newest cluster view",
        )
    )
    steps += [Step("start", "systemctl start rabbitmq-server", "the others, one after the other", n) for n in nodes]
    steps.append(
        Step(
            "shell",
            "rabbitmqctl force_boot && systemctl start rabbitmq-server",
            "only if the last member to stop cannot come back: on another member, once",
        )
    )
    verify = [Step("verify", "rabbitmqctl cluster_status", f"running nodes: {', '.join(nodes)}", nodes[0])]
    return Runbook(
        anchor(svc, case),
        f"{svc}: {case}",
        svc,
        f.id,
        case,
        f"RabbitMQ members wait for the last member stopped before they boot: {f.details.get('procedures', {}).get(svc, '')}.",
        (alert_name("RabbitmqQuorumLost", svc), alert_name("RedundancyDegraded", svc), "HamodelNodeDown"),
        tuple(steps),
        tuple(verify),
        nodes,
    )


def _generic(dep: Deployment, f: Finding, svc: str, nodes: tuple[str, ...], case: str) -> Runbook:
    proc = f.details.get("procedures", {}).get(svc, "restart all members")
    steps = (Step("shell", "", f"follow the service's recovery procedure: {proc}"),)
    verify = (Step("verify", "", f"every member of {', '.join(nodes)} is back in the cluster"),)
    return Runbook(
        anchor(svc, case),
        f"{svc}: {case}",
        svc,
        f.id,
        case,
        f"The model gives the procedure as: {proc}.",
        (alert_name("RedundancyDegraded", svc), "HamodelNodeDown"),
        steps,
        verify,
        nodes,
    )


def _split_brain(dep: Deployment, f: Finding, svc: str) -> Runbook:
    g = dep.group_of(svc)
    assert g is not None
    vips = [dep.architecture.vip(v) for v in g.vips]
    addrs = " ".join(str(v.address) for v in vips)
    steps = [
        Step(
            "shell",
            f"ip -brief address | grep -wF -e {' -e '.join(str(v.address) for v in vips)}",
            "which members hold the VIP now",
            n,
        )
        for n in g.members
    ]
    steps.append(
        Step(
            "shell",
            "journalctl -u keepalived --since -1h | grep -E 'Entering (MASTER|BACKUP)'",
            f"on {g.master} (the preferred master): the partition's start and end",
        )
    )
    steps.append(
        Step(
            "shell",
            "systemctl restart keepalived",
            "only on a member that still holds the VIP but is not the preferred master, if it "
            "did not step down within a few adverts after the heal",
        )
    )
    verify = (
        Step("verify", f"ip -brief address | grep -cwF {vips[0].address!s}", f"1 on {g.master}, 0 on the others", None),
        Step(
            "verify",
            f"arping -c 2 -I <interface> {vips[0].address!s}",
            "one MAC answers: clients' ARP caches point at one holder",
        ),
    )
    return Runbook(
        anchor(svc, "split-brain-after-heal"),
        f"{svc}: VRRP split brain, after the partition heals",
        svc,
        f.id,
        "split brain",
        f"During a partition every side elects a master of {addrs}; after the heal "
        "keepalived converges by itself, but clients may keep a stale ARP entry and connections made "
        "during the split may have written to both sides.",
        (alert_name("VrrpSplitBrain", svc), alert_name("VrrpNoMaster", svc)),
        tuple(steps),
        verify,
        g.members,
    )


def _pacemaker(dep: Deployment, f: Finding, svc: str) -> Runbook:
    g = dep.group_of(svc)
    assert g is not None
    steps = [Step("shell", "corosync-quorumtool -s", "Quorate: No on the members without quorum", n) for n in g.members]
    steps.append(Step("shell", "crm_mon -1 -rf", "which resources stopped (no-quorum-policy=stop) and why"))
    steps.append(
        Step(
            "shell",
            "systemctl start corosync pacemaker",
            "on every member that is down, once its node is back: quorum returns with a majority",
        )
    )
    steps.append(
        Step(
            "shell",
            "pcs quorum unblock",
            "only when the missing members are certainly powered off (fenced) and will not return soon: "
            "lets the survivors run without them",
        )
    )
    verify = (Step("verify", "crm_mon -1", f"{len(g.members)} nodes online, the VIP started once"),)
    return Runbook(
        anchor(svc, "pacemaker-no-quorum"),
        f"{svc}: Pacemaker cluster without quorum",
        svc,
        f.id,
        "quorum lost",
        "A Pacemaker partition without quorum stops its resources: the VIP is served nowhere until quorum returns.",
        (alert_name("RedundancyDegraded", svc), "HamodelNodeDown"),
        tuple(steps),
        verify,
        g.members,
    )


def runbooks(dep: Deployment) -> list[Runbook]:
    """Every runbook the Deployment's findings call for, by id."""
    out: list[Runbook] = []
    for f in dep.findings:
        if f.kind == "manual-recovery":
            for svc, cases in sorted(dict(f.details.get("cases", {})).items()):
                nodes = dep.placement.nodes_of(svc)
                kind = software(dep, svc)
                for case, how in sorted(cases.items()):
                    if how != "manual":
                        continue
                    if kind == "galera" and case == "graceful stop of every member":
                        out.append(_galera_graceful(dep, f, svc, nodes))
                    elif kind == "galera" and case == "crash, a member missing":
                        out.append(_galera_missing(dep, f, svc, nodes))
                    elif kind == "rabbitmq":
                        out.append(_rabbitmq(dep, f, svc, nodes, case))
                    else:
                        out.append(_generic(dep, f, svc, nodes, case))
        elif f.kind == "split-brain":
            svc = f.id.split(":", 1)[1]
            g = dep.group_of(svc)
            if g is not None and g.manager == "keepalived":
                out.append(_split_brain(dep, f, svc))
    for g in sorted(dep.vrrp_groups, key=lambda g: g.service):
        if g.manager != "pacemaker":
            continue
        related = [
            f
            for f in dep.findings
            if g.service in f.services[:1]
            and f.kind in ("cut-set", "quorum-loss", "pacemaker-quorum", "single-point-of-failure")
        ]
        if related:
            out.append(_pacemaker(dep, related[0], g.service))
    seen: set[str] = set()
    unique = []
    for r in sorted(out, key=lambda r: r.id):
        if r.id not in seen:
            seen.add(r.id)
            unique.append(r)
    return unique


class Runbooks(list[Runbook]):
    """A list of runbooks indexed by alert name once, for :func:`for_alert` (a
    large model asks it once per alert). Not to be changed after it is built."""

    def __init__(self, runbooks: Iterable[Runbook] = ()) -> None:
        super().__init__(runbooks)
        self.first: dict[str, Runbook] = {}
        self.listing: dict[str, Runbook] = {}
        for r in self:
            if r.recognise:
                self.first.setdefault(r.recognise[0], r)
            for a in r.recognise:
                self.listing.setdefault(a, r)


def for_alert(dep_runbooks: list[Runbook], alert: str) -> Runbook | None:
    """The runbook an alert announces first (its first ``recognise``), else the first that lists it."""
    if isinstance(dep_runbooks, Runbooks):
        return dep_runbooks.first.get(alert) or dep_runbooks.listing.get(alert)
    return next((r for r in dep_runbooks if r.recognise[:1] == (alert,)), None) or next(
        (r for r in dep_runbooks if alert in r.recognise), None
    )
