"""The keepalived / HAProxy lab's scenario kinds: one module per kind, each a
:class:`~hamodel.drill.scenario.ScenarioKind` registered in
:mod:`hamodel.drill.registry`; :mod:`hamodel.drill.keepalived.common` holds
what they share (VRRP timers, HAProxy bounds, lab lookups).

The lab itself (namespaces, keepalived, HAProxy, stand-in backends) is
:mod:`hamodel.drill.runner`.
"""
