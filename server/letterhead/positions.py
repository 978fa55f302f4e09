"""Text positions: offsets, lines and code-point columns, the one representation the engine uses.

The engine addresses text by code-point offsets into a document's string. A `LineIndex` turns
offsets into `Position`s (line, code-point column) and back. Lines end at "\\r\\n", "\\r" or "\\n",
exactly as the Language Server Protocol counts them (never at the other breaks `str.splitlines`
knows). Conversion to UTF-16 or UTF-8 columns happens only at the protocol edge, with
`column_to_units` / `units_to_column` below.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, cast

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A zero-based line and a zero-based column counted in Unicode code points."""

    line: int
    character: int


@dataclass(frozen=True, slots=True)
class Range:
    start: Position
    end: Position

    @staticmethod
    def point(position: Position) -> Range:
        return Range(position, position)

    def contains(self, position: Position) -> bool:
        return self.start <= position <= self.end


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open slice `[start, end)` of a document's text, in code-point offsets."""

    start: int
    end: int

    def contains(self, offset: int) -> bool:
        return self.start <= offset <= self.end

    def shifted(self, by: int) -> Span:
        return Span(self.start + by, self.end + by)


def _set_span(self: Span, start: int, end: int) -> None:
    _set_start(self, start)
    _set_end(self, end)


# Parsing a review makes some forty Spans. A frozen dataclass's `__init__` sets each field with
# `object.__setattr__` (~0.3 µs a Span); setting the two slots through their descriptors does the
# same in two thirds of the time. Every other write still raises FrozenInstanceError.
_set_start = cast(Any, Span).start.__set__
_set_end = cast(Any, Span).end.__set__
Span.__init__ = _set_span  # type: ignore[method-assign]


class LineIndex:
    """Maps offsets of one text to positions and back; built once per text, O(log n) lookups."""

    __slots__ = ("_line_starts", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._line_starts: list[int] | None = None

    @property
    def _starts(self) -> list[int]:
        # Computed on first use: most documents of a site are checked without a finding, and
        # never need a line number.
        if self._line_starts is None:
            text = self._text
            starts = [0]
            if "\r" in text:
                starts.extend([match.end() for match in _LINE_BREAK.finditer(text)])
            else:  # LF only, nearly every file: `find` is ~2.5 times quicker than the regex
                find, append = text.find, starts.append
                at = find("\n")
                while at >= 0:
                    at += 1
                    append(at)
                    at = find("\n", at)
            self._line_starts = starts
        return self._line_starts

    @property
    def text(self) -> str:
        return self._text

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_start(self, line: int) -> int:
        return self._starts[max(0, min(line, len(self._starts) - 1))]

    def line_end(self, line: int) -> int:
        """Offset of the end of `line`'s content, before its line break."""
        line = max(0, min(line, len(self._starts) - 1))
        end = self._starts[line + 1] if line + 1 < len(self._starts) else len(self._text)
        while end > self._starts[line] and self._text[end - 1] in "\r\n":
            end -= 1
        return end

    def line_text(self, line: int) -> str:
        return self._text[self.line_start(line) : self.line_end(line)]

    def position(self, offset: int) -> Position:
        offset = max(0, min(offset, len(self._text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        # An offset between "\r" and "\n" belongs to the end of its line.
        return Position(line, min(offset, self.line_end(line)) - self._starts[line])

    def offset(self, position: Position) -> int:
        """The offset of `position`, clamped to its line (and the text) when past the end."""
        if position.line < 0:
            return 0
        if position.line >= len(self._starts):
            return len(self._text)
        start = self._starts[position.line]
        return min(start + max(0, position.character), self.line_end(position.line))

    def range(self, span: Span) -> Range:
        return Range(self.position(span.start), self.position(span.end))

    def span(self, range_: Range) -> Span:
        return Span(self.offset(range_.start), self.offset(range_.end))


def column_to_units(line_text: str, character: int, encoding: str) -> int:
    """Convert a code-point column of `line_text` to a column in `encoding` units.

    `encoding` is one of "utf-8", "utf-16", "utf-32" (the LSP position encodings).
    """
    prefix = line_text[:character]
    if encoding == "utf-32":
        return len(prefix)
    if encoding == "utf-8":
        return len(prefix.encode("utf-8", "surrogatepass"))
    return len(prefix) + sum(1 for char in prefix if ord(char) > 0xFFFF)


def units_to_column(line_text: str, units: int, encoding: str) -> int:
    """Convert a column in `encoding` units to a code-point column, clamped to the line."""
    if encoding == "utf-32":
        return max(0, min(units, len(line_text)))
    seen = 0
    for column, char in enumerate(line_text):
        width = (
            len(char.encode("utf-8", "surrogatepass"))
            if encoding == "utf-8"
            else (2 if ord(char) > 0xFFFF else 1)
        )
        if seen + width > units:
            return column
        seen += width
    return len(line_text)
