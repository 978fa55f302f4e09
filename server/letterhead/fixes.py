"""Applying fixes: text edits to one file's text, and `check --fix` over a site's files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from letterhead.findings import Finding, TextEdit
from letterhead.positions import LineIndex


def apply_edits(text: str, edits: Iterable[TextEdit]) -> tuple[str, int]:
    """`text` with the edits applied, and how many were applied.

    Edits are applied from the end of the text backwards; an edit overlapping one already
    applied is skipped (the next run of `--fix` will reconsider it on fresh text).
    """
    lines = LineIndex(text)
    # Sorting by original order too keeps two insertions at one point in the order given.
    spans = sorted(
        (
            (lines.offset(edit.range.start), lines.offset(edit.range.end), order, edit.new_text)
            for order, edit in enumerate(edits)
        ),
        reverse=True,
    )
    result = text
    applied = 0
    floor = len(text) + 1
    for start, end, _, new_text in spans:
        if end > floor or (end == floor and start != end):
            continue
        result = result[:start] + new_text + result[end:]
        floor = start
        applied += 1
    return result, applied


@dataclass(frozen=True, slots=True)
class FixPlan:
    """The safe fixes of a set of findings, grouped by file."""

    edits_by_path: dict[str, list[TextEdit]]
    findings_fixed: int


def plan_fixes(findings: Iterable[Finding]) -> FixPlan:
    edits: dict[str, list[TextEdit]] = {}
    count = 0
    for finding in findings:
        if finding.fix is None or not finding.fix.safe:
            continue
        count += 1
        for edit in finding.fix.edits:
            edits.setdefault(edit.path, []).append(edit)
    return FixPlan(edits, count)
