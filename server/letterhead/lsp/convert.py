"""The protocol edge: engine positions and types to lsprotocol types and back.

The engine counts columns in code points (`letterhead.positions`); the protocol counts them in
the negotiated encoding's units (UTF-8 bytes, UTF-16 code units or code points). This is the only
module that converts between the two. pygls converts nothing outgoing, and this server keeps its
own copy of open documents, so every range, incoming or outgoing, passes through a `TextCodec`.
Incoming positions past the end of a line or of the document are clamped, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lsprotocol import types

from letterhead.features.markup import as_plain_text
from letterhead.findings import Finding, Fix, Severity, TextEdit
from letterhead.positions import LineIndex, Position, Range, Span, column_to_units, units_to_column

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)
SOURCE = "letterhead"


def choose_encoding(offered: Sequence[str] | None) -> str:
    """The position encoding to use: UTF-8 when offered, else the client's first known one.

    UTF-8 wins over an earlier UTF-32 because editors that offer it (Neovim) store text as UTF-8;
    without any list (VS Code) the protocol's default, UTF-16, is the only choice.
    """
    names = [str(getattr(name, "value", name)) for name in offered or ()]
    if UTF8 in names:
        return UTF8
    for name in names:
        if name in ENCODINGS:
            return name
    return UTF16


class TextCodec:
    """Converts positions of one text between code points and the negotiated encoding."""

    __slots__ = ("encoding", "lines")

    def __init__(self, lines: LineIndex, encoding: str) -> None:
        self.lines = lines
        self.encoding = encoding

    @classmethod
    def of(cls, text: str, encoding: str) -> TextCodec:
        return cls(LineIndex(text), encoding)

    # -- engine to protocol --------------------------------------------------------------

    def position(self, position: Position) -> types.Position:
        last = self.lines.line_count - 1
        if position.line > last:
            return types.Position(line=last, character=self._units(last, len(self.lines.text)))
        line = max(0, position.line)
        return types.Position(line=line, character=self._units(line, max(0, position.character)))

    def _units(self, line: int, character: int) -> int:
        text = self.lines.line_text(line)
        character = min(character, len(text))
        if self.encoding == UTF32 or text.isascii():
            return character
        return column_to_units(text, character, self.encoding)

    def range(self, range_: Range) -> types.Range:
        return types.Range(start=self.position(range_.start), end=self.position(range_.end))

    def span(self, span: Span) -> types.Range:
        return self.range(self.lines.range(span))

    # -- protocol to engine --------------------------------------------------------------

    def to_position(self, position: types.Position) -> Position:
        """The code-point position a client position names, clamped to the text."""
        last = self.lines.line_count - 1
        if position.line > last:
            return Position(last, len(self.lines.line_text(last)))
        text = self.lines.line_text(position.line)
        if self.encoding == UTF32 or text.isascii():
            return Position(position.line, min(position.character, len(text)))
        return Position(position.line, units_to_column(text, position.character, self.encoding))

    def offset(self, position: types.Position) -> int:
        return self.lines.offset(self.to_position(position))

    def to_range(self, range_: types.Range) -> Range:
        start, end = self.to_position(range_.start), self.to_position(range_.end)
        return Range(start, end) if start <= end else Range(end, start)

    def to_span(self, range_: types.Range) -> Span:
        start, end = self.offset(range_.start), self.offset(range_.end)
        return Span(start, end) if start <= end else Span(end, start)


def start_of_file() -> types.Range:
    """The empty range at the start of a file: the same in every encoding, so no text needed."""
    return types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
    )


def apply_change(text: str, change: types.TextDocumentContentChangeEvent, encoding: str) -> str:
    """`text` after one `didChange` content change (incremental or whole document)."""
    if isinstance(change, types.TextDocumentContentChangePartial):
        span = TextCodec.of(text, encoding).to_span(change.range)
        return text[: span.start] + change.text + text[span.end :]
    return change.text


# -- diagnostics ---------------------------------------------------------------------------

_SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


def severity(value: Severity) -> types.DiagnosticSeverity:
    return _SEVERITIES[value]


def range_json(range_: Range | types.Range) -> dict[str, Any]:
    """A range as the protocol's JSON (an engine range's columns are written as they are)."""
    return {
        "start": {"line": range_.start.line, "character": range_.start.character},
        "end": {"line": range_.end.line, "character": range_.end.character},
    }


def range_from_json(value: Any) -> Range | None:
    try:
        start, end = value["start"], value["end"]
        return Range(
            Position(int(start["line"]), int(start["character"])),
            Position(int(end["line"]), int(end["character"])),
        )
    except (KeyError, TypeError, ValueError):
        return None


def fix_json(fix: Fix) -> dict[str, Any]:
    """A fix as diagnostic data: engine ranges (code points), so it outlives the encoding."""
    return {
        "title": fix.title,
        "safe": fix.safe,
        "edits": [
            {"path": edit.path, "range": range_json(edit.range), "newText": edit.new_text}
            for edit in fix.edits
        ],
    }


def fix_from_json(value: Any) -> Fix | None:
    """The fix carried in a diagnostic's data, or None when the data is not one of ours."""
    if not isinstance(value, dict):
        return None
    fix = value.get("fix", value)
    if not isinstance(fix, dict) or not isinstance(fix.get("title"), str):
        return None
    edits: list[TextEdit] = []
    for item in fix.get("edits") or ():
        if not isinstance(item, dict):
            return None
        range_ = range_from_json(item.get("range"))
        path, new_text = item.get("path"), item.get("newText")
        if range_ is None or not isinstance(path, str) or not isinstance(new_text, str):
            return None
        edits.append(TextEdit(path, range_, new_text))
    return Fix(fix["title"], tuple(edits), bool(fix.get("safe", True)))


def diagnostic(
    finding: Finding,
    codec: TextCodec,
    related: Callable[[str, Range], types.Location | None] | None = None,
    description: Callable[[str], str | None] | None = None,
) -> types.Diagnostic:
    """A finding as a diagnostic; `data` carries the rule name and the fix for code actions."""
    href = description(finding.code) if description is not None else None
    related_information = None
    if related is not None and finding.related:
        related_information = []
        for path, range_, message in finding.related:
            location = related(path, range_)
            if location is not None:
                related_information.append(
                    types.DiagnosticRelatedInformation(location=location, message=message)
                )
    data: dict[str, Any] = {"name": finding.name}
    if finding.fix is not None:
        data["fix"] = fix_json(finding.fix)
    return types.Diagnostic(
        range=codec.range(finding.range),
        message=finding.message,
        severity=severity(finding.severity),
        code=finding.code,
        code_description=types.CodeDescription(href=href) if href else None,
        source=SOURCE,
        related_information=related_information or None,
        data=data,
    )


def same_range(diagnostic: types.Diagnostic, range_: types.Range) -> bool:
    return diagnostic.range == range_


def markup(text: str, markdown: bool) -> types.MarkupContent:
    """Markdown when the client renders it, else what a reader of it would see, as plain text."""
    kind, value = markup_parts(text, markdown)
    return types.MarkupContent(kind=kind, value=value)


def markup_parts(text: str, markdown: bool) -> tuple[types.MarkupKind, str]:
    """`markup`'s kind and value (for answers written as JSON directly)."""
    if markdown:
        return types.MarkupKind.Markdown, text
    return types.MarkupKind.PlainText, as_plain_text(text)
