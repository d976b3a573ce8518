"""The failure rules, stated once.

Every fact the analysis knows about a failure set ("node n is up", "n
reaches m", "member m is in its cluster's quorum", "service s is up") is
written here, once, as a formula over *component-up* literals built with
the operations of an :class:`Algebra`. Three back ends read the same rules:

- :mod:`hamodel.analysis.semantics`: Python booleans for one failure set
  (evaluation short-circuits; connectivity by breadth-first search);
- :mod:`hamodel.analysis.encoding`: Z3 formulas (connectivity by layered
  reachability);
- :mod:`hamodel.analysis.faulttree`: fault-tree gates (connectivity by
  simple paths), exported to SCRAM.

They differ only in how they represent a truth value and how they decide
whether two switches of a network are still joined; the cut sets they give
are checked against each other, against brute-force enumeration and against
SCRAM, which read none of this module.

The rules:

- a node is down if it, or any domain enclosing it, failed, or when it is
  dual-corded (``Node.power``) if every one of its feeds is down (a feed is
  down when it or a domain enclosing it failed); a switch is down if it, or
  any domain enclosing it, failed; a port is up iff its node and at least
  one of its switches (``switch`` and ``bond``) are, with (when the bond
  says its ``bond_mode``) that member's NIC port and cable; two nodes reach each
  other iff on a network they share a path of up switches and up links
  (``link:`` per network, ``trunk:`` shared by networks) joins an up switch
  of one to an up switch of the other (nodes with no modelled interface
  reach every up node);
- an instance is *ok* iff its node is up, its process did not fail and (when
  the node has interfaces) at least one of its ports is up;
- Vrrp: a holder is eligible iff up, its ports on the networks of its VIPs
  are up and keepalived and the tracked process run (in a ``sync_group``:
  those of every group of it); split brain iff two eligible holders cannot
  reach each other on the advert network (the first VIP's; in a sync
  group: on any group's advert network);
- PacemakerVip: like Vrrp, but the holder must also be in a Pacemaker
  partition with quorum: a cluster node is quorate iff it is up and the
  votes it reaches (cluster nodes, plus the quorum device when its node is
  up, ``corosync-qnetd`` runs there and it is reachable) are at least the
  quorum; with ``two_node`` a node alone is quorate, except that with
  fencing, in a partition, only the winner of the fence race is (the node
  whose fencing is delayed longest, the first by name on equal delays);
- AppCluster: a member serves iff it is ok and reaches >= quorum ok voters
  (itself included; voters are the members plus its witnesses' instances);
- Elected(by=c): a member can write iff it is ok, reaches a member of ``c``
  that is in ``c``'s quorum and at least ``min_replicas`` other ok members;
  without ``steps_down``, split brain iff such a writer exists and so does
  an ok member reaching no quorate member of ``c`` but ``min_replicas``
  others cut off like it;
- Witness, Coordinated, BehindVip, Sharded: an instance serves iff it is ok;
  ActivePassive(manager=None): only the first placed instance runs;
  pacemaker-managed: an ok instance in a quorate partition (and on the
  VIP's network when the service holds VIPs); External: always up;
- **dependencies follow the network**: an instance serves only if, besides
  its strategy's condition, it reaches every service it depends on from its
  own node: through the dependency's internal front (an eligible holder of
  that VIP that it reaches and that itself reaches a serving instance) or,
  without a front, a serving instance it reaches directly (every shard of a
  sharded one); a ``Local`` dependency must serve on the same node;
- a service is *up* for its clients iff some eligible holder of its first
  front reaches a serving instance (no front: some instance serves; sharded:
  every shard serves; a VIP holder: some holder serves). Clients sit on the
  VIP's network, so reaching the holder is not in question, unless the
  service says where they come in (``Service.clients``: a switch, the
  switches of a failure domain, the switches of a network, or an external
  uplink): then the holder (or instance) must be reached from one of those
  switches (for a network: over that network).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from hamodel.analysis.components import QNETD, ModelView, node_id, proc_id, switch_id
from hamodel.model.strategies import (
    ActivePassive,
    AppCluster,
    BehindVip,
    Coordinated,
    Elected,
    External,
    PacemakerVip,
    Sharded,
    Vrrp,
    Witness,
)

X = TypeVar("X")
#: Prefix of a client entry point in :meth:`Rules.near` (no node name has ``@``).
CLIENTS = "@clients:"
#: Separates the entry switches from the one network clients are on (``clients=`` a network).
NET = "@net:"


class Algebra(Generic[X]):
    """The truth values one back end computes with.

    ``and_``, ``or_`` and ``at_least`` take iterables that may be lazy (the
    Python back end short-circuits them); ``connected`` says whether two
    switches of a network are joined by up switches and links, each back end
    its own way (``up`` gives a switch's state, ``hop`` a link's)."""

    TRUE: X
    FALSE: X

    def alive(self, cid: str) -> X:
        raise NotImplementedError

    def and_(self, xs: Iterable[X]) -> X:
        raise NotImplementedError

    def or_(self, xs: Iterable[X]) -> X:
        raise NotImplementedError

    def at_least(self, k: int, xs: Iterable[X]) -> X:
        raise NotImplementedError

    def not_(self, x: X) -> X:
        raise NotImplementedError

    def connected(self, rules: Rules[X], net: str, a: str, b: str) -> X:
        raise NotImplementedError


def lazily(*thunks: Callable[[], X]) -> Iterable[X]:
    """Operands computed only when the back end asks (the Python back end
    stops at the first false one of a conjunction)."""
    return (t() for t in thunks)


class Rules(Generic[X]):
    """The failure rules of one :class:`ModelView`, in algebra ``alg``,
    memoised per fact."""

    def __init__(self, v: ModelView, alg: Algebra[X]):
        self.v = v
        self.alg = alg
        self._memo: dict[tuple, X] = {}

    def _m(self, key: tuple, fn: Callable[[], X]) -> X:
        memo = self._memo
        if key in memo:
            return memo[key]
        r = memo[key] = fn()
        return r

    def alive(self, cid: str) -> X:
        # Components outside the view (processes left out) never fail.
        return self.alg.alive(cid) if cid in self.v.component_set else self.alg.TRUE

    # -- topology -------------------------------------------------------------

    def node_up(self, n: str) -> X:
        def build() -> X:
            A, v = self.alg, self.v
            parts = [self.alive(node_id(n)), *(self.alive(d) for d in v.node_domains[n])]
            feeds = v.node_feeds.get(n, ())
            if feeds:  # dual-corded: some feed with all its enclosing domains alive
                parts.append(A.or_(A.and_(self.alive(d) for d in feed) for feed in feeds))
            return A.and_(parts)

        return self._m(("node", n), build)

    def switch_up(self, s: str) -> X:
        return self._m(
            ("switch", s), lambda: self.alg.and_(self.alive(c) for c in (switch_id(s), *self.v.switch_domains[s]))
        )

    def member_up(self, n: str, net: str, x: str) -> X:
        """Some bond member of ``n``'s interface on ``net`` that goes to switch
        ``x`` has its NIC port and cable (always, without a ``bond_mode``)."""
        ms = self.v.members.get(n, {}).get(net)
        if ms is None:
            return self.alg.TRUE
        A = self.alg
        return A.or_(A.and_(self.alive(c) for c in cids) for sw, cids in ms if sw == x)

    def port_up(self, n: str, net: str) -> X:
        def build() -> X:
            A = self.alg
            if net not in self.v.ports[n]:
                return A.FALSE
            sws = self.v.ports[n][net]
            if not sws:
                return self.node_up(n)
            return A.and_(
                lazily(
                    lambda: self.node_up(n),
                    lambda: A.or_(
                        A.and_(lazily(lambda x=x: self.switch_up(x), lambda x=x: self.member_up(n, net, x)))
                        for x in sws
                    ),
                )
            )

        return self._m(("port", n, net), build)

    def reach_on(self, a: str, b: str, net: str) -> X:
        a, b = sorted((a, b))

        def build() -> X:
            A, v = self.alg, self.v
            if net not in v.ports[a] or net not in v.ports[b]:
                return A.FALSE
            sa, sb = v.ports[a][net], v.ports[b][net]
            if not sa or not sb:
                return A.and_(lazily(lambda: self.port_up(a, net), lambda: self.port_up(b, net)))
            # An up switch of a's bond joined to an up switch of b's
            # (connected() includes both switches being up).
            return A.and_(
                lazily(
                    lambda: self.node_up(a),
                    lambda: self.node_up(b),
                    lambda: A.or_(
                        A.and_(
                            lazily(
                                lambda x=x, y=y: A.connected(self, net, x, y),
                                lambda x=x: self.member_up(a, net, x),
                                lambda y=y: self.member_up(b, net, y),
                            )
                        )
                        for x in sa
                        for y in sb
                    ),
                )
            )

        return self._m(("reach_on", a, b, net), build)

    def reach(self, a: str, b: str) -> X:
        if a == b:
            return self.node_up(a)
        a, b = sorted((a, b))

        def build() -> X:
            A, v = self.alg, self.v
            pa, pb = v.ports[a], v.ports[b]
            shared = sorted(set(pa) & set(pb))
            if not shared:
                if not pa or not pb:
                    return A.and_(lazily(lambda: self.node_up(a), lambda: self.node_up(b)))
                return A.FALSE
            return A.or_(self.reach_on(a, b, net) for net in shared)

        return self._m(("reach", a, b), build)

    def near(self, frm: str | None, b: str) -> X:
        """``frm`` reaches node ``b``: a node, a client switch
        (:data:`CLIENTS` + its name: clients that come in there), or
        ``None``: clients anywhere on the VIP's network (always)."""
        if frm is None:
            return self.alg.TRUE
        if frm.startswith(CLIENTS):  # any of the switches the clients come in through
            sws, _, net = frm[len(CLIENTS) :].partition(NET)
            return self.alg.or_(self.from_switch(sw, b, net or None) for sw in sws.split(","))
        return self.reach(frm, b)

    def from_switch(self, sw: str, b: str, only: str | None = None) -> X:
        """Traffic entering at switch ``sw`` reaches node ``b`` on a network
        both are on (``only``: on that network alone)."""

        def build() -> X:
            A, v = self.alg, self.v
            nets = [
                net for net in sorted(v.ports[b]) if sw in v.net_switches.get(net, ()) and (only is None or net == only)
            ]

            def on(net: str) -> X:
                ys = v.ports[b][net]
                if not ys:
                    return A.and_(lazily(lambda: self.port_up(b, net), lambda: self.switch_up(sw)))
                return A.and_(
                    lazily(
                        lambda: self.node_up(b),
                        lambda: A.or_(
                            A.and_(
                                lazily(lambda y=y: A.connected(self, net, sw, y), lambda y=y: self.member_up(b, net, y))
                            )
                            for y in ys
                        ),
                    )
                )

            return A.or_(on(net) for net in nets)

        return self._m(("from_switch", sw, b) if only is None else ("from_switch", sw, b, only), build)

    # -- instances ------------------------------------------------------------

    def inst_ok(self, s: str, n: str) -> X:
        def build() -> X:
            A, v = self.alg, self.v
            nets = v.ports[n]
            return A.and_(
                lazily(
                    lambda: self.node_up(n),
                    lambda: self.alive(proc_id(v.process(s), n)),
                    lambda: A.or_(self.port_up(n, net) for net in sorted(nets)) if nets else A.TRUE,
                )
            )

        return self._m(("inst", s, n), build)

    def qdevice_ok(self) -> X:
        q = self.v.pcmk_qdevice
        if q is None:
            return self.alg.FALSE
        return self.alg.and_(lazily(lambda: self.node_up(q), lambda: self.alive(proc_id(QNETD, q))))

    def pcmk_quorate(self, n: str) -> X:
        def build() -> X:
            A, v = self.alg, self.v
            if n not in v.pcmk_nodes:
                return A.FALSE
            if v.pcmk_two_node:
                other = next(c for c in v.pcmk_nodes if c != n)
                if not v.pcmk_fencing or n == v.pcmk_winner:
                    return self.node_up(n)
                # Not monotone: the loser of the fence race survives when the winner is down.
                return A.and_(
                    lazily(
                        lambda: self.node_up(n),
                        lambda: A.or_(lazily(lambda: A.not_(self.node_up(other)), lambda: self.reach(n, other))),
                    )
                )
            q = v.pcmk_qdevice

            def votes() -> Iterable[X]:
                yield from (self.reach(n, c) for c in v.pcmk_nodes)
                if q is not None:
                    yield A.and_(lazily(self.qdevice_ok, lambda q=q: self.reach(n, q)))

            return A.and_(lazily(lambda: self.node_up(n), lambda: A.at_least(v.pcmk_quorum, votes())))

        return self._m(("quorate", n), build)

    def eligible(self, s: str, h: str, for_split: bool = False) -> X:
        """Holder ``h`` of VIP-holding service ``s`` can hold the VIP
        (``for_split``: without fencing, a Pacemaker node out of quorum
        keeps its VIP, which is what split brain asks)."""

        def build() -> X:
            A, v = self.alg, self.v
            # Every network its VIPs sit on is tracked (track_interface): a port down
            # is a FAULT. A vrrp_sync_group faults together: the peers' ports and processes too.
            group = v.sync.get(s, (s,))
            parts = [self.port_up(h, net) for g in group for net in v.vip_networks.get(g, (v.vip_network[g],))]
            parts += [self.alive(proc_id(p, h)) for g in group for p in v.holder_processes(g)]
            if isinstance(v.services[s].strategy, PacemakerVip):
                if for_split and v.arch.pacemaker is not None and not v.arch.pacemaker.fencing:
                    parts.append(A.TRUE if h in v.pcmk_nodes else A.FALSE)
                else:
                    parts.append(self.pcmk_quorate(h))
            return A.and_(parts)

        return self._m(("eligible", s, h, for_split), build)

    def _with(self, ok: Callable[[str], X], m: str, x: str) -> X:
        """``ok(x)`` holds and ``m`` reaches ``x``."""
        return self.alg.and_(lazily(lambda: ok(x), lambda: self.reach(m, x)))

    def in_quorum(self, s: str, m: str) -> X:
        """Member ``m`` of cluster ``s`` is ok and reaches a quorum of ok voters."""

        def build() -> X:
            A, v = self.alg, self.v
            return A.and_(
                lazily(
                    lambda: self.inst_ok(s, m),
                    lambda: self.pcmk_quorate(m) if v.uses_pacemaker(s) else A.TRUE,
                    lambda: A.at_least(
                        v.quorum(s),
                        (self._with(lambda x, w=w: self.inst_ok(w, x), m, x) for w, x in v.cluster_voters(s)),
                    ),
                )
            )

        return self._m(("in_quorum", s, m), build)

    def reaches_quorate(self, s: str, m: str) -> X:
        """Member ``m`` of Elected ``s`` reaches a quorate member of its coordinator."""

        def build() -> X:
            c = self.v.coordinator(s)
            if c is None:
                return self.alg.FALSE
            return self.alg.or_(self._with(lambda x, c=c: self.in_quorum(c, x), m, x) for x in self.v.instances[c])

        return self._m(("reaches_quorate", s, m), build)

    def _replicas(self, s: str, m: str, member: Callable[[str], X]) -> X:
        """``m`` reaches ``min_replicas`` other members for which ``member`` holds."""
        st = self.v.services[s].strategy
        assert isinstance(st, Elected), s
        return self.alg.at_least(st.min_replicas, (self._with(member, m, x) for x in self.v.instances[s] if x != m))

    def leader_candidate(self, s: str, m: str) -> X:
        """Member ``m`` of Elected ``s`` can take the leader lock and write."""

        def build() -> X:
            if self.v.coordinator(s) is None:
                return self.alg.FALSE
            return self.alg.and_(
                lazily(
                    lambda: self.inst_ok(s, m),
                    lambda: self.reaches_quorate(s, m),
                    lambda: self._replicas(s, m, lambda x: self.inst_ok(s, x)),
                )
            )

        return self._m(("leader", s, m), build)

    def cut_off(self, s: str, m: str) -> X:
        """Member ``m`` of Elected ``s`` is ok but reaches no quorate coordinator member."""
        return self._m(
            ("cut_off", s, m),
            lambda: self.alg.and_(
                lazily(lambda: self.inst_ok(s, m), lambda: self.alg.not_(self.reaches_quorate(s, m)))
            ),
        )

    def cut_off_writer(self, s: str, m: str) -> X:
        """Member ``m`` of Elected ``s`` keeps writing as a cut-off old master."""
        return self._m(
            ("cut_off_writer", s, m),
            lambda: self.alg.and_(
                lazily(lambda: self.cut_off(s, m), lambda: self._replicas(s, m, lambda x: self.cut_off(s, x)))
            ),
        )

    # -- serving and reaching services ----------------------------------------

    def members(self, s: str) -> tuple[str, ...]:
        """The nodes where ``s`` may serve: a VIP holder's holders, the one
        running instance of an unmanaged active/passive service, else every
        instance."""
        v = self.v
        if isinstance(v.services[s].strategy, (Vrrp, PacemakerVip)):
            return v.holders[s]
        return v.counted_instances(s)

    def base(self, s: str, n: str) -> X:
        """The instance of ``s`` on ``n`` meets its strategy's condition
        (dependencies aside)."""
        A, v = self.alg, self.v
        st = v.services[s].strategy
        if isinstance(st, External):
            return A.TRUE
        if isinstance(st, (Vrrp, PacemakerVip)):
            return self.eligible(s, n)
        if isinstance(st, AppCluster):
            return self.in_quorum(s, n)
        if isinstance(st, Elected):
            return self.leader_candidate(s, n)
        if isinstance(st, ActivePassive) and st.manager is not None:
            net = v.vip_network.get(s)  # with vips: the address follows it
            return A.and_(
                lazily(
                    lambda: self.inst_ok(s, n),
                    lambda: self.pcmk_quorate(n),
                    lambda: self.port_up(n, net) if net is not None else A.TRUE,
                )
            )
        if isinstance(st, (BehindVip, Coordinated, Witness, ActivePassive, Sharded)):
            return self.inst_ok(s, n)
        raise TypeError(f"unknown strategy {type(st).__name__}")

    def serves(self, s: str, n: str) -> X:
        """The instance of ``s`` on ``n`` serves: its strategy's condition,
        and every dependency reached from ``n`` (a local one on ``n`` itself)."""

        def build() -> X:
            A, v = self.alg, self.v
            local = v.local_dependencies(s)

            def dep(d: str) -> X:
                if d in local:
                    return self.serves(d, n) if n in self.members(d) else A.FALSE
                return self.reaches(n, d, s)

            return A.and_(lazily(lambda: self.base(s, n), *(lambda d=d: dep(d) for d in v.dependencies(s))))

        return self._m(("serves", s, n), build)

    def reads(self, s: str, n: str) -> X:
        """The instance of ``s`` on ``n`` answers reads: for an elected
        service any ok member does (a replica keeps serving reads without a
        leader or its coordinator), with its other dependencies reached;
        otherwise as :meth:`serves`."""
        v = self.v
        if not isinstance(v.services[s].strategy, Elected):
            return self.serves(s, n)

        def build() -> X:
            coord = v.coordinator(s)
            return self.alg.and_(
                lazily(
                    lambda: self.inst_ok(s, n),
                    *(lambda d=d: self.reaches(n, d, s) for d in v.dependencies(s) if d != coord),
                )
            )

        return self._m(("reads", s, n), build)

    def _target(self, s: str, frm: str | None, read: bool = False) -> X:
        """From ``frm``, some serving point of ``s`` is reached directly
        (every shard of a sharded service; ``read``: one that answers reads)."""

        def build() -> X:
            A = self.alg
            pts = self.members(s)
            each = (self._served_from(s, b, frm, read) for b in pts)
            if isinstance(self.v.services[s].strategy, Sharded):
                return A.and_(each) if pts else A.FALSE
            return A.or_(each)

        return self._m(("target", s, frm, read), build)

    def _served_from(self, s: str, b: str, frm: str | None, read: bool = False) -> X:
        return self.alg.and_(lazily(lambda: self.reads(s, b) if read else self.serves(s, b), lambda: self.near(frm, b)))

    def access(self, frm: str | None, s: str, h: str | None, read: bool = False) -> X:
        """From ``frm`` (``None``: the service's own clients), ``s`` is
        usable through the VIP held by service ``h`` (``None``: directly):
        an eligible holder that ``frm`` reaches reaches a serving point of
        ``s``."""

        def build() -> X:
            A, v = self.alg, self.v
            if isinstance(v.services[s].strategy, External):
                return A.TRUE
            if h is None or h == s:
                return self._target(s, frm, read)
            # The holder forwards while eligible; its own dependencies are its own
            # (a holder that depends on a service behind it is no cycle here).
            return A.or_(
                A.and_(
                    lazily(
                        lambda x=x, h=h: self.eligible(h, x),
                        lambda x=x: self.near(frm, x),
                        lambda x=x: self._target(s, x, read),
                    )
                )
                for x in v.holders[h]
            )

        return self._m(("access", frm, s, h, read), build)

    def reaches(self, n: str, d: str, consumer: str) -> X:
        """An instance of ``consumer`` on ``n`` can use dependency ``d``
        (through its internal front, if it has one)."""
        return self.access(n, d, self.v.access_holder(d, consumer))

    def clients(self, s: str) -> str | None:
        """Where the clients of ``s`` come from (see :meth:`near`)."""
        sws = self.v.clients.get(s)
        if sws is None:
            return None
        net = self.v.client_nets.get(s)
        return CLIENTS + ",".join(sws) + (NET + net if net is not None else "")

    def up(self, s: str, via: str | None = None) -> X:
        """``s`` fully available (sharded: every shard) to its clients (from
        where ``Service.clients`` says) that come through the VIP held by
        service ``via`` (default: its first front's)."""
        return self.access(self.clients(s), s, self.v.access_holder(s) if via is None else via)

    def read_up(self, s: str) -> X:
        """Reads of ``s`` are answered for its clients (see :meth:`reads`):
        differs from :meth:`up` for an elected (single-writer) service."""
        return self.access(self.clients(s), s, self.v.access_holder(s), read=True)

    # -- split brain ----------------------------------------------------------

    def split_brain(self, s: str) -> X:
        """Two sides each run ``s`` as master (VIP holders that cannot see
        each other, an AppCluster with two quorums, or an Elected service
        whose cut-off old master keeps writing)."""
        A, v = self.alg, self.v
        st = v.services[s].strategy
        if isinstance(st, (Vrrp, PacemakerVip)):
            # Adverts go over the first VIP's network; a sync group is split when
            # any of its groups is (its masters force the others to master).
            nets = sorted({v.vip_network[g] for g in v.sync.get(s, (s,))})
            hs = v.holders[s]
            return A.or_(
                A.and_(
                    lazily(
                        lambda a=a: self.eligible(s, a, True),
                        lambda b=b: self.eligible(s, b, True),
                        lambda a=a, b=b: A.not_(A.and_(self.reach_on(a, b, net) for net in nets)),
                    )
                )
                for i, a in enumerate(hs)
                for b in hs[i + 1 :]
            )
        if isinstance(st, AppCluster):
            if 2 * v.quorum(s) > len(v.cluster_voters(s)):
                # Two quorums share a voter, so they cannot both elect (even
                # when, with bonds, reachability is not transitive).
                return A.FALSE
            ms = v.instances[s]
            return A.or_(
                A.and_(
                    lazily(
                        lambda a=a: self.in_quorum(s, a),
                        lambda b=b: self.in_quorum(s, b),
                        lambda a=a, b=b: A.not_(self.reach(a, b)),
                    )
                )
                for i, a in enumerate(ms)
                for b in ms[i + 1 :]
            )
        if isinstance(st, Elected) and not st.steps_down:
            # The quorate side promotes a writer while a cut-off old master
            # keeps writing (any member may have been the master).
            ms = v.instances[s]
            return A.and_(
                lazily(
                    lambda: A.or_(self.leader_candidate(s, m) for m in ms),
                    lambda: A.or_(self.cut_off_writer(s, m) for m in ms),
                )
            )
        return A.FALSE
