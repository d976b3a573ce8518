"""Observers of a running lab: who holds each VIP, what the client sees, what HAProxy and keepalived say.

- :class:`HolderWatch`: samples the VIP holders every :data:`SAMPLE_S`
  (a thread), so a scenario can ask when the VIP moved and whether the
  holder has been stable;
- :class:`ProbeRun`: the client polling one ``VIP:port`` (``probe.py`` in
  the client namespace), every request timestamped on the system-wide
  monotonic clock;
- :func:`probe_once`: one request to each of several targets;
- :func:`haproxy_stats` / :func:`haproxy_stat`: server states from a
  HAProxy stats socket;
- :func:`keepalived_state`: a VRRP instance's last state from keepalived's log.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hamodel.drill.lab import Lab, Process

SAMPLE_S = 0.05
PROBE_INTERVAL_S = 0.05
PROBE_TIMEOUT_S = 0.3
HERE = Path(__file__).resolve().parent


def now() -> float:
    """CLOCK_MONOTONIC, the clock the probe's timestamps use too."""
    return time.monotonic()


class HolderWatch(threading.Thread):
    """Samples which lab nodes hold each VIP, every SAMPLE_S."""

    def __init__(self, lab: Lab, vips: dict[str, list[str]]):
        super().__init__(daemon=True, name="holder-watch")
        self.lab, self.vips = lab, vips  # vip address -> member nodes
        self.samples: list[tuple[float, dict[str, frozenset[str]]]] = []
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def _addresses(self, node: str) -> set[str]:
        p = subprocess.run(["ip", "-n", self.lab.node_ns(node), "-o", "addr", "show"], capture_output=True, text=True)
        return {w.split("/")[0] for line in p.stdout.splitlines() for w in line.split()[3:4]}

    def run(self) -> None:
        nodes = sorted({n for ms in self.vips.values() for n in ms})
        while not self._halt.is_set():
            t0 = now()
            addrs = {n: self._addresses(n) for n in nodes}
            t = (t0 + now()) / 2
            sample = {v: frozenset(n for n in ms if v in addrs[n]) for v, ms in self.vips.items()}
            with self._lock:
                self.samples.append((t, sample))
            self._halt.wait(max(0.0, SAMPLE_S - (now() - t0)))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)

    def current(self, vip: str) -> frozenset[str] | None:
        with self._lock:
            return self.samples[-1][1][vip] if self.samples else None

    def since(self, vip: str, t: float) -> list[tuple[float, frozenset[str]]]:
        with self._lock:
            return [(s, h[vip]) for s, h in self.samples if s >= t]

    def stable_holder(self, vip: str, stable: float, *, since: float | None = None) -> str | None:
        """The one node that held ``vip`` in every sample of the last ``stable`` s, if any.

        The samples must cover the whole window (the watch may lag on a
        loaded machine) and, with ``since``, lie after it: a holder seen
        before a restore does not count as settled after it.
        """
        t_now = now()
        start = t_now - stable
        if since is not None and since > start:
            return None
        window = self.since(vip, start)
        if not window or window[0][0] > start + 4 * SAMPLE_S or window[-1][0] < t_now - 4 * SAMPLE_S:
            return None
        holders = {h for _, h in window}
        if len(holders) != 1:
            return None
        (h,) = holders
        return next(iter(h)) if len(h) == 1 else None

    def wait_for(
        self, vip: str, pred: Callable[[frozenset[str]], bool], *, after: float, timeout: float
    ) -> float | None:
        """Time of the first sample at or after ``after`` whose holders satisfy ``pred``."""
        deadline = now() + timeout
        while True:
            for t, h in self.since(vip, after):
                if pred(h):
                    return t
            if now() > deadline:
                return None
            time.sleep(SAMPLE_S / 2)


class ProbeRun:
    """The client polling one VIP:port from its namespace (probe.py), results in memory."""

    def __init__(self, lab: Lab, target: str):
        self.results: list[dict[str, Any]] = []
        argv = [
            sys.executable,
            str(HERE / "probe.py"),
            "--target",
            target,
            "--interval",
            str(PROBE_INTERVAL_S),
            "--timeout",
            str(PROBE_TIMEOUT_S),
        ]
        self.popen = subprocess.Popen(
            ["ip", "netns", "exec", lab.client_ns, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        lab.processes.append(Process("probe", lab.client_ns, argv, self.popen, Path(os.devnull)))
        self.thread = threading.Thread(target=self._read, daemon=True, name="probe-reader")
        self.thread.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            try:
                self.results.append(json.loads(line))
            except json.JSONDecodeError:
                pass

    def stop(self) -> list[dict[str, Any]]:
        if self.popen.poll() is None:
            self.popen.terminate()
        try:
            self.popen.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self.thread.join(timeout=2)
        return list(self.results)

    def wait_ok(self, n: int = 3, timeout: float = 10.0) -> bool:
        """True once the last ``n`` requests succeeded."""
        deadline = now() + timeout
        while now() < deadline:
            r = self.results[-n:]
            if len(r) == n and all(x["ok"] for x in r):
                return True
            time.sleep(0.05)
        return False


def haproxy_stat(sock: Path, proxy: str, server: str) -> str | None:
    """A server's status (``UP``, ``DOWN``, ...) from a haproxy stats socket."""
    stats = haproxy_stats(sock)
    return None if stats is None else stats.get((proxy, server))


def haproxy_stats(sock: Path) -> dict[tuple[str, str], str] | None:
    """Every ``(proxy, server) -> status`` of a haproxy stats socket; None when it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(sock))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return None
    lines = data.decode(errors="replace").splitlines()
    if not lines:
        return None
    head = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if "pxname" in row and "svname" in row:
            out[(row["pxname"], row["svname"])] = row.get("status", "")
    return out


_STATE_RE = re.compile(r"\((?P<inst>[^)]+)\) Entering (?P<state>[A-Z]+) STATE")


def keepalived_state(log: Path, instance: str) -> str | None:
    """The last state (``MASTER``, ``BACKUP``, ``FAULT``) keepalived logged for ``instance``.

    The lab appends every run of a node's keepalived to one log, so the
    last line is the running daemon's (a restarted one logs ``BACKUP``
    once it has initialised).
    """
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    last = None
    for m in _STATE_RE.finditer(text):
        if m["inst"] == instance:
            last = m["state"]
    return last


def probe_once(lab: Lab, targets: list[str], timeout: float = 1.0) -> dict[str, dict[str, Any]]:
    """One request from the client to each ``ADDR:PORT``: ``target -> {"ok", "node", "err"}``."""
    if not targets:
        return {}
    argv = [sys.executable, str(HERE / "probe.py"), "--once", "--timeout", str(timeout)]
    for t in targets:
        argv += ["--target", t]
    out = lab.exec(lab.client_ns, argv, check=False, timeout=10 + 1.5 * len(targets)).stdout
    res = {}
    for line in out.splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        res[r["target"]] = r
    return res
