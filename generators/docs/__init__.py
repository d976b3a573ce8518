"""The architecture document: a Deployment rendered as reStructuredText.

:func:`generate` returns ``{relative path: bytes}`` for one architecture:

- ``<slug>/index.rst``: the document (overview, HA strategies in use,
  services, placement, failure domains, VIPs / VRRP groups / HAProxy
  frontends, diagrams, architecture limitations, other findings, failure
  scenarios, availability estimates, generated configs);
- ``<slug>/configs.rst`` and ``<slug>/configs/...``: the generated configs,
  when given;
- ``<slug>/diagrams/...``: the diagrams (:mod:`hamodel.generators.diagrams`).

Every table is a view of the :class:`~hamodel.deployment.Deployment`; the
limitations are the failure analysis' findings, never text written here.
:func:`render_section` renders one part alone, for the Sphinx directives.

Modules: :mod:`.context` reads what the document says from the Deployment
(the templates' context and :class:`DocExtras`), :mod:`.cells` shapes table
cells and rows, :mod:`.facts` and :mod:`.rst` are the shared readings and
escaping; the page assembly (templates, :func:`render_section`,
:func:`generate`) is here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from hamodel.generators.docs.cells import _downtime, _join, _nines
from hamodel.generators.docs.context import LIMITATION_THRESHOLD as LIMITATION_THRESHOLD
from hamodel.generators.docs.context import RECOVERY_HEADER as RECOVERY_HEADER
from hamodel.generators.docs.context import DocExtras, _context, limitations, other_findings
from hamodel.generators.docs.rst import Rst, rst_escape, rst_name, rst_title
from hamodel.generators.docs.rst import environment as rst_environment

from hamodel.deployment import Deployment

__all__ = ["SECTIONS", "DocExtras", "generate", "limitations", "other_findings", "render_section", "rst_escape"]

TEMPLATES = Path(__file__).parent / "templates"

SECTIONS: tuple[str, ...] = (
    "overview",
    "scope",
    "strategies",
    "services",
    "placement",
    "domains",
    "network",
    "diagrams",
    "limitations",
    "findings",
    "scenarios",
    "availability",
    "recovery",
    "configs",
)
"""The parts of the document, in order; each is ``templates/<name>.rst.j2``."""


@jinja2.pass_context
def _heading(ctx: Any, text: Any, char: str, label: str | None = None) -> Rst:
    """A section title with its label (page sections) or a rubric (directive snippets)."""
    if ctx["sections"]:
        target = f".. _{rst_name(ctx['slug'])}-{rst_name(label)}:\n\n" if label else ""
        return Rst(target + rst_title(text, char))
    return Rst(f".. rubric:: {rst_escape(text)}")


def _environment() -> jinja2.Environment:
    env = rst_environment(templates=TEMPLATES)
    env.filters["join_rst"] = _join
    env.filters["pct"] = lambda a: f"{a * 100:.6f} %"
    env.filters["nines"] = _nines
    env.filters["downtime"] = _downtime
    env.globals["heading"] = _heading
    return env


# -- entry points --------------------------------------------------------------


def render_section(
    dep: Deployment,
    section: str,
    *,
    slug: str = "architecture",
    extras: DocExtras | None = None,
    sections: bool = False,
    image_root: str = "",
) -> str:
    """One part of the document as reStructuredText.

    ``sections=False`` (directives inside hand-written pages) uses rubrics
    instead of section titles and emits no labels, so the snippet fits any
    page; ``image_root`` prefixes diagram paths (e.g. ``/generated/x/``).
    """
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}; one of {', '.join(SECTIONS)}")
    ctx = _context(dep, slug, extras or DocExtras(), sections, image_root)
    return _environment().get_template(f"{section}.rst.j2").render(**ctx)


def generate(dep: Deployment, *, slug: str, extras: DocExtras | None = None) -> dict[str, bytes]:
    """The architecture document of ``dep`` under ``<slug>/``: ``{path: bytes}``."""
    extras = extras or DocExtras()
    env = _environment()
    ctx = _context(dep, slug, extras, True, "")
    files: dict[str, bytes] = {f"{slug}/index.rst": env.get_template("document.rst.j2").render(**ctx).encode()}
    if extras.configs:
        files[f"{slug}/configs.rst"] = env.get_template("configs_page.rst.j2").render(**ctx).encode()
        for path, data in extras.configs.items():
            if path not in extras.secret_configs:
                files[f"{slug}/configs/{path}"] = bytes(data)
    if ctx["runbooks"]:
        files[f"{slug}/runbooks.rst"] = env.get_template("runbooks_page.rst.j2").render(**ctx).encode()
    for path, data in (extras.diagrams or {}).items():
        files[f"{slug}/diagrams/{path}"] = bytes(data)
    return dict(sorted(files.items()))
