"""Name ordering shared by the solver, the analysis and the tables, with no import of its own.

:func:`natural_key` lives here (not beside the placement solver) so that
sorting node names loads nothing heavier than :mod:`re` (keys cached: the
solver sorts the same names many times).
"""

from __future__ import annotations

import functools
import re

__all__ = ["natural_key"]


@functools.lru_cache(maxsize=1 << 16)
def natural_key(name: str) -> tuple:
    """``ctl-2`` before ``ctl-10``: numbers compare as numbers."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t)
