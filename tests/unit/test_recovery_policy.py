"""Recovery objectives in the model: durations, classes, errors by field."""

from __future__ import annotations

import pytest

from hamodel import ModelError, Policy
from hamodel.model.policy import format_duration, parse_duration


@pytest.mark.parametrize(
    "text,seconds", [("500ms", 0.5), ("10s", 10), ("2m", 120), ("1h", 3600), ("1.5s", 1.5), (3, 3.0), ("0s", 0)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["-5s", "5 sec", "ten seconds", "", "5", -1, True, float("nan")])
def test_bad_duration_names_the_field(bad):
    with pytest.raises(ModelError) as e:
        Policy(rto={"node": bad})
    assert "rto.node" in str(e.value)


def test_unknown_class_named():
    with pytest.raises(ModelError) as e:
        Policy(rpo={"rack": "1s"})
    assert "rpo.rack" in str(e.value) and "'domain'" in str(e.value)


def test_format_round_trip():
    assert format_duration(0.5) == "500ms" and format_duration(5) == "5s" and format_duration(2.5) == "2.5s"


def test_class_without_component_is_refused(reference_arch):
    arch = reference_arch("openstack_keepalived")
    with pytest.raises(ModelError) as e:
        arch.replace(policy=Policy(rto={"node": "5s", "site": "1m"}))
    assert "policy.rto[site]" in str(e.value) and "no site" in str(e.value)
    with pytest.raises(ModelError) as e:
        arch.replace_service("galera", policy=Policy(rpo={"site": "0s"}))
    assert "services[galera].policy.rpo[site]" in str(e.value)
    # The reference model has three switches (links, partitions) and racks.
    ok = arch.replace(policy=Policy(rto={"switch": "5s", "link": "5s", "partition": "1m", "domain": "10s"}))
    assert ok.policy.rto["partition"] == 60


def test_unset_policy_keeps_the_model_hash(reference_arch):
    from hamodel.model.policy import Policy as P

    arch = reference_arch("openstack_keepalived")
    assert "policy" not in arch.model_dump_json(exclude_defaults=False)
    assert "policy" in arch.replace(policy=P(rto={"node": "5s"})).model_dump_json()


def test_policy_error_names_file_and_line(tmp_path):
    from hamodel.errors import LoadError
    from hamodel.loader import load

    m = tmp_path / "m.py"
    m.write_text(
        "from hamodel import Architecture, Node, Policy, Service\n"
        "from hamodel.strategies import Coordinated\n"
        "architecture = Architecture('x', nodes=[Node('n1', roles={'r'})],\n"
        "    services=[Service('s', on='r', strategy=Coordinated(),\n"
        "                      policy=Policy(rto={'node': 'soon'}))])\n"
    )
    with pytest.raises(LoadError) as e:
        load(m)
    assert f"{m}:5" in str(e.value) and "rto.node" in str(e.value)
