"""Reading a file for the checker: bounded in size, never an exception."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from letterhead.check import read_text


@pytest.mark.parametrize(
    ("size", "limit", "read"), [(0, 10, True), (10, 10, True), (11, 10, False)]
)
def test_a_file_is_read_up_to_the_limit(tmp_path: Path, size: int, limit: int, read: bool) -> None:
    path = tmp_path / "review.md"
    path.write_bytes(b"x" * size)
    text, problems = read_text(path, limit)
    if read:
        assert (text, problems) == ("x" * size, [])
    else:
        assert text == ""
        assert [(p.code, p.message) for p in problems] == [
            (
                "too-large",
                f"the file is {size:,} bytes, over the {limit:,}-byte limit; it was not checked",
            )
        ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc files say size 0")
def test_a_file_longer_than_its_stated_size_is_read_to_its_end_within_the_limit() -> None:
    status = Path("/proc/self/status")  # st_size is 0; the text is ~1 KiB
    text, problems = read_text(status, 1_000_000)
    assert problems == []
    assert text.startswith("Name:") and "\nPid:" in text
    text, problems = read_text(status, 10)
    assert text == ""
    assert [p.code for p in problems] == ["too-large"]


def test_what_cannot_be_read_is_a_problem(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.md", tmp_path):
        text, problems = read_text(path, 1_000_000)
        assert text == ""
        assert [p.code for p in problems] == ["unreadable"]
        assert problems[0].message.startswith("the file cannot be read: ")
