"""Workspace text in hovers and completion documentation: whatever it holds, a reader of the
rendered Markdown sees it as written (markdown-it, VS Code's renderer, is the oracle)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from letterhead.features.markup import as_plain_text, code_block, code_span, escaped
from rendering import shown

# Pieces of text that Markdown reads as something, put together in any order: emphasis,
# strikethrough, code, links, autolinks, HTML, entities, escapes, list and heading marks.
_PIECES = [
    *"ab 1.-+#!|(){}",
    *["~~", "**", "*", "__", "_", "`", "``", "[", "]", "](", "![", "\\", "<b>", "</b>"],
    *["&amp;", "&#42;", "<!--", "-->", "<http://x.y>", "http://x.y", "é", "😀", "\n", "\r\n"],
]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=14).map("".join)


def one_line(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", text)  # a run of line breaks is one space


@settings(max_examples=500, deadline=None)
@given(text=_TEXT)
def test_escaped_text_shows_as_written_inside_a_line(text: str) -> None:
    # Inline, as every use is (never at the start of a line, where `#` or `-` open a block).
    assert shown(f"x {escaped(text)} x") == f"x {one_line(text)} x\n"
    assert as_plain_text(f"x {escaped(text)} x") == f"x {one_line(text)} x"


@settings(max_examples=500, deadline=None)
@given(text=_TEXT)
def test_a_code_span_holds_any_text(text: str) -> None:
    expected = one_line(text) or " "
    assert shown(f"x {code_span(text)} x") == f"x {expected} x\n"
    assert as_plain_text(f"x {code_span(text)} x") == f"x {expected} x"


@settings(max_examples=200, deadline=None)
@given(text=_TEXT.filter(bool))
def test_a_code_block_holds_any_text(text: str) -> None:
    assert shown(code_block(text, "markdown")) == re.sub("\r\n?", "\n", text) + "\n\n"


def test_plain_text_keeps_the_blocks_apart() -> None:
    markdown = (
        "**khmer rouge** — a \\*tag\\*\n- “S21”\n- “The Missing Picture”\n\n"
        "> A quote, *said*.\n\n---\n\n3. three\n4. four\n\n```markdown\n_**Dear Anna**_\n```\n\n"
        "a line  \nbroken, `code` and [a link](https://example.invalid)"
    )
    assert as_plain_text(markdown) == (
        "khmer rouge — a *tag*\n\n- “S21”\n- “The Missing Picture”\n\nA quote, said.\n\n———\n\n"
        "3. three\n4. four\n\n_**Dear Anna**_\n\na line\nbroken, code and a link"
    )


def test_a_loose_list_keeps_each_item_on_its_mark() -> None:
    assert as_plain_text("- one\n\n- two\n\n  more") == "- one\n\n- two\n\nmore"
