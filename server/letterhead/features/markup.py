"""Workspace text inside the Markdown that hovers and completion documentation show.

Titles, tag names, author names, paths and URLs come from the site's files, and Markdown reads
their punctuation: a title with `*` or `_` in it turned to emphasis, `[draft](x)` to a link,
`<b>` to HTML. Each piece of workspace text goes into a hover either escaped (`escaped`, for
prose) or as a code span or block that holds any text (`code_span`, `code_block`).
"""

from __future__ import annotations

import re

# The ASCII punctuation that changes what inline Markdown shows (emphasis, code, links and
# images, HTML, entities, strikethrough, a backslash's own escapes): each is escaped with a
# backslash, which CommonMark allows before any ASCII punctuation.
_INLINE_SPECIAL = re.compile(r"[\\`*_\[\]<>&~]")
_BACKTICKS = re.compile(r"`+")
_LINE_BREAKS = re.compile(r"[\r\n]+")


def escaped(text: str) -> str:
    """`text` as Markdown that shows it as it is, on one line."""
    return _INLINE_SPECIAL.sub(lambda match: "\\" + match.group(), _one_line(text))


def code_span(text: str) -> str:
    """`text` as a code span, whatever backticks it holds (a longer run fences it)."""
    text = _one_line(text)
    if not text.strip():
        return "` `" if not text else f"`{text}`"
    fence = "`" * (_longest_backtick_run(text) + 1)
    # One space inside each fence is dropped when both are there: it keeps a backtick at
    # either end of the text from joining the fence, and a text with spaces at both ends whole.
    padded = text.startswith(("`", " ")) or text.endswith(("`", " "))
    return f"{fence} {text} {fence}" if padded else f"{fence}{text}{fence}"


def code_block(text: str, language: str = "") -> str:
    """`text` as a fenced code block, whatever fences it holds itself."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text)
