"""A model nobody wrote for hamodel's tests, checked against a hand analysis.

Rooms a and b each hold a load balancer, an app server (RabbitMQ runs on
both, every member needed: quorum 2 of 2) and a Galera member; the closet c
holds garbd. One switch per room, meshed; one power feed per room.

By hand: any loss in room a or b (node, feed, room, switch) stops RabbitMQ
and with it the app; Galera keeps 2 of 3 votes through any single failure
and never splits; one inter-room link alone partitions nothing (the third
room is a detour), two links isolating room a split the VRRP group.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hamodel.loader import load
from hamodel.pipeline import resolve

MODEL = Path(__file__).resolve().parents[1] / "data" / "tworoom.py"


@pytest.fixture(scope="module")
def dep():
    return resolve(load(str(MODEL)), k=2)


def _f(dep, fid):
    return next(f for f in dep.findings if f.id == fid)


def test_rabbitmq_every_member_needed(dep):
    f = _f(dep, "quorum-loss:rabbitmq")
    assert f.severity.name == "HIGH" and "app" in f.services
    singles = {tuple(c) for c in f.details["cut_sets"] if len(c) == 1}
    assert singles == {
        (c,)
        for c in (
            "node:app-a",
            "node:app-b",
            "proc:rabbitmq@app-a",
            "proc:rabbitmq@app-b",
            "domain:feed-a",
            "domain:feed-b",
            "domain:room-a",
            "domain:room-b",
            "switch:sw-a",
            "switch:sw-b",
        )
    }
    assert "needs all 2 of its votes" in f.impact and "runs its only usable instance" not in f.impact
    assert "quorum='majority'" in f.mitigation and "Witness('rabbitmq')" in f.mitigation
    assert "more than 0 votes" not in f.mitigation


def test_galera_with_garbd_needs_two_failures_and_never_splits(dep):
    f = _f(dep, "quorum-loss:galera")
    assert f.details["min_size"] == 2 and f.details["witnesses"] == ["garbd"]
    assert not [x for x in dep.findings if x.id == "split-brain:galera"]


def test_isolating_room_a_takes_two_links_and_splits_vrrp(dep):
    f = _f(dep, "split-brain:haproxy")
    assert sorted(f.scenario) == ["link:lan:sw-a~sw-b", "link:lan:sw-a~sw-c"]
    # no single link partitions anything
    assert not [
        x for x in dep.findings for c in x.details.get("cut_sets", []) if len(c) == 1 and c[0].startswith("link:")
    ]
