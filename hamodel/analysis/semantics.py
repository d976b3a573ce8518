"""Plain-Python failure semantics: which services are up for one failure set.

The rules are :mod:`hamodel.analysis.rules` (stated once); this back end
evaluates them as Python booleans for one failure set, short-circuiting,
with connectivity found by breadth-first search over the up switches and
links (where the Z3 back end uses layered reachability and the fault-tree
back end simple paths). It is what brute-force enumeration runs on (tests
and ``benchmarks/bench_analysis.py``) and what the docs use for
:func:`hamodel.analysis.failures.single_failure_scenarios`; on top of the
rules it says how degraded a service that is up is (:meth:`Evaluation.state`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from hamodel.analysis.components import ModelView
from hamodel.analysis.rules import Algebra, Rules
from hamodel.model.strategies import External, Sharded

UP, DEGRADED, PARTIAL, DOWN = "up", "degraded", "partial", "down"


class Booleans(Algebra[bool]):
    """Truth values for one failure set."""

    TRUE, FALSE = True, False

    def __init__(self, failed: frozenset[str]):
        self.failed = failed
        self._groups: dict[str, dict[str, int]] = {}

    def alive(self, cid: str) -> bool:
        return cid not in self.failed

    def and_(self, xs: Iterable[bool]) -> bool:
        return all(xs)

    def or_(self, xs: Iterable[bool]) -> bool:
        return any(xs)

    def at_least(self, k: int, xs: Iterable[bool]) -> bool:
        if k <= 0:
            return True
        for x in xs:
            if x:
                k -= 1
                if k == 0:
                    return True
        return False

    def not_(self, x: bool) -> bool:
        return not x

    def connected(self, rules: Rules[bool], net: str, a: str, b: str) -> bool:
        g = self._switch_group(rules, net)
        return a in g and b in g and g[a] == g[b]

    def _switch_group(self, rules: Rules[bool], net: str) -> dict[str, int]:
        """Connected component number of every up switch of ``net`` (BFS)."""
        if net not in self._groups:
            v = rules.v
            adj: dict[str, list[str]] = {s: [] for s in v.net_switches[net]}
            for a, b, cid in v.net_links[net]:
                if cid not in self.failed:
                    adj[a].append(b)
                    adj[b].append(a)
            group: dict[str, int] = {}
            for start in v.net_switches[net]:
                if start in group or not rules.switch_up(start):
                    continue
                gid = group[start] = len(group)
                q = deque([start])
                while q:
                    x = q.popleft()
                    for y in adj[x]:
                        if y not in group and rules.switch_up(y):
                            group[y] = gid
                            q.append(y)
            self._groups[net] = group
        return self._groups[net]


class Evaluation(Rules[bool]):
    """The state of every service under one failure set."""

    def __init__(self, v: ModelView, failed: Iterable[str]):
        self.failed = frozenset(failed)
        super().__init__(v, Booleans(self.failed))

    def leader_candidates(self, s: str) -> list[str]:
        """Members of Elected ``s`` that can take the leader lock and write."""
        return [m for m in self.v.instances[s] if self.leader_candidate(s, m)]

    def cut_off_writers(self, s: str) -> list[str]:
        """Members of Elected ``s`` (``steps_down=False``) that would keep
        writing as an old master cut off from the coordinator's quorate side."""
        return [m for m in self.v.instances[s] if self.cut_off_writer(s, m)]

    def state(self, s: str) -> str:
        """``up``, ``degraded`` (up, some instance or holder lost, or a soft
        dependency out of reach), ``partial`` (a sharded service lost some
        shards) or ``down``."""
        v = self.v
        st = v.services[s].strategy
        if isinstance(st, External):
            return UP
        if isinstance(st, Sharded):
            serving = [n for n in v.instances[s] if self.serves(s, n)]
            if not serving:
                return DOWN
            return UP if len(serving) == len(v.instances[s]) else PARTIAL
        if not self.up(s):
            return DOWN
        lost = [n for n in v.counted_instances(s) if not self.inst_ok(s, n)]
        lost += [h for h in v.holders.get(s, ()) if not self.eligible(s, h)]
        soft = [d for d in v.soft_dependencies(s) if not self.up(d, v.access_holder(d, s))]
        return DEGRADED if lost or soft else UP


def evaluate(v: ModelView, failed: Iterable[str]) -> dict[str, str]:
    """State of every service (see :meth:`Evaluation.state`) when ``failed``
    components have failed."""
    e = Evaluation(v, failed)
    return {s: e.state(s) for s in sorted(v.services)}


def is_down(v: ModelView, s: str, failed: Iterable[str]) -> bool:
    """``s`` is not fully available under ``failed``."""
    return not Evaluation(v, failed).up(s)
