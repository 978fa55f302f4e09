"""Front matter the safety bounds are for: alias bombs, deep nesting, huge YAML.

The everyday cases (spans, styles, every error kind on small inputs) are data in
`tests/data/parse/frontmatter.yml`; these need generated input too large to write out.
"""

from __future__ import annotations

import time

import pytest

from letterhead.document import FrontMatterErrorKind, parse_document
from letterhead.frontmatter import MAX_FRONT_MATTER_CHARS
from letterhead.yamlsafe import MAX_DEPTH


def billion_laughs(levels: int) -> str:
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, levels):
        previous = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{previous}]")
    return "---\ntitle: x\n" + "\n".join(lines) + "\n---\nBody.\n"


def timed_parse(text: str) -> tuple[object, float]:
    started = time.perf_counter()
    document = parse_document(text)
    return document, time.perf_counter() - started


def test_billion_laughs_is_refused_before_anything_is_built() -> None:
    document, elapsed = timed_parse(billion_laughs(10))  # 10**9 strings if expanded
    front_matter = document.front_matter  # type: ignore[attr-defined]
    assert front_matter.error.kind is FrontMatterErrorKind.TOO_COMPLEX
    assert "aliases" in front_matter.error.message
    assert front_matter.entries == []
    assert elapsed < 1.0


def test_a_few_aliases_are_fine() -> None:
    document, _ = timed_parse(billion_laughs(3))  # 111 values once expanded
    front_matter = document.front_matter  # type: ignore[attr-defined]
    assert front_matter.error is None
    assert len(front_matter.data["lol2"]) == 10


def test_mutually_recursive_aliases() -> None:
    document, elapsed = timed_parse("---\na: &a [&b [*a, *b]]\n---\n")
    front_matter = document.front_matter  # type: ignore[attr-defined]
    assert front_matter.error.kind is FrontMatterErrorKind.TOO_COMPLEX
    assert elapsed < 1.0


@pytest.mark.parametrize(
    "yaml_text",
    [
        "x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),
        "x: " + "{a: " * (MAX_DEPTH + 5) + "}" * (MAX_DEPTH + 5),
        "".join(" " * depth + f"k{depth}:\n" for depth in range(MAX_DEPTH + 5)) + " " * 60 + "v",
        "x: " + "[" * 5000 + "]" * 5000,  # past libyaml's own bound too
        "x: &a " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\ny: *a",
    ],
    ids=["flow lists", "flow maps", "block maps", "libyaml's bound", "with an anchor"],
)
def test_deep_nesting_is_too_complex(yaml_text: str) -> None:
    document, elapsed = timed_parse(f"---\n{yaml_text}\n---\n")
    front_matter = document.front_matter  # type: ignore[attr-defined]
    assert front_matter.error.kind is FrontMatterErrorKind.TOO_COMPLEX
    assert elapsed < 1.0


def test_nesting_within_the_bound_is_read() -> None:
    depth = MAX_DEPTH - 5
    document, _ = timed_parse("---\nx: " + "[" * depth + "1" + "]" * depth + "\n---\n")
    assert document.front_matter.error is None  # type: ignore[attr-defined]


def test_huge_front_matter_is_not_read() -> None:
    yaml_text = "tags: [" + ", ".join(["khmer rouge"] * 100_000) + "]\n"
    assert len(yaml_text) > MAX_FRONT_MATTER_CHARS
    document, elapsed = timed_parse(f"---\n{yaml_text}---\n[a](/b)\n")
    front_matter = document.front_matter  # type: ignore[attr-defined]
    assert front_matter.error.kind is FrontMatterErrorKind.TOO_COMPLEX
    assert document.links[0].target == "/b"  # type: ignore[attr-defined]
    assert elapsed < 1.0


def test_front_matter_just_under_the_bound_is_read() -> None:
    items = ", ".join(f"t{number}" for number in range(12_000))
    document, elapsed = timed_parse(f"---\ntags: [{items}]\n---\n")
    front_matter = document.front_matter  # type: ignore[attr-defined]
    assert front_matter.error is None
    assert len(front_matter.entries[0].items) == 12_000
    assert elapsed < 2.0


def test_a_one_megabyte_scalar_line() -> None:
    document, elapsed = timed_parse("---\ntitle: " + "x" * 1_000_000 + "\n---\n")
    assert document.front_matter.error.kind is FrontMatterErrorKind.TOO_COMPLEX  # type: ignore[attr-defined]
    assert elapsed < 1.0


def test_no_closing_fence_in_a_large_file() -> None:
    document, elapsed = timed_parse("---\n" + "title: x\n" * 200_000)
    assert document.front_matter.error.kind is FrontMatterErrorKind.UNCLOSED  # type: ignore[attr-defined]
    assert elapsed < 3.0


def test_values_of_every_safe_type() -> None:
    text = (
        "---\n"
        "published: true\nstars: 4.5\ncount: 12\nhex: 0x1F\ndate: 2013-09-13 10:20:30 +01:00\n"
        "nothing: ~\nbinary: !!binary aGVsbG8=\nset: !!set {a, b}\nomap: !!omap [a: 1]\n"
        "---\n"
    )
    data = parse_document(text).data
    assert data["published"] is True
    assert data["stars"] == 4.5
    assert data["count"] == 12 and data["hex"] == 31
    assert data["date"].year == 2013 and data["date"].utcoffset() is not None
    assert data["nothing"] is None
    assert data["binary"] == b"hello"
    assert data["set"] == {"a": None, "b": None} or data["set"] == {"a", "b"}
    assert data["omap"] == [("a", 1)]
