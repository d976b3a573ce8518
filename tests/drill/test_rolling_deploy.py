"""A config change rolled across a keepalived/HAProxy pair under load
(issue 24): real haproxy (master-worker, reloaded with SIGUSR2 as Debian's
unit does) and keepalived on two namespace nodes on one bridge, a client
in a third namespace making a new HTTP request through the VIP every 10 ms
for the whole rollout; the shipped playbook, one node at a time through
its health gate. Zero requests may fail; the figures are printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_ansible_deploy import ANSIBLE_PLAYBOOK, needs_netns, recap
from test_hostile_injection import ansible_env, needs_ansible

from hamodel.drill.lab import Lab

NODES = {"n1": "10.0.0.11", "n2": "10.0.0.12"}

# systemctl and the node's /run as a lab node has them: argv[1] the node's namespace, argv[2] its /run.
SERVICE = r"""#!/bin/sh
set -e
NS=$1 RUN=$2 D=$3
shift 3
in_node() {{ ip netns exec "$NS" unshare -m --propagation private sh -c 'mount --bind "$0" /run && exec "$@"' "$RUN" "$@"; }}
alive() {{ [ -f "$RUN/$1.pid" ] && kill -0 "$(head -n1 "$RUN/$1.pid")" 2>/dev/null; }}
case "$1" in
sysctl) exec ip netns exec "$NS" sysctl -p "$D$3" ;;
is-active) alive "$2"; exit ;;
health) shift; in_node "$@"; exit ;;
esac
case "$3" in
haproxy)
    if alive haproxy; then kill -USR2 "$(head -n1 "$RUN/haproxy.pid")"; exit 0; fi
    in_node haproxy -W -D -f "$D/etc/haproxy/haproxy.cfg" -p /run/haproxy.pid ;;
keepalived)
    if alive keepalived; then kill -HUP "$(cat "$RUN/keepalived.pid")"; exit 0; fi
    in_node keepalived -f "$D/etc/keepalived/keepalived.conf" -p /run/keepalived.pid -r /run/vrrp.pid -l -D ;;
prometheus-*) exit 0 ;;  # the monitoring exporters (issue 25) do not run in this lab
--now) exit 0 ;;  # systemctl enable --now hamodel-keepalived-up.timer: no timer runs in this lab
*) echo "lab systemctl: no such unit: $*" >&2; exit 5 ;;
esac
"""

CLIENT = """
import http.client, os, sys, time
ok = fail = 0
errors = {}
stop = sys.argv[1]
while not os.path.exists(stop):
    try:
        c = http.client.HTTPConnection("10.0.0.100", 8080, timeout=2)
        c.request("GET", "/")
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 200:
            ok += 1
        else:
            fail += 1
            errors[str(r.status)] = errors.get(str(r.status), 0) + 1
    except Exception as e:
        fail += 1
        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
    time.sleep(0.01)
print(ok, fail, errors)
"""


@needs_ansible
@needs_netns
@pytest.mark.netns
@pytest.mark.slow
def test_a_rolling_change_under_load_loses_no_request(tmp_path: Path) -> None:
    from hamodel.generators.configs import build_configs
    from test_configs import small_arch

    from hamodel.output import write_tree
    from hamodel.pipeline import resolve

    out = tmp_path / "build"
    write_tree(out, build_configs(resolve(small_arch(2), analyse=False)))
    lab = Lab()
    lab.create()
    procs: list[subprocess.Popen] = []
    runs = {n: tmp_path / f"run-{n}" for n in NODES}
    try:
        lab.add_switch("sw")
        for n, a in NODES.items():
            lab.add_host(n)
            lab.plug(n, "eth0", "sw", f"{a}/24")
            (runs[n] / "haproxy").mkdir(parents=True)
            # The API behind the VIP on each node.
            www = tmp_path / f"www-{n}"
            www.mkdir()
            (www / "index.html").write_text(n)
            procs.append(
                subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        lab.node_ns(n),
                        "python3",
                        "-m",
                        "http.server",
                        "--bind",
                        a,
                        "--directory",
                        str(www),
                        "8080",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        lab.add_host("client", client=True)
        lab.plug("client", "eth0", "sw", "10.0.0.50/24", ns=lab.client_ns)
        service = tmp_path / "service.sh"
        service.write_text(SERVICE.format())
        service.chmod(0o755)
        roots = {n: tmp_path / f"root-{n}" for n in NODES}
        node = {n: [str(service), lab.node_ns(n), str(runs[n]), str(roots[n])] for n in NODES}
        hostvars = {
            n: {
                "hamodel_dest_root": str(roots[n]),
                "hamodel_handler_prefix": node[n],
                # The gate's commands run in the node, its /run included.
                "hamodel_health_prefix": [*node[n], "health"],
                "hamodel_service_check": ["sh", "-c", 'kill -0 "$(head -n1 /run/$0.pid)"'],
            }
            for n in NODES
        }
        labinv = tmp_path / "lab.yml"
        labinv.write_text(json.dumps({"all": {"hosts": hostvars}}))

        def deploy() -> subprocess.CompletedProcess:
            return subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    lab.client_ns,
                    ANSIBLE_PLAYBOOK,
                    "-c",
                    "local",
                    "-i",
                    str(out / "ansible" / "inventory.yml"),
                    "-i",
                    str(labinv),
                    "-e",
                    json.dumps({"hamodel_health_retries": 60}),
                    str(out / "ansible" / "deploy.yml"),
                ],
                capture_output=True,
                text=True,
                timeout=1200,
                cwd=tmp_path,
                env=ansible_env(tmp_path),
            )

        first = deploy()
        assert first.returncode == 0, first.stdout[-8000:] + first.stderr[-2000:]

        # The change: every node's HAProxy gets a new check timeout.
        for n in NODES:
            cfg = out / "nodes" / n / "haproxy" / "haproxy.cfg"
            cfg.write_bytes(cfg.read_bytes().replace(b"timeout check 10s", b"timeout check 9s"))
        stop = tmp_path / "stop"
        client = subprocess.Popen(
            ["ip", "netns", "exec", lab.client_ns, "python3", "-c", CLIENT, str(stop)],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(client)
        time.sleep(2)
        t0 = time.monotonic()
        second = deploy()
        took = time.monotonic() - t0
        time.sleep(2)
        stop.touch()
        ok, fail, errors = client.communicate(timeout=30)[0].split(" ", 2)
        assert second.returncode == 0, second.stdout[-8000:] + second.stderr[-2000:]
        for n in NODES:
            assert recap(second.stdout, n)["changed"] == 2, second.stdout  # the file and its reload
            assert b"timeout check 9s" in (roots[n] / "etc/haproxy/haproxy.cfg").read_bytes()
        print(
            f"\nrolling change over {len(NODES)} nodes in {took:.1f} s under load: {ok} requests OK, "
            f"{fail} failed {errors.strip()}"
        )
        assert int(ok) > 100
        assert int(fail) == 0, errors
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for run in runs.values():
            for name in ("haproxy", "keepalived", "vrrp"):
                try:
                    os.kill(int((run / f"{name}.pid").read_text().split()[0]), signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
        lab.teardown()
