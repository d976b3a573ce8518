"""A config file's content modulo comments and ordering: what the round
trip and the drift gate call "equal"."""

from __future__ import annotations

from hamodel.adopt.braces import Block, parse_braces
from hamodel.adopt.haproxy import split_sections


def _tree(items) -> tuple:
    return tuple(
        sorted((("B", tuple(i.words), _tree(i.body)) if isinstance(i, Block) else ("S", tuple(i.words))) for i in items)
    )


def _xml(el) -> tuple:
    return (el.tag, tuple(sorted(el.attrib.items())), tuple(sorted(_xml(c) for c in el if isinstance(c.tag, str))))


def canonical(kind: str, text: str, label: str = "file") -> tuple:
    """``text`` of a config of ``kind`` (keepalived, haproxy, corosync, pacemaker-cib) as a sorted tree."""
    if kind == "haproxy":
        return tuple(
            sorted((k, n, tuple(sorted(tuple(w) for w, _ in body))) for k, n, _, body in split_sections(text, label))
        )
    if kind in ("keepalived", "corosync"):
        return _tree(parse_braces(text, label))
    if kind == "pacemaker-cib":
        from hamodel.adopt.cib import _read

        return _xml(_read(text))
    raise ValueError(kind)
