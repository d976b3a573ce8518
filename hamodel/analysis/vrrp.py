"""VRRP allocation: router ids per network segment, priorities and first masters.

Runs after placement (it needs to know which nodes hold each VIP) and before
analysis (split-brain findings read the groups). Kept apart from the
placement search: it is bookkeeping over the placement, with its own
stability rule (lock-file ids stay put).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from hamodel.analysis.placement_statements import plural
from hamodel.analysis.results import VrrpGroup
from hamodel.model import Architecture
from hamodel.model.strategies import ActivePassive, AppCluster, PacemakerVip, Vrrp
from hamodel.ordering import natural_key

__all__ = ["Allocation", "allocate", "priorities"]

#: Priority step between consecutive members. A backup's master-down timer is
#: 3 x advert_int + (256 - priority) / 256 x advert_int: a step of 10 puts the
#: backups' timers 39 ms apart at advert_int 1, above the few milliseconds two
#: keepalived processes drift apart under load, so the next holder is the
#: next member in order, not whichever process the scheduler ran first (a
#: step of 1 is 4 ms: measured, the third member sometimes won).
STEP = 10


@dataclass(frozen=True)
class Allocation:
    """The VRRP groups, the nodes that need non-local binds, and what could not be allocated."""

    groups: tuple[VrrpGroup, ...]
    nonlocal_bind_nodes: frozenset[str]
    problems: tuple[str, ...]


def allocate(
    arch: Architecture,
    instances: Mapping[str, list[str]],
    previous: Mapping[str, set[str]],
    previous_vrids: Mapping[str, int] | None = None,
) -> Allocation:
    """VRRP groups (router id, priorities, first master) for every VIP-holding service, and
    the nodes that bind VIPs they may not hold (``net.ipv4.ip_nonlocal_bind``).

    Ids fixed in the model win; ids from the lock file (``previous_vrids``)
    stay with their group while still free and inside the network's
    ``vrid_range``; the rest take the lowest free id of the range. Members
    already in the group (``previous``) keep the highest priorities, so a
    new node never preempts the current master. Problems (a clash of fixed
    ids, a full range, too many members) are returned, not raised.
    """
    vips = {v.name: v for v in arch.vips}
    networks = {n.name: n for n in arch.networks}
    holders = [s for s in arch.services if s.holds_vips]
    used: dict[str, dict[int, str]] = defaultdict(dict)
    problems: list[str] = []
    for net in arch.networks:
        for v in net.reserved_vrids:
            used[net.name][v] = "reserved"
    for s in holders:
        if isinstance(s.strategy, Vrrp) and s.strategy.vrid is not None:
            net = vips[s.holds_vips[0]].network
            owner = used[net].get(s.strategy.vrid)
            if owner is not None:
                problems.append(
                    f"{s.name} fixes vrid {s.strategy.vrid}, but on network {net} it is "
                    + ("reserved (reserved_vrids)" if owner == "reserved" else f"also fixed by {owner}")
                )
            used[net][s.strategy.vrid] = s.name
    # Ids from the lock file stay with their group while still free, so a
    # group added to the model never renumbers the existing ones; one outside
    # a range the operator set (vrid_range) is reallocated inside it.
    kept: dict[str, int] = {}
    for s in holders:
        old = (previous_vrids or {}).get(s.name)
        net = vips[s.holds_vips[0]].network
        if isinstance(s.strategy, Vrrp) and s.strategy.vrid is not None:
            continue
        in_range = networks[net].vrid_range is None or old in networks[net].vrids
        if isinstance(old, int) and 1 <= old <= 255 and old not in used[net] and in_range:
            used[net][old] = s.name
            kept[s.name] = old
    groups: list[VrrpGroup] = []
    for s in holders:
        net = vips[s.holds_vips[0]].network
        if isinstance(s.strategy, Vrrp) and s.strategy.vrid is not None:
            vrid = s.strategy.vrid
        elif s.name in kept:
            vrid = kept[s.name]
        else:
            ids = networks[net].vrids
            free = [i for i in ids if i not in used[net]]
            if not free:
                problems.append(
                    f"{s.name} needs a VRRP router id on network {net}, but all {len(ids)} of "
                    f"vrid_range {ids.start}-{ids.stop - 1} are used "
                    f"({plural(len(networks[net].reserved_vrids), 'reserved id')})"
                )
                continue
            vrid = free[0]
            used[net][vrid] = s.name
        members = sorted(
            instances.get(s.name, []), key=lambda n: (n not in previous.get(s.name, set()), natural_key(n))
        )
        if len(members) > 254:
            problems.append(f"{s.name} has {len(members)} VIP holders, but VRRP priorities allow at most 254")
            continue
        if not members:
            continue
        prios = priorities(members)
        groups.append(
            VrrpGroup(
                service=s.name,
                vips=tuple(s.holds_vips),
                network=net,
                vrid=vrid,
                priorities=prios,
                master=members[0],
                manager="pacemaker"
                if isinstance(s.strategy, (PacemakerVip, ActivePassive, AppCluster))
                else "keepalived",
            )
        )
    fronted = {s.access.vip for s in arch.services if s.access is not None}
    nonlocal_nodes = {n for s in holders if set(s.holds_vips) & fronted for n in instances.get(s.name, [])}
    return Allocation(tuple(groups), frozenset(nonlocal_nodes), tuple(problems))


def priorities(members: list[str]) -> dict[str, int]:
    """VRRP priorities in member order, highest first: steps of :data:`STEP` down to 100
    (150/140/.../100 for six members), closer steps only when more members need room
    under 254, and steps of 1 from 254 down for more than 155 members."""
    n = len(members)
    step = STEP if n < 2 else max(1, min(STEP, 154 // (n - 1)))
    low = min(100, 254 - step * (n - 1))
    return {m: low + step * (n - 1 - i) for i, m in enumerate(members)}
