"""Issue 30, resources and rough edges a careless user meets.

- A JSON model or lock file is read only when it is a regular file of at
  most 64 MiB: a 512 MiB file is refused before a byte is read (peak memory
  measured), a FIFO is named as one instead of hanging or "no such file".
- ``hamodel diff ... | head``: a closed pipe ends the command with exit 141
  and no message (it exited 1, a failed gate's code, or printed a traceback).
- SARIF ``uri``s are relative to the repository root, with ``uriBaseId``.
- Ansible group names are identifiers: no invalid-characters warning.
- ``--validate``'s scrubber hides fence values of any length.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_hostile_dataloss import SMALL_MODEL
from test_hostile_injection import ansible_env, needs_ansible

ROOT = Path(__file__).resolve().parents[2]
HAMODEL = [sys.executable, "-m", "hamodel.cli"]


def run(*args: object, cwd: Path = ROOT, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HAMODEL, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "100"},
        **kw,
    )


def model(tmp_path: Path) -> Path:
    m = tmp_path / "small.py"
    m.write_text(SMALL_MODEL % 8080)
    return m


# -- size caps and kinds of input ---------------------------------------------------------------

PEAK = """\
import resource, sys
sys.argv = ["hamodel", *sys.argv[1:]]
try:
    from hamodel.cli import main
    main()
finally:
    print("maxrss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def peak(*args: object) -> tuple[subprocess.CompletedProcess, int]:
    r = subprocess.run(
        [sys.executable, "-c", PEAK, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return r, int(r.stderr.rsplit("maxrss_kib", 1)[1].split()[0])


def test_a_huge_json_model_or_lock_is_refused_before_it_is_read(tmp_path):
    """Before: read whole (512 MiB here; 1 GiB took 2.1 GB RSS) before any error."""
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(512 << 20)  # sparse: no disk used
    r, kib = peak("check", big)
    assert r.returncode == 2, r.stderr
    assert f"{big}: it is 512.0 MiB: a JSON model can be at most 64.0 MiB" in r.stderr, r.stderr
    # Below the file's 512 MiB, so a whole read fails it. Alone this run peaks at ~48 MB; in CI's full
    # serial suite it peaked at 362 MiB (cause not found yet), hence the bound under the file size.
    assert kib < 448 << 10, kib
    lock = tmp_path / "big.lock.json"
    os.link(big, lock)
    r, kib = peak("check", model(tmp_path), "--lock", lock)
    assert r.returncode == 2, r.stderr
    assert "not a placement lock file: it is 512.0 MiB: a lock file can be at most 64.0 MiB" in r.stderr, r.stderr
    assert kib < 448 << 10, kib  # as above


def test_a_fifo_or_directory_given_as_model_or_lock_says_so(tmp_path):
    """Before: "no such file" for an existing FIFO or directory; a FIFO lock was silently ignored."""
    os.mkfifo(tmp_path / "m.json")
    os.mkfifo(tmp_path / "m.py")
    (tmp_path / "d.py").mkdir()
    os.mkfifo(tmp_path / "l.lock.json")
    cases = {
        "m.json": "it is a FIFO (named pipe), not a JSON model",
        "m.py": "it is a FIFO (named pipe), not a model file",
        "d.py": "it is a directory, not a model file",
    }
    for name, words in cases.items():
        r = run("check", tmp_path / name, timeout=30)  # a FIFO read would hang: the timeout fails the test
        assert r.returncode == 2 and words in r.stderr and "no such file" not in r.stderr, (name, r.stderr)
    r = run("check", model(tmp_path), "--lock", tmp_path / "l.lock.json", timeout=60)
    assert r.returncode == 2 and "not a placement lock file: it is a FIFO" in r.stderr, r.stderr


# -- a closed pipe ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["diff", "models/openstack_pacemaker.py", "models/openstack_keepalived.py", "--fail-on", "high"],
        ["diff", "models/openstack_keepalived.py", "models/openstack_pacemaker.py", "--format", "markdown"],
        ["diff", "models/openstack_keepalived.py", "models/openstack_pacemaker.py", "--format", "json"],
        ["check", "models/openstack_keepalived.py"],
        ["schema"],
    ],
    ids=["diff-text-gate-fails", "diff-markdown", "diff-json", "check", "schema"],
)
def test_a_reader_that_goes_away_is_exit_141_without_a_word(args):
    """Before: exit 1 (as a failed gate) from rich and click, or a BrokenPipeError traceback."""
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first byte: every write meets a closed pipe
    p = subprocess.run(
        [*HAMODEL, *args],
        cwd=ROOT,
        stdout=w,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "100"},
    )
    os.close(w)
    assert p.returncode == 141, p.stderr
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr and "internal error" not in p.stderr, p.stderr


# -- SARIF --------------------------------------------------------------------------------------------


def test_sarif_uris_are_relative_to_the_repository_root(tmp_path):
    """Run from models/ (as a pre-commit hook or editor may): the uri is still models/x.py. Before: x.py."""
    from test_sarif import validate

    r = run("check", "openstack_keepalived.py", "--format", "sarif", cwd=ROOT / "models")
    assert r.returncode == 1, r.stderr
    log = json.loads(r.stdout)
    validate(log)
    run_ = log["runs"][0]
    loc = run_["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": "models/openstack_keepalived.py", "uriBaseId": "SRCROOT"}
    assert run_["originalUriBaseIds"] == {"SRCROOT": {"uri": ROOT.as_uri() + "/"}}
    # a model in no repository: an absolute file URI, no base
    m = tmp_path / "norepo" / "m.py"
    m.parent.mkdir()
    m.write_text(SMALL_MODEL % 8080)
    r = run("check", m, "--format", "sarif", "--fail-on", "critical", cwd=tmp_path)
    log = json.loads(r.stdout)
    uris = [res["locations"][0]["physicalLocation"]["artifactLocation"] for res in log["runs"][0]["results"]]
    assert uris and all(u == {"uri": m.as_uri()} for u in uris), uris


# -- Ansible group names -------------------------------------------------------------------------------


def test_group_names_are_identifiers():
    from hamodel.generators.ansible import group_name
    from hamodel.generators.manifest import KINDS

    names = [group_name(k) for k in KINDS]
    assert len(set(names)) == len(names) and all(n.isidentifier() for n in names), names
    assert group_name("pacemaker-cib") == "hamodel_pacemaker_cib"


@needs_ansible
def test_real_ansible_reads_the_inventory_without_a_group_name_warning(tmp_path):
    """Before: "[WARNING]: Invalid characters were found in group names" on every run (pacemaker-cib)."""
    out = tmp_path / "out"
    r = subprocess.run(
        [
            *HAMODEL,
            "build",
            "models/openstack_pacemaker.py",
            "--lock",
            "tests/golden/openstack_pacemaker.lock.json",
            "-o",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HAMODEL_IPMI_PASSWORD": "pw"},
    )
    assert r.returncode == 0, r.stderr
    inv = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-inventory"),
            "-i",
            str(out / "ansible" / "inventory.yml"),
            "--list",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ansible_env(tmp_path),
        timeout=120,
    )
    assert inv.returncode == 0, inv.stderr
    assert "Invalid characters" not in inv.stderr, inv.stderr
    groups = json.loads(inv.stdout)["hamodel"]["children"]
    assert "hamodel_pacemaker_cib" in groups and "hamodel_pacemaker_pcs" in groups, groups


# -- the --validate scrubber ----------------------------------------------------------------------------


def test_scrubber_hides_short_fence_values_too():
    """Before: values shorter than 3 characters were left in crm_verify's output."""
    from hamodel.validate import _scrub_cib

    cib = b"""<cib><configuration><resources>
      <primitive id="f" class="stonith" type="fence_ipmilan"><instance_attributes id="f-ia">
        <nvpair id="f-pw" name="password" value="pw"/><nvpair id="f-ip" name="ip" value="10.0.0.9"/>
        <nvpair id="f-x" name="x" value="Q"/>
      </instance_attributes></primitive></resources></configuration></cib>"""
    out = (
        'error: <nvpair id="f-pw" name="password" value="pw"/> at 10.0.0.9\n'
        "password pw rejected; Q; upward configuration"
    )
    scrubbed = _scrub_cib(out, cib)
    assert 'pw"' not in scrubbed and " pw " not in scrubbed and "10.0.0.9" not in scrubbed, scrubbed
    assert "; Q;" not in scrubbed, scrubbed
    assert "upward configuration" in scrubbed and "password" in scrubbed, scrubbed  # words around stay whole
