"""A light, fence-aware Markdown scanner: links, reference definitions, headings and the salutation.

It is not a Markdown renderer. One pass over the lines finds the block structure that matters
(fenced and indented code, HTML blocks, headings, reference definitions, paragraphs); a second
pass over paragraph and heading text finds links with CommonMark's bracket rules (code spans,
autolinks and raw HTML bind tighter than brackets; links do not nest). Everything is regex-driven
and linear in the text, so a 3 KB review costs tens of microseconds, and no input can make it hang.
Heading ids follow kramdown as Jekyll configures it (the GFM parser), so `#fragment` checks agree
with the built site; so do HTML blocks (from a block tag to its matching end tag, as kramdown reads
them) and, for kramdown's own input, where a heading may stand (after a block boundary only).
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from letterhead.document import (
    Heading,
    Link,
    LinkKind,
    ReferenceDefinition,
    Salutation,
    normalize_label,
)
from letterhead.positions import Span

# ---------------------------------------------------------------------------------------------
# Block level

# Lines starting with anything else are plain paragraph text: the fast path for prose.
_SPECIAL_START = frozenset(" \t#`~-=*_+>[<0123456789{")
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})([^\r\n]*)")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]|$)")
_KRAMDOWN_ATX = re.compile(r"(#{1,6})[ \t]+(.*)")
_HEADER_ID = re.compile(r"[ \t]\{#([A-Za-z][\w:-]*)\}$")
_CLOSING_HASHES = re.compile(r"[ \t]#+$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_THEMATIC = re.compile(r" {0,3}([-*_])[ \t]*(?:\1[ \t]*){2,}$")
_LIST_ITEM = re.compile(r" {0,3}(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$)")
_IAL_TEXT = r"\{:(?!:)([^}\r\n]*)\}"
_IAL = re.compile(r" {0,3}" + _IAL_TEXT + r"[ \t]*$")
_IAL_ID = re.compile(r"(?:^|\s)#([A-Za-z][\w:-]*)")
# HTML blocks as kramdown reads them (both inputs): a line opening with a comment, or with a tag
# that is not a span element, starts one; it runs to the comment's end or the element's matching
# end tag (blank lines included; to the end of the body when there is none). Its content is raw
# unless the tag says `markdown="1"` (or "block"), when it is Markdown like the rest.
_HTML_BLOCK_COMMENT = re.compile(r" {0,3}<!--")
_HTML_START_TAG = re.compile(
    r" {0,3}<([A-Za-z][A-Za-z0-9-]*)(?=[ \t/>]|$)"
    r"(?P<attributes>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)(?P<close>/?>)?"
)
_MARKDOWN_TEXT = r"""\bmarkdown[ \t]*=[ \t]*["']?(?:1|block)\b"""
_MARKDOWN_ATTRIBUTE = re.compile(_MARKDOWN_TEXT)
# kramdown's span elements (`Parser::Html::Constants::HTML_SPAN_ELEMENTS`): they start prose;
# and its elements without a body (`HTML_ELEMENTS_WITHOUT_BODY`): the block is the tag's line.
_SPAN_NAMES = (
    "a abbr acronym b big bdo br button cite code del dfn em i img input ins kbd label mark "
    "option q rb rbc rp rt rtc ruby samp select small span strong sub sup tt u var"
)
_VOID_NAMES = "area base br col command embed hr img input keygen link meta param source track wbr"
_HTML_SPAN_ELEMENTS = frozenset(_SPAN_NAMES.split())
_HTML_VOID_ELEMENTS = frozenset(_VOID_NAMES.split())
# A line that kramdown takes as a block boundary for the heading after it, besides a blank one:
# an end-of-block marker, a tag whose content is Markdown, or an attribute list (group `ial`),
# which is one only when it does not belong to a block before it.
_BOUNDARY_LINE = re.compile(
    r" {0,3}(?:(?P<ial>" + _IAL_TEXT + r")|\^|<[A-Za-z][^>]*" + _MARKDOWN_TEXT + r"[^>]*>)[ \t]*$"
)
_NL = r"(?:\r\n|\r|\n)"
# A reference definition, possibly over several lines (label, destination and title may each
# start a new line). Checked further in `_definition` (balanced parentheses, no blank lines).
# Each part ends where the next cannot start (a label at its first `]`, a destination at white
# space, white space before a destination or a title), so the quantifiers are possessive: a
# definition that fails is given up at once, without backtracking.
_DEFINITION = re.compile(
    r" {0,3}\[(?P<label>(?:[^\\\[\]]|\\.){0,999}+)\]:"
    rf"[ \t]*+{_NL}?[ \t]*+"
    # Jekyll renders Liquid before Markdown, so `[1]: {% post_url id %}` is a definition too.
    r"(?:(?P<liquid>(?:\{%-?[ \t]*[A-Za-z_][^%\r\n]*?-?%\}|\{\{[^}\r\n]*\}\})\S*)"
    r"|<(?P<angle>(?:[^<>\\\r\n]|\\.)*)>|(?P<raw>[^\s<]\S*+))"
    rf"(?:(?P<gap>[ \t]++{_NL}?[ \t]*+|{_NL}[ \t]*+)"
    r"(?P<title>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\)))?"
    r"[ \t]*(?=\r|\n|$)",
    re.DOTALL,
)
_BLANK_LINE = re.compile(rf"{_NL}[ \t]*{_NL}")
# The commonest definition, `   [label]: /url` alone on its line, with its line break: nothing to
# unescape, balance or check, and no title (not on the line, nor on the next). Whatever it
# matches, `_DEFINITION` matches alike; anything else takes that general path.
_SIMPLE_DEFINITION = re.compile(
    r"(?P<indent> {0,3})\[(?P<label>[^\\\[\]\s^][^\\\[\]\r\n]{0,998})\]:[ \t]*+"
    r"(?P<raw>[^\s<{()][^\s()]*+)[ \t]*+(?P<eol>\n(?![ \t]*+[\"'(])|\Z)"
)
# A line, and a run of prose lines (see `_SPECIAL_START`), each with the line break after it,
# then the empty lines after them (`blank`); group 1 ends where the text does. One match takes a
# paragraph of plain text at C speed, where the loop would take a pass per line. Only "one line
# or more" matters of a run (`more`, for setext headings). A line starting with `{` (Liquid,
# mostly) is prose too unless it is an attribute list (`{:`), and one starting with `*` or `_`
# (emphasis) unless it is a list item or a thematic break (only markers and blanks); see `scan`
# for when such a line can start a run. `.` finds a line's end fastest, so "\r" breaks (rare)
# have their own patterns.
_PROSE_START = (
    rf"(?:[^{re.escape(''.join(sorted(_SPECIAL_START)))}\r\n]|\{{(?!:)"
    r"|[*_](?=[^ \t\r\n])(?=[ \t*_]*+[^ \t*_\r\n]))"
)
_LINE = re.compile(r"(.*)\n?")
_PROSE_LINES = re.compile(rf"({_PROSE_START}.*(?P<more>\n{_PROSE_START}.*)*)\n?(?P<blank>\n*)")
_LINE_CR = re.compile(rf"([^\r\n]*){_NL}?")
_PROSE_LINES_CR = re.compile(
    rf"({_PROSE_START}[^\r\n]*(?P<more>{_NL}{_PROSE_START}[^\r\n]*)*){_NL}?(?P<blank>(?:{_NL})*)"
)
_QUOTE_PREFIX = re.compile(r"(?:>[ ]?)+")
_LEADING_BLOCKS = 8  # blocks kept to find the salutation past paragraphs of Liquid only


@dataclass(slots=True)
class _HeadingLine:
    level: int
    text_span: Span  # the heading's text, without markers or an explicit id
    span: Span
    explicit_id: str | None


@dataclass(slots=True)
class BodyScan:
    """What the scanner found in a body."""

    links: list[Link] = field(default_factory=list)
    definitions: list[ReferenceDefinition] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    first_paragraph: Span | None = None  # the first block, when it is a paragraph


def _indent_width(line: str) -> tuple[int, int]:
    """(columns, characters) of the leading blanks of `line`, tabs stopping at multiples of 4."""
    columns = 0
    for count, char in enumerate(line):
        if char == " ":
            columns += 1
        elif char == "\t":
            columns += 4 - columns % 4
        else:
            return columns, count
    return columns, len(line)


class _HtmlBlock:
    """An open HTML block: the text that ends it (a comment's `-->`), or the element whose
    matching end tag does (`depth` of that element open, nested ones counted)."""

    __slots__ = ("depth", "end_text", "tag")

    def __init__(self, end_text: str | None, name: str | None) -> None:
        self.end_text = end_text
        self.depth = 1
        self.tag = (
            re.compile(rf"<(/?){re.escape(name)}(?=[ \t\r\n/>]|$)", re.IGNORECASE)
            if name is not None
            else None
        )

    def end_in(self, line: str, start: int) -> int:
        """Where in `line` (from `start`) the block ends, just past its last character; -1
        when it goes on past the line."""
        if self.end_text is not None:
            found = line.lower().find(self.end_text, start)
            return -1 if found < 0 else found + len(self.end_text)
        assert self.tag is not None
        for match in self.tag.finditer(line, start):
            if match.group(1):
                self.depth -= 1
                if self.depth == 0:
                    close = line.find(">", match.end())
                    return len(line) if close < 0 else close + 1
            else:
                self.depth += 1
        return -1


def _html_block(line: str) -> tuple[_HtmlBlock | None, int] | None:
    """The HTML block `line` opens and where in it its opening ends; (None, ...) for a tag whose
    content is Markdown (`markdown="1"`); None when the line opens no block (a span element, an
    end tag, no tag at all: prose)."""
    if _HTML_BLOCK_COMMENT.match(line):
        return _HtmlBlock("-->", None), line.index("<!--") + 4
    tag = _HTML_START_TAG.match(line)
    if tag is None:
        return None
    name = tag.group(1).lower()
    if name in _HTML_SPAN_ELEMENTS:
        return None
    if _MARKDOWN_ATTRIBUTE.search(tag.group("attributes")) is not None:
        return None, tag.end()
    closing = tag.group("close")
    if name in _HTML_VOID_ELEMENTS or closing == "/>":
        return _HtmlBlock("", None), tag.end()  # "" ends it at once
    return _HtmlBlock(None, name), tag.end()


class _Blocks:
    """The block pass: fills headings and definitions, and lists the inline regions."""

    def __init__(self, text: str, kramdown_input: bool = False) -> None:
        self.text = text
        # kramdown's own input (not GFM): a heading stands only after a block boundary.
        self.kramdown_input = kramdown_input
        self.start = 0
        self.regions: list[tuple[int, int]] = []
        self.headings: list[_HeadingLine] = []
        self.definitions: list[ReferenceDefinition] = []
        # The first blocks of the body, a paragraph's (start, end) or None for any other block.
        self.leading: list[tuple[int, int] | None] = []

    def scan(self, start: int, end: int) -> None:
        text = self.text
        self.start = start
        paragraph_start = -1  # offset of the open paragraph's first line, -1 when none
        paragraph_end = -1
        paragraph_lines = 0
        leading = self.leading
        # The content column of the open list item: lines indented that far after a blank line
        # continue the item (they are not code). 0 when no list is open.
        list_indent = 0
        in_quote = False  # the previous line was in a block quote
        fence_char = ""
        fence_length = 0
        html: _HtmlBlock | None = None  # an open HTML block
        last_heading: _HeadingLine | None = None  # the heading on the previous line, for IALs
        pending_id: str | None = None  # an IAL line before a heading
        regions = self.regions
        if text.find("\r", start, end) < 0:
            next_line, prose_lines = _LINE.match, _PROSE_LINES.match
        else:
            next_line, prose_lines = _LINE_CR.match, _PROSE_LINES_CR.match

        def note_block(paragraph: tuple[int, int] | None = None) -> None:
            if len(leading) < _LEADING_BLOCKS:
                leading.append(paragraph)

        def close_paragraph() -> None:
            nonlocal paragraph_start, paragraph_lines, in_quote
            in_quote = False  # whatever closes a paragraph ends a quote's lazy lines too
            if paragraph_start >= 0:
                region = (paragraph_start, paragraph_end)
                regions.append(region)
                note_block(region)
                paragraph_start = -1
                paragraph_lines = 0

        def after_html(line: str, ended: int, offset: int, line_end: int) -> None:
            """Text after an HTML block's end, on the line where it ends, starts a paragraph."""
            nonlocal paragraph_start, paragraph_end, paragraph_lines
            rest = len(line) - len(line[ended:].lstrip(" \t"))
            if rest < len(line):
                paragraph_start, paragraph_end, paragraph_lines = offset + rest, line_end, 1

        def line_after(offset: int) -> int:
            """The start of the line after the one that holds `offset`."""
            return next_line(text, offset, end).end()  # type: ignore[union-attr]

        next_offset = start
        while next_offset < end:
            offset = next_offset
            first = text[offset]
            if first in " [" and paragraph_start < 0 and not fence_char and html is None:
                simple = _SIMPLE_DEFINITION.match(text, offset, end)
                if simple is not None:
                    # Definitions come in runs (a review's list of links): the simple ones are
                    # taken here at once, as the general path below would take them one by one.
                    in_quote = False
                    last_heading = None
                    while simple is not None:
                        if list_indent and simple.end("indent") - simple.start() < list_indent:
                            list_indent = 0
                        self.definitions.append(_simple_definition(simple, simple.start()))
                        note_block()
                        next_offset = simple.end()
                        simple = _SIMPLE_DEFINITION.match(text, next_offset, end)
                    continue
            if (
                first not in _SPECIAL_START
                # Liquid or emphasis may be prose too (see `_PROSE_START`), but when it would
                # start a paragraph in a quote, the general path below keeps the quote's lazy
                # state, which this one drops.
                or (first in "{*_" and (paragraph_start >= 0 or not in_quote))
            ) and (not fence_char and html is None):
                if first in "\r\n":  # an empty line, the commonest after prose
                    close_paragraph()
                    pending_id = None
                    last_heading = None
                    in_quote = False
                    next_offset = offset + 1 + text.startswith("\r\n", offset, end)
                    continue
                # Plain prose, as many lines as follow at once: starts or continues a paragraph
                # (lazily, in a quote or a list).
                run = prose_lines(text, offset, end)
                if run is not None:
                    if paragraph_start < 0:
                        paragraph_start = offset
                        pending_id = None
                        list_indent = 0
                    paragraph_end = run.end(1)
                    paragraph_lines += 1 if run.group("more") is None else 2
                    last_heading = None
                    next_offset = run.end()
                    if run.start("blank") < next_offset:  # empty lines, as the branch above
                        close_paragraph()
                        pending_id = None
                    continue
            found = next_line(text, offset, end)
            assert found is not None  # any text, even none, is a line
            line_end, next_offset = found.end(1), found.end()
            line = text[offset:line_end]
            heading_before, last_heading = last_heading, None
            if fence_char:
                stripped = line.lstrip(" ")
                if (
                    len(line) - len(stripped) <= 3
                    and stripped.startswith(fence_char * fence_length)
                    and not stripped.strip(fence_char).strip(" \t")
                ):
                    fence_char = ""
                continue
            if html is not None:
                ended = html.end_in(line, 0)
                if ended >= 0:
                    html = None
                    after_html(line, ended, offset, line_end)
                continue
            if first in " \t":
                unindented = line.lstrip(" \t")
                if not unindented:  # a blank line
                    close_paragraph()
                    pending_id = None
                    in_quote = False
                    continue
                chars = len(line) - len(unindented)
                columns = chars if "\t" not in line[:chars] else _indent_width(line)[0]
            else:
                columns = chars = 0
            if in_quote and line[chars] != ">":
                in_quote = paragraph_start >= 0  # a lazy continuation stays in the quote
            if paragraph_start < 0 and columns < list_indent:
                list_indent = 0  # a block left of the item's content ends the list
            if columns >= 4 + list_indent and paragraph_start < 0:
                note_block()  # indented code
                continue
            first = line[chars]
            if first in "`~" and (
                # kramdown's own input knows only `~~~` fences, and they do not interrupt a
                # paragraph there
                not self.kramdown_input or (first == "~" and paragraph_start < 0)
            ):
                fence = _FENCE.match(line)
                if fence is not None and not (first == "`" and "`" in fence.group(3)):
                    close_paragraph()
                    note_block()
                    list_indent = list_indent if columns >= list_indent else 0  # not lazy
                    fence_char, fence_length = first, len(fence.group(2))
                    pending_id = None  # the code block takes it
                    continue
            elif first == "#" and columns <= 3:
                atx = _ATX.match(line)
                if atx is not None and (not self.kramdown_input or self._at_boundary(offset)):
                    close_paragraph()
                    note_block()
                    list_indent = list_indent if columns >= list_indent else 0
                    last_heading = self._atx(offset, line, pending_id)
                    pending_id = None
                    if last_heading is not None:
                        regions.append((last_heading.text_span.start, last_heading.text_span.end))
                    else:  # a CommonMark heading that kramdown reads as text: links still count
                        regions.append((offset + atx.end(1), line_end))
                    continue
            elif (
                first in "=-"
                and paragraph_start >= 0
                and not in_quote  # an underline cannot be a lazy line of a quote or a list
                and columns >= list_indent
                and _SETEXT.match(line)
            ):
                # The paragraph is a setext heading (for CommonMark, and so for its links), but
                # kramdown gives an id only to a heading of one line.
                if paragraph_lines == 1 and self._at_boundary(paragraph_start):
                    last_heading = self._setext(paragraph_start, paragraph_end, line, line_end)
                regions.append((paragraph_start, paragraph_end))
                note_block()
                paragraph_start = -1
                paragraph_lines = 0
                continue
            elif first == "{" and columns <= 3:
                ial = _IAL.match(line)
                if ial is not None:
                    explicit = _IAL_ID.search(ial.group(1))
                    if heading_before is not None and explicit is not None:
                        heading_before.explicit_id = explicit.group(1)
                    elif paragraph_start < 0 and explicit is not None:
                        pending_id = explicit.group(1)
                    close_paragraph()
                    continue
            elif first == "<" and columns <= 3:
                opened = _html_block(line)
                if opened is not None:
                    close_paragraph()
                    pending_id = None
                    note_block()
                    list_indent = list_indent if columns >= list_indent else 0
                    block, after = opened
                    if block is None:
                        continue  # `<div markdown="1">`: what follows is Markdown
                    ended = block.end_in(line, after)
                    if ended < 0:
                        html = block
                    else:
                        after_html(line, ended, offset, line_end)
                    continue
            elif first == ">" and columns <= 3:
                if not in_quote:
                    close_paragraph()  # a block quote starts a block, even after a paragraph
                    pending_id = None
                    if columns < list_indent:
                        list_indent = 0  # and, left of a list item's content, ends the list
                in_quote = True
                quoted = _QUOTE_PREFIX.match(line, chars)
                quoted_end = quoted.end() if quoted is not None else chars + 1
                inner_columns, inner_chars = _indent_width(line[quoted_end:])
                inner = quoted_end + inner_chars
                if paragraph_start < 0 and inner < len(line):
                    if inner_columns >= 4:
                        note_block()  # indented code inside the quote
                        continue
                    if line.startswith("[", inner):
                        # A definition in a quote: one line only (the next has its own `>`).
                        definition = self._definition(offset, offset + inner, line_end)
                        if definition is not None:
                            self.definitions.append(definition)
                            note_block()
                            continue
                if paragraph_start < 0:
                    paragraph_start = offset
                paragraph_end = line_end
                paragraph_lines += 1
                continue
            elif first == "[" and paragraph_start < 0 and columns <= 3 + list_indent:
                definition = self._definition(offset, offset + chars, end)
                if definition is not None:
                    self.definitions.append(definition)
                    note_block()
                    next_offset = line_after(definition.span.end)
                    continue
            if first in "-*_" and _THEMATIC.match(line):
                close_paragraph()
                pending_id = None
                note_block()
                list_indent = list_indent if columns >= list_indent else 0
                continue
            item = _LIST_ITEM.match(line) if first in "-*+0123456789" else None
            if item is not None:
                close_paragraph()
                pending_id = None
                marker_end = item.end()
                marker_column = columns + marker_end - chars
                spaces, space_chars = _indent_width(line[marker_end:])
                content = marker_end + space_chars
                if content == len(line) or spaces > 4:
                    # Blank after the marker, or code: the content column is one past it.
                    list_indent = marker_column + 1
                    if content < len(line):
                        note_block()
                        continue
                else:
                    list_indent = marker_column + spaces
                if line.startswith("[", content):  # `- [a]: /x` defines inside the item
                    definition = self._definition(offset, offset + content, end)
                    if definition is not None:
                        self.definitions.append(definition)
                        note_block()
                        next_offset = line_after(definition.span.end)
                        continue
                paragraph_start = offset
                paragraph_end = line_end
                paragraph_lines = 1
                continue
            if paragraph_start < 0:
                paragraph_start = offset
                pending_id = None  # an attribute list before a paragraph is the paragraph's
            paragraph_end = line_end
            paragraph_lines += 1
        close_paragraph()

    def _atx(self, offset: int, line: str, pending_id: str | None) -> _HeadingLine | None:
        # kramdown (unlike CommonMark) wants the `#` in the first column and text after it.
        match = _KRAMDOWN_ATX.match(line)
        if match is None:
            return None
        content = match.group(2).rstrip()
        explicit = _HEADER_ID.search(content)
        if explicit is not None:
            content = content[: explicit.start()].rstrip()
        hashes = _CLOSING_HASHES.search(content)
        if hashes is not None:
            content = content[: hashes.start()].rstrip()
        content = content.lstrip(" \t")
        if not content:
            return None
        text_start = offset + line.index(content, match.start(2))
        heading = _HeadingLine(
            len(match.group(1)),
            Span(text_start, text_start + len(content)),
            Span(offset, offset + len(line)),
            explicit.group(1) if explicit is not None else pending_id,
        )
        self.headings.append(heading)
        return heading

    def _setext(self, start: int, end: int, underline: str, line_end: int) -> _HeadingLine:
        content = self.text[start:end]
        explicit = _HEADER_ID.search(content.rstrip())
        text_end = start + len(content.rstrip())
        if explicit is not None:
            text_end = start + len(content[: explicit.start()].rstrip())
        text_start = start + len(content) - len(content.lstrip(" \t"))
        level = 1 if underline.lstrip(" ")[0] == "=" else 2
        heading = _HeadingLine(
            level,
            Span(text_start, max(text_start, text_end)),
            Span(start, line_end),
            explicit.group(1) if explicit is not None else None,
        )
        self.headings.append(heading)
        return heading

    def _at_boundary(self, offset: int) -> bool:
        """Whether the line starting at `offset` follows a block boundary for kramdown (its
        parser's `after_block_boundary?`, which headings check): it is the body's first line, or
        the line before it is blank, an end-of-block marker or a tag whose content is Markdown,
        or an attribute list that belongs to no block before it. An attribute list right after
        a block's line is that block's (kramdown ends the block there), and so is a run of them.
        kramdown reads `\r\n` and `\r` as line ends too."""
        text, start = self.text, self.start
        while offset > start:
            end = offset - 1  # the line break before `offset`
            if text[end] == "\n" and end > start and text[end - 1] == "\r":
                end -= 1
            offset = max(text.rfind("\n", start, end), text.rfind("\r", start, end), start - 1) + 1
            previous = text[offset:end]
            if not previous.strip(" \t"):
                return True
            boundary = _BOUNDARY_LINE.match(previous)
            if boundary is None:
                return False
            if boundary.group("ial") is None:
                return True
        return True

    def _definition(self, line_start: int, offset: int, end: int) -> ReferenceDefinition | None:
        """The definition starting at `offset` (its `[` or the indentation before it)."""
        simple = _SIMPLE_DEFINITION.match(self.text, offset, end)
        if simple is not None:
            return _simple_definition(simple, line_start)
        match = _DEFINITION.match(self.text, offset, end)
        if match is None:
            return None
        label, liquid, raw, angle, gap, title = match.group(
            "label", "liquid", "raw", "angle", "gap", "title"
        )
        if (
            not label.strip()
            or label[0] == "^"  # `[^1]: note` is a kramdown footnote, not a link
            or (("\n" in label or "\r" in label) and _BLANK_LINE.search(label))
        ):
            return None
        if title is not None and _BLANK_LINE.search(title):
            # A title cannot hold a blank line; when it starts on a line of its own the
            # definition ends at its destination, and that line is text.
            if "\n" not in gap and "\r" not in gap:
                return None
            match = _DEFINITION.match(self.text, offset, match.start("gap"))
            if match is None:
                return None
            title = None
        if liquid is not None:
            url, (url_start, url_end) = liquid, match.span("liquid")
        elif raw is not None:
            if ("(" in raw or ")" in raw) and not _balanced(raw):
                return None
            url, (url_start, url_end) = raw, match.span("raw")
        else:
            url, (url_start, url_end) = angle, match.span("angle")
        label_start, label_end = match.span("label")
        return ReferenceDefinition(
            label,
            Span(label_start, label_end),
            url,
            Span(url_start, url_end),
            Span(line_start, match.end()),
            title[1:-1] if title else None,
        )


def _simple_definition(match: re.Match[str], line_start: int) -> ReferenceDefinition:
    """The definition a `_SIMPLE_DEFINITION` match holds, as `_definition` would build it."""
    label_start, label_end = match.span("label")
    url_start, url_end = match.span("raw")
    return ReferenceDefinition(
        match.group("label"),
        Span(label_start, label_end),
        match.group("raw"),
        Span(url_start, url_end),
        Span(line_start, match.start("eol")),
    )


def _balanced(destination: str) -> bool:
    depth = 0
    escaped = False
    for char in destination:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


# ---------------------------------------------------------------------------------------------
# Inline level

# A single character class lets the regex engine skip prose at C speed.
_SPECIAL = re.compile(r"[\\`!\[\]<{]")
_BACKTICKS = re.compile(r"`+")
# What most often follows a link's `]`: a bare destination in parentheses, or a label (not
# blank, not a footnote, no brackets or escapes). Anything else takes the general path.
_TAIL = r"\(([^\x00-\x20\x7f()<\\{]*)\)|\[([^\[\]\\\x00-\x20^][^\[\]\\]{0,998})\]"
_SIMPLE_TAIL = re.compile(_TAIL)
# Brackets holding nothing that binds tighter than them (code, autolinks, HTML, Liquid).
_BRACKET_TEXT = r"[^\[\]\\`<{]*"
_SIMPLE_BRACKET = re.compile(rf"\[{_BRACKET_TEXT}\]")
# Both at once: most links of a review, taken in one match.
_SIMPLE_LINK = re.compile(rf"!?\[({_BRACKET_TEXT})\](?:{_TAIL})")
_AUTOLINK = re.compile(
    r"<([A-Za-z][A-Za-z0-9.+-]{1,31}:[^\x00-\x20<>]*"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)>"
)
_HTML_TAG = re.compile(
    r"<(?:[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s\"'=<>`]+|'[^']*'"
    r"|\"[^\"]*\"))?)*\s*/?>|/[A-Za-z][A-Za-z0-9-]*\s*>)"
)
_HTML_OTHER = {"<!--": "-->", "<?": "?>", "<![CDATA[": "]]>"}
_TITLE = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\)", re.DOTALL)
_LABEL = re.compile(r"\[((?:[^\\\[\]]|\\.){0,999}?)\]", re.DOTALL)
_DESTINATION_CHUNK = re.compile(r"[^\x00-\x20\x7f()\\{]*")
_MAX_PAREN_DEPTH = 32  # as markdown-it: deeper nesting is not a link destination
# Brackets open at once; deeper ones are text. No prose nests so deep, and the bound keeps the
# link texts of nested images from adding up quadratically.
_MAX_OPEN_BRACKETS = 32


class _Inline:
    """The inline pass over one text, shared state across its regions."""

    def __init__(
        self,
        text: str,
        definitions: list[ReferenceDefinition],
        opaque: dict[int, int],
        only_brackets: bool = False,
    ) -> None:
        self.text = text
        self.only_brackets = only_brackets
        self.definitions = definitions
        # The labels defined, normalized on first need: only a shortcut link (`[label]`) or
        # brackets inside link text depend on them, and most reviews have neither.
        self._defined: set[str] | None = None
        self.opaque = opaque
        self.links: list[Link] = []
        # The next occurrence found for a search, so that unclosed constructs cost linear time.
        self._found: dict[str, tuple[int, int]] = {}
        self._runs: dict[int, list[int]] = {}  # backtick runs of the current region by length
        self._runs_end = -1
        # Parenthesis steps left for link destinations: plenty for any prose, while text made
        # of `[a](` runs cannot cost 32 steps per bracket.
        self._paren_budget = 10_000 + len(text)

    def _find(self, needle: str, pos: int, end: int) -> int:
        """`text.find(needle, pos, end)`, remembering answers so repeated misses stay cheap."""
        cached = self._found.get(needle)
        if cached is not None and cached[0] <= pos and (cached[1] >= pos or cached[1] < 0):
            found = cached[1]
            return found if found < 0 or found + len(needle) <= end else -1
        found = self.text.find(needle, pos)
        self._found[needle] = (pos, found)
        return found if found < 0 or found + len(needle) <= end else -1

    def _code_span_end(self, run: int, pos: int, end: int) -> int:
        """The end of the backtick run of exactly `run` backticks closing a code span, or -1.

        The runs of the region are indexed by length on first need, so that a region full of
        unclosed runs of many lengths still costs linear time.
        """
        if self._runs_end != end:
            self._runs_end = end
            self._runs = {}
            for match in _BACKTICKS.finditer(self.text, pos, end):
                self._runs.setdefault(match.end() - match.start(), []).append(match.start())
        starts = self._runs.get(run)
        if starts is None:
            return -1
        index = bisect.bisect_left(starts, pos)
        return starts[index] + run if index < len(starts) else -1

    def scan(self, regions: Iterable[tuple[int, int]]) -> None:
        """Find the links of each region (`start`, `end`); brackets do not pair across them."""
        text = self.text
        search = _SPECIAL.search
        only_brackets = self.only_brackets
        for start, end in regions:
            openers: list[list[int]] = []  # [offset, is_image, active]
            pos = start
            next_bracket = -1  # kept while ahead of `pos`, so that each `[` is found once
            while True:
                if only_brackets and not openers:
                    # Nothing to do before the next `[`, but skip Liquid (`{`) that may hold one.
                    if next_bracket < pos:
                        next_bracket = text.find("[", pos, end)
                        if next_bracket < 0:
                            break
                    brace = text.find("{", pos, next_bracket)
                    at = brace if brace >= 0 else next_bracket
                else:
                    match = search(text, pos, end)
                    if match is None:
                        break
                    at = match.start()
                char = text[at]
                if char == "[" or (char == "!" and text.startswith("[", at + 1)):
                    simple_link = _SIMPLE_LINK.match(text, at, end)
                    if simple_link is not None:
                        pos = self._simple_link(openers, simple_link, char == "!")
                        continue
                    bracket = at + (char == "!")
                    simple = _SIMPLE_BRACKET.match(text, bracket, end)
                    if simple is None:
                        if len(openers) < _MAX_OPEN_BRACKETS:
                            openers.append([at, char == "!", True])
                        pos = bracket + 1
                        continue
                    # Brackets holding nothing that binds tighter: the `]` is this `[`'s at once.
                    pos = max(
                        simple.end(), self._close(openers, at, char == "!", simple.end() - 1, end)
                    )
                elif char == "]":
                    pos = at + 1
                    if openers:
                        opener = openers.pop()
                        if opener[2]:
                            link_end = self._close(openers, opener[0], bool(opener[1]), at, end)
                            pos = max(pos, link_end)
                elif char == "\\":
                    pos = at + 2 if text[at + 1 : at + 2] in _ESCAPABLE else at + 1
                elif char == "`":
                    run_end = at + 1
                    while run_end < end and text[run_end] == "`":
                        run_end += 1
                    close = self._code_span_end(run_end - at, run_end, end)
                    pos = close if close >= 0 else run_end
                elif char == "<":
                    pos = self._angle(at, end)
                elif char == "{":
                    skip = self.opaque.get(at)
                    pos = min(skip, end) if skip is not None else at + 1
                else:  # a `!` that opens no image
                    pos = at + 1

    def _simple_link(self, openers: list[list[int]], match: re.Match[str], is_image: bool) -> int:
        """Record the link a `_SIMPLE_LINK` match holds, as `_close` would; its end offset."""
        link_span = Span(match.start(), match.end())
        if match.group(2) is not None:
            link = Link(
                LinkKind.INLINE,
                link_span,
                match.group(1),
                match.group(2),
                Span(*match.span(2)),
                is_image=is_image,
            )
        else:
            link = Link(
                LinkKind.REFERENCE,
                link_span,
                match.group(1),
                label=match.group(3),
                label_span=Span(*match.span(3)),
                is_image=is_image,
            )
        self._record(link, openers, is_image)
        return link_span.end

    def _record(self, link: Link, openers: list[list[int]], is_image: bool) -> None:
        self.links.append(link)
        if openers and not is_image and self._resolves(link):
            for earlier in openers:
                if not earlier[1]:
                    earlier[2] = False  # links cannot contain links

    def _close(
        self, openers: list[list[int]], opener: int, is_image: bool, close: int, end: int
    ) -> int:
        """Try the link from `opener` to the `]` at `close`; its end offset, or -1."""
        text = self.text
        tail = _SIMPLE_TAIL.match(text, close + 1, end)
        if tail is not None:
            # `(destination)` or `[label]` with nothing to unescape or balance: the common
            # forms, built here as `_link` would build them.
            text_start = opener + 2 if is_image else opener + 1
            if tail.group(1) is not None:
                target_start, target_end = tail.span(1)
                link: Link | None = Link(
                    LinkKind.INLINE,
                    Span(opener, tail.end()),
                    text[text_start:close],
                    tail.group(1),
                    Span(target_start, target_end),
                    is_image=is_image,
                )
            else:
                label_start, label_end = tail.span(2)
                link = Link(
                    LinkKind.REFERENCE,
                    Span(opener, tail.end()),
                    text[text_start:close],
                    label=tail.group(2),
                    label_span=Span(label_start, label_end),
                    is_image=is_image,
                )
        else:
            link = self._link(opener, is_image, close, end)
        if link is None:
            return -1
        self._record(link, openers, is_image)
        return link.span.end

    def _angle(self, at: int, end: int) -> int:
        """Skip an autolink (recording it) or raw HTML starting at `at`; else just the `<`."""
        text = self.text
        autolink = _AUTOLINK.match(text, at, end)
        if autolink is not None:
            self.links.append(
                Link(
                    LinkKind.AUTOLINK,
                    Span(at, autolink.end()),
                    "",
                    autolink.group(1),
                    Span(at + 1, autolink.end() - 1),
                )
            )
            return autolink.end()
        tag = _HTML_TAG.match(text, at, end)
        if tag is not None:
            return tag.end()
        for opening, closing in _HTML_OTHER.items():
            if text.startswith(opening, at):
                found = self._find(closing, at + len(opening), end)
                return found + len(closing) if found >= 0 else at + 1
        if text.startswith("<!", at) and at + 2 < end and text[at + 2].isalpha():
            found = self._find(">", at + 2, end)  # a declaration such as `<!DOCTYPE html>`
            return found + 1 if found >= 0 else at + 1
        return at + 1

    def _resolves(self, link: Link) -> bool:
        if link.kind is LinkKind.INLINE or link.label is None:
            return True
        return self._is_defined(link.label)

    def _is_defined(self, label: str) -> bool:
        if self._defined is None:
            self._defined = {definition.key for definition in self.definitions}
        return normalize_label(label) in self._defined

    def _link(self, opener: int, is_image: bool, close: int, end: int) -> Link | None:
        """The link whose text runs from the bracket at `opener` to the `]` at `close`."""
        text = self.text
        text_start = opener + 2 if is_image else opener + 1
        after = close + 1
        if after < end and text[after] == "(":
            inline = self._inline_destination(after + 1, end)
            if inline is not None:
                target_start, target_end, link_end, has_liquid = inline
                if has_liquid is None:
                    return None
                return Link(
                    LinkKind.INLINE,
                    Span(opener, link_end),
                    text[text_start:close],
                    text[target_start:target_end],
                    Span(target_start, target_end),
                    is_image=is_image,
                )
        footnote = text.startswith("^", text_start)
        # The text is sliced only once it may be a label (at most 999 characters), so that
        # deeply nested brackets cannot make the work quadratic.
        label_text = text[text_start:close] if close - text_start <= 999 else None
        if after < end and text[after] == "[":
            label = _LABEL.match(text, after, end)
            if label is not None:
                if label.end() - after == 2:  # `[text][]`
                    if footnote or label_text is None or not _valid_label(label_text):
                        return None
                    return Link(
                        LinkKind.COLLAPSED,
                        Span(opener, label.end()),
                        label_text,
                        label=label_text,
                        label_span=Span(text_start, close),
                        is_image=is_image,
                    )
                written = label.group(1)
                if _valid_label(written) and not written.startswith("^"):
                    return Link(
                        LinkKind.REFERENCE,
                        Span(opener, label.end()),
                        text[text_start:close],
                        label=written,
                        label_span=Span(after + 1, label.end() - 1),
                        is_image=is_image,
                    )
        if footnote or label_text is None or not _valid_label(label_text):
            return None
        if not self._is_defined(label_text):
            return None  # `[text]` with no definition is just text
        return Link(
            LinkKind.SHORTCUT,
            Span(opener, after),
            label_text,
            label=label_text,
            label_span=Span(text_start, close),
            is_image=is_image,
        )

    def _inline_destination(self, pos: int, end: int) -> tuple[int, int, int, bool | None] | None:
        """Parse `destination "title")` from `pos`: (target start, target end, link end, liquid).

        `liquid` is None when the destination is a Liquid tag (`{% post_url %}`): that link is
        the tag's, and no Markdown link is reported for it.
        """
        text = self.text
        pos = _skip_spaces(text, pos, end)
        if pos >= end:
            return None
        has_liquid: bool | None = False
        if text[pos] == "<":
            target_start = pos + 1
            scan = target_start
            while scan < end:
                char = text[scan]
                if char == "\\" and scan + 1 < end:
                    scan += 2
                    continue
                if char in "<\r\n":
                    return None
                if char == ">":
                    break
                scan += 1
            else:
                return None
            target_end = scan
            pos = scan + 1
        else:
            target_start = scan = pos
            depth = 0
            while True:
                scan = _DESTINATION_CHUNK.match(text, scan, end).end()  # type: ignore[union-attr]
                if scan >= end:
                    break
                char = text[scan]
                if char == "\\":
                    scan += 2 if text[scan + 1 : scan + 2] in _ESCAPABLE else 1
                elif char == "{":
                    if scan in self.opaque:
                        # Liquid renders before Markdown: `({{ site.baseurl }}/a.html)` is a link.
                        if text.startswith("{%", scan):
                            has_liquid = None
                        elif has_liquid is False:
                            has_liquid = True
                        scan = min(self.opaque[scan], end)
                    else:
                        scan += 1
                elif char == "(":
                    depth += 1
                    self._paren_budget -= 1
                    if depth > _MAX_PAREN_DEPTH or (self._paren_budget < 0 and depth > 1):
                        return None
                    scan += 1
                elif char == ")":
                    if depth == 0:
                        break
                    depth -= 1
                    scan += 1
                else:  # white space or a control character ends it
                    break
            if depth != 0:
                return None
            target_end = pos = scan
        spaced = _skip_spaces(text, pos, end)
        if spaced > pos and spaced < end and text[spaced] in "\"'(":
            title = _TITLE.match(text, spaced, end)
            pos = _skip_spaces(text, title.end(), end) if title is not None else spaced
        else:
            pos = spaced
        if pos < end and text[pos] == ")":
            return target_start, target_end, pos + 1, has_liquid
        return None


def _skip_spaces(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos] in " \t\r\n":
        pos += 1
    return pos


_ESCAPABLE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _valid_label(label: str) -> bool:
    """A CommonMark link label: at most 999 characters, not blank, brackets only escaped."""
    if len(label) > 999 or not label.strip():
        return False
    if "[" in label or "]" in label:
        stripped = label.replace("\\\\", "").replace("\\[", "").replace("\\]", "")
        return "[" not in stripped and "]" not in stripped
    return True


# ---------------------------------------------------------------------------------------------
# Heading ids

_GFM_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_GFM_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\[[^\]]*\]")
_GFM_AUTOLINK = re.compile(r"<((?:[A-Za-z][A-Za-z0-9.+-]{1,31}:|[^\s<>@]+@)[^\s<>]*)>")
_GFM_HTML = re.compile(r"</?[A-Za-z][^<>]*>")
_GFM_ESCAPE = re.compile(r"\\([\\.*_+`<>()\[\]{}#!:|\"'$=~-])")
_GFM_TYPOGRAPHIC = re.compile(r"---|--|<< | >>")  # become dashes and guillemets (no word chars)
_GFM_EMPHASIS = re.compile(r"(?<![^\W_])_+|_+(?![^\W_])")
_GFM_CODE = re.compile(r"(`+)(.+?)\1")
_GFM_MARKUP = re.compile(r"[`\[<&\\_!>-]")  # without these, the text is the rendered text
_WORD_ASCII = re.compile(r"[^A-Za-z0-9_\- \t]")


def gfm_header_id_base(text: str) -> str:
    """The id kramdown's GFM parser (Jekyll's default) derives from a heading's text.

    kramdown builds the id from the heading's rendered text: markup goes, link text and code
    stay, then `generate_gfm_header_id` lowercases, drops every character that is not a word
    character, `-`, space or tab, and turns spaces and tabs into hyphens (runs are kept).
    """
    if _GFM_MARKUP.search(text) is not None:
        text = _strip_markup(text)
    text = text.lower()
    if text.isascii():
        text = _WORD_ASCII.sub("", text)
    else:
        text = "".join(char for char in text if _is_word(char) or char in "- \t")
    return text.replace(" ", "-").replace("\t", "-")


def _strip_markup(text: str) -> str:
    """A heading's text as kramdown renders it: link text and code kept, markup dropped."""
    text = _GFM_CODE.sub(lambda match: match.group(2).strip(), text)
    text = _GFM_IMAGE.sub("", text)
    text = _GFM_LINK.sub(lambda match: match.group(1) or match.group(2) or "", text)
    text = _GFM_AUTOLINK.sub(r"\1", text)
    text = _GFM_HTML.sub("", text)
    text = _GFM_TYPOGRAPHIC.sub("", text)
    text = _GFM_ESCAPE.sub(lambda match: "\x00" if match.group(1) == "_" else match.group(1), text)
    text = _GFM_EMPHASIS.sub("", text).replace("\x00", "_")
    return html.unescape(text) if "&" in text else text


def _is_word(char: str) -> bool:
    # Ruby's \p{Word}: letters, marks, decimal numbers and connector punctuation.
    if char.isalnum():
        return unicodedata.category(char) not in ("No",) or char.isdecimal()
    return unicodedata.category(char) in ("Mn", "Mc", "Me", "Pc", "Nl")


def kramdown_header_id_base(text: str) -> str:
    """The id kramdown's own parser (`input: kramdown`) derives from a heading's text."""
    text = re.sub(r"^[^a-zA-Z]+", "", text)
    text = re.sub(r"[^a-zA-Z0-9 -]", "", text)
    return text.replace(" ", "-").lower()


def _assign_ids(text: str, lines: list[_HeadingLine], style: str) -> list[Heading]:
    headings: list[Heading] = []
    used: dict[str, int] = {}
    for line in lines:
        heading_text = text[line.text_span.start : line.text_span.end]
        anchor = line.explicit_id
        if anchor is None:
            if style == "kramdown":
                anchor = kramdown_header_id_base(heading_text) or "section"
                if anchor in used:
                    used[anchor] += 1
                    anchor = f"{anchor}-{used[anchor]}"
                else:
                    used[anchor] = 0
            else:
                base = gfm_header_id_base(heading_text)
                count = used.get(base, -1) + 1
                used[base] = count
                anchor = f"{base}-{count}" if count else base
        headings.append(Heading(line.level, heading_text, anchor, line.span))
    return headings


# ---------------------------------------------------------------------------------------------
# Entry point


def scan_body(
    text: str,
    start: int = 0,
    end: int | None = None,
    opaque: list[Span] | None = None,
    header_ids: str = "gfm",
) -> BodyScan:
    """Scan the Markdown of `text[start:end]`.

    `opaque` lists spans (sorted, not overlapping) that are not Markdown: Liquid tags and the
    blocks whose content does not render (see `liquid.LiquidScan.opaque`). `header_ids` is
    "gfm" (Jekyll's default kramdown input) or "kramdown".
    """
    end = len(text) if end is None else end
    opaque = opaque or []
    blocks = _Blocks(text, kramdown_input=header_ids == "kramdown")
    blocks.scan(start, end)
    opaque_starts = {span.start: span.end for span in opaque}
    # Without code spans, escapes, images, autolinks or HTML, only a `[` starts a link, and
    # `str.find` skips prose to it many times faster than a regex search testing each character.
    only_brackets = all(text.find(char, start, end) < 0 for char in "\\`!<")
    inline = _Inline(text, blocks.definitions, opaque_starts, only_brackets)
    inline.scan(_outside(blocks.regions, opaque))
    definitions = blocks.definitions
    heading_lines = blocks.headings
    if opaque:
        definitions = _not_opaque(definitions, opaque)
        heading_lines = _not_opaque(heading_lines, opaque)
    return BodyScan(
        links=inline.links,
        definitions=definitions,
        headings=_assign_ids(text, heading_lines, header_ids),
        first_paragraph=_first_paragraph(text, blocks.leading, opaque),
    )


def _first_paragraph(
    text: str, leading: list[tuple[int, int] | None], opaque: list[Span]
) -> Span | None:
    """The first block when it is a paragraph, passing paragraphs made only of Liquid tags
    (`{% include toc.html %}`, `{% assign ... %}`), which render to little or nothing."""
    for block in leading:
        if block is None:
            return None
        if not _only_liquid(text, *block, opaque):
            return Span(*block)
    return None


def _only_liquid(text: str, start: int, end: int, opaque: list[Span]) -> bool:
    """Whether every character of `text[start:end]` but white space lies in a Liquid tag or
    comment."""
    if not opaque:
        return False
    index = bisect.bisect_right(opaque, start, key=lambda span: span.start) - 1
    if index < 0 or opaque[index].end <= start:
        index += 1  # no span covers the start; the next one starts after it
    position = start
    while position < end:
        if index >= len(opaque) or opaque[index].start >= end:
            return not text[position:end].strip()
        span = opaque[index]
        if span.start > position and text[position : span.start].strip():
            return False  # text before the next tag
        position = max(position, span.end)
        index += 1
    return True


_Block = TypeVar("_Block", ReferenceDefinition, _HeadingLine)


def _not_opaque(blocks: list[_Block], opaque: list[Span]) -> list[_Block]:
    """The blocks (in text order) that do not start inside an opaque span."""
    if not blocks or blocks[-1].span.start < opaque[0].start:
        return blocks  # all before the first tag, as when Liquid only signs the review
    starts = [span.start for span in opaque]
    return [block for block in blocks if not _inside(block.span.start, opaque, starts)]


def _inside(offset: int, spans: list[Span], starts: list[int]) -> bool:
    """Whether `offset` lies in one of `spans` (sorted), whose starts are `starts`."""
    index = bisect.bisect_right(starts, offset) - 1
    return index >= 0 and offset < spans[index].end


def _outside(regions: list[tuple[int, int]], opaque: list[Span]) -> Iterable[tuple[int, int]]:
    """The regions, each started after any opaque span it would start inside."""
    if not opaque:
        yield from regions
        return
    regions = sorted(regions)
    index = 0
    for start, end in regions:
        while index < len(opaque) and opaque[index].end <= start:
            index += 1
        if index < len(opaque) and opaque[index].start < start:
            start = opaque[index].end
        if start < end:
            yield start, end


# ---------------------------------------------------------------------------------------------
# Salutation

_DEAR = re.compile(r"[ \t]*([*_]{0,3})[ \t]*(dear)\b[ \t]*", re.IGNORECASE)
# A salutation is one short line; reading no further bounds the work on pathological input.
_MAX_SALUTATION_CHARS = 1000
_ADDRESSEE_END = re.compile(r"[*_]+|,")
_TRAILING = " \t,*_\\"  # after the position: the closing comma and emphasis, a hard break
_LINE_BREAK = re.compile(r"[\r\n]")
_LEADING = re.compile(r"[ \t*_]*(?:,[ \t*_]*)?")


def parse_salutation(text: str, paragraph: Span | None) -> Salutation | None:
    """The salutation, when `paragraph` (the body's first) opens with "Dear".

    The letter shape is `_**Dear <addressee>**, <position>,_`; emphasis may use `*` or `_`, the
    position may be missing, and only the paragraph's first line is read for the two parts.
    """
    if paragraph is None:
        return None
    dear = _DEAR.match(text, paragraph.start, paragraph.end)
    if dear is None:
        return None
    addressee_start = dear.end()
    line_end = min(paragraph.end, addressee_start + _MAX_SALUTATION_CHARS)
    line_break = _LINE_BREAK.search(text, addressee_start, line_end)
    if line_break is not None:
        line_end = line_break.start()
    stop = _ADDRESSEE_END.search(text, addressee_start, line_end)
    addressee_end = stop.start() if stop is not None else line_end
    addressee_span = _trimmed(text, addressee_start, addressee_end)
    rest = _LEADING.match(text, addressee_end, line_end)
    position_start = rest.end() if rest is not None else addressee_end
    position_end = position_start + len(text[position_start:line_end].rstrip(_TRAILING))
    position_span = _trimmed(text, position_start, position_end)
    addressee = text[addressee_span.start : addressee_span.end] if addressee_span else None
    position = text[position_span.start : position_span.end] if position_span else None
    return Salutation(
        span=paragraph,
        addressee=addressee,
        addressee_span=addressee_span,
        position=position,
        position_span=position_span,
    )


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None
