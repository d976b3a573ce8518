"""Seeded synthetic architectures, for the benchmarks and the tests.

Part of the package (not of ``benchmarks/``) so that tests and benchmark
scripts import it by its name, ``hamodel.testing``, without ``sys.path``
edits; it needs nothing beyond hamodel's own dependencies.

``synthetic(racks=100, nodes=1000, instances=3000, seed=1)`` builds racks in
zones (10 racks per zone), two power feeds per zone, nodes spread evenly over
the racks with four roles, and services until the instance count is
reached: quorum clusters with rack anti-affinity, spread-limited
coordinated services, sharded agents, unmanaged active/passive services,
colocated sidecars, shared ports (which may not share a node) and a few
pins. Same arguments, same model.
"""

from __future__ import annotations

import random

from hamodel import Architecture, Node, Power, Rack, Resources, Service, Zone
from hamodel.strategies import ActivePassive, AppCluster, Coordinated, Sharded

ROLES = ("control", "storage", "compute", "network")


def synthetic(
    racks: int = 100, nodes: int = 1000, instances: int = 3000, seed: int = 1, capacity_tiers: int = 2
) -> Architecture:
    """A seeded architecture of ``nodes`` nodes in ``racks`` racks with about ``instances`` instances."""
    rng = random.Random(seed)
    zones = [Zone(f"z{i + 1}") for i in range((racks + 9) // 10)]
    rack_objs = [Rack(f"r{i + 1}", parent=zones[i // 10].name) for i in range(racks)]
    feeds = [Power(f"pdu-{z.name}-{x}") for z in zones for x in "ab"]
    node_objs = []
    per_rack = max(1, nodes // racks)
    for i in range(nodes):
        r = min(i // per_rack, racks - 1)
        zone = r // 10
        tier = r % capacity_tiers
        # two roles per node, so services of different roles meet on a node
        node_objs.append(
            Node(
                f"n{i + 1}",
                roles={ROLES[i % len(ROLES)], ROLES[(i + 1) % len(ROLES)]},
                domains=[rack_objs[r].name, feeds[2 * zone + (r % 2)].name],
                capacity=Resources(cpu=32 + 16 * tier, memory_gb=128 + 64 * tier),
            )
        )
    role_nodes = {role: [n.name for n in node_objs if role in n.roles] for role in ROLES}
    services: list[Service] = []
    total = 0
    i = 0
    port = 10000
    used_ports: set[tuple[str, int]] = set()  # a port is unique per role (model rule)
    while total < instances:
        i += 1
        role = ROLES[i % len(ROLES)]
        kind = rng.random()
        req = Resources(cpu=rng.choice((1, 2, 4, 6)), memory_gb=rng.choice((2, 4, 8, 16)))
        port += 1
        name = f"svc{i}"
        if kind < 0.35:
            k = rng.choice((3, 3, 5))
            s = Service(
                name, on=role, replicas=k, anti_affinity="rack", requests=req, ports=[port], strategy=AppCluster()
            )
            services.append(s)
            total += k
            if rng.random() < 0.3 and total < instances:  # a sidecar on the same nodes
                services.append(
                    Service(
                        f"{name}-sidecar",
                        on=role,
                        replicas=k,
                        colocate=[name],
                        requests=Resources(cpu=0.5, memory_gb=1),
                        ports=[port + 50000 // 2],
                        strategy=Coordinated(mechanism="per-node"),
                    )
                )
                total += k
        elif kind < 0.65:
            k = rng.choice((2, 4, 6))
            services.append(
                Service(
                    name,
                    on=role,
                    replicas=k,
                    max_per_domain={"zone": -(-k // len(zones)) + 1, "rack": 1},
                    requests=req,
                    ports=[port],
                    strategy=Coordinated(),
                )
            )
            total += k
        elif kind < 0.8:
            k = rng.choice((4, 8))
            # shares a well-known port with the previous service of the same kind: never on one node
            shared = 9000 + (i % 7)
            p = shared if (role, shared) not in used_ports else port
            used_ports.add((role, p))
            services.append(
                Service(
                    name, on=role, replicas=k, max_per_domain={"rack": 2}, requests=req, ports=[p], strategy=Sharded()
                )
            )
            total += k
        else:
            pin = [rng.choice(role_nodes[role])] if rng.random() < 0.2 else []
            services.append(
                Service(name, on=role, replicas=1, pin=pin, requests=req, ports=[port], strategy=ActivePassive())
            )
            total += 1
    return Architecture(
        f"synthetic {racks}x{nodes}x{instances} seed {seed}",
        nodes=node_objs,
        domains=[*zones, *rack_objs, *feeds],
        services=services,
    )


def capacity_bound(
    services: int = 30,
    nodes: int = 3,
    sizes: tuple[float, ...] = (1,),
    slack: float = 0.0,
    racks: bool = True,
    extra: int = 0,
    seed: int = 1,
) -> Architecture:
    """A small model bound by cpu alone: ``services`` single-instance services
    with requests drawn from ``sizes`` on ``nodes`` nodes of equal capacity.

    Each node gets the cpu of an even share of the requests times
    ``1 + slack`` (``slack=0``: the sum fits exactly). ``extra`` adds that
    many more services of the smallest size (so ``extra=1, slack=0`` is
    infeasible by counting). ``racks=True`` puts each node in a rack of
    its own, which made every node a cell of its own (the case that took
    minutes before symmetry breaking).
    """
    rng = random.Random(seed)
    reqs = [rng.choice(sizes) for _ in range(services)]
    cap = round(sum(reqs) / nodes * (1 + slack), 3)
    reqs += [min(sizes)] * extra
    rack_objs = [Rack(f"r{i + 1}") for i in range(nodes)] if racks else []
    node_objs = [
        Node(
            f"n{i + 1}",
            roles={"app"},
            domains=[rack_objs[i].name] if racks else [],
            capacity=Resources(cpu=cap, memory_gb=1024),
        )
        for i in range(nodes)
    ]
    svcs = [
        Service(f"s{i + 1}", on="app", replicas=1, requests=Resources(cpu=q, memory_gb=1), strategy=Coordinated())
        for i, q in enumerate(reqs)
    ]
    return Architecture(
        f"capacity {len(reqs)} on {nodes} x {cap} cpu{' racks' if racks else ''} seed {seed}",
        nodes=node_objs,
        domains=rack_objs,
        services=svcs,
    )


def instance_total(arch: Architecture) -> int:
    from hamodel.analysis.placement import instance_count

    return sum(instance_count(arch, s) for s in arch.services)


if __name__ == "__main__":
    a = synthetic()
    print(a.name, len(a.nodes), len(a.services), instance_total(a))
