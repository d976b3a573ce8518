"""The typed HA model (pydantic v2): pure data, validation, no I/O."""

from hamodel.model.architecture import Acknowledgement, Architecture, FenceDevice, PacemakerCluster
from hamodel.model.base import Reliability, Resources, SecretRef
from hamodel.model.services import Endpoint, Local, Service, Soft
from hamodel.model.strategies import (
    STRATEGY_TITLES,
    ActivePassive,
    AppCluster,
    BehindVip,
    Coordinated,
    Elected,
    External,
    HealthCheck,
    PacemakerVip,
    Sharded,
    Tls,
    Vrrp,
    Witness,
)
from hamodel.model.topology import (
    FailureDomain,
    Interface,
    Network,
    Node,
    Power,
    Rack,
    Region,
    Site,
    Switch,
    Trunk,
    VirtualIP,
    Zone,
)

__all__ = [
    "Acknowledgement", "ActivePassive", "AppCluster", "Architecture", "BehindVip", "Coordinated",
    "Elected", "Endpoint", "External", "FailureDomain", "FenceDevice", "HealthCheck", "Interface", "Network", "Node",
    "PacemakerCluster", "PacemakerVip", "Power", "Rack", "Region", "Reliability", "Resources",
    "Local", "STRATEGY_TITLES", "SecretRef", "Service", "Sharded", "Site", "Soft", "Switch", "Tls", "Trunk",
    "VirtualIP", "Vrrp",
    "Witness", "Zone",
]
