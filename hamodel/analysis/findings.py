"""Gating findings (used by ``hamodel check``); their tables are in :mod:`hamodel.tables`."""

from __future__ import annotations

from collections.abc import Iterable

from hamodel.analysis.results import Finding, Severity


def at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is ``threshold`` or worse (ranked by :class:`Severity`)."""
    return Severity(severity).at_least(threshold)


def gate(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """Unacknowledged findings at or above ``fail_on``: what fails a CI run."""
    return [f for f in findings if f.acknowledged is None and at_least(f.severity, fail_on)]
