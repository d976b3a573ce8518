"""One grammar for the brace-block configs: keepalived.conf and corosync.conf.

Both are lines of words, some opening a ``{ ... }`` block; keepalived
comments start with ``#`` or ``!``, corosync's with ``#``, and corosync
writes ``key: value``. Parsed with lark (LALR); the result is a tree of
:class:`Block` and :class:`Stmt`, each with its line number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from hamodel.adopt.source import MAX_DEPTH, AdoptError

GRAMMAR = r"""
start: body
body: (_NL | stmt | block)*
stmt: word+
block: word+ "{" body "}"
word: WORD | STRING
WORD: /[^\s{}"#!]+/
STRING: /"[^"\n]*"/
COMMENT: /[#!][^\n]*/
_NL: /\n/
%ignore COMMENT
%ignore /[ \t\r\f\v]+/
"""


@dataclass
class Stmt:
    words: list[str]
    line: int

    @property
    def key(self) -> str:
        return self.words[0].rstrip(":")

    @property
    def args(self) -> list[str]:
        w = self.words[1:]
        if self.words[0].endswith(":") or not w:
            return w
        return w


@dataclass
class Block:
    words: list[str]
    line: int
    body: list[Stmt | Block] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.words[0]

    @property
    def args(self) -> list[str]:
        return self.words[1:]


@lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _depth_check(text: str, label: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before the parser sees it."""
    depth = 0
    line = 1
    for ch in text:
        if ch == "\n":
            line += 1
        elif ch == "{":
            depth += 1
            if depth > MAX_DEPTH:
                raise AdoptError(f"{label}:{line}: blocks nested more than {MAX_DEPTH} deep: refused")
        elif ch == "}":
            depth = max(0, depth - 1)


def parse_braces(text: str, label: str) -> list[Stmt | Block]:
    """``text`` as a list of top-level statements and blocks; :class:`AdoptError` on a syntax error."""
    from lark.exceptions import UnexpectedInput

    _depth_check(text, label)
    if not text.endswith("\n"):
        text += "\n"
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise AdoptError(
            f"{label}:{exc.line}: cannot parse here (column {exc.column}): unbalanced braces or an unterminated string?"
        ) from None
    return _body(tree.children[0])


def _words(children) -> list[str]:
    out = []
    for c in children:
        if getattr(c, "data", None) == "word":
            tok = str(c.children[0])
            out.append(tok[1:-1] if tok.startswith('"') else tok)
    return out


def _body(tree) -> list[Stmt | Block]:
    out: list[Stmt | Block] = []
    for c in tree.children:
        if c.data == "stmt":
            out.append(Stmt(_words(c.children), c.meta.line))
        elif c.data == "block":
            inner = next(x for x in c.children if getattr(x, "data", None) == "body")
            out.append(Block(_words(c.children), c.meta.line, _body(inner)))
    return out
