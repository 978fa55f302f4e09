"""Symbols: the outline of one review, and reviews by title across the site.

A review's outline is its front matter (with its keys), its salutation, its headings (nested by
level, each spanning its section) and its signature. Workspace symbols find reviews whose title
holds the query's letters in order (a fuzzy subsequence), ranked prefix first, then the start of
a word, then anywhere, then scattered, newest first within each rank, and cut at `limit`.
"""

from __future__ import annotations

import re

from letterhead.check import LoadedSite
from letterhead.document import Document, fold
from letterhead.features.catalog import (
    ReviewRecord,
    catalog_for,
    ranked_needles,
    subsequence_pattern,
)
from letterhead.features.guard import never_raises
from letterhead.features.types import Symbol, SymbolKind, WorkspaceSymbol
from letterhead.positions import Position, Range, Span
from letterhead.settings import Settings

_MARKUP = re.compile(r"[_*]+")
_MAX_DETAIL = 60


def _no_symbols() -> list[Symbol]:
    return []


@never_raises(_no_symbols)
def document_symbols(document: Document, settings: Settings | None = None) -> list[Symbol]:
    """The outline of `document`, in text order (`settings` names the signature block)."""
    settings = settings or Settings()
    text = document.text
    symbols: list[Symbol] = []
    front_matter = document.front_matter
    if front_matter is not None:
        fence = Span(front_matter.span.start, min(front_matter.span.start + 3, len(text)))
        children = [
            Symbol(
                entry.key,
                SymbolKind.KEY,
                Span(entry.key_span.start, max(entry.key_span.end, entry.value_span.end)),
                entry.key_span,
                detail=_detail(text[entry.value_span.start : entry.value_span.end]),
            )
            for entry in front_matter.entries
        ]
        symbols.append(
            Symbol("front matter", SymbolKind.FRONT_MATTER, front_matter.span, fence, "", children)
        )
    salutation = document.salutation
    if salutation is not None:
        written = text[salutation.span.start : salutation.span.end]
        name = " ".join(_MARKUP.sub("", written).split()) or "salutation"
        symbols.append(Symbol(name, SymbolKind.SALUTATION, salutation.span, salutation.span))
    signature = document.signature(settings.signature_tag, settings.signature_block)
    symbols.extend(_headings(document, signature.span.start if signature else len(text)))
    if signature is not None:
        symbols.append(
            Symbol("signature", SymbolKind.SIGNATURE, signature.span, signature.opening.span)
        )
    symbols.sort(key=lambda symbol: symbol.span.start)
    return symbols


def _detail(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= _MAX_DETAIL else value[: _MAX_DETAIL - 1] + "…"


def _headings(document: Document, section_limit: int) -> list[Symbol]:
    """Headings nested by level; each spans its section, up to the next heading of its level
    or above (or the signature, or the end of the text)."""
    text = document.text
    headings = sorted(document.headings, key=lambda heading: heading.span.start)
    roots: list[Symbol] = []
    stack: list[tuple[int, Symbol]] = []
    for number, heading in enumerate(headings):
        end = len(text)
        for later in headings[number + 1 :]:
            if later.level <= heading.level:
                end = later.span.start
                break
        if heading.span.start < section_limit <= end:
            end = section_limit
        end = max(heading.span.end, len(text[:end].rstrip()))
        symbol = Symbol(
            heading.text or "(empty heading)",
            SymbolKind.HEADING,
            Span(heading.span.start, end),
            heading.span,
            detail="#" * heading.level,
        )
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        if stack:
            stack[-1][1].children.append(symbol)
        else:
            roots.append(symbol)
        stack.append((heading.level, symbol))
    return roots


def _no_workspace_symbols() -> tuple[list[WorkspaceSymbol], bool]:
    return [], False


@never_raises(_no_workspace_symbols)
def workspace_symbols(
    site: LoadedSite, query: str, limit: int = 100
) -> tuple[list[WorkspaceSymbol], bool]:
    """Reviews whose title matches `query` (fuzzy subsequence), best first, at most `limit`;
    the flag says more matched."""
    limit = max(1, limit)
    folded = fold(query)
    search = catalog_for(site.index).search("title")
    needles = ranked_needles(folded)
    if folded:
        needles.append(subsequence_pattern(folded))
    records, incomplete = search.ranked(needles, _is_titled, limit)
    return [_workspace_symbol(record) for record in records], incomplete


def _is_titled(record: ReviewRecord) -> bool:
    return True


def _workspace_symbol(record: ReviewRecord) -> WorkspaceSymbol:
    detail = record.day
    if not record.built:
        detail = (detail + " · " if detail else "") + record.entry.status.value
    start = Position(0, 0)
    return WorkspaceSymbol(
        record.title, SymbolKind.REVIEW, record.path, Range(start, start), detail
    )
