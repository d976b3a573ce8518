"""A cluster below its quorum, seen from its nodes' ``up`` (a leaf of the monitoring generator).

For every cluster the analysis reports as able to lose quorum
(``quorum-loss`` findings: the voting members' nodes and the quorum), one
rule counts the voting nodes whose node exporter answers: fewer than the
quorum, and the cluster cannot have a quorum (etcd, Sentinel, Redis...).
It needs no exporter of the software itself, so it covers the clusters that
have none; Galera's (``wsrep`` metrics), RabbitMQ's (:mod:`.rabbitmq`) and
MongoDB's (:mod:`.mongodb`) own rules say more and replace it there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuorumRule:
    service: str
    expr: str
    summary: str
    firing: tuple[tuple[str, str], ...]
    healthy: tuple[tuple[str, str], ...]


def rule(service: str, voters: dict[str, str], quorum: int) -> QuorumRule:
    """``voters``: each voting node -> its node exporter's ``host:port``."""
    nodes = sorted(voters)
    alts = "|".join(nodes)
    series = {n: f'up{{instance="{voters[n]}",job="node",node="{n}"}}' for n in nodes}
    lost = len(nodes) - quorum + 1  # this many down leaves quorum - 1 answering
    return QuorumRule(
        service,
        # sum, not count(== 1): present (0) when every voter is down, absent only where no voter
        # is scraped at all (a lab that runs part of the model).
        f'sum(up{{job="node",node=~"{alts}"}}) < {quorum}',
        f"{service}: fewer than {quorum} of its {len(nodes)} voting nodes ({', '.join(nodes)}) answer: "
        "the cluster has no quorum",
        tuple((series[n], "0x20" if i < lost else "1x20") for i, n in enumerate(nodes)),
        tuple((series[n], "0x20" if i < lost - 1 else "1x20") for i, n in enumerate(nodes)),
    )
