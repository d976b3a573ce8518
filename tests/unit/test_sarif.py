"""SARIF 2.1.0 output of check and diff, validated against the OASIS schema
shipped in tests/data (errata01, from oasis-tcs/sarif-spec; nothing is
downloaded at test time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/data/sarif-schema-2.1.0.json").read_text())


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hamodel.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )


def validate(log: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)


def line_of(path: str, needle: str) -> int:
    return next(i for i, line in enumerate((ROOT / path).read_text().splitlines(), 1) if needle in line)


@pytest.fixture(scope="module")
def check_log() -> dict:
    r = run("check", "models/openstack_keepalived.py", "--format", "sarif")
    assert r.returncode == 1, r.stderr  # the model has unacknowledged findings: the gate still applies
    return json.loads(r.stdout)


def test_check_sarif_is_valid_sarif_2_1_0(check_log: dict) -> None:
    validate(check_log)
    assert check_log["version"] == "2.1.0"
    rules = {r["id"] for r in check_log["runs"][0]["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in check_log["runs"][0]["results"]} <= rules


def test_check_sarif_points_at_the_model_line(check_log: dict) -> None:
    res = next(r for r in check_log["runs"][0]["results"] if r["properties"]["hamodel-id"] == "spof:cinder-volume")
    assert res["level"] == "error"
    phys = res["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "models/openstack_keepalived.py"
    assert phys["region"]["startLine"] == line_of("models/openstack_keepalived.py", 'Service("cinder-volume"')
    # a split brain points at the service holding the VIP
    split = next(r for r in check_log["runs"][0]["results"] if r["ruleId"] == "split-brain")
    assert split["locations"][0]["physicalLocation"]["region"]["startLine"] == line_of(
        "models/openstack_keepalived.py", 'Service("haproxy"'
    )


def test_check_json_carries_locations() -> None:
    r = run("check", "models/openstack_keepalived.py", "--json")
    f = next(f for f in json.loads(r.stdout)["findings"] if f["id"] == "spof:cinder-volume")
    assert f["locations"][0] == {
        "object": "service:cinder-volume",
        "file": "models/openstack_keepalived.py",
        "line": line_of("models/openstack_keepalived.py", 'Service("cinder-volume"'),
    }
    assert {
        "object": "node:ctl-1",
        "file": "models/openstack_keepalived.py",
        "line": line_of("models/openstack_keepalived.py", "controllers = ["),
    } in f["locations"]


def test_diff_sarif_is_valid_and_reports_what_the_change_adds() -> None:
    r = run("diff", "models/openstack_keepalived.py", "models/openstack_pacemaker.py", "--format", "sarif")
    assert r.returncode == 0, r.stderr
    log = json.loads(r.stdout)
    validate(log)
    results = log["runs"][0]["results"]
    ids = {x["properties"]["hamodel-id"] for x in results}
    assert "cold-start:wait-for-all" in ids and "spof:cinder-volume" not in ids  # removed: no alert
    assert all(x["baselineState"] in ("new", "updated") for x in results)
    for x in results:
        assert x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/openstack_pacemaker.py"


def test_schema_rejects_what_it_should() -> None:
    """The validator is live: a log without a version, or with a bad level, fails."""
    r = run("check", "models/openstack_pacemaker.py", "--format", "sarif")
    log = json.loads(r.stdout)
    validate(log)
    bad = json.loads(r.stdout)
    del bad["version"]
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    bad = json.loads(r.stdout)
    bad["runs"][0]["results"][0]["level"] = "high"
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_check_format_rejects_unknown() -> None:
    r = run("check", "models/openstack_pacemaker.py", "--format", "xml")
    assert r.returncode == 2 and "--format must be text, json or sarif" in r.stderr
