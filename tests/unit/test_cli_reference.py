"""The CLI reference page (``.. hamodel-cli::``) tells positional arguments from options.

typer 0.29 builds its commands on its own copy of click, so an ``isinstance``
check against the click package was always false and every positional
argument was listed in option style (``model`` where ``MODEL`` is typed).
"""

from __future__ import annotations

import re

from hamodel.sphinx import cli_reference_rst


def _rows(lines: list[str], command: str) -> list[str]:
    start = lines.index(f".. rubric:: hamodel {command}")
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith(".. rubric::"):
            break
        m = re.match(r"   \* - ``(.+)``$", line)
        if m:
            rows.append(m.group(1))
    return rows


def test_positional_arguments_are_named_as_typed():
    lines = cli_reference_rst()
    rows = _rows(lines, "check")
    assert "MODEL" in rows, rows
    for name in rows:
        assert name == name.upper() or name.startswith("-"), f"{name!r} is neither an argument nor an option"


def test_usage_lines_name_arguments_as_typed():
    """``hamodel check [OPTIONS] MODEL``, not typer 0.29's ``{model}``."""
    lines = cli_reference_rst()
    usage = {line.split()[1]: line for line in lines if line.startswith("``hamodel ")}
    assert usage["check"] == "``hamodel check [OPTIONS] MODEL``"
    assert usage["build"].endswith(" MODEL``")
    assert usage["diff"] == "``hamodel diff [OPTIONS] [OLD] [NEW]``"
    assert not any("{" in line for line in usage.values()), usage
