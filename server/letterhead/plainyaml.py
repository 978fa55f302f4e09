"""A fast reader for plain front matter, giving exactly what the full YAML reader gives.

Nearly every review's front matter is a handful of `key: value` lines: plain or quoted scalars,
a flow list `[a, b]` or a block list of `- item` lines. Composing that with PyYAML (C parser,
Python resolver and constructor) costs more than the rest of a review's parse. This module reads
that common shape with a few regular expressions and resolves each scalar with PyYAML's own
resolver and constructors, so values and types come out identical (`yes` is True, `2014-05-01` a
date, `1e3` a string as YAML 1.1 says).

It is strict: anything outside the shape (anchors, tags, comments after values, multi-line
scalars, escapes, nesting, tabs, CR line ends, unusual characters) makes `read_plain` return None
and the caller uses the full reader. A test checks that both readers agree wherever this one
answers, on generated and real front matter.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml

from letterhead.document import FrontMatterEntry, ListItem, ValueStyle
from letterhead.positions import Span

_STR_TAG = "tag:yaml.org,2002:str"
_MAX_REMEMBERED = 20_000
# YAML bounds an implicit key to 1,024 characters; long lines are left to the full reader.
_MAX_LINE = 1_000

# Characters that make YAML (or the C reader) behave specially anywhere: control characters,
# YAML's extra line breaks (NEL, LS, PS), a BOM, surrogates, non-characters, tabs, CR.
_UNUSUAL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
# A plain scalar's first character: no YAML indicator, and nothing YAML could read as one (a
# dash, plus or dot only before a character that is no indicator either).
_PLAIN_FIRST = r"""(?:[A-Za-z0-9_(/$\u00a0-\U0010ffff]|[-+.](?=[^\s,\[\]{}\#&*!|>'"%@`:?-]))"""
# A plain scalar on a line of its own, and the spaces after it (which are not part of it): no
# `: ` or ` #` inside, no `:` at its end. Possessive, so a line it does not fit fails at once.
_PLAIN = rf"(?=\S){_PLAIN_FIRST}(?:[^:\#\n]++|:(?=[^\ \n])|(?<!\ )\#)*+"
# A one-line quoted scalar without escapes (anything else is left to the full reader).
_QUOTED = r"""'[^'\n]*'|"[^"\\\n]*\""""
# One item of a one-line flow list and the comma after it (none after the last): quoted, or
# plain (with the spaces after it) without flow indicators, `:` or `#`. Neither holds a comma.
_FLOW_ITEM = re.compile(
    rf"""\ *(?:(?P<quoted>'[^',\n]*'|"[^",\\\n]*")|(?P<plain>{_PLAIN_FIRST}[^\[\]{{}},:\#]*+))
    \ *(?:(?P<comma>,)|\Z)""",
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


class _Scalars(dict[str, tuple[bool, Any]]):
    """Plain scalars resolved and constructed as PyYAML's safe loader does: `_SCALARS[text]` is
    (whether the scalar can be read here, its value). Answers are remembered, front matter
    repeating the same words across a whole site, and then a lookup never leaves C."""

    def __init__(self) -> None:
        super().__init__()
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        # The resolver picks its patterns by a scalar's first character: a scalar starting with
        # none of these (`review`, `Amélie`) is a string, whatever follows.
        resolvers = self.resolver.yaml_implicit_resolvers
        self.typed_starts = frozenset(() if None in resolvers else resolvers)

    def __missing__(self, text: str) -> tuple[bool, Any]:
        answer: tuple[bool, Any] = (True, text)
        if text[0] in self.typed_starts:
            tag = self.resolver.resolve(yaml.ScalarNode, text, (True, False))
            if tag != _STR_TAG:
                answer = self._construct(tag, text)
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
    if _UNUSUAL.search(text, start, end) is not None:
        return None
    entries: list[FrontMatterEntry] = []
    block: _BlockList | None = None  # a `key:` alone, and the list items read after it
    position = start  # where the current line starts
    while position < end:
        line = _LINE.match(text, position, end)
        if line is None:
            return None
        kind = line.lastgroup
        if kind == "plain_item" or kind == "quoted_item":
            if block is None or not block.add(line, kind, position):
                return None  # an item after no `key:`, out of line, or not a plain scalar
            position = line.end() + 1
            continue
        if block is not None:
            entries.append(block.entry())
            if block.items and _COMMENT_NEXT.match(text, position, end) is not None:
                return None  # the full reader's list would reach over the comment: keep its span
            block = None
        if kind is not None and kind != "comment":  # a `key:` line
            if line.end() - position > _MAX_LINE:
                return None
            key = sys.intern(line.group("key"))  # the same few keys in every file of a site
            key_span = _SPANS[line.span("key")]
            if kind == "key":
                block = _BlockList(key, key_span)
            else:
                entry = _inline_entry(key, key_span, line, kind)
                if entry is None:
                    return None
                entries.append(entry)
        position = line.end() + 1
    if block is not None:
        entries.append(block.entry())
    return entries


def _inline_entry(
    key: str, key_span: Span, line: re.Match[str], kind: str
) -> FrontMatterEntry | None:
    """The entry of a `key: value` line."""
    at, value_end = line.span(kind)
    if kind == "flow":
        items = _flow_items(line.string, at + 1, value_end - 1)
        if items is None:
            return None
        values = [item.value for item in items]
        span = _SPANS[at, value_end]
        return FrontMatterEntry(key, key_span, values, span, ValueStyle.FLOW_LIST, items)
    written = line.group(kind)
    if kind == "quoted":
        span = _SPANS[at, value_end]
        return FrontMatterEntry(key, key_span, written[1:-1], span, ValueStyle.QUOTED)
    written = written.rstrip(" ")
    readable, value = _SCALARS[written]
    if not readable:
        return None
    span = _SPANS[at, at + len(written)]
    return FrontMatterEntry(key, key_span, value, span, ValueStyle.PLAIN)


def _flow_items(text: str, start: int, end: int) -> list[ListItem] | None:
    """The items of a one-line flow list whose inside is `text[start:end]`."""
    items: list[ListItem] = []
    position = start
    while position < end:  # `[]` has no items; `[ ]` (fine YAML, but rare) no match
        item = _FLOW_ITEM.match(text, position, end)
        if item is None:
            return None
        if item.start("quoted") >= 0:
            at, item_end = item.span("quoted")
            span = _SPANS[at, item_end]
            items.append(ListItem(text[at + 1 : item_end - 1], span, _SPANS[at + 1, item_end - 1]))
        else:
            written = item.group("plain").rstrip(" ")
            readable, value = _SCALARS[written]
            if not readable:
                return None
            at = item.start("plain")
            span = _SPANS[at, at + len(written)]
            items.append(ListItem(value, span, span))
        position = item.end()
        if position == end and item.start("comma") >= 0:
            return None  # a trailing comma
    return items


class _BlockList:
    """A `key:` alone, and the `- item` lines that follow it (none: the value is null)."""

    __slots__ = ("first_dash", "indent", "items", "key", "key_span", "values")

    def __init__(self, key: str, key_span: Span) -> None:
        self.key = key
        self.key_span = key_span
        self.items: list[ListItem] = []
        self.values: list[Any] = []
        self.indent = -1  # of the first item's dash; the others must share it
        self.first_dash = -1

    def add(self, line: re.Match[str], kind: str, position: int) -> bool:
        """Read one item line; False when it is not one of this list's plain scalars."""
        dash = line.end("indent")
        if self.indent < 0:
            self.indent, self.first_dash = dash - position, dash
        elif dash - position != self.indent:
            return False
        written = line.group(kind).rstrip(" ")  # a plain item comes with the spaces after it
        at = line.start(kind)
        span = _SPANS[at, at + len(written)]
        if kind == "quoted_item":
            value: Any = written[1:-1]
            self.items.append(ListItem(value, span, _SPANS[at + 1, span.end - 1]))
        else:
            readable, value = _SCALARS[written]
            if not readable:
                return False
            self.items.append(ListItem(value, span, span))
        self.values.append(value)
        return True

    def entry(self) -> FrontMatterEntry:
        if not self.items:
            colon = self.key_span.end + 1
            return FrontMatterEntry(
                self.key, self.key_span, None, _SPANS[colon, colon], ValueStyle.NULL
            )
        value_span = _SPANS[self.first_dash, self.items[-1].span.end]
        return FrontMatterEntry(
            self.key, self.key_span, self.values, value_span, ValueStyle.BLOCK_LIST, self.items
        )
