"""The Galera lab: a real three-member MariaDB Galera cluster behind the keepalived
lab's HAProxy (:mod:`~hamodel.drill.galera.lab`), its scenarios
(:mod:`~hamodel.drill.galera.scenarios`, :mod:`~hamodel.drill.galera.runbook`,
:mod:`~hamodel.drill.galera.monitoring`) and their scenario kinds
(:mod:`~hamodel.drill.galera.kinds`, :mod:`~hamodel.drill.galera.operations`),
registered in :mod:`hamodel.drill.registry`.
"""
