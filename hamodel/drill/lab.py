"""A lab of Linux network namespaces on this machine: hosts, switches, links, processes.

One namespace per node, one namespace per switch holding a bridge ``br0``,
inter-switch links as veth pairs between switch namespaces, and a client
namespace. Every namespace, every file and every process carries the lab's
unique prefix ``hml-<pid>-``, so :func:`cleanup_leftovers` can find what an
interrupted run left behind.

Why namespaces are built this way (facts verified on this kind of machine):
there is no ``dummy`` link type, so every interface is one end of a veth
pair; a SIGKILLed keepalived leaves its VIP configured, so a node crash is
modelled as its link going down.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from hamodel.model import Architecture
from hamodel.model.strategies import BehindVip

PREFIX_ROOT = "hml-"
# Under /run (root-owned, not world-writable, gone at reboot): keepalived's
# script security refuses scripts below a directory that non-root users can
# write. Every dir is 0700 and every config 0600: the lab copies of
# keepalived.conf and haproxy.cfg hold auth_pass / stats auth, and the
# daemons that read them run as root.
STATE_ROOT = Path("/run/hamodel-drill")
DIR_MODE = 0o700
FILE_MODE = 0o600
#: Other roots holding per-lab folders named like the lab (``hml-<pid>...``), removed with
#: the lab's leftovers: a real Galera cluster's member folders (owned by mysql, so not in
#: the root-only STATE_ROOT).
EXTRA_ROOTS: tuple[Path, ...] = (Path("/run/hamodel-galera"),)
#: ``sh -c`` script of :meth:`Lab.start` with ``private_run``: $1 becomes /run, the lab dir
#: $2 is bound back at its own path (``mount -c``: "." is the old, now covered, lab dir;
#: a canonicalised path would name the new, empty one), then the daemon is exec'ed.
PRIVATE_RUN_SH = (
    'set -e; cd "$2"; mount --bind "$1" /run; mkdir -p "$2"; mount -c --bind . "$2"; cd /; shift 2; exec "$@"'
)


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as root-only (0700) dirs."""
    missing = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(d, DIR_MODE)  # mkdir's mode is masked by the umask
    return Path(path)


def write_private(path: Path, data: str | bytes, mode: int = FILE_MODE) -> Path:
    """Write a lab file that only root can read (``mode``, 0600 by default).

    The file is created with its final mode, so its content is never
    readable by others, not even for an instant; a symlink is not followed.
    """
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # an existing file keeps its old mode otherwise
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return Path(path)


#: How often a bond's monitor polls its members' carrier (the bonding driver's ``miimon``).
BOND_MIIMON_MS = 100


def bond_member(device: str, k: int) -> str:
    """The name of member ``k`` of bonded ``device`` (at most 15 characters)."""
    return f"{device[:11]}-m{k}"


@contextmanager
def interrupted_by_kill() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt inside the block (as Ctrl-C does), so a
    lab's ``finally`` teardown runs when the drill is killed; the old handlers come back
    after. Outside the main thread (where handlers cannot be set) nothing changes."""
    from hamodel.interrupts import interrupted_by

    with interrupted_by((signal.SIGTERM, signal.SIGHUP)):
        yield


class LabError(RuntimeError):
    """The lab could not be built or a command inside it failed."""


T = TypeVar("T")


def required(value: T | None, what: str) -> T:
    """``value``, which the drill needs here: ``None`` is a lab error naming ``what``."""
    if value is None:
        raise LabError(f"{what} is not known")
    return value


def access_of(arch: Architecture, service: str) -> BehindVip:
    """The HAProxy access of ``service`` (its ``BehindVip``), which a scenario
    on that service needs; a service without one is a lab error naming it."""
    access = arch.service(service).access
    if access is None:
        raise LabError(f"service {service} has no HAProxy access (BehindVip) to drill")
    return access


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run a short command (``ip``, ``bridge``, ``sysctl``); raise LabError on failure."""
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {p.returncode}: {(p.stderr or p.stdout).strip()}")
    return p


def list_namespaces() -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def namespace_pids(ns: str) -> list[int]:
    out = run(["ip", "netns", "pids", ns], check=False).stdout
    return [int(x) for x in out.split() if x.isdigit()]


def _kill_pids(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def crash_pids(list_pids: Callable[[], list[int]], *, between: Callable[[], None] | None = None) -> list[int]:
    """SIGKILL a set of processes as one event, as a host crash stops them.

    Killing them one by one is not a crash: keepalived's VRRP child asks for
    SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), and if it runs
    between the parent's SIGKILL and its own it sends a priority-0 advert and
    removes its VIPs, so a backup takes over within the skew time instead of
    the master-down interval. Every process is frozen (SIGSTOP) first, the
    list taken again until no new process appeared, and only then killed: a
    stopped process cannot run a handler before its SIGKILL. ``between`` is
    called between two signals (the tests pass a sleep to stand for the
    killer being preempted)."""
    stopped: list[int] = []
    while True:
        new = [p for p in list_pids() if p not in stopped]
        if not new:
            break
        for pid in new:
            _kill_pids([pid], signal.SIGSTOP)
            stopped.append(pid)
            if between is not None:
                between()
    for pid in stopped:
        _kill_pids([pid], signal.SIGKILL)
        if between is not None:
            between()
    return stopped


def _pids_with_marker(marker: str) -> list[int]:
    """Processes whose command line mentions ``marker`` (the lab's state dir)."""
    found = []
    me = os.getpid()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == me:
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmd:
            found.append(int(d.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _delete_namespace(ns: str) -> None:
    for _ in range(20):
        pids = namespace_pids(ns)
        if not pids:
            break
        _kill_pids(pids)
        time.sleep(0.05)
    run(["ip", "netns", "delete", ns], check=False)


def cleanup_leftovers(
    prefix: str = PREFIX_ROOT, *, include_live: bool = False, keep_own: bool = False
) -> dict[str, list]:
    """Remove namespaces, processes and state dirs of labs whose name starts with ``prefix``.

    Labs whose owning process (the pid in ``hml-<pid>-``) is still running
    are left alone unless ``include_live``: another drill may be running.
    ``keep_own`` also leaves this process's own labs alone (the automatic
    cleanup at :meth:`Lab.create`). Returns what was removed.
    """
    removed: dict[str, list] = {"namespaces": [], "processes": [], "dirs": []}

    def owner_alive(name: str) -> bool:
        m = re.match(r"^hml-(\d+)-", name + "-")
        if not m:
            return False
        pid = int(m.group(1))
        return keep_own if pid == os.getpid() else _alive(pid)

    for ns in list_namespaces():
        if ns.startswith(prefix) and (include_live or not owner_alive(ns)):
            removed["processes"] += namespace_pids(ns)
            _delete_namespace(ns)
            removed["namespaces"].append(ns)
    for root in (STATE_ROOT, *EXTRA_ROOTS):
        if not root.is_dir():
            continue
        for d in sorted(root.iterdir()):
            if (d.name + "-").startswith(prefix) and (include_live or not owner_alive(d.name)):
                pids = _pids_with_marker(str(d) + "/")
                _kill_pids(pids)
                removed["processes"] += pids
                shutil.rmtree(d, ignore_errors=True)
                removed["dirs"].append(str(d))
    removed["processes"] = sorted(set(removed["processes"]))
    return removed


@dataclass
class Process:
    """A daemon started in a lab namespace."""

    name: str
    ns: str
    argv: list[str]
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Port:
    """A node interface plugged into a switch: node side and switch side."""

    node: str
    device: str
    switch: str
    switch_port: str
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass
class Lab:
    """The namespaces, links and processes of one drill; :meth:`teardown` undoes all."""

    prefix: str = field(default_factory=lambda: f"{PREFIX_ROOT}{os.getpid()}-")
    namespaces: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    isls: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    bonds: dict[tuple[str, str], list[str]] = field(default_factory=dict)  #: (ns, device) -> members
    _port_count: dict[str, int] = field(default_factory=dict)
    _torn_down: bool = False
    #: The folders (config, rules, TSDB) of the Prometheus servers started in this lab: never two on one.
    prometheus_folders: set[Path] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.prefix.startswith(PREFIX_ROOT):
            raise ValueError(f"lab prefix must start with {PREFIX_ROOT!r}")
        self.root = STATE_ROOT / self.prefix.rstrip("-")

    # -- names --------------------------------------------------------------

    def node_ns(self, node: str) -> str:
        return f"{self.prefix}node-{node}"

    def switch_ns(self, switch: str) -> str:
        return f"{self.prefix}switch-{switch}"

    @property
    def client_ns(self) -> str:
        return f"{self.prefix}client"

    def node_dir(self, node: str) -> Path:
        return self.root / "nodes" / node

    # -- building -----------------------------------------------------------

    def create(self) -> None:
        """Make the lab's state dir (0700), after removing what dead drills left.

        A SIGKILLed drill cannot tear down: its namespaces, daemons and its
        state dir (lab configs holding secrets) are removed here, by the next
        drill, as ``drill --cleanup`` would (labs of live drills stay).
        """
        cleanup_leftovers(keep_own=True)
        private_dir(STATE_ROOT)
        os.chmod(STATE_ROOT, DIR_MODE)  # an older version made it 0755
        self.root.mkdir(mode=DIR_MODE, exist_ok=False)
        os.chmod(self.root, DIR_MODE)

    def _add_ns(self, ns: str) -> None:
        run(["ip", "netns", "add", ns])
        self.namespaces.append(ns)
        run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def add_switch(self, switch: str) -> None:
        ns = self.switch_ns(switch)
        self._add_ns(ns)
        run(["ip", "-n", ns, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", ns, "link", "set", "br0", "up"])

    def add_host(self, node: str, *, client: bool = False) -> str:
        ns = self.client_ns if client else self.node_ns(node)
        self._add_ns(ns)
        if not client:
            private_dir(self.node_dir(node))
        return ns

    def write_file(self, path: Path, data: str | bytes, mode: int = FILE_MODE) -> Path:
        """Write a file of this lab: root-only (0600) unless ``mode`` says otherwise."""
        if not Path(path).resolve().is_relative_to(self.root.resolve()):
            raise LabError(f"{path} is outside the lab dir {self.root}")
        private_dir(Path(path).parent)
        return write_private(path, data, mode)

    def plug(
        self,
        node: str,
        device: str,
        switch: str,
        address: str,
        *,
        ns: str | None = None,
        bond: Sequence[str] | None = None,
    ) -> Port:
        """Create ``device`` in the node's namespace, wired to a port of ``switch``'s bridge.

        ``bond``: the switches of a bonded interface (``switch`` first);
        with two or more, :meth:`plug_bond` builds it (one member per switch).
        """
        if bond and len(bond) > 1:
            return self.plug_bond(node, device, list(bond), address, ns=ns)[0]
        ns = ns or self.node_ns(node)
        sw = self.switch_ns(switch)
        n = self._port_count.get(switch, 0)
        self._port_count[switch] = n + 1
        sp = f"p{n}"
        run(["ip", "link", "add", device, "netns", ns, "type", "veth", "peer", "name", sp, "netns", sw])
        run(["ip", "-n", sw, "link", "set", sp, "master", "br0"])
        run(["ip", "-n", sw, "link", "set", sp, "up"])
        iface = ipaddress.ip_interface(address)
        run(["ip", "-n", ns, "addr", "add", str(iface), "dev", device])
        run(["ip", "-n", ns, "link", "set", device, "up"])
        port = Port(node, device, switch, sp, iface)
        self.ports.append(port)
        return port

    def plug_bond(
        self,
        node: str,
        device: str,
        switches: Sequence[str],
        address: str,
        *,
        ns: str | None = None,
        miimon_ms: int = BOND_MIIMON_MS,
    ) -> list[Port]:
        """A bonded interface: ``device`` carries the address, one member per switch.

        This kernel has no ``bond`` (nor ``team``) link type
        (CONFIG_BONDING is not set), so the bond is built from what it has:
        ``device`` is a bridge in the node's namespace with a fixed MAC, each
        member one veth to a switch, and :mod:`hamodel.drill.bond` (started
        here, in the namespace) does what the bonding driver does in
        active-backup mode with ``miimon``: it polls each member's carrier
        every ``miimon_ms``, sends and receives on one member only (the others
        blocked; the members are also 'isolated', so no frame ever crosses the
        node from one switch to another) and, on failover, sends a
        gratuitous ARP for each address of ``device`` through the new member,
        as the driver does (num_grat_arp 1). Carrier loss on a member is real:
        a switch going down takes its end of the veth down.
        """
        ns = ns or self.node_ns(node)
        mac = "02:" + ":".join(f"{b:02x}" for b in hashlib.sha256(f"{ns}/{device}".encode()).digest()[:5])
        run(
            [
                "ip",
                "-n",
                ns,
                "link",
                "add",
                device,
                "type",
                "bridge",
                "stp_state",
                "0",
                "mcast_snooping",
                "0",
                "forward_delay",
                "0",
            ]
        )
        run(["ip", "-n", ns, "link", "set", device, "address", mac])
        members = []
        ports = []
        for k, sw in enumerate(switches):
            member = bond_member(device, k)
            swns = self.switch_ns(sw)
            n = self._port_count.get(sw, 0)
            self._port_count[sw] = n + 1
            sp = f"p{n}"
            run(["ip", "link", "add", member, "netns", ns, "type", "veth", "peer", "name", sp, "netns", swns])
            run(["ip", "-n", swns, "link", "set", sp, "master", "br0"])
            run(["ip", "-n", swns, "link", "set", sp, "up"])
            run(["ip", "-n", ns, "link", "set", member, "master", device])
            # Blocked until the monitor makes it active (see hamodel.drill.bond).
            run(
                [
                    "bridge",
                    "-n",
                    ns,
                    "link",
                    "set",
                    "dev",
                    member,
                    "isolated",
                    "on",
                    "locked",
                    "on",
                    "learning",
                    "off",
                    "flood",
                    "off",
                    "mcast_flood",
                    "off",
                    "bcast_flood",
                    "off",
                ]
            )
            run(["tc", "-n", ns, "qdisc", "replace", "dev", member, "root", "pfifo", "limit", "0"])
            run(["ip", "-n", ns, "link", "set", member, "up"])
            members.append(member)
            ports.append(Port(node, member, sw, sp, ipaddress.ip_interface(address)))
        iface = ipaddress.ip_interface(address)
        run(["ip", "-n", ns, "addr", "add", str(iface), "dev", device])
        run(["ip", "-n", ns, "link", "set", device, "up"])
        self.ports.extend(ports)
        self.bonds[(ns, device)] = members
        log = self.root / "bonds" / f"{ns[len(self.prefix) :]}-{device}.log"
        # Run as a script (not -m): importing the hamodel package would take seconds. It runs
        # outside the node's namespace (see hamodel.drill.bond): killing every process of
        # the node must leave its bond working, as the kernel's would.
        argv = [
            sys.executable,
            str(Path(__file__).with_name("bond.py")),
            "--netns",
            ns,
            "--bond",
            device,
            "--miimon-ms",
            str(miimon_ms),
            "--lab",
            f"{self.root}/",
            *members,
        ]
        private_dir(log.parent)
        fh = open(log, "ab", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW, FILE_MODE))
        try:
            popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            fh.close()
        proc = Process(f"bond@{node}:{device}", "", argv, popen, log)
        self.processes.append(proc)
        # Wait for the monitor's first choice: one member forwarding, before the node sends anything.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not proc.alive():
                raise LabError(f"bond monitor of {node}:{device} exited: {log.read_text(errors='replace')[-500:]}")
            if "gratuitous ARP" in log.read_text(errors="replace") and self.bond_active(ns, device):
                return ports
            time.sleep(0.02)
        raise LabError(f"bond monitor of {node}:{device} chose no active member within 10 s")

    def bond_active(self, ns: str, device: str) -> str | None:
        """The active member of a bond now (None while none is, or while several are)."""
        fwd = []
        for m in self.bonds.get((ns, device), []):
            out = run(["bridge", "-n", ns, "-d", "link", "show", "dev", m], check=False).stdout
            qdisc = run(["tc", "-n", ns, "qdisc", "show", "dev", m], check=False).stdout
            if "state forwarding" in out and "locked off" in out and "limit 0p" not in qdisc:
                fwd.append(m)
        return fwd[0] if len(fwd) == 1 else None

    def set_switch(self, switch: str, up: bool) -> None:
        """Fail a switch (every port down: node ports and inter-switch links) or bring it back.

        The switch's end of each veth goes down, so every node, bond member
        and neighbour switch plugged into it sees carrier loss, as when a
        real switch loses power.
        """
        ns = self.switch_ns(switch)
        state = "up" if up else "down"
        for p in self.ports:
            if p.switch == switch:
                run(["ip", "-n", ns, "link", "set", p.switch_port, state])
        for (a, b), (ea, eb) in self.isls.items():
            if switch in (a, b):
                run(["ip", "-n", ns, "link", "set", ea if switch == a else eb, state])

    def link_switches(self, a: str, b: str, *, split_horizon: bool = False) -> None:
        """An inter-switch link: a veth pair between two bridges.

        ``split_horizon`` marks the link ports ``isolated`` so that a frame
        entering a switch from one inter-switch link never leaves it by
        another: a full mesh then has no L2 loop (like a fabric) without
        running STP.
        """
        i = len(self.isls)
        ea, eb = f"isl{i}a", f"isl{i}b"
        run(
            [
                "ip",
                "link",
                "add",
                ea,
                "netns",
                self.switch_ns(a),
                "type",
                "veth",
                "peer",
                "name",
                eb,
                "netns",
                self.switch_ns(b),
            ]
        )
        for sw, end in ((a, ea), (b, eb)):
            ns = self.switch_ns(sw)
            run(["ip", "-n", ns, "link", "set", end, "master", "br0"])
            if split_horizon:
                run(["bridge", "-n", ns, "link", "set", "dev", end, "isolated", "on"])
            run(["ip", "-n", ns, "link", "set", end, "up"])
        self.isls[(a, b)] = (ea, eb)

    def set_isl(self, a: str, b: str, up: bool) -> None:
        key = (a, b) if (a, b) in self.isls else (b, a)
        ea, eb = self.isls[key]
        state = "up" if up else "down"
        run(["ip", "-n", self.switch_ns(key[0]), "link", "set", ea, state])
        run(["ip", "-n", self.switch_ns(key[1]), "link", "set", eb, state])

    def set_node_links(self, node: str, up: bool) -> None:
        """Take all of a node's interfaces down (both veth ends) or up again."""
        state = "up" if up else "down"
        for p in self.ports:
            if p.node == node:
                run(["ip", "-n", self.switch_ns(p.switch), "link", "set", p.switch_port, state])
                run(["ip", "-n", self.node_ns(node), "link", "set", p.device, state])

    def crash_links(self, node: str) -> None:
        """Cut every link of ``node`` as a crash does: nothing on it can say goodbye.

        The links go down one ``ip`` call at a time, and keepalived reacts to
        the first one (``track_interface``: FAULT, a priority-0 advert) on the
        links still up, so a backup took over a two-homed holder's VIP in
        0.6 s where a crash leaves it 3 x advert_int. The node's processes are
        frozen (SIGSTOP) while its links go down and resumed after, to find
        every link gone."""
        pids = namespace_pids(self.node_ns(node))
        _kill_pids(pids, signal.SIGSTOP)
        try:
            self.set_node_links(node, False)
        finally:
            _kill_pids(pids, signal.SIGCONT)

    def sysctl(self, ns: str, key: str, value: str) -> None:
        run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}"])

    # -- processes ----------------------------------------------------------

    def start(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        *,
        log: Path,
        env: dict | None = None,
        private_run: Path | None = None,
    ) -> Process:
        """Start ``argv`` inside ``ns`` (``ip netns exec`` execs it: the pid is the daemon's).

        ``private_run``: a folder that the process sees as ``/run`` (a mount
        namespace of its own, :data:`PRIVATE_RUN_SH`), so daemons of one node
        share their ``/run`` (pid files at their shipped paths) and no two
        nodes share one; the lab dir stays visible at its own path.
        """
        private_dir(log.parent)
        if private_run is not None:
            private_dir(private_run)
            argv = [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                PRIVATE_RUN_SH,
                "sh",
                str(private_run),
                str(self.root),
                *argv,
            ]
        fh = open(log, "ab", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW, FILE_MODE))
        try:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        finally:
            fh.close()
        proc = Process(name, ns, list(argv), popen, log)
        self.processes.append(proc)
        return proc

    def stop(self, proc: Process, sig: int = signal.SIGTERM, wait: float = 3.0) -> None:
        """Signal one process and its session (keepalived's children) and reap it."""
        if proc.alive():
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.popen.wait(timeout=5)

    def kill_all_in(self, ns: str) -> list[int]:
        """SIGKILL every process of a namespace at once (a crashed host keeps nothing running).

        Frozen first, then killed (:func:`crash_pids`): no process sees another die."""
        pids = crash_pids(lambda: namespace_pids(ns))
        for p in self.processes:
            if p.ns == ns:
                try:
                    p.popen.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        return pids

    # -- observation --------------------------------------------------------

    def has_address(self, ns: str, address: str) -> bool:
        out = run(["ip", "-n", ns, "-o", "addr", "show", "to", address], check=False).stdout
        return address in out

    def exec(
        self, ns: str, argv: Sequence[str], *, check: bool = True, timeout: float = 20
    ) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", ns, *argv], check=check, timeout=timeout)

    # -- teardown -----------------------------------------------------------

    def teardown(self) -> None:
        """Stop every process, delete every namespace and the state dir. Idempotent."""
        if self._torn_down:
            return
        self._torn_down = True
        for p in self.processes:
            if p.alive():
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 2
        for p in self.processes:
            try:
                p.popen.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.processes:
            if p.alive():
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.popen.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for ns in reversed(self.namespaces):
            _delete_namespace(ns)
        # Anything else still mentioning the state dir (a forked helper).
        _kill_pids(_pids_with_marker(str(self.root) + "/"))
        shutil.rmtree(self.root, ignore_errors=True)
