"""Two Prometheus servers of one lab never share a folder (config, rules, TSDB and WAL).

Prometheus 2.42 starts a second server on a TSDB another one holds, without
a word. The keepalived lab's Prometheus and the Galera lab's (inside the
same full drill) both used ``lab.root / "prometheus"``: in three full drills
of this session the Galera one stopped answering in the middle of
``galera-alerts``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hamodel.drill import prometheus
from hamodel.drill.lab import Lab, LabError


def _lab(tmp_path: Path) -> Lab:
    """A real Lab (unhashable dataclass: a first version keyed a dict by it and crashed every
    drill at its first Prometheus), its processes recorded instead of started."""
    lab = Lab()
    lab.root = tmp_path
    lab.started = []  # type: ignore[attr-defined]
    lab.start = lambda name, ns, argv, *, log: lab.started.append(list(argv))  # type: ignore[method-assign,attr-defined]
    return lab


FILES = {
    "monitoring/prometheus.yml": b"global: {scrape_interval: 5s, evaluation_interval: 5s}\nscrape_configs: []\n",
    "monitoring/rules/nodes.yml": b"groups:\n- name: hamodel-nodes\n  rules: []\n",
}


def test_a_second_prometheus_in_the_same_folder_is_refused(tmp_path):
    lab = _lab(tmp_path)
    prometheus.start_prometheus(lab, "ns-a", FILES, ["nodes"], tmp_path / "prometheus", {})  # type: ignore[arg-type]
    with pytest.raises(LabError, match="already uses"):
        prometheus.start_prometheus(lab, "ns-b", FILES, ["nodes"], tmp_path / "prometheus", {})  # type: ignore[arg-type]
    prometheus.start_prometheus(lab, "ns-b", FILES, ["nodes"], tmp_path / "prometheus-galera", {})  # type: ignore[arg-type]
    assert len(lab.started) == 2  # type: ignore[attr-defined]
    # another lab (a new drill in the same process) may use the same path again
    other = _lab(tmp_path)
    prometheus.start_prometheus(other, "ns-a", FILES, ["nodes"], tmp_path / "prometheus", {})  # type: ignore[arg-type]


def test_the_galera_lab_and_the_keepalived_lab_use_different_folders():
    import inspect

    from hamodel.drill.galera import monitoring as galera
    from hamodel.drill.keepalived import monitoring as keepalived

    assert '"prometheus-galera"' in inspect.getsource(galera.PromLab.__init__)
    assert 'lab.root / "prometheus"' in inspect.getsource(keepalived)
