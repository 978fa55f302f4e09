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
# `key:` then an optional value; a key is a plain word as most front matter writes it.
_ENTRY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]*):(?: +(\S.*?))? *\Z")
# A block list item: indentation, a dash, one space or more, the item.
_ITEM = re.compile(r"( *)- +(\S.*?) *\Z")
# A plain scalar's first character: no YAML indicator, and nothing YAML could read as one.
_PLAIN_START = re.compile(r"[A-Za-z0-9_(/$\u00a0-\U0010ffff]|[-+.][^\s,\[\]{}#&*!|>'\"%@`:?-]")
# Inside a flow list, a plain item may not hold these at all.
_FLOW_STOP = re.compile(r"[\[\]{},:#]")


class _Scalars:
    """Plain scalars resolved and constructed as PyYAML's safe loader does, answers remembered
    (front matter repeats the same words across a whole site)."""

    def __init__(self) -> None:
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.known: dict[str, tuple[bool, Any]] = {}

    def value(self, text: str) -> tuple[bool, Any]:
        """(whether the scalar can be read here, its value)."""
        found = self.known.get(text)
        if found is not None:
            return found
        tag = self.resolver.resolve(yaml.ScalarNode, text, (True, False))
        if tag == _STR_TAG:
            answer: tuple[bool, Any] = (True, text)
        else:
            construct = self.constructor.yaml_constructors.get(tag)
            try:
                node = yaml.ScalarNode(tag, text)
                answer = (True, construct(self.constructor, node)) if construct else (False, None)
            except Exception:  # e.g. `2013-02-30`: the full reader keeps such text as it is
                answer = (False, None)
        # Mutable values (none today) must never be shared between documents.
        if len(self.known) < _MAX_REMEMBERED and not isinstance(answer[1], (list, dict)):
            self.known[text] = answer
        return answer


_SCALARS = _Scalars()


def read_plain(text: str, start: int, end: int) -> list[FrontMatterEntry] | None:
    """The entries of the YAML in `text[start:end]`, or None when it is not plain enough."""
    yaml_text = text[start:end]
    if "\r" in yaml_text or _UNUSUAL.search(yaml_text) is not None:
        return None
    lines = yaml_text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    entries: list[FrontMatterEntry] = []
    at = start  # offset of the current line in `text`
    number = 0
    count = len(lines)
    while number < count:
        line = lines[number]
        if not line or line.startswith("#"):
            at += len(line) + 1
            number += 1
            continue
        match = _ENTRY.match(line) if len(line) <= _MAX_LINE else None
        if match is None:
            return None
        key = sys.intern(match.group(1))  # the same few keys in every file of a site
        key_span = Span(at + match.start(1), at + match.end(1))
        written = match.group(2)
        if written is not None:
            value_start = at + match.start(2)
            entry = _inline_entry(key, key_span, written, value_start)
            if entry is None:
                return None
            entries.append(entry)
            at += len(line) + 1
            number += 1
            if number < count and lines[number].startswith(" "):
                return None  # a continuation line: a multi-line scalar or worse
            continue
        # `key:` alone: null, or a block list on the lines that follow.
        colon = at + match.end(1) + 1
        at += len(line) + 1
        number += 1
        items: list[ListItem] = []
        values: list[Any] = []
        indent: str | None = None
        while number < count:
            item_line = lines[number]
            item = _ITEM.match(item_line)
            if item is None:
                if item_line.startswith((" ", "-")):
                    return None  # nesting, an odd item, or a continuation
                break
            if indent is None:
                indent = item.group(1)
            elif item.group(1) != indent:
                return None
            read = _block_scalar(item.group(2), at + item.start(2))
            if read is None:
                return None
            items.append(read[0])
            values.append(read[1])
            at += len(item_line) + 1
            number += 1
        if items and _comment_follows(lines, number):
            return None  # the full reader's list would reach over the comment: keep its span
        if not items:
            entries.append(
                FrontMatterEntry(key, key_span, None, Span(colon, colon), ValueStyle.NULL)
            )
            continue
        first_dash = items[0].span.start - _dash_gap(text, items[0].span.start)
        value_span = Span(first_dash, items[-1].span.end)
        entries.append(
            FrontMatterEntry(key, key_span, values, value_span, ValueStyle.BLOCK_LIST, items)
        )
    return entries


def _comment_follows(lines: list[str], number: int) -> bool:
    """Whether a comment line comes next, blank lines skipped."""
    for line in lines[number:]:
        if line:
            return line.startswith("#")
    return False


def _dash_gap(text: str, item_start: int) -> int:
    """How far before an item its `-` stands."""
    position = item_start - 1
    while text[position] == " ":
        position -= 1
    return item_start - position


def _inline_entry(key: str, key_span: Span, written: str, at: int) -> FrontMatterEntry | None:
    if written.startswith("["):
        return _flow_list(key, key_span, written, at)
    if written.startswith(("'", '"')):
        quoted = _quoted(written)
        if quoted is None or len(quoted) + 2 != len(written):
            return None
        span = Span(at, at + len(written))
        return FrontMatterEntry(key, key_span, quoted, span, ValueStyle.QUOTED)
    if not _plain_ok(written, flow=False):
        return None
    readable, value = _SCALARS.value(written)
    if not readable:
        return None
    return FrontMatterEntry(key, key_span, value, Span(at, at + len(written)), ValueStyle.PLAIN)


def _quoted(written: str) -> str | None:
    """The content of a one-line quoted scalar without escapes, else None."""
    quote = written[0]
    close = written.find(quote, 1)
    if close < 0:
        return None
    content = written[1:close]
    if quote == '"' and "\\" in content:
        return None
    if quote == "'" and written.startswith("''", close):
        return None  # an escaped quote: leave it to the full reader
    return content


def _plain_ok(written: str, flow: bool) -> bool:
    if _PLAIN_START.match(written) is None:
        return False
    if ": " in written or " #" in written or written.endswith(":"):
        return False
    return not (flow and _FLOW_STOP.search(written) is not None)


def _block_scalar(written: str, at: int) -> tuple[ListItem, Any] | None:
    """One block list item (a plain or quoted scalar on its line)."""
    if written.startswith(("'", '"')):
        quoted = _quoted(written)
        if quoted is None or len(quoted) + 2 != len(written):
            return None
        span = Span(at, at + len(written))
        return ListItem(quoted, span, Span(at + 1, span.end - 1)), quoted
    if not _plain_ok(written, flow=False):
        return None
    readable, value = _SCALARS.value(written)
    if not readable:
        return None
    span = Span(at, at + len(written))
    return ListItem(value, span, span), value


def _flow_list(key: str, key_span: Span, written: str, at: int) -> FrontMatterEntry | None:
    """`[a, b, "c"]` on one line: plain items without flow indicators, or quoted ones."""
    if not written.endswith("]"):
        return None
    inner = written[1:-1]
    items: list[ListItem] = []
    values: list[Any] = []
    if inner.strip(" "):
        position = 1  # within `written`
        for part in inner.split(","):
            stripped = part.strip(" ")
            if not stripped:
                return None  # `[a,,b]` or a trailing comma
            item_start = at + position + (len(part) - len(part.lstrip(" ")))
            if stripped[0] in "'\"":
                quoted = _quoted(stripped)
                if quoted is None or len(quoted) + 2 != len(stripped):
                    return None
                span = Span(item_start, item_start + len(stripped))
                items.append(ListItem(quoted, span, Span(span.start + 1, span.end - 1)))
                values.append(quoted)
            else:
                if not _plain_ok(stripped, flow=True):
                    return None
                readable, value = _SCALARS.value(stripped)
                if not readable:
                    return None
                span = Span(item_start, item_start + len(stripped))
                items.append(ListItem(value, span, span))
                values.append(value)
            position += len(part) + 1
    elif inner:
        return None  # `[ ]`: fine YAML, rare enough for the full reader
    span = Span(at, at + len(written))
    return FrontMatterEntry(key, key_span, values, span, ValueStyle.FLOW_LIST, items)
