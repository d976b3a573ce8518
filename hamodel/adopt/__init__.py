"""Brownfield adoption: collected configs -> a draft model (``hamodel import``),
and collected configs against the model (``hamodel drift``).

The reverse of the generators, never a side door: the draft is an ordinary
model file that goes through load, check and build like any other.
"""

from __future__ import annotations

from pathlib import Path

from hamodel.adopt.draft import Draft
from hamodel.adopt.source import AdoptError, Unmapped

__all__ = ["AdoptError", "Draft", "Unmapped", "import_folder"]


def import_folder(root: Path | str, name: str | None = None) -> Draft:
    """The draft model of a collected folder (``DIR/<node>/etc/...``)."""
    from hamodel.adopt.collected import read_collected
    from hamodel.adopt.writer import build_draft

    root = Path(root)
    site = read_collected(root)
    return build_draft(site, name or root.resolve().name or "imported", str(root))
