"""The ``requires`` marker (tests/conftest.py): a test that needs a tool or
root is skipped with the missing names, and runs where they are present."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def test_requires_skips_naming_the_missing_tool_and_runs_when_present(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        test_inner="""
        import pytest

        @pytest.mark.requires("sh", "hamodel-no-such-tool-1", "hamodel-no-such-tool-2")
        def test_missing():
            raise AssertionError("must not run")

        @pytest.mark.requires("sh")
        def test_present():
            pass
    """
    )
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*requires hamodel-no-such-tool-1, hamodel-no-such-tool-2*"])
