"""The generated files a drill runs: computed once, as ``hamodel build`` computes them.

Every lab takes its Deployment and files from :func:`generated_files`
(the ``hamodel drill`` command calls it once and hands both to the lab).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hamodel.deployment import Deployment
from hamodel.model import Architecture

__all__ = ["generated_files"]


def generated_files(
    arch: Architecture, *, analyse: bool = False, lock: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Deployment, Mapping[str, bytes]]:
    """The Deployment and the generated configs the drill runs.

    With ``analyse`` the Deployment also carries the failure analysis'
    findings, which name the partitions that split a VRRP group, and its
    answers (:attr:`~hamodel.deployment.Deployment.results`: cut sets,
    cold-start outcomes), which the scenarios read; the configs are the
    same either way. ``lock`` is the placement lock file,
    read as ``hamodel build`` reads it, so the drill runs the very configs
    that build writes. ``env`` resolves secret references (default: the
    process environment; the Pacemaker lab gives unset ones a lab value).
    """
    from hamodel.generators.configs import build_configs
    from hamodel.pipeline import resolve

    dep = resolve(arch, analyse=analyse, lock=lock, answers=analyse)
    return dep, build_configs(dep, env)
