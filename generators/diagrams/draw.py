"""Drawing helpers shared by the views: colours, stable graphviz ids, escaping,
and a thin wrapper over the ``diagrams`` package that never renders by itself.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diagrams import Node


_FAILED = "#C0392B"
_FAILED_BG = "#FADBD8"
_LOST_BG = "#F5B7B1"
_MASTER_BG = "#D5F5E3"
_BACKUP_BG = "#EAF2F8"
_GREY_BG = "#D5D8DC"  # failed or cut off, after the failure
_BOND = "#7D3C98"  # bonded interfaces: both edges, drawn as a double line
_POWER = "#B9770E"  # power feeds and their cords
_TRUNK = "#1F618D"  # a trunk: one physical link carrying several networks
_WITNESS = "#6C3483"  # vote-only members
_WITNESS_BG = "#F4ECF7"


def _icon(relative: str) -> str:
    import diagrams

    return str(Path(diagrams.__file__).resolve().parent.parent / "resources" / relative)


def _id(*parts: str) -> str:
    """A stable graphviz id from model names, injective: every character
    other than a letter or digit becomes ``_xx`` (its hex code) and parts
    are joined by ``__`` (``node.a`` and ``node_a`` stay distinct)."""
    return "__".join(re.sub(r"[^A-Za-z0-9]", lambda m: f"_{ord(m.group()):02x}", p) for p in parts)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# -- graphviz source ---------------------------------------------------------


class _Graph:
    """Thin wrapper over ``diagrams.Diagram`` that never renders by itself."""

    def __init__(self, title: str, direction: str = "TB", **graph_attr: str):
        import diagrams

        attrs = {
            "pad": "0.4",
            "splines": "spline",
            "nodesep": "0.35",
            "ranksep": "0.6",
            "fontsize": "18",
            "labelloc": "t",
            "compound": "true",
            "newrank": "true",
        }
        attrs.update(graph_attr)
        # A plain graphviz label interprets backslash escapes (\G, \N, \L, ...)
        # and HTML entities (&amp;), and the title holds model text (the
        # architecture name): escape both so it shows as written.
        title = title.replace("\\", "\\\\").replace("&", "&amp;")
        self.diagram = diagrams.Diagram(
            title, filename="diagram", show=False, direction=direction, outformat="svg", graph_attr=attrs
        )

    def __enter__(self) -> _Graph:
        self.diagram.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        # Leave the context without diagrams' own render (which writes into
        # the current directory): we render the source ourselves.
        from diagrams import setdiagram

        setdiagram(None)  # pyright: ignore[reportArgumentType]  (diagrams' own way out of a context; typed Diagram)

    @property
    def source(self) -> str:
        return self.diagram.dot.source


def _node(label: str, nodeid: str, icon: str | None = None, **attrs: str) -> Node:
    import diagrams

    if icon is not None:
        # The icon and its text in one HTML-like label: the text never
        # overlaps the icon, whatever its number of lines.
        text = "<BR/>".join(_e(line) for line in label.split("\n"))
        label = (
            f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f'<TR><TD FIXEDSIZE="TRUE" WIDTH="56" HEIGHT="56"><IMG SRC="{_e(_icon(icon))}" SCALE="TRUE"/></TD></TR>'
            f'<TR><TD><FONT POINT-SIZE="11">{text}</FONT></TD></TR></TABLE>>'
        )
        attrs = {"shape": "plain", "fixedsize": "false", "width": "0", "height": "0", **attrs}
    else:
        attrs = {"fixedsize": "false", "width": "0", "height": "0", "labelloc": "c", **attrs}
    return diagrams.Node(label, nodeid=nodeid, **attrs)  # pyright: ignore[reportArgumentType]  (diagrams types **attrs as Dict: each is a str)


def _edge(a, b, **attrs: str) -> None:
    from diagrams import Edge

    # diagrams types Edge's **attrs as Dict (each is a Graphviz attribute, a str).
    if attrs.get("dir") == "none":
        a - Edge(**attrs) - b  # pyright: ignore[reportArgumentType, reportUnusedExpression]
    else:
        a >> Edge(**attrs) >> b  # pyright: ignore[reportArgumentType, reportUnusedExpression]
