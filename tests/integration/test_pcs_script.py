"""pcs-setup.sh as a hostile environment sees it (issue 30): the temporary
copy of the live CIB (every fence password) is removed when the script is
stopped by a signal, and no password is ever on a command line.

Real ``sh``, real ``pcs -f`` and ``cibadmin``; on the live path only ``pcs
cluster cib`` / ``cib-push`` (which need a running cluster) are stood in by a
wrapper that logs its argv and runs the real pcs for everything else.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hamodel.generators.configs import build_configs
from test_configs import reference
from test_pacemaker_config import PASSWORD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("pcs", "cibadmin", "sh")), reason="needs pcs and pacemaker-cli-utils"
    ),
]


@pytest.fixture(scope="module")
def script() -> bytes:
    return build_configs(reference("openstack_pacemaker"), env={"HAMODEL_IPMI_PASSWORD": PASSWORD})[
        "pacemaker/pcs-setup.sh"
    ]


def _wrappers(folder: Path, log: Path, *, cib_sleep: float = 0) -> dict[str, str]:
    """``pcs`` and ``cibadmin`` that log every argv to ``log`` and run the real
    tool; ``pcs cluster cib FILE`` writes an empty CIB (then sleeps), ``pcs
    cluster cib-push`` and ``cibadmin --replace`` without a CIB file only log.

    The copy gets its content only once cibadmin has exited: the signal tests
    send their signal when the copy is not empty, and a cibadmin still
    running then could take the signal for itself (the wrapper went on to
    its sleep: two CI timeouts under load, not reproduced by hand)."""
    folder.mkdir()
    real_pcs, real_cibadmin = shutil.which("pcs"), shutil.which("cibadmin")
    (folder / "pcs").write_text(f"""#!/bin/sh
printf 'pcs %s\\n' "$*" >> {log}
if [ "$1" = cluster ] && [ "$2" = cib ]; then cib=$({real_cibadmin} --empty); printf '%s\\n' "$cib" > "$3"; sleep {cib_sleep}; exit 0; fi
if [ "$1" = cluster ] && [ "$2" = cib-push ]; then exit 0; fi
exec {real_pcs} "$@"
""")
    (folder / "cibadmin").write_text(f"""#!/bin/sh
printf 'cibadmin %s\\n' "$*" >> {log}
if [ -z "${{CIB_file:-}}" ]; then exit 0; fi
exec {real_cibadmin} "$@"
""")
    for f in ("pcs", "cibadmin"):
        os.chmod(folder / f, 0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def test_no_password_on_any_command_line(tmp_path: Path, script: bytes) -> None:
    """Every pcs and cibadmin argv of a live run is logged: the fence password
    is in none of them (it was on ``pcs stonith create``'s before), and it is
    in the CIB that would be pushed."""
    (tmp_path / "pcs-setup.sh").write_bytes(script)
    log = tmp_path / "argv.log"
    env = _wrappers(tmp_path / "bin", log)
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    # Keep the CIB the push would send: the push is the wrapper's, it copies its argument.
    keep = tmp_path / "pushed.xml"
    (tmp_path / "bin" / "pcs").write_text(
        (tmp_path / "bin" / "pcs")
        .read_text()
        .replace("cib-push ]; then exit 0", f'cib-push ]; then cp "$3" {keep}; exit 0')
    )
    proc = subprocess.run(["sh", str(tmp_path / "pcs-setup.sh")], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    argv = log.read_text()
    assert "stonith create" in argv and "cibadmin --modify" in argv
    assert PASSWORD not in argv
    assert f'value="{PASSWORD}"' in keep.read_text()
    assert list((tmp_path / "tmp").iterdir()) == []  # the copy is gone after a normal exit too


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_live_cib_copy_is_removed_on_a_signal(tmp_path: Path, script: bytes, sig: int) -> None:
    """Stopped while ``pcs cluster cib`` runs (the copy exists), by a signal
    to its process group as a terminal or a service manager sends it: the
    copy is removed and the exit status says which signal (before: the EXIT
    trap alone, the copy stayed)."""
    (tmp_path / "pcs-setup.sh").write_bytes(script)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _wrappers(tmp_path / "bin", tmp_path / "argv.log", cib_sleep=30)
    env["TMPDIR"] = str(tmp)
    proc = subprocess.Popen(
        ["sh", str(tmp_path / "pcs-setup.sh")],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size for p in tmp.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(tmp.iterdir()), "the script never copied the live CIB"
        os.killpg(proc.pid, sig)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert rc == 128 + sig
    assert list(tmp.iterdir()) == []
