"""The fast reader of plain front matter (`plainyaml`) against the full YAML reader.

Wherever the fast reader answers, its entries must be exactly the full reader's: keys, values
and their types, spans, styles and list items. Checked on every file of the example site and of a
generated site, and on front matter built by hypothesis from the shapes real front matter has and
the near-misses that must go to the full reader.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from letterhead.document import FrontMatter
from letterhead.frontmatter import read_yaml, split_front_matter
from letterhead.plainyaml import read_plain

ROOT = Path(__file__).resolve().parents[1]
BOUNDED = settings(
    max_examples=int(os.environ.get("LETTERHEAD_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def both_readers(text: str) -> tuple[FrontMatter, FrontMatter, bool] | None:
    """The front matter as read with the fast path allowed and with the full reader only, and
    whether the fast reader answered."""
    front_matter, _ = split_front_matter(text)
    if front_matter is None or front_matter.error is not None:
        return None
    fast, full = copy.deepcopy(front_matter), copy.deepcopy(front_matter)
    read_yaml(text, fast, plain=True)
    read_yaml(text, full, plain=False)
    answered = read_plain(text, front_matter.yaml_span.start, front_matter.yaml_span.end)
    return fast, full, answered is not None


def assert_same(text: str) -> bool:
    read = both_readers(text)
    if read is None:
        return False
    fast, full, answered = read
    assert fast.entries == full.entries, text
    assert fast.error == full.error, text
    # Types too: `==` says True == 1 and 1 == 1.0.
    assert [_types(e.value) for e in fast.entries] == [_types(e.value) for e in full.entries]
    return answered


def _types(value: object) -> object:
    if isinstance(value, list):
        return [_types(item) for item in value]
    return type(value).__name__


@pytest.fixture(scope="module")
def generated_site(
    tmp_path_factory: pytest.TempPathFactory, generate_site: Callable[..., Any]
) -> Path:
    site = tmp_path_factory.mktemp("plain") / "site"
    generate_site(site, reviews=300, seed=7)
    return site


def _markdown_files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*")) if p.suffix in (".md", ".html") and p.is_file()]


@pytest.mark.parametrize("name", ["examples", "generated"])
def test_same_entries_on_real_sites(name: str, generated_site: Path) -> None:
    root = ROOT / "examples" / "site" if name == "examples" else generated_site
    files = _markdown_files(root)
    answered = [assert_same(path.read_text("utf-8")) for path in files]
    # The point of the fast reader: it must take nearly all real front matter.
    assert sum(answered) >= 0.9 * len(files), (sum(answered), len(files))


KEYS = st.sampled_from(
    ["title", "tags", "categories", "date", "layout", "y", "no", "2014", "a_b", "x-y", "title"]
)
SCALARS = st.sampled_from(
    [
        "Holy Motors",
        "yes",
        "No",
        "on",
        "off",
        "~",
        "null",
        "Null",
        "true",
        "42",
        "-7",
        "+3",
        "0x1F",
        "0o17",
        "017",
        "1_000",
        "1:20",
        "190:20:30",
        "1e3",
        "1.5e3",
        "3.5",
        ".5",
        "-.inf",
        ".NaN",
        "2014-05-01",
        "2014-5-1",
        "2013-02-30",
        "2014-05-01 10:00:00 +0200",
        "2014-05-01T10:00:00Z",
        "wanda şahin",
        "Amélie",
        "Q&A",
        "C# minor",
        "a: b",
        "a #b",
        "a#b",
        "trailing:",
        "http://example.com/a#b",
        "=",
        "<<",
        "-",
        "--x",
        "- x",
        "?x",
        "!x",
        "&x",
        "*x",
        "|",
        ">",
        "%x",
        "@x",
        "`x`",
        "[a, b]",
        "{a: 1}",
        "(1999)",
        "/films/x/",
        "$5",
        "a,b",
        "a]b",
        "x\u00a0y",
        "\u2028",
        "x\ty",
    ]
)
QUOTED = st.one_of(
    SCALARS.map(lambda s: f'"{s}"'),
    SCALARS.map(lambda s: f"'{s}'"),
    st.sampled_from(['"a\\"b"', "'it''s'", '"x" # c', "'x'y", '"unclosed', '""', "''"]),
)
ITEM = st.one_of(SCALARS, QUOTED)


@st.composite
def front_matter_line(draw: st.DrawFn) -> str:
    key = draw(KEYS)
    shape = draw(st.sampled_from(["plain", "quoted", "flow", "block", "null", "odd"]))
    space = draw(st.sampled_from([" ", " ", "  "]))
    trailing = draw(st.sampled_from(["", "", " ", "  # note"]))
    if shape == "plain":
        return f"{key}:{space}{draw(SCALARS)}{trailing}"
    if shape == "quoted":
        return f"{key}:{space}{draw(QUOTED)}{trailing}"
    if shape == "flow":
        items = draw(st.lists(ITEM, max_size=4))
        separator = draw(st.sampled_from([", ", ",", " , "]))
        extra = draw(st.sampled_from(["", "", ",", " "]))
        return f"{key}:{space}[{separator.join(items)}{extra}]{trailing}"
    if shape == "block":
        indent = draw(st.sampled_from(["", "  ", "    ", " "]))
        items = draw(st.lists(ITEM, min_size=0, max_size=4))
        lines = [f"{key}:{draw(st.sampled_from(['', ' ']))}"]
        for item in items:
            lines.append(f"{indent}-{draw(st.sampled_from([' ', '  ']))}{item}")
        if draw(st.booleans()):
            lines.append(f"{indent} - {draw(ITEM)}")  # an item out of line
        return "\n".join(lines)
    if shape == "null":
        return f"{key}:{draw(st.sampled_from(['', ' ', '   ']))}"
    return draw(
        st.sampled_from(
            [
                "# a comment",
                "",
                "  # indented comment",
                "   ",
                "key : spaced",
                "<<: {a: 1}",
                "anchor: &a x",
                "alias: *a",
                "tagged: !!str 5",
                "multi: first\n  second",
                "nested:\n  inner: 1",
                "- top-level item",
                "\tkey: tab",
                "k: v\r",
                "x" * 1100 + ": long",
                "folded: >\n  text",
                "? complex",
            ]
        )
    )


@BOUNDED
@given(st.lists(front_matter_line(), max_size=8))
@example(["title: yes", "tags: [a, 'b', \"c\"]", "categories:", "  - x", "  - '2014'"])
@example(["date: 2013-02-30", "tags:", "- 2014-05-01", "- b"])
@example(["tags: [a, b, ]", "t: ok"])
@example(["tags: ['a,b', \"c]d\", e f ]", "t: x  ", "u: a :b", "v: C#  ", "w: a  #b"])
@example(["excerpt:", "title: x"])
def test_same_entries_on_generated_front_matter(lines: list[str]) -> None:
    text = "---\n" + "\n".join(lines) + "\n---\nBody.\n"
    assert_same(text)


def test_fast_reader_answers_the_common_shapes() -> None:
    """Not only agreement: the shapes the fast reader exists for are read by it."""
    text = (
        "---\n"
        'title: "A Separation"\npublished: true\nstars: 4.5\nexcerpt:\n'
        "date: 2012-02-17 10:00:00 +0100\n"
        "categories:\n  - reviews\n  - 'in-cinemas'\n"
        "tags: [letters, iran, 'Oscars 2012']\n"
        "# a comment\n\nauthor: annaw\n"
        "---\nBody.\n"
    )
    assert assert_same(text) is True


# First characters of a plain scalar at the edges of what the fast reader takes: from U+00A0 up
# (Latin-1, the last before the surrogates, the first after, the last of the BMP it allows,
# astral), in a value, a flow list and a block list. U+0085 (NEL) and the C1 controls before
# U+00A0 are YAML's own business: the full reader's.
@pytest.mark.parametrize(
    ("first", "fast"),
    [
        ("É", True),
        ("ÿ", True),
        ("Ā", True),
        ("\ud7ff", True),
        ("\ue000", True),
        ("\ufffd", True),
        ("☃", True),
        ("\U0001f3ac", True),
        ("\U0010fffd", True),
        ("\u0085", False),
        ("\u009f", False),
        ("~", False),
    ],
)
def test_a_plain_scalar_may_begin_with_any_character_from_nbsp_up(first: str, fast: bool) -> None:
    for line in (f"title: {first}x", f"tags: [{first}x, b]", f"tags:\n  - {first}x"):
        assert assert_same(f"---\n{line}\n---\nBody.\n") is fast, (first, line)
