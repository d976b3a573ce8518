"""The catalogue of finding kinds (hamodel.analysis.catalogue) and the
ordered Severity type: every finding the analysis reports comes from a
rule of the catalogue, severities compare by rank (not alphabetically),
and the guide's checks page lists every rule."""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import architectures

from hamodel.analysis import catalogue
from hamodel.analysis.catalogue import RULES, Rule, rule_for
from hamodel.analysis.failures import analyse
from hamodel.analysis.findings import at_least, gate
from hamodel.deployment import SEVERITIES, Finding, Severity

ROOT = Path(__file__).resolve().parents[2]


def template_regex(template: str) -> re.Pattern[str]:
    """A template with its fields as wildcards (``{{`` is a literal brace)."""
    pattern = "".join(
        re.escape(text) + ("(.*?)" if field is not None else "")
        for text, field, _, _ in string.Formatter().parse(template)
    )
    return re.compile(f"^{pattern}$", re.S)


def matching_rules(f: Finding) -> list[Rule]:
    """The rules that could have produced ``f``: id, kind, severity, title (and fixed prose) agree."""
    out = []
    for r in rule_for(f.id, f.kind):
        if f.severity not in r.severities or not template_regex(r.title).match(f.title):
            continue
        if r.impact and not template_regex(r.impact).match(f.impact):
            continue
        if r.mitigation and not template_regex(r.mitigation).match(f.mitigation):
            continue
        out.append(r)
    return out


def assert_from_catalogue(findings: list[Finding]) -> None:
    for f in findings:
        assert matching_rules(f), f"{f.id} ({f.kind}, {f.severity}: {f.title!r}) matches no rule of the catalogue"


# -- Severity ------------------------------------------------------------------------


def test_severity_orders_by_rank_not_alphabet() -> None:
    assert sorted(Severity, key=str) != list(Severity)  # alphabetical order is wrong: the test can tell
    assert sorted(Severity) == list(Severity) == [Severity(s) for s in SEVERITIES]
    assert Severity.HIGH > Severity.LOW and Severity.HIGH > "medium" and Severity.INFO < "low"
    assert Severity.CRITICAL >= "critical" and not Severity.MEDIUM > "medium"
    assert max(Severity("low"), Severity("high"), Severity("medium")) == "high"
    assert at_least("high", "low") and not at_least("low", "high")  # "high" < "low" as plain strings
    assert Severity.MEDIUM.lowered() == "low" and Severity.INFO.lowered(3) == "info"


def test_severity_is_a_plain_word_in_json_and_text() -> None:
    f = Finding("x:y", "k", "high", "t", ("y",), (), "i", "m")
    assert f.severity is Severity.HIGH
    assert json.dumps(f.to_dict()["severity"]) == '"high"' and json.dumps(f.severity) == '"high"'
    assert f"{f.severity}" == "high" and f.severity.upper() == "HIGH"
    with pytest.raises(ValueError):
        Finding("x:y", "k", "severe", "t", (), (), "i", "m")
    with pytest.raises(ValueError):
        _ = Severity.LOW < "severe"


def test_gate_keeps_unacknowledged_findings_at_or_above_the_threshold() -> None:
    fs = [Finding(f"k:{s}", "k", s, s, (), (), "", "") for s in SEVERITIES]
    acked = Finding("k:ack", "k", "critical", "t", (), (), "", "", acknowledged="accepted")
    assert [f.id for f in gate([*fs, acked], "medium")] == ["k:medium", "k:high", "k:critical"]
    assert [f.id for f in gate(fs, "info")] == [f.id for f in fs]


# -- the catalogue --------------------------------------------------------------------


def test_rules_are_well_formed() -> None:
    assert len({r.name for r in RULES}) == len(RULES)
    assert all(getattr(catalogue, r.name) is r for r in RULES)  # catalogue.SPOF etc.
    for r in RULES:
        assert r.severity in r.severities and r.doc and r.title and r.kind
        assert r.prefix and not r.prefix.startswith("{")
        # (id, title) tells rules apart: no two rules give the same finding
        assert sum(1 for o in RULES if (o.id, o.title) == (r.id, r.title)) == 1


def test_a_rule_fills_its_templates_and_refuses_what_it_does_not_declare() -> None:
    f = catalogue.SPOF.finding(
        service="db",
        services=["db", "web"],
        scenario=["node:n1"],
        impact="i.",
        mitigation="m.",
        severity="low",
        details={"k": 1},
    )
    assert (f.id, f.kind, f.severity, f.title, f.services, f.scenario) == (
        "spof:db",
        "single-point-of-failure",
        "low",
        "db is a single point of failure",
        ("db", "web"),
        ("node:n1",),
    )
    assert dict(f.details) == {"k": 1}
    assert catalogue.SPOF.finding(service="db", services=(), impact="", mitigation="").severity == "high"
    with pytest.raises(ValueError, match="SPOF.*critical"):
        catalogue.SPOF.finding(service="db", services=(), impact="", mitigation="", severity="critical")
    with pytest.raises(TypeError, match="SPOF.*impact"):
        catalogue.SPOF.finding(service="db", services=(), mitigation="")
    with pytest.raises(TypeError, match="CAPACITY_NODE.*cpu"):
        catalogue.CAPACITY_NODE.finding(
            services=(), failure="node:n1", node="n2", memory_gb=1, capacity_cpu=1, capacity_memory_gb=1
        )


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "models").glob("*.py")))
def test_every_finding_of_the_reference_models_comes_from_a_rule(resolved, name) -> None:
    dep = resolved(name)
    assert dep.findings
    assert_from_catalogue(list(dep.findings))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(architectures(), st.integers(1, 2), st.sampled_from(["node", "domain"]))
def test_every_finding_of_random_models_comes_from_a_rule(model, k, per) -> None:
    arch, placement = model
    findings = analyse(arch, placement, k=k, capacity_per=per)
    assert_from_catalogue(findings)
    assert [f.severity.rank for f in findings] == sorted((f.severity.rank for f in findings), reverse=True)


def test_an_unlisted_finding_is_caught() -> None:
    """The completeness check above can fail: a hand-built finding matches no rule."""
    rogue = Finding("spof:db", "single-point-of-failure", "high", "db is fragile", ("db",), (), "i", "m")
    assert not matching_rules(rogue)
    drifted = Finding("spof:db", "spof", "high", "db is a single point of failure", ("db",), (), "i", "m")
    assert not matching_rules(drifted)


# -- the docs page -----------------------------------------------------------------------


def test_checks_page_lists_every_rule(tmp_path: Path) -> None:
    """``.. hamodel-finding-kinds::`` renders the catalogue (sphinx-build -W, a real build)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["hamodel.sphinx"]\nhamodel_models = []\n')
    (src / "index.rst").write_text("Checks\n======\n\n.. hamodel-finding-kinds::\n")
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    html = (tmp_path / "out" / "index.html").read_text()
    for r in RULES:
        shown = re.sub(r"\{(\w+)\}", r"&lt;\1&gt;", r.id)
        assert shown in html, r.id
        assert r.kind in html
    assert html.count("<tr") == len(RULES) + 1  # a header row, then one row per rule


def test_guide_checks_page_uses_the_catalogue_and_every_reported_id_is_documented(resolved) -> None:
    page = (ROOT / "docs" / "guide" / "checks.rst").read_text()
    assert ".. hamodel-finding-kinds::" in page
    ids = {
        f.id
        for name in ("openstack_keepalived", "openstack_pacemaker", "multirack", "webplatform")
        for f in resolved(name).findings
    }
    for i in ids:
        assert rule_for(i), f"{i} is reported but not in the catalogue (so not on the checks page)"


@pytest.mark.parametrize("name", ["multirack", "webplatform"])
def test_every_config_finding_comes_from_a_rule(resolved, name) -> None:
    from hamodel.analysis.config_findings import config_findings

    dep = resolved(name)
    # The shipped models serve the public VIP over TLS and their stats on
    # loopback: open both again so that the two rules fire.
    arch = dep.architecture
    public = next(s.name for s in arch.services if s.access is not None and s.access.tls is not None)
    arch = arch.replace_services(
        {
            public: {
                "strategy": arch.service(public).strategy.replace(
                    tls=None, **({"backend_port": None} if arch.service(public).strategy.backend_port else {})
                )
            },
            "haproxy": {"ports": [9300]},
        }
    )
    found = config_findings(arch, dep.vrrp_groups, dep.placement)
    assert {f.id.split(":")[0] for f in found} >= {"cleartext-public", "stats-no-auth"}
    assert_from_catalogue(found)
