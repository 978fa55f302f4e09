"""Site-wide refactorings: renaming a tag or category in every review that uses it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from letterhead.document import Document, FrontMatterEntry, ListItem, ValueStyle
from letterhead.findings import TextEdit
from letterhead.positions import Span
from letterhead.yamltext import flow_list, quote_of, scalar

TAXONOMY_KEYS = ("tags", "categories")


def rename_in_document(
    path: str, document: Document, key: str, old: str, new: str
) -> list[TextEdit]:
    """Edits renaming `old` to `new` in the `key` list of one document (none if it lacks `old`).

    When the list already holds `new`, the `old` item is removed instead, so no list ends up
    with a duplicate. Quotes and list style are kept as the author wrote them.
    """
    front_matter = document.front_matter
    if front_matter is None or front_matter.error is not None:
        return []
    entry = front_matter.get(key)
    if entry is None:
        return []
    lines = document.lines
    if isinstance(entry.value, str):
        names = entry.value.split()
        if old not in names:
            return []
        renamed = _dedupe([new if name == old else name for name in names])
        text = (
            scalar(renamed[0])
            if len(renamed) == 1 and " " not in renamed[0]
            else flow_list(renamed)
        )
        return [TextEdit(path, lines.range(entry.value_span), text, lines)]
    if entry.items is None:
        return []
    present = {item.value for item in entry.items if isinstance(item.value, str)}
    edits = []
    for item in entry.items:
        if item.value != old:
            continue
        if new in present:
            edits.append(
                TextEdit(path, lines.range(removal_span(document, entry, item)), "", lines)
            )
        else:
            written = document.text[item.span.start : item.span.end]
            replacement = scalar(new, quote_of(written))
            edits.append(TextEdit(path, lines.range(item.span), replacement, lines))
    return edits


def rename_taxonomy(
    documents: Mapping[str, Document], paths: set[str], key: str, old: str, new: str
) -> dict[str, list[TextEdit]]:
    """Edits renaming `old` to `new` under `key` in each of `paths` (the reviews that use it)."""
    return {path: edits for path, edits in rename_steps(documents, paths, key, old, new) if edits}


def rename_steps(
    documents: Mapping[str, Document], paths: set[str], key: str, old: str, new: str
) -> Iterator[tuple[str, list[TextEdit]]]:
    """`rename_taxonomy` one document at a time, in path order: (path, its edits, maybe none)
    for each of `paths`, each edit with the lines of the text it was worked out on. Reading
    `documents` may parse a file from disk, so a caller that must stay responsive (the language
    server) can pause, or stop, between two steps."""
    for path in sorted(paths):
        document = documents.get(path)
        edits = [] if document is None else rename_in_document(path, document, key, old, new)
        yield path, edits


def _dedupe(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def removal_span(document: Document, entry: FrontMatterEntry, item: ListItem) -> Span:
    """Removing one item: its whole line in a block list; the item and one separator in a flow list."""
    text = document.text
    if entry.style is ValueStyle.BLOCK_LIST:
        start = text.rfind("\n", 0, item.span.start) + 1
        end = text.find("\n", item.span.end)
        return Span(start, len(text) if end < 0 else end + 1)
    items = entry.items or []
    position = items.index(item)
    if position > 0:
        start = items[position - 1].span.end
        return Span(start, item.span.end)
    if len(items) > 1:
        return Span(item.span.start, items[1].span.start)
    return item.span
