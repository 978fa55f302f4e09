"""Folding ranges: the front matter and every Liquid block that spans lines.

A range is `(start line, end line)`, zero-based, from the opening line (`---`, `{% tag %}`) to
the closing one (`---`, `{% endtag %}`) included.
"""

from __future__ import annotations

from letterhead.document import Document
from letterhead.features.guard import never_raises


def _no_ranges() -> list[tuple[int, int]]:
    return []


@never_raises(_no_ranges)
def folding_ranges(document: Document) -> list[tuple[int, int]]:
    """The foldable line ranges of `document`, sorted."""
    lines = document.lines
    ranges: set[tuple[int, int]] = set()
    front_matter = document.front_matter
    if front_matter is not None and front_matter.span.end > front_matter.span.start:
        start = lines.position(front_matter.span.start).line
        end = lines.position(front_matter.span.end).line
        if end > start:
            ranges.add((start, end))
    for block in document.liquid_blocks:
        if block.closing is None:
            continue
        start = lines.position(block.opening.span.start).line
        end = lines.position(block.closing.span.start).line
        if end > start:
            ranges.add((start, end))
    return sorted(ranges)
