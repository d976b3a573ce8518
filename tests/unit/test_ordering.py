"""natural_key lives in a module with no solver import (issue 28): the tables sort node names without Z3."""

from __future__ import annotations

import subprocess
import sys

from hamodel.ordering import natural_key


def test_numbers_compare_as_numbers():
    assert sorted(["ctl-10", "ctl-2", "ctl-1", "db"], key=natural_key) == ["ctl-1", "ctl-2", "ctl-10", "db"]
    assert sorted(["r1-n10", "r1-n9", "r10-n1"], key=natural_key) == ["r1-n9", "r1-n10", "r10-n1"]


def test_the_tables_load_no_solver():
    code = "import sys, hamodel.tables; print(sorted(m for m in sys.modules if m == 'z3' or 'placement_solver' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
