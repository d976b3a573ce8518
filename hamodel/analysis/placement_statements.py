"""Placement statements as typed records, each describing itself in the model's words.

The placement encoding (:mod:`hamodel.analysis.placement_solver`) guards
every model statement it asserts with a literal, so that an unsat core names
statements, not solver terms. Each statement is one small frozen record
below (hashable: the encoding keys its literals by them), and each knows how
to say itself to the architect: :func:`describe` renders a core.

The helpers for lists and plurals live here too, since both this module and
:mod:`hamodel.analysis.placement` write explanations with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hamodel.analysis.placement_problem import SCALE, Problem
from hamodel.ordering import natural_key

if TYPE_CHECKING:
    from hamodel.model import Service

#: Resources a node offers, as ``(index name, words)``; requests are compared in thousandths.
RESOURCES = (("cpu", "cpu"), ("memory_gb", "GB of memory"))


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 node``, ``2 nodes`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def names(items: Iterable[str], limit: int = 8) -> str:
    """A comma-separated list, cut after ``limit`` items with the total said."""
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", ... ({len(items)} in all)"
    return ", ".join(items)


def role_text(svc: Service) -> str:
    """``the controller role`` / ``the roles a, b``."""
    return f"the {' / '.join(svc.on)} role" if len(svc.on) == 1 else f"the roles {', '.join(svc.on)}"


def fmt(v: float) -> str:
    return f"{v:g}"


class Statement:
    """One guarded model statement of the placement encoding."""

    service: str  #: the service it is about (every statement's first field)

    def services(self) -> set[str]:
        """The services this statement names (symmetry breaking keeps a pair ordered only
        while every statement naming either is active)."""
        return {self.service}

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        """This statement in the model's words; None when another statement of ``core`` says it."""
        raise NotImplementedError


@dataclass(frozen=True)
class Count(Statement):
    """``service`` runs its number of instances on distinct candidate nodes."""

    service: str

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        sv, svc = pr.by_name[self.service], pr.arch.service(self.service)
        anti = next((st.kind for st in core if isinstance(st, Anti) and st.service == self.service), None)
        if anti is not None:
            doms = sorted(
                {d for n in sv.cand for d in pr.node_domains[n] if pr.domain_kind.get(d) == anti}, key=natural_key
            )
            return (
                f"{sv.name} needs {sv.count} members on distinct {anti}s, but {role_text(svc)} spans "
                f"{plural(len(doms), anti)} ({names(doms)})"
            )
        if sv.everywhere:
            return f"{sv.name} runs on every node of {role_text(svc)} (replicas='all'): {names(sv.cand)}"
        return (
            f"{sv.name} needs {plural(sv.count, 'instance')} on distinct nodes of {role_text(svc)} ({names(sv.cand)})"
        )


@dataclass(frozen=True)
class Anti(Statement):
    """No two instances of ``service`` in one domain of ``kind`` (anti_affinity)."""

    service: str
    kind: str

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        if any(isinstance(st, Count) and st.service == self.service for st in core):
            return None  # said together with the count
        return f"{self.service} must not have two instances in one {self.kind} (anti_affinity={self.kind!r})"


@dataclass(frozen=True)
class MaxPerDomain(Statement):
    """At most ``max_per_domain[kind]`` instances of ``service`` per domain of ``kind``."""

    service: str
    kind: str

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        limit = pr.arch.service(self.service).max_per_domain.get(self.kind, 1)
        return f"{self.service} allows at most {limit} instances per {self.kind} (max_per_domain)"


@dataclass(frozen=True)
class Pin(Statement):
    """``service`` is pinned to ``nodes`` (a comma-separated list)."""

    service: str
    nodes: str

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        return f"{self.service} is pinned to {self.nodes}"


@dataclass(frozen=True)
class Colocate(Statement):
    """``service`` runs only where ``target`` runs."""

    service: str
    target: str

    def services(self) -> set[str]:
        return {self.service, self.target}

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        return f"{self.service} may run only on nodes that run {self.target} (colocate)"


@dataclass(frozen=True)
class Quorum(Statement):
    """A majority-quorum cluster needs at least three members."""

    service: str

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        return f"{self.service} keeps a majority quorum, which needs at least 3 members" + quorum_hint(self.service)


def quorum_hint(service: str) -> str:
    """How to describe a smaller cluster that exists (said where a majority of 2 is refused)."""
    return (
        f" (to describe a cluster of 2 that needs both members, give AppCluster(quorum=2); or add a "
        f"vote-only Witness('{service}') on a third node)"
    )


@dataclass(frozen=True)
class Capacity(Statement):
    """What ``nodes`` of cell ``cell`` offer of resource number ``resource``."""

    cell: int
    resource: int
    nodes: tuple[str, ...]

    def services(self) -> set[str]:
        return set()

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        r, nodes = self.resource, self.nodes
        caps = sorted({pr.node_cap[n][r] for n in nodes})
        label = RESOURCES[r][1]
        if len(caps) == 1:
            each = f"{fmt(caps[0] / SCALE)} {label}" + ("" if len(nodes) == 1 else " each")
        else:
            each = f"{fmt(sum(pr.node_cap[n][r] for n in nodes) / SCALE)} {label} in all"
        users = sorted(
            {
                sv.name
                for sv in pr.services
                if sv.req[r] > 0 and set(pr.cand_in.get((sv.name, self.cell), ())) & set(nodes)
            }
        )
        return f"{names(list(nodes))} {'has' if len(nodes) == 1 else 'have'} {each}" + (
            f" for {names(users)}" if users else ""
        )


@dataclass(frozen=True)
class PortClash(Statement):
    """``a`` and ``b`` bind the same ``port`` on their nodes' addresses."""

    a: str
    b: str
    port: int

    def services(self) -> set[str]:
        return {self.a, self.b}

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        return (
            f"{self.a} and {self.b} both bind port {self.port} on their nodes' addresses, so they cannot share a node"
        )


@dataclass(frozen=True)
class Fill(Statement):
    """A learnt cut: cell ``cell`` cannot hold ``counts`` (``(service, n)`` pairs) at once."""

    cell: int
    counts: tuple[tuple[str, int], ...]

    def services(self) -> set[str]:
        return {s for s, _ in self.counts}

    def describe(self, pr: Problem, core: list[Statement]) -> str | None:
        held = ", ".join(f"{n} x {s}" for s, n in self.counts)
        return (
            f"the nodes {names(pr.cells[self.cell].nodes)} cannot hold {held} within their capacity, "
            "ports and co-location"
        )


def describe(pr: Problem, core: list[Statement]) -> list[str]:
    """Render the statements of an unsat core in the model's words (one conflict)."""
    parts = [text for st in core if (text := st.describe(pr, core)) is not None]
    if len(parts) > 1:
        return ["these statements conflict: " + "; ".join(parts)]
    return parts or ["no placement satisfies the model"]
