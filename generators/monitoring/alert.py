"""One generated alert rule and the series its promtool test feeds it (a leaf of the monitoring generator)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hamodel.deployment import Finding, Severity
from hamodel.runbooks import Runbook


@dataclass(frozen=True)
class Alert:
    """One alert rule and the series its generated test feeds it."""

    area: str  # rules/<area>.yml
    name: str
    expr: str
    for_s: int
    service: str
    finding: Finding | None
    summary: str
    runbook: Runbook | None
    firing: tuple[tuple[str, str], ...]  # (series, values) that make it fire
    healthy: tuple[tuple[str, str], ...]  # (series, values) that keep it silent
    fired_labels: tuple[dict, ...] = ()  # the labels the expression itself gives each firing alert
    extra: dict = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return self.finding.severity.value if self.finding else Severity.MEDIUM.value

    def labels(self) -> dict[str, str]:
        return {
            "finding": self.finding.id if self.finding else "none",
            "service": self.service,
            "severity": self.severity,
            **self.extra,
        }

    def annotations(self, runbook_base: str) -> dict[str, str]:
        out = {"summary": self.summary}
        if self.runbook is not None:
            out["runbook_url"] = runbook_base + self.runbook.url
        elif self.finding is not None:
            out["runbook_url"] = runbook_base + f"index.html#{_limitations_anchor()}"
        return out


def _limitations_anchor() -> str:
    return "architecture-limitations"
