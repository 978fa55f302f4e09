"""Front matter rules (FM): present, valid YAML, a mapping, known keys, right types and targets."""

from __future__ import annotations

import datetime
import difflib
import functools
import math
import os
import posixpath
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from letterhead.document import (
    FrontMatter,
    FrontMatterEntry,
    FrontMatterErrorKind,
    ValueStyle,
    as_date,
)
from letterhead.findings import Fix, Severity
from letterhead.index import REVIEW_KINDS
from letterhead.positions import Span
from letterhead.rules import Context, Report, rule
from letterhead.settings import STANDARD_KEYS, TYPED_BOOLEAN_KEYS
from letterhead.site.permalinks import unknown_placeholders
from letterhead.yamltext import quote_of, scalar

# Keys Jekyll itself reads that a review site rarely writes, accepted beside STANDARD_KEYS.
_JEKYLL_KEYS = frozenset({"render_with_liquid", "hidden", "output", "collection", "id"})
_CONVENTION_USES = 3  # a key this many other documents use is one of the site's conventions
_REVIEW_PATH = re.compile(r"(?:^|/)_(?:posts|drafts)/")
_POST_PATH = re.compile(r"(?:^|/)_posts/(?:.*/)?(\d{4})-(\d{2})-(\d{2})-[^/]*$")
_DATE_PREFIX = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}-")
_IMDB_ID = re.compile(r"^tt\d{7,8}$")
_IMDB_ID_INSIDE = re.compile(r"tt\d{7,8}")
_URL_SCHEME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")
# The date forms Jekyll (Ruby's Time.parse) reads from a string the YAML loader left as text.
_DATE_TEXT = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[Tt ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2}|[A-Z]{3,4})?$"
)
_SAFE_SIMILARITY = 0.8  # a suggestion this close is applied by `check --fix`


def _valid(ctx: Context) -> FrontMatter | None:
    """The document's front matter when it was read as a mapping."""
    front_matter = ctx.document.front_matter
    if front_matter is None or front_matter.error is not None:
        return None
    return front_matter


def _is_review(ctx: Context) -> bool:
    if ctx.entry is not None and ctx.entry.kind in REVIEW_KINDS:
        return True
    return bool(_REVIEW_PATH.search(ctx.path))


def _unread(ctx: Context) -> bool:
    """Whether the file could not be read at all (binary, too large): its text is not its own."""
    return not ctx.document.text and bool(ctx.document.problems)


def _newline(text: str) -> str:
    """The text's own line break for inserted lines: `\\r\\n`, `\\n`, or a lone `\\r`."""
    found = _FIRST_BREAK.search(text)
    return found.group() if found is not None else "\n"


_FIRST_BREAK = re.compile(r"\r\n|\r|\n")


def _line_span(ctx: Context, offset: int) -> Span:
    lines = ctx.document.lines
    line = lines.position(offset).line
    return Span(lines.line_start(line), lines.line_end(line))


def _nearest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> tuple[str | None, bool]:
    """The choice closest to `word` (case-insensitively) and whether it is close enough to apply."""
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    folded = word.casefold()
    if folded in by_folded:
        return by_folded[folded], True
    matches = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=cutoff)
    if not matches:
        return None, False
    ratio = difflib.SequenceMatcher(None, folded, matches[0]).ratio()
    return by_folded[matches[0]], ratio >= _SAFE_SIMILARITY


def _replace_value(ctx: Context, entry: FrontMatterEntry, new_value: str, safe: bool) -> Fix:
    """A fix writing `new_value` in place of the entry's scalar, in the quotes the author used."""
    written = ctx.document.text[entry.value_span.start : entry.value_span.end]
    quote = quote_of(written) if entry.style is ValueStyle.QUOTED else None
    return ctx.replace(entry.value_span, scalar(new_value, quote), f"Change to `{new_value}`", safe)


def _listing(names: Iterable[str], limit: int = 12) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def _suggestion(name: str | None) -> str:
    return f" — did you mean `{name}`?" if name else ""


# -- FM001 -------------------------------------------------------------------------------------


@rule(
    "FM001",
    "front-matter-missing",
    Severity.ERROR,
    "a review with no front matter, or front matter with no closing `---`",
    fixable=True,
)
def front_matter_missing(ctx: Context) -> Iterator[Report]:
    """Catches a review without front matter, or whose front matter never closes.

    Jekyll only treats a file as a post when it starts with front matter between two `---`
    lines; without it the review is copied as a plain file, and with no closing `---` the
    whole letter is read as YAML.

    Wrong:

        _**Dear Rithy Panh**, Director,_

    Right:

        ---
        title: "The Missing Picture"
        author: annaw
        addressee: Rithy Panh
        position: Director
        ---
        _**Dear Rithy Panh**, Director,_

    The fix inserts a template: the title from the file name, the layout (unless the site's
    `defaults:` give one), and empty lines for the author and, for letter layouts, the addressee
    and position. For unclosed front matter it offers to close it before the first line that is
    not YAML. Checked for posts, drafts and collection documents; pages may be plain files.
    """
    front_matter = ctx.document.front_matter
    error = front_matter.error if front_matter is not None else None
    if front_matter is None or (error is not None and error.kind is FrontMatterErrorKind.MISSING):
        if _is_review(ctx) and not _unread(ctx):
            yield Report(
                _line_span(ctx, 0),
                "no front matter: a review starts with `---` lines holding "
                f"{', '.join(f'`{key}`' for key in _template_keys(ctx))}",
                ctx.insert(0, _template(ctx), "Insert a front matter template"),
            )
    elif error is not None and error.kind is FrontMatterErrorKind.UNCLOSED:
        yield Report(
            _line_span(ctx, front_matter.span.start),
            "front matter opened here is never closed: end it with a `---` line after the last key",
            _close_front_matter(ctx, front_matter),
        )


def _template_keys(ctx: Context) -> list[str]:
    keys = list(ctx.settings.required_keys)
    if ctx.settings.is_letter_layout(ctx.data.get("layout") or _template_layout(ctx)):
        keys += [key for key in ctx.settings.letter_required_keys if key not in keys]
    return keys


def _template_layout(ctx: Context) -> str:
    """The layout a new review should name (the first letter layout the site has)."""
    layouts = set(ctx.index.site.layouts) | set(ctx.settings.extra_layouts)
    for layout in ctx.settings.letter_layouts:
        if layout in layouts:
            return layout
    for layout in ("post", "default"):
        if layout in layouts:
            return layout
    return ctx.settings.letter_layouts[0] if ctx.settings.letter_layouts else "default"


def _template(ctx: Context) -> str:
    newline = _newline(ctx.document.text)
    given = ctx.data  # what the site's defaults already give this file
    lines = ["---"]
    for key in _template_keys(ctx):
        if given.get(key) not in (None, ""):
            continue
        if key == "title":
            lines.append("title: " + scalar(_title_from_path(ctx.path), '"'))
        elif key == "layout":
            lines.append("layout: " + _template_layout(ctx))
        else:
            lines.append(f"{key}: ")
    lines.append("---")
    text = ctx.document.text
    gap = "" if not text or text.startswith(("\n", "\r")) else newline
    return newline.join(lines) + newline + gap


def _title_from_path(path: str) -> str:
    stem = posixpath.basename(path).rsplit(".", 1)[0]
    stem = _DATE_PREFIX.sub("", stem)
    words = stem.replace("_", " ").replace("-", " ").split()
    return " ".join(word[:1].upper() + word[1:] for word in words) or "Untitled"


def _close_front_matter(ctx: Context, front_matter: FrontMatter) -> Fix:
    """Insert `---` before the first line after the opening fence that does not read as YAML."""
    lines = ctx.document.lines
    first = lines.position(front_matter.span.start).line + 1
    insert_at = len(ctx.document.text)
    for line in range(first, lines.line_count):
        content = lines.line_text(line)
        if not _looks_like_yaml(content):
            insert_at = lines.line_start(line)
            break
    newline = _newline(ctx.document.text)
    prefix = (
        newline
        if insert_at == len(ctx.document.text) and not ctx.document.text.endswith("\n")
        else ""
    )
    return ctx.insert(insert_at, f"{prefix}---{newline}", "Close the front matter", safe=False)


def _looks_like_yaml(line: str) -> bool:
    if not line.strip():
        return False
    if line[0] in " \t#" or line.startswith("- "):
        return True
    return bool(re.match(r"^[\w\"'-][^:]*:(\s|$)", line))


# -- FM002, FM003 ------------------------------------------------------------------------------


@rule(
    "FM002",
    "yaml-syntax",
    Severity.ERROR,
    "front matter that is not valid YAML, reported where the YAML parser stopped",
)
def yaml_syntax(ctx: Context) -> Iterator[Report]:
    """Catches front matter the YAML parser cannot read, at the parser's own position.

    Jekyll stops with an error on such a review (or silently drops its front matter), so its
    title, layout and tags are lost. This includes YAML too complex to read safely (aliases
    expanding to huge documents) and tags such as `!!python/object` that a safe loader refuses.

    Wrong (a colon and a space inside a plain value):

        title: Dear Rithy: a letter

    Right:

        title: "Dear Rithy: a letter"

    There is no automatic fix: the author must say what the value is.
    """
    front_matter = ctx.document.front_matter
    error = front_matter.error if front_matter is not None else None
    if error is None:
        return
    if error.kind is FrontMatterErrorKind.YAML:
        message = error.message
        if "mapping values are not allowed" in message or "found character" in message:
            message += "; quote a value that holds `: ` or starts with `@`, `%`, `` ` `` or `!`"
    elif error.kind is FrontMatterErrorKind.TOO_COMPLEX:
        detail = error.message.removeprefix("the front matter ")
        message = f"front matter is too complex: {detail}"
        if "alias" in detail:
            message += "; write the values out instead of repeating them through aliases"
    elif error.kind is FrontMatterErrorKind.UNSAFE_TAG:
        message = f"{error.message}; write a plain value instead"
    else:
        return
    yield Report(error.span, message)


@rule(
    "FM003",
    "front-matter-not-mapping",
    Severity.ERROR,
    "front matter that is a list or a single value instead of `key: value` lines",
)
def front_matter_not_mapping(ctx: Context) -> Iterator[Report]:
    """Catches front matter that is valid YAML but not a mapping of keys to values.

    Jekyll needs `key: value` pairs; a list or a lone scalar gives the review no title, layout
    or tags.

    Wrong:

        ---
        - title: The Missing Picture
        ---

    Right:

        ---
        title: The Missing Picture
        ---
    """
    front_matter = ctx.document.front_matter
    error = front_matter.error if front_matter is not None else None
    if error is not None and error.kind is FrontMatterErrorKind.NOT_MAPPING:
        yield Report(error.span, error.message)


# -- FM004 -------------------------------------------------------------------------------------


@rule(
    "FM004",
    "duplicate-key",
    Severity.WARNING,
    "a front matter key given twice; only the last one counts",
    fixable=True,
)
def duplicate_key(ctx: Context) -> Iterator[Report]:
    """Catches a key written twice in the same front matter.

    YAML loaders keep only the last value, so the earlier one is silently ignored — usually an
    edit made in the wrong place. The finding sits on the earlier, ignored key.

    Wrong:

        title: The Missing Pictures
        stars: 4.5
        title: The Missing Picture

    Right:

        stars: 4.5
        title: The Missing Picture

    The fix removes the earlier entry's lines.
    """
    front_matter = _valid(ctx)
    if front_matter is None:
        return
    entries = front_matter.entries
    if len({entry.key for entry in entries}) == len(entries):
        return  # every key written once (nearly every review): no need to compare each pair
    lines = ctx.document.lines
    for index, entry in enumerate(entries):
        later = next((other for other in entries[index + 1 :] if other.key == entry.key), None)
        if later is None:
            continue
        later_line = lines.position(later.key_span.start).line + 1
        fix = _remove_entry(ctx, entry, entries)
        yield Report(
            entry.key_span,
            f"`{entry.key}` is given again on line {later_line}, and only that last value counts; "
            f"remove this earlier `{entry.key}`",
            fix,
            related=[(ctx.path, later.key_span, f"the `{entry.key}` Jekyll uses")],
        )


def _remove_entry(
    ctx: Context, entry: FrontMatterEntry, entries: list[FrontMatterEntry]
) -> Fix | None:
    lines = ctx.document.lines
    start = lines.line_start(lines.position(entry.key_span.start).line)
    value_end = max(entry.value_span.end, entry.key_span.end)
    end_position = lines.position(value_end)
    if end_position.character == 0 and value_end > start:
        end = value_end
    elif end_position.line + 1 < lines.line_count:
        end = lines.line_start(end_position.line + 1)
    else:
        end = len(ctx.document.text)
    if any(other is not entry and start <= other.key_span.start < end for other in entries):
        return None  # a flow mapping: other keys share these lines
    return ctx.delete(Span(start, end), f"Remove the earlier `{entry.key}`")


# -- FM005 -------------------------------------------------------------------------------------


def unknown_key(ctx: Context) -> Iterator[Report]:
    """Catches a key that nothing reads, usually a misspelling (`catgories` for `categories`).

    A misspelt key is silently ignored by Jekyll: the review loses its categories, image or
    rating without any error. Known keys are Jekyll's and a review site's standard keys (listed
    below), keys set by the site's `defaults:`, keys in
    `letterhead: known_keys:`, and keys that at least three other documents of the site use.

    Wrong:

        catgories: [reviews]

    Right:

        categories: [reviews]

    The fix renames the key (keeping its value as written) to the nearest known key.
    Configure: `letterhead: {known_keys: [subtitle, trailer]}` in `_config.yml`.

    Standard keys:"""
    front_matter = _valid(ctx)
    if front_matter is None:
        return
    # Standard keys are known on every site, and most reviews write no other: then there is no
    # need to gather the site's own known keys.
    if all(entry.key in STANDARD_KEYS for entry in front_matter.entries):
        return
    known = _known_keys(ctx)
    written = {entry.key for entry in front_matter.entries}
    for entry in front_matter.entries:
        if entry.key in known or _site_convention(ctx, entry.key):
            continue
        suggestion, safe = _nearest(entry.key, known, cutoff=0.75)
        if suggestion is None:
            yield Report(
                entry.key_span,
                f"unknown key `{entry.key}`: no layout or rule of this site reads it; if a "
                "template does, list it under `letterhead: known_keys:` in _config.yml",
            )
            continue
        fix = None
        if suggestion not in written:
            key_text = ctx.document.text[entry.key_span.start : entry.key_span.end]
            fix = ctx.replace(
                entry.key_span,
                scalar(suggestion, quote_of(key_text)),
                f"Rename `{entry.key}` to `{suggestion}`",
                safe,
            )
        yield Report(
            entry.key_span, f"unknown key `{entry.key}`; did you mean `{suggestion}`?", fix
        )


# Registered by hand so that the documentation can list the standard keys it accepts.
unknown_key.__doc__ = (unknown_key.__doc__ or "") + " " + ", ".join(sorted(STANDARD_KEYS)) + "."
rule(
    "FM005",
    "unknown-key",
    Severity.WARNING,
    "a front matter key no layout, rule or site convention knows (`catgories`)",
    fixable=True,
)(unknown_key)


def _known_keys(ctx: Context) -> set[str]:
    known = set(STANDARD_KEYS) | _JEKYLL_KEYS | set(ctx.settings.known_keys)
    known.update(_default_keys(ctx))
    return known


def _default_keys(ctx: Context) -> set[str]:
    """Keys the `defaults:` of `_config.yml` set for some scope."""
    return {str(key) for default in ctx.index.site.config.defaults for key in default.values}


def _site_convention(ctx: Context, key: str) -> bool:
    """Whether enough other documents of the site use `key` for it to be the site's own."""
    uses = ctx.index.documents_with_key(key)
    own = ctx.index.documents.get(ctx.path)
    if own is not None and key in own.entry.data:
        uses -= 1  # the document being checked, as the index holds it
    return uses >= _CONVENTION_USES


# -- FM006 -------------------------------------------------------------------------------------


@rule(
    "FM006",
    "missing-key",
    Severity.WARNING,
    "a required key absent after the site's defaults (title, layout, author; addressee, position)",
    fixable=True,
)
def missing_key(ctx: Context) -> Iterator[Report]:
    """Catches a review that lacks a required key once the site's `defaults:` are applied.

    Reviews (posts, drafts and collection documents) need `title`, `layout` and `author`;
    letters (reviews whose layout is a letter layout) also need `addressee` and `position`,
    which the salutation names. A key given by `defaults:` in `_config.yml` is not missing.
    Pages are not checked. An empty value (`author:`) counts as missing.

    Wrong (no author):

        ---
        title: The Missing Picture
        ---

    Right:

        ---
        title: The Missing Picture
        author: annaw
        ---

    The fix inserts an empty `key: ` line before the closing `---` for the author to fill in.
    Configure: `letterhead: {required_keys: [title, author], letter_required_keys: [addressee],
    letter_layouts: [review]}`.
    """
    front_matter = _valid(ctx)
    if front_matter is None or not _is_review(ctx):
        return
    data = ctx.data
    for key in _required(ctx):
        own = ctx.front_matter_entry(key)
        if own is not None and _empty(own.value):
            yield Report(own.key_span, f"`{key}` is empty; {_why_required(ctx, key)}")
        elif key not in data or _empty(data[key]):
            insert_at = _closing_fence_start(ctx, front_matter)
            newline = _newline(ctx.document.text)
            fix = ctx.insert(insert_at, f"{key}: {newline}", f"Add `{key}:`")
            opening = _line_span(ctx, front_matter.span.start)
            yield Report(opening, f"missing `{key}`; {_why_required(ctx, key)}", fix)


def _required(ctx: Context) -> list[str]:
    """The keys this document must have: every review's, and a letter's own."""
    keys = list(ctx.settings.required_keys)
    if ctx.settings.is_letter_layout(ctx.data.get("layout")):
        keys += [key for key in ctx.settings.letter_required_keys if key not in keys]
    return keys


def _why_required(ctx: Context, key: str) -> str:
    """Why `key` is needed and what a right value looks like."""
    site = ctx.index.site
    layout = ctx.data.get("layout")
    if key in ctx.settings.letter_required_keys and ctx.settings.is_letter_layout(layout):
        return f"the letter layout `{layout}` needs it for the salutation"
    if key == "layout":
        layouts = set(site.layouts) | set(ctx.settings.extra_layouts)
        if not layouts:
            return "add `layout:` (this site has no `_layouts/`: a theme's layout, or `none`)"
        return f"add `layout:` with one of this site's layouts: {_listing(layouts)}"
    if key == "author" and site.authors:
        return (
            f"add `author:` with one of the authors in _data/authors.yml: {_listing(site.authors)}"
        )
    return f"every review needs `{key}:`"


def _empty(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, list | dict) and not value)


def _closing_fence_start(ctx: Context, front_matter: FrontMatter) -> int:
    text = ctx.document.text
    end = len(text[: front_matter.span.end].rstrip("\r\n"))
    return ctx.document.lines.line_start(ctx.document.lines.position(end).line)


# -- FM007 -------------------------------------------------------------------------------------


@rule(
    "FM007",
    "wrong-type",
    Severity.WARNING,
    "a value of the wrong type or out of range (stars, imdb, published, comments, date)",
)
def wrong_type(ctx: Context) -> Iterator[Report]:
    """Catches values the site's layouts cannot use as written:

    - `stars`: a number from 0 to 5 in steps of 0.5 (`4.5`, not `4.3`, `"4.5"` or `6`);
    - `imdb`: `tt` followed by 7 or 8 digits (`tt2852470`, not the whole IMDb URL);
    - `published`, `comments`: `true` or `false` without quotes — `published: "false"` is a
      string, and any string counts as true, so the review is published;
    - `date`: a date, `2014-06-01` or `2014-06-01 10:00:00 +0100`;
    - `permalink` of a post or collection document: only placeholders Jekyll knows (`:year`,
      `:title`, ...); with any other its build stops ("The URL template doesn't have ... keys").

    Wrong:

        stars: "4.5"
        published: "false"

    Right:

        stars: 4.5
        published: false
    """
    front_matter = _valid(ctx)
    if front_matter is None:
        return
    for entry in front_matter.entries:
        check = _TYPE_CHECKS.get(entry.key)
        message = check(entry) if check is not None else None
        if entry.key == "permalink" and _is_review(ctx):
            message = _permalink_problem(entry)
        if message is not None:
            yield Report(entry.value_span, message)


def _permalink_problem(entry: FrontMatterEntry) -> str | None:
    # Pages keep an unknown `:key` as text; documents (posts, collections) stop the build.
    if not isinstance(entry.value, str):
        return None
    unknown = unknown_placeholders(entry.value)
    if not unknown:
        return None
    names = ", ".join(f"`:{name}`" for name in unknown)
    return (
        f"`permalink` uses {names}, which Jekyll does not know; its build stops with "
        "'The URL template doesn't have ... keys'"
    )


def _stars_problem(entry: FrontMatterEntry) -> str | None:
    value = entry.value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return (
            f"`stars` is written as {_shown(value)}; use a number from 0 to 5 in steps of 0.5 "
            "without quotes, e.g. `4.5`"
        )
    if not math.isfinite(value) or not 0 <= value <= 5 or not float(value * 2).is_integer():
        nearest = min(5.0, max(0.0, round(value * 2) / 2)) if math.isfinite(value) else 0.0
        return (
            f"`stars: {value}` is not a rating: use a number from 0 to 5 in steps of 0.5 "
            f"(nearest: `{nearest:g}`)"
        )
    return None


def _imdb_problem(entry: FrontMatterEntry) -> str | None:
    value = entry.value
    if value is None or (isinstance(value, str) and _IMDB_ID.match(value)):
        return None
    found = _IMDB_ID_INSIDE.search(str(value))
    hint = f"`{found.group()}`" if found else "e.g. `tt2852470`"
    return f"`imdb` must be a film id, `tt` followed by 7 or 8 digits: {hint}"


def _boolean_problem(entry: FrontMatterEntry) -> str | None:
    value = entry.value
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        meant = "true" if value.strip().lower() in ("true", "yes") else "false"
        return (
            f"`{entry.key}: {_shown(value)}` is a string, which Jekyll counts as true; "
            f"write `{meant}` without quotes"
        )
    return f"`{entry.key}` must be `true` or `false`, not {_shown(value)}"


def _date_problem(entry: FrontMatterEntry) -> str | None:
    value = entry.value
    if value is None or written_date(value) is not None:
        return None
    return (
        f"`date` must be a date such as `2014-06-01` or `2014-06-01 10:00:00 +0100`, "
        f"not {_shown(value)}"
    )


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'the string `"{value}"`'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"`{value}`"


_TYPE_CHECKS = {
    "stars": _stars_problem,
    "imdb": _imdb_problem,
    "date": _date_problem,
    **{key: _boolean_problem for key in TYPED_BOOLEAN_KEYS},
}


def written_date(value: Any) -> datetime.date | None:
    """The calendar day a front matter `date` value names as written, if it is a date at all."""
    day = as_date(value)
    if day is not None:
        return day
    if not isinstance(value, str):
        return None
    match = _DATE_TEXT.match(value.strip())
    if match is None:
        return None
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


# -- FM008, FM009 ------------------------------------------------------------------------------


@rule(
    "FM008",
    "unknown-layout",
    Severity.ERROR,
    "a layout that is not in `_layouts/` nor configured as a theme layout",
    fixable=True,
)
def unknown_layout(ctx: Context) -> Iterator[Report]:
    """Catches a `layout:` naming no file of `_layouts/`.

    Jekyll renders such a review without any layout (a bare page with no title, no salutation
    styling, no signature), printing only a build warning. `layout: none` and `layout: null`
    are Jekyll's ways of asking for no layout, and are accepted.

    Wrong:

        layout: reveiw

    Right:

        layout: review

    The fix writes the nearest layout name. Layouts from a theme gem are not in `_layouts/`:
    list them in `letterhead: {extra_layouts: [post, home]}`.
    """
    front_matter = _valid(ctx)
    entry = ctx.front_matter_entry("layout") if front_matter is not None else None
    if entry is None or entry.value is None:
        return
    layouts = set(ctx.index.site.layouts) | set(ctx.settings.extra_layouts)
    if not layouts:
        return  # nothing to compare against (a theme with no local layouts)
    value = entry.value
    if not isinstance(value, str):
        yield Report(entry.value_span, f"`layout` must be one name: {_listing(layouts)}")
        return
    if value in layouts or value == "none":
        return
    suggestion, safe = _nearest(value, layouts)
    fix = _replace_value(ctx, entry, suggestion, safe) if suggestion else None
    yield Report(
        entry.value_span,
        f"unknown layout `{value}`; layouts of this site: {_listing(layouts)}"
        f"{_suggestion(suggestion)}",
        fix,
    )


@rule(
    "FM009",
    "unknown-author",
    Severity.WARNING,
    "an author who is not a key of `_data/authors.yml`",
    fixable=True,
)
def unknown_author(ctx: Context) -> Iterator[Report]:
    """Catches an `author:` that `_data/authors.yml` does not list.

    Layouts look the author up in `site.data.authors` for the byline and signature; an unknown
    handle prints nothing. Only checked when the site has `_data/authors.yml`.

    Wrong:

        author: christopher

    Right:

        author: christopherr

    The fix writes the nearest author handle.
    """
    front_matter = _valid(ctx)
    authors = ctx.index.site.authors
    entry = ctx.front_matter_entry("author") if front_matter is not None else None
    if entry is None or not authors:
        return
    value = entry.value
    if isinstance(value, str) and value and value not in authors:
        handles = _handles(authors)
        suggestion, safe = _nearest(value, handles)
        fix = _replace_value(ctx, entry, suggestion, safe) if suggestion else None
        yield Report(entry.value_span, _author_message(value, handles, suggestion), fix)
    elif isinstance(value, list) and entry.items:
        for item in entry.items:
            if isinstance(item.value, str) and item.value and item.value not in authors:
                handles = _handles(authors)
                suggestion, safe = _nearest(item.value, handles)
                item_fix = (
                    ctx.replace(item.text_span, suggestion, f"Change to `{suggestion}`", safe)
                    if suggestion
                    else None
                )
                yield Report(item.span, _author_message(item.value, handles, suggestion), item_fix)


def _handles(authors: Iterable[Any]) -> list[str]:
    """The author handles as text, for a finding's suggestion and list (only when one is made)."""
    return [str(handle) for handle in authors]


def _author_message(value: str, handles: list[str], suggestion: str | None) -> str:
    return (
        f"unknown author `{value}`; authors in _data/authors.yml: {_listing(handles)}"
        f"{_suggestion(suggestion)}"
    )


# -- FM010 -------------------------------------------------------------------------------------


@rule(
    "FM010",
    "image-not-found",
    Severity.WARNING,
    "an `image:` file that is in none of the image folders",
    fixable=True,
)
def image_not_found(ctx: Context) -> Iterator[Report]:
    """Catches an `image:` naming a file that does not exist.

    The layout would show a broken image. A name is looked up in the image folders
    (`images/`, `assets/images/`, `img/` by default) and at the site root; a value starting
    with `/` is a path from the site root; `http://` and `https://` URLs are not checked. A path
    that climbs out of the site (`../../etc/passwd`) is reported, never read.

    Wrong:

        image: the-mising-picture.jpg

    Right:

        image: the-missing-picture.jpg

    The fix writes the nearest existing file name. Configure the folders with
    `letterhead: {image_dirs: [images, assets/posters]}`.
    """
    front_matter = _valid(ctx)
    entry = ctx.front_matter_entry("image") if front_matter is not None else None
    if entry is None or not isinstance(entry.value, str) or not entry.value.strip():
        return
    value = entry.value.strip()
    if _URL_SCHEME.match(value):
        return
    dirs = _image_dirs(ctx.settings.image_dirs)
    # Most images are files the site copies, in the first folder: the index knows them, and
    # that folder's candidate alone is usually all there is to make. The folders are walked
    # only for the others (a folder Jekyll leaves out, a file the index has not seen yet): the
    # first walk of 20,000 images took ~10 ms of the first check after every start.
    statics = ctx.index.statics
    if any(path in statics for path in _image_candidates(value, dirs)):
        return
    files = _image_files(ctx.index.site.root, dirs)
    if any(path in files for path in _image_candidates(value, dirs)):
        return
    candidates = list(_image_candidates(value, dirs))
    where = (
        f"a file in {', '.join(d + '/' for d in dirs)}"
        if not value.startswith("/")
        else "an existing file of the site"
    )
    if not candidates or any(_escapes(path) for path in candidates):
        yield Report(entry.value_span, f"image `{value}` points outside the site; name {where}")
        return
    suggestion, safe = _nearest_image(value, dirs, files)
    fix = _replace_value(ctx, entry, suggestion, safe) if suggestion else None
    yield Report(
        entry.value_span,
        f"image `{value}` not found; name {where}{_suggestion(suggestion)}",
        fix,
    )


@functools.lru_cache(maxsize=16)
def _image_dirs(configured: tuple[str, ...]) -> tuple[str, ...]:
    dirs = []
    for folder in configured:
        normal = posixpath.normpath(folder.strip().strip("/"))
        if normal not in (".", "") and not _escapes(normal):
            dirs.append(normal)
    return tuple(dirs)


def _image_candidates(value: str, dirs: tuple[str, ...]) -> Iterator[str]:
    """Site-relative paths `value` may name, one at a time (normalised; may start with `..` if
    it escapes)."""
    path = unquote(value.split("#", 1)[0].split("?", 1)[0]).replace("\\", "/")
    if not path or "\x00" in path:
        return
    if path.startswith("/"):
        yield posixpath.normpath(path.lstrip("/"))
        return
    for folder in dirs:
        yield posixpath.normpath(f"{folder}/{path}")
    yield posixpath.normpath(path)


def _escapes(path: str) -> bool:
    return path == ".." or path.startswith("../") or path.startswith("/")


def _nearest_image(
    value: str, dirs: tuple[str, ...], files: frozenset[str]
) -> tuple[str | None, bool]:
    """The existing image closest to `value`, written as `value` is (folder-relative or `/`)."""
    forms: list[str] = []
    for path in files:
        if value.startswith("/"):
            forms.append("/" + path)
            continue
        folder = next((d for d in dirs if path.startswith(d + "/")), None)
        if folder is not None:
            forms.append(path[len(folder) + 1 :])
    return _nearest(value, forms)


@dataclass(slots=True)
class _Listing:
    files: frozenset[str]
    stamps: dict[str, float]  # every listed folder's mtime, to notice changes
    checked_at: float


_LISTINGS: dict[tuple[str, tuple[str, ...]], _Listing] = {}
_RECHECK_SECONDS = 2.0
_MAX_IMAGE_FILES = 50_000


def _image_files(root: Path, dirs: tuple[str, ...]) -> frozenset[str]:
    """Site-relative paths of the files in the image folders, cached per site root.

    The listing is re-validated (by folder modification times) at most every few seconds, so
    checking 20,000 reviews costs one walk, while the editor still notices new images.
    """
    key = (str(root), dirs)
    now = time.monotonic()
    cached = _LISTINGS.get(key)
    if cached is not None and now - cached.checked_at < _RECHECK_SECONDS:
        return cached.files
    if cached is not None and _stamps_unchanged(cached.stamps):
        cached.checked_at = now
        return cached.files
    files, stamps = _walk_images(root, dirs)
    _LISTINGS[key] = _Listing(files, stamps, now)
    return files


def _stamps_unchanged(stamps: dict[str, float]) -> bool:
    for folder, mtime in stamps.items():
        try:
            if os.stat(folder).st_mtime != mtime:
                return False
        except OSError:
            if mtime != -1.0:  # -1.0 stands for a folder that did not exist
                return False
    return True


def _walk_images(root: Path, dirs: tuple[str, ...]) -> tuple[frozenset[str], dict[str, float]]:
    files: set[str] = set()
    stamps: dict[str, float] = {}
    try:
        resolved_root = root.resolve()
    except OSError:
        return frozenset(), stamps
    for folder in dirs:
        top = root / folder
        try:
            stamps[str(top)] = os.stat(top).st_mtime if top.exists() else -1.0
            if not top.is_dir() or not top.resolve().is_relative_to(resolved_root):
                continue
        except OSError:
            continue
        for current, subfolders, names in os.walk(top, followlinks=False):
            try:
                stamps[current] = os.stat(current).st_mtime
            except OSError:
                continue
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            relative = Path(current).relative_to(root).as_posix()
            files.update(f"{relative}/{name}" for name in names)
            if len(files) >= _MAX_IMAGE_FILES:
                return frozenset(files), stamps
    return frozenset(files), stamps


# -- FM011 -------------------------------------------------------------------------------------


@rule(
    "FM011",
    "date-mismatch",
    Severity.WARNING,
    "a post whose front matter `date` is another day than its file name's",
)
def date_mismatch(ctx: Context) -> Iterator[Report]:
    """Catches a post whose `date:` falls on another day than the date in its file name.

    The front matter date wins: it moves the post's URL (`/content/2014/6/2/...` instead of
    `/content/2014/6/1/...`), breaking links to the old address, and the file name no longer
    says when the review appeared. A time on the same day is fine.

    Wrong (in `_posts/2014-06-01-the-missing-picture.md`):

        date: 2014-06-02 10:00:00 +0100

    Right:

        date: 2014-06-01 10:00:00 +0100

    No automatic fix: either the file name or the date is wrong, and only the author knows.
    """
    front_matter = _valid(ctx)
    entry = ctx.front_matter_entry("date") if front_matter is not None else None
    match = _POST_PATH.search(ctx.path)
    if entry is None or match is None:
        return
    written = written_date(entry.value)
    try:
        named = datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return
    if written is None or written == named:
        return
    yield Report(
        entry.value_span,
        f"`date` is {written.isoformat()} but the file name says {named.isoformat()}; the URL "
        f"follows `date`: write a date on {named.isoformat()} or rename the file to "
        f"`{written.isoformat()}-…`",
    )
