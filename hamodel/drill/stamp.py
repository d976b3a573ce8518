"""The stamp of a drill page: which commit, when, which model and which
scenarios it measured, so that a page cannot silently go stale.

``hamodel drill --rst-out`` writes the stamp into the page (a comment line
read back by :func:`read_stamp`, and a visible sentence). :func:`stale`
compares it with the model and the drill scenarios as they are now: the
model's hash (as the manifest computes it) and a fingerprint of the
scenarios (their names and kinds for this deployment, and the source of
the scenario kinds that predict and measure them). The test suite fails on
a stale page; ``make drill`` regenerates it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from hamodel.deployment import Deployment
from hamodel.generators.drill_report import STAMP_PREFIX

__all__ = ["make_stamp", "read_stamp", "scenarios_sha256", "stale"]

_DRILL = Path(__file__).resolve().parent
#: The code that defines what a scenario breaks, predicts and measures (per lab).
#: Shared by every lab: the protocol, the registry, the default set and the margin policy.
_SCENARIO_SOURCES = ("scenario.py", "registry.py", "scenarios.py", "margins.py")
#: Each lab's own: the sub-packages holding its scenarios (the keepalived lab runs the Galera
#: and Redis kinds too).
_LAB_SOURCES = {
    "keepalived": (
        "keepalived/*.py",
        "galera/kinds.py",
        "galera/facts.py",
        "galera/operations.py",
        "galera/scenarios.py",
        "galera/runbook.py",
        "galera/monitoring.py",
    ),
    "pacemaker": ("pacemaker/cluster.py", "pacemaker/scenarios.py", "pacemaker/quorum.py", "pacemaker/fence.py"),
}


def _model_sha256(dep: Deployment) -> str:
    return hashlib.sha256(dep.architecture.to_json().encode()).hexdigest()


def scenarios_sha256(dep: Deployment) -> str:
    """Fingerprint of the scenarios a drill of ``dep`` runs: names and kinds of the
    default set (keepalived VIPs; none for a Pacemaker-held VIP) and the source of
    the modules that define scenarios."""
    from hamodel.drill.scenarios import default_scenarios

    h = hashlib.sha256()
    for sc in default_scenarios(dep):
        h.update(f"{sc.name}\0{sc.kind}\0{sc.vip}\0{sc.service or ''}\n".encode())
    lab = "pacemaker" if dep.architecture.pacemaker is not None else "keepalived"
    for pattern in (*_SCENARIO_SOURCES, *_LAB_SOURCES[lab]):
        for f in sorted(_DRILL.glob(pattern)):
            h.update(f.relative_to(_DRILL).as_posix().encode() + b"\0")
            h.update(f.read_bytes().replace(b"\r\n", b"\n"))
    return h.hexdigest()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=_DRILL, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def make_stamp(dep: Deployment, *, now: _dt.datetime | None = None) -> dict[str, Any]:
    """Commit (with ``+dirty`` when the checkout has changes), UTC date, model and scenario hashes."""
    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    if commit != "unknown" and _git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    when = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return {
        "commit": commit,
        "date": when,
        "model_sha256": _model_sha256(dep),
        "scenarios_sha256": scenarios_sha256(dep),
    }


def read_stamp(page: str) -> dict[str, Any] | None:
    """The stamp a drill page carries, or None (a page from before stamps)."""
    m = re.search(rf"(?m)^{re.escape(STAMP_PREFIX)}(\{{.*\}})\s*$", page)
    if not m:
        return None
    try:
        found = json.loads(m.group(1))
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def stale(page: str, dep: Deployment) -> list[str]:
    """Why ``page`` no longer describes a drill of ``dep`` (empty: up to date)."""
    st = read_stamp(page)
    if st is None:
        return ["the page has no stamp (generated before stamps, or edited by hand)"]
    why = []
    if st.get("model_sha256") != _model_sha256(dep):
        why.append(f"the model changed since the drill of {st.get('date')} (commit {st.get('commit')})")
    if st.get("scenarios_sha256") != scenarios_sha256(dep):
        why.append(f"the drill scenarios changed since the drill of {st.get('date')} (commit {st.get('commit')})")
    return why
