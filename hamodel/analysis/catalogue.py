"""The catalogue of finding kinds: every finding hamodel reports, as data.

One :class:`Rule` per condition the analysis detects: its id template, its
kind, its default severity (and the others it may take), its title, impact
and mitigation templates and the text the documentation shows. The
analysis builds findings only through a rule
(``SPOF.finding(service=..., services=..., scenario=..., ...)``); the CLI
gates on :class:`~hamodel.deployment.Severity`; the "checks" page of the
guide is rendered from :data:`RULES` (directive ``hamodel-findings``).

Templates are :meth:`str.format` strings over the keyword fields a rule is
given. An impact or mitigation of ``None`` is derived by the analysis from
the cause (the kind of component that failed, the strategy) and passed in
as ``impact=`` / ``mitigation=``.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hamodel.analysis.results import Finding, Severity

__all__ = ["RULES", "Rule", "rule_for"]


@dataclass(frozen=True)
class Rule:
    """One kind of finding and the prose that goes with it."""

    name: str
    #: Finding id, a template: ``"spof:{service}"``. Stable across runs (acknowledged by id).
    id: str
    kind: str
    severity: Severity
    title: str
    #: What the documentation says: when the rule fires and what it means.
    doc: str
    impact: str | None = None
    mitigation: str | None = None
    #: Other severities the analysis may give (e.g. ``low`` for an optional service).
    also: tuple[Severity, ...] = ()

    @property
    def prefix(self) -> str:
        """The fixed start of the id (``"spof:"``), or the whole id when it has no field."""
        return self.id.split("{", 1)[0]

    @property
    def severities(self) -> tuple[Severity, ...]:
        """Every severity this rule may give, highest first."""
        return tuple(sorted({self.severity, *self.also}, reverse=True))

    def fields(self) -> set[str]:
        """The keyword fields the templates use."""
        return _fields_of(self.id, self.title, self.impact, self.mitigation)

    def finding(
        self,
        *,
        services: Iterable[str],
        scenario: Iterable[str] = (),
        severity: Severity | str | None = None,
        impact: str | None = None,
        mitigation: str | None = None,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Finding:
        """The finding this rule describes, its templates filled from ``fields``.

        ``severity`` defaults to the rule's; another one must be among those
        the rule declares (the docs list them). ``impact`` / ``mitigation``
        replace the templates (required where the rule has none).
        """
        sev = self.severity if severity is None else Severity(severity)
        if sev not in self.severities:
            raise ValueError(
                f"finding rule {self.name}: severity {sev.value!r} is not one of "
                f"{', '.join(s.value for s in self.severities)}"
            )
        needed = _fields_of(
            self.id,
            self.title,
            None if impact is not None else self.impact,
            None if mitigation is not None else self.mitigation,
        )
        missing = sorted(needed - fields.keys())
        if missing:
            raise TypeError(f"finding rule {self.name}: missing field(s) {', '.join(missing)}")
        for label, given, template in (("impact", impact, self.impact), ("mitigation", mitigation, self.mitigation)):
            if given is None and template is None:
                raise TypeError(f"finding rule {self.name}: {label} is derived by the caller and was not given")
        return Finding(
            self.id.format(**fields),
            self.kind,
            sev,
            self.title.format(**fields),
            tuple(services),
            tuple(scenario),
            impact if impact is not None else self.impact.format(**fields),  # type: ignore[union-attr]
            mitigation if mitigation is not None else self.mitigation.format(**fields),  # type: ignore[union-attr]
            details=dict(details or {}),
        )


def _fields_of(*templates: str | None) -> set[str]:
    return {f for t in templates if t for _, f, _, _ in string.Formatter().parse(t) if f}


H, M, L, I, C = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO, Severity.CRITICAL

_QDEVICE = (
    "Add a quorum device: PacemakerCluster(qdevice=...) with corosync-qnetd on a machine outside the "
    "cluster (then one node plus the qdevice keep quorum)."
)

UNAVAILABLE = Rule(
    "UNAVAILABLE",
    "unavailable:{service}",
    "unavailable",
    C,
    "{service} is down with nothing failed",
    "The service is down with nothing failed: no instance can serve as placed. Fix the placement or the strategy.",
    impact="{service} cannot run as placed (no instance, or no instance can serve).",
    mitigation="Fix the placement or the strategy.",
)

SPOF = Rule(
    "SPOF",
    "spof:{service}",
    "single-point-of-failure",
    H,
    "{service} is a single point of failure",
    "A single failure stops the service: its own cut set, not one inherited from a dependency (that one is "
    "reported under the dependency). The impact names the cause (the only node or process that can serve, "
    "the only VIP holder, a power feed, rack or switch holding every instance) and the mitigation follows "
    "from it. Low for a service marked not required.",
    also=(L,),
)

PARTIAL_OUTAGE = Rule(
    "PARTIAL_OUTAGE",
    "partial-outage:{service}",
    "partial-outage",
    M,
    "{service} is a single point of failure for {shard}",
    "A sharded service loses the shards of a failed node or process until they are recovered or recreated elsewhere.",
    impact="Each instance owns {shard}; a failed node or process loses them until it is recovered "
    "or they are recreated elsewhere (partial outage).",
    mitigation="Accept, or use a driver with fail-over; monitor and recreate lost shards.",
)

QUORUM_LOSS = Rule(
    "QUORUM_LOSS",
    "quorum-loss:{service}",
    "quorum-loss",
    H,
    "{service} loses quorum on a single failure{domains}",
    "A single failure (a rack or a power feed holding several members, the only switch) breaks a cluster's "
    "quorum: spread the members, dual-cord them or bond their interfaces. Medium for a service marked not "
    "required.",
    impact="{service} needs {quorum} of its {voters} {votes} alive and together. {cause}{lost}{also}",
    also=(M,),
)

QUORUM_LOSS_INHERENT = Rule(
    "QUORUM_LOSS_INHERENT",
    "quorum-loss:{service}",
    "quorum-loss",
    L,
    "{service} loses quorum when {size} components fail",
    "The inherent limit of a quorum: losing 2 (low) or more (info) of its members stops the cluster.",
    impact="{service} needs {quorum} of {voters} {votes} alive and together; {scenario_text} leaves fewer.",
    mitigation="Inherent to a quorum of this size; add members (or a witness) to tolerate more.",
    also=(I,),
)

CUT_SETS = Rule(
    "CUT_SETS",
    "cut-sets:{service}",
    "cut-set",
    L,
    "{service} stops when {size} components fail",
    "The service stops when 2 (low) or more (info) components fail: the inherent redundancy limit. Info for "
    "a service marked not required.",
    impact="{sets} of {sizes} failures stop {service}, e.g. {scenario_text}.",
    mitigation="Inherent redundancy limit; add instances or spread them to tolerate more.",
    also=(I,),
)

SPLIT_BRAIN = Rule(
    "SPLIT_BRAIN",
    "split-brain:{service}",
    "split-brain",
    M,
    "Network partition: split brain in {what}",
    "A partition leaves masters on both sides (VRRP, no quorum): the VIP is held twice. High when a single "
    "failure does it. Use a quorum-based manager with fencing or redundant inter-switch links.",
    impact="After {scenario_text} the holders on each side of the partition cannot see each other and each "
    "becomes master{on_network}: {served_twice}.",
    mitigation="Let a manager with a quorum and fencing hold the address (Pacemaker), or add inter-switch "
    "links so that {no_split} the switches; otherwise accept it and alert when the address "
    "answers from two nodes (it clears when the partition heals). Model: PacemakerVip, or more links.",
    also=(H,),
)

READS_OUTLAST_WRITES = Rule(
    "READS_OUTLAST_WRITES",
    "reads-outlast-writes:{service}",
    "read-write",
    I,
    "{service} keeps answering reads after failures that stop its writes",
    "A single-writer (elected) service whose replicas answer reads without a leader: read and write "
    "availability differ, and both are reported.",
    impact="Writes to {service} stop on {writes} minimal set(s) of at most {k} failures (e.g. {scenario_text}: no "
    "member can take the leader lock from {coordinator}); reads stop on {reads}: the replicas still answer "
    "them, possibly stale.",
    mitigation="Clients that only read can use the replicas; those that write need the leader: see the write cut sets.",
)

SITE_FAILURE = Rule(
    "SITE_FAILURE",
    "site-failure:{domain}",
    "site-failure",
    L,
    "Every node is in {component}",
    "A domain declared the site boundary (``site=True``, kind ``region`` or ``site``) encloses every node: "
    "its failure stops everything. Reported once instead of in every service's cut sets. Any other domain "
    "holding every node (one power feed, one rack) is an ordinary single point of failure.",
    impact="The failure of {component} stops every service: the architecture has no second site.",
    mitigation="Accept, or add a disaster-recovery site.",
)

MONITORING_REQUIRED = Rule(
    "MONITORING_REQUIRED",
    "monitoring-required",
    "no-automatic-recovery",
    M,
    "Service monitoring and recovery required",
    "Nothing restarts failed processes and no external monitoring is modelled: a failure stays until an "
    "operator notices it.",
    impact="Nothing restarts a failed process of {count_services}{no_failover}; a failure stays until an "
    "operator notices it.",
    mitigation="Alert an operator from external monitoring when a process or check fails, and let systemd restart "
    "failed processes (Restart=on-failure) or Pacemaker manage them. Model: an External service "
    "providing 'monitoring'; supervisor='systemd'.",
)

NO_AUTOMATIC_RESTART = Rule(
    "NO_AUTOMATIC_RESTART",
    "no-automatic-restart",
    "no-automatic-recovery",
    I,
    "Failed processes are not restarted automatically",
    "Nothing restarts failed processes, but external monitoring is modelled: operators restart them.",
    impact="External monitoring is modelled; operators restart failed processes.",
    mitigation="Set supervisor='systemd' to restart them automatically.",
)

MANUAL_RECOVERY = Rule(
    "MANUAL_RECOVERY",
    "manual-recovery",
    "manual-recovery",
    M,
    "Manual recovery after a full cluster restart",
    "Quorum clusters that need an operator after a full restart; the finding lists each service's recovery "
    "procedure and which restarts need it (cold_start='manual': every one; 'automatic-after-crash': a "
    "graceful stop of all members, or a crash after which a member does not return; "
    "'automatic-when-all-back': only a member that does not return).",
    impact="After every member stopped (power loss, full restart) these clusters need an operator, case by "
    "case: {procedures}.",
    mitigation="Write down each procedure and rehearse it, or let Pacemaker's resource agents bootstrap the "
    "clusters. Model: manager='pacemaker', cold_start='automatic'.",
)

PACEMAKER_TWO_NODE = Rule(
    "PACEMAKER_TWO_NODE",
    "pacemaker:two-node",
    "pacemaker-quorum",
    H,
    "2-node Pacemaker cluster tolerates no node failure",
    "A 2-node Pacemaker cluster with majority quorum and no quorum device: either node failing stops every resource.",
    impact="Majority quorum of 2 nodes is 2 votes: when either node fails the other loses quorum and stops {stopped}.",
    mitigation=_QDEVICE + " Or set two_node=True with fencing.",
)

PACEMAKER_TWO_NODE_NO_FENCING = Rule(
    "PACEMAKER_TWO_NODE_NO_FENCING",
    "pacemaker:two-node",
    "pacemaker-quorum",
    H,
    "2-node Pacemaker cluster without fencing",
    "A 2-node Pacemaker cluster with ``two_node`` but without fencing: a partition leaves both nodes running "
    "the resources.",
    impact="With two_node each node alone is quorate; without fencing a partition leaves both nodes "
    "running the resources (split brain).",
    mitigation="Enable fencing (STONITH). " + _QDEVICE,
)

PACEMAKER_FENCE_RACE = Rule(
    "PACEMAKER_FENCE_RACE",
    "pacemaker:two-node",
    "pacemaker-quorum",
    L,
    "2-node Pacemaker cluster: partitions end in a fence race",
    "A 2-node Pacemaker cluster with ``two_node`` and fencing: in a partition both nodes try to fence the "
    "other. A quorum device avoids the race.",
    impact="With two_node and fencing one node survives a node failure; in a partition both try to fence the "
    "other; {race}.",
    mitigation=_QDEVICE,
)

PACEMAKER_NO_FENCING = Rule(
    "PACEMAKER_NO_FENCING",
    "pacemaker:no-fencing",
    "pacemaker-quorum",
    M,
    "Pacemaker without fencing",
    "Nothing guarantees that a Pacemaker node which lost quorum stops its resources before another node starts them.",
    impact="Nothing guarantees that a node which lost quorum (or hangs) stops its resources before another node "
    "starts them.",
    mitigation="Enable fencing (STONITH) with a device per node.",
)

_CAPACITY_IMPACT = (
    "After {failure} fails, {node} would need {cpu} CPU / {memory_gb} GB (has {capacity_cpu} / {capacity_memory_gb})."
)

CAPACITY_NODE = Rule(
    "CAPACITY_NODE",
    "capacity:n-plus-1",
    "capacity",
    M,
    "Not enough capacity after a single node failure",
    "After one node fails the survivors lack the CPU or memory for the load.",
    impact=_CAPACITY_IMPACT,
    mitigation="Add nodes or capacity, or lower requests.",
)

CAPACITY_DOMAIN = Rule(
    "CAPACITY_DOMAIN",
    "capacity:domain-loss",
    "capacity",
    M,
    "Not enough capacity after a single domain failure",
    "With ``hamodel check --capacity-per domain``: after one failure domain (a rack, a power feed) fails the "
    "survivors lack the capacity.",
    impact=_CAPACITY_IMPACT,
    mitigation="Add nodes or capacity, or lower requests.",
)

COLD_START = Rule(
    "COLD_START",
    "cold-start:wait-for-all",
    "cold-start",
    L,
    "Pacemaker waits for all nodes after a full power loss",
    "Pacemaker waits for all nodes after a full power loss; a node that does not return blocks quorum until "
    "an operator unblocks it.",
    impact="With wait_for_all, if a cluster node does not come back after a full power loss the cluster never "
    "gains quorum, so {stopped} stay stopped until an operator unblocks quorum.",
    mitigation="Document the quorum unblock procedure (pcs quorum unblock) in the runbook.",
)

# -- settings of the generated configuration (hamodel.analysis.config_findings) --

SHORT_TIMEOUT = Rule(
    "SHORT_TIMEOUT",
    "short-timeout:{service}",
    "config",
    M,
    "{service}'s database front cuts connections after a short idle time",
    "A single-writer database front (Galera) whose client or server timeout is under 600 s: HAProxy cuts "
    "every longer query and idle pooled connection.",
    impact="The single-writer listener of {service} keeps {shown}: HAProxy closes any query or pooled "
    "connection idle or running longer than that, which applications see as a lost connection.",
    mitigation="Raise {where}.timeout_client_s and timeout_server_s to at least {minimum} "
    "(the default for single_writer is 3600, as kolla-ansible uses for MariaDB).",
)

CLEARTEXT_PUBLIC = Rule(
    "CLEARTEXT_PUBLIC",
    "cleartext-public:{service}",
    "config",
    M,
    "{service} is served in clear text on the public VIP {vip}",
    'A front on an ``exposure="public"`` VIP without TLS termination.',
    impact="{service} listens on {vip} (exposure public) on port(s) {ports} "
    "without TLS: tokens and passwords cross untrusted networks readable and alterable.",
    mitigation="Give {where}.tls a certificate (tls={{'certificate': '/etc/...pem'}}) so HAProxy terminates TLS "
    "on {vip}, or move the front to an internal VIP.",
)

STATS_NO_AUTH = Rule(
    "STATS_NO_AUTH",
    "stats-no-auth:{service}",
    "config",
    M,
    "HAProxy statistics of {service} need no password",
    "An HAProxy statistics listener (a port of the VIP-holding haproxy service) without ``auth``.",
    impact="The stats listener on port(s) {ports} of every {service} node answers "
    "anyone who reaches the node's address: it shows every backend and server state.",
    mitigation="Give services[{service}].ports[...].auth a SecretRef (stats auth user:password), set "
    "loopback=True on the port (127.0.0.1 only), or drop the port.",
)

PORT_CLASH = Rule(
    "PORT_CLASH",
    "port-clash:{service}:{port}",
    "config",
    C,
    "{service} and the HAProxy front of {front} both want port {port} on {nodes}",
    "A service that binds every address (``listen='any'``: 0.0.0.0 / [::]) on a node that also carries an "
    "HAProxy front on the same port: whichever starts second cannot bind, so HAProxy or the service fails "
    "to start there.",
    impact="{service} listens on *:{port} (listen='any') on {nodes}, where HAProxy binds {vip}:{port} for "
    "{front}: whichever starts second fails to bind.",
    mitigation="Bind {service} to the node's own address (listen='node'), move it to another port, or run it on "
    "nodes that hold no HAProxy front on {port}.",
)

DETECTION_ORDER = Rule(
    "DETECTION_ORDER",
    "detection-order:{group}",
    "config",
    M,
    "keepalived moves {group}'s VIP before HAProxy marks a dead backend down",
    "Services whose backends run on the nodes holding a keepalived VIP, where HAProxy's worst-case time to "
    "mark a dead backend DOWN (fall x inter + min(timeout connect, inter)) exceeds the VRRP takeover time "
    "(3 x advert_int): the numbers are in the finding.",
    impact="When a node holding {group}'s VIP dies, a backup takes the VIP after {takeover} ms, but its HAProxy "
    "marks the dead node's backends DOWN only later ({late}; worst {worst}: fall {fall} x inter {inter} ms "
    "+ min(timeout connect {connect} s, inter)): in between it sends clients to a dead backend, which "
    "they see as connection time-outs.",
    mitigation="Shorten the check of each listed service (services[...].strategy.check inter_ms and fall) so "
    "that fall x inter + min(connect, inter) <= {takeover} ms, or raise "
    "services[{group}].strategy.advert_int above {advert} s.",
)

TRACK_FLAP = Rule(
    "TRACK_FLAP",
    "track-flap:{service}",
    "config",
    M,
    "{service}'s keepalived track script can flap",
    "The keepalived track script has ``fall`` or ``rise`` of 1, or a timeout not under its interval.",
    impact="The vrrp_script of {service} would move the VIP on a single slow or failed check: {problems}.",
    mitigation="Set services[{service}].strategy.check to fall >= 2, rise >= 2 and timeout_s < interval_s "
    "(defaults: interval 2 s, timeout 1 s, fall 2, rise 2).",
)

VRID_RANGE = Rule(
    "VRID_RANGE",
    "vrid-range:{service}",
    "config",
    L,
    "{service}'s VRRP router id {vrid} is outside {network}'s vrid_range",
    "A VRRP group's router id lies outside its segment's ``vrid_range`` (kept from a lock file, or fixed in "
    "the model).",
    impact="The id (kept from the lock file or fixed in the model) lies outside vrid_range "
    "{low}-{high}, so it may collide with another system on {network}.",
    mitigation="Build with --fresh to reallocate it inside the range, or drop the fixed vrid.",
)

VRID_COLLISION = Rule(
    "VRID_COLLISION",
    "vrid-collision:{network}:{vrid}",
    "config",
    H,
    "VRRP router id {vrid} is used twice on {network}",
    "Two VRRP groups, or a group and ``reserved_vrids``, share a router id on one segment.",
    impact="{sharing} share virtual_router_id {vrid} on {network}: their adverts mix, and the VIPs flap or "
    "are held by the wrong group.",
    mitigation="Give each group its own id: set networks[{network}].vrid_range, or fix Vrrp(vrid=...).",
)

RECOVERY_OBJECTIVE = Rule(
    "RECOVERY_OBJECTIVE",
    "recovery-objective:{service}:{disruption}:{objective}",
    "recovery-objective",
    M,
    "{service} misses its {objective} objective for a {disruption} disruption",
    "A policy (``Policy(rto=..., rpo=...)`` on the architecture or the service) sets a recovery objective that "
    "the predicted recovery exceeds: the upper bound of the predicted outage is above the RTO target (the "
    "mitigation names the timer that dominates it and the value that would meet the target), the disruption "
    "stops the service for good, or the predicted data loss is above the RPO target. Low when no generated "
    "timer bounds the recovery or the data loss is unknown: the target cannot be shown either way.",
    also=(L,),
)
NO_METRICS_SOURCE = Rule(
    "NO_METRICS_SOURCE",
    "no-metrics-source",
    "monitoring",
    L,
    "Services without a metrics source of their own",
    "Placed services that no exporter hamodel generates reports on (mysqld, redis, HAProxy's, keepalived's "
    "state): the generated alerts see them only through their node's up, so a dead process on a live node "
    "goes unnoticed.",
    impact="No generated alert watches the process of {count} service(s): {shown}; only their node being down is seen.",
    mitigation="Monitor them with a process or service check (e.g. node_exporter's systemd collector, "
    "prometheus-process-exporter), or put them behind a VIP (BehindVip) so HAProxy checks them.",
)


#: Every rule, in the order the documentation lists them.
RULES: tuple[Rule, ...] = (
    UNAVAILABLE,
    SPOF,
    PARTIAL_OUTAGE,
    QUORUM_LOSS,
    QUORUM_LOSS_INHERENT,
    CUT_SETS,
    SPLIT_BRAIN,
    READS_OUTLAST_WRITES,
    SITE_FAILURE,
    MONITORING_REQUIRED,
    NO_AUTOMATIC_RESTART,
    MANUAL_RECOVERY,
    PACEMAKER_TWO_NODE,
    PACEMAKER_TWO_NODE_NO_FENCING,
    PACEMAKER_FENCE_RACE,
    PACEMAKER_NO_FENCING,
    CAPACITY_NODE,
    CAPACITY_DOMAIN,
    COLD_START,
    SHORT_TIMEOUT,
    CLEARTEXT_PUBLIC,
    STATS_NO_AUTH,
    PORT_CLASH,
    VRID_COLLISION,
    VRID_RANGE,
    DETECTION_ORDER,
    TRACK_FLAP,
    RECOVERY_OBJECTIVE,
    NO_METRICS_SOURCE,
)


def rule_for(finding_id: str, kind: str | None = None) -> list[Rule]:
    """The rules that can produce ``finding_id`` (and ``kind``, when given)."""
    out = []
    for r in RULES:
        fixed = r.prefix
        exact = "{" not in r.id
        if (finding_id == r.id if exact else finding_id.startswith(fixed) and len(finding_id) > len(fixed)) and (
            kind is None or r.kind == kind
        ):
            out.append(r)
    return out
