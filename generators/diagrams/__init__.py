"""Architecture diagrams with the ``diagrams`` package, rendered by graphviz.

Views of a :class:`~hamodel.deployment.Deployment` (never a second source of
truth):

- ``physical``: failure domains as clusters, nodes inside them with the
  services placed on each, VIP holders marked (MASTER / backup, priority),
  switches and the inter-switch links.
- ``logical``: clients -> virtual IP -> its holder (HAProxy) -> the services
  load balanced behind it; application clusters with their peers; the
  dependencies between services.
- per finding: the physical view with the failed components of the
  finding's scenario and the services it takes down highlighted.

Output is deterministic (every graphviz id is derived from model names, no
random ``nodeid``) and self-contained: the icons ``diagrams`` references by
absolute site-packages path are embedded as ``data:`` URIs, which also makes
the SVG display when loaded through ``<img>``. Rendering happens in a
private temporary directory; the caller gets bytes.

Modules: :mod:`.draw` (colours, ids, the ``diagrams`` wrapper),
:mod:`.physical` (the physical and per-finding views), :mod:`.logical`
(the overview and logical views), :mod:`.after` (the state a failure
leaves); rendering and :func:`generate` are here.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hamodel.generators.diagrams.draw import _id as _id
from hamodel.generators.diagrams.logical import _how as _how
from hamodel.generators.diagrams.logical import _logical, _overview
from hamodel.generators.diagrams.physical import _physical

from hamodel.deployment import Deployment, Finding

__all__ = ["VIEWS", "finding_stem", "generate", "render", "render_dot"]

VIEWS: tuple[str, ...] = ("overview", "physical", "logical")


def finding_stem(finding: Finding) -> str:
    """A file-name-safe, stable stem for a finding's diagram."""
    safe = re.sub(r"[^a-z0-9_-]+", "-", finding.id.lower()).strip("-")[:60]
    return f"finding-{safe}-{hashlib.sha256(finding.id.encode()).hexdigest()[:6]}"


def render_dot(dep: Deployment, view: str, finding: Finding | None = None) -> str:
    """The graphviz source of one view (deterministic text)."""
    if finding is not None:
        return _physical(dep, finding)
    if view == "physical":
        return _physical(dep)
    if view == "logical":
        return _logical(dep)
    if view == "overview":
        return _overview(dep)
    raise ValueError(f"unknown diagram view {view!r}; one of {', '.join(VIEWS)}")


# -- rendering ---------------------------------------------------------------

_COMPOUND = re.compile(r' l(?:head|tail)="[^"]*"')
_HREF = re.compile(r'xlink:href="([^"]+)"')


def _embed_icons(svg: str) -> str:
    """Replace absolute icon paths by ``data:`` URIs (self-contained SVG)."""
    cache: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        ref = html.unescape(m.group(1))
        if ref.startswith(("data:", "#", "http:", "https:")):
            return m.group(0)
        if ref not in cache:
            data = Path(ref).read_bytes()
            cache[ref] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        return f'xlink:href="{cache[ref]}"'

    return _HREF.sub(sub, svg)


def _dot(source: str, fmt: str, workdir: Path) -> bytes:
    src = workdir / "diagram.gv"
    src.write_text(source, encoding="utf-8")
    out = workdir / f"diagram.{fmt}"
    proc = subprocess.run(
        ["dot", f"-T{fmt}", "-o", str(out), str(src)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
    )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"graphviz dot -T{fmt} failed: {proc.stderr.strip()}")
    return out.read_bytes()


def render(
    dep: Deployment, view: str = "physical", *, finding: Finding | None = None, formats: Iterable[str] = ("svg", "png")
) -> dict[str, bytes]:
    """Render one view: ``{"svg": bytes, "png": bytes}``.

    Deterministic and self-contained; renders in a private temporary
    directory and leaves nothing behind.
    """
    source = render_dot(dep, view, finding)
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="hamodel-diagram-") as tmp:
        for fmt in formats:
            try:
                data = _dot(source, fmt, Path(tmp))
            except RuntimeError:
                # Graphviz 2.42 can abort on a compound edge (lhead/ltail to
                # a cluster) in some layouts; the plain edge still says it.
                if "lhead=" not in source and "ltail=" not in source:
                    raise
                source = _COMPOUND.sub("", source)
                data = _dot(source, fmt, Path(tmp))
            if fmt == "svg":
                data = _embed_icons(data.decode("utf-8")).encode("utf-8")
            out[fmt] = data
    return out


def diagram_findings(dep: Deployment, threshold: str = "medium") -> list[Finding]:
    """The findings that get their own diagram: severity >= ``threshold``
    and a scenario to draw (a finding such as "monitoring required" has no
    failed component)."""
    every = {f"node:{n.name}" for n in dep.architecture.nodes}
    # A scenario that stops every node draws nothing but grey boxes: no diagram.
    return [f for f in dep.findings if f.severity.at_least(threshold) and f.scenario and not every <= set(f.scenario)]


def generate(dep: Deployment, *, formats: Iterable[str] = ("svg", "png")) -> dict[str, bytes]:
    """Every diagram of a deployment, as ``{relative path: bytes}``.

    ``physical.svg``, ``logical.svg`` and ``findings/<stem>.svg`` (plus PNGs).
    """
    formats = tuple(formats)
    files: dict[str, bytes] = {}
    for view in VIEWS:
        for fmt, data in render(dep, view, formats=formats).items():
            files[f"{view}.{fmt}"] = data
    for f in diagram_findings(dep):
        for fmt, data in render(dep, "physical", finding=f, formats=formats).items():
            files[f"findings/{finding_stem(f)}.{fmt}"] = data
    return dict(sorted(files.items()))
