"""The quorum-shape scenarios (two_node, quorum device) run as the cluster protocol's steps, and
their ``restore`` undoes the injection even when the measurement raised (issue 28)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hamodel.drill.pacemaker import quorum, quorum_observe
from hamodel.drill.pacemaker import scenarios as majority
from hamodel.drill.scenario import ClusterRun, ClusterScenario, WholeClusterScenario

STEPS = ("predict", "inject", "measure", "restore", "checks")


class FakeLab:
    """What the scenarios' inject and restore touch of a PacemakerLab, recorded."""

    nodes = ["pm-1", "pm-2"]

    def __init__(self, qnetd: bool):
        self.calls: list[tuple] = []
        self.down: set[str] = set()
        self.cut: set[str] = set()
        self.qnetd_up = qnetd
        self.plan = SimpleNamespace(
            qnetd=SimpleNamespace(node="arbiter") if qnetd else None, vips=[SimpleNamespace(name="vip")]
        )

    def fence_log(self) -> list[dict]:
        return []

    def dc(self) -> str:
        return "pm-1"

    def isolate(self, node: str, cut: bool) -> list[str]:
        self.calls.append(("isolate", node, cut))
        (self.cut.add if cut else self.cut.discard)(node)
        return ["sw-1--sw-2"] if cut else []

    def power_off(self, node: str) -> None:
        self.calls.append(("power_off", node))
        self.down.add(node)

    def power_on(self, node: str) -> None:
        self.calls.append(("power_on", node))
        self.down.discard(node)

    def alive(self, node: str, what: str = "pacemakerd") -> bool:
        return node not in self.down

    def stop_qnetd(self) -> None:
        self.calls.append(("stop_qnetd",))
        self.qnetd_up = False

    def start_qnetd(self) -> None:
        self.calls.append(("start_qnetd",))
        self.qnetd_up = True

    def qnetd_alive(self) -> bool:
        return self.qnetd_up

    def log_size(self, node: str, what: str = "pacemaker") -> int:
        return 0

    def quorum_status(self, node: str) -> dict[str, Any] | None:
        if node in self.down:
            return None
        votes = 2 + (self.qnetd_up and not self.down)
        return {"quorate": True, "total_votes": votes, "expected_votes": 3, "qdevice_flags": "A,V,NMW"}

    def wait(self, pred, timeout, what, every=0.5, detail=None):
        assert pred(), f"not {what}: {detail() if detail else ''}"


def failing(kind: type[quorum.QuorumScenario], **state: Any) -> type[quorum.QuorumScenario]:
    """``kind`` with a prediction made by hand (``state``) and a measurement that raises."""

    class Failing(kind):  # type: ignore[valid-type,misc]
        def predict(self) -> dict[str, Any]:
            self.__dict__.update(state)
            return {}

        def measure(self) -> dict[str, Any]:
            raise RuntimeError("measurement failed")

    return Failing


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(majority, "settle", lambda pl: 0.0)
    monkeypatch.setattr(quorum_observe, "settle", lambda pl: 0.0)
    monkeypatch.setattr(quorum.time, "sleep", lambda s: None)


def test_every_quorum_scenario_has_the_steps():
    assert {k.kind for k in quorum.SCENARIO_KINDS} == {*quorum.SCENARIOS["two_node"], *quorum.SCENARIOS["qdevice"]}
    for k in quorum.SCENARIO_KINDS:
        assert not issubclass(k, WholeClusterScenario), k.kind
        for step in STEPS:
            assert getattr(k, step) is not getattr(ClusterScenario, step, None), f"{k.kind} lacks its own {step}"


def run_failing(pl: FakeLab, kind: type[quorum.QuorumScenario]) -> None:
    with pytest.raises(RuntimeError, match="measurement failed"):
        majority.run_each(pl, [kind], ClusterRun(lab=pl, watch=None, quorum=None), lambda s: None)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [quorum.TwoNodePartition, quorum.QdevicePartition])
def test_partition_heals_after_a_failed_measurement(kind):
    pl = FakeLab(qnetd=kind.shape == "qdevice")
    run_failing(pl, failing(kind, isolated="pm-2", moved=False, rid="vip-rid", tm=None))
    assert pl.calls[0] == ("isolate", "pm-2", True)
    assert ("isolate", "pm-2", False) in pl.calls and not pl.cut


@pytest.mark.parametrize("kind", [quorum.TwoNodeCrash, quorum.QdeviceNodeCrash])
def test_crash_powers_the_victim_on_after_a_failed_measurement(kind):
    pl = FakeLab(qnetd=kind.shape == "qdevice")
    run_failing(pl, failing(kind, victim="pm-1"))
    assert pl.calls == [("power_off", "pm-1"), ("power_on", "pm-1")] and not pl.down


def test_qnetd_loss_restarts_qnetd_and_the_node_after_a_failed_measurement():
    pl = FakeLab(qnetd=True)
    pl.down.add("pm-2")  # as if the measurement had got as far as the second failure
    run_failing(pl, failing(quorum.QnetdLossNodeCrash, holder="pm-1", victim="pm-2"))
    assert pl.calls == [("stop_qnetd",), ("start_qnetd",), ("power_on", "pm-2")]
    assert pl.qnetd_up and not pl.down
