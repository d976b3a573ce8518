"""The shipped playbook against real daemons (issue 24): a reload the daemon
refuses leaves the previous file and a running daemon, fails the run naming
the node, file and error, and is retried by the next run; a good build then
converges; the health gate waits for the daemons, the VIP front and UP
backends.

One lab node ``n1`` of the small load-balancer trio: a network namespace
with its interface, a private ``/run`` (bind-mounted per test, so haproxy's
pid file and stats socket are this test's), real haproxy and keepalived
started and reloaded by a stand-in for systemctl (``hamodel_handler_prefix``
and ``hamodel_service_check``), a TCP server as the API backend. The
playbook runs with ``-c local`` inside that namespace, as in
test_ansible_deploy.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_ansible_deploy import ANSIBLE_PLAYBOOK, build, needs_netns, recap
from test_configs import small_arch
from test_hostile_injection import ansible_env, needs_ansible

from hamodel.validate import namespace, node_interfaces

# systemctl as the lab has it: the real daemons, in the namespace, with /run this test's.
SERVICE = r"""#!/bin/sh
set -e
D='{dest}'
alive() {{ [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }}
case "$1" in
sysctl) exec sysctl -p "$D$3" ;;
is-active) alive "/run/$2.pid"; exit ;;
esac
case "$3" in
haproxy)
    if alive /run/haproxy.pid; then
        exec haproxy -f "$D/etc/haproxy/haproxy.cfg" -D -p /run/haproxy.pid -sf "$(cat /run/haproxy.pid)"
    fi
    exec haproxy -f "$D/etc/haproxy/haproxy.cfg" -D -p /run/haproxy.pid ;;
keepalived)
    if alive /run/keepalived.pid; then kill -HUP "$(cat /run/keepalived.pid)"; exit 0; fi
    exec keepalived -f "$D/etc/keepalived/keepalived.conf" -p /run/keepalived.pid -r /run/vrrp.pid -l -D ;;
prometheus-*) exit 0 ;;  # the monitoring exporters (issue 25) do not run in this lab
--now) exit 0 ;;  # systemctl enable --now hamodel-keepalived-up.timer: no timer runs in this lab
esac
echo "lab systemctl: no such unit: $*" >&2
exit 5
"""


def _pid(run: Path, name: str) -> int | None:
    try:
        pid = int((run / f"{name}.pid").read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


@needs_ansible
@needs_netns
@pytest.mark.netns
@pytest.mark.slow
def test_a_refused_reload_rolls_back_fails_and_is_retried(tmp_path: Path) -> None:
    out, dest, run = tmp_path / "build", tmp_path / "n1-root", tmp_path / "run"
    (run / "haproxy").mkdir(parents=True)
    stats = tmp_path / "stats.secret"
    stats.write_text("admin:St4tsPassw0rd\n")
    build(out, "Vr9pPass", stats)
    service = tmp_path / "service.sh"
    service.write_text(SERVICE.format(dest=dest))
    service.chmod(0o755)
    extra = {
        "hamodel_dest_root": str(dest),
        "hamodel_handler_prefix": [str(service)],
        "hamodel_service_check": [str(service), "is-active"],
        "hamodel_health_retries": 40,
    }
    arch = small_arch()
    procs: list[subprocess.Popen] = []
    with namespace(node_interfaces(arch, "n1"), prefix="hmds") as ns:

        def deploy() -> subprocess.CompletedProcess:
            cmd = [
                "ip",
                "netns",
                "exec",
                ns,
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                f'mount --bind "{run}" /run && exec "$@"',
                "deploy",
                ANSIBLE_PLAYBOOK,
                "-c",
                "local",
                "-l",
                "n1",
                "-i",
                str(out / "ansible" / "inventory.yml"),
                "-e",
                json.dumps(extra),
                str(out / "ansible" / "deploy.yml"),
            ]
            return subprocess.run(
                cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=ansible_env(tmp_path)
            )

        try:
            # The API behind the VIP, and a foreign process on the port the bad config will want.
            for port in (8080, 9999):
                procs.append(
                    subprocess.Popen(
                        [
                            "ip",
                            "netns",
                            "exec",
                            ns,
                            "python3",
                            "-c",
                            f"import socket,time;s=socket.socket();s.bind(('10.0.0.11',{port}));"
                            "s.listen(64);time.sleep(3600)",
                        ]
                    )
                )
            first = deploy()
            assert first.returncode == 0, first.stdout[-6000:] + first.stderr
            assert "health gate: every HAProxy backend has a server UP" in first.stdout
            haproxy = _pid(run, "haproxy")
            assert haproxy is not None and _pid(run, "keepalived") is not None
            cfg = out / "nodes" / "n1" / "haproxy" / "haproxy.cfg"
            good = cfg.read_bytes()
            installed = dest / "etc/haproxy/haproxy.cfg"
            assert installed.read_bytes() == good

            # haproxy -c accepts it (validate: passes); the running daemon cannot bind the port.
            os.chmod(cfg, 0o600)
            cfg.write_bytes(
                good + b"\nlisten clash\n    bind 10.0.0.11:9999\n    mode tcp\n    server s1 10.0.0.11:8080\n"
            )
            for attempt in ("failed reload", "rerun of the same build"):
                bad = deploy()
                assert bad.returncode != 0, attempt + bad.stdout[-4000:]
                msg = bad.stdout[bad.stdout.rindex("TASK [") :]
                assert "haproxy on n1: haproxy: reload haproxy failed for /etc/haproxy/haproxy.cfg" in msg, msg
                assert "9999" in msg  # haproxy's own words: cannot bind 10.0.0.11:9999
                assert "the previous configuration is running again" in msg, msg
                assert installed.read_bytes() == good, attempt
                assert _pid(run, "haproxy") is not None, attempt  # the daemon still runs
                assert "St4tsPassw0rd" not in bad.stdout + bad.stderr
                assert recap(bad.stdout, "n1")["rescued"] == 1
            # ... and serves: the VIP front reaches the API through it.
            subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "python3",
                    "-c",
                    "import socket;socket.create_connection(('10.0.0.100',8080),timeout=5).close()",
                ],
                check=True,
                timeout=30,
            )

            # A good build: installed, reloaded (changed > 0); then nothing to do (changed = 0).
            cfg.write_bytes(good.replace(b"timeout check 10s", b"timeout check 9s"))
            fixed = deploy()
            assert fixed.returncode == 0, fixed.stdout[-6000:]
            assert recap(fixed.stdout, "n1")["changed"] >= 2, fixed.stdout
            assert b"timeout check 9s" in installed.read_bytes()
            again = deploy()
            assert again.returncode == 0 and recap(again.stdout, "n1")["changed"] == 0, again.stdout[-6000:]
            assert _pid(run, "haproxy") is not None
            print(
                f"\nfailed reload: rolled back, daemon kept running (pid {_pid(run, 'haproxy')}); "
                f"fixed run changed={recap(fixed.stdout, 'n1')['changed']}, next run changed=0"
            )
        finally:
            for p in procs:
                p.kill()
            for name in ("haproxy", "keepalived", "vrrp"):
                pid = _pid(run, name)
                if pid:
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
