"""Failure components in plain words, for every page and diagram a person reads.

The analysis names components by id (``node:ctl-1``, ``proc:cinder-volume@ctl-1``,
``domain:r1``, ``switch:sw-1``, ``link:mgmt:sw-1~sw-2``, ``trunk:t1``); the
documents and diagrams say "node ctl-1", "cinder-volume process on ctl-1",
"rack r1", "switch sw-1", "link sw-1\u2013sw-2 (mgmt)". A leaf module.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hamodel.deployment import Deployment

_COMPONENT = re.compile(r"\b(node|proc|domain|switch|link|trunk):([A-Za-z0-9_.@~:-]+[A-Za-z0-9])")


def plain_component(cid: str, dep: Deployment | None = None) -> str:
    """``proc:cinder-volume@ctl-1`` as "cinder-volume process on ctl-1" (and so on)."""
    kind, _, name = cid.partition(":")
    if kind == "node":
        return f"node {name}"
    if kind == "proc":
        proc, _, node = name.partition("@")
        return f"{proc} process on {node}"
    if kind == "domain":
        what = "domain"
        if dep is not None:
            try:
                what = dep.architecture.domain(name).kind
            except (KeyError, ValueError):
                pass
        return f"{what} {name}"
    if kind == "switch":
        return f"switch {name}"
    if kind in ("link", "trunk"):
        net, _, ends = name.rpartition(":")
        a, _, b = ends.partition("~")
        return f"{'link' if kind == 'link' else 'trunk'} {a}\u2013{b}" + (f" ({net})" if net else "")
    return cid


def plain_text(text: str, dep: Deployment | None = None) -> str:
    """Every component id inside a sentence in plain words."""
    return _COMPONENT.sub(lambda m: plain_component(m.group(0), dep), text)
