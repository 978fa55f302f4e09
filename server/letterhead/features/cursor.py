"""What the cursor is on: a front matter key or value read from the text, or a parsed part.

While an author types, the front matter is often not valid YAML (`tags: [cambodia, kh`), so
completion cannot rely on the parsed entries: `front_matter_slot` reads the lines around the
cursor as text (keys, flow lists with quotes, block lists, scalars). Hover and navigation use
the parsed document: `entry_at`, `item_at`, `link_at`, `definition_at`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from letterhead.document import (
    Document,
    FrontMatterEntry,
    Link,
    LinkKind,
    ListItem,
    ReferenceDefinition,
)
from letterhead.frontmatter import MAX_FRONT_MATTER_CHARS
from letterhead.positions import Span

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# A top-level key line: `key:` followed by a space or the end of the line.
_KEY_LINE = re.compile(r"([^\s#:\-\[\]{},'\"!&*|>%@`?][^:#\r\n]*?)[ \t]*:(?=[ \t]|$)")
_KEY_WORD = re.compile(r"[\w-]*")
_BLOCK_ITEM = re.compile(r"([ \t]*)-(?=[ \t]|$)[ \t]*")
_COMMENT = re.compile(r"[ \t]+#")


def clamp(document: Document, offset: int) -> int:
    """`offset` within the document's text (requests past the end are answered at the end)."""
    return max(0, min(offset, len(document.text)))


class ValueStyle(StrEnum):
    SCALAR = "scalar"  # `layout: rev|`
    FLOW = "flow"  # `tags: [a, kh|`
    BLOCK = "block"  # `  - kh|`


@dataclass(slots=True)
class KeySlot:
    """The cursor is on a top-level key (or where one is being typed)."""

    replace: Span
    typed: str  # the key's text before the cursor
    has_colon: bool  # the line already holds `key:`; insert the name alone
    present: set[str]  # keys written on other lines


@dataclass(slots=True)
class ValueSlot:
    """The cursor is on the value of `key` (or on an item of its list)."""

    key: str
    key_span: Span
    style: ValueStyle
    replace: Span  # the value or item being typed, inside its quotes when quoted
    typed: str  # its text before the cursor
    quote: str | None = None  # the quote the item is written in
    close_quote: bool = False  # the quote is not closed yet: insert the closing one
    prefix: str = ""  # text to insert before the value (a space right after the colon)
    present: list[str] = field(default_factory=list)  # the other items of the list


def front_matter_region(document: Document) -> Span | None:
    """Where the YAML of the front matter is, closed or not."""
    front_matter = document.front_matter
    if front_matter is None:
        return None
    return front_matter.yaml_span


@dataclass(slots=True)
class _Line:
    start: int
    end: int  # before the line break
    text: str


def _lines(text: str, region: Span) -> list[_Line]:
    lines: list[_Line] = []
    position = region.start
    for match in _LINE_BREAK.finditer(text, region.start, region.end):
        lines.append(_Line(position, match.start(), text[position : match.start()]))
        position = match.end()
    lines.append(_Line(position, region.end, text[position : region.end]))
    return lines


def front_matter_slot(document: Document, offset: int) -> KeySlot | ValueSlot | None:
    """The key or value at `offset` in the front matter, read from the text; None elsewhere."""
    region = front_matter_region(document)
    if region is None or region.end - region.start > MAX_FRONT_MATTER_CHARS:
        return None  # the parser does not read such a front matter either
    # A closed front matter's YAML ends where the closing `---` line starts: not a key position.
    closed = region.end < len(document.text)
    if not (region.start <= offset < region.end or (offset == region.end and not closed)):
        return None
    text = document.text
    lines = _lines(text, region)
    number = 0
    for number, line in enumerate(lines):  # noqa: B007 - the loop finds the cursor's line
        if line.start <= offset <= line.end:
            break
    else:
        return None
    line = lines[number]
    column = offset - line.start
    stripped = line.text.lstrip()
    if stripped.startswith("#"):
        return None
    if not stripped or (not line.text[0].isspace() and not line.text.startswith("-")):
        return _top_level(document, lines, number, column, offset)
    owner = _owner(lines, number)
    if owner is None:
        return None
    owner_number, owner_match = owner
    item = _BLOCK_ITEM.match(line.text)
    if item is not None:
        if column < item.end():
            return None
        return _block_item(document, lines, number, item.end(), owner_number, owner_match, offset)
    return _flow_continuation(document, lines, owner_number, owner_match, offset)


def _top_level(
    document: Document, lines: list[_Line], number: int, column: int, offset: int
) -> KeySlot | ValueSlot | None:
    """A line starting at column 0: a key being typed, or a `key: value` line."""
    line = lines[number]
    if line.text and line.text[0].isspace():
        return None  # blanks only, indented: neither a key nor a value
    key_match = _KEY_LINE.match(line.text)
    if key_match is not None and column >= key_match.end():
        return _value_on_key_line(document, lines, number, key_match, offset)
    word = _KEY_WORD.match(line.text)
    word_end = word.end() if word is not None else 0
    if column > word_end:
        return None
    present = _present_keys(lines, number)
    replace = Span(line.start, line.start + word_end)
    return KeySlot(replace, line.text[:column], key_match is not None, present)


def _present_keys(lines: list[_Line], skip: int) -> set[str]:
    keys: set[str] = set()
    for number, line in enumerate(lines):
        if number == skip or not line.text or line.text[0].isspace():
            continue
        match = _KEY_LINE.match(line.text)
        if match is not None:
            keys.add(match.group(1))
    return keys


def _owner(lines: list[_Line], number: int) -> tuple[int, re.Match[str]] | None:
    """The top-level key line that the indented (or `-`) line `number` belongs to."""
    for above in range(number - 1, -1, -1):
        text = lines[above].text
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if text[0].isspace() or text.startswith("-"):
            continue
        match = _KEY_LINE.match(text)
        return (above, match) if match is not None else None
    return None


def _key_span(line: _Line, match: re.Match[str]) -> Span:
    return Span(line.start + match.start(1), line.start + match.end(1))


def _value_on_key_line(
    document: Document, lines: list[_Line], number: int, match: re.Match[str], offset: int
) -> ValueSlot | None:
    line = lines[number]
    key = match.group(1)
    colon_end = line.start + match.end()  # just after the colon
    rest = document.text[colon_end : line.end]
    stripped = rest.lstrip(" \t")
    value_start = colon_end + (len(rest) - len(stripped))
    if stripped.startswith("["):
        return _flow_slot(document, lines, key, _key_span(line, match), value_start, offset)
    if stripped.startswith(("{", "|", ">", "&", "*", "!")):
        return None
    prefix = " " if offset == colon_end else ""
    if offset < value_start:
        return None
    return _scalar_slot(
        document, key, _key_span(line, match), value_start, line.end, offset, prefix
    )


def _scalar_slot(
    document: Document, key: str, key_span: Span, start: int, end: int, offset: int, prefix: str
) -> ValueSlot:
    text = document.text
    quote = text[start] if start < end and text[start] in "'\"" else None
    if quote is not None:
        close = _closing_quote(text, start + 1, end, quote)
        content_end = close if close is not None else end
        replace = Span(start + 1, max(min(content_end, end), start + 1))
        if not replace.start <= offset <= replace.end:
            replace = Span(min(replace.start, offset), max(replace.end, offset))
        typed = text[replace.start : offset]
        return ValueSlot(key, key_span, ValueStyle.SCALAR, replace, typed, quote, close is None)
    value = text[start:end]
    comment = _COMMENT.search(value)
    if comment is not None and comment.start() + start < offset:
        comment = None
    value_end = start + (comment.start() if comment else len(value.rstrip()))
    replace = Span(start, max(value_end, offset))
    return ValueSlot(key, key_span, ValueStyle.SCALAR, replace, text[start:offset], prefix=prefix)


def _closing_quote(text: str, start: int, end: int, quote: str) -> int | None:
    position = start
    while position < end:
        char = text[position]
        if quote == '"' and char == "\\":
            position += 2
            continue
        if char == quote:
            if quote == "'" and position + 1 < end and text[position + 1] == "'":
                position += 2
                continue
            return position
        position += 1
    return None


@dataclass(slots=True)
class _FlowItem:
    start: int  # the item as written, quotes included
    end: int
    content: Span  # inside the quotes
    quote: str | None
    closed: bool  # the closing quote is written

    def value(self, text: str) -> str:
        raw = text[self.content.start : self.content.end]
        if self.quote == "'":
            return raw.replace("''", "'")
        if self.quote == '"':
            return raw.replace('\\"', '"').replace("\\\\", "\\")
        return raw.strip()


def _flow_items(text: str, open_at: int, end: int) -> tuple[list[_FlowItem], int | None]:
    """The items of the flow list opening at `open_at`, and where its `]` is (None: unclosed)."""
    items: list[_FlowItem] = []
    position = open_at + 1
    while position < end:
        char = text[position]
        if char in " \t\r\n,":
            position += 1
            continue
        if char == "]":
            return items, position
        if char == "#" and text[position - 1] in " \t\r\n":
            newline = _LINE_BREAK.search(text, position, end)
            position = newline.end() if newline else end
            continue
        if char in "'\"":
            close = _closing_quote(text, position + 1, end, char)
            line_break = _LINE_BREAK.search(text, position + 1, end)
            if close is None or (line_break is not None and line_break.start() < close):
                stop = line_break.start() if line_break else end
                items.append(_FlowItem(position, stop, Span(position + 1, stop), char, False))
                position = stop
                continue
            items.append(_FlowItem(position, close + 1, Span(position + 1, close), char, True))
            position = close + 1
            continue
        start = position
        while position < end and text[position] not in ",]\r\n":
            if text[position] == "#" and text[position - 1] in " \t":
                break
            position += 1
        stop = position
        while stop > start and text[stop - 1] in " \t":
            stop -= 1
        items.append(_FlowItem(start, stop, Span(start, stop), None, True))
    return items, None


def _flow_slot(
    document: Document, lines: list[_Line], key: str, key_span: Span, open_at: int, offset: int
) -> ValueSlot | None:
    text = document.text
    region_end = lines[-1].end
    items, close = _flow_items(text, open_at, region_end)
    if offset <= open_at or (close is not None and offset > close):
        return None
    current: _FlowItem | None = None
    for item in items:
        if item.content.start <= offset <= max(item.content.end, item.end if item.quote else 0):
            current = item
            break
        if item.quote is None and item.start <= offset <= item.end:
            current = item
            break
    if current is None:
        # Between items: only right after `[` or a comma (and blanks) is a new item started.
        before = text[open_at + 1 : offset].rstrip(" \t\r\n")
        if before and not before.endswith(","):
            return None
        replace = Span(offset, offset)
        present = [item.value(text) for item in items]
        return ValueSlot(key, key_span, ValueStyle.FLOW, replace, "", present=present)
    present = [item.value(text) for item in items if item is not current]
    if current.quote is not None:
        replace = Span(current.content.start, max(current.content.end, offset))
        if offset < replace.start:
            return None
        return ValueSlot(
            key,
            key_span,
            ValueStyle.FLOW,
            replace,
            text[replace.start : offset],
            current.quote,
            not current.closed,
            present=present,
        )
    replace = Span(current.start, max(current.end, offset))
    return ValueSlot(
        key, key_span, ValueStyle.FLOW, replace, text[replace.start : offset], present=present
    )


def _flow_continuation(
    document: Document,
    lines: list[_Line],
    owner_number: int,
    owner_match: re.Match[str],
    offset: int,
) -> ValueSlot | None:
    """An indented line inside a flow list that began on the key's line."""
    owner = lines[owner_number]
    colon_end = owner.start + owner_match.end()
    rest = document.text[colon_end : owner.end]
    stripped = rest.lstrip(" \t")
    if not stripped.startswith("["):
        return None
    open_at = colon_end + (len(rest) - len(stripped))
    return _flow_slot(
        document, lines, owner_match.group(1), _key_span(owner, owner_match), open_at, offset
    )


def _block_item(
    document: Document,
    lines: list[_Line],
    number: int,
    content_column: int,
    owner_number: int,
    owner_match: re.Match[str],
    offset: int,
) -> ValueSlot | None:
    owner = lines[owner_number]
    owner_rest = owner.text[owner_match.end() :].strip()
    if owner_rest and not owner_rest.startswith("#"):
        return None  # the key has a value on its own line: this is not its list
    line = lines[number]
    start = line.start + content_column
    key = owner_match.group(1)
    key_span = _key_span(owner, owner_match)
    slot = _scalar_slot(document, key, key_span, start, line.end, offset, "")
    slot.style = ValueStyle.BLOCK
    slot.present = _block_values(document, lines, owner_number, skip=number)
    return slot


def _block_values(
    document: Document, lines: list[_Line], owner_number: int, skip: int
) -> list[str]:
    values: list[str] = []
    for number in range(owner_number + 1, len(lines)):
        text = lines[number].text
        if text and not text[0].isspace() and not text.startswith("-"):
            break
        if number == skip:
            continue
        item = _BLOCK_ITEM.match(text)
        if item is None:
            continue
        value = text[item.end() :]
        comment = _COMMENT.search(value)
        if comment is not None:
            value = value[: comment.start()]
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if value:
            values.append(value)
    return values


# -- parsed parts ---------------------------------------------------------------------------------


def entry_at(document: Document, offset: int) -> FrontMatterEntry | None:
    """The front matter entry whose key or value holds `offset`."""
    front_matter = document.front_matter
    if front_matter is None:
        return None
    for entry in front_matter.entries:
        end = max(entry.value_span.end, entry.key_span.end)
        if entry.key_span.start <= offset <= end:
            return entry
    return None


def item_at(entry: FrontMatterEntry, offset: int) -> ListItem | None:
    for item in entry.items or ():
        if item.span.start <= offset <= item.span.end:
            return item
    return None


def taxonomy_item_at(document: Document, offset: int) -> tuple[str, ListItem] | None:
    """The `tags:` or `categories:` item (a string) at `offset`, with its key."""
    entry = entry_at(document, offset)
    if entry is None or entry.key not in ("tags", "categories"):
        return None
    item = item_at(entry, offset)
    if item is None or not isinstance(item.value, str) or not item.value:
        return None
    return entry.key, item


def link_at(document: Document, offset: int) -> Link | None:
    """The innermost link whose span holds `offset`."""
    found: Link | None = None
    for link in document.links:
        if link.span.start <= offset <= link.span.end and (
            found is None or link.span.start >= found.span.start
        ):
            found = link
    return found


def definition_at(document: Document, offset: int) -> ReferenceDefinition | None:
    for definition in document.definitions:
        if definition.span.start <= offset <= definition.span.end:
            return definition
    return None


def is_reference(link: Link) -> bool:
    return link.kind in (LinkKind.REFERENCE, LinkKind.COLLAPSED, LinkKind.SHORTCUT)


def contains(span: Span, offset: int) -> bool:
    return span.start <= offset <= span.end
