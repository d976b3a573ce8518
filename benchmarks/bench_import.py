"""hamodel import on a 50-node collected folder: must take under 5 s.

The folder is made here: 50 controllers, each with keepalived.conf (one
VRRP group of all 50, so 49 unicast peers each), a haproxy.cfg with 30
services of 50 backends each, /etc/hosts, in the layout collect.yml
fetches. Prints the import time (parse + draft) and the draft's size.

    python benchmarks/bench_import.py [--nodes 50]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hamodel.adopt import import_folder

BUDGET_S = 5.0


def make(root: Path, n: int, services: int = 30) -> None:
    addr = {f"ctl-{i}": f"10.1.{i // 250}.{i % 250 + 1}" for i in range(1, n + 1)}
    prio = {name: 254 - i for i, name in enumerate(addr)}
    for name, a in addr.items():
        d = root / name / "etc"
        (d / "keepalived").mkdir(parents=True)
        (d / "haproxy").mkdir()
        peers = "\n".join(f"        {b}" for m, b in addr.items() if m != name)
        (d / "keepalived/keepalived.conf").write_text(
            'vrrp_script chk_haproxy {\n    script "/usr/bin/pgrep -x haproxy"\n    interval 2\n    timeout 1\n'
            "    fall 2\n    rise 2\n}\n"
            f"vrrp_instance haproxy {{\n    state BACKUP\n    nopreempt\n    interface eth0\n    virtual_router_id 7\n"
            f"    priority {prio[name]}\n    unicast_src_ip {a}\n    unicast_peer {{\n{peers}\n    }}\n"
            "    virtual_ipaddress {\n        10.1.200.10/16 dev eth0\n    }\n    track_script {\n        chk_haproxy\n    }\n}\n"
        )
        body = ["global", "    maxconn 8192", "defaults", "    mode tcp", "    timeout connect 5s"]
        for s in range(services):
            port = 8000 + s
            body += [f"listen api{s}-{port}", f"    bind 10.1.200.10:{port}", "    mode tcp", "    balance roundrobin"]
            body += [f"    server {m} {b}:{port} check inter 1000 rise 2 fall 3" for m, b in addr.items()]
        (d / "haproxy/haproxy.cfg").write_text("\n".join(body) + "\n")
        (d / "hosts").write_text("".join(f"{b} {m}\n" for m, b in addr.items()))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "collected"
        make(root, args.nodes)
        t0 = time.perf_counter()
        draft = import_folder(root, "bench")
        took = time.perf_counter() - t0
    ok = took < BUDGET_S
    print(
        f"import of {args.nodes} nodes: {took:.2f} s ({'under' if ok else 'OVER'} the {BUDGET_S:.0f} s budget); "
        f"draft: {draft.nodes} nodes, {draft.services} services, {len(draft.source)} bytes, "
        f"{len(draft.unmapped)} unmapped"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
