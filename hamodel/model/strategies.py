"""HA strategies: how each service survives failures.

Exactly one per service, as a discriminated union on ``kind``. They follow
the reference document's five strategies, plus Pacemaker and "external".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import BeforeValidator, Field, model_validator

from hamodel.model.base import HaBase, Name, Ref, RefList, SafePath, SecretRef, _listify

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hamodel.model.base import Data, RefIn, RefsIn

Port = Annotated[int, Field(ge=1, le=65535)]


class HealthCheck(HaBase):
    """How HAProxy checks a backend: every ``inter_ms``, ``rise``/``fall``.

    ``http_path`` turns on ``option httpchk GET <path>``; ``port`` checks a
    different port than the one served (Galera's clustercheck on 9200).
    """

    inter_ms: int = Field(default=1000, ge=100, le=600_000)
    rise: int = Field(default=2, ge=1, le=100)
    fall: int = Field(default=3, ge=1, le=100)
    http_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./?=&%-]*$")] | None = None
    port: Port | None = None


class Tls(HaBase):
    """TLS termination at HAProxy; the certificate is a path on the node."""

    certificate: SafePath


class BackendTls(HaBase):
    """TLS from HAProxy to the backends (re-encryption): ``server ... ssl``.

    ``ca_file`` (a path on the load balancer) verifies the backends'
    certificates (``verify required``); without it ``verify`` must be
    switched off explicitly, which leaves the hop open to interception.
    """

    ca_file: SafePath | None = None
    verify: bool = True

    @model_validator(mode="after")
    def _verifiable(self) -> "BackendTls":
        if self.verify and self.ca_file is None:
            raise ValueError("ca_file: verifying the backends' certificates needs a CA file; "
                             "give ca_file or set verify=False")
        return self


# Timeouts a single-writer database front gets when the model gives none:
# kolla-ansible's MariaDB listener uses 3600 s for client and server, so a
# long query or an idle pooled connection is not cut after haproxy's 1m.
DATABASE_TIMEOUT_S = 3600


class BehindVip(HaBase):
    """Load balanced by HAProxy behind a virtual IP (strategy 2).

    ``single_writer`` sends all traffic to one backend and keeps the others
    as ``backup`` (Galera). ``sticky`` adds cookie stickiness (HTTP mode).

    Backends listen on ``backend_port`` (one front port) or on each port +
    ``backend_port_offset``, and speak TLS only with ``backend_tls``: a
    front that terminates TLS on 443 and forwards to port 443 without
    ``backend_tls`` is refused, since it would send plain HTTP to a TLS
    server. Timeouts default to haproxy's ``defaults`` (1m), except that a
    ``single_writer`` front gets :data:`DATABASE_TIMEOUT_S` for client and
    server; ``timeout_tunnel_s`` is for WebSocket/long-lived tunnels (noVNC).
    """

    _positional: ClassVar = ("vip",)
    kind: Literal["behind_vip"] = "behind_vip"
    vip: Ref
    ports: Annotated[list[Port], BeforeValidator(_listify)] = Field(min_length=1)
    backend_port_offset: int = Field(default=0, ge=-65534, le=65534, description="backends listen on port + offset")
    backend_port: Port | None = Field(default=None, description="the port backends listen on (one front port)")
    backend_tls: BackendTls | None = None
    mode: Literal["tcp", "http"] = "tcp"
    balance: Literal["roundrobin", "leastconn", "source", "first"] = "roundrobin"
    check: HealthCheck = HealthCheck()
    sticky: bool = False
    single_writer: bool = False
    timeout_client_s: int | None = Field(default=None, ge=1, le=86400)
    timeout_server_s: int | None = Field(default=None, ge=1, le=86400)
    timeout_tunnel_s: int | None = Field(default=None, ge=1, le=86400)
    tcp_keepalive: bool = False
    tls: Tls | None = None
    accept_single_backend: bool = False

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(self, vip: RefIn, *, ports: int | Iterable[int] = ..., port: int | None = None,
                         backend_port_offset: int = ..., backend_port: int | None = ...,
                         backend_tls: BackendTls | Data | None = ..., mode: Literal["tcp", "http"] = ...,
                         balance: Literal["roundrobin", "leastconn", "source", "first"] = ...,
                         check: HealthCheck | Data = ..., sticky: bool = ..., single_writer: bool = ...,
                         timeout_client_s: int | None = ..., timeout_server_s: int | None = ...,
                         timeout_tunnel_s: int | None = ..., tcp_keepalive: bool = ..., tls: Tls | Data | None = ...,
                         accept_single_backend: bool = ...) -> None: ...
    else:
        def __init__(self, *args: Any, port: Any = None, **data: Any):
            if port is not None:
                if "ports" in data:
                    raise TypeError("BehindVip: give port or ports, not both")
                data["ports"] = port
            super().__init__(*args, **data)

    @model_validator(mode="after")
    def _coherent(self) -> "BehindVip":
        if self.sticky and self.mode != "http":
            raise ValueError("sticky: cookie stickiness needs mode='http'")
        if self.sticky and self.single_writer:
            raise ValueError("sticky: a single-writer backend has nothing to stick to")
        if len(set(self.ports)) != len(self.ports):
            raise ValueError("ports: a port is listed twice")
        for p in self.ports:
            if not 1 <= p + self.backend_port_offset <= 65535:
                raise ValueError(f"backend_port_offset: port {p} + offset leaves 1-65535")
        if self.backend_port is not None:
            if self.backend_port_offset:
                raise ValueError("backend_port: give backend_port or backend_port_offset, not both")
            if len(self.ports) > 1:
                raise ValueError("backend_port: one backend port for several front ports; use backend_port_offset")
        if self.tls is not None and self.backend_tls is None and 443 in self.backend_ports:
            raise ValueError("backend_tls: TLS ends at HAProxy (tls) and the backends' port is 443 (HTTPS), but "
                             "without backend_tls HAProxy sends them plain text (HTTP 502 while the TCP check "
                             "stays UP); set backend_port to the backends' plain-HTTP port or give backend_tls")
        if self.backend_tls is not None and self.tls is None and self.mode == "tcp":
            raise ValueError("backend_tls: in tcp mode without tls HAProxy would encrypt the client's own stream "
                             "again; for TLS pass-through drop backend_tls, to re-encrypt give tls too")
        return self

    @property
    def backend_ports(self) -> list[int]:
        """The port the backends listen on, per front port (same order)."""
        if self.backend_port is not None:
            return [self.backend_port]
        return [p + self.backend_port_offset for p in self.ports]

    @property
    def effective_timeouts(self) -> dict[str, int | None]:
        """client/server/tunnel seconds written for this front (None: haproxy's ``defaults``)."""
        default = DATABASE_TIMEOUT_S if self.single_writer else None
        return {"client": self.timeout_client_s if self.timeout_client_s is not None else default,
                "server": self.timeout_server_s if self.timeout_server_s is not None else default,
                "tunnel": self.timeout_tunnel_s}


class Vrrp(HaBase):
    """Keepalived holds the virtual IPs on one member, tracking a process.

    This is strategy 1 of the reference: every holder runs keepalived, the
    VIP sits on the highest-priority member whose tracked process is alive.
    VRRP has no quorum: a partition elects one master per side.
    """

    _positional: ClassVar = ("vips",)
    kind: Literal["vrrp"] = "vrrp"
    vips: RefList = Field(min_length=1)
    track: Name | None = Field(default=None, description="process tracked by the vrrp_script; default the service's own")
    preempt: bool = False
    advert_int: int = Field(default=1, ge=1, le=255)
    unicast: bool = True
    vrid: int | None = Field(default=None, ge=1, le=255, description="fixed virtual_router_id; allocated when omitted")
    auth: SecretRef | None = None
    garp_master_refresh_s: int | None = Field(default=None, ge=1, le=3600)
    notify: SafePath | None = None

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(self, vips: RefsIn, *, track: str | None = ..., preempt: bool = ..., advert_int: int = ...,
                         unicast: bool = ..., vrid: int | None = ..., auth: SecretRef | Data | None = ...,
                         garp_master_refresh_s: int | None = ..., notify: str | None = ...) -> None: ...


class PacemakerVip(HaBase):
    """Pacemaker holds the virtual IPs as a cluster resource, colocated with
    a running instance of the service. Quorum and fencing prevent a
    partitioned minority from keeping the address."""

    _positional: ClassVar = ("vips",)
    kind: Literal["pacemaker_vip"] = "pacemaker_vip"
    vips: RefList = Field(min_length=1)

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(self, vips: RefsIn) -> None: ...


class AppCluster(HaBase):
    """The application keeps its own cluster with a quorum (strategy 3).

    ``quorum`` is ``"majority"`` or a fixed member count. ``recovery`` names
    the procedure after all members stopped at once; ``cold_start`` says
    whether that needs an operator (``manual``), happens by itself
    (``automatic``), or happens by itself only after a crash of every member
    once all are back (``automatic-after-crash``: Galera's default
    ``pc.recovery`` restores the saved primary view), an operator being
    needed after a graceful stop of all members (none is safe to bootstrap
    without it) or when a member does not return.
    ``access`` puts the cluster behind a VIP too (Galera).
    """

    kind: Literal["app_cluster"] = "app_cluster"
    quorum: Literal["majority"] | Annotated[int, Field(ge=1)] = "majority"
    recovery: Annotated[str, Field(min_length=1, max_length=500)] = "restart all members"
    cold_start: Literal["manual", "automatic", "automatic-after-crash"] = "manual"
    manager: Literal["pacemaker"] | None = None
    access: BehindVip | None = None


class Witness(HaBase):
    """A vote-only member of the quorum cluster ``of`` (garbd for Galera, a
    MongoDB arbiter): each placed instance counts for that cluster's quorum,
    serves nothing and gets no HAProxy backend. With ``quorum="majority"``
    the majority is taken over members and witnesses together."""

    _positional: ClassVar = ("of",)
    kind: Literal["witness"] = "witness"
    of: Ref

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(self, of: RefIn) -> None: ...


class Elected(HaBase):
    """Leader election delegated to another quorum cluster (Patroni on etcd,
    Redis with Sentinel): one member is the writer while it holds a lock in
    ``by``. Up when ``by`` keeps quorum and some live member reaches a
    member of ``by``'s quorate side; a partition cannot make two writers
    (the old leader loses its lock), so there is no split brain. ``by``
    becomes a dependency; ``access`` puts the writer behind a VIP (HAProxy
    checks which member is the leader, e.g. Patroni's ``/primary``)."""

    _positional: ClassVar = ("by",)
    kind: Literal["elected"] = "elected"
    by: Ref
    access: BehindVip | None = None

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(self, by: RefIn, *, access: BehindVip | Data | None = ...) -> None: ...


# A name for the type, so that a model's helper can annotate a parameter with it.
Mechanism = Literal["rpc", "tooz", "client-list", "agent-scheduling", "l3-ha", "per-node"]


class Coordinated(HaBase):
    """Several instances coexist and coordinate by other means (strategy 4):
    RPC over the message bus, tooz partitioning, or clients that list every
    instance. ``via`` names the services the coordination relies on; they
    become dependencies."""

    kind: Literal["coordinated"] = "coordinated"
    via: RefList = Field(default_factory=list)
    mechanism: Mechanism = "rpc"


class ActivePassive(HaBase):
    """One instance runs at a time (strategy 5, or Pacemaker-managed).

    With ``manager=None`` nothing moves it: the placed instance is the only
    one and an operator must start it elsewhere. With ``"pacemaker"`` the
    cluster starts it on a surviving configured node while it has quorum.
    """

    kind: Literal["active_passive"] = "active_passive"
    manager: Literal["pacemaker"] | None = None


class Sharded(HaBase):
    """Every instance owns its own shard (LBaaS agent: its tenant load
    balancers); a shard dies with its node and cannot fail over."""

    kind: Literal["sharded"] = "sharded"
    shard: Annotated[str, Field(min_length=1, max_length=200)] = "its shard"


class External(HaBase):
    """Something outside the model that the architecture relies on or
    provides, e.g. monitoring. ``provides`` lists capabilities."""

    kind: Literal["external"] = "external"
    provides: Annotated[list[Name], BeforeValidator(_listify)] = Field(default_factory=list)


Strategy = Annotated[
    Union[Vrrp, PacemakerVip, BehindVip, AppCluster, Coordinated, ActivePassive, Sharded, External, Witness, Elected],
    Field(discriminator="kind"),
]

STRATEGY_TITLES: dict[str, str] = {
    "vrrp": "Keepalived (VRRP)",
    "pacemaker_vip": "Pacemaker-managed virtual IP",
    "behind_vip": "Access via an HAProxy virtual IP",
    "app_cluster": "Built-in application clustering",
    "coordinated": "Instances on several nodes, coordinating by other means",
    "active_passive": "Active/passive",
    "sharded": "Sharded, no fail-over",
    "external": "External to the architecture",
    "witness": "Quorum witness (votes, serves nothing)",
    "elected": "Leader elected through a coordination service",
}
