"""Predicted recovery per service and disruption class: plain data.

The analysis (:mod:`hamodel.analysis.recovery`) builds these; the
Deployment carries them; the CLI, the docs and the drill read them. No
solver, no model types here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Timer:
    """One generated (or daemon-default) timer a recovery waits for.

    ``where`` is the model field that sets it (``services[haproxy].strategy.advert_int``)
    or, for a daemon default hamodel does not write, the daemon's own setting name.
    """

    name: str
    value_s: float
    where: str


@dataclass(frozen=True)
class Recovery:
    """How ``service`` comes back from one class of ``disruption``.

    ``rto_s`` is the predicted client outage ``(min, max)`` in seconds, or
    None when no generated timer bounds it (unknown, never 0). ``dominant``
    is the timer the upper bound grows with; ``terms`` every timer in it.
    ``down`` names the components of this class whose failure stops the
    service for good (no automatic recovery). ``rpo`` is a phrase,
    ``rpo_s`` its bound in seconds (0: nothing acknowledged is lost; None:
    unbounded or unknown).
    """

    service: str
    disruption: str
    rto_s: tuple[float, float] | None
    dominant: Timer | None
    rpo: str
    rpo_s: float | None
    scenario: str = ""
    formula: str = ""
    terms: tuple[Timer, ...] = ()
    down: tuple[str, ...] = ()
    note: str = ""
    #: The interval when ``scenario`` (the component of this class that costs most) fails, where it
    #: differs from ``rto_s`` (the hull over every component of the class, whose min is often 0:
    #: a node the service does not wait for). What a drill failing that component checks against;
    #: not in :meth:`to_dict` (the row's JSON is the class's).
    scenario_rto_s: tuple[float, float] | None = None

    @property
    def dominated_by(self) -> str | None:
        t = self.dominant
        return None if t is None else f"{t.name} ({t.where} = {t.value_s:g} s)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "disruption": self.disruption,
            "rto_s": None if self.rto_s is None else [self.rto_s[0], self.rto_s[1]],
            "rpo": self.rpo,
            "rpo_s": self.rpo_s,
            "dominated_by": self.dominated_by,
            "scenario": self.scenario,
            "formula": self.formula,
            "down": list(self.down),
            "note": self.note,
        }


@dataclass(frozen=True)
class RecoveryTable:
    """Every service's :class:`Recovery` rows, by service then disruption class."""

    rows: tuple[Recovery, ...] = ()
    targets: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def of(self, service: str) -> list[Recovery]:
        return [r for r in self.rows if r.service == service]

    def get(self, service: str, disruption: str) -> Recovery | None:
        return next((r for r in self.rows if r.service == service and r.disruption == disruption), None)

    def target(self, service: str, kind: str, disruption: str) -> float | None:
        """The policy's ``kind`` (``rto``/``rpo``) target of ``service`` for ``disruption``, in seconds."""
        return self.targets.get(service, {}).get(kind, {}).get(disruption)

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.rows:
            row = r.to_dict()
            for kind in ("rto", "rpo"):
                t = self.target(r.service, kind, r.disruption)
                if t is not None:
                    row[f"{kind}_target_s"] = t
            out.setdefault(r.service, []).append(row)
        return out
