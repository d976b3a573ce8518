"""A drilled crash stops every process of the host as one event.

keepalived's VRRP child asks for SIGTERM when its parent dies
(``PR_SET_PDEATHSIG``); killed one by one, parent first, the child could run
its handler between the two SIGKILLs, send a priority-0 advert and remove its
VIPs, so that a backup took over within the skew time (0.56 s and 0.63 s in
two full drills of session 5) instead of the master-down interval. These tests
use the same kernel mechanism with two plain processes, and a pause between
signals standing for the killer being preempted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hamodel.drill.lab import crash_pids

# A parent that forks a child; the child asks for SIGTERM when the parent dies
# and, on SIGTERM, writes a marker (as keepalived's child sends its goodbye).
_PARENT = r"""
import ctypes, os, signal, sys, time
marker = sys.argv[1]
pid = os.fork()
if pid == 0:
    libc = ctypes.CDLL(None, use_errno=True)
    def goodbye(signum, frame):
        with open(marker, "w") as f:
            f.write("saw my parent die\n")
        os._exit(0)
    signal.signal(signal.SIGTERM, goodbye)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    with open(marker + ".ready", "w") as f:
        f.write(str(os.getpid()))
    while True:
        time.sleep(1)
while True:
    time.sleep(1)
"""


def _family(tmp_path: Path) -> tuple[subprocess.Popen, int, Path]:
    marker = tmp_path / "marker"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(marker)])
    ready = Path(str(marker) + ".ready")
    deadline = time.monotonic() + 10
    while not (ready.exists() and ready.read_text()):
        if time.monotonic() > deadline:
            parent.kill()
            pytest.fail("the child did not start")
        time.sleep(0.02)
    return parent, int(ready.read_text()), marker


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def _cleanup(parent: subprocess.Popen, child: int) -> None:
    for pid in (parent.pid, child):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    parent.wait(timeout=5)


def test_a_crash_gives_no_process_the_chance_to_see_another_die(tmp_path):
    parent, child, marker = _family(tmp_path)
    try:
        killed = crash_pids(lambda: [p for p in (parent.pid, child) if _alive(p)], between=lambda: time.sleep(0.3))
        parent.wait(timeout=5)
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(killed) == sorted([parent.pid, child])
        assert not _alive(child)
        assert not marker.exists(), "the child ran its parent-death handler: the crash was not one event"
    finally:
        _cleanup(parent, child)


def test_killing_one_by_one_lets_the_child_say_goodbye(tmp_path):
    """The mechanism the fix is about (what the drill did before): SIGKILL in
    pid order with the killer preempted between two kills lets the child run
    its handler."""
    parent, child, marker = _family(tmp_path)
    try:
        for pid in (parent.pid, child):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
        parent.wait(timeout=5)
        assert marker.exists()
    finally:
        _cleanup(parent, child)


def test_processes_started_while_freezing_are_frozen_too():
    """The list is taken again until nothing new appears: a process that
    appears while the others are being stopped is killed with them."""
    first = subprocess.Popen(["sleep", "60"])
    late = subprocess.Popen(["sleep", "60"])
    listings: list[int] = []

    def lister() -> list[int]:
        listings.append(1)
        return [first.pid] if len(listings) == 1 else [first.pid, late.pid]

    try:
        killed = crash_pids(lister)
        first.wait(timeout=5)
        late.wait(timeout=5)
        assert sorted(killed) == sorted([first.pid, late.pid])
        assert first.returncode == -signal.SIGKILL and late.returncode == -signal.SIGKILL
        assert len(listings) == 3
    finally:
        for p in (first, late):
            if p.poll() is None:
                p.kill()
                p.wait()
