"""HA strategies: how each service survives failures.

Exactly one per service, as a discriminated union on ``kind``. They follow
the reference document's five strategies, plus Pacemaker and "external".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from hamodel.model.base import HaBase, Name, Ref, RefList, SafePath, SecretRef, _listify

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hamodel.model.base import Data, RefIn, RefsIn

Port = Annotated[int, Field(ge=1, le=65535)]


class HealthCheck(HaBase):
    """How HAProxy checks a backend: every ``inter_ms``, ``rise``/``fall``.

    ``http_path`` turns on an HTTP check (``option httpchk``, ``http-check
    send meth GET uri <path>``) that wants ``expect_status`` (200): a
    backend whose port is open but whose path answers 500 goes DOWN.
    ``port`` checks a different port than the one served (Galera's
    clustercheck on 9200).
    """

    inter_ms: int = Field(default=1000, ge=100, le=600_000)
    rise: int = Field(default=2, ge=1, le=100)
    fall: int = Field(default=3, ge=1, le=100)
    fastinter_ms: int | None = Field(
        default=None,
        ge=100,
        le=600_000,
        exclude_if=lambda v: v is None,
        description="HAProxy fastinter: the check interval while a server is "
        "going down or coming up (default: inter_ms)",
    )
    downinter_ms: int | None = Field(
        default=None,
        ge=100,
        le=600_000,
        exclude_if=lambda v: v is None,
        description="HAProxy downinter: the check interval while a server is DOWN (default: inter_ms)",
    )
    http_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./?=&%-]*$")] | None = None
    port: Port | None = None
    expect_status: int = Field(
        default=200, ge=100, le=599, description="the HTTP status a healthy backend answers http_path with"
    )


class Tls(HaBase):
    """TLS termination at HAProxy; the certificate is a path on the node.

    ``redirect_from`` adds a plain-HTTP port on the same VIP that answers
    every request with a 301 to ``https://`` (80 -> 443).
    """

    certificate: SafePath
    redirect_from: Port | None = Field(default=None, description="plain-HTTP port redirected to HTTPS (e.g. 80)")


class Front(HaBase):
    """One more virtual IP a :class:`BehindVip` service answers on, with its
    own TLS choice (``tls=None``: clear text, for an internal VIP that other
    services reach without going through the public one)."""

    _positional: ClassVar = ("vip",)
    vip: Ref
    tls: Tls | None = None

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(self, vip: RefIn, *, tls: Tls | Data | None = ...) -> None: ...


class BackendTls(HaBase):
    """TLS from HAProxy to the backends (re-encryption): ``server ... ssl``.

    ``ca_file`` (a path on the load balancer) verifies the backends'
    certificates (``verify required``); without it ``verify`` must be
    switched off explicitly, which leaves the hop open to interception.

    ``server_name`` is the name each backend's certificate carries, with
    ``{node}`` standing for the node's name (default: the node's name
    itself; e.g. ``"{node}.internal.example.org"``). HAProxy sends it as SNI
    (``sni``, ``check-sni``) and, when verifying, requires the certificate
    to match it (``verifyhost``): a chain check alone accepts any
    certificate the CA ever signed, for any host. ``None`` sends no SNI
    and checks the chain only.
    """

    ca_file: SafePath | None = None
    verify: bool = True
    server_name: str | None = Field(default="{node}", description="the backends' certificate name; {node}: the node")

    @model_validator(mode="after")
    def _verifiable(self) -> BackendTls:
        if self.verify and self.ca_file is None:
            raise ValueError(
                "ca_file: verifying the backends' certificates needs a CA file; give ca_file or set verify=False"
            )
        if self.server_name is not None:
            probe = self.server_name.replace("{node}", "node")
            label = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
            if len(probe) > 253 or not re.fullmatch(rf"{label}(\.{label})*", probe):
                raise ValueError(
                    f"server_name: {self.server_name!r} is not a host name (letters, digits, '-', "
                    "dot-separated labels; '{node}' stands for the node's name)"
                )
        return self

    def name_for(self, node: str) -> str | None:
        """The certificate name expected of backend ``node``."""
        return None if self.server_name is None else self.server_name.replace("{node}", node)


# Mozilla's "intermediate" TLS configuration (version 5.7): TLS 1.2 and 1.3,
# forward-secret AEAD ciphers. The DHE suites of that list are left out:
# they need a DH group file, and every client that TLS 1.2 admits has ECDHE.
INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
INTERMEDIATE_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
_CIPHERS = Annotated[str, Field(pattern=r"^[A-Za-z0-9_+!:.-]{1,1000}$")]


# One year: what HSTS preload lists ask for and what Mozilla's guidelines give.
HSTS_MAX_AGE_S = 31_536_000


class HaproxySettings(HaBase):
    """What every generated haproxy.cfg writes in ``global`` and ``defaults``.

    ``maxconn`` is the process-wide cap (``global``); ``frontend_maxconn``
    the cap of each front that sets no ``BehindVip.maxconn`` (``defaults``).
    Timeouts are in seconds; a front's own ``timeout_*_s`` override them.
    TLS: ``tls_min_version`` and the cipher lists apply to every TLS bind
    and to re-encryption towards backends (Mozilla intermediate by default).
    ``hsts_max_age_s``: the ``Strict-Transport-Security`` max-age every
    TLS-terminating front sends (one year by default; 0: no header).
    """

    maxconn: int = Field(default=8192, ge=1, le=10_000_000)
    frontend_maxconn: int = Field(default=4096, ge=1, le=10_000_000)
    timeout_connect_s: int = Field(default=5, ge=1, le=3600)
    timeout_client_s: int = Field(default=60, ge=1, le=86400)
    timeout_server_s: int = Field(default=60, ge=1, le=86400)
    timeout_http_request_s: int = Field(default=10, ge=1, le=3600)
    timeout_http_keep_alive_s: int = Field(default=10, ge=1, le=3600)
    timeout_queue_s: int = Field(default=60, ge=1, le=3600)
    timeout_check_s: int = Field(default=10, ge=1, le=3600)
    retries: int = Field(default=3, ge=0, le=100)
    tls_min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    tls_ciphers: _CIPHERS = INTERMEDIATE_CIPHERS
    tls_ciphersuites: _CIPHERS = INTERMEDIATE_CIPHERSUITES
    # Out of the canonical JSON at its default (existing models keep their hash).
    hsts_max_age_s: int = Field(
        default=HSTS_MAX_AGE_S, ge=0, le=2 * HSTS_MAX_AGE_S, exclude_if=lambda v: v == HSTS_MAX_AGE_S
    )

    @model_validator(mode="after")
    def _coherent(self) -> HaproxySettings:
        if self.frontend_maxconn > self.maxconn:
            raise ValueError(
                f"frontend_maxconn: {self.frontend_maxconn} exceeds the process-wide maxconn {self.maxconn}"
            )
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
    server. Timeouts default to the architecture's ``haproxy`` settings
    (:class:`HaproxySettings`), except that a ``single_writer`` front gets
    :data:`DATABASE_TIMEOUT_S` for client and server; ``timeout_tunnel_s``
    is for WebSocket/long-lived tunnels (noVNC); ``timeout_http_request_s``
    (http mode) bounds how long a client may take to send its request
    headers; ``maxconn`` caps this front's concurrent connections.

    ``also_on`` lists more VIPs the service answers on, each with its own
    TLS choice: an API on the public VIP with TLS and on the internal VIP
    in clear text, so service-to-service traffic stays on the internal
    network. ``tls`` (termination) needs ``mode="http"``; TLS in tcp mode is
    only ``tls_passthrough=True``: HAProxy forwards the client's TLS
    untouched (refusing anything that does not start with a TLS hello) and
    the backends terminate it.
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
    also_on: list[Front] = Field(
        default_factory=list, description="more VIPs (e.g. the internal one), each with its TLS"
    )
    tls_passthrough: bool = False
    timeout_http_request_s: int | None = Field(default=None, ge=1, le=3600)
    maxconn: int | None = Field(default=None, ge=1, le=1_000_000, description="this front's connection cap")

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            vip: RefIn,
            *,
            ports: int | Iterable[int] = ...,
            port: int | None = None,
            backend_port_offset: int = ...,
            backend_port: int | None = ...,
            backend_tls: BackendTls | Data | None = ...,
            mode: Literal["tcp", "http"] = ...,
            balance: Literal["roundrobin", "leastconn", "source", "first"] = ...,
            check: HealthCheck | Data = ...,
            sticky: bool = ...,
            single_writer: bool = ...,
            timeout_client_s: int | None = ...,
            timeout_server_s: int | None = ...,
            timeout_tunnel_s: int | None = ...,
            tcp_keepalive: bool = ...,
            tls: Tls | Data | None = ...,
            accept_single_backend: bool = ...,
            also_on: Iterable[Front | Data] = ...,
            tls_passthrough: bool = ...,
            timeout_http_request_s: int | None = ...,
            maxconn: int | None = ...,
        ) -> None: ...
    else:

        def __init__(self, *args: Any, port: Any = None, **data: Any):
            if port is not None:
                if "ports" in data:
                    raise TypeError("BehindVip: give port or ports, not both")
                data["ports"] = port
            super().__init__(*args, **data)

    @model_validator(mode="after")
    def _coherent(self) -> BehindVip:
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
        vips = [str(f.vip) for f in self.fronts]
        if len(set(vips)) != len(vips):
            raise ValueError(f"also_on: a virtual IP is listed twice: {vips}")
        tls_fronts = [f for f in self.fronts if f.tls is not None]
        if tls_fronts and self.mode != "http":
            raise ValueError(
                "tls: HAProxy terminates TLS only in mode='http'; for TLS in tcp mode set "
                "tls_passthrough=True (the backends terminate it) and drop tls"
            )
        if self.tls_passthrough and (self.mode != "tcp" or self.backend_tls is not None):
            raise ValueError(
                "tls_passthrough: pass-through forwards the client's TLS untouched: it needs "
                "mode='tcp' and no tls or backend_tls"
            )
        for f in tls_fronts:
            r = f.tls.redirect_from  # type: ignore[union-attr]
            if r is not None and r in self.ports:
                raise ValueError(f"tls.redirect_from: port {r} is also a served port")
            if r is not None and 443 not in self.ports:
                raise ValueError(
                    "tls.redirect_from: the redirect sends clients to https:// on port 443, "
                    "which this front does not serve"
                )
        if self.timeout_http_request_s is not None and self.mode != "http":
            raise ValueError("timeout_http_request_s: only an http-mode front reads requests")
        if tls_fronts and self.backend_tls is None and 443 in self.backend_ports:
            raise ValueError(
                "backend_tls: TLS ends at HAProxy (tls) and the backends' port is 443 (HTTPS), but "
                "without backend_tls HAProxy sends them plain text (HTTP 502 while the TCP check "
                "stays UP); set backend_port to the backends' plain-HTTP port or give backend_tls"
            )
        if self.backend_tls is not None and self.mode == "tcp":
            raise ValueError(
                "backend_tls: in tcp mode HAProxy would encrypt the client's own stream "
                "again; for TLS pass-through set tls_passthrough=True, to re-encrypt use mode='http' with tls"
            )
        return self

    @property
    def fronts(self) -> list[Front]:
        """Every VIP this service answers on, ``vip`` (with ``tls``) first."""
        # Not re-validated: a copy made with model_copy(update=...) must reach the generators' own checks.
        return [Front.model_construct(vip=self.vip, tls=self.tls), *self.also_on]

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
        return {
            "client": self.timeout_client_s if self.timeout_client_s is not None else default,
            "server": self.timeout_server_s if self.timeout_server_s is not None else default,
            "tunnel": self.timeout_tunnel_s,
            "http-request": self.timeout_http_request_s,
        }


class VrrpCheck(HaBase):
    """The keepalived ``vrrp_script`` that tracks the process: run every
    ``interval_s``, killed after ``timeout_s``, ``fall`` failures in a row
    put the instance in FAULT (the VIP moves), ``rise`` successes bring it
    back. ``fall``/``rise`` of 1 or a timeout not under the interval make
    the VIP flap (``check`` reports it)."""

    interval_s: int = Field(default=2, ge=1, le=3600)
    timeout_s: int = Field(default=1, ge=1, le=3600)
    fall: int = Field(default=2, ge=1, le=100)
    rise: int = Field(default=2, ge=1, le=100)


class Vrrp(HaBase):
    """Keepalived holds the virtual IPs on one member, tracking a process.

    This is strategy 1 of the reference: every holder runs keepalived, the
    VIP sits on the highest-priority member whose tracked process is alive.
    VRRP has no quorum: a partition elects one master per side.

    The VIPs may sit on several networks: the adverts go over the first
    VIP's network, the others follow on their own interfaces
    (``virtual_ipaddress ... dev``), each tracked (``track_interface``).
    Groups that name the same ``sync_group`` (on the same nodes) form a
    keepalived ``vrrp_sync_group``: a fault of one moves all of them, and a
    partition of any of their networks splits all of them.
    """

    _positional: ClassVar = ("vips",)
    kind: Literal["vrrp"] = "vrrp"
    vips: RefList = Field(min_length=1)
    track: Name | None = Field(
        default=None, description="process tracked by the vrrp_script; default the service's own"
    )
    preempt: bool = False
    advert_int: int = Field(default=1, ge=1, le=255)
    unicast: bool = True
    vrid: int | None = Field(default=None, ge=1, le=255, description="fixed virtual_router_id; allocated when omitted")
    auth: SecretRef | None = None
    garp_master_refresh_s: int | None = Field(default=None, ge=1, le=3600)
    notify: SafePath | None = None
    check: VrrpCheck = VrrpCheck()
    sync_group: Name | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="VRRP groups with the same sync_group fail over together (keepalived vrrp_sync_group)",
    )

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            vips: RefsIn,
            *,
            track: str | None = ...,
            preempt: bool = ...,
            advert_int: int = ...,
            unicast: bool = ...,
            vrid: int | None = ...,
            auth: SecretRef | Data | None = ...,
            garp_master_refresh_s: int | None = ...,
            notify: str | None = ...,
            check: VrrpCheck | Data = ...,
            sync_group: str | None = ...,
        ) -> None: ...


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


#: How a cluster's writes reach its other members before they are acknowledged:
#: ``synchronous`` (Galera certification, Patroni ``synchronous_mode``) loses
#: no acknowledged write when a member dies; ``asynchronous`` (Redis
#: replication, Patroni's default) loses those not yet replicated. Unset:
#: unknown, and the recovery analysis says so (never "nothing lost").
Replication = Literal["synchronous", "asynchronous"]
_REPLICATION = "synchronous or asynchronous replication of writes (RPO); unset: unknown"


class AppCluster(HaBase):
    """The application keeps its own cluster with a quorum (strategy 3).

    ``quorum`` is ``"majority"`` or a fixed member count. ``recovery`` names
    the procedure after all members stopped at once; ``cold_start`` says
    whether that needs an operator (``manual``), happens by itself
    (``automatic``), or happens by itself only after a crash of every member
    once all are back (``automatic-after-crash``: Galera's default
    ``pc.recovery`` restores the saved primary view), an operator being
    needed after a graceful stop of all members (none is safe to bootstrap
    without it) or when a member does not return, or by itself once every
    member is back whatever the stop (``automatic-when-all-back``: RabbitMQ,
    whose nodes wait at boot for the peer that stopped last), an operator
    being needed only when a member does not return. A replica set that
    elects a primary once a majority is back (MongoDB, Redis Sentinel) is
    ``automatic``: the analysis still reports a quorum lost for good.
    ``access`` puts the cluster behind a VIP too (Galera).
    ``vips`` (Pacemaker only, a promotable clone such as Redis under
    ``ocf:heartbeat:redis``) are addresses that follow the promoted
    instance: Pacemaker runs each as an ``IPaddr2`` resource colocated with
    the promoted role and started after the promotion. Clients connect to
    it directly: no HAProxy front may use such a VIP.
    """

    kind: Literal["app_cluster"] = "app_cluster"
    quorum: Literal["majority"] | Annotated[int, Field(ge=1)] = "majority"
    recovery: Annotated[str, Field(min_length=1, max_length=500)] = "restart all members"
    cold_start: Literal["manual", "automatic", "automatic-after-crash", "automatic-when-all-back"] = "manual"
    manager: Literal["pacemaker"] | None = None
    access: BehindVip | None = None
    vips: RefList = Field(default_factory=list, exclude_if=lambda v: not v)
    # Out of the canonical JSON while unset (existing models keep their hash).
    replication: Replication | None = Field(default=None, exclude_if=lambda v: v is None, description=_REPLICATION)

    @model_validator(mode="after")
    def _vips_follow_the_promoted(self) -> AppCluster:
        if self.vips and self.manager != "pacemaker":
            raise ValueError(
                "vips: an address that follows the promoted member needs Pacemaker to move it: give "
                "manager='pacemaker' (or put the cluster behind a VIP with access=BehindVip(...))"
            )
        return self


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
    member of ``by``'s quorate side (and, with ``min_replicas``, that many
    other live members). ``by`` becomes a dependency; ``access`` puts the
    writer behind a VIP (HAProxy checks which member is the leader, e.g.
    Patroni's ``/primary``).

    ``steps_down=True`` (Patroni): a leader that can no longer renew its
    lock demotes itself, so a partition cannot make two writers (no split
    brain). ``steps_down=False`` (Redis under Sentinel): a master cut off
    from ``by``'s quorate side keeps accepting writes while the quorate side
    promotes another member, which is a split brain (writes lost on heal)
    unless ``min_replicas`` stops it: the master then refuses writes with
    fewer than ``min_replicas`` replicas connected (Redis
    ``min-replicas-to-write``; Patroni's ``synchronous_mode_strict`` is
    ``min_replicas=1``). The price: a writer needs that many live replicas.
    """

    _positional: ClassVar = ("by",)
    kind: Literal["elected"] = "elected"
    by: Ref
    access: BehindVip | None = None
    # Out of the canonical JSON at their defaults (existing models keep their hash).
    steps_down: bool = Field(default=True, exclude_if=lambda v: v)
    min_replicas: int = Field(default=0, ge=0, le=100, exclude_if=lambda v: not v)
    replication: Replication | None = Field(default=None, exclude_if=lambda v: v is None, description=_REPLICATION)

    if TYPE_CHECKING:
        # The signature editors see (positional forms, accepted input types).
        def __init__(
            self,
            by: RefIn,
            *,
            access: BehindVip | Data | None = ...,
            steps_down: bool = ...,
            min_replicas: int = ...,
            replication: Replication | None = ...,
        ) -> None: ...


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

    ``vips`` (Pacemaker only) are the service's own addresses, which follow
    it: an NFS server or a DRBD-backed database that clients reach on one
    address. Pacemaker runs each as an ``IPaddr2`` resource colocated with
    the service and started before it, so the address is wherever the
    service runs. Clients connect to it directly: no HAProxy front may use
    such a VIP.
    """

    kind: Literal["active_passive"] = "active_passive"
    manager: Literal["pacemaker"] | None = None
    vips: RefList = Field(default_factory=list, exclude_if=lambda v: not v)
    reason: Annotated[str, Field(min_length=1, max_length=300)] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="why it runs one instance (shown with the finding and its mitigation)",
    )
    see: list[Annotated[str, Field(pattern=r"^https?://\S+$", max_length=300)]] = Field(
        default_factory=list, exclude_if=lambda v: not v, description="links an operator should read"
    )

    @model_validator(mode="after")
    def _vips_follow_a_manager(self) -> ActivePassive:
        if self.vips and self.manager != "pacemaker":
            raise ValueError(
                "vips: an address that follows an active/passive service needs something that moves "
                "both together: give manager='pacemaker' (or hold the VIP with Vrrp/PacemakerVip)"
            )
        return self


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
    Vrrp | PacemakerVip | BehindVip | AppCluster | Coordinated | ActivePassive | Sharded | External | Witness | Elected,
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
