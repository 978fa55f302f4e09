"""Taxonomy rules (TX): one spelling per tag and per category across the whole site.

Each rule exists twice, for `tags` (TX001–TX006) and for `categories` (TX101–TX106), built by
`_register_family` from the same functions so the two can never drift apart.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from letterhead.document import ListItem, fold
from letterhead.findings import Fix, Severity
from letterhead.index import REVIEW_KINDS
from letterhead.refactor import removal_span
from letterhead.rules import Context, Report, rule
from letterhead.settings import TaxonomyPolicy
from letterhead.site.discovery import within_site
from letterhead.site.yamldata import safe_load
from letterhead.taxonomy import Taxonomy
from letterhead.yamltext import flow_list, quote_of, scalar


@dataclass(frozen=True, slots=True)
class _Kind:
    key: str  # front matter key
    noun: str  # "tag" or "category"
    plural: str
    base: int  # 0 for tags, 100 for categories

    def code(self, number: int) -> str:
        return f"TX{self.base + number:03d}"

    def taxonomy(self, context: Context) -> Taxonomy:
        return context.index.tags if self.key == "tags" else context.index.categories

    def policy(self, context: Context) -> TaxonomyPolicy:
        return context.settings.tags if self.key == "tags" else context.settings.categories


TAGS = _Kind("tags", "tag", "tags", 0)
CATEGORIES = _Kind("categories", "category", "categories", 100)


def _is_review(context: Context) -> bool:
    return context.entry is not None and context.entry.kind in REVIEW_KINDS


def _items(context: Context, kind: _Kind) -> list[ListItem]:
    """The document's own list items for `kind` that are strings, with their spans (worked out
    once per document: each of the family's rules looks at them)."""
    key = f"taxonomy.items.{kind.key}"
    cached = context.memo.get(key)
    if cached is None:
        cached = context.memo[key] = _string_items(context, kind)
    return cached


def _string_items(context: Context, kind: _Kind) -> list[ListItem]:
    front_matter = context.document.front_matter
    if front_matter is None or front_matter.error is not None or not _is_review(context):
        return []
    entry = context.front_matter_entry(kind.key)
    if entry is None or entry.items is None:
        return []
    return [item for item in entry.items if isinstance(item.value, str) and item.value.strip()]


def _replacement(context: Context, item: ListItem, new_text: str) -> Fix:
    written = context.document.text[item.span.start : item.span.end]
    return context.replace(
        item.span, scalar(new_text, quote_of(written)), f"Replace with `{new_text}`"
    )


def _uses(count: int) -> str:
    return f"{count} review{'s' if count != 1 else ''}"


def _canonical_spelling(
    text: str, taxonomy: Taxonomy, policy: TaxonomyPolicy
) -> tuple[str, int] | None:
    """The established spelling of `text`'s folded form when it is not `text` itself."""
    if policy.case == "lower" and text != text.lower() and fold(text) == fold(text.lower()):
        return text.lower(), taxonomy.count(text.lower())
    if taxonomy.spelling_count(text) == 1 and taxonomy.count(text) > 0:
        return None  # `text` is in use and the only spelling of its form: its own canonical
    canonical = taxonomy.canonical(text)
    if canonical is None or canonical.text == text:
        return None
    if canonical.count <= taxonomy.count(text):
        return None
    return canonical.text, canonical.count


# Each spelling's established spelling, for the index as it is (its generation) under one policy:
# a site's reviews share a few thousand names, asked about tens of thousands of times in a check.
_ESTABLISHED: weakref.WeakKeyDictionary[
    Taxonomy, tuple[int, TaxonomyPolicy, dict[str, tuple[str, int] | None]]
] = weakref.WeakKeyDictionary()


def _established(
    context: Context, taxonomy: Taxonomy, policy: TaxonomyPolicy
) -> dict[str, tuple[str, int] | None]:
    generation = context.index.generation
    held = _ESTABLISHED.get(taxonomy)
    if held is None or held[0] != generation or held[1] is not policy:
        held = _ESTABLISHED[taxonomy] = (generation, policy, {})
    return held[2]


def _variant(kind: _Kind) -> Callable[[Context], Iterator[Report]]:
    def check(context: Context) -> Iterator[Report]:
        taxonomy, policy = kind.taxonomy(context), kind.policy(context)
        established = _established(context, taxonomy, policy)
        for item in _items(context, kind):
            text = item.value
            if text in established:
                found = established[text]
            else:
                found = established[text] = _canonical_spelling(text, taxonomy, policy)
            if found is None:
                continue
            canonical, count = found
            message = f"`{item.value}` — {_uses(count)} spell it `{canonical}`"
            if policy.case == "lower" and canonical == item.value.lower():
                message = (
                    f"`{item.value}` — {kind.plural} of this site are lower case: `{canonical}`"
                )
            yield Report(item.text_span, message, _replacement(context, item, canonical))

    return check


def _near_miss(kind: _Kind) -> Callable[[Context], Iterator[Report]]:
    def check(context: Context) -> Iterator[Report]:
        taxonomy = kind.taxonomy(context)
        for item in _items(context, kind):
            if taxonomy.used_elsewhere(item.value, context.path):
                continue
            if taxonomy.spelling_count(item.value) > 1:
                continue  # used elsewhere, or a variant spelling (the variant rule's business)
            if item.value in kind.policy(context).aliases:
                continue
            near = taxonomy.near_miss(item.value, exclude_path=context.path)
            if near is None:
                continue
            yield Report(
                item.text_span,
                f"`{item.value}` is used by no other review; did you mean `{near.text}` "
                f"(used in {_uses(near.count)})?",
                _replacement(context, item, near.text),
            )

    return check


def _alias(kind: _Kind) -> Callable[[Context], Iterator[Report]]:
    def check(context: Context) -> Iterator[Report]:
        aliases = kind.policy(context).aliases
        if not aliases:
            return
        folded_aliases = {fold(alias): canonical for alias, canonical in aliases.items()}
        for item in _items(context, kind):
            canonical = aliases.get(item.value) or folded_aliases.get(fold(item.value))
            if canonical is None or canonical == item.value:
                continue
            yield Report(
                item.text_span,
                f"`{item.value}` is an alias of `{canonical}` in this site's settings; use `{canonical}`",
                _replacement(context, item, canonical),
            )

    return check


_allowed_cache: dict[tuple[str, int, int], frozenset[str]] = {}


def _allowed(context: Context, policy: TaxonomyPolicy) -> frozenset[str] | None:
    """The allowed names from the configured data file, or None when none is configured."""
    if policy.allowed_file is None:
        return None
    root = context.index.site.root
    path = root / policy.allowed_file
    if not within_site(root, path):
        return None  # never read outside the site (CF001 reports the setting)
    try:
        stat = path.stat()
    except OSError:
        return frozenset()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _allowed_cache:
        _allowed_cache[key] = _read_allowed(path)
    return _allowed_cache[key]


def _read_allowed(path: Path) -> frozenset[str]:
    try:
        data: Any = safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, yaml.YAMLError, RecursionError, ValueError):
        return frozenset()
    if isinstance(data, dict):
        return frozenset(str(key) for key in data)
    if isinstance(data, list):
        return frozenset(str(item) for item in data if isinstance(item, (str, int, float)))
    return frozenset()


def _not_allowed(kind: _Kind) -> Callable[[Context], Iterator[Report]]:
    def check(context: Context) -> Iterator[Report]:
        policy = kind.policy(context)
        allowed = _allowed(context, policy)
        if allowed is None and not policy.new_warns:
            return  # no allowed list, and new names are welcome: nothing to hold a name to
        taxonomy = kind.taxonomy(context)
        by_fold = {fold(name): name for name in allowed} if allowed else {}
        for item in _items(context, kind):
            if allowed is not None:
                if item.value in allowed or item.value in policy.aliases:
                    continue
                same = by_fold.get(fold(item.value))
                if same is not None:
                    yield Report(
                        item.text_span,
                        f"`{item.value}` is not on the allowed list ({policy.allowed_file}); "
                        f"it is spelled `{same}` there",
                        _replacement(context, item, same),
                    )
                    continue
                nearest = _closest(item.value, allowed)
                hint = f"; did you mean `{nearest}`?" if nearest else ""
                fix = _replacement(context, item, nearest) if nearest else None
                yield Report(
                    item.text_span,
                    f"`{item.value}` is not on the allowed list of {kind.plural} "
                    f"({policy.allowed_file}){hint}",
                    fix,
                )
            elif policy.new_warns and not taxonomy.used_elsewhere(item.value, context.path):
                if taxonomy.spelling_count(item.value) > 1:
                    continue
                yield Report(
                    item.text_span,
                    f"`{item.value}` is a new {kind.noun}: no other review uses it "
                    f"(this site's settings ask for new {kind.plural} to be reported)",
                )

    return check


def _closest(text: str, names: frozenset[str]) -> str | None:
    import difflib

    by_fold: dict[str, str] = {fold(name): name for name in names}
    close = difflib.get_close_matches(fold(text), list(by_fold), n=1, cutoff=0.75)
    return by_fold[close[0]] if close else None


def _duplicate(kind: _Kind) -> Callable[[Context], Iterator[Report]]:
    def check(context: Context) -> Iterator[Report]:
        front_matter = context.document.front_matter
        if front_matter is None:
            return
        entry = context.front_matter_entry(kind.key)
        items = _items(context, kind)
        seen: dict[str, ListItem] = {}
        for item in items:
            folded = fold(item.value)
            first = seen.get(folded)
            if first is None:
                seen[folded] = item
                continue
            same = "" if first.value == item.value else f" (as `{first.value}`)"
            yield Report(
                item.span,
                f"`{item.value}` is already in this list of {kind.plural}{same}; remove it",
                context.delete(
                    removal_span(context.document, entry, item), f"Remove the second `{item.value}`"
                )
                if entry is not None
                else None,
            )

    return check


def _string_value(kind: _Kind) -> Callable[[Context], Iterator[Report]]:
    def check(context: Context) -> Iterator[Report]:
        front_matter = context.document.front_matter
        if front_matter is None or front_matter.error is not None or not _is_review(context):
            return
        entry = context.front_matter_entry(kind.key)
        if entry is None or not isinstance(entry.value, str):
            return
        value = entry.value.strip()
        if not any(char.isspace() or char == "," for char in value):
            return  # one word: Jekyll reads the same single name either way
        names = [part.strip() for part in value.split(",")] if "," in value else [value]
        names = [name for name in names if name]
        split = value.split()
        yield Report(
            entry.value_span,
            f"`{kind.key}:` is a string, so Jekyll splits it on spaces into {len(split)} "
            f"{kind.plural} ({', '.join(f'`{s}`' for s in split[:6])}); write a list: "
            f"`{kind.key}: {flow_list(names)}`",
            context.replace(
                entry.value_span, flow_list(names), f"Turn into the list {flow_list(names)}"
            ),
        )

    return check


def _register_family(kind: _Kind) -> None:
    noun, plural = kind.noun, kind.plural
    specs: list[
        tuple[
            int, str, Severity, str, Callable[[_Kind], Callable[[Context], Iterator[Report]]], str
        ]
    ] = [
        (
            1,
            f"{noun}-variant",
            Severity.WARNING,
            f"a {noun} spelled differently (case, spaces, hyphens, accents) from the established one",
            _variant,
            f"""
            A {noun} that differs from a {noun} the site already uses only by case, spacing,
            hyphens, underscores or accents (`Letters` beside `letters`, `film-noir` beside
            `film noir`, `Amelie` beside `Amélie`) splits one {noun} page into two. The finding
            names the spelling most reviews use and how many use it; the fix replaces the
            variant with it. With `letterhead: {{{plural}: {{case: lower}}}}` the canonical
            spelling is always lower case.

            Wrong: `{kind.key}: [Letters]` when 214 reviews use `letters`.
            Right: `{kind.key}: [letters]`.
            """,
        ),
        (
            2,
            f"{noun}-near-miss",
            Severity.WARNING,
            f"a {noun} used nowhere else, a small typo away from a {noun} in use",
            _near_miss,
            f"""
            A {noun} that no other review uses and that is one or two letters away from a {noun}
            in use is most likely a typo (`khmer rogue` for `khmer rouge`). {plural.capitalize()}
            that differ only in their digits (`Oscars 2015` beside `Oscars 2014`) are different
            {plural}, not typos, and are never reported.
            """,
        ),
        (
            3,
            f"{noun}-alias",
            Severity.WARNING,
            f"a {noun} configured as an alias of a canonical {noun}",
            _alias,
            f"""
            The site's settings can declare aliases: `letterhead: {{{plural}: {{aliases:
            {{"sci-fi": "science fiction"}}}}}}`. A review that uses an alias is told the
            canonical {noun}, and the fix replaces it.
            """,
        ),
        (
            4,
            f"{noun}-not-allowed",
            Severity.WARNING,
            f"a {noun} outside the site's allowed list (or a new {noun}, when so configured)",
            _not_allowed,
            f"""
            With `letterhead: {{{plural}: {{allowed: _data/{plural}.yml}}}}` (a YAML list, or a
            mapping whose keys are the allowed names), every {noun} must be on that list; the
            finding suggests the nearest allowed name. Without an allowed list, a {noun} that no
            other review uses is fine, unless `new: warn` is set, which reports every new {noun}.
            """,
        ),
        (
            5,
            f"duplicate-{noun}",
            Severity.WARNING,
            f"the same {noun} twice in one list",
            _duplicate,
            f"""
            A {noun} listed twice in one review (compared after folding case, spaces, hyphens
            and accents). The fix removes the second one, keeping the list's formatting.
            """,
        ),
        (
            6,
            f"string-{plural}",
            Severity.WARNING,
            f"`{kind.key}:` given as a string, which Jekyll splits on spaces",
            _string_value,
            f"""
            Jekyll splits a string value of `{kind.key}:` on white space: `{kind.key}: khmer
            rouge` gives two {plural}, `khmer` and `rouge`, which is almost never what the author
            meant. The fix turns the string into a list of one {noun} (or of the comma-separated
            names, when the string has commas): `{kind.key}: [khmer rouge]`.
            """,
        ),
    ]
    for number, name, severity, summary, factory, documentation in specs:
        function = factory(kind)
        function.__doc__ = documentation
        function.__name__ = name.replace("-", "_")
        rule(kind.code(number), name, severity, summary, fixable=number != 4)(function)


_register_family(TAGS)
_register_family(CATEGORIES)
