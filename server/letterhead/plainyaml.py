"""A fast reader for plain front matter, giving exactly what the full YAML reader gives.

Nearly every review's front matter is a handful of `key: value` lines: plain or quoted scalars,
a flow list `[a, b]` or a block list of `- item` lines. Composing that with PyYAML (C parser,
Python resolver and constructor) costs more than the rest of a review's parse. This module reads
that common shape with a few regular expressions and resolves each scalar with PyYAML's own
resolver and constructors, so values and types come out identical (`yes` is True, `2014-05-01` a
date, `1e3` a string as YAML 1.1 says). A line is read on its own, with offsets counted from its
start, so what it says is remembered by its text: most lines of a site are the same few.

It is strict: anything outside the shape (anchors, tags, comments after values, multi-line
scalars, escapes, nesting, tabs, CR line ends, unusual characters) makes `read_plain` return None
and the caller uses the full reader. A test checks that both readers agree wherever this one
answers, on generated and real front matter.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

from letterhead.document import FrontMatterEntry, ListItem, ValueStyle
from letterhead.positions import Span

_MAX_REMEMBERED = 20_000
# YAML bounds an implicit key to 1,024 characters; long lines are left to the full reader.
_MAX_LINE = 1_000
# Longer lines are read each time, not remembered: hostile input must not fill memory.
_MAX_REMEMBERED_LINE = 256
# Lines and flow items remembered: the lines most files share are met in the first few files,
# and the rest (titles, ids) are never met again, so a few thousand hold every repeated one.
# (20,000 held the language server's memory 4 MiB higher for nothing.)
_MAX_REMEMBERED_LINES = 4_096

# Characters that make YAML (or the C reader) behave specially anywhere: control characters,
# YAML's extra line breaks (NEL, LS, PS), a BOM, surrogates, non-characters, tabs, CR.
_UNUSUAL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
# A plain scalar's first character: no YAML indicator, and nothing YAML could read as one (a
# dash, plus or dot only before a character that is no indicator either). Everything from U+00A0
# up is written as a negated class: as a range up to U+10FFFF, `re` built its bitmap a character
# at a time, 3.7 and 1.8 ms of every start for the two patterns that use it.
_PLAIN_FIRST = r"""(?:[A-Za-z0-9_(/$]|[^\x00-\x9f]|[-+.](?=[^\s,\[\]{}\#&*!|>'"%@`:?-]))"""
# A plain scalar on a line of its own, and the spaces after it (which are not part of it): no
# `: ` or ` #` inside, no `:` at its end. Possessive, so a line it does not fit fails at once.
_PLAIN = rf"(?=\S){_PLAIN_FIRST}(?:[^:\#\n]++|:(?=[^\ \n])|(?<!\ )\#)*+"
# A one-line quoted scalar without escapes (anything else is left to the full reader).
_QUOTED = r"""'[^'\n]*'|"[^"\\\n]*\""""
# One item of a one-line flow list, as the text between two of its commas (items hold none):
# quoted, or plain (with the spaces after it) without flow indicators, `:` or `#`.
_FLOW_ITEM = re.compile(
    rf"""\ *(?:(?P<quoted>'[^']*'|"[^"\\]*")|(?P<plain>{_PLAIN_FIRST}[^\[\]{{}}:\#]*+))\ *""",
    re.VERBOSE,
)
# One line of the shape this module reads, without its line break: `key: value` (the value plain,
# quoted or a one-line flow list), `key:` alone (null, or the key of a block list), a block list
# item, a comment, or an empty line. The name of the group matched last says which.
_LINE = re.compile(
    rf"""
    (?:
        (?P<key>[A-Za-z0-9_][A-Za-z0-9_-]*):
        (?:\ +(?:(?P<plain>{_PLAIN})|(?P<quoted>{_QUOTED})|(?P<flow>\[[^\n]*\])))?
        \ *
      | (?P<indent>\ *)-\ +(?:(?P<plain_item>{_PLAIN})|(?P<quoted_item>{_QUOTED}))\ *
      | (?P<comment>\#[^\n]*)
    )?
    (?=\n|\Z)
    """,
    re.VERBOSE,
)
# After a block list: blank lines, then a comment?
_COMMENT_NEXT = re.compile(r"\n*#")


# What a line of front matter says, with offsets counted from the start of the line. Plain
# tuples: lines not seen before are read at every file, and a tuple is the cheapest thing to make.
#   (_ENTRY, key, key_end, style, value, value_start, value_end)  `key: value`, a scalar value
#   (_FLOW, key, key_end, items, value_start, value_end)  `key: [a, b]`
#   (_KEY, key, key_end)  `key:` alone: a null value, or the key of a block list
#   (_ITEM, indent, item)  `- item` in a block list
#   (_BLANK,)  an empty line or a comment
#   (_NOT_PLAIN,)  anything else: the full reader must read the front matter
# An item is (value, start, end, text_start, text_end), the text inside the quotes if quoted.
_ENTRY, _FLOW, _KEY, _ITEM, _BLANK, _NOT_PLAIN = range(6)
_Item = tuple[Any, int, int, int, int]
_Line = tuple[Any, ...]
_BLANK_LINE: _Line = (_BLANK,)
_NOT_PLAIN_LINE: _Line = (_NOT_PLAIN,)
_T = TypeVar("_T")


class _Scalars(dict[str, tuple[bool, Any]]):
    """Plain scalars resolved and constructed as PyYAML's safe loader does: `_SCALARS[text]` is
    (whether the scalar can be read here, its value). Answers are remembered, front matter
    repeating the same words across a whole site, and then a lookup never leaves C."""

    def __init__(self) -> None:
        super().__init__()
        self.constructor = yaml.constructor.SafeConstructor()
        # The resolver's patterns, by the first character of the scalars they apply to, in the
        # order it tries them: a scalar starting with none of these (`review`, `Amélie`) is a
        # string, whatever follows. (What `Resolver.resolve` does, without its per-call set-up.)
        resolvers = yaml.resolver.Resolver.yaml_implicit_resolvers
        anywhere = resolvers.get(None, [])
        self.patterns = {start: patterns + anywhere for start, patterns in resolvers.items()}

    def __missing__(self, text: str) -> tuple[bool, Any]:
        answer: tuple[bool, Any] = (True, text)
        for tag, pattern in self.patterns.get(text[0], ()):
            if pattern.match(text):
                answer = self._construct(tag, text)
                break
        # Mutable values (none today) must never be shared between documents.
        if len(self) < _MAX_REMEMBERED and not isinstance(answer[1], (list, dict)):
            self[text] = answer
        return answer

    def _construct(self, tag: str, text: str) -> tuple[bool, Any]:
        construct = self.constructor.yaml_constructors.get(tag)
        if construct is None:
            return False, None
        try:
            return True, construct(self.constructor, yaml.ScalarNode(tag, text))
        except Exception:  # e.g. `2013-02-30`: the full reader keeps such text as it is
            return False, None


class _Remembered(dict[str, _T]):
    """`memo[text]` is `read(text)`, remembered for texts of a line at most and up to a bound:
    the answers hold offsets within `text` and immutable values only, so they are shared."""

    def __init__(self, read: Callable[[str], _T]) -> None:
        super().__init__()
        self.read = read

    def __missing__(self, text: str) -> _T:
        answer = self.read(text)
        if len(self) < _MAX_REMEMBERED_LINES and len(text) <= _MAX_REMEMBERED_LINE:
            self[text] = answer
        return answer


class _Spans(dict[tuple[int, int], Span]):
    """`_SPANS[start, end]` is that Span. Spans are immutable, and within front matter few: the
    same offsets recur file after file (95% of them on a generated site), so each is made once
    and shared."""

    def __missing__(self, key: tuple[int, int]) -> Span:
        span = Span(*key)
        if len(self) < _MAX_REMEMBERED:
            self[key] = span
        return span


_SCALARS = _Scalars()
_SPANS = _Spans()


def read_plain(text: str, start: int, end: int) -> list[FrontMatterEntry] | None:
    """The entries of the YAML in `text[start:end]`, or None when it is not plain enough."""
    entries: list[FrontMatterEntry] = []
    block: _BlockList | None = None  # a `key:` alone, and the list items read after it
    position = start  # where the current line starts
    for line in text[start:end].split("\n"):
        read = _LINES[line]
        kind = read[0]
        if kind is _ITEM:
            if block is None or not block.add(read[1], read[2], position):
                return None  # an item after no `key:`, or out of line
            position += len(line) + 1
            continue
        if block is not None:
            entries.append(block.entry())
            if block.items and _COMMENT_NEXT.match(text, position, end) is not None:
                return None  # the full reader's list would reach over the comment: keep its span
            block = None
        if kind is _ENTRY:
            _, key, key_end, style, value, value_start, value_end = read
            key_span = _SPANS[position, position + key_end]
            value_span = _SPANS[position + value_start, position + value_end]
            entries.append(FrontMatterEntry(key, key_span, value, value_span, style))
        elif kind is _FLOW:
            _, key, key_end, flow_items, value_start, value_end = read
            key_span = _SPANS[position, position + key_end]
            value_span = _SPANS[position + value_start, position + value_end]
            # New lists for every file: lists are mutable, never shared between documents.
            items = [_list_item(item, position) for item in flow_items]
            values = [item.value for item in items]
            entries.append(
                FrontMatterEntry(key, key_span, values, value_span, ValueStyle.FLOW_LIST, items)
            )
        elif kind is _KEY:
            block = _BlockList(read[1], _SPANS[position, position + read[2]])
        elif kind is _NOT_PLAIN:
            return None
        position += len(line) + 1
    if block is not None:
        entries.append(block.entry())
    return entries


def _list_item(item: _Item, position: int) -> ListItem:
    """The item, its text starting at `position`."""
    value, start, end, text_start, text_end = item
    span = _SPANS[position + start, position + end]
    if text_start == start:
        return ListItem(value, span, span)
    return ListItem(value, span, _SPANS[position + text_start, position + text_end])


def _read_line(line: str) -> _Line:
    """What `line` (without its line break) says, on its own: the block list an item belongs to
    and a comment after a list are for `read_plain` to see."""
    # Checked line by line rather than once per file, so that a line seen before costs nothing.
    if _UNUSUAL.search(line) is not None:
        return _NOT_PLAIN_LINE
    match = _LINE.match(line)
    if match is None:
        return _NOT_PLAIN_LINE
    kind = match.lastgroup
    if kind is None or kind == "comment":
        return _BLANK_LINE
    if kind == "plain_item" or kind == "quoted_item":
        item = _read_scalar(match, kind)
        return _NOT_PLAIN_LINE if item is None else (_ITEM, match.end("indent"), item)
    if len(line) > _MAX_LINE:
        return _NOT_PLAIN_LINE
    key = sys.intern(match.group("key"))  # the same few keys in every file of a site
    key_end = match.end("key")
    if kind == "key":
        return (_KEY, key, key_end)
    if kind == "flow":
        at, value_end = match.span(kind)
        items = _flow_items(line, at + 1, value_end - 1)
        if items is None:
            return _NOT_PLAIN_LINE
        return (_FLOW, key, key_end, items, at, value_end)
    value = _read_scalar(match, kind)
    if value is None:
        return _NOT_PLAIN_LINE
    style = ValueStyle.QUOTED if kind == "quoted" else ValueStyle.PLAIN
    return (_ENTRY, key, key_end, style, value[0], value[1], value[2])


def _read_scalar(match: re.Match[str], kind: str) -> _Item | None:
    """The scalar matched as group `kind` (`quoted...` or `plain...`), or None if unreadable."""
    written = match.group(kind)
    at = match.start(kind)
    if kind.startswith("quoted"):
        end = at + len(written)
        return (written[1:-1], at, end, at + 1, end - 1)
    written = written.rstrip(" ")  # a plain scalar comes with the spaces after it
    readable, value = _SCALARS[written]
    if not readable:
        return None
    end = at + len(written)
    return (value, at, end, at, end)


def _flow_item(text: str) -> _Item | None:
    """The item written as `text` between two commas of a flow list, or None."""
    match = _FLOW_ITEM.fullmatch(text)
    return None if match is None else _read_scalar(match, match.lastgroup or "")


# What each line says (half the lines of a site's front matter are the same few: `published:
# true`, `categories:`, `  - reviews`), and each item between two commas of a flow list (a site's
# lists are mostly new, but made of the same few tags).
_LINES: _Remembered[_Line] = _Remembered(_read_line)
_FLOW_ITEMS: _Remembered[_Item | None] = _Remembered(_flow_item)


def _flow_items(line: str, start: int, end: int) -> tuple[_Item, ...] | None:
    """The items of the one-line flow list whose inside is `line[start:end]`."""
    if start == end:
        return ()  # `[]`; `[ ]` (fine YAML, but rare) is left to the full reader
    items = []
    at = start
    for text in line[start:end].split(","):  # an empty text (`[a,]`, `[a,,b]`) reads as None
        item = _FLOW_ITEMS[text]
        if item is None:
            return None
        value, item_start, item_end, text_start, text_end = item  # offsets from `at`
        items.append((value, at + item_start, at + item_end, at + text_start, at + text_end))
        at += len(text) + 1
    return tuple(items)


class _BlockList:
    """A `key:` alone, and the `- item` lines that follow it (none: the value is null)."""

    __slots__ = ("first_dash", "indent", "items", "key", "key_span")

    def __init__(self, key: str, key_span: Span) -> None:
        self.key = key
        self.key_span = key_span
        self.items: list[ListItem] = []
        self.indent = -1  # of the first item's dash; the others must share it
        self.first_dash = -1

    def add(self, indent: int, item: _Item, position: int) -> bool:
        """Add an item of a line starting at `position`; False when it is out of line."""
        if self.indent < 0:
            self.indent, self.first_dash = indent, position + indent
        elif indent != self.indent:
            return False
        self.items.append(_list_item(item, position))
        return True

    def entry(self) -> FrontMatterEntry:
        if not self.items:
            colon = self.key_span.end + 1
            return FrontMatterEntry(
                self.key, self.key_span, None, _SPANS[colon, colon], ValueStyle.NULL
            )
        value_span = _SPANS[self.first_dash, self.items[-1].span.end]
        values = [item.value for item in self.items]
        return FrontMatterEntry(
            self.key, self.key_span, values, value_span, ValueStyle.BLOCK_LIST, self.items
        )
