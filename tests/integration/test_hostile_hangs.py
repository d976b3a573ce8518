"""Hangs and false answers (issue 17): placement answers small capacity-bound
models, limits are deterministic and never read as "unplaceable", an
interrupt claims nothing, a model cannot end the program, a malformed lock
file is named. Real Z3, real signals, the real CLI in subprocesses.

"Does not hang" is asserted with a generous subprocess timeout as a failure
bound only; the speed figures are in benchmarks/bench_placement.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hamodel import Architecture, Node, Resources, Service
from hamodel.analysis import placement_solver as S
from hamodel.analysis.placement import Undecided, Unplaceable, place, verify
from hamodel.errors import HamodelError
from hamodel.strategies import Coordinated

ROOT = Path(__file__).resolve().parents[2]
BOUND = 60  # seconds: a failure bound for "does not hang", not a speed figure

MODEL = """\
from hamodel import Architecture, Node, Rack, Resources, Service
from hamodel.strategies import Coordinated

racks = [Rack(f"r{{i}}") for i in range(1, {nodes} + 1)] if {racks} else []
nodes = [Node(f"n{{i}}", roles={{"app"}}, domains=[racks[i - 1]] if racks else [],
              capacity=Resources(cpu={cpu}, memory_gb=64)) for i in range(1, {nodes} + 1)]
architecture = Architecture(
    "capacity", nodes=nodes, domains=racks,
    services=[Service(f"s{{i}}", on="app", replicas=1, requests=Resources(cpu=1, memory_gb=1),
                      strategy=Coordinated()) for i in range(1, {services} + 1)])
"""


def hamodel(*args: str, timeout: float = BOUND, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hamodel.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kw.pop("cwd", ROOT),
        **kw,
    )


def capacity_model(tmp_path: Path, services: int, cpu: float, nodes: int = 3, racks: bool = True) -> Path:
    p = tmp_path / "m.py"
    p.write_text(MODEL.format(services=services, cpu=cpu, nodes=nodes, racks=racks))
    return p


# -- 1. small capacity-bound models answer ------------------------------------


@pytest.mark.parametrize(
    "services,cpu,racks",
    [
        (30, 12, True),  # the issue: over 10 minutes at 100% cpu
        (30, 12, False),
        (18, 6.5, True),  # the issue: 27 s
        (100, 10.5, True),
    ],
)
def test_feasible_capacity_bound_model_is_placed(tmp_path, services, cpu, racks):
    nodes = 10 if services == 100 else 3
    model = capacity_model(tmp_path, services, cpu, nodes, racks)
    r = hamodel("place", str(model), "--fresh", "--json", "--lock", str(tmp_path / "m.lock.json"))
    assert r.returncode == 0, r.stderr
    placement = json.loads(r.stdout)["placement"]
    assert sorted(placement) == sorted(f"s{i}" for i in range(1, services + 1))
    per_node: dict[str, int] = {}
    for ns in placement.values():
        assert len(ns) == 1
        per_node[ns[0]] = per_node.get(ns[0], 0) + 1
    assert max(per_node.values()) <= int(cpu)  # 1 cpu each: whole instances per node


@pytest.mark.parametrize(
    "services,cpu,slots",
    [
        (31, 10.5, 30),  # 31 instances on 30 slots; the sum (31.5 cpu) fits
        (16, 5.8333, 15),
        (101, 10.5, 100),
    ],
)
def test_infeasible_capacity_bound_model_is_explained_by_counting(tmp_path, services, cpu, slots):
    nodes = 10 if services == 101 else 3
    model = capacity_model(tmp_path, services, cpu, nodes)
    r = hamodel("place", str(model), "--fresh", "--json", "--lock", str(tmp_path / "m.lock.json"))
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["placeable"] is False
    assert out["explanations"] == [
        f"s1, s2, s3, s4, s5, s6, s7, s8, ... ({services} in all) run {services} instances that request cpu, "
        f"but the {nodes} nodes they may use (app) hold at most {slots} of them: a node's cpu is not shared out "
        "in fractions (the smallest request is 1 cpu)"
    ]
    assert not (tmp_path / "m.lock.json").exists()


def test_requests_in_steps_leave_the_rest_of_a_node_unused():
    # 0.5-cpu steps: a 21.4-cpu node gives 21, so 10 of them give 210 < 214
    from hamodel.testing import capacity_bound

    a = capacity_bound(100, 10, (0.5, 1.5, 2.5, 3.5), 0.0, racks=True)
    with pytest.raises(Unplaceable) as e:
        place(a)
    assert "can give them 210 in all: every request is a multiple of 0.5 cpu" in e.value.explanations[0]


# -- 2. deterministic limits: "undecided", never "unplaceable" -----------------


def feasible_arch() -> Architecture:
    nodes = [Node(f"n{i}", roles={"app"}, capacity=Resources(cpu=12, memory_gb=64)) for i in (1, 2, 3)]
    svcs = [
        Service(f"s{i}", on="app", replicas=2, requests=Resources(cpu=q), strategy=Coordinated())
        for i, q in enumerate((5, 3, 3, 2, 2, 1), 1)
    ]
    return Architecture("t", nodes=nodes, services=svcs)


def test_an_exhausted_budget_is_undecided_not_unplaceable(monkeypatch):
    a = feasible_arch()
    placed = place(a)  # feasible: the default budgets place it
    assert not verify(a, placed.placement)
    # With no budget at all every check gives up: the answer must say so.
    monkeypatch.setattr(S, "HARD_RLIMIT", (1, 0))
    monkeypatch.setattr(S, "PREF_RLIMIT", (1, 0))
    with pytest.raises(Undecided) as e:
        place(a)
    assert not isinstance(e.value, Unplaceable) and isinstance(e.value, HamodelError)
    assert "undecided" in str(e.value) and "neither placed nor proven unplaceable" in str(e.value)


def test_an_exhausted_budget_exits_2_on_the_command_line(tmp_path):
    code = (
        "import sys\nfrom hamodel.analysis import placement_solver as S\n"
        "S.HARD_RLIMIT = (1, 0)\nS.PREF_RLIMIT = (1, 0)\nfrom hamodel import cli\n"
        f"sys.argv = ['hamodel', 'place', {str(capacity_model(tmp_path, 30, 12))!r}, '--json']\ncli.main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=BOUND)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "placement undecided" in r.stderr and r.stdout == ""
    assert not (tmp_path / "m.lock.json").exists()


def test_a_hard_packing_is_placed_or_undecided_never_unplaceable():
    # A perfect packing (the sum fits exactly, 0.1-cpu steps) inside one
    # cell of six identical nodes: feasible (CP-SAT finds one in 4 s), but
    # hard for the exact fill. The old 2-second wall-clock cut-off read
    # the give-up as "cannot hold" and answered "unplaceable".
    from hamodel.testing import capacity_bound

    a = capacity_bound(60, 6, (0.7, 1.1, 1.3, 2.9), 0.0, racks=False)
    try:
        r = place(a)
    except Undecided:
        return
    assert not verify(a, r.placement)


def test_tolerant_placement_out_of_rounds_is_undecided():
    from hamodel.analysis.tolerance import tolerant_place

    with pytest.raises(Undecided):
        tolerant_place(feasible_arch(), 1, max_rounds=0)


# -- 3. interrupts claim nothing ------------------------------------------------

HARD_CHECK = """\
import os, signal, sys, threading, time
import z3
from hamodel.analysis import placement_solver as S, cutsets
z3.set_param("sat.cardinality.solver", True)
s = z3.SolverFor("QF_FD")
g = z3.Bool("g")
b = [[z3.Bool(f"b{i}_{c}") for c in range(3)] for i in range(20)]
for row in b:
    s.add(z3.PbEq([(x, 1) for x in row], 1))
for c in range(3):
    s.add(z3.Implies(g, z3.PbLe([(b[i][c], 1000) for i in range(20)], 6000)))
threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
t = time.monotonic()
try:
    WHICH
except KeyboardInterrupt:
    print("interrupted after", round(time.monotonic() - t, 1))
    sys.exit(130)
print("answered")
"""


@pytest.mark.parametrize("call", ["S.check(s, [g], rlimit=10**12)", "cutsets._sat(s, g)"])
def test_sigint_inside_a_z3_check_is_an_interrupt_not_an_answer(call):
    # 20 pigeons, 15 holes, behind an assumption: minutes for the SAT core,
    # so the SIGINT lands inside the check, where Z3 catches it and answers
    # "unknown" -- which was read as "unsatisfiable".
    r = subprocess.run(
        [sys.executable, "-c", HARD_CHECK.replace("WHICH", call)], capture_output=True, text=True, timeout=BOUND
    )
    assert r.returncode == 130 and "interrupted after" in r.stdout, (r.returncode, r.stdout, r.stderr)
    assert float(r.stdout.split()[-1]) < 30  # it was the interrupt that ended the check


# The signal must land during placement, whatever the machine's speed: the
# model wraps the placement solver so that it writes a marker when the
# solve starts and then solves the (real, synthetic) model again and
# again, so the command cannot finish before the signal arrives.
SLOW_MODEL = """\
import pathlib
import hamodel.analysis.placement_solver as solver
from hamodel.testing import synthetic

_solve = solver.solve


def _endless(*args, **kwargs):
    pathlib.Path(__file__).with_name("placing").touch()
    while True:
        _solve(*args, **kwargs)


solver.solve = _endless
architecture = synthetic(20, 100, 300, seed=1)
"""


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_placement_claims_nothing(tmp_path, sig, code):
    model = tmp_path / "slow.py"
    model.write_text(SLOW_MODEL)
    p = subprocess.Popen(
        [sys.executable, "-m", "hamodel.cli", "place", str(model), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    marker = tmp_path / "placing"
    deadline = time.monotonic() + BOUND
    while not marker.exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists() and p.poll() is None, p.communicate(timeout=BOUND)
    time.sleep(0.5)  # well inside the (endless) placement
    p.send_signal(sig)
    out, err = p.communicate(timeout=BOUND)
    assert p.returncode == code, (p.returncode, err)
    assert out == ""  # no JSON claiming anything
    assert "placeable" not in err and "Traceback" not in err
    marker.unlink()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["slow.py"]  # no lock file, no litter


# -- 4. a model cannot end the program ------------------------------------------


@pytest.mark.parametrize(
    "body,line",
    [
        ("import sys\nsys.exit(0)\n", 2),
        ("raise SystemExit('bye')\n", 1),
        ("def architecture():\n    raise SystemExit(0)\n", 2),
    ],
)
@pytest.mark.parametrize("command", [["check"], ["export"], ["build", "--check", "-o", "out"]])
def test_a_model_that_exits_is_a_model_error(tmp_path, body, line, command):
    model = tmp_path / "m.py"
    model.write_text(body)
    r = hamodel(command[0], str(model), *command[1:], cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert f"{model}:{line}:" in r.stderr and "must not end the program" in r.stderr
    assert r.stdout == ""


def test_a_model_raising_keyboardinterrupt_is_an_interrupt(tmp_path):
    model = tmp_path / "m.py"
    model.write_text("raise KeyboardInterrupt\n")
    r = hamodel("check", str(model))
    assert r.returncode == 130 and r.stdout == ""


# -- 5. a malformed lock file is named -------------------------------------------


@pytest.mark.parametrize(
    "content,where",
    [
        (b"[1, 2]", "expected an object, got a list"),
        (b'{"placement": []}', "placement: expected an object, got a list"),
        (b'{"placement": {"galera": "db-1"}}', 'placement."galera": expected a list of node names, got a string'),
        (b'{"placement": {"galera": [1]}}', 'placement."galera"[0]: expected a node name, got a number'),
        (
            b'{"placement": {}, "vrrp_groups": {"haproxy": {"vrid": "7"}}}',
            'vrrp_groups."haproxy".vrid: expected a number from 1 to 255, got "7"',
        ),
        (b'{"placement": {}, "vrrp_groups": [1]}', "vrrp_groups: expected an object, got a list"),
        (b'{"format": "1", "placement": {}}', 'format: expected 1, got "1"'),
        (b'{"placement": {', "Expecting"),
        (b'{"placement": {"\xff": []}}', "not UTF-8 text"),
    ],
)
def test_a_malformed_lock_file_is_an_error_naming_file_and_field(tmp_path, content, where):
    lock = tmp_path / "bad.lock.json"
    lock.write_bytes(content)
    r = hamodel("place", str(ROOT / "models" / "multirack.py"), "--lock", str(lock))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{lock}: not a placement lock file: {where}" in r.stderr.replace("\n", ""), r.stderr
    assert lock.read_bytes() == content  # nothing on disk damaged
