"""Issue 30, injection into what people read: model text stays text.

- Markdown (``diff --format markdown``, posted as a pull-request comment):
  rendered by a real CommonMark parser (markdown-it-py, with GFM tables,
  strikethrough and linkify), a hostile model's text yields exactly the
  document structure a plain model's does: no heading, row, link, image,
  HTML or emphasis of its own; a CR ended the table row before. Mentions,
  issue references and bare URLs, which GitHub links in text, appear only
  inside code spans.
- Terminal: ESC/C0/C1 sequences in names and free text (window title,
  clear screen, OSC 8 hidden link, CSI) reach no terminal in ``check``,
  ``place``, ``build``, ``build --check``, ``diff``: shown as escapes.
- MEF export: control characters (which XML 1.0 cannot carry at all) in
  the architecture name still give well-formed XML that xmllint and SCRAM read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from hamodel.cli import app

ESC = "\x1b]0;pwned-title\x07 \x1b[2J \x1b]8;;http://evil.example/\x1b\\osc8-link\x1b]8;;\x1b\\ \x9b31m \u202e"
MD = (
    "X\r# Heading\r\n| a | b |\n[link](http://evil.example) ![img](http://evil.example/i.png) "
    "<http://evil.example> <img src=x onerror=alert(1)> <b>bold</b> @someone @org/team #123 org/repo#45 "
    "www.evil.example mail@evil.example https://evil.example/x *em* _u_ ~~s~~ `code` \\*x "
    "[ref]: http://evil.example $x$ &amp; a\\\n- item"
)

MODEL = """\
import os
from hamodel import Acknowledgement, Architecture, Network, Node, Rack, Service, VirtualIP
from hamodel.strategies import AppCluster, BehindVip, Sharded, Vrrp
T = {text!r}
lan = Network("lan", subnet="10.0.0.0/24")
vip = VirtualIP("vip", "10.0.0.100", network=lan)
architecture = Architecture(
    ("arch " + T.replace("\\r", " ").replace("\\n", " "))[:120], description="desc " + T, networks=[lan], vips=[vip],
    nodes=[Node(f"n{{i}}", roles={{"lb"}}, domains=[Rack(f"r{{i}}")], addresses={{lan: f"10.0.0.{{10 + i}}"}})
           for i in (1, 2, 3)],
    services=[] if {bare} else [
        Service("haproxy", on="lb", ports=[9300], strategy=Vrrp(vip, track="haproxy")),
        Service("api", on="lb", strategy=BehindVip(vip, port=8080)),
        Service("db", on="lb", strategy=AppCluster(recovery="recovery " + T,
                                                   access=BehindVip(vip, port=3306, single_writer=True))),
        Service("agent", on="lb", strategy=Sharded(shard=("shard " + T.replace("\\r", " ").replace("\\n", " "))[:190])),
    ],
    acknowledgements=[] if {bare} else [Acknowledgement("quorum-loss:db", "reason " + T)],
)
"""


def model(path: Path, text: str, bare: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MODEL.format(text=text, bare=bare))
    return path


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


# -- Markdown -------------------------------------------------------------------------------------


def markdown_diff(tmp_path: Path, text: str) -> str:
    d = tmp_path / text.encode().hex()[:16]
    r = run("diff", model(d / "old.py", text, bare=True), model(d / "new.py", text), "--format", "markdown")
    assert r.exit_code in (0, 1), r.output
    return r.stdout


def parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"linkify": True}).enable(["table", "strikethrough", "linkify"])
    md.linkify.set({"fuzzy_link": False})  # what GitHub links: scheme://, www., e-mail, not bare names
    return md


def skeleton(tokens) -> list[str]:
    """The document's structure: every token type, with runs of text and code spans as one TEXT."""
    out: list[str] = []
    for t in tokens:
        kids = skeleton(t.children) if t.children else []
        kind = "TEXT" if t.type in ("text", "code_inline") else t.type
        if t.type == "html_block":
            kind += ":" + t.content.strip()[:9]
        if kind != "TEXT" or not out or out[-1] != "TEXT":
            out.append(kind)
        for k in kids:
            if k != "TEXT" or not out or out[-1] != "TEXT":
                out.append(k)
    return out


def inline(tokens, types=("text",)) -> list[str]:
    found = []
    for t in tokens:
        if t.type in types:
            found.append(t.content)
        if t.children:
            found += inline(t.children, types)
    return found


def test_markdown_of_a_hostile_model_has_the_structure_of_a_plain_one(tmp_path):
    """Before: the CR ended the table row, the text added a heading, links,
    an image, HTML, emphasis; mentions and #123 were live."""
    md = parser()
    plain, hostile = markdown_diff(tmp_path, "plain words here"), markdown_diff(tmp_path, MD)
    assert skeleton(md.parse(hostile)) == skeleton(md.parse(plain))
    tokens = md.parse(hostile)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert not kinds & {"link_open", "image", "html_inline", "s_open"}, kinds
    assert sum(t.type == "heading_open" for t in tokens) == 1
    text = inline(tokens)
    for live in (r"(?<![\w`])@\w", r"(?<![\w&])#\d", r"://", r"www\.", r"\w@\w"):
        assert not [x for x in text if re.search(live, x)], (live, [x for x in text if re.search(live, x)])
    # and the text is all there, as text: what the reader sees is what the model says
    shown = "".join(inline(tokens, ("text", "code_inline")))
    for piece in (
        "[link](http://evil.example)",
        "![img](http://evil.example/i.png)",
        "<b>bold</b>",
        "@org/team",
        "#123",
        "org/repo#45",
        "*em*",
        "~~s~~",
        "| a | b |",
        "# Heading",
        "$x$",
        "&amp;",
    ):
        assert piece in shown, piece


ONE_CELL = [
    "table_open",
    "thead_open",
    "tr_open",
    "th_open",
    "inline",
    "th_close",
    "tr_close",
    "thead_close",
    "tbody_open",
    "tr_open",
    "td_open",
    "inline",
    "td_close",
    "tr_close",
    "tbody_close",
    "table_close",
]


def test_markdown_escapes_every_line_ending_and_construct_alone():
    from hamodel.report_formats import _md

    md = parser()
    for text in (
        "a\rb",
        "a\r\nb",
        "a\nb",
        "a\r\r\n\n# h",
        "x | y",
        "[a](b)",
        "<a href=x>y</a>",
        "@u",
        "#1",
        "**b**",
        "a\\",
        "`x`",
        "<x@y.z>",
        "&#x41;",
        "![a](b)",
        "[a]\n\n[a]: http://x",
        "~~a~~",
        "www.example.org",
        "\x1b[2J",
        "\u2028x",
        "trailing ",
        " leading",
        "x\r",
    ):
        out = _md(text)
        assert not re.search(r"[\r\n]", out), repr(out)
        cell = md.parse(f"| h |\n|---|\n| {out} |\n")
        assert [t.type for t in cell] == ONE_CELL, (text, out)
        kids = [c.type for c in cell[11].children]
        assert set(kids) <= {"text", "code_inline"}, (text, out, kids)
        bold = [c.type for c in md.parseInline(f"a **{out}** b")[0].children]
        assert bold[0] == "text" and bold[1] == "strong_open" and bold[-2:] == ["strong_close", "text"], (text, out)
        assert set(bold[2:-2]) <= {"text", "code_inline"}, (text, out, bold)


# -- the terminal -----------------------------------------------------------------------------------

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_no_control_sequence_of_a_model_reaches_the_terminal(tmp_path):
    """Before: raw ESC, BEL and CSI in every table and finding."""
    m = model(tmp_path / "m" / "evil.py", ESC)
    out = tmp_path / "out"
    assert run("build", m, "-o", out).exit_code == 0
    victim = out / "nodes" / "n1" / "haproxy" / "haproxy.cfg"
    victim.write_text(victim.read_text() + "# " + ESC + "\n")  # OUT's own bytes, shown by build --check
    old = model(tmp_path / "o" / "old.py", ESC, bare=True)
    cases = {
        "check": ["check", m, "--fail-on", "critical", "--availability"],
        "check narrow": ["check", m, "--fail-on", "critical"],
        "place": ["place", m, "--lock", tmp_path / "x.lock.json"],
        "build": ["build", m, "-o", tmp_path / "out2"],
        "build --check": ["build", m, "-o", out, "--check"],
        "diff": ["diff", old, m],
    }
    for name, args in cases.items():
        r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200" if name != "check narrow" else "80"})
        assert r.exit_code in (0, 1), (name, r.output)
        bad = CONTROL.findall(r.output)
        assert not bad, (name, sorted(set(bad)))
        if name in ("check", "build --check", "diff"):
            assert "\\x1b]0;pwned-title\\x07" in r.output, (name, r.output[-2000:])


def test_the_console_net_catches_what_a_view_forgot():
    """The SafeConsole under every print: a control character in any text is escaped."""
    import io

    from rich.table import Table
    from rich.text import Text

    from hamodel.terminal import SafeConsole

    buf = io.StringIO()
    c = SafeConsole(file=buf, force_terminal=True, width=120)
    t = Table(title="t")
    t.add_column("x")
    t.add_row(Text("a\x1b[2Jb"))
    c.print(t)
    c.print("plain \x1b]0;x\x07", markup=False)
    c.print(Text("styled"), style="bold red")
    text = buf.getvalue()
    assert "a\\x1b" in text and "plain \\x1b" in text
    # rich's own styles still come through (that ESC is the console's, not the text's)
    assert "\x1b[1;31mstyled" in text
    assert "\x1b]0" not in text and "\x1b[2J" not in text


# -- MEF export ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not (shutil.which("xmllint") and shutil.which("scram")), reason="needs xmllint and scram")
def test_mef_export_of_a_name_with_control_characters_is_well_formed(tmp_path):
    """Before: the name reached the label raw; xmllint and scram refused the document."""
    name = "ctl \x01\x08\x0b\x0c\x1b[2J\x7f\x85\ufffe\t end"
    src = tmp_path / "m.py"
    src.write_text(
        MODEL.format(text="x", bare=False).replace('"arch " + T.replace("\\r", " ").replace("\\n", " ")', repr(name))
    )
    out = tmp_path / "m.xml"
    r = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "export", str(src), "--format", "opsa-mef", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    lint = subprocess.run(["xmllint", "--noout", str(out)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stderr
    v = subprocess.run(["scram", "--validate", str(out)], capture_output=True, text=True)
    assert v.returncode == 0, v.stderr + v.stdout
    label = ET.parse(out).getroot().find("label").text
    assert label == "hamodel fault trees of ctl \\x01\\x08\\x0b\\x0c\\x1b[2J\\x7f\\x85\\ufffe\\t end", label
