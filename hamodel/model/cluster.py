"""What an architecture says beside its topology and services: acknowledged
findings, and the Pacemaker cluster with its fence devices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from hamodel.model.base import HaBase, Name, Ref, RefList, SecretRef

if TYPE_CHECKING:
    from hamodel.model.base import Data, RefsIn


class Acknowledgement(HaBase):
    """An accepted finding: its stable id and the architect's reason."""

    _positional: ClassVar = ("finding", "reason")
    finding: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:._@~+-]{0,200}$")]
    reason: Annotated[str, Field(min_length=3, max_length=2000)]

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(self, finding: str, reason: str) -> None: ...


# A fence agent parameter: its name as the agent's metadata spells it, its
# value a token that XML, a shell word and pcs' name=value parser all keep
# as it is (no whitespace, quotes, '$' or '&'); secrets go by reference.
FenceParamName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
FenceParamValue = (
    Annotated[str, Field(pattern=r"^[A-Za-z0-9_.,:@%+=/-]{1,255}$")] | Annotated[int, Field(ge=0, le=10**9)]
)
FenceParam = SecretRef | FenceParamValue


class FenceDevice(HaBase):
    """A STONITH device of the Pacemaker cluster: a fence agent and its parameters.

    ``agent`` is the fence agent (``fence_ipmilan``, ``fence_apc``, ...);
    ``params`` are its parameters shared by every target, a value either a
    token or a :class:`SecretRef` (``password``), resolved at build time.
    With ``per_node`` the device is one STONITH resource per listed node
    (a BMC per node: ``{"ctl-1": {"ip": "10.0.0.11"}}``), each fencing only
    that node; without it, one resource fences ``targets`` (empty: every
    cluster node), ``host_map`` naming the agent's plug/port of each node
    (``pcmk_host_map``). ``delay_base_s`` is ``pcmk_delay_base``: a static
    delay before this device fences, so that in a 2-node fence race the
    node fenced by a delayed device survives.
    """

    _positional: ClassVar = ("name",)
    name: Name
    agent: Annotated[str, Field(pattern=r"^fence_[a-z0-9_]{1,60}$")]
    params: dict[FenceParamName, FenceParam] = Field(default_factory=dict)
    per_node: dict[Name, dict[FenceParamName, FenceParam]] = Field(default_factory=dict)
    targets: RefList = Field(default_factory=list, description="nodes fenced (no per_node); empty: every cluster node")
    host_map: dict[Name, FenceParamValue] = Field(default_factory=dict)
    delay_base_s: Annotated[int, Field(ge=0, le=3600)] = 0

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            name: str,
            *,
            agent: str,
            params: Mapping[str, str | int | SecretRef | Data] = ...,
            per_node: Mapping[str, Mapping[str, str | int | SecretRef | Data]] = ...,
            targets: RefsIn = ...,
            host_map: Mapping[str, str | int] = ...,
            delay_base_s: int = ...,
        ) -> None: ...

    # Set by the generator from targets/per_node/host_map: a model never writes them.
    RESERVED: ClassVar[frozenset[str]] = frozenset(
        {"pcmk_host_list", "pcmk_host_map", "pcmk_delay_base", "pcmk_host_check"}
    )

    @model_validator(mode="after")
    def _coherent(self) -> FenceDevice:
        for where, params in [("params", self.params)] + [(f"per_node[{n}]", p) for n, p in self.per_node.items()]:
            reserved = sorted(set(params) & self.RESERVED)
            if reserved:
                raise ValueError(
                    f"{where}: {', '.join(reserved)} is set from targets, per_node, host_map and "
                    "delay_base_s; do not give it as a parameter"
                )
        if self.per_node and (self.targets or self.host_map):
            raise ValueError("per_node: a per-node device fences the nodes it lists; drop targets and host_map")
        both = sorted(set(self.params) & {k for p in self.per_node.values() for k in p})
        if both:
            raise ValueError(f"per_node: {', '.join(both)} is also in params; give each parameter once")
        return self

    def fenced(self, cluster_nodes: list[str]) -> list[str]:
        """The nodes this device fences, given the cluster's nodes."""
        if self.per_node:
            return sorted(self.per_node)
        return sorted(self.targets) if self.targets else sorted(cluster_nodes)


class PacemakerCluster(HaBase):
    """A Pacemaker/corosync cluster over the nodes of some roles.

    ``qdevice`` names a node running ``corosync-qnetd`` outside the cluster:
    one more vote (majority over nodes + 1), held by the side that reaches
    it. ``two_node`` is corosync's ``two_node: 1`` for a 2-node cluster
    without a quorum device: one node alone is quorate; with ``fencing`` a
    partition ends in a fence race won by the node whose fencing waits
    longest (``FenceDevice.delay_base_s``, ``pcmk_delay_base``), the first
    by name on equal delays (then timing decides); without fencing
    both sides keep running (split brain).
    """

    on: RefList = Field(min_length=1, description="roles whose nodes form the cluster")
    quorum: Literal["majority"] | Annotated[int, Field(ge=1)] = "majority"
    fencing: bool = True
    wait_for_all: bool = True
    two_node: bool = Field(default=False, exclude_if=lambda v: not v)  # unused: not in the canonical JSON
    qdevice: Ref | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="node running corosync-qnetd (a vote-only quorum device)",
    )
    # The generated corosync.conf and CIB (defaults stay out of the canonical JSON).
    fence: list[FenceDevice] = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="STONITH devices; fencing=True needs one for every cluster node",
    )
    cluster_name: Name = Field(default="hacluster", exclude_if=lambda v: v == "hacluster")
    transport: Literal["knet", "udpu", "udp"] = Field(default="knet", exclude_if=lambda v: v == "knet")
    rings: RefList = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="networks of corosync's links, in order; default the first two networks "
        "every cluster node is on that carry no public VIP (knet links 0 and 1; "
        "one with udp/udpu)",
    )
    token_ms: Annotated[int, Field(ge=100, le=600_000)] = Field(default=3000, exclude_if=lambda v: v == 3000)
