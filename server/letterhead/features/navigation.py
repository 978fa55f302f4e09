"""Navigation: go to definition, find references, and rename.

Definition: a reference link's label → its definition; an internal URL, `post_url` or `link` →
the target file (at the heading a `#fragment` names); `image:`, `layout:` and `author:` → their
files. References: on a tag or category, every use across the site; anywhere else in a review,
the links in other reviews that point to it (backlinks). Rename: a tag or category across the
whole site (`refactor.rename_taxonomy`), or a reference label within the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

from letterhead.check import LoadedSite, SiteDocuments
from letterhead.document import Document, LinkKind, normalize_label
from letterhead.features.cursor import (
    clamp,
    contains,
    definition_at,
    entry_at,
    is_reference,
    link_at,
    taxonomy_item_at,
)
from letterhead.features.guard import never_raises
from letterhead.features.targets import image_entry, resolve, target_at, targets
from letterhead.features.types import Location
from letterhead.findings import TextEdit
from letterhead.positions import Position, Range, Span
from letterhead.refactor import rename_steps as refactor_steps
from letterhead.site.discovery import within_site
from letterhead.site.model import Entry

_START = Range(Position(0, 0), Position(0, 0))
_MAX_DATA_FILE_BYTES = 2_000_000


def _no_locations() -> list[Location]:
    return []


# -- definition ----------------------------------------------------------------------------------


@never_raises(_no_locations)
def definition(site: LoadedSite, path: str, document: Document, offset: int) -> list[Location]:
    """Where the thing at `offset` is defined (see the module docstring)."""
    offset = clamp(document, offset)
    link = link_at(document, offset)
    if link is not None and is_reference(link) and link.label is not None:
        key = normalize_label(link.label)
        for found in document.definitions:
            if found.key == key:  # CommonMark uses the first definition of a label
                start = max(found.span.start, found.label_span.start - 1)  # from its `[`
                return [Location(path, document.lines.range(Span(start, found.span.end)))]
        return []
    entry = entry_at(document, offset)
    if entry is not None:
        return _front_matter_definition(site, entry.key, entry.value)
    target = target_at(document, offset)
    if target is None:
        return []
    linked = resolve(site, path, target)
    if linked is None:
        return []
    fragment = ""
    if target.kind is None or target.kind not in (LinkKind.POST_URL, LinkKind.LINK_TAG):
        # What follows the first `#` (urlsplit, which would find the same, refuses some hosts).
        fragment = unquote(target.text.strip().partition("#")[2])
    else:
        fragment = target.text.partition("#")[2].strip()
    return [_file_location(site, linked, fragment)]


def _file_location(site: LoadedSite, entry: Entry, fragment: str = "") -> Location:
    document = site.document(entry.path)
    if fragment and document is not None:
        for heading in document.headings:
            if heading.anchor == fragment:
                return Location(entry.path, document.lines.range(heading.span), document.lines)
    return Location(entry.path, _START)


def _front_matter_definition(site: LoadedSite, key: str, value: object) -> list[Location]:
    if key == "image":
        found = image_entry(site, value)
        return [Location(found.path, _START)] if found is not None else []
    if key == "layout" and isinstance(value, str) and value in site.site.layouts:
        folder = site.site.config.layouts_dir.strip("/")
        directory = site.root / folder
        if not within_site(site.root, directory):
            return []
        try:
            names = sorted(p.name for p in directory.iterdir() if p.stem == value and p.is_file())
        except OSError:
            return []
        return [Location(f"{folder}/{names[0]}", _START)] if names else []
    if key == "author" and isinstance(value, str):
        return _author_location(site, value)
    return []


def _author_location(site: LoadedSite, author: str) -> list[Location]:
    folder = site.site.config.data_dir.strip("/")
    for name in ("authors.yml", "authors.yaml", "authors.json"):
        file = site.root / folder / name
        try:
            if not file.is_file() or file.stat().st_size > _MAX_DATA_FILE_BYTES:
                continue
            if not within_site(site.root, file):
                return []  # a link out of the site: never read
            text = file.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            return []
        pattern = re.compile(
            r"^[\"']?" + re.escape(author) + r"[\"']?\s*:"
            if name != "authors.json"
            else r"\"" + re.escape(author) + r"\"\s*:",
            re.MULTILINE,
        )
        match = pattern.search(text)
        if match is None:
            return [Location(f"{folder}/{name}", _START)]
        line = text.count("\n", 0, match.start())
        column = match.start() - (text.rfind("\n", 0, match.start()) + 1)
        start = Position(line, column)
        return [Location(f"{folder}/{name}", Range(start, Position(line, column + len(author))))]
    return []


# -- references ----------------------------------------------------------------------------------


@never_raises(_no_locations)
def references(
    site: LoadedSite,
    path: str,
    document: Document,
    offset: int,
    include_declaration: bool = True,
) -> list[Location]:
    """Every use of the tag, category or reference label at `offset`; elsewhere in a review,
    the links of other reviews to it. `include_declaration` keeps the use at the cursor itself
    (and a label's definition)."""
    steps = reference_steps(site, path, document, offset, include_declaration)
    return [location for found in steps for location in found]


def reference_steps(
    site: LoadedSite,
    path: str,
    document: Document,
    offset: int,
    include_declaration: bool = True,
) -> Iterator[list[Location]]:
    """`references` one file at a time where other files are read (the reviews using a tag or
    category, those linking to a review): the locations in each, computed only as the caller
    asks, so that a caller that must stay responsive (the language server) can pause, or stop,
    between two steps. Unlike `references`, this may raise while it is iterated: its caller
    guards it."""
    offset = clamp(document, offset)
    found = taxonomy_item_at(document, offset)
    if found is not None:
        key, item = found
        return _taxonomy_uses(
            site, path, document, key, item.value, item.text_span, include_declaration
        )
    label = _label_at(document, offset, whole_link=True)
    if label is not None:
        return iter([_label_uses(path, document, label[1], include_declaration)])
    return _backlinks(site, path)


def _taxonomy_uses(
    site: LoadedSite,
    path: str,
    document: Document,
    key: str,
    value: str,
    at: Span,
    include_declaration: bool,
) -> Iterator[list[Location]]:
    """The uses of `value` under `key`, a review at a time, in path order."""
    taxonomy = site.index.tags if key == "tags" else site.index.categories
    users = set(taxonomy.users(value)) | {path}
    for user in sorted(users):
        user_document = document if user == path else site.document(user, head_only=True)
        if user_document is None or user_document.front_matter is None:
            continue
        entry = user_document.front_matter.get(key)
        if entry is None:
            continue
        lines = user_document.lines
        yield [
            Location(user, lines.range(item.text_span), lines)
            for item in entry.items or ()
            if item.value == value
            and not (user == path and item.text_span == at and not include_declaration)
        ]


def _label_at(document: Document, offset: int, whole_link: bool = False) -> tuple[Span, str] | None:
    """The reference label at `offset` (in a reference link or a definition), with its span.
    For `[text][label]` the cursor must be on the label, unless `whole_link`."""
    link = link_at(document, offset)
    if (
        link is not None
        and is_reference(link)
        and link.label
        and link.label_span is not None
        and (whole_link or link.kind is not LinkKind.REFERENCE or contains(link.label_span, offset))
    ):
        return link.label_span, link.label
    definition = definition_at(document, offset)
    if definition is not None and contains(definition.label_span, offset):
        return definition.label_span, definition.label
    return None


def _label_uses(
    path: str, document: Document, label: str, include_declaration: bool
) -> list[Location]:
    key = normalize_label(label)
    spans = [
        link.label_span
        for link in document.links
        if is_reference(link)
        and link.label_span is not None
        and link.label is not None
        and normalize_label(link.label) == key
    ]
    if include_declaration:
        spans += [d.label_span for d in document.definitions if d.key == key]
    return [Location(path, document.lines.range(span)) for span in sorted(spans, key=_start)]


def _start(span: Span) -> int:
    return span.start


def _backlinks(site: LoadedSite, path: str) -> Iterator[list[Location]]:
    """The links to the review at `path`, a linking review at a time."""
    if site.index.entry(path) is None:
        return
    for user in site.index.backlinks(path):
        user_document = site.document(user)
        if user_document is None:
            continue
        lines = user_document.lines
        yield [
            Location(user, lines.range(target.span), lines)
            for target in targets(user_document)
            if (linked := resolve(site, user, target)) is not None and linked.path == path
        ]


# -- rename --------------------------------------------------------------------------------------


def _no_span() -> tuple[Span, str] | None:
    return None


@never_raises(_no_span)
def prepare_rename(
    site: LoadedSite, path: str, document: Document, offset: int
) -> tuple[Span, str] | None:
    """What a rename at `offset` would rename: a tag or category item, or a reference label."""
    offset = clamp(document, offset)
    found = taxonomy_item_at(document, offset)
    if found is not None:
        _, item = found
        return item.text_span, item.value
    return _label_at(document, offset)


def _no_edits() -> dict[str, list[TextEdit]] | None:
    return None


@never_raises(_no_edits)
def rename(
    site: LoadedSite, path: str, document: Document, offset: int, new_name: str
) -> dict[str, list[TextEdit]] | None:
    """The edits renaming what is at `offset` to `new_name` (None: nothing to rename there, or
    a name that cannot be one). A tag or category is renamed in every review of the site."""
    steps = rename_steps(site, path, document, offset, new_name)
    if steps is None:
        return None
    return {changed: edits for changed, edits in steps if edits}


def rename_steps(
    site: LoadedSite, path: str, document: Document, offset: int, new_name: str
) -> Iterator[tuple[str, list[TextEdit]]] | None:
    """`rename` one document at a time: None if there is nothing to rename at `offset` (decided
    at once), else (path, edits) for each document concerned, computed only as the caller asks
    for it, since a tag's rename reads and parses every review that uses it. Unlike `rename`,
    this may raise, while it is iterated too: its caller guards it."""
    offset = clamp(document, offset)
    new_name = new_name.strip()
    if not new_name or any(char in new_name for char in "\r\n"):
        return None
    found = taxonomy_item_at(document, offset)
    if found is not None:
        key, item = found
        old = item.value
        if new_name == old:
            return iter(())
        taxonomy = site.index.tags if key == "tags" else site.index.categories
        users = set(taxonomy.users(old)) | {path}
        documents = SiteDocuments(site, {path: document}, head_only=True)
        return refactor_steps(documents, users, key, old, new_name)
    label = _label_at(document, offset)
    if label is None:
        return None
    if "[" in new_name or "]" in new_name:
        return None
    locations = _label_uses(path, document, label[1], include_declaration=True)
    edits = [TextEdit(path, location.range, new_name, document.lines) for location in locations]
    return iter([(path, edits)])
