#!/usr/bin/env python3
"""fence_hamodel_lab: a fence agent that powers lab nodes off and on.

pacemaker-fenced runs it as it runs any fence-agents agent: the action and
its parameters as ``key=value`` lines on stdin (``action=off``,
``plug=ctl-2``, ``nodename=...``), or ``-o ACTION`` / ``--action=ACTION``
and ``-n PLUG`` / ``--plug=PLUG`` on the command line. It supports
``metadata``, ``list``, ``status``, ``monitor``, ``off``, ``on`` and
``reboot``; exit 0 is success (for ``status``: on), 2 is "off", 1 an error.

The lab's wrapper (``/usr/sbin/fence_hamodel_lab`` inside every cluster
node's mount namespace, see :mod:`hamodel.drill.pacemaker`) runs this file
in the drill process's own network and mount namespaces, so it sees the
lab's namespaces and state dir; ``--lab DIR`` names that dir, whose
``fence-map.json`` maps each cluster node to its namespace, its devices and
its static addresses.

What a power-off of a lab node means (the same as a real one, for the
cluster): every process in the node's network namespace is SIGKILLed, the
node's own ends of its links go down, and every address that is not the
node's static address (a VIP that IPaddr2 had added) is removed, as a
machine that boots again holds only its configured addresses. ``on``
brings the node's own link ends up again (the node is powered but runs no
cluster stack until the drill starts it: a node that boots without the
cluster enabled). The switch side of a link is never touched: a partition
the drill made stays. Every action is appended to ``fence-log.jsonl``.

Standard library only: it runs once per fencing action and must start fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ACTIONS = ("metadata", "list", "status", "monitor", "off", "on", "reboot", "validate-all")

METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_hamodel_lab" shortdesc="Fence agent for hamodel drill labs (network namespaces)">
<longdesc>Powers a lab node off (SIGKILL of every process in its network namespace, its links down, added addresses removed) and on (links up).</longdesc>
<vendor-url>https://example.invalid/hamodel</vendor-url>
<parameters>
  <parameter name="action" unique="0" required="1">
    <getopt mixed="-o, --action=[action]" />
    <content type="string" default="reboot" />
    <shortdesc lang="en">Fencing action</shortdesc>
  </parameter>
  <parameter name="plug" unique="0" required="0" obsoletes="port">
    <getopt mixed="-n, --plug=[id]" />
    <content type="string" />
    <shortdesc lang="en">Lab node to act on</shortdesc>
  </parameter>
  <parameter name="port" unique="0" required="0" deprecated="1">
    <getopt mixed="-n, --plug=[id]" />
    <content type="string" />
    <shortdesc lang="en">Lab node to act on</shortdesc>
  </parameter>
  <parameter name="lab" unique="0" required="0">
    <getopt mixed="--lab=[dir]" />
    <content type="string" />
    <shortdesc lang="en">Lab state dir (set by the wrapper)</shortdesc>
  </parameter>
</parameters>
<actions>
  <action name="on" automatic="0"/>
  <action name="off" />
  <action name="reboot" />
  <action name="status" />
  <action name="list" />
  <action name="monitor" />
  <action name="metadata" />
  <action name="validate-all" />
</actions>
</resource-agent>
"""


def parse(argv: list[str], stdin_text: str) -> dict[str, str]:
    """Options from stdin (``key=value`` lines, as fenced passes them) and argv."""
    opts: dict[str, str] = {}
    for line in stdin_text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            opts[k.strip()] = v.strip()
    it = iter(argv)
    for a in it:
        if a in ("-o", "--action"):
            opts["action"] = next(it, "")
        elif a.startswith("--action="):
            opts["action"] = a.split("=", 1)[1]
        elif a in ("-n", "--plug", "--port"):
            opts["plug"] = next(it, "")
        elif a.startswith(("--plug=", "--port=")):
            opts["plug"] = a.split("=", 1)[1]
        elif a == "--lab":
            opts["lab"] = next(it, "")
        elif a.startswith("--lab="):
            opts["lab"] = a.split("=", 1)[1]
    if "port" in opts and "plug" not in opts:
        opts["plug"] = opts["port"]
    return opts


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


def _pids(ns: str) -> list[int]:
    return [int(x) for x in _ip("netns", "pids", ns).stdout.split() if x.isdigit()]


def power_off(node: dict) -> list[int]:
    """Kill everything in the node's namespace, take its links down, drop added addresses."""
    ns = node["ns"]
    killed: list[int] = []
    for _ in range(50):
        pids = [p for p in _pids(ns) if p != os.getpid()]
        if not pids:
            break
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
                killed.append(p)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    static = set(node["static"])
    for dev in node["devices"]:
        _ip("-n", ns, "link", "set", dev, "down")
        out = _ip("-n", ns, "-o", "addr", "show", "dev", dev).stdout
        for line in out.splitlines():
            w = line.split()
            if len(w) > 3 and w[2] in ("inet", "inet6") and w[3] not in static:
                _ip("-n", ns, "addr", "del", w[3], "dev", dev)
    return sorted(set(killed))


def power_on(node: dict) -> None:
    for dev in node["devices"]:
        _ip("-n", node["ns"], "link", "set", dev, "up")


def is_on(node: dict) -> bool:
    """On when every one of the node's own link ends is administratively up."""
    for dev in node["devices"]:
        out = _ip("-n", node["ns"], "-o", "link", "show", "dev", dev).stdout
        flags = out.split("<", 1)[1].split(">", 1)[0].split(",") if "<" in out else []
        if "UP" not in flags:
            return False
    return True


def main(argv: list[str]) -> int:
    stdin_text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    opts = parse(argv, stdin_text)
    action = opts.get("action", "reboot")
    if action == "metadata":
        sys.stdout.write(METADATA)
        return 0
    if action not in ACTIONS:
        print(f"fence_hamodel_lab: unknown action {action!r}", file=sys.stderr)
        return 1
    lab = Path(opts.get("lab") or os.environ.get("HAMODEL_LAB", ""))
    try:
        nodes = json.loads((lab / "fence-map.json").read_text())
    except (OSError, ValueError) as exc:
        print(f"fence_hamodel_lab: cannot read the lab's fence map in {lab}: {exc}", file=sys.stderr)
        return 1
    if action == "list":
        for name in sorted(nodes):
            print(f"{name},{name}")
        return 0
    if action in ("monitor", "validate-all"):
        return 0
    plug = opts.get("plug") or opts.get("nodename", "")
    node = nodes.get(plug)
    if node is None:
        print(f"fence_hamodel_lab: no lab node {plug!r} (known: {', '.join(sorted(nodes))})", file=sys.stderr)
        return 1
    t = time.monotonic()
    entry: dict = {"t": t, "action": action, "plug": plug}
    if action == "status":
        return 0 if is_on(node) else 2
    if action in ("off", "reboot"):
        entry["killed"] = power_off(node)
    if action in ("on", "reboot"):
        power_on(node)
    entry["done"] = time.monotonic()
    with open(lab / "fence-log.jsonl", "a") as fh:
        fh.write(json.dumps(entry) + "\n")
    print(f"fence_hamodel_lab: {action} {plug}: done", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
