"""Parsing one review: data cases with «marked» spans, whole-review snapshots, and decoding bytes.

The cases live in `tests/data/parse/*.yml`. Each has a `text` where «» mark spans (they may nest;
they are numbered in the order their « appears, from 1) and an `expect` mapping from a path into
the parsed `Document` to its expected value: `$N` is the span of mark N, anything else is compared
with the value itself (enums by their value). Paths read like Python: `links[0].target_span`,
`front_matter.entries[2].items[1].text_span`, and `len(links)`.

Whole reviews in `tests/data/parse/*.md` are compared with `*.expected.json` next to them, a
readable dump (every span shown with the text it covers); regenerate them with
`LETTERHEAD_UPDATE_SNAPSHOTS=1` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from letterhead.document import Document, Problem, decode, parse_document
from letterhead.positions import LineIndex, Span

DATA = Path(__file__).parent / "data" / "parse"
_MARK = re.compile("[«»]")
_STEP = re.compile(r"\.?([A-Za-z_]\w*)|\[(-?\d+)\]")


def strip_marks(text: str) -> tuple[str, list[Span]]:
    """The text without its « » marks, and the span of each mark in the order « appears."""
    plain: list[str] = []
    spans: dict[int, Span] = {}
    open_marks: list[tuple[int, int]] = []  # (mark number, start)
    position = 0
    last = 0
    for match in _MARK.finditer(text):
        plain.append(text[last : match.start()])
        position += match.start() - last
        last = match.end()
        if match.group() == "«":
            open_marks.append((len(spans) + len(open_marks), position))
        else:
            number, start = open_marks.pop()
            spans[number] = Span(start, position)
    plain.append(text[last:])
    assert not open_marks, "« without »"
    return "".join(plain), [spans[number] for number in sorted(spans)]


def resolve(document: Document, path: str) -> Any:
    """The value at `path` in `document` (see the module docstring)."""
    if path.startswith("len(") and path.endswith(")"):
        return len(resolve(document, path[4:-1]))
    value: Any = document
    for match in _STEP.finditer(path):
        name, index = match.groups()
        value = getattr(value, name) if name is not None else value[int(index)]
    return value


def normalise(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


@dataclass
class Case:
    file: str
    name: str
    text: str
    expect: dict[str, Any]


def load_cases() -> list[Case]:
    cases = []
    for file in sorted(DATA.glob("*.yml")):
        for spec in yaml.safe_load(file.read_text(encoding="utf-8"))["cases"]:
            cases.append(Case(file.stem, spec["name"], spec["text"], spec["expect"]))
    return cases


CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{case.file}: {case.name}" for case in CASES])
def test_case(case: Case) -> None:
    text, spans = strip_marks(case.text)
    document = parse_document(text)
    for path, expected in case.expect.items():
        actual = resolve(document, path)
        if isinstance(expected, str) and re.fullmatch(r"\$\d+", expected):
            span = spans[int(expected[1:]) - 1]
            assert actual == span, (
                f"{path}: expected {span} {text[span.start : span.end]!r}, got {actual}"
                + (f" {text[actual.start : actual.end]!r}" if isinstance(actual, Span) else "")
            )
        else:
            assert normalise(actual) == expected, f"{path}: expected {expected!r}, got {actual!r}"


def test_cases_are_found() -> None:
    assert len(CASES) > 100


# -- whole reviews -------------------------------------------------------------------------


def dump(document: Document) -> dict[str, Any]:
    """A readable, stable picture of a parsed document: a span as "start..end 'covered text'"."""
    text = document.text

    def span(value: Span | None) -> Any:
        if value is None:
            return None
        return f"{value.start}..{value.end} {text[value.start : value.end]!r}"

    def plain(value: Any) -> Any:
        if isinstance(value, Span):
            return span(value)
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, list):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {str(key): plain(item) for key, item in value.items()}
        if hasattr(value, "__slots__") and not isinstance(value, (str, int, float, bool)):
            return {slot: plain(getattr(value, slot)) for slot in value.__slots__}
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return str(value)

    return {
        field: plain(getattr(document, field))
        for field in (
            "front_matter",
            "body_start",
            "salutation",
            "links",
            "definitions",
            "liquid_tags",
            "liquid_blocks",
            "liquid_errors",
            "headings",
            "problems",
        )
    }


REVIEWS = sorted(DATA.glob("*.md"))


@pytest.mark.parametrize("review", REVIEWS, ids=[review.name for review in REVIEWS])
def test_review_snapshot(review: Path) -> None:
    text, problems = decode(review.read_bytes())
    assert problems == []
    actual = json.dumps(dump(parse_document(text)), ensure_ascii=False, indent=1)
    expected_file = review.with_suffix(".expected.json")
    if os.environ.get("LETTERHEAD_UPDATE_SNAPSHOTS") or not expected_file.exists():
        expected_file.write_text(actual + "\n", encoding="utf-8")
    assert actual + "\n" == expected_file.read_text(encoding="utf-8")


# -- decoding bytes ------------------------------------------------------------------------

DECODE_CASES: list[tuple[str, bytes, str, list[tuple[str, int, int]]]] = [
    # (name, bytes, expected text, expected problems as (code, start, end))
    ("plain UTF-8", "---\ntitle: Été 😀\n---\n".encode(), "---\ntitle: Été 😀\n---\n", []),
    ("UTF-8 with BOM", b"\xef\xbb\xbf---\n", "---\n", []),
    (
        "UTF-16 LE with BOM",
        "\ufeff---\ntitle: 中文\n".encode("utf-16-le"),
        "---\ntitle: 中文\n",
        [],
    ),
    ("UTF-16 BE with BOM", "\ufeff---\nt: 😀\n".encode("utf-16-be"), "---\nt: 😀\n", []),
    ("empty file", b"", "", []),
    ("Latin-1 bytes", "café".encode("latin-1"), "caf\ufffd", [("encoding", 3, 4)]),
    (
        "invalid byte after astral text",
        "😀é".encode() + b"\xff" + b"x",
        "😀é\ufffdx",
        [("encoding", 2, 3)],
    ),
    ("truncated UTF-8 at the end", b"ab" + "é".encode()[:1], "ab\ufffd", [("encoding", 2, 3)]),
    ("NUL bytes", b"---\ntitle: x\x00\x01\n", "", [("binary", 0, 0)]),
    ("a PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "", [("binary", 0, 0)]),
    ("odd-length UTF-16", b"\xff\xfea\x00b", "a\ufffd", [("encoding", 1, 2)]),
]


@pytest.mark.parametrize(
    "name, data, text, problems", DECODE_CASES, ids=[case[0] for case in DECODE_CASES]
)
def test_decode(name: str, data: bytes, text: str, problems: list[tuple[str, int, int]]) -> None:
    decoded, found = decode(data)
    assert decoded == text
    assert [(p.code, p.span.start, p.span.end) for p in found] == problems
    for problem in found:
        assert isinstance(problem, Problem) and problem.message


def test_decoded_binary_parses_to_nothing() -> None:
    text, _ = decode(b"\x00" * 100)
    document = parse_document(text)
    assert document.front_matter is None and document.links == []


def test_a_span_is_a_frozen_value() -> None:
    """Spans are shared between documents (front matter offsets recur file after file), so no
    write may reach one once made, whichever way it is made."""
    import copy
    import dataclasses
    import pickle

    span = Span(3, 8)
    assert (span.start, span.end) == (3, 8) and repr(span) == "Span(start=3, end=8)"
    assert span == Span(3, 8) and hash(span) == hash(Span(3, 8)) and span != Span(3, 9)
    for field in ("start", "end"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(span, field, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        del span.start
    assert dataclasses.replace(span, end=9) == Span(3, 9)
    assert pickle.loads(pickle.dumps(span)) == span == copy.deepcopy(span)
    assert Span(start=1, end=2) == Span(1, 2)


# --- line index -------------------------------------------------------------------------------------

_LINE_TEXT = st.lists(st.sampled_from(["a", "é", "😀", " ", "\n", "\r", "\r\n", "\t"])).map("".join)


@given(_LINE_TEXT)
@hypothesis_settings(max_examples=300)
def test_line_index_splits_lines_as_the_protocol_does(text: str) -> None:
    """Lines end at LF, CR and CR LF (LSP's three line breaks), whichever way the index finds
    them (a quicker path takes texts without CR); offsets and positions map both ways."""
    lines = LineIndex(text)
    expected = re.split(r"\r\n|\r|\n", text)
    assert lines.line_count == len(expected)
    assert [lines.line_text(line) for line in range(lines.line_count)] == expected
    for offset in range(len(text) + 1):
        position = lines.position(offset)
        assert 0 <= position.line < lines.line_count
        back = lines.offset(position)
        assert back == offset or text[back:offset] in ("\r", "\n")  # inside a CR LF pair
