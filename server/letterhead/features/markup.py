"""Workspace text inside the Markdown that hovers and completion documentation show, and that
Markdown as plain text for clients that show no Markdown.

Titles, tag names, author names, paths and URLs come from the site's files, and Markdown reads
their punctuation: a title with `*` or `_` in it turned to emphasis, `[draft](x)` to a link,
`<b>` to HTML. Each piece of workspace text goes into a hover either escaped (`escaped`, for
prose) or as a code span or block that holds any text (`code_span`, `code_block`). A client
that renders no Markdown is sent what a reader of the rendered Markdown would see
(`as_plain_text`), not the escapes and marks.
"""

from __future__ import annotations

import functools
import html.parser
import re
from typing import Any

# The ASCII punctuation that changes what inline Markdown shows (emphasis, code, links and
# images, HTML, entities, strikethrough, a backslash's own escapes): each is escaped with a
# backslash, which CommonMark allows before any ASCII punctuation.
_INLINE_SPECIAL = re.compile(r"[\\`*_\[\]<>&~]")
_BACKTICKS = re.compile(r"`+")
_LINE_BREAKS = re.compile(r"[\r\n]+")
# Text a single pair of backticks holds as it is: no backtick, no line break, no space at an end.
_PLAIN_CODE = re.compile(r"[^`\r\n ](?:[^`\r\n]*[^`\r\n ])?")


def escaped(text: str) -> str:
    """`text` as Markdown that shows it as it is, on one line."""
    text = _one_line(text)
    if _INLINE_SPECIAL.search(text) is None:  # the common case, without `sub`'s template
        return text
    return _INLINE_SPECIAL.sub(r"\\\g<0>", text)


def code_span(text: str) -> str:
    """`text` as a code span, whatever backticks it holds (a longer run fences it)."""
    if _PLAIN_CODE.fullmatch(text):  # the common case (a name, a path), in one C call
        return f"`{text}`"
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
    return _LINE_BREAKS.sub(" ", text) if "\n" in text or "\r" in text else text


# -- plain text ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # a completion list's documentation comes back as it is typed
def as_plain_text(markdown: str) -> str:
    """What a reader of `markdown` sees, as plain text: escapes, emphasis and code marks gone,
    list items as `- `, paragraphs, quotes and code blocks apart (~0.1 ms a hover)."""
    reader = _PlainText()
    reader.feed(_markdown().render(markdown))
    reader.close()
    return reader.text()


def prepare_plain_text() -> None:
    """Load the Markdown parser now rather than at the first plain-text answer (~30 ms)."""
    _markdown()


@functools.cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt  # imported here: only plain-text clients need it

    return MarkdownIt("commonmark").enable("strikethrough")


_BLOCKS = frozenset({"p", "pre", "blockquote", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"})
# The elements that hold text; between them markdown-it writes only line breaks, for its HTML.
_HOLDERS = frozenset({"p", "pre", "li", "h1", "h2", "h3", "h4", "h5", "h6"})


class _PlainText(html.parser.HTMLParser):
    """The text of markdown-it's HTML, blocks a blank line apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.numbers: list[int | None] = []  # the open lists: the next item's number, or None
        self.holding = 0  # how many elements that hold text are open
        self.marked = False  # a list item's mark was the last thing written

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HOLDERS:
            self.holding += 1
        if tag in _BLOCKS:
            self._apart("\n\n")
            if tag == "ul":
                self.numbers.append(None)
            elif tag == "ol":
                start = dict(attrs).get("start")
                self.numbers.append(int(start) if start and start.isdigit() else 1)
        elif tag == "li":
            self._apart("\n")
            number = self.numbers[-1] if self.numbers else None
            self.parts.append("- " if number is None else f"{number}. ")
            if number is not None:
                self.numbers[-1] = number + 1
            self.marked = True  # a paragraph inside the item (a loose list) stays on its line
        elif tag == "hr":
            self._apart("\n\n")
            self.parts.append("———")
            self._apart("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HOLDERS:
            self.holding = max(0, self.holding - 1)
        if tag in ("ul", "ol") and self.numbers:
            self.numbers.pop()
        if tag in _BLOCKS:
            self._apart("\n\n")

    def handle_data(self, data: str) -> None:
        if data.isspace() and (self.marked or not self.holding):
            return  # markdown-it's line breaks between elements
        self.parts.append(data)
        self.marked = False

    def _apart(self, separator: str) -> None:
        if self.parts and not self.marked:
            self.parts.append(separator)

    def text(self) -> str:
        text = "".join(self.parts)
        return _BLANK_LINES.sub("\n\n", text).strip("\n")


_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
