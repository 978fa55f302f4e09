"""Completion: what may be typed at the cursor, from the site's own vocabulary, ranked and bounded.

In the front matter: keys (with their documentation), and values for `layout`, `author`,
`tags`/`categories` (flow and block lists, ranked by use, canonical spellings, values already in
the list left out), `image`, `position`/`addressee` (seen in the corpus), `stars` and booleans.
In the body: site URLs of other reviews after `](` or `]: `, post ids in `{% post_url `,
reference labels in `[text][`, Liquid tag names after `{% `. In an empty document: a whole
new letter. Every answer is cut at `limit` (with `incomplete` set) and costs one pass over
cached, pre-ranked lists at most: completion runs per keystroke on 20,000-review sites.

The documentation of tags, categories, link targets and post ids is the costly part of an
answer (a name's newest user and its date, a review's summary: about half of a hundred items'
time, and a sixth to a third of their JSON). An editor shows one item's documentation at a time, so
`complete(..., explained=False)` leaves it out and marks those items with an `Explanation`, which
`explain` turns into the same documentation when the editor asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from letterhead.check import LoadedSite
from letterhead.document import Document, fold
from letterhead.features.catalog import (
    RankedName,
    ReviewRecord,
    author_details,
    author_name,
    best_matches,
    catalog_for,
    match_class,
    ranked_needles,
)
from letterhead.features.cursor import KeySlot, ValueSlot, ValueStyle, clamp, front_matter_slot
from letterhead.features.guard import never_raises
from letterhead.features.markup import code_block, code_span, escaped
from letterhead.features.template import letter_template, ranked_authors
from letterhead.features.types import CompletionItem, CompletionKind, Completions, Explanation
from letterhead.positions import Span
from letterhead.settings import STANDARD_KEYS, TYPED_BOOLEAN_KEYS, Settings
from letterhead.taxonomy import Taxonomy
from letterhead.yamltext import flow_list, scalar

_URL_CONTEXT = re.compile(r"\]\([ \t]*<?([^\s()<>]*)$")
_DEFINITION_CONTEXT = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*<?(\S*)$")
_POST_URL_CONTEXT = re.compile(r"\{%-?[ \t]*post_url[ \t]+([^\s%}]*)$")
_LIQUID_CONTEXT = re.compile(r"\{%-?[ \t]*(\w*)$")
_LABEL_CONTEXT = re.compile(r"\]\[([^\[\]]*)$")
_NEW_LETTER_CONTEXT = re.compile(r"\s*[\w-]*")
_URL_CHARS = re.compile(r"[^\s()<>]*")
_POST_ID_CHARS = re.compile(r"[^\s%}]*")
_LABEL_CHARS = re.compile(r"[^\[\]\r\n]*")
_WORD_CHARS = re.compile(r"\w*")
_CLOSING_TAG = re.compile(r"[ \t]*-?%\}")

_BARE_BLOCKS = frozenset({"raw", "comment"})  # block tags that take no argument
_STARS = [f"{half / 2:g}" for half in range(10, -1, -1)]

# Liquid tags an author writes in a review: (name, is a block, documentation).
LIQUID_TAGS: tuple[tuple[str, bool, str], ...] = (
    ("post_url", False, "The URL of another post, by its id: `{% post_url 2013-09-13-slug %}`."),
    ("link", False, "The URL of a file of the site, by its path: `{% link _posts/x.md %}`."),
    ("include", False, "Include a file from `_includes/`."),
    ("include_relative", False, "Include a file relative to this one."),
    ("highlight", True, "A highlighted code block: `{% highlight ruby %}`."),
    ("raw", True, "Text Liquid leaves alone."),
    ("comment", True, "A comment that is not rendered."),
    ("if", True, "Render the block when a condition holds."),
    ("unless", True, "Render the block unless a condition holds."),
    ("for", True, "Repeat the block for each item."),
    ("case", True, "Choose a branch by value."),
    ("capture", True, "Capture the block's output into a variable."),
    ("assign", False, "Assign a variable."),
)


@dataclass(slots=True)
class _Request:
    site: LoadedSite
    path: str
    document: Document
    offset: int
    limit: int
    explained: bool  # documentation written now, even where an `Explanation` could wait

    @property
    def settings(self) -> Settings:
        return self.site.settings


# The most items an answer offers (with `isIncomplete` when there were more).
LIMIT = 100


@never_raises(Completions)
def complete(
    site: LoadedSite,
    path: str,
    document: Document,
    offset: int,
    limit: int = LIMIT,
    explained: bool = True,
) -> Completions:
    """The completions at `offset` of `document` (the file at site-relative `path`); without
    the documentation that `explain` can write later, unless `explained`."""
    request = _Request(site, path, document, clamp(document, offset), max(1, limit), explained)
    if _at_start_of_new_letter(request):
        return _new_letter(request)
    slot = front_matter_slot(document, request.offset)
    if isinstance(slot, KeySlot):
        return _keys(request, slot)
    if isinstance(slot, ValueSlot):
        return _values(request, slot)
    if document.front_matter is not None and request.offset < document.body_start:
        return Completions()
    return _body(request)


# -- the new letter snippet -----------------------------------------------------------------------


def _at_start_of_new_letter(request: _Request) -> bool:
    document = request.document
    if document.front_matter is not None:
        return False
    return _NEW_LETTER_CONTEXT.fullmatch(document.text, 0, request.offset) is not None


def _new_letter(request: _Request) -> Completions:
    text = request.document.text
    start = request.offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
        start -= 1
    template = letter_template(request.site, request.path, snippet=True)
    item = CompletionItem(
        label="letter",
        kind=CompletionKind.SNIPPET,
        insert_text=template.whole(body="$0"),
        replace_span=Span(start, request.offset),
        detail="A new letter: front matter, salutation and signature",
        documentation=code_block(
            letter_template(request.site, request.path, snippet=False).whole().rstrip("\n"),
            "markdown",
        ),
        sort_text="00000",
        filter_text="letter",
        is_snippet=True,
    )
    return Completions([item])


# -- front matter keys ---------------------------------------------------------------------------


def _keys(request: _Request, slot: KeySlot) -> Completions:
    settings = request.settings
    data = request.document.data
    entry = request.site.index.entry(request.path)
    effective = entry.data if entry is not None else data
    required = list(settings.required_keys)
    if settings.is_letter_layout(effective.get("layout")):
        required += list(settings.letter_required_keys)
    keys = list(dict.fromkeys([*required, *STANDARD_KEYS, *settings.known_keys]))
    typed = slot.typed.casefold()
    ranked: list[tuple[int, int, str]] = []
    for number, key in enumerate(keys):
        if key in slot.present:
            continue
        rank = match_class(key.casefold(), typed)
        if rank is None:
            continue
        missing = key in required and effective.get(key) in (None, "")
        ranked.append((0 if missing else 1, number, key))
    ranked.sort()
    items = []
    for position, (group, _, key) in enumerate(ranked[: request.limit]):
        documentation = STANDARD_KEYS.get(key, "A key this site's settings list as known.")
        detail = "required" if group == 0 else "front matter key"
        insert = key if slot.has_colon else f"{key}: "
        items.append(
            CompletionItem(
                label=key,
                kind=CompletionKind.KEY,
                insert_text=insert,
                replace_span=slot.replace,
                detail=detail,
                documentation=documentation,
                sort_text=f"{position:05d}",
                filter_text=key,
            )
        )
    return Completions(items, len(ranked) > request.limit)


# -- front matter values -------------------------------------------------------------------------


@dataclass(slots=True)
class _Value:
    label: str
    detail: str = ""
    documentation: str = ""
    filter_text: str = ""
    value: str | None = None  # what to insert when it is not the label
    verbatim: bool = False  # a YAML number or boolean: inserted as is, never quoted
    explanation: Explanation | None = None


def _values(request: _Request, slot: ValueSlot) -> Completions:
    key = slot.key
    if key in ("tags", "categories"):
        values, incomplete = _taxonomy_values(request, slot)
    elif key == "layout":
        values, incomplete = _layouts(request, slot)
    elif key == "author":
        values, incomplete = _authors(request, slot)
    elif key == "image":
        values, incomplete = _images(request, slot)
    elif key in ("position", "addressee"):
        values, incomplete = _corpus_values(request, slot)
    elif key == "stars" and slot.style is ValueStyle.SCALAR:
        values = [_Value(s, _star_glyphs(float(s)), verbatim=True) for s in _STARS]
        incomplete = False
    elif key in TYPED_BOOLEAN_KEYS and slot.style is ValueStyle.SCALAR:
        values = [_Value("true", verbatim=True), _Value("false", verbatim=True)]
        incomplete = False
    else:
        return Completions()
    kind = {
        "tags": CompletionKind.TAG,
        "categories": CompletionKind.CATEGORY,
        "layout": CompletionKind.LAYOUT,
        "author": CompletionKind.AUTHOR,
        "image": CompletionKind.IMAGE,
    }.get(key, CompletionKind.VALUE)
    items = []
    for position, value in enumerate(values):
        items.append(
            CompletionItem(
                label=value.label,
                kind=kind,
                insert_text=(
                    slot.prefix + value.label
                    if value.verbatim and slot.quote is None
                    else _insert_value(slot, value.value or value.label)
                ),
                replace_span=slot.replace,
                detail=value.detail,
                documentation=value.documentation,
                sort_text=f"{position:05d}",
                filter_text=value.filter_text or value.label,
                explanation=value.explanation,
            )
        )
    return Completions(items, incomplete)


def _insert_value(slot: ValueSlot, value: str) -> str:
    if slot.quote == '"':
        text = value.replace("\\", "\\\\").replace('"', '\\"')
        return slot.prefix + text + ('"' if slot.close_quote else "")
    if slot.quote == "'":
        return slot.prefix + value.replace("'", "''") + ("'" if slot.close_quote else "")
    if slot.key in ("tags", "categories") and slot.style is ValueStyle.SCALAR:
        return slot.prefix + flow_list([value])  # a string would be split on spaces (TX006)
    return slot.prefix + scalar(value)


def _uses(count: int, noun: str = "review") -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _filter_text(name: str) -> str:
    folded = fold(name)
    return name if folded == name.casefold() else f"{name} {folded}"


def _taxonomy_values(request: _Request, slot: ValueSlot) -> tuple[list[_Value], bool]:
    key = slot.key
    catalog = catalog_for(request.site.index)
    taxonomy = catalog.taxonomy(key)
    policy = request.settings.tags if key == "tags" else request.settings.categories
    aliases = {fold(alias) for alias in policy.aliases}
    present = {fold(value) for value in slot.present}
    typed = fold(slot.typed)
    path = request.path

    def wanted(name: RankedName) -> bool:
        if name.folded in present or name.folded in aliases:
            return False
        # The document's own new name is not the site's vocabulary.
        return name.count > 1 or not _only_user_is(taxonomy, name, path)

    search = catalog.names(key).search()
    chosen, incomplete = search.ranked(ranked_needles(typed), wanted, request.limit)
    values = []
    for name in chosen:
        text = _spelled(request.settings, key, name)
        count = _uses_elsewhere(request.site, path, key, name)
        values.append(
            _Value(
                text,
                detail=_uses(count),
                documentation=(
                    _name_documentation(request.site, path, key, name, count)
                    if request.explained
                    else ""
                ),
                filter_text=_filter_text(text),
                explanation=Explanation(key, name.folded),
            )
        )
    return values, incomplete


def _spelled(settings: Settings, key: str, name: RankedName) -> str:
    """The name as completion inserts it: its established spelling, lower-cased if the site's
    policy says so."""
    policy = settings.tags if key == "tags" else settings.categories
    return name.text.lower() if policy.case == "lower" else name.text


def _uses_elsewhere(site: LoadedSite, path: str, key: str, name: RankedName) -> int:
    """The reviews other than `path` that use any spelling of `name`."""
    spellings = (name.text, *(variant for variant, _ in name.variants))
    return name.count - sum(site.index.uses(path, key, spelling) for spelling in spellings)


def _name_documentation(site: LoadedSite, path: str, key: str, name: RankedName, count: int) -> str:
    """A tag's or category's uses, its newest user other than `path`, its other spellings."""
    catalog = catalog_for(site.index)
    noun = "tag" if key == "tags" else "category"
    lines = [f"{noun.capitalize()} used in {_uses(count)}"]
    latest = catalog.latest_user(key, name.text, exclude=path)
    record = catalog.record(latest) if latest else None
    if record is not None:
        day = f" ({record.day})" if record.day else ""
        lines[0] += f"; last in “{escaped(record.title)}”{day}"
    if name.variants:
        spelled = ", ".join(f"{code_span(v)} ({c})" for v, c in name.variants[:5])
        text = _spelled(site.settings, key, name)
        lines.append(f"Also spelled {spelled}; {code_span(text)} is the established spelling.")
    return "\n\n".join(lines)


def _only_user_is(taxonomy: Taxonomy, name: RankedName, path: str) -> bool:
    spellings = (name.text, *(v for v, _ in name.variants))
    return not any(taxonomy.used_elsewhere(s, path) for s in spellings)


def _layouts(request: _Request, slot: ValueSlot) -> tuple[list[_Value], bool]:
    catalog = catalog_for(request.site.index)
    names = set(request.site.site.layouts) | set(request.settings.extra_layouts)
    ranked = sorted(names, key=lambda n: (-catalog.value_count("layout", n), n))
    typed = slot.typed.casefold()
    chosen, incomplete = best_matches(
        ranked, lambda n: match_class(n.casefold(), typed), request.limit
    )
    values = []
    own = _own_value(request, "layout")
    for name in chosen:
        count = catalog.value_count("layout", name) - (name == own)
        letter = " (a letter layout)" if request.settings.is_letter_layout(name) else ""
        where = (
            "a theme layout listed in `letterhead: extra_layouts`"
            if name not in request.site.site.layouts
            else code_span(f"{request.site.site.config.layouts_dir}/{name}.*")
        )
        values.append(
            _Value(name, _uses(count), f"Layout {where}{letter}; used by {_uses(count)}.")
        )
    return values, incomplete


def _authors(request: _Request, slot: ValueSlot) -> tuple[list[_Value], bool]:
    catalog = catalog_for(request.site.index)
    details = author_details(request.site.site)
    typed = fold(slot.typed)

    def classify(key: str) -> int | None:
        name = author_name(details.get(key, {}))
        ranks = [
            r
            for r in (match_class(fold(key), typed), match_class(fold(name), typed))
            if r is not None
        ]
        return min(ranks) if ranks else None

    chosen, incomplete = best_matches(ranked_authors(request.site), classify, request.limit)
    values = []
    own = _own_value(request, "author")
    for key in chosen:
        name = author_name(details.get(key, {}))
        count = catalog.value_count("author", key) - (key == own)
        documentation = (f"**{escaped(name)}** — " if name else "") + f"author of {_uses(count)}"
        values.append(_Value(key, name, documentation, f"{key} {name}".strip()))
    return values, incomplete


def _images(request: _Request, slot: ValueSlot) -> tuple[list[_Value], bool]:
    catalog = catalog_for(request.site.index)
    dirs = request.settings.image_dirs
    site_paths = slot.typed.startswith("/")
    if site_paths:  # a path from the site's root, rarely typed: every image is looked at
        typed = slot.typed.casefold()
        chosen, incomplete = best_matches(
            catalog.images(dirs),
            lambda image: 0 if ("/" + image[1]).casefold().startswith(typed) else None,
            request.limit,
        )
    else:
        entry = request.site.index.entry(request.path)
        slug = fold(entry.slug) if entry is not None and entry.slug else ""
        chosen, incomplete = catalog.image_matches(dirs, fold(slot.typed), slug, request.limit)
    values = []
    for name, path, _ in chosen:
        label = "/" + path if site_paths else name
        values.append(_Value(label, path, code_span(path), label))
    return values, incomplete


def _corpus_values(request: _Request, slot: ValueSlot) -> tuple[list[_Value], bool]:
    catalog = catalog_for(request.site.index)
    typed = fold(slot.typed)
    own_value = _own_value(request, slot.key)

    def wanted(item: tuple[str, int, str]) -> bool:
        value, count, _ = item
        return count > 1 or value != own_value  # else typed in this document only

    chosen, incomplete = catalog.values(slot.key).best(typed, wanted, request.limit)
    values = []
    for value, count, _ in chosen:
        if value == own_value:
            count -= 1
        values.append(
            _Value(value, _uses(count), f"`{slot.key}` of {_uses(count)}", _filter_text(value))
        )
    return values, incomplete


def _own_value(request: _Request, key: str) -> str | None:
    """The value of `key` the index holds for the document itself (counted among the uses)."""
    own = request.site.index.entry(request.path)
    value = own.data.get(key) if own is not None else None
    return str(value).strip() if isinstance(value, (str, int, float)) else None


def _star_glyphs(stars: float) -> str:
    whole = int(stars)
    return "★" * whole + ("½" if stars - whole >= 0.5 else "") or "no stars"


# -- body ----------------------------------------------------------------------------------------


def _body(request: _Request) -> Completions:
    document = request.document
    lines = document.lines
    offset = request.offset
    line = lines.position(offset).line
    line_start = lines.line_start(line)
    line_end = lines.line_end(line)
    before = document.text[line_start:offset]
    after = document.text[offset:line_end]
    match = _POST_URL_CONTEXT.search(before)
    if match is not None:
        return _post_ids(request, _replace(request, match, after, _POST_ID_CHARS), match.group(1))
    match = _LIQUID_CONTEXT.search(before)
    if match is not None:
        return _liquid_tags(request, _replace(request, match, after, _WORD_CHARS), match.group(1))
    match = _URL_CONTEXT.search(before) or _DEFINITION_CONTEXT.search(before)
    if match is not None:
        return _urls(request, _replace(request, match, after, _URL_CHARS), match.group(1))
    match = _LABEL_CONTEXT.search(before)
    if match is not None:
        return _labels(request, _replace(request, match, after, _LABEL_CHARS), match.group(1))
    return Completions()


def _replace(request: _Request, match: re.Match[str], after: str, chars: re.Pattern[str]) -> Span:
    """The typed token: from where the context's group starts to the end of its characters."""
    start = request.offset - len(match.group(1))
    rest = chars.match(after)
    return Span(start, request.offset + (rest.end() if rest else 0))


def _reviews(
    request: _Request, typed: str, wanted: Callable[[ReviewRecord], bool]
) -> tuple[list[ReviewRecord], bool]:
    """Reviews matching `typed` by title or slug (or by URL, when it starts with `/`): first
    those it begins, then those with a word it begins, then any; newest first within each."""
    catalog = catalog_for(request.site.index)
    path = request.path

    def keep(record: ReviewRecord) -> bool:
        return record.path != path and wanted(record)

    if typed.startswith("/"):
        lowered = typed.casefold()
        return catalog.search("url").ranked(["\n" + lowered, lowered], keep, request.limit)
    needles = ranked_needles(fold(typed))
    return catalog.search("title").ranked(needles, keep, request.limit)


def _urls(request: _Request, replace: Span, typed: str) -> Completions:
    records, incomplete = _reviews(request, typed, lambda r: r.built and r.url is not None)
    items = []
    for position, record in enumerate(records):
        url = record.url or ""
        filter_text = (
            url if typed.startswith("/") else f"{record.title} {record.slug} {record.title_fold}"
        )
        items.append(
            CompletionItem(
                label=record.title,
                kind=CompletionKind.URL,
                insert_text=url,
                replace_span=replace,
                detail=" · ".join(part for part in (record.day, url) if part),
                documentation=_review_summary(record) if request.explained else "",
                sort_text=f"{position:05d}",
                filter_text=filter_text,
                explanation=Explanation(_REVIEW, record.path),
            )
        )
    return Completions(items, incomplete)


# The topic of an `Explanation` whose subject is a review's path.
_REVIEW = "review"


@never_raises(str)
def explain(site: LoadedSite, path: str, explanation: Explanation) -> str:
    """The documentation of an item that `complete` offered in the document at `path` with
    `explanation`, as `complete` writes it when `explained`; "" if what it names is gone (the
    index changed in between: a review deleted, a tag's last use removed)."""
    catalog = catalog_for(site.index)
    topic, subject = explanation.topic, explanation.subject
    if topic == _REVIEW:
        record = catalog.record(subject)
        return _review_summary(record) if record is not None else ""
    if topic in ("tags", "categories"):
        name = catalog.names(topic).by_fold.get(subject)
        if name is None:
            return ""
        count = _uses_elsewhere(site, path, topic, name)
        return _name_documentation(site, path, topic, name, count)
    return ""


def _review_summary(record: ReviewRecord) -> str:
    data = record.entry.data
    parts = [f"**{escaped(record.title)}**" + (f" ({record.day})" if record.day else "")]
    stars = data.get("stars")
    if isinstance(stars, (int, float)) and not isinstance(stars, bool):
        parts.append(_star_glyphs(float(stars)))
    parts.append(code_span(record.path))
    return "\n\n".join(parts)


def _post_ids(request: _Request, replace: Span, typed: str) -> Completions:
    catalog = catalog_for(request.site.index)
    folded = fold(typed)
    path = request.path

    def keep(record: ReviewRecord) -> bool:
        return record.post_id is not None and record.built and record.path != path

    search = catalog.search("post_id")
    records, incomplete = search.ranked(ranked_needles(folded), keep, request.limit)
    items = []
    for position, record in enumerate(records):
        post_id = record.post_id or ""
        items.append(
            CompletionItem(
                label=post_id,
                kind=CompletionKind.POST_ID,
                insert_text=post_id,
                replace_span=replace,
                detail=record.title,
                documentation=_review_summary(record) if request.explained else "",
                sort_text=f"{position:05d}",
                filter_text=f"{post_id} {record.title}",
                explanation=Explanation(_REVIEW, record.path),
            )
        )
    return Completions(items, incomplete)


def _labels(request: _Request, replace: Span, typed: str) -> Completions:
    seen: set[str] = set()
    typed_key = " ".join(typed.split()).casefold()
    items: list[CompletionItem] = []
    for definition in request.document.definitions:
        if definition.key in seen:
            continue
        seen.add(definition.key)
        if match_class(definition.key, typed_key) is None:
            continue
        items.append(
            CompletionItem(
                label=definition.label,
                kind=CompletionKind.LABEL,
                insert_text=definition.label,
                replace_span=replace,
                detail=definition.url,
                documentation=code_span(f"[{definition.label}]: {definition.url}"),
                sort_text=f"{len(items):05d}",
                filter_text=definition.label,
            )
        )
    return Completions(items[: request.limit], len(items) > request.limit)


def _liquid_tags(request: _Request, replace: Span, typed: str) -> Completions:
    document = request.document
    closed = _CLOSING_TAG.match(document.text, replace.end) is not None
    settings = request.settings
    tags: list[tuple[str, bool, str]] = [
        (
            settings.signature_tag,
            True,
            f"A block of this site's letters; "
            f"{code_span(f'{settings.signature_tag} {settings.signature_block}')} holds the "
            "signature.",
        ),
        *LIQUID_TAGS,
        *((name, False, "A tag of this site's plugins.") for name in settings.liquid_tags),
    ]
    items: list[CompletionItem] = []
    seen: set[str] = set()
    for name, block, documentation in tags:
        if name in seen or match_class(name, typed) is None:
            continue
        seen.add(name)
        insert, snippet = _liquid_insert(request, name, block, closed)
        items.append(
            CompletionItem(
                label=name,
                kind=CompletionKind.LIQUID_TAG,
                insert_text=insert,
                replace_span=replace,
                detail="block tag" if block else "tag",
                documentation=documentation,
                sort_text=f"{len(items):05d}",
                filter_text=name,
                is_snippet=snippet,
            )
        )
    return Completions(items[: request.limit], len(items) > request.limit)


def _liquid_insert(request: _Request, name: str, block: bool, closed: bool) -> tuple[str, bool]:
    if closed:
        return name, False
    settings = request.settings
    if name == settings.signature_tag:
        return (
            f"{name} ${{1:{settings.signature_block}}} %}}\n$0\n{{% end{name} %}}",
            True,
        )
    if block:
        markup = "" if name in _BARE_BLOCKS else " $1"
        return f"{name}{markup} %}}\n$0\n{{% end{name} %}}", True
    return f"{name} $0 %}}", True
