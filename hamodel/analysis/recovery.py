"""Predicted recovery (RTO interval, RPO) per service and disruption class.

The interval is computed from the timers the generators write (the model's
strategy fields, the allocated VRRP priorities, the HAProxy defaults, the
corosync token and the IPaddr2 start timeout of :mod:`hamodel.timers`),
all inputs of the analysis: it runs before the Deployment is built and
never imports it. Where hamodel
writes no config, from the daemon's documented defaults, named as such.

Which nodes a failure takes away, and whether it stops a service for good,
comes from the failure semantics (:class:`~hamodel.analysis.semantics.Evaluation`,
the one table of rules); this module only adds time.

Formulas (each a rule of the daemon, cited where it is applied):

- keepalived (RFC 3768/5798): a backup declares the master dead after
  ``3 x advert_int + (256 - priority) / 256 x advert_int`` without adverts
  and sends gratuitous ARP as it takes over (no further wait). The last
  advert came up to ``advert_int`` before the crash, so the move takes
  ``[master_down - advert_int, master_down]``.
- keepalived ``vrrp_script`` with weight 0: ``fall`` failed runs put the
  instance in FAULT; it sends priority 0 and the best backup takes over
  after its skew. ``[(fall - 1) x interval + skew, (fall + 1) x interval + skew]``
  (one interval of phase either way).
- HAProxy: a server is marked down after ``fall`` failed checks ``inter``
  apart; a check of an unreachable host fails at ``min(timeout connect, inter)``
  (``timeout check`` is always written), a refused one at once.
  ``option redispatch`` (always written) retries a refused connection on
  another server, so a dead process alone may cost a client nothing.
  Where ``check.fastinter_ms`` is set (written as ``fastinter``), the checks
  after the first failed one are that far apart: ``inter + (fall - 1) x
  fastinter``. ``downinter`` spaces the checks of a server already DOWN, so
  it delays only its return, which no row here predicts.
- Galera (defaults; hamodel writes no my.cnf): survivors block writes until
  the lost member is evicted: ``evs.suspect_timeout`` (5 s) at least, plus
  ``evs.inactive_check_period`` (0.5 s) and ``evs.install_timeout`` (7.5 s)
  at most.
- corosync/Pacemaker: a lost node is noticed after the token timeout, the
  membership re-forms within ``consensus`` (1.2 x token), fencing waits
  ``pcmk_delay_base``, then the resource starts (its start timeout).
- Redis under Pacemaker (``ocf:heartbeat:redis`` promotable clone): the promoted node
  lost, corosync as above, then the clone's notification rounds, the agent's
  ``CLIENT PAUSE`` re-pointing of the replicas, the promote and the VIP's start
  (:mod:`hamodel.analysis.redis_promotion`, which derives min and max).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from hamodel.analysis.components import ModelView, node_id, switch_id
from hamodel.analysis.recovery_results import Recovery, RecoveryTable, Timer
from hamodel.analysis.redis_promotion import promotion_span
from hamodel.analysis.results import VrrpGroup
from hamodel.analysis.semantics import DOWN, PARTIAL, Evaluation
from hamodel.model import Architecture
from hamodel.model.policy import DISRUPTIONS, Policy
from hamodel.model.strategies import (
    ActivePassive,
    AppCluster,
    BehindVip,
    Coordinated,
    Elected,
    PacemakerVip,
    Sharded,
    Vrrp,
)
from hamodel.timers import IPADDR2_START_TIMEOUT_S, corosync_token_timeout_ms

#: Galera's evs defaults (galera-4 26.4 wsrep_provider_options), used because hamodel writes no my.cnf.
GALERA_SUSPECT_S = 5.0
GALERA_INACTIVE_CHECK_S = 0.5
GALERA_INSTALL_S = 7.5
#: Processes recognised as a Galera member.
GALERA_PROCESSES = frozenset({"mariadb", "mysqld", "galera"})
#: Processes the Pacemaker CIB runs as a promotable clone of ocf:heartbeat:redis.
REDIS_PROCESSES = frozenset({"redis", "redis-server"})

_CLASS_OF_KIND = {"node": "node", "switch": "switch", "link": "link", "trunk": "link"}


@dataclass(frozen=True)
class _Span:
    """An interval and how it was built."""

    lo: float
    hi: float
    dominant: Timer | None
    formula: str
    terms: tuple[Timer, ...] = ()

    def later(self, other: _Span | None) -> _Span:
        """Both must be over: the later of the two, per bound."""
        if other is None:
            return self
        top = self if self.hi >= other.hi else other
        return _Span(
            max(self.lo, other.lo),
            max(self.hi, other.hi),
            top.dominant,
            f"max({self.formula}, {other.formula})",
            _merge(self.terms, other.terms),
        )

    def union(self, other: _Span | None) -> _Span:
        """Either may happen (different components of one class): the hull."""
        if other is None:
            return self
        top = self if self.hi >= other.hi else other
        return _Span(
            min(self.lo, other.lo), max(self.hi, other.hi), top.dominant, top.formula, _merge(self.terms, other.terms)
        )


def _merge(a: Iterable[Timer], b: Iterable[Timer]) -> tuple[Timer, ...]:
    seen: dict[tuple[str, str], Timer] = {}
    for t in (*a, *b):
        seen.setdefault((t.name, t.where), t)
    return tuple(seen.values())


ZERO = _Span(0.0, 0.0, None, "no wait")

#: What one failing component does to one service: ("down",), ("unknown", note) or ("span", _Span).
Outcome = tuple
_DOWN: Outcome = ("down",)
_NO_IMPACT: Outcome = ("span", ZERO)
_LINK_NOTE = (
    "no node loses its network in the model; the L2 path's re-convergence (spanning tree, bonding) is not modelled"
)
#: Disruption classes whose rows fold over the model's components.
_PER_COMPONENT = ("node", "switch", "link", "domain", "site")


class RecoveryAnalysis:
    """Recovery rows of one placed architecture (use :func:`recovery_table`)."""

    def __init__(self, v: ModelView, vrrp_groups: Sequence[VrrpGroup]):
        self.v, self.arch, self.placement = v, v.arch, v.placement
        self.vrrp_groups = tuple(vrrp_groups)
        self._evaluations: dict = {}
        self._lost: dict[tuple[str, str], set[str]] = {}  # (component, disruption) -> nodes it takes away
        self._comps: dict[str, list[str]] = {}
        # The first group of each service and of each VIP (what a scan in list order finds).
        self._groups: dict[str, VrrpGroup] = {}
        self._vip_groups: dict[str, VrrpGroup] = {}
        for g in self.vrrp_groups:
            self._groups.setdefault(g.service, g)
            for vip in g.vips:
                self._vip_groups.setdefault(vip, g)
        # disruption -> service -> (position in _components, component, outcome) of the
        # components that may affect it; None: evaluate every component (see index()).
        self._index: dict[str, dict[str, list[tuple[int, str, Outcome]]]] | None = None
        # service -> the components that alone stop it (its cut sets of one
        # component), where known: the index reads "down" from it instead of
        # evaluating the service under each failure (see recovery_table's ``stops``).
        self._stops: Mapping[str, Collection[str]] = {}
        self._unindexed: set[str] = set()

    def group_of(self, service: str) -> VrrpGroup | None:
        return self._groups.get(service)

    # -- timers -------------------------------------------------------------------------

    def _vrrp(self, g: VrrpGroup) -> Vrrp:
        return self.arch.service(g.service).strategy  # type: ignore[return-value]

    def advert(self, g: VrrpGroup) -> Timer:
        return Timer(
            "keepalived advert_int", float(self._vrrp(g).advert_int), f"services[{g.service}].strategy.advert_int"
        )

    def master_down(self, g: VrrpGroup, node: str) -> float:
        a = self.advert(g).value_s
        return 3 * a + (256 - g.priorities[node]) / 256 * a

    def _holder(self, g: VrrpGroup) -> str:
        return g.master

    def vip_move(self, g: VrrpGroup, lost: set[str]) -> _Span | None:
        """The VIP of ``g`` moving off a lost holder; None: it does not move (holder kept)."""
        if self._holder(g) not in lost:
            return None
        rest = [n for n in g.members if n not in lost]
        if not rest:
            return None
        if g.manager == "pacemaker":
            return self.pacemaker_takeover(f"{g.service}'s VIP")
        best = rest[0]
        a = self.advert(g)
        md = self.master_down(g, best)
        return _Span(
            max(0.0, md - a.value_s),
            md,
            a,
            f"3 x advert_int + (256 - {g.priorities[best]}) / 256 x advert_int ({best}); gratuitous ARP at once",
            (a,),
        )

    def track_failure(self, g: VrrpGroup) -> _Span:
        """The holder's tracked process dies: vrrp_script fall x interval, then the best backup's skew."""
        s = self._vrrp(g)
        best = next((n for n in g.members if n != self._holder(g)), self._holder(g))
        skew = (256 - g.priorities[best]) / 256 * s.advert_int
        iv = Timer(
            "keepalived vrrp_script interval",
            float(s.check.interval_s),
            f"services[{g.service}].strategy.check.interval_s",
        )
        fall = Timer("keepalived vrrp_script fall", float(s.check.fall), f"services[{g.service}].strategy.check.fall")
        return _Span(
            (s.check.fall - 1) * s.check.interval_s + skew,
            (s.check.fall + 1) * s.check.interval_s + skew,
            iv,
            "(fall - 1 .. fall + 1) x interval + skew",
            (iv, fall),
        )

    def haproxy_detect(self, service: str, access: BehindVip, *, unreachable: bool) -> _Span:
        """HAProxy marks a dead backend of ``service`` down."""
        c = access.check
        where = self._access_field(service)
        inter = Timer("HAProxy check inter", c.inter_ms / 1000, f"{where}.check.inter_ms")
        fall = Timer("HAProxy check fall", float(c.fall), f"{where}.check.fall")
        per = min(self.arch.haproxy.timeout_connect_s * 1000, c.inter_ms) / 1000
        if c.fastinter_ms is None:
            if not unreachable:
                return _Span(
                    max(0, c.fall - 1) * c.inter_ms / 1000,
                    c.fall * c.inter_ms / 1000,
                    inter,
                    "fall x inter (refused at once)",
                    (inter, fall),
                )
            # haproxy.cfg always writes `timeout check`: a check connects within min(timeout connect, inter).
            return _Span(
                c.fall * per + (c.fall - 1) * c.inter_ms / 1000,
                c.fall * (c.inter_ms / 1000 + per),
                inter,
                "fall x (inter + min(timeout connect, inter))",
                (inter, fall),
            )
        # After the first failed check (up to inter after the death) the server is going
        # down: HAProxy spaces the remaining fall - 1 checks by fastinter (haproxy.cfg writes it).
        fast = Timer("HAProxy check fastinter", c.fastinter_ms / 1000, f"{where}.check.fastinter_ms")
        top = fast if c.fall > 1 and (c.fall - 1) * c.fastinter_ms > c.inter_ms else inter
        if not unreachable:
            return _Span(
                (c.fall - 1) * c.fastinter_ms / 1000,
                (c.inter_ms + (c.fall - 1) * c.fastinter_ms) / 1000,
                top,
                "inter + (fall - 1) x fastinter (refused at once)",
                (inter, fall, fast),
            )
        return _Span(
            c.fall * per + (c.fall - 1) * c.fastinter_ms / 1000,
            c.fall * per + (c.inter_ms + (c.fall - 1) * c.fastinter_ms) / 1000,
            top,
            "fall x min(timeout connect, inter) + inter + (fall - 1) x fastinter",
            (inter, fall, fast),
        )

    def _access_field(self, service: str) -> str:
        s = self.arch.service(service).strategy
        return f"services[{service}].strategy" + (".access" if not isinstance(s, BehindVip) else "")

    def galera_eviction(self) -> _Span:
        sus = Timer("Galera evs.suspect_timeout", GALERA_SUSPECT_S, "wsrep_provider_options (default, not generated)")
        chk = Timer(
            "Galera evs.inactive_check_period",
            GALERA_INACTIVE_CHECK_S,
            "wsrep_provider_options (default, not generated)",
        )
        ins = Timer("Galera evs.install_timeout", GALERA_INSTALL_S, "wsrep_provider_options (default, not generated)")
        return _Span(
            GALERA_SUSPECT_S,
            GALERA_SUSPECT_S + GALERA_INACTIVE_CHECK_S + GALERA_INSTALL_S,
            sus,
            "suspect_timeout (+ inactive_check_period + install_timeout)",
            (sus, chk, ins),
        )

    def pacemaker_takeover(self, what: str) -> _Span | None:
        pm = self.arch.pacemaker
        if pm is None:
            return None
        members = self.arch.pacemaker_nodes()
        token = corosync_token_timeout_ms(pm.token_ms, len(members)) / 1000
        tok = Timer("corosync token timeout", token, "pacemaker.token_ms (+ token_coefficient per node beyond 2)")
        cons = Timer("corosync consensus", round(1.2 * token, 3), "1.2 x token (corosync default)")
        delay = max((d.delay_base_s for d in pm.fence), default=0) if pm.fencing else 0
        fence = Timer("fence delay pcmk_delay_base", float(delay), "pacemaker.fence[].delay_base_s")
        start = Timer("IPaddr2 start timeout", float(IPADDR2_START_TIMEOUT_S), "generated op start timeout")
        hi = token + cons.value_s + delay + IPADDR2_START_TIMEOUT_S
        return _Span(
            token,
            hi,
            start if max(token, cons.value_s, delay) <= IPADDR2_START_TIMEOUT_S else tok,
            f"token (+ consensus + fence delay + start timeout) for {what}",
            (tok, cons, fence, start),
        )

    def redis_promotion(self, service: str, lost: set[str]) -> _Span | None:
        """A Pacemaker-managed Redis (promotable clone) whose promoted node is lost: a survivor
        promoted, then its VIP (:func:`~hamodel.analysis.redis_promotion.promotion_span`).
        The promoted node is taken to be the holder of the service's VIP group (the first of its
        placement without a VIP); None: it is not lost."""
        pm = self.arch.pacemaker
        if pm is None:
            return None
        g = self.group_of(service)
        placed = sorted(self.placement.nodes_of(service))
        promoted = g.master if g else placed[0]
        if promoted not in lost:
            return ZERO
        members = self.arch.pacemaker_nodes()
        token = corosync_token_timeout_ms(pm.token_ms, len(members)) / 1000
        delay = float(max((d.delay_base_s for d in pm.fence), default=0)) if pm.fencing else 0.0
        lo, hi, dominant, formula, terms = promotion_span(
            token,
            round(1.2 * token, 3),
            delay,
            fencing=pm.fencing,
            survivors=len([n for n in placed if n not in lost]),
            vip=bool(getattr(self.arch.service(service).strategy, "vips", None)),
        )
        return _Span(lo, hi, dominant, formula, terms)

    # -- per service --------------------------------------------------------------------

    def _group_of_vip(self, vip: str) -> VrrpGroup | None:
        return self._vip_groups.get(vip)

    def lost_nodes_span(self, service: str, lost: set[str]) -> tuple[_Span | None, str]:
        """The client outage of ``service`` while ``lost`` nodes are gone (None: unknown)."""
        svc = self.arch.service(service)
        s = svc.strategy
        placed = set(self.placement.nodes_of(service))
        if isinstance(s, Vrrp):
            g = self.group_of(service)
            return (self.vip_move(g, lost) or ZERO, "") if g else (None, "no VRRP group allocated")
        if isinstance(s, PacemakerVip) or (isinstance(s, ActivePassive) and s.manager == "pacemaker"):
            if isinstance(s, PacemakerVip):
                g = self.group_of(service)
                active = {g.master} if g else placed
            else:
                active = set(sorted(placed)[:1])
            if not active & lost:
                return ZERO, ""
            return self.pacemaker_takeover(service), "the active node is lost: Pacemaker starts it elsewhere"
        if (
            isinstance(s, (AppCluster, Elected))
            and getattr(s, "manager", None) == "pacemaker"
            and svc.process in REDIS_PROCESSES
            and svc.access is None
            and placed - lost
        ):
            promo = self.redis_promotion(service, lost)
            if promo is not None:
                return promo, ""
        access = svc.access
        span: _Span | None = None
        note = ""
        if access is not None:
            g = self._group_of_vip(str(access.vip))
            move = self.vip_move(g, lost) if g else None
            if placed & lost:
                detect = self.haproxy_detect(service, access, unreachable=True)
                span = (
                    detect.later(move)
                    if move
                    else _Span(
                        0.0,
                        detect.hi,
                        detect.dominant,
                        detect.formula + " (requests sent to the lost backend)",
                        detect.terms,
                    )
                )
            else:
                span = move or ZERO
        if isinstance(s, AppCluster) and svc.process in GALERA_PROCESSES and placed & lost:
            ev = self.galera_eviction()
            span = ev.later(span) if span else ev
        if span is None:
            if not placed & lost:
                return ZERO, ""
            if isinstance(s, Coordinated):
                note = "the other instances carry on; how soon callers notice (RPC timeouts) is not generated"
            elif isinstance(s, Elected):
                note = "leader election (Sentinel, Patroni) is not generated: its timers are unknown"
            else:
                note = "no generated timer bounds its recovery"
        return span, note

    def process_span(self, service: str) -> tuple[_Span | None, str]:
        """The client outage when one of ``service``'s processes dies (the one that hurts most)."""
        svc = self.arch.service(service)
        s = svc.strategy
        if isinstance(s, Vrrp):
            g = self.group_of(service)
            return (self.track_failure(g), "") if g and g.manager == "keepalived" else (None, "")
        access = svc.access
        span: _Span | None = None
        if access is not None:
            own = self.haproxy_detect(service, access, unreachable=False)
            span = _Span(0.0, own.hi, own.dominant, own.formula + "; option redispatch retries elsewhere", own.terms)
        if isinstance(s, AppCluster) and svc.process in GALERA_PROCESSES:
            ev = self.galera_eviction()
            span = ev.union(span) if span else ev
        if span is None:
            return None, "no generated timer bounds a restart (supervisor settings are not generated)"
        return span, ""

    def rpo(self, service: str) -> tuple[str, float | None]:
        s = self.arch.service(service).strategy
        rep = getattr(s, "replication", None)
        if rep == "synchronous":
            return "0: synchronous replication (an acknowledged write is on the surviving members)", 0.0
        if rep == "asynchronous":
            return (
                "writes acknowledged since the last replication to a surviving member are lost "
                "(no lag bound in the model)"
            ), None
        if isinstance(s, (AppCluster, Elected)):
            return "unknown: set the strategy's replication (synchronous or asynchronous)", None
        return "unknown: the model says nothing of this service's data", None

    # -- per class ---------------------------------------------------------------------

    def _components(self, disruption: str) -> list[str]:
        if disruption in self._comps:
            return self._comps[disruption]
        out = self._comps[disruption] = []
        for c in self.v.components:
            kind = c.split(":", 1)[0]
            if kind == "domain":
                d = self.arch.domain(c.split(":", 1)[1])
                cls = "site" if d.is_site else "domain"
            else:
                cls = _CLASS_OF_KIND.get(kind)
            if cls == disruption:
                out.append(c)
        return out

    def _lost_nodes(self, e: Evaluation, c: str, disruption: str) -> set[str]:
        """The nodes failing ``c`` (evaluated by ``e``) takes away, the same for every service."""
        lost = self._lost.get((c, disruption))
        if lost is None:  # once per component (was per service, O(services x nodes))
            lost = {n.name for n in self.arch.nodes if not e.node_up(n.name)}
            if disruption in ("switch", "link"):
                lost |= {n.name for n in self.arch.nodes for i in n.interfaces if not e.port_up(n.name, i.network)}
            self._lost[(c, disruption)] = lost
        return lost

    def _outcome(self, e: Evaluation, c: str, disruption: str, service: str) -> Outcome:
        """What failing ``c`` (evaluated by ``e``) does to ``service``."""
        if e.state(service) in (DOWN, PARTIAL):
            return _DOWN
        return self._span(e, c, disruption, service)

    def _span(self, e: Evaluation, c: str, disruption: str, service: str) -> Outcome:
        """:meth:`_outcome` of a service that failing ``c`` does not stop."""
        lost = self._lost_nodes(e, c, disruption)
        if not lost and disruption == "link":
            return ("unknown", _LINK_NOTE)
        span, note = self.lost_nodes_span(service, lost)
        return ("unknown", note) if span is None else ("span", span)

    def _outcomes(self, service: str, disruption: str, comps: list[str]) -> Iterator[tuple[str, Outcome]]:
        """(component, outcome) for ``comps`` in order, as far as the row's fold can tell."""
        index = self._index
        if index is None or service in self._unindexed:
            for c in comps:
                e = self._evaluations.get(c)
                if e is None:  # one per component, shared by every service (it caches its states)
                    e = self._evaluations[c] = Evaluation(self.v, {c})
                yield c, self._outcome(e, c, disruption, service)
            return
        # Components left out of the index leave the service as it is with nothing failed:
        # ZERO. A run of them folds like one ZERO (the hull with ZERO is idempotent), and
        # only the first of a run can become the row's scenario (the first component seen).
        prev = -1
        for i, c, out in index[disruption].get(service, ()):
            if i > prev + 1:
                yield comps[prev + 1], _NO_IMPACT
            yield c, out
            prev = i
        if prev + 1 < len(comps):
            yield comps[prev + 1], _NO_IMPACT

    def row(self, service: str, disruption: str) -> Recovery | None:
        rpo, rpo_s = self.rpo(service)
        if disruption == "process":
            span, note = self.process_span(service)
            return self._make(service, disruption, span, rpo, rpo_s, "one process of the service dies", note)
        if disruption == "partition":
            return Recovery(
                service,
                disruption,
                None,
                None,
                rpo,
                rpo_s,
                "the network splits",
                note="both sides keep running: recovery is the heal, not a timer",
            )
        comps = self._components(disruption)
        if not comps:
            return None
        total: _Span | None = None
        worst_span: _Span | None = None
        down, unknown, worst = [], [], ""
        for c, out in self._outcomes(service, disruption, comps):
            if out[0] == "down":
                down.append(c)
                continue
            if out[0] == "unknown":
                unknown.append(out[1])
                continue
            span = out[1]
            if total is None or span.hi > total.hi:
                worst, worst_span = c, span
            total = span.union(total)
        if total is None and not down and not unknown:
            return None
        if down:
            return Recovery(
                service,
                disruption,
                None,
                None,
                rpo,
                rpo_s,
                down[0],
                down=tuple(down),
                note="stops the service for good: no automatic recovery",
            )
        if unknown:
            return Recovery(service, disruption, None, None, rpo, rpo_s, note=unknown[0])
        r = self._make(service, disruption, total, rpo, rpo_s, worst, "", down)
        if worst_span is not None and r.rto_s is not None:
            own = (round(worst_span.lo, 3), round(worst_span.hi, 3))
            if own != r.rto_s:
                r = replace(r, scenario_rto_s=own)
        return r

    # -- the index: per failing component, only the services it can affect ---------------

    def _watched_nodes(self, service: str) -> set[str]:
        """Every node whose loss :meth:`lost_nodes_span` reads for ``service``: its placed
        nodes and the holder of its own VRRP group and of its access VIP's group."""
        out = set(self.placement.nodes_of(service))
        g = self.group_of(service)
        access = self.arch.service(service).access
        h = self._group_of_vip(str(access.vip)) if access is not None else None
        out.update(x.master for x in (g, h) if x is not None)
        return out

    def _candidate_nodes(self) -> dict[str, set[str]]:
        """component -> nodes whose ``node_up`` or ``port_up`` reads it (node, domains,
        feeds, the switches of its ports and their domains, bond member NICs and cables);
        every other node is as it is with nothing failed when that component fails alone."""
        v = self.v
        out: dict[str, set[str]] = defaultdict(set)
        for n in v.node_domains:
            ids = {node_id(n), *v.node_domains[n]}
            for feed in v.node_feeds.get(n, ()):
                ids.update(feed)
            for sws in v.ports.get(n, {}).values():
                for x in sws:
                    ids.add(switch_id(x))
                    ids.update(v.switch_domains.get(x, ()))
            for ms in v.members.get(n, {}).values():
                for _, cids in ms:
                    ids.update(cids)
            for c in ids:
                out[c].add(n)
        return out

    def index(self, services: Sequence[str]) -> None:
        """Evaluate, per failing component, only the services it can affect: those whose
        slice (:meth:`ModelView.slice`) holds it, or a node of whose :meth:`_watched_nodes`
        it takes away (every service, for a link whose loss takes no node away). Any other
        service stays as with nothing failed; a service not fully up with nothing failed,
        or with a non-ZERO outage then, is left to the full evaluation (:meth:`row`)."""
        v = self.v
        base = Evaluation(v, ())
        nodes = [n.name for n in self.arch.nodes]
        nets = {n.name: [i.network for i in n.interfaces] for n in self.arch.nodes}

        def node_lost(e: Evaluation, n: str, disruption: str) -> bool:
            if not e.node_up(n):
                return True
            return disruption in ("switch", "link") and any(not e.port_up(n, net) for net in nets[n])

        indexed = []
        for s in services:
            if base.state(s) in (DOWN, PARTIAL) or self.lost_nodes_span(s, set()) != (ZERO, ""):
                self._unindexed.add(s)
            else:
                indexed.append(s)
        watching: dict[str, set[str]] = defaultdict(set)  # node -> services
        for s in indexed:
            for n in self._watched_nodes(s):
                watching[n].add(s)
        where = {c: d for d in _PER_COMPONENT for c in self._components(d)}
        sliced: dict[str, set[str]] = defaultdict(set)  # component -> services
        for s in indexed:
            for c in v.slice(s):
                if c in where:
                    sliced[c].add(s)
        cand = self._candidate_nodes()
        base_lost = {
            "node": {n for n in nodes if node_lost(base, n, "node")},
            "port": {n for n in nodes if node_lost(base, n, "switch")},
        }
        table: dict[str, dict[str, list[tuple[int, str, Outcome]]]] = {}
        for d in _PER_COMPONENT:
            rows = table[d] = defaultdict(list)
            for i, c in enumerate(self._components(d)):
                e = Evaluation(v, {c})  # dropped after this component: memory stays per component
                lost = set(base_lost["port" if d in ("switch", "link") else "node"])
                lost.update(n for n in cand.get(c, ()) if node_lost(e, n, d))
                self._lost[(c, d)] = lost
                if not lost and d == "link":
                    affected: Iterable[str] = indexed
                else:
                    hit = set(sliced.get(c, ()))
                    for n in lost:
                        hit |= watching.get(n, set())
                    affected = sorted(hit)
                for s in affected:
                    stops = self._stops.get(s)
                    if stops is None:
                        rows[s].append((i, c, self._outcome(e, c, d, s)))
                    else:  # down iff c alone is one of its cut sets: no evaluation of s
                        rows[s].append((i, c, _DOWN if c in stops else self._span(e, c, d, s)))
        self._index = table

    def _make(
        self,
        service: str,
        disruption: str,
        span: _Span | None,
        rpo: str,
        rpo_s: float | None,
        scenario: str,
        note: str,
        down: Iterable[str] = (),
    ) -> Recovery:
        if span is None:
            return Recovery(service, disruption, None, None, rpo, rpo_s, scenario, note=note, down=tuple(down))
        return Recovery(
            service,
            disruption,
            (round(span.lo, 3), round(span.hi, 3)),
            span.dominant,
            rpo,
            rpo_s,
            scenario,
            span.formula,
            span.terms,
            tuple(down),
            note,
        )


def policy_of(arch: Architecture, service: str) -> Policy | None:
    """The architecture's policy with the service's own over it."""
    own = arch.service(service).policy
    if arch.policy is None:
        return own
    return arch.policy.merged(own)


def recovery_table(
    v: ModelView,
    vrrp_groups: Sequence[VrrpGroup],
    *,
    indexed: bool = True,
    stops: Mapping[str, Collection[str]] | None = None,
) -> RecoveryTable:
    """Every service's recovery rows (classes the model has components for) and policy targets,
    over the component view ``v`` of the placed architecture and its VRRP allocation.
    ``indexed=False`` evaluates every service under every component (the reference the
    index is tested against). ``stops`` (with the index): per service, every component
    whose failure alone stops it (its minimal cut sets of one component,
    :meth:`hamodel.analysis.failures.Analysis.single_stops`); the index then reads
    whether a failure stops such a service instead of evaluating it under that failure
    (at 10,000 services 94,000 evaluations, 7.9 s). Sharded services (a lost shard is
    partial, not down) are evaluated still."""
    from hamodel.analysis.faulttree import no_gc

    with no_gc():  # no reference cycle made; the collector's walks of a large heap cost 10%
        return _recovery_table(v, vrrp_groups, indexed, stops)


def _recovery_table(
    v: ModelView, vrrp_groups: Sequence[VrrpGroup], indexed: bool, stops: Mapping[str, Collection[str]] | None
) -> RecoveryTable:
    ra = RecoveryAnalysis(v, vrrp_groups)
    if stops is not None:
        ra._stops = {s: c for s, c in stops.items() if not isinstance(v.services[s].strategy, Sharded)}
    arch = v.arch
    rows: list[Recovery] = []
    targets: dict[str, dict[str, dict[str, float]]] = {}
    ordered = [s for s in sorted(arch.services, key=lambda s: s.name) if s.strategy.kind not in ("external", "witness")]
    if indexed:
        ra.index([s.name for s in ordered])
    for svc in ordered:
        for d in DISRUPTIONS:
            r = ra.row(svc.name, d)
            if r is not None:
                rows.append(r)
        p = policy_of(arch, svc.name)
        if p is not None and (p.rto or p.rpo):
            targets[svc.name] = {"rto": dict(p.rto.items()), "rpo": dict(p.rpo.items())}
    return RecoveryTable(tuple(rows), targets)
