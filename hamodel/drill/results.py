"""Typed results of a drill: checks, probe summaries, one scenario's outcome.

Scenario kinds return dataclasses, never dicts; :func:`as_json` turns them
into the JSON report's shape. Two field options keep that shape what the
report has always been (``hamodel drill --json`` and ``docs/drills.rst``
read it):

- :func:`optional` fields are left out while ``None`` (a key that only
  appears when it means something, like ``first_failure_s``);
- :func:`flat` fields put their own fields at the level of the parent
  (a :class:`ProbeSummary` inside a measurement).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

_OPTIONAL = "hamodel.optional"
_FLAT = "hamodel.flat"


def optional(default: Any = None) -> Any:
    """A field left out of the JSON while it is ``None``."""
    return field(default=default, metadata={_OPTIONAL: True})


def flat(**kw: Any) -> Any:
    """A dataclass field whose own fields appear at the parent's level in the JSON."""
    return field(metadata={_FLAT: True}, **kw)


def as_json(value: Any) -> Any:
    """A result (dataclasses, lists, dicts, scalars) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.metadata.get(_OPTIONAL) and v is None:
                continue
            if f.metadata.get(_FLAT):
                out.update(as_json(v))
                continue
            out[f.name] = as_json(v)
        return out
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value


@dataclass(frozen=True)
class Check:
    """One comparison of a prediction with a measurement."""

    what: str
    expected: Any
    measured: Any
    agreed: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "agreed", bool(self.agreed))


@dataclass
class ProbeSummary:
    """The client's requests from the injection on (``t0``)."""

    requests: int
    failed_requests: int
    first_failure_s: float | None = optional()
    last_failure_s: float | None = optional()
    service_restored_s: float | None = optional()

    @classmethod
    def of(cls, results: list[dict], t0: float) -> ProbeSummary:
        after = requests_in(results, t0)
        failed = [r for r in after if not r["ok"]]
        out = cls(len(after), len(failed))
        if failed:
            out.first_failure_s = round(failed[0]["t"] - t0, 3)
            last = failed[-1]
            out.last_failure_s = round(last["t"] - t0, 3)
            ok_after = [r for r in after if r["ok"] and r["t"] > last["t"]]
            if ok_after:
                out.service_restored_s = round(ok_after[0]["t"] + ok_after[0]["ms"] / 1000 - t0, 3)
        return out


def requests_in(results: list[dict], start: float, end: float | None = None) -> list[dict]:
    """The probe's requests sent in ``[start, end)``."""
    return [r for r in results if r["t"] >= start and (end is None or r["t"] < end)]


@dataclass
class ScenarioResult:
    """One scenario as the report shows it.

    ``prediction`` and ``measured`` are the kind's own dataclasses; both
    are left out when the scenario stopped with an ``error`` before
    measuring (an unsettled lab, a lab failure).
    """

    name: str
    kind: str
    title: str
    vip: str
    service: str | None
    notes: list[str] = field(default_factory=list)
    prediction: Any = optional()
    measured: Any = optional()
    checks: list[Check] = field(default_factory=list)
    agreed: bool = False
    error: str | None = optional()
    duration_s: float = 0.0


@dataclass
class Startup:
    """The lab's cold start: how soon keepalived elected a holder, who, and what answered."""

    first_holder_s: float
    initial_holders: dict[str, str]
    preferred_holders: dict[str, str]
    notes: list[str] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)
