"""One node at a time per VRRP group and per Pacemaker cluster, whatever
``hamodel_serial`` says (issue 24).

The generated playbook's first play is run by the real ansible-playbook
with its own ``hosts:`` and ``serial:`` (unchanged) over the generated
inventory; only its tasks are replaced by one that prints the batch, so
the batches Ansible really forms are what is asserted. The same run with
the old shape (``hosts: hamodel``, ``serial: N``) puts two members of one
group in a batch: the check can fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hamodel.generators.ansible import waves
from hamodel.generators.configs import build_configs
from hamodel.generators.manifest import rolling_sets
from test_configs import reference
from test_hostile_injection import ansible_env, needs_ansible

from hamodel.output import write_tree

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def _batches(
    tmp: Path, model: str, serial: int, *, old_shape: bool = False, no_waves: bool = False
) -> tuple[list[list[str]], list[set[str]]]:
    dep = reference(model)
    out = tmp / "out"
    write_tree(out, build_configs(dep, env={"HAMODEL_IPMI_PASSWORD": "x"}))
    if no_waves:  # an inventory from elsewhere: no wave groups
        inv = out / "ansible" / "inventory.yml"
        kept, skipping = [], False
        for line in inv.read_text().splitlines():
            depth = len(line) - len(line.lstrip())
            if line.strip().startswith("hamodel_wave_"):
                skipping, wave_depth = True, depth
                continue
            if skipping and depth > wave_depth:
                continue
            skipping = False
            kept.append(line)
        inv.write_text("\n".join(kept) + "\n")
        assert "hamodel_wave_" not in inv.read_text()
    plays = yaml.safe_load((out / "ansible" / "deploy.yml").read_text())
    play = plays[0]
    if old_shape:
        play["hosts"], play["serial"] = "hamodel", "{{ hamodel_serial | default(1) }}"
    play["tasks"] = [
        {
            "name": "batch",
            "ansible.builtin.debug": {"msg": "BATCH {{ ansible_play_batch | to_json }}"},
            "run_once": True,
        }
    ]
    pb = tmp / "batches.yml"
    pb.write_text(yaml.safe_dump([play]))
    proc = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-c",
            "local",
            "-i",
            str(out / "ansible" / "inventory.yml"),
            str(pb),
            "-e",
            f"hamodel_serial={serial}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
        env=ansible_env(tmp),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = [json.loads(m) for m in re.findall(r'"BATCH (\[.*?\])"', proc.stdout.replace('\\"', '"'))]
    assert found, proc.stdout
    return found, rolling_sets(dep)


def _clashes(batches: list[list[str]], sets: list[set[str]]) -> list[tuple[list[str], set[str]]]:
    return [(b, s) for b in batches for s in sets if len(s & set(b)) > 1]


@needs_ansible
@pytest.mark.parametrize("model", ["multirack", "openstack_pacemaker"])
def test_serial_3_never_batches_two_members_of_a_group(tmp_path: Path, model: str) -> None:
    batches, sets = _batches(tmp_path, model, 3)
    print(model, "batches with hamodel_serial=3:", batches)
    assert not _clashes(batches, sets), batches
    hosts = [h for b in batches for h in b]
    assert len(hosts) == len(set(hosts)) and set(hosts) == {h for s in sets for h in s} | set(hosts)
    assert max(len(b) for b in batches) <= 3
    if model == "multirack":
        assert max(len(b) for b in batches) == 3  # serial still parallelises hosts that share no group


@needs_ansible
def test_the_old_shape_did_break_it(tmp_path: Path) -> None:
    batches, sets = _batches(tmp_path, "openstack_pacemaker", 3, old_shape=True)
    assert _clashes(batches, sets), batches


@needs_ansible
def test_without_waves_the_play_still_runs_every_host_serially(tmp_path: Path) -> None:
    """No wave groups in the inventory: the whole group, hamodel_serial at a
    time (never an empty play that reports success, never all at once)."""
    batches, _ = _batches(tmp_path, "openstack_keepalived", 1, no_waves=True)
    assert batches == [["ctl-1"], ["ctl-2"], ["ctl-3"]]


def test_waves_are_a_colouring() -> None:
    got = waves(["a", "b", "c", "d", "e"], [{"a", "b", "c"}, {"c", "d"}])
    wave_of = {h: w for w, hs in got.items() for h in hs}
    assert sorted(wave_of) == ["a", "b", "c", "d", "e"]
    for s in ({"a", "b", "c"}, {"c", "d"}):
        assert len({wave_of[h] for h in s}) == len(s)
    assert got["hamodel_wave_000"] == ["a", "d", "e"]
