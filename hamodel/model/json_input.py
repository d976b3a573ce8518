"""Strict reading of a JSON model (``hamodel export`` output, or hand-written).

Python's :func:`json.loads` accepts what RFC 8259 does not (``NaN``,
``Infinity``), turns ``1e400`` into infinity, keeps the last of two equal
keys without a word, and fails with ``RecursionError`` or
``UnicodeDecodeError`` on hostile input. :func:`parse_model_json` refuses
each of these with a :class:`~hamodel.errors.ModelError` that names the
place (``nodes[ctl-1].capacity.cpu``, or line and column).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hamodel.errors import ModelError, format_loc

# An integer literal longer than this is refused before Python converts it
# (int() of a 5000-digit string raises, and nothing in a model is that big).
_MAX_INT_DIGITS = 100


class _Bad:
    """Placeholder for a refused number; reported with its path after parsing."""

    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why


class _Pairs(dict):
    """A JSON object that had a key twice (the keys are in ``duplicates``)."""

    duplicates: list[str]


def _constant(name: str) -> _Bad:
    return _Bad(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def _float(text: str) -> float | _Bad:
    value = float(text)
    if not math.isfinite(value):
        return _Bad(f"{text[:40]} is too large for a number (at most about 1.8e308)")
    return value


def _int(text: str) -> int | _Bad:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return _Bad(f"an integer of {len(text.lstrip('-'))} digits is too large")
    return int(text)


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    dups: list[str] = []
    for k, v in pairs:
        if k in out and k not in dups:
            dups.append(k)
        out[k] = v
    if not dups:
        return out
    marked = _Pairs(out)
    marked.duplicates = dups
    return marked


def _position(text: bytes, offset: int) -> str:
    line = text.count(b"\n", 0, offset) + 1
    column = offset - (text.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line} column {column}"


def _problems(data: Any) -> list[tuple[str, str]]:
    """Every refused number and duplicate key, with its model path (iterative:
    the data may be as deep as the parser allowed)."""
    found: list[tuple[tuple, str]] = []
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, _Bad):
            found.append((loc, value.why))
        elif isinstance(value, dict):
            for k in getattr(value, "duplicates", ()):
                found.append((loc, f"key {k!r} appears more than once in this JSON object"))
            stack.extend((loc + (k,), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((loc + (i,), v) for i, v in enumerate(value))
    return [(format_loc(loc, data), why) for loc, why in found]


def parse_model_json(text: str | bytes) -> Any:
    """Parse JSON model text strictly; raise :class:`ModelError` on anything doubtful."""
    if isinstance(text, (bytes, bytearray)):
        raw = bytes(text)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ModelError([("", f"not UTF-8 text: invalid byte at {_position(raw, exc.start)}")]) from None
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise ModelError([("", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")]) from None
    except RecursionError:
        raise ModelError([("", "invalid JSON: nested too deeply (a model is a few levels deep)")]) from None
    problems = _problems(data)
    if problems:
        raise ModelError(problems)
    return data
