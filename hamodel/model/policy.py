"""Recovery objectives: how long a service may be down, and how much it may
lose, per class of disruption.

A :class:`Policy` sits on the architecture (every service) or on one
service (overriding the architecture's per class). Durations are strings
with a unit (``"500ms"``, ``"10s"``, ``"2m"``, ``"1h"``) or plain seconds;
negative or unparseable ones are refused by field. Whether the model has a
component of each class named (a switch for ``switch``, a site for
``site``...) is checked by the architecture, which knows the components.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field

from hamodel.model.base import HaBase

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The classes of disruption a recovery objective is given for. ``process``:
#: one instance's process dies; ``node``: a node crashes; ``switch``: a
#: switch fails; ``link``: an inter-switch link is cut; ``domain``: a rack,
#: zone or power feed fails (every node in it); ``site``: a site; and
#: ``partition``: the network splits and both sides keep running.
Disruption = Literal["process", "node", "switch", "link", "domain", "site", "partition"]
DISRUPTIONS: tuple[str, ...] = get_args(Disruption)

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(ms|s|min|m|h)\s*$")


def parse_duration(value: Any) -> float:
    """Seconds of ``value``: ``"500ms"``, ``"10s"``, ``"2m"``, ``"1h"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration: give e.g. '500ms', '10s', '2m'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration: give a number and a unit (ms, s, m, h), e.g. '10s'")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration: give e.g. '500ms', '10s', '2m'")
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"{value!r}: a duration cannot be negative or infinite")
    return round(seconds, 6)


def format_duration(seconds: float) -> str:
    """``seconds`` the way a policy writes it (``"500ms"``, ``"5s"``, ``"2.5s"``)."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(parse_duration)]


class Policy(HaBase):
    """Recovery objectives per class of disruption.

    ``rto``: the longest a client of the service may see it down (first
    failed request to first good one); ``rpo``: the most recent writes it
    may lose (``"0s"``: none). A class left out has no objective::

        Policy(rto={"node": "10s", "process": "5s"}, rpo={"node": "0s"})
    """

    rto: dict[Disruption, Duration] = Field(default_factory=dict)
    rpo: dict[Disruption, Duration] = Field(default_factory=dict)

    if TYPE_CHECKING:
        # The signature editors see (accepted input types).
        def __init__(self, *, rto: Mapping[str, str | float] = ..., rpo: Mapping[str, str | float] = ...) -> None: ...

    def classes(self) -> list[str]:
        """Every class this policy names, in :data:`DISRUPTIONS` order."""
        named = set(self.rto) | set(self.rpo)
        return [d for d in DISRUPTIONS if d in named]

    def merged(self, override: Policy | None) -> Policy:
        """This policy with ``override``'s objectives taking precedence per class."""
        if override is None:
            return self
        return Policy.model_construct(rto={**self.rto, **override.rto}, rpo={**self.rpo, **override.rpo})


def _present(domains: list, networks: list) -> dict[str, bool]:
    """Which disruption classes the model has a component for."""
    multi_switch = any(len(n.switches) >= 2 for n in networks)
    return {
        "process": True,
        "node": True,
        "switch": any(d.kind == "switch" for d in domains),
        "link": multi_switch,
        "partition": multi_switch,
        "domain": any(d.kind != "switch" and not d.is_site for d in domains),
        "site": any(d.is_site for d in domains),
    }


_MISSING = {
    "switch": "the model has no switch (give a network switches=[...])",
    "link": "the model has no inter-switch link (no network has two switches)",
    "partition": "nothing in the model can partition a network (no network has two switches)",
    "domain": "the model has no failure domain other than switches and sites (e.g. Rack)",
    "site": "the model has no site (a domain of kind site or region, or site=True)",
}


def policy_problems(policy: Policy | None, where: str, domains: list, networks: list) -> list[tuple[str, str]]:
    """(path, message) for each class ``policy`` names that the model has no component for."""
    if policy is None:
        return []
    have = _present(domains, networks)
    return [
        (f"{where}.{field}[{c}]", f"no {c} disruption to recover from: {_MISSING[c]}")
        for field in ("rto", "rpo")
        for c in getattr(policy, field)
        if not have[c]
    ]
