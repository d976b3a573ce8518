"""Services: what runs, where it may run, and how it stays available."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from hamodel.model.base import HaBase, Name, NameSet, Ref, RefList, Resources, SecretRef, _listify
from hamodel.model.policy import Policy
from hamodel.model.strategies import (
    ActivePassive,
    AppCluster,
    BehindVip,
    Elected,
    External,
    HealthCheck,
    PacemakerVip,
    Port,
    Sharded,
    Strategy,
    Vrrp,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from hamodel.model.base import Data, NamesIn, RefsIn
    from hamodel.model.topology import FailureDomain


class Endpoint(HaBase):
    """A port a service's instances listen on (node address)."""

    _positional: ClassVar = ("port",)
    port: Port
    protocol: Literal["tcp", "http", "udp"] = "tcp"
    name: Name | None = None
    check: HealthCheck | None = None
    auth: SecretRef | None = Field(
        default=None, description="credentials of this endpoint, by reference (HAProxy stats: 'user:password')"
    )
    loopback: bool = Field(default=False, description="listen on 127.0.0.1 only (HAProxy stats without auth)")

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            port: int,
            *,
            protocol: Literal["tcp", "http", "udp"] = ...,
            name: str | None = ...,
            check: HealthCheck | Data | None = ...,
            auth: SecretRef | Data | None = ...,
            loopback: bool = ...,
        ) -> None: ...


class Local(HaBase):
    """A dependency on the instance of a service on the consumer's own node
    (``depends_on=[Local("etcd")]``: a kubeadm apiserver talks to the etcd
    beside it). Each instance counts only where that node's instance serves;
    placement puts the two together (as ``colocate``)."""

    _positional: ClassVar = ("service",)
    service: Ref

    if TYPE_CHECKING:

        def __init__(self, service: str | Service) -> None: ...


class Soft(HaBase):
    """A dependency whose loss degrades the consumer without stopping it
    (``depends_on=[Soft("memcached")]``: a cache, a metrics sink). The
    consumer is reported degraded, not down; availability counts it as up."""

    _positional: ClassVar = ("service",)
    service: Ref

    if TYPE_CHECKING:

        def __init__(self, service: str | Service) -> None: ...


def _split_dependencies(data: Any) -> Any:
    """``depends_on`` may hold ``Local(...)`` and ``Soft(...)`` markers (or
    their dict forms): they are kept in ``local_deps`` / ``soft_deps``, a
    local one is also a (hard) ``depends_on``."""
    if not isinstance(data, dict) or "depends_on" not in data:
        return data
    hard: list = []
    local = list(_listify(data.get("local_deps")))
    soft = list(_listify(data.get("soft_deps")))
    for d in _listify(data["depends_on"]):
        if isinstance(d, dict) and set(d) == {"local"}:
            d = Local(d["local"])
        elif isinstance(d, dict) and set(d) == {"soft"}:
            d = Soft(d["soft"])
        if isinstance(d, Local):
            local.append(d.service)
            hard.append(d.service)
        elif isinstance(d, Soft):
            soft.append(d.service)
        else:
            hard.append(d)
    return {**data, "depends_on": hard, "local_deps": local, "soft_deps": soft}


def _endpoints(value: Any) -> Any:
    return [{"port": v} if isinstance(v, int) else v for v in _listify(value)]


class Service(HaBase):
    """One service of the architecture and its HA strategy.

    Placement intent: ``on`` (roles), ``replicas`` (a count, or ``"all"`` for
    one instance per node of those roles), ``anti_affinity`` (the failure
    domain kind instances must not share; ``"node"`` by default),
    ``max_per_domain`` (spread limits per domain kind), ``pin`` / ``exclude``
    (nodes), ``colocate`` (services whose nodes this one must run on) and
    ``requests`` (per instance). An ``External`` service needs no ``on``:
    it runs outside the modelled nodes.

    ``depends_on`` lists what the service needs at run time (the failure
    analysis follows it); ``starts_after`` a start order only (a deployment
    guide's "start X first"), shown in the documents and ignored by the
    analysis.

    ``required=False`` marks a service that tolerates downtime (a nightly
    batch job): its single points of failure are reported at low severity
    and ``place --tolerate`` does not insist on it.
    """

    def __hash__(self) -> int:  # usable as a dict key: addresses={mgmt: ...}
        return hash((type(self).__name__, self.name))

    _positional: ClassVar = ("name",)
    name: Name
    process: Name | None = None
    group: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _./-]{0,40}$")] | None = None
    on: NameSet = Field(default_factory=list)
    replicas: Literal["all"] | Annotated[int, Field(ge=1, le=10_000)] = "all"
    anti_affinity: Name = "node"
    max_per_domain: dict[Name, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    pin: RefList = Field(default_factory=list)
    exclude: RefList = Field(default_factory=list)
    colocate: RefList = Field(default_factory=list)
    requests: Resources = Resources()
    ports: Annotated[list[Endpoint], BeforeValidator(_endpoints)] = Field(default_factory=list)
    depends_on: RefList = Field(default_factory=list)
    # Left out of exports while unset, so that models that do not use them keep their hash.
    local_deps: RefList = Field(
        default_factory=list, exclude_if=lambda v: not v, description="dependencies served on the consumer's own node"
    )
    soft_deps: RefList = Field(
        default_factory=list, exclude_if=lambda v: not v, description="dependencies whose loss only degrades"
    )
    starts_after: RefList = Field(
        default_factory=list,
        exclude_if=lambda v: not v,  # unset: out of exports, models keep their hash
        description="services to start before this one (a start order, e.g. from a deployment guide): "
        "documented, not a runtime dependency; the failure analysis ignores it",
    )
    required: bool = True
    clients: Ref | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="where its clients come in: a switch (an access switch), a failure domain (through any "
        "switch in it that carries the VIP's network), a network (through any of its switches, reaching the "
        "service over that network), or 'external' (through the uplink switch "
        "named by uplink); default: anywhere on its VIP's network",
    )
    uplink: Ref | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="with clients='external': the switch external clients arrive on",
    )
    listen: Literal["node", "any"] = Field(
        default="node",
        exclude_if=lambda v: v == "node",
        description="the address its instances bind: the node's own, or every address "
        "(0.0.0.0 / [::]), which takes the port from an HAProxy front on the same node",
    )
    protocol: Literal["ssh", "tls", "wireguard", "openvpn", "ipsec"] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="an application protocol that encrypts by itself (no TLS at HAProxy needed)",
    )
    supervisor: Literal["none", "systemd", "pacemaker"] | None = Field(
        default=None, description="what restarts a failed process; default the architecture's"
    )
    strategy: Strategy
    # Out of the canonical JSON while unset, so existing models keep their hash.
    policy: Policy | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="recovery objectives of this service (over the architecture's)",
    )

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            name: str,
            *,
            process: str | None = ...,
            group: str | None = ...,
            on: NamesIn = ...,
            replicas: Literal["all"] | int = ...,
            anti_affinity: str = ...,
            max_per_domain: Mapping[str, int] = ...,
            pin: RefsIn = ...,
            exclude: RefsIn = ...,
            colocate: RefsIn = ...,
            requests: Resources | Data = ...,
            ports: int | Endpoint | Iterable[int | Endpoint | Data] = ...,
            depends_on: RefsIn | Iterable[str | Service | Local | Soft] = ...,
            local_deps: RefsIn = ...,
            soft_deps: RefsIn = ...,
            starts_after: RefsIn = ...,
            required: bool = ...,
            clients: str | FailureDomain | None = ...,
            uplink: str | FailureDomain | None = ...,
            listen: Literal["node", "any"] = ...,
            protocol: Literal["ssh", "tls", "wireguard", "openvpn", "ipsec"] | None = ...,
            supervisor: Literal["none", "systemd", "pacemaker"] | None = ...,
            strategy: Strategy | Data,
            policy: Policy | Data | None = ...,
        ) -> None: ...

    @model_validator(mode="before")
    @classmethod
    def _dependency_kinds(cls, data: Any) -> Any:
        return _split_dependencies(data)

    @model_validator(mode="after")
    def _coherent(self) -> Service:
        if self.process is None:
            object.__setattr__(self, "process", self.name)
        s = self.strategy
        if not self.on and not isinstance(s, External):
            raise ValueError("on: give the roles whose nodes may run it (only an External service runs nowhere)")
        if isinstance(s, ActivePassive) and self.replicas not in ("all", 1) and s.manager is None:
            raise ValueError("replicas: an unmanaged active/passive service runs exactly one instance")
        if isinstance(s, AppCluster) and isinstance(self.replicas, int) and self.replicas < 1:
            raise ValueError("replicas: a cluster needs members")
        if (
            isinstance(s, AppCluster)
            and isinstance(s.quorum, int)
            and isinstance(self.replicas, int)
            and s.quorum > self.replicas
        ):
            raise ValueError(f"strategy.quorum: {s.quorum} exceeds replicas={self.replicas}")
        if isinstance(s, Elected) and isinstance(self.replicas, int) and s.min_replicas >= self.replicas:
            raise ValueError(
                f"strategy.min_replicas: {s.min_replicas} replicas besides the writer need "
                f"replicas >= {s.min_replicas + 1}, not {self.replicas}"
            )
        if self.name in {*self.depends_on, *self.local_deps, *self.soft_deps}:
            raise ValueError("depends_on: a service cannot depend on itself")
        if set(self.soft_deps) & set(self.depends_on):
            raise ValueError(
                f"depends_on: {sorted(set(self.soft_deps) & set(self.depends_on))} is both a hard and a soft dependency"
            )
        if self.name in self.starts_after:
            raise ValueError("starts_after: a service cannot start after itself")
        if self.name in self.colocate:
            raise ValueError("colocate: a service cannot be colocated with itself")
        if set(self.pin) & set(self.exclude):
            raise ValueError(f"pin: nodes both pinned and excluded: {sorted(set(self.pin) & set(self.exclude))}")
        ports = [e.port for e in self.ports]
        if len(set(ports)) != len(ports):
            raise ValueError("ports: a port is listed twice")
        if self.access is not None:
            _check_can_work(self, self.access, "strategy" if self.access is s else "strategy.access")
        return self

    # -- convenience for analysis and generators ---------------------------

    @property
    def access(self) -> BehindVip | None:
        """The HAProxy front of this service, if it has one."""
        s = self.strategy
        if isinstance(s, BehindVip):
            return s
        if isinstance(s, (AppCluster, Elected)):
            return s.access
        return None

    @property
    def holds_vips(self) -> list[str]:
        s = self.strategy
        return list(s.vips) if isinstance(s, (Vrrp, PacemakerVip, ActivePassive, AppCluster)) else []

    @property
    def dependencies(self) -> list[str]:
        """Declared (hard) dependencies, local ones included, plus what the
        strategy coordinates through. Soft dependencies are not in here."""
        via = list(getattr(self.strategy, "via", []) or [])
        if isinstance(self.strategy, Elected):
            via.append(self.strategy.by)
        return sorted(set(self.depends_on) | set(self.local_deps) | set(via))

    @property
    def mode(self) -> str:
        """``A/A`` or ``A/P`` as in the reference service table."""
        if isinstance(self.strategy, ActivePassive):
            return "A/P"
        if isinstance(self.strategy, Sharded):
            return "A/P"
        return "A/A"

    def backend_ports(self) -> list[int]:
        """The ports its instances listen on behind its front (``backend_port``
        or each front port + ``backend_port_offset``)."""
        a = self.access
        return list(a.backend_ports) if a else []


#: Protocols HAProxy cannot carry: it forwards and health-checks TCP only.
UDP_PROTOCOLS = ("wireguard", "ipsec")


def _check_can_work(svc: Service, access: BehindVip, at: str) -> None:
    """Refuse a HAProxy health check whose protocol cannot work against what
    the backends speak (every backend would stay DOWN): UDP behind HAProxy,
    an HTTP check of a port that speaks SSH/OpenVPN, clear-text HTTP to a
    TLS port, or to a declared port that is not the service's HTTP one."""
    c = access.check
    bports = access.backend_ports
    checked = bports if c.port is None else [c.port]
    on_own_port = c.port is None or c.port in bports
    if svc.protocol in UDP_PROTOCOLS:
        raise ValueError(
            f"{at}: {svc.protocol} runs over UDP; HAProxy forwards and health-checks TCP only "
            "(every backend would be DOWN): give it its own VIP (Vrrp, PacemakerVip) instead of a front"
        )
    declared = {e.port: e.protocol for e in svc.ports}
    for p in sorted({*bports, *checked}):
        if declared.get(p) == "udp":
            raise ValueError(
                f"ports: port {p} is UDP but {at} forwards and checks it over TCP (HAProxy has no UDP): "
                "every backend would be DOWN"
            )
    if c.http_path is None:
        return
    if on_own_port and svc.protocol in ("ssh", "openvpn"):
        raise ValueError(
            f"{at}.check.http_path: an HTTP check of port {checked[0]}, which speaks {svc.protocol}, never succeeds "
            "(every backend DOWN): drop http_path (a TCP check) or point check.port at an HTTP health endpoint"
        )
    if on_own_port and svc.protocol == "tls" and not access.tls_passthrough and access.backend_tls is None:
        raise ValueError(
            f"{at}.check.http_path: the backends speak TLS on port {checked[0]} (protocol='tls') and the "
            "check would send them clear-text HTTP (every backend DOWN): set tls_passthrough=True "
            "(the check then speaks TLS) or point check.port at a plain-HTTP health endpoint"
        )
    http = sorted(p for p, proto in declared.items() if proto == "http")
    wrong = [p for p in checked if p in declared and declared[p] != "http"]
    if http and wrong:
        raise ValueError(
            f"{at}.check.http_path: the HTTP check goes to port {wrong[0]}, declared protocol "
            f"{declared[wrong[0]]!r}, not to the service's HTTP port {', '.join(map(str, http))}: "
            "set check.port to it, or drop http_path for a TCP check"
        )
