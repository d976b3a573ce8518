"""``hamodel export --format mermaid|structurizr`` and the Mermaid chart of
``hamodel diff --format markdown``: parsed by the real Mermaid parser
(mermaid in node, with jsdom; installed by .ci/install in tests/mermaid),
deterministic, and hostile names shown as text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hamodel.generators.mermaid import affected, logical, markdown, physical
from hamodel.generators.structurizr import quote, workspace
from markdown_it import MarkdownIt

from hamodel import Architecture, Network, Node, Rack, Service, VirtualIP
from hamodel.pipeline import resolve
from hamodel.strategies import AppCluster, BehindVip, Vrrp

REPO = Path(__file__).resolve().parents[2]
PARSER = REPO / "tests" / "mermaid"
MODELS = ["openstack_keepalived", "openstack_pacemaker", "multirack", "webplatform"]
pytestmark = pytest.mark.slow  # node and the CLI in subprocesses: about a minute for the module
HOSTILE = (
    '<script>x</script> **b** [l](javascript:x) `c` "q" ${env.X} --> end; click A call x() '
    "%%{init: {}}%% #35; &amp; | \\"
)


def mermaid_parse(sources: list[str]) -> list[dict]:
    if shutil.which("node") is None or not (PARSER / "node_modules" / "mermaid").is_dir():
        pytest.fail("the Mermaid parser is not installed: run .ci/install (npm ci --prefix tests/mermaid)")
    proc = subprocess.run(
        ["node", str(PARSER / "parse.mjs")], input=json.dumps(sources), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def hostile():
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("end", "10.0.0.100", network=lan)
    # Names are [A-Za-z0-9._-]: Mermaid keywords and look-alikes; the free text is the architecture's name.
    nodes = [
        Node(n, roles={"lb"}, domains=[Rack(r)], addresses={lan: f"10.0.0.{10 + i}"})
        for i, (n, r) in enumerate([("end", "subgraph"), ("click", "style"), ("a--b", "proto__")])
    ]
    arch = Architecture(
        HOSTILE,
        description=HOSTILE,
        networks=[lan],
        vips=[vip],
        nodes=nodes,
        services=[
            Service("graph", on="lb", strategy=Vrrp(vip, track="graph")),
            Service("x_2d", on="lb", strategy=BehindVip(vip, port=8080), depends_on=["x-"]),
            Service("x-", on="lb", strategy=AppCluster(access=BehindVip(vip, port=3306, single_writer=True))),
        ],
    )
    return resolve(arch, analyse=False)


def test_models_parse_with_the_real_mermaid_parser(resolved) -> None:
    sources = []
    for m in MODELS:
        dep = resolved(m)
        sources += [logical(dep), physical(dep)]
        assert blocks(markdown(dep)) == [logical(dep), physical(dep)]
    for src, result in zip(sources, mermaid_parse(sources)):
        assert result["ok"], (result.get("error"), src[:2000])
        assert result["type"] == "flowchart-v2"
        assert len(result["labels"]) > 3


def test_hostile_names_render_as_text(hostile) -> None:
    out = mermaid_parse([logical(hostile), physical(hostile), affected(["graph", "x-", "x_2d"], hostile)])
    assert all(r["ok"] for r in out), out
    shown = {text for r in out for text in r["labels"].values()}
    for name in ("end", "click", "a--b", "graph", "x-", "x_2d", "subgraph", "style", "proto__"):
        assert any(
            t == name or t.startswith(name + ":") or t.startswith(name + " (") or t.endswith(" " + name) for t in shown
        ), (name, shown)
    assert "end 10.0.0.100" in shown
    # Distinct names keep distinct ids (x_2d is not x-).
    assert len({i for i in out[0]["labels"] if i.startswith("svc")}) == 3
    # The Markdown around the charts: the name is one heading, shown as its text, no HTML.
    html = MarkdownIt("commonmark").render(markdown(hostile).split("\n", 1)[0])
    assert html.startswith("<h1>") and "<script" not in html and "<strong>" not in html and "<a " not in html
    from html import unescape

    assert unescape(re.sub(r"<[^>]+>", "", html)).strip() == " ".join(HOSTILE.split())


def test_exports_are_deterministic(tmp_path: Path) -> None:
    for fmt in ("mermaid", "structurizr"):
        outs = []
        for i in range(2):
            target = tmp_path / f"{fmt}{i}"
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "hamodel.cli",
                    "export",
                    "models/multirack.py",
                    "--format",
                    fmt,
                    "-o",
                    str(target),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stderr
            outs.append(target.read_bytes())
        assert outs[0] == outs[1] and outs[0]


def _dsl_tokens(text: str) -> list[str]:
    """The DSL's tokens as the reference tokenizer (structurizr/java, ``Tokenizer``) reads a line: a quoted
    string ends at a ``"`` not preceded by a backslash; words end at whitespace. Fails on an unterminated string."""
    tokens = []
    for line in text.splitlines():
        i = 0
        line = line.strip()
        while i < len(line):
            if line[i].isspace():
                i += 1
            elif line[i] == '"':
                j = i + 1
                while j < len(line) and not (line[j] == '"' and line[j - 1] != "\\"):
                    j += 1
                assert j < len(line), f"unterminated string: {line}"
                tokens.append(line[i : j + 1])
                i = j + 1
            else:
                j = i
                while j < len(line) and not line[j].isspace():
                    j += 1
                tokens.append(line[i:j])
                i = j
        tokens.append("\n")
    return tokens


def test_structurizr_workspace_is_well_formed(resolved, hostile) -> None:
    """No maintained Structurizr DSL parser is on the registries this project uses (PyPI, npm, Debian;
    the reference parser is Java, on Maven): checked here are the DSL's lexical rules (strings,
    braces), that every identifier used is defined, and that hostile text stays inside its string."""
    for dep in [resolved(m) for m in MODELS] + [hostile]:
        text = workspace(dep)
        tokens = _dsl_tokens(text)
        depth = 0
        for t in tokens:
            depth += (t == "{") - (t == "}")
            assert depth >= 0
        assert depth == 0
        defined = {tokens[i - 1] for i, t in enumerate(tokens) if t == "="}
        for i, t in enumerate(tokens):
            if t in ("->", "containerInstance"):
                refs = [tokens[i - 1], tokens[i + 1]] if t == "->" else [tokens[i + 1]]
                for r in refs:
                    assert all(part in defined for part in r.split(".")), (r, text[:500])
    for text in (HOSTILE, HOSTILE + "\\", 'a "quoted\\" name'):
        name = quote(text)
        assert "${" not in name and _dsl_tokens(name) == [name, "\n"], name
        assert name[1:-1].replace("\uff02", '"').replace("\u200b", "") == " ".join(text.split())


def test_diff_markdown_draws_the_affected_services(tmp_path: Path) -> None:
    new = tmp_path / "webplatform.py"
    text = (REPO / "models" / "webplatform.py").read_text()
    # web stops depending on galera: its failure sets change.
    new.write_text(text.replace('depends_on=["postgres", "redis", "galera"]', 'depends_on=["postgres", "redis"]'))
    assert new.read_text() != text
    proc = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "diff", "models/webplatform.py", str(new), "--format", "markdown"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr
    charts = blocks(proc.stdout)
    assert len(charts) == 1, proc.stdout
    result = mermaid_parse(charts)[0]
    assert result["ok"], result
    assert "web" in result["labels"].values()
