"""Active-backup bond monitor of the drill lab.

``python bond.py --netns NS --bond eth0 --miimon-ms 100 eth0-m0 eth0-m1``

The lab's kernel has no bonding driver, so :meth:`hamodel.drill.lab.Lab.plug_bond`
builds a bonded interface as a bridge (named like the bond, holding its
address and MAC) whose ports are the members; this process makes it behave
as the driver's active-backup mode with ``miimon``:

- every ``miimon`` ms it reads each member's carrier (``/sys/class/net``);
- exactly one member with carrier is active, the others are blocked: the
  bridge port flags ``locked on`` (ingress dropped: no FDB entry) and
  ``learning off``, and a root qdisc ``pfifo limit 0`` (egress dropped), so
  a backup member neither sends nor receives, like a backup slave. (Port
  states would be the obvious tool, but a bridge without STP puts every
  port back to 'forwarding' at once, and a bridge in a network namespace
  cannot run user-space STP.) The flags survive carrier changes, so a
  member whose carrier returns stays blocked;
- the active member stays active while it has carrier (no preemption, the
  driver's default without ``primary``); when it loses carrier the first
  member with carrier becomes active, and one gratuitous ARP per IPv4
  address of the bond goes out through it (the driver's ``num_grat_arp`` 1),
  so the switches learn the new path at once.

Each change is logged with a monotonic timestamp, one line each.

The process lives in the lab's root namespace, not in the node's: a bond
is part of the kernel, so a scenario that kills every process of a node
(``holder-kill``) must not kill it. It opens its sockets inside the node's
namespace (``setns``, then back) and runs ``bridge -n`` / ``tc -n``.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys
import time

ACTIVE = ["locked", "off", "learning", "on", "flood", "on", "mcast_flood", "on", "bcast_flood", "on"]
BLOCKED = ["locked", "on", "learning", "off", "flood", "off", "mcast_flood", "off", "bcast_flood", "off"]
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
IFF_UP, IFF_RUNNING = 0x1, 0x40


def sockets_in(netns: str, bond: str) -> tuple[socket.socket, socket.socket]:
    """A datagram socket (for ioctls) and a packet socket bound to ``bond``, both in ``netns``.

    A socket stays in the namespace it was created in: enter it, create
    them, and go back to the namespace this process started in.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
        try:
            ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            pkt = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            pkt.bind((bond, 0))
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(home)
        os.close(target)
    return ctl, pkt


def carrier(ctl: socket.socket, dev: str) -> bool:
    """Whether ``dev`` is up and running (RFC 2863 operstate up: it has carrier)."""
    try:
        res = fcntl.ioctl(ctl, SIOCGIFFLAGS, struct.pack("16sH14s", dev.encode(), 0, b""))
    except OSError:
        return False
    flags = struct.unpack("16sH14s", res)[1]
    return bool(flags & IFF_UP and flags & IFF_RUNNING)


def set_flags(netns: str, dev: str, flags: list[str]) -> None:
    subprocess.run(["bridge", "-n", netns, "link", "set", "dev", dev, *flags], capture_output=True, timeout=5)


def set_egress(netns: str, dev: str, on: bool) -> None:
    """Let ``dev`` send, or drop all it would send (a 'pfifo limit 0' root qdisc).

    The bridge's flood flags do not stop broadcasts and multicasts that the
    node itself sends (the kernel floods locally originated ones to every
    port), so a backup member's egress is cut below the bridge.
    """
    argv = (
        ["tc", "-n", netns, "qdisc", "del", "dev", dev, "root"]
        if on
        else ["tc", "-n", netns, "qdisc", "replace", "dev", dev, "root", "pfifo", "limit", "0"]
    )
    subprocess.run(argv, capture_output=True, timeout=5)


def ipv4_addresses(netns: str, dev: str) -> list[str]:
    out = subprocess.run(
        ["ip", "-n", netns, "-4", "-o", "addr", "show", "dev", dev], capture_output=True, text=True, timeout=5
    ).stdout
    return [line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3]


def gratuitous_arp(pkt: socket.socket, netns: str, dev: str) -> int:
    """One gratuitous ARP request per IPv4 address of ``dev`` (sent through its active member)."""
    mac = pkt.getsockname()[4]
    sent = 0
    for ip in ipv4_addresses(netns, dev):
        a = socket.inet_aton(ip)
        pkt.send(
            b"\xff" * 6
            + mac
            + struct.pack("!H", 0x0806)
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
            + mac
            + a
            + b"\x00" * 6
            + a
        )
        sent += 1
    return sent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "bond").splitlines()[0])
    ap.add_argument("--netns", required=True)
    ap.add_argument("--bond", required=True)
    ap.add_argument("--miimon-ms", type=int, default=100)
    ap.add_argument("--lab", help="the lab's state dir (so that a cleanup finds this process)")
    ap.add_argument("members", nargs="+")
    a = ap.parse_args(argv)
    ctl, pkt = sockets_in(a.netns, a.bond)
    active: str | None = None
    announced: str | None = None

    def log(msg: str) -> None:
        print(f"{time.monotonic():.3f} {a.bond}: {msg}", flush=True)

    while True:
        up = [m for m in a.members if carrier(ctl, m)]
        if active not in up:
            old, active = active, (up[0] if up else None)
            if old is not None:
                set_egress(a.netns, old, False)
                set_flags(a.netns, old, BLOCKED)
            if active is not None:
                set_flags(a.netns, active, ACTIVE)
                set_egress(a.netns, active, True)
            if old != active:
                log(f"active member {old or '-'} -> {active or '- (no member has carrier)'}")
        if active is not None and active != announced:
            announced = active
            try:
                log(f"gratuitous ARP for {gratuitous_arp(pkt, a.netns, a.bond)} address(es) through {active}")
            except OSError as exc:
                log(f"gratuitous ARP failed: {exc}")
        time.sleep(a.miimon_ms / 1000)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
