"""hamodel.diff.unified_diff writes difflib.unified_diff's text, with cdifflib's matcher and
with difflib's (issue 30: the file diffs of two 2,000-node versions took a quarter of diff)."""

from __future__ import annotations

import difflib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hamodel.diff import _matcher, unified_diff

MATCHERS = [difflib.SequenceMatcher, _matcher()]

# few distinct lines, so that the sequences share and repeat lines (and some lines lack "\n")
_line = st.sampled_from(["a\n", "b\n", "c\n", "d\n", "e", "", "  - x: 1\n", "\t\n", "é\n"])


def _stdlib(a: list[str], b: list[str]) -> str:
    return "".join(difflib.unified_diff(a, b, fromfile="a/f", tofile="b/f"))


def test_cdifflib_is_the_matcher():
    assert _matcher() is not difflib.SequenceMatcher  # a declared dependency: its speed is the point


@pytest.mark.parametrize("matcher", MATCHERS)
@settings(max_examples=300, deadline=None)
@given(a=st.lists(_line, max_size=40), b=st.lists(_line, max_size=40))
def test_unified_diff_equals_difflib(matcher, a, b):
    assert unified_diff(a, b, "a/f", "b/f", matcher=matcher) == _stdlib(a, b)


@pytest.mark.parametrize("matcher", MATCHERS)
def test_unified_diff_of_large_repetitive_files_equals_difflib(matcher):
    # popular lines (autojunk: over 1% of a long b) and hunks near both ends
    a = [f'  - series: up{{node="n{i % 50}"}}\n    values: {"0x20" if i % 3 else "1x20"}\n' for i in range(1500)]
    a = [line for chunk in a for line in chunk.splitlines(keepends=True)]
    b = ["# header changed\n", *a[1:700], "inserted\n", *a[705:2990], "tail\n"]
    assert unified_diff(a, b, "a/f", "b/f", matcher=matcher) == _stdlib(a, b)
    assert unified_diff(a, a, "a/f", "b/f", matcher=matcher) == "" == _stdlib(a, a)
    assert unified_diff([], b[:3], "/dev/null", "b/f", matcher=matcher) == "".join(
        difflib.unified_diff([], b[:3], fromfile="/dev/null", tofile="b/f")
    )
