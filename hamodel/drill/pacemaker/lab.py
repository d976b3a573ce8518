"""A real corosync + Pacemaker cluster in the drill lab, configured from the model.

:class:`PacemakerLab` builds one network namespace per cluster node (the
nodes of the model's ``pacemaker.on`` roles) with the node's ring address,
one bridge per switch (inter-switch links as in the model, split-horizon
for a full mesh, as :mod:`hamodel.drill.plan` does), and starts on every
node, each in a private mount namespace of its own (a host of its own for
the daemons: tmpfs on ``/run`` and ``/dev/shm``; per-node folders bound on
``/etc/corosync``, ``/var/lib/pacemaker``, ``/var/lib/corosync``,
``/var/log/pacemaker`` and ``/var/log/corosync``):

- ``corosync -f`` with the node's ``corosync.conf``;
- ``pacemakerd -f`` in the same mount namespace (``nsenter`` into it).

Once a DC is elected, the cluster configuration (the ``<configuration>``
of the CIB) is pushed with ``cibadmin --replace``.

What runs is what ``hamodel build`` ships (``nodes/<node>/corosync/
corosync.conf`` and ``pacemaker/cib.xml``) when the build has them, with
exactly these lab substitutions, each listed in the report's notes:

- every fencing device becomes the lab's fence agent ``fence_hamodel_lab``
  (:mod:`hamodel.drill.pacemaker.fence`): it powers a lab node off (every
  process of its namespace SIGKILLed, its own link ends down, added
  addresses such as a VIP removed) and on; it is made visible to
  pacemaker-fenced at ``/usr/sbin/fence_hamodel_lab`` by a read-only
  overlay mount of ``/usr/sbin`` inside each node's mount namespace only
  (the real ``/usr/sbin`` is never written);
- every resource the lab cannot run (systemd units: there is no systemd in
  a namespace; the galera, rabbitmq-cluster and redis agents: no
  databases in this lab) becomes ``ocf:pacemaker:Dummy`` (``ocf:pacemaker:
  Stateful`` inside a promotable clone), keeping its id, clone structure,
  operations and constraints; ``ocf:heartbeat:IPaddr2`` VIPs run for real;
- when the shipped corosync.conf enables crypto, the lab makes its own
  ``authkey`` (``corosync-keygen``; the build ships none, it is a
  prerequisite). Secret references the model leaves unset in the
  environment get a lab value when this module builds the files itself
  (:func:`lab_env`): only the fencing devices use them, and the lab
  replaces those.

Without generated files (before the Pacemaker generator exists) the lab
builds a minimal cluster of its own from the model (:func:`builtin_corosync_conf`,
:func:`builtin_cib`) and says so.

The plan and the CIB substitutions are in :mod:`hamodel.drill.pacemaker.cluster_plan`;
``hamodel drill models/openstack_pacemaker.py`` runs the scenarios
(:mod:`hamodel.drill.pacemaker.scenarios`, :mod:`hamodel.drill.pacemaker.quorum`).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamodel.drill.lab import Lab, LabError, Process, run
from hamodel.drill.pacemaker.cluster_plan import (
    FENCE_AGENT,
    REDIS_AGENT,
    Member,
    PacemakerPlan,
    corosync_value,
    generated_files,
    lab_cib,
    plan,
)
from hamodel.model import Architecture

HERE = Path(__file__).resolve().parent
#: Where the daemons keep their state, bound to per-node folders in each node's mount namespace.
BIND_DIRS = {
    "etc-corosync": "/etc/corosync",
    "lib-pacemaker": "/var/lib/pacemaker",
    "lib-corosync": "/var/lib/corosync",
    "log-pacemaker": "/var/log/pacemaker",
    "log-corosync": "/var/log/corosync",
}

Progress = Callable[[str], None]


# -- the lab ------------------------------------------------------------------------

NODE_SCRIPT = """#!/bin/sh
# One cluster node's private mount namespace (unshare -m --propagation private), then corosync.
set -e
# The lab dir is under /run: everything taken from it is mounted before /run is replaced.
mount -t overlay overlay -o ro,lowerdir={agents}:/usr/sbin /usr/sbin
{binds}
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /run/crm /run/pacemaker /run/resource-agents /run/corosync-qdevice
chown hacluster:haclient /run/crm /run/pacemaker
exec corosync -f
"""


#: The redis.conf of a lab node (ocf:heartbeat:redis adds --daemonize, --unixsocket and --pidfile).
REDIS_CONF = """# hamodel drill lab: Redis under ocf:heartbeat:redis
bind 0.0.0.0
port 6379
protected-mode no
dir /var/lib/redis
logfile /var/log/redis/redis-server.log
save ""
appendonly no
"""


QNETD_SCRIPT = """#!/bin/sh
# The quorum device's host: a private mount namespace with its own /etc/corosync and /run, then corosync-qnetd.
set -e
mount --bind {etc} /etc/corosync
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/corosync-qnetd
exec corosync-qnetd -f -d
"""

#: Runs one certutil step with the node's folder as /etc/corosync (the tools' paths are fixed).
CERTUTIL_SH = 'mount --bind "$1" /etc/corosync && shift && exec "$@"'


@dataclass
class PacemakerLab:
    """A lab with a real corosync/Pacemaker cluster; :meth:`teardown` always cleans up."""

    arch: Architecture
    plan: PacemakerPlan
    say: Progress = field(default=lambda s: None)
    lab: Lab = field(default_factory=Lab)
    dep: Any = None
    procs: dict[tuple[str, str], Process] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    vip_resources: dict[str, str] = field(default_factory=dict)
    substitutions: list[str] = field(default_factory=list)
    configuration: str = ""
    #: Agents run for real beyond IPaddr2 (asked for by the selected scenarios), e.g. REDIS_AGENT.
    real_agents: frozenset = frozenset()

    @property
    def nodes(self) -> list[str]:
        return self.plan.nodes

    def ndir(self, node: str) -> Path:
        return self.lab.node_dir(node)

    # -- building -------------------------------------------------------------------

    def setup(self) -> None:
        p, lab = self.plan, self.lab
        lab.create()
        for sw in p.switches:
            lab.add_switch(sw)
        for a, b in p.links:
            lab.link_switches(a, b, split_horizon=(a, b) in p.split_horizon)
        for m in p.members + ([p.qnetd] if p.qnetd else []):
            lab.add_host(m.node)
            lab.plug(m.node, m.device, m.switch, f"{m.address}/{m.prefix}")
        self.configuration, self.substitutions, self.vip_resources = lab_cib(p.cib, p, lab.root, self.real_agents)
        self._write_agent()
        lab.write_file(
            lab.root / "fence-map.json",
            json.dumps(
                {m.node: {"ns": lab.node_ns(m.node), "devices": [m.device], "static": m.static} for m in p.members},
                indent=1,
                sort_keys=True,
            ),
        )
        for m in p.members:
            self._write_node(m.node)
        if p.qnetd:
            self._qdevice_certificates()
            self.start_qnetd()
        t0 = time.monotonic()
        for n in self.nodes:
            self.start_node(n)
        self.wait(lambda: all(self.quorate(n) for n in self.nodes), 60, "corosync quorum of every node")
        self.timings["quorum_s"] = round(time.monotonic() - t0, 2)
        self.wait(lambda: self.dc() is not None, 120, "a DC")
        self.timings["dc_s"] = round(time.monotonic() - t0, 2)
        self.push_configuration()
        self.wait(lambda: not self.unsettled(), 120, "every resource started", detail=self.unsettled)
        self.timings["resources_s"] = round(time.monotonic() - t0, 2)
        self.say(
            f"pacemaker: {len(self.nodes)} nodes, quorum after {self.timings['quorum_s']} s, DC after "
            f"{self.timings['dc_s']} s, resources started after {self.timings['resources_s']} s"
        )

    def _write_agent(self) -> None:
        """``fence_hamodel_lab`` for the nodes' overlaid /usr/sbin: a shell wrapper.

        pacemaker-controld asks for the agent's metadata as user hacluster,
        which may not enter other namespaces (nsenter: Permission denied) and
        may not read this checkout: the wrapper answers ``metadata`` itself.
        Every other action comes from pacemaker-fenced (root) and runs
        :mod:`hamodel.drill.pacemaker.fence` in the drill's own namespaces.
        """
        from hamodel.drill.pacemaker.fence import METADATA

        d = self.lab.root / "agents"
        script = f"""#!/bin/sh
# The lab's fence agent (hamodel drill): metadata here, every other action in the drill's namespaces.
input=""
[ -t 0 ] || input=$(cat)
case " $* $(printf '%s' "$input" | tr '\\n' ' ') " in
  *" action=metadata "*|*" -o metadata "*|*" --action=metadata "*|*" --action metadata "*)
    cat <<'HAMODEL_METADATA'
{METADATA.strip()}
HAMODEL_METADATA
    exit 0 ;;
esac
printf '%s\\n' "$input" | exec nsenter -t {os.getpid()} -m -n -- {sys.executable} {HERE / "fence.py"} --lab {self.lab.root} "$@"
"""
        self.lab.write_file(d / FENCE_AGENT, script, mode=0o755)
        os.chmod(d, 0o755)

    def _write_node(self, node: str) -> None:
        d = self.ndir(node)
        self.lab.write_file(d / "etc-corosync" / "corosync.conf", self.plan.corosync_conf[node], mode=0o644)
        conf = self.plan.corosync_conf[node]
        if (corosync_value(conf, "totem", "crypto_cipher") or "none") != "none" or (
            corosync_value(conf, "totem", "crypto_hash") or "none"
        ) != "none":
            key = self.lab.root / "authkey"
            if not key.exists():
                run(["corosync-keygen", "-l", "-k", str(key)])
            shutil.copy(key, d / "etc-corosync" / "authkey")
            os.chmod(d / "etc-corosync" / "authkey", 0o400)
        import grp
        import pwd

        uid, gid = pwd.getpwnam("hacluster").pw_uid, grp.getgrnam("haclient").gr_gid
        for sub in (
            "lib-pacemaker/cib",
            "lib-pacemaker/pengine",
            "lib-pacemaker/blackbox",
            "lib-pacemaker/cores",
            "lib-corosync",
            "log-pacemaker",
            "log-corosync",
        ):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for sub in (
            "lib-pacemaker",
            "lib-pacemaker/cib",
            "lib-pacemaker/pengine",
            "lib-pacemaker/blackbox",
            "lib-pacemaker/cores",
            "log-pacemaker",
        ):
            os.chown(d / sub, uid, gid)
            os.chmod(d / sub, 0o750 if sub != "log-pacemaker" else 0o770)
        binds = "\n".join(f"mount --bind {d / src} {dst}" for src, dst in BIND_DIRS.items())
        if REDIS_AGENT in self.real_agents:
            binds += "\n" + self._redis_node(node)
        self.lab.write_file(d / "node.sh", NODE_SCRIPT.format(agents=self.lab.root / "agents", binds=binds), mode=0o700)

    def _redis_node(self, node: str) -> str:
        """The node's own /etc/redis (a lab redis.conf), /var/lib/redis and /var/log/redis for
        ocf:heartbeat:redis, and an /etc/hosts naming every cluster node: the agent points a
        replica at the promoted instance by its node name (``slaveof <node> <port>``)."""
        import grp
        import pwd

        d = self.ndir(node)
        uid, gid = pwd.getpwnam("redis").pw_uid, grp.getgrnam("redis").gr_gid
        for sub in ("etc-redis", "lib-redis", "log-redis"):
            (d / sub).mkdir(parents=True, exist_ok=True)
            os.chown(d / sub, uid, gid)
        self.lab.write_file(d / "etc-redis" / "redis.conf", REDIS_CONF, mode=0o644)
        hosts = self.lab.root / "hosts"
        if not hosts.exists():
            self.lab.write_file(
                hosts,
                "127.0.0.1 localhost\n" + "".join(f"{m.address} {m.node}\n" for m in self.plan.members),
                mode=0o644,
            )
            self.substitutions.append(
                "ocf:heartbeat:redis runs Debian's redis-server with the lab's "
                "/etc/redis/redis.conf on every node (bind 0.0.0.0, port 6379, no persistence) "
                "and an /etc/hosts naming the cluster nodes by their ring addresses"
            )
        return "\n".join(
            [
                f"mount --bind {d / 'etc-redis'} /etc/redis",
                f"mount --bind {d / 'lib-redis'} /var/lib/redis",
                f"mount --bind {d / 'log-redis'} /var/log/redis",
                f"mount --bind {hosts} /etc/hosts",
            ]
        )

    def start_node(self, node: str) -> None:
        """Boot the node's cluster stack: corosync in a fresh mount namespace, then pacemakerd in it."""
        d, ns = self.ndir(node), self.lab.node_ns(node)
        c = self.lab.start(
            f"corosync@{node}",
            ns,
            ["unshare", "-m", "--propagation", "private", str(d / "node.sh")],
            log=d / "corosync.out",
        )
        self.procs[(node, "corosync")] = c
        self.wait(
            lambda: self._corosync_ready(node), 20, f"corosync on {node}", detail=lambda: self.tail(d / "corosync.out")
        )
        if self.plan.qnetd is not None:
            # corosync-qdevice after corosync (as its unit orders it), in the node's mount namespace.
            self.procs[(node, "qdevice")] = self.lab.start(
                f"corosync-qdevice@{node}",
                ns,
                ["nsenter", "-t", str(c.pid), "-m", "--", "corosync-qdevice", "-f", "-d"],
                log=d / "qdevice.out",
            )
        pm = self.lab.start(
            f"pacemakerd@{node}",
            ns,
            ["nsenter", "-t", str(c.pid), "-m", "--", "pacemakerd", "-f"],
            log=d / "pacemakerd.out",
        )
        self.procs[(node, "pacemakerd")] = pm

    def _corosync_ready(self, node: str) -> bool:
        c = self.procs.get((node, "corosync"))
        if c is None or not c.alive():
            raise LabError(f"corosync on {node} exited: {self.tail(self.ndir(node) / 'corosync.out')}")
        return self.tool(node, ["corosync-cfgtool", "-s"], via="corosync").returncode == 0

    # -- the quorum device ------------------------------------------------------------

    def _certutil(self, node: str, argv: list[str]) -> None:
        etc = self.ndir(node) / "etc-corosync"
        r = run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", CERTUTIL_SH, "sh", str(etc), *argv],
            check=False,
            timeout=60,
        )
        if r.returncode != 0:
            raise LabError(
                f"{' '.join(argv)} (for {node}): exit {r.returncode}: {(r.stderr or r.stdout).strip()[-500:]}"
            )

    def qnetd_member(self) -> Member:
        """The quorum device's host (the plan of a cluster without one has none: a lab error)."""
        if self.plan.qnetd is None:
            raise LabError("this cluster has no quorum device host (PacemakerCluster.qdevice)")
        return self.plan.qnetd

    def _qdevice_certificates(self) -> None:
        """The TLS set-up ``pcs quorum device add`` does (corosync-qdevice-net-certutil(8)): a CA and
        server certificate on the qnetd host, a client certificate for the cluster signed by it and
        imported on every cluster node. The shipped corosync.conf keeps TLS on (its default)."""
        q = self.qnetd_member().node
        qetc = self.ndir(q) / "etc-corosync"
        qetc.mkdir(parents=True, exist_ok=True)
        cluster = corosync_value(next(iter(self.plan.corosync_conf.values())), "totem", "cluster_name") or "hacluster"
        self._certutil(q, ["corosync-qnetd-certutil", "-i"])
        ca = qetc / "qnetd" / "nssdb" / "qnetd-cacert.crt"
        first, *rest = self.nodes
        for n in self.nodes:
            shutil.copy(ca, self.ndir(n) / "etc-corosync" / "qnetd-cacert.crt")
            self._certutil(n, ["corosync-qdevice-net-certutil", "-i", "-c", "/etc/corosync/qnetd-cacert.crt"])
        ndb = self.ndir(first) / "etc-corosync" / "qdevice" / "net" / "nssdb"
        self._certutil(first, ["corosync-qdevice-net-certutil", "-r", "-n", cluster])
        shutil.copy(ndb / "qdevice-net-node.crq", qetc / "qdevice-net-node.crq")
        self._certutil(q, ["corosync-qnetd-certutil", "-s", "-c", "/etc/corosync/qdevice-net-node.crq", "-n", cluster])
        shutil.copy(qetc / "qnetd" / "nssdb" / f"cluster-{cluster}.crt", ndb / f"cluster-{cluster}.crt")
        self._certutil(
            first,
            ["corosync-qdevice-net-certutil", "-M", "-c", f"/etc/corosync/qdevice/net/nssdb/cluster-{cluster}.crt"],
        )
        for n in rest:
            shutil.copy(ndb / "qdevice-net-node.p12", self.ndir(n) / "etc-corosync" / "qdevice-net-node.p12")
            self._certutil(n, ["corosync-qdevice-net-certutil", "-m", "-c", "/etc/corosync/qdevice-net-node.p12"])
        self.substitutions.append(
            f"quorum device: corosync-qnetd on {q} and corosync-qdevice on every cluster node, "
            f"with TLS certificates made by the lab (corosync-qnetd-certutil -i / -s, "
            f"corosync-qdevice-net-certutil -i / -r / -M / -m for cluster {cluster}): the build "
            "ships none, they are a prerequisite"
        )

    def start_qnetd(self) -> None:
        """Start corosync-qnetd on the quorum device's host and wait until it listens."""
        q = self.qnetd_member()
        d = self.ndir(q.node)
        self.lab.write_file(d / "qnetd.sh", QNETD_SCRIPT.format(etc=d / "etc-corosync"), mode=0o700)
        self.procs[(q.node, "qnetd")] = self.lab.start(
            f"corosync-qnetd@{q.node}",
            self.lab.node_ns(q.node),
            ["unshare", "-m", "--propagation", "private", str(d / "qnetd.sh")],
            log=d / "qnetd.out",
        )

        def listening() -> bool:
            if not self.qnetd_alive():
                raise LabError(f"corosync-qnetd on {q.node} exited: {self.tail(d / 'qnetd.out')}")
            out = run(
                ["ip", "netns", "exec", self.lab.node_ns(q.node), "ss", "-Hltn", "sport", "= :5403"], check=False
            ).stdout
            return bool(out.strip())

        self.wait(listening, 20, f"corosync-qnetd on {q.node} listening", detail=lambda: self.tail(d / "qnetd.out"))

    def qnetd_alive(self) -> bool:
        p = self.procs.get((self.plan.qnetd.node, "qnetd")) if self.plan.qnetd is not None else None
        return p is not None and p.alive()

    def stop_qnetd(self) -> None:
        """corosync-qnetd dies (SIGKILL): the quorum device's vote is gone, its host stays up."""
        p = self.procs.get((self.qnetd_member().node, "qnetd"))
        if p is not None and p.alive():
            self.lab.stop(p, signal.SIGKILL)

    def quorum_status(self, node: str) -> dict[str, Any] | None:
        """``corosync-quorumtool -s`` of ``node``: quorate, votes, flags; None when corosync does not answer."""
        r = self.tool(node, ["corosync-quorumtool", "-s"], via="corosync", timeout=10)
        if "Quorate:" not in r.stdout:
            return None

        def val(key: str) -> str | None:
            m = re.search(rf"(?m)^{key}:\s+(.*?)\s*$", r.stdout)
            return m.group(1) if m else None

        def num(key: str) -> int | None:
            v = val(key)
            return int(v.split()[0]) if v and v.split()[0].isdigit() else None

        qd = re.search(r"(?m)^\s+0\s+(\d+)\s+Qdevice\s*$", r.stdout)
        local = re.search(r"(?m)^\s+\d+\s+\d+\s+(\S+)\s+\S+\s+\(local\)", r.stdout)
        return {
            "quorate": val("Quorate") == "Yes",
            "expected_votes": num("Expected votes"),
            "total_votes": num("Total votes"),
            "quorum": num("Quorum"),
            "flags": (val("Flags") or "").split(),
            "qdevice_votes": int(qd.group(1)) if qd else None,
            # The local node's qdevice flags (A,V,NMW: alive, voting, not master-wins) when a device is set.
            "qdevice_flags": local.group(1) if local and "," in local.group(1) else None,
        }

    def push_configuration(self) -> None:
        """Replace the live CIB's <configuration> with the lab's (from any node)."""
        path = self.ndir(self.nodes[0]) / "lib-pacemaker" / "configuration.xml"
        self.lab.write_file(path, self.configuration, mode=0o644)
        # The file is read inside the node's mount namespace: /var/lib/pacemaker is that folder.
        r = self.tool(
            self.nodes[0],
            ["cibadmin", "--replace", "--scope", "configuration", "--xml-file", "/var/lib/pacemaker/configuration.xml"],
        )
        if r.returncode != 0:
            raise LabError(f"cibadmin --replace: exit {r.returncode}: {(r.stderr or r.stdout).strip()}")

    # -- tools inside a node --------------------------------------------------------------

    def alive(self, node: str, what: str = "pacemakerd") -> bool:
        p = self.procs.get((node, what))
        return p is not None and p.alive()

    def tool(
        self, node: str, argv: list[str], *, via: str = "pacemakerd", timeout: float = 15
    ) -> subprocess.CompletedProcess:
        """Run a cluster tool inside the node's mount and network namespaces."""
        p = self.procs.get((node, via)) or self.procs.get((node, "corosync"))
        if p is None or not p.alive():
            return subprocess.CompletedProcess(argv, 255, "", f"{via} on {node} is not running")
        try:
            return subprocess.run(
                ["nsenter", "-t", str(p.pid), "-m", "-n", "--", *argv], capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 124, "", "timeout")

    def admin_node(self, avoid: str | None = None) -> str:
        """A node whose cluster stack runs and whose partition has quorum (for admin commands)."""
        for n in self.nodes:
            if n != avoid and self.alive(n) and self.quorate(n):
                return n
        raise LabError("no node with a running cluster stack and quorum")

    def set_property(self, name: str, value: str) -> None:
        """Set a cluster property (crm_attribute) from a quorate node."""
        r = self.tool(self.admin_node(), ["crm_attribute", "--type", "crm_config", "--name", name, "--update", value])
        if r.returncode != 0:
            raise LabError(f"crm_attribute {name}={value}: {(r.stderr or r.stdout).strip()}")

    def quorate(self, node: str) -> bool:
        r = self.tool(node, ["corosync-quorumtool", "-s"], via="corosync")
        return bool(re.search(r"(?m)^Quorate:\s+Yes", r.stdout))

    def cmap(self, node: str, key: str) -> str | None:
        r = self.tool(node, ["corosync-cmapctl", "-g", key], via="corosync")
        m = re.search(r"=\s*(\S+)\s*$", r.stdout.strip())
        return m.group(1) if r.returncode == 0 and m else None

    def mon(self, node: str) -> ET.Element | None:
        """``crm_mon --output-as=xml`` of ``node``; None when it does not answer."""
        r = self.tool(node, ["crm_mon", "-1", "--output-as=xml"], timeout=10)
        if r.returncode not in (0,) or "<pacemaker-result" not in r.stdout:
            return None
        try:
            return ET.fromstring(r.stdout)
        except ET.ParseError:
            return None

    def dc(self, node: str | None = None) -> str | None:
        for n in [node] if node else self.nodes:
            x = self.mon(n) if self.alive(n) else None
            s = x.find("summary/current_dc") if x is not None else None
            if s is not None and s.get("present") == "true" and s.get("with_quorum") == "true":
                return s.get("name")
        return None

    def resources(self, node: str) -> dict[str, list[tuple[str, str]]] | None:
        """``resource id -> [(node, role)]`` where it is active, as ``node`` sees it."""
        x = self.mon(node)
        if x is None:
            return None
        out: dict[str, list[tuple[str, str]]] = {}
        for r in x.iter("resource"):
            where = out.setdefault(r.get("id", ""), [])
            if r.get("active") == "true" and r.get("failed") != "true":
                for nd in r.findall("node"):
                    where.append((nd.get("name", ""), r.get("role", "")))
        return out

    def primitives(self) -> list[str]:
        conf = ET.fromstring(self.configuration)
        return [p.get("id", "") for p in conf.iter("primitive")]

    def unsettled(self, nodes: list[str] | None = None) -> list[str]:
        """What keeps the cluster from its steady state: nodes online, quorum, a DC, resources started."""
        nodes = nodes or self.nodes
        problems = []
        for n in nodes:
            if not self.alive(n):
                problems.append(f"pacemakerd on {n} is not running")
        if problems:
            return problems
        x = self.mon(nodes[0])
        if x is None:
            return [f"crm_mon on {nodes[0]} does not answer"]
        dc = x.find("summary/current_dc")
        if dc is None or dc.get("present") != "true" or dc.get("with_quorum") != "true":
            problems.append("no DC with quorum")
        nodes_el = x.find("nodes")
        online = {nd.get("name") for nd in (nodes_el if nodes_el is not None else []) if nd.get("online") == "true"}
        for n in nodes:
            if n not in online:
                problems.append(f"{n} not online")
        res = {}
        for r in x.iter("resource"):
            rid = r.get("id")
            ok = (
                r.get("active") == "true"
                and r.get("failed") != "true"
                and r.get("role") in ("Started", "Promoted", "Unpromoted", "Master", "Slave")
            )
            res[rid] = res.get(rid, False) or ok
        for rid in self.primitives():
            if not res.get(rid):
                problems.append(f"resource {rid} not started")
        return problems

    def vip_holders(self, address: str) -> list[str]:
        return [n for n in self.nodes if self.lab.has_address(self.lab.node_ns(n), address)]

    def log_size(self, node: str, which: str = "pacemaker") -> int:
        """Current size of the node's pacemaker.log / corosync.log (an offset for :meth:`log_since`)."""
        try:
            return (self.ndir(node) / f"log-{which}" / f"{which}.log").stat().st_size
        except OSError:
            return 0

    def log_since(self, node: str, offset: int, which: str = "pacemaker") -> str:
        try:
            with open(self.ndir(node) / f"log-{which}" / f"{which}.log", "rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def logged_after(self, node: str, offset: int, pattern: str, since: datetime.datetime) -> float | None:
        """Seconds from ``since`` (local wall time, as the log's) to the first line of the node's
        pacemaker.log after ``offset`` that matches ``pattern``; None when no line does."""
        import datetime

        for line in self.log_since(node, offset).splitlines():
            if re.search(pattern, line):
                m = re.match(r"^(\w{3} +\d+ \d\d:\d\d:\d\d\.\d+)", line)
                if not m:
                    continue
                at = datetime.datetime.strptime(f"{since.year} {m.group(1)}", "%Y %b %d %H:%M:%S.%f")
                return round((at - since).total_seconds(), 2)
        return None

    def fence_log(self) -> list[dict]:
        try:
            return [json.loads(l) for l in (self.lab.root / "fence-log.jsonl").read_text().splitlines() if l.strip()]
        except OSError:
            return []

    @staticmethod
    def wait(
        pred: Callable[[], bool],
        timeout: float,
        what: str,
        every: float = 0.25,
        detail: Callable[[], Any] | None = None,
    ) -> float:
        t0 = time.monotonic()
        while True:
            if pred():
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise LabError(f"{what}: not within {timeout:.0f} s" + (f": {detail()}" if detail else ""))
            time.sleep(every)

    @staticmethod
    def tail(path: Path, n: int = 8) -> str:
        try:
            return " | ".join(path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    # -- failures ---------------------------------------------------------------------

    def power_off(self, node: str) -> None:
        """A power loss: every process of the node SIGKILLed, its links down, added addresses gone."""
        m = self.plan.member(node)
        ns = self.lab.node_ns(node)
        self.lab.kill_all_in(ns)
        run(["ip", "-n", ns, "link", "set", m.device, "down"])
        out = run(["ip", "-n", ns, "-o", "addr", "show", "dev", m.device], check=False).stdout
        for line in out.splitlines():
            w = line.split()
            if len(w) > 3 and w[2] == "inet" and w[3] not in m.static:
                run(["ip", "-n", ns, "addr", "del", w[3], "dev", m.device], check=False)

    def power_on(self, node: str) -> None:
        """The node boots: its link up, its cluster stack started (a fresh /run, its disk state kept)."""
        m = self.plan.member(node)
        run(["ip", "-n", self.lab.node_ns(node), "link", "set", m.device, "up"])
        for what in ("pacemakerd", "corosync"):
            p = self.procs.get((node, what))
            if p is not None and p.alive():
                self.lab.stop(p, signal.SIGKILL)
        self.start_node(node)

    def isolate(self, node: str, cut: bool) -> list[str]:
        """Cut (or restore) every link between the node's switch and the rest: a partition.

        With one node per switch that is the inter-switch links of its
        switch; when the switch has other members, its own port instead.
        """
        m = self.plan.member(node)
        others_on_switch = [o for o in self.plan.members if o.switch == m.switch and o.node != node]
        if others_on_switch:
            for port in self.lab.ports:
                if port.node == node:
                    run(
                        [
                            "ip",
                            "-n",
                            self.lab.switch_ns(port.switch),
                            "link",
                            "set",
                            port.switch_port,
                            "down" if cut else "up",
                        ]
                    )
            return [f"{node}'s port on {m.switch}"]
        done = []
        for a, b in self.lab.isls:
            if m.switch in (a, b):
                self.lab.set_isl(a, b, up=not cut)
                done.append(f"{a}~{b}")
        return done

    def teardown(self) -> None:
        """Stop every daemon, delete the namespaces and the lab dir (idempotent).

        With ``HAMODEL_PACEMAKER_LOGS=DIR`` in the environment the nodes'
        logs are copied there first (for a post-mortem of a failed drill).
        """
        keep = os.environ.get("HAMODEL_PACEMAKER_LOGS")
        if keep and self.lab.root.is_dir():
            for n in self.nodes + ([self.plan.qnetd.node] if self.plan.qnetd else []):
                for f in (
                    "corosync.out",
                    "pacemakerd.out",
                    "log-pacemaker/pacemaker.log",
                    "log-corosync/corosync.log",
                    "qdevice.out",
                    "qnetd.out",
                ):
                    src = self.ndir(n) / f
                    if src.is_file():
                        dst = Path(keep) / n / f.replace("/", "_")
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy(src, dst)
        self.lab.teardown()


def open_lab(
    arch: Architecture,
    *,
    lock: Path | None = None,
    progress: Progress | None = None,
    dep=None,
    files: Mapping[str, bytes] | None = None,
    real_agents: frozenset = frozenset(),
) -> PacemakerLab:
    """Plan and set up a Pacemaker lab for ``arch`` (tears down what it built if setup fails);
    ``real_agents``: agents to run for real beyond IPaddr2 (e.g. ``REDIS_AGENT``)."""
    if dep is None or files is None:
        dep, files = generated_files(arch, lock=lock)
    pl = PacemakerLab(
        arch, plan(arch, dep, files), progress or (lambda s: None), dep=dep, real_agents=frozenset(real_agents)
    )
    try:
        pl.setup()
    except BaseException:
        pl.teardown()
        raise
    return pl
