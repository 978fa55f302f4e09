"""What a check reports: severities, findings, and the fixes (text edits) that mend them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from letterhead.positions import LineIndex, Range


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity | None:
        try:
            return cls(text.strip().lower())
        except ValueError:
            return None


_RANK = {Severity.HINT: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


@dataclass(frozen=True, slots=True)
class TextEdit:
    """Replace `range` of the file at `path` (relative to the site root) with `new_text`."""

    path: str
    range: Range
    new_text: str
    # The lines of the text `range` was worked out on, where the maker has them at hand: the
    # protocol's units are counted on them, without reading the file again (a rename of a tag
    # reads thousands of reviews, more than `LoadedSite.document` keeps).
    lines: LineIndex | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    edits: tuple[TextEdit, ...]
    safe: bool = True  # applied by `check --fix`; unsafe fixes are only offered in the editor


@dataclass(slots=True)
class Finding:
    path: str
    code: str
    name: str
    severity: Severity
    message: str
    range: Range
    fix: Fix | None = None
    related: list[tuple[str, Range, str]] = field(default_factory=list)  # (path, range, message)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.range.start.line, self.range.start.character, self.code)
