"""The HA strategies, importable as ``from hamodel.strategies import Vrrp``."""

from hamodel.model.strategies import (
    STRATEGY_TITLES,
    ActivePassive,
    AppCluster,
    BackendTls,
    BehindVip,
    Coordinated,
    Elected,
    External,
    Front,
    HaproxySettings,
    HealthCheck,
    Mechanism,
    PacemakerVip,
    Sharded,
    Strategy,
    Tls,
    Vrrp,
    VrrpCheck,
    Witness,
)
