"""The typed HA model (pydantic v2): pure data, validation, no I/O."""

from hamodel.model.architecture import Acknowledgement, Architecture, PacemakerCluster
from hamodel.model.base import Reliability, Resources, SecretRef
from hamodel.model.services import Endpoint, Service
from hamodel.model.strategies import (
    STRATEGY_TITLES,
    ActivePassive,
    AppCluster,
    BehindVip,
    Coordinated,
    External,
    HealthCheck,
    PacemakerVip,
    Sharded,
    Tls,
    Vrrp,
)
from hamodel.model.topology import (
    FailureDomain,
    Interface,
    Network,
    Node,
    Power,
    Rack,
    Region,
    Switch,
    VirtualIP,
    Zone,
)

__all__ = [
    "Acknowledgement", "ActivePassive", "AppCluster", "Architecture", "BehindVip", "Coordinated",
    "Endpoint", "External", "FailureDomain", "HealthCheck", "Interface", "Network", "Node",
    "PacemakerCluster", "PacemakerVip", "Power", "Rack", "Region", "Reliability", "Resources",
    "STRATEGY_TITLES", "SecretRef", "Service", "Sharded", "Switch", "Tls", "VirtualIP", "Vrrp", "Zone",
]
