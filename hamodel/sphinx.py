"""Sphinx extension: publish architectures and embed their views in pages.

Add ``"hamodel.sphinx"`` to ``extensions``. Then:

- at ``builder-inited`` every model of ``hamodel_models`` (glob patterns,
  relative to ``hamodel_root``; default ``models/*.py``) is loaded,
  placed, analysed and rendered as a document under
  ``<srcdir>/<hamodel_output>/<model stem>/`` (default ``generated/``),
  with its diagrams and generated configs; ``<hamodel_output>/index.rst``
  lists them (put ``generated/index`` in a toctree);
- directives embed one view of a model in any hand-written page::

      .. hamodel-services:: models/openstack_keepalived.py
      .. hamodel-limitations:: models/openstack_keepalived.py
      .. hamodel-diagram:: models/openstack_keepalived.py
         :view: physical

  (also ``hamodel-overview``, ``hamodel-strategies``, ``hamodel-placement``,
  ``hamodel-domains``, ``hamodel-network``, ``hamodel-findings``,
  ``hamodel-scenarios``, ``hamodel-availability``; ``hamodel-diagram``
  takes ``:view: physical|logical`` or ``:finding: <finding id>``). Model
  paths are relative to ``hamodel_root`` (the repository root by default);
- ``.. hamodel-finding-kinds::`` (no argument) is the table of every kind
  of finding, read from :mod:`hamodel.analysis.catalogue`.

A model that does not load, place or analyse is a Sphinx warning carrying
the model's own error, so ``sphinx-build -W`` fails the build.
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
import re
import time
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

DEFAULT_MODELS = ["models/*.py"]
OPTIONAL_PAGES = {"drills": "Measured failover", "drills-pacemaker": "Measured failover: Pacemaker"}


class ModelFailure(Exception):
    """A model could not be published; the message is the model's error."""


def _root(app: Sphinx) -> Path:
    root = app.config.hamodel_root
    if root is None:
        return Path(os.path.abspath(app.confdir)).parent
    return Path(os.path.abspath(Path(app.confdir) / root))


def _slug(path: Path) -> str:
    """The model's document name: its file stem, safe as a path, a toctree
    entry and a label (other characters become ``-`` plus a short hash, so
    two stems never share a slug)."""
    from hamodel.generators.docs.rst import rst_name

    stem = path.stem.replace(".", "_")
    slug = str(rst_name(stem))
    if slug != stem:
        slug += "-" + hashlib.sha256(stem.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return slug


def _resolve_path(app: Sphinx, spec: str) -> Path:
    for base in (_root(app), Path(app.srcdir)):
        p = Path(os.path.abspath(base / spec))
        if p.exists():
            return p
    return Path(os.path.abspath(_root(app) / spec))


def _analyse(app: Sphinx, path: Path) -> Any:
    """Load, place and analyse one model; raises ModelFailure with its error."""
    from hamodel.errors import HamodelError
    from hamodel.loader import load
    from hamodel.pipeline import resolve

    cache: dict[str, Any] = app.__dict__.setdefault("_hamodel_deployments", {})
    key = str(path)
    if key in cache:
        if isinstance(cache[key], ModelFailure):
            raise cache[key]
        return cache[key]
    try:
        arch = load(path)
        lock = None
        try:
            from hamodel.analysis.placement import lock_path_for

            lock = lock_path_for(str(path))
        except ImportError:
            pass
        k = app.config.hamodel_k
        try:
            dep = resolve(arch, lock=lock, k=k, answers=True)
        except ImportError as exc:
            raise ModelFailure(f"the failure analysis is not available: {exc}") from None
    except ModelFailure as exc:
        cache[key] = exc
        raise
    except HamodelError as exc:
        cache[key] = ModelFailure(str(exc))
        raise cache[key] from None
    except Exception as exc:
        cache[key] = ModelFailure(f"{type(exc).__name__}: {exc}")
        raise cache[key] from None
    cache[key] = dep
    return dep


def _extras(app: Sphinx, path: Path, dep: Any, *, with_diagrams: bool) -> Any:
    """Configs, scenarios, availability and diagrams, from their owners
    (cached per build); raises ModelFailure when one of them fails."""
    cache: dict[tuple[str, bool], Any] = app.__dict__.setdefault("_hamodel_extras", {})
    key = (str(path), with_diagrams)
    if not with_diagrams and (str(path), True) in cache:
        key = (str(path), True)  # published already: reuse, diagrams and all
    if key not in cache:
        try:
            cache[key] = _compute_extras(app, path, dep, with_diagrams=with_diagrams)
        except ModelFailure as exc:
            cache[key] = exc
        except Exception as exc:
            cache[key] = ModelFailure(f"{type(exc).__name__}: {exc}")
    if isinstance(cache[key], ModelFailure):
        raise cache[key]
    return cache[key]


def _compute_extras(app: Sphinx, path: Path, dep: Any, *, with_diagrams: bool) -> Any:
    from hamodel.generators.docs import DocExtras

    extras = DocExtras(model_path=_display(app, path))
    try:
        from hamodel.generators.configs import build_configs
    except ImportError:
        build_configs = None
    if build_configs is not None and app.config.hamodel_configs:
        try:
            # Published: every secret (fence and VRRP passwords, stats auth) is the
            # placeholder, so the redacted files can be shown in full, and a model
            # whose secrets live in the deployment's environment still documents.
            files = build_configs(dep, redact=True)
            extras.configs = dict(files)
            extras.secret_configs = frozenset()
        except Exception as exc:
            extras.config_error = str(exc)
            logger.warning(
                "hamodel: %s: configs could not be generated: %s",
                _display(app, path),
                exc,
                type="hamodel",
                subtype="configs",
            )
    extras.measured_outage = _drill_measurements(app, path)
    if (Path(app.srcdir) / "guide" / "checks.rst").is_file():
        extras.checks_doc = "/guide/checks"  # the legend of finding ids links to it
    from hamodel.generators.drill_report import read_page_stamp, read_summary

    for doc, _title in _drill_pages(app, _display(app, path)):  # the drills measured on this model
        text = (Path(app.srcdir) / f"{doc}.rst").read_text(encoding="utf-8")
        for name in re.findall(r"(?m)^Scenario ``([^`]+)``", text):
            extras.measured.setdefault(name, f"/{doc}")
        for name, figure in read_summary(text).items():  # copied beside the predictions, with the stamp
            extras.measured_figures.setdefault(name, figure)
        extras.measured_stamp = extras.measured_stamp or read_page_stamp(text)
    results = dep.answers()
    extras.scenarios = list(results.single_failures)
    extras.availability = dict(results.availability) or None
    if with_diagrams:
        from hamodel.generators.diagrams import generate as diagrams

        extras.diagrams = diagrams(dep)
    return extras


def _drill_measurements(app: Sphinx, path: Path) -> dict:
    """The outages a drill page of this project (``drills*.rst`` beside ``conf.py``) measured for the model."""
    from hamodel.generators.drill_report import read_measured

    for page in sorted(Path(app.srcdir).glob("drills*.rst")):
        model_file, measured = read_measured(page.read_text(errors="replace"))
        if model_file and (_root(app) / model_file).resolve() == path.resolve():
            return measured
    return {}


def _display(app: Sphinx, path: Path) -> str:
    try:
        return str(path.relative_to(_root(app)))
    except ValueError:
        return str(path)


def _write_if_changed(path: Path, data: bytes) -> None:
    from hamodel.output import write_file

    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        return
    write_file(path, data)  # atomic, fsynced; a failure names the path


def _models(app: Sphinx) -> list[Path]:
    root = _root(app)
    found: set[Path] = set()
    for pattern in app.config.hamodel_models:
        matches = sorted(glob.glob(str(root / pattern)))
        if not matches:
            logger.warning("hamodel: model pattern %r matches no file under %s", pattern, root, type="hamodel")
        found.update(Path(os.path.abspath(m)) for m in matches)
    return sorted(p for p in found if not p.name.startswith("_"))


def publish(app: Sphinx) -> None:
    """builder-inited: render every model's document into the source tree."""
    from hamodel.generators.docs import generate

    if not app.config.hamodel_models:
        return  # only the directives are used
    out = Path(app.srcdir) / app.config.hamodel_output
    src, real = os.path.realpath(app.srcdir), os.path.realpath(out)
    if not real.startswith(src.rstrip(os.sep) + os.sep):  # stale files are removed from it: never srcdir itself
        raise ConfigError(
            f"hamodel_output = {app.config.hamodel_output!r} must name a subdirectory of the "
            f"source directory {app.srcdir} (the generated pages are kept apart from yours)"
        )
    out.mkdir(parents=True, exist_ok=True)
    produced: dict[str, bytes] = {}
    published_deps: dict[str, Any] = {}
    entries: list[tuple[str, str]] = []
    attached: set[str] = set()  # drill pages placed under their architecture's document
    for path in _models(app):
        slug = _slug(path)
        start = time.perf_counter()
        try:
            dep = _analyse(app, path)
            extras = _extras(app, path, dep, with_diagrams=True)
            try:
                files = generate(dep, slug=slug, extras=extras)
            except Exception as exc:
                raise ModelFailure(f"the document could not be rendered: {type(exc).__name__}: {exc}") from None
            files = {**files, **_explorer(app, dep, slug)}
        except ModelFailure as exc:
            logger.warning("hamodel: %s: %s", _display(app, path), exc, type="hamodel", subtype="model")
            files = {f"{slug}/index.rst": _failed_page(_display(app, path), str(exc)).encode()}
            entries.append((slug, path.stem))
            produced.update(files)
            continue
        index = f"{slug}/index.rst"
        if index in files and (drills := _drill_pages(app, _display(app, path))):
            files = {**files, index: files[index] + _drill_section(drills).encode()}
            attached.update(doc for doc, _ in drills)
        if index in files and f"{slug}/explorer.rst" in files:
            files = {**files, index: files[index] + _explorer_section().encode()}
        produced.update(files)
        published_deps[slug] = dep
        entries.append((slug, dep.architecture.title or dep.architecture.name))
        logger.info("hamodel: %s published in %.1f s", _display(app, path), time.perf_counter() - start)
    for slug, text in _alternatives(published_deps, Path(app.srcdir)).items():
        produced[f"{slug}/index.rst"] += text.encode()
    produced["index.rst"] = _index_page(entries).encode()
    produced["optional.rst.inc"] = _optional_toctree(app, frozenset(attached)).encode()
    for rel, data in produced.items():
        _write_if_changed(out / rel, data)
    # Remove what a previous build generated and this one did not (a model
    # deleted or renamed): only files its record lists, never a file someone
    # else put in the folder; the directives' images live in _diagrams/.
    record = out / PUBLISHED_RECORD
    for rel in sorted(_published(record) - set(produced), reverse=True):
        f = out / rel
        if f.is_file() and not f.is_symlink() and os.path.realpath(f).startswith(real + os.sep):
            f.unlink()
            for d in f.parents:
                if d == out or any(d.iterdir()):
                    break
                d.rmdir()
    _write_if_changed(record, "".join(f"{rel}\n" for rel in sorted(produced)).encode())


#: What :func:`publish` wrote last time, one path per line (relative to hamodel_output).
PUBLISHED_RECORD = ".hamodel-published"


def _published(record: Path) -> set[str]:
    from hamodel.output import _check_rel

    try:
        lines = record.read_text(encoding="utf-8").splitlines() if not record.is_symlink() else []
    except (OSError, UnicodeDecodeError):
        return set()
    found = set()
    for rel in lines:
        try:
            _check_rel(rel)
        except ValueError:
            continue
        found.add(rel)
    return found


def _failed_page(model: str, error: str) -> str:
    """The page of a model that could not be published: its error, inert
    (a literal block, every line indented, control characters replaced)."""
    from hamodel.generators.docs.rst import rst_block_line, rst_title

    title = rst_title(f"{model} (not published)", "=", overline=True)
    body = "\n".join("      " + rst_block_line(line) for line in error.splitlines()) or "      (no message)"
    return f"{title}\n\n.. error::\n\n   The model could not be published:\n\n   ::\n\n{body}\n"


def _index_page(entries: list[tuple[str, str]]) -> str:
    lines = [
        "=============",
        "Architectures",
        "=============",
        "",
        "One generated document per model of the repository: overview, services,",
        "placement, limitations derived by the failure analysis, diagrams and",
        "the generated configs.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    lines += [f"   {slug}/index" for slug, _ in entries]
    return "\n".join(lines) + "\n"


def _drill_pages(app: Sphinx, model: str) -> list[tuple[str, str]]:
    """The optional drill pages measured on ``model`` (their reproduce line names its file)."""
    src = Path(app.srcdir)
    found = []
    for doc, title in OPTIONAL_PAGES.items():
        try:
            text = (src / f"{doc}.rst").read_text(encoding="utf-8")
        except OSError:
            continue
        if re.search(rf"(?m)^\s*hamodel drill {re.escape(model)}(\s|$)", text):
            found.append((doc, title))
    return found


def _alternatives(deps: dict[str, Any], srcdir: Path) -> dict[str, str]:
    """An "Alternative: Pacemaker" section for each document without a Pacemaker
    cluster whose services another published model runs under Pacemaker (the
    keepalived page's pointer to the Pacemaker architecture, as the reference
    page ends), with the partition comparison when that drill page exists."""
    out = {}
    for slug, dep in deps.items():
        arch = dep.architecture
        if arch.pacemaker is not None:
            continue
        names = {s.name for s in arch.services}
        alts = [
            (s, d)
            for s, d in sorted(deps.items())
            if d.architecture.pacemaker is not None and {x.name for x in d.architecture.services} == names
        ]
        if not alts:
            continue
        links = ", ".join(
            f":doc:`{re.sub(r'[^A-Za-z0-9 ,._()-]', '', d.architecture.title or d.architecture.name)} <../{s}/index>`"
            for s, d in alts
        )
        text = (
            "\nAlternative: Pacemaker\n----------------------\n\n"
            "If these limitations are a concern, the same services can run under Pacemaker: corosync "
            "keeps a quorum and fences a lost node, so a partition leaves the virtual IP on the majority "
            f"side only and active/passive services fail over by themselves: {links}."
        )
        if (srcdir / "drills-pacemaker.rst").is_file():
            text += (
                " The :doc:`Pacemaker drill </drills-pacemaker>` measured the same partition side by "
                "side with keepalived's split brain."
            )
        out[slug] = text + "\n"
    return out


def _drill_section(pages: list[tuple[str, str]]) -> str:
    """The model document's link to the drills measured on it (titles: :data:`OPTIONAL_PAGES`); the
    drill pages sit under the document in the navigation (a hidden toctree), not at the top level."""
    links = ", ".join(f":doc:`{title} </{doc}>`" for doc, title in pages)
    return (
        "\nMeasured failover\n-----------------\n\n"
        "A drill ran this architecture's generated configuration with the real daemons on a lab of "
        f"network namespaces, broke it as the analysis says it breaks, and measured: {links}.\n\n"
        ".. toctree::\n   :hidden:\n\n" + "".join(f"   /{doc}\n" for doc, _ in pages)
    )


def _explorer(app: Sphinx, dep: Any, slug: str) -> dict[str, bytes]:
    """The model's failure explorer page and its data (:mod:`hamodel.generators.explorer`)."""
    from hamodel.generators.explorer import generate as explorer

    try:
        files = explorer(dep, slug=slug, k=app.config.hamodel_k)
    except Exception as exc:
        raise ModelFailure(f"the failure explorer could not be built: {type(exc).__name__}: {exc}") from None
    pages: set[str] = app.__dict__.setdefault("_hamodel_explorer_pages", set())
    pages.add(posixpath.normpath(f"{Path(app.config.hamodel_output).as_posix()}/{slug}/explorer"))
    return files


def _explorer_section() -> str:
    """The model document's link to its failure explorer."""
    return (
        "\nFailure explorer\n----------------\n\n"
        "Fail components of this architecture one by one or together and see which services stay up, "
        "with the findings that explain it: :doc:`explorer`.\n\n"
        ".. toctree::\n   :hidden:\n\n   explorer\n"
    )


def _explorer_assets(app: Sphinx, config: Any) -> None:
    """config-inited: the explorer's script and style sheet are static files of the build (no CDN)."""
    from hamodel.generators.explorer import STATIC

    config.html_static_path.append(str(STATIC))


def _explorer_page(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """html-page-context: only explorer pages load the explorer's script and style sheet."""
    from hamodel.generators.explorer import CSS, JS

    if pagename in app.__dict__.get("_hamodel_explorer_pages", ()):
        app.add_js_file(JS)
        app.add_css_file(CSS)


def _optional_toctree(app: Sphinx, attached: frozenset[str] = frozenset()) -> str:
    """A toctree of hand-written pages that other work adds later (drills).

    Included by ``index.rst``; lists only the pages that exist, so the
    build has no dangling toctree entry before they land.
    """
    src = Path(app.srcdir)
    # A drill page of a published model sits under that model's document; only the others are listed here.
    present = [
        (doc, title) for doc, title in OPTIONAL_PAGES.items() if (src / f"{doc}.rst").is_file() and doc not in attached
    ]
    if not present:
        return ""
    lines = [".. toctree::", "   :maxdepth: 2", "   :caption: Operations", ""]
    lines += [f"   {title} <{doc}>" for doc, title in present]
    return "\n".join(lines) + "\n"


# -- directives -------------------------------------------------------------------


class _ModelDirective(SphinxDirective):
    """Base: one model path argument; renders one section of its document."""

    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = False
    has_content = False
    section = ""

    def model(self) -> tuple[Path, Any]:
        path = _resolve_path(self.env.app, self.arguments[0])
        self.env.note_dependency(str(path))
        return path, _analyse(self.env.app, path)

    def warn(self, message: str) -> list[nodes.Node]:
        logger.warning("hamodel: %s", message, location=self.get_location(), type="hamodel", subtype="model")
        return []

    def parse(self, text: str) -> list[nodes.Node]:
        container = nodes.container(classes=["hamodel", f"hamodel-{self.section}"])
        content = StringList(text.splitlines(), source=f"<hamodel {self.arguments[0]}>")
        nested_parse_with_titles(self.state, content, container)
        return [container]

    def run(self) -> list[nodes.Node]:
        from hamodel.generators.docs import render_section

        try:
            path, dep = self.model()
            extras = (
                _extras(self.env.app, path, dep, with_diagrams=False)
                if self.section in ("scenarios", "availability", "configs")
                else None
            )
        except ModelFailure as exc:
            return self.warn(f"{self.arguments[0]}: {exc}")
        return self.parse(render_section(dep, self.section, slug=_slug(path), extras=extras))


class DiagramDirective(_ModelDirective):
    """``.. hamodel-diagram:: MODEL`` with ``:view:`` or ``:finding:``."""

    section = "diagram"
    option_spec = {"view": directives.unchanged, "finding": directives.unchanged, "alt": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        from hamodel.generators.diagrams import VIEWS, finding_stem, render
        from hamodel.generators.docs.rst import rst_option, rst_path

        view = self.options.get("view", "physical")
        finding_id = self.options.get("finding")
        if view not in VIEWS:
            return self.warn(f"unknown :view: {view!r}; one of {', '.join(VIEWS)}")
        try:
            path, dep = self.model()
        except ModelFailure as exc:
            return self.warn(f"{self.arguments[0]}: {exc}")
        finding = None
        if finding_id:
            finding = next((f for f in dep.findings if f.id == finding_id), None)
            if finding is None:
                known = ", ".join(f.id for f in dep.findings) or "none"
                return self.warn(f"{self.arguments[0]}: no finding {finding_id!r} (findings: {known})")
        stem = finding_stem(finding) if finding else view
        try:
            images = render(dep, view, finding=finding)
        except Exception as exc:
            return self.warn(f"{self.arguments[0]}: diagram failed: {exc}")
        key = hashlib.sha256(str(path).encode()).hexdigest()[:8]
        rel = f"{self.env.app.config.hamodel_output}/_diagrams/{_slug(path)}-{key}/{stem}"
        for fmt, data in images.items():
            _write_if_changed(Path(self.env.srcdir) / f"{rel}.{fmt}", data)
        alt = self.options.get("alt") or (finding.title if finding else f"{view} view of {dep.architecture.name}")
        figure, png = rst_path(f"/{rel}.svg"), rst_path(f"/{rel}.png")
        text = f".. figure:: {figure}\n   :width: 100%\n   :alt: {rst_option(alt)}\n\n   :download:`PNG <{png}>`\n"
        return self.parse(text)


def cli_reference_rst() -> list[str]:
    """The command-line reference as reStructuredText lines, read from the CLI itself."""
    import typer.main

    from hamodel.cli import app as cli_app

    group = typer.main.get_command(cli_app)
    # typer (0.29 here) builds its commands on its own copy of click (typer._click): the
    # contexts come from the command's own classes and parameters are told apart by
    # click's ``param_type_name``, never by ``isinstance`` against the click package.
    ctx = group.context_class(group, info_name="hamodel")
    lines: list[str] = []
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        cmd = group.get_command(ctx, name)  # type: ignore[attr-defined]
        if cmd is None or cmd.hidden:
            continue
        sub = cmd.context_class(cmd, info_name=name, parent=ctx)
        # The usage line as the reader types it: required arguments bare, optional ones in [].
        args = [p for p in cmd.get_params(sub) if p.param_type_name == "argument"]
        usage = " ".join(
            ["[OPTIONS]"] + [(p.name or "").upper() if p.required else f"[{(p.name or '').upper()}]" for p in args]
        )
        lines += [f".. rubric:: hamodel {name}", "", f"``hamodel {name} {usage}``", ""]
        lines += [_escape(cmd.help or ""), ""]
        rows = []
        for p in cmd.get_params(sub):
            if getattr(p, "hidden", False):
                continue
            if p.param_type_name == "argument":
                names = (p.name or "").upper()
                text = getattr(p, "help", None) or ""
            else:
                names = ", ".join(p.opts + p.secondary_opts)
                text = p.help or ""
                if p.default not in (None, False, ()) and not p.is_flag and getattr(p, "show_default", True):
                    text += f" (default: {p.default})"
            rows.append((names, " ".join(text.split())))
        if rows:
            lines += [
                ".. list-table::",
                "   :header-rows: 1",
                "   :widths: 30 70",
                "",
                "   * - Argument / option",
                "     - Meaning",
            ]
            for names, text in rows:
                lines += [f"   * - ``{names}``", f"     - {_escape(text) or chr(0x2014)}"]
            lines.append("")
    return lines


class CliDirective(SphinxDirective):
    """``.. hamodel-cli::``: the command-line reference, read from the CLI
    itself (typer/click), so it cannot drift from the code."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        lines = cli_reference_rst()
        container = nodes.container(classes=["hamodel", "hamodel-cli"])
        self.state.nested_parse(StringList(lines, source="<hamodel cli>"), self.content_offset, container)
        return [container]


class FindingKindsDirective(SphinxDirective):
    """``.. hamodel-finding-kinds::``: every kind of finding, read from the
    catalogue (:data:`hamodel.analysis.catalogue.RULES`), so the page
    cannot drift from what the analysis reports."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.container(classes=["hamodel", "hamodel-finding-kinds"])
        self.state.nested_parse(
            StringList(findings_table_rst(), source="<hamodel findings>"), self.content_offset, container
        )
        return [container]


def findings_table_rst() -> list[str]:
    """The rST list-table of every finding rule: id, kind, severities, meaning."""
    from hamodel.analysis import catalogue

    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 24 18 10 48",
        "",
        "   * - Finding id",
        "     - Kind",
        "     - Severity",
        "     - Meaning and usual fix",
    ]
    for rule in catalogue.RULES:
        ident = re.sub(r"\{(\w+)\}", r"<\1>", rule.id)
        lines += [
            f"   * - ``{ident}``",
            f"     - {rule.kind}",
            f"     - {' / '.join(s.value for s in rule.severities)}",
            f"     - {rule.doc}",
        ]
    return [*lines, ""]


def _escape(text: str) -> str:
    from hamodel.generators.docs import rst_escape

    return rst_escape(text)


def _directive(section: str) -> type[_ModelDirective]:
    return type(
        f"{section.title()}Directive",
        (_ModelDirective,),
        {"section": section, "__doc__": f"``.. hamodel-{section}:: MODEL``"},
    )


def setup(app: Sphinx) -> dict[str, Any]:
    from hamodel.generators.docs import SECTIONS

    app.add_config_value("hamodel_models", DEFAULT_MODELS, "env", [list])
    app.add_config_value("hamodel_root", None, "env")
    app.add_config_value("hamodel_output", "generated", "env", [str])
    app.add_config_value("hamodel_k", 2, "env", [int])
    app.add_config_value("hamodel_configs", True, "env", [bool])
    app.connect("builder-inited", publish)
    app.connect("config-inited", _explorer_assets)
    app.connect("html-page-context", _explorer_page)
    for section in SECTIONS:
        if section == "diagrams":
            continue
        app.add_directive(f"hamodel-{section}", _directive(section))
    app.add_directive("hamodel-diagram", DiagramDirective)
    app.add_directive("hamodel-cli", CliDirective)
    app.add_directive("hamodel-finding-kinds", FindingKindsDirective)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}
