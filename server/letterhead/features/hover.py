"""Hover: what the thing under the cursor means, as Markdown.

On the salutation, `addressee:` or `position:`: the salutation as the site's template renders it.
On the signature block: the signature rendered (Jekyll tags inert). On an internal link: the
target review's title, date, stars, image and excerpt. On a tag or category: how many reviews
use it and the newest few. On a front matter key: its documentation. On `imdb:`: the IMDb title
page. Every hover looks at one document and a bounded number of index entries.
"""

from __future__ import annotations

from typing import Any

from letterhead.check import LoadedSite
from letterhead.document import Document, FrontMatterEntry, LiquidBlock, fold
from letterhead.features.catalog import author_details, author_name, catalog_for
from letterhead.features.cursor import clamp, contains, entry_at, item_at
from letterhead.features.guard import never_raises
from letterhead.features.markup import code_block, code_span, escaped
from letterhead.features.preview import (
    effective_data,
    salutation_markdown,
    signature_markdown,
)
from letterhead.features.targets import image_entry, imdb_address, resolve, target_at
from letterhead.features.types import Hover
from letterhead.positions import Span
from letterhead.settings import STANDARD_KEYS
from letterhead.site.model import Entry, EntryKind, Status

_FEW = 5
_EXCERPT_CHARS = 300
_STATUS_WORDS = {
    Status.DRAFT: "a draft: not on the built site",
    Status.UNPUBLISHED: "`published: false`: not on the built site",
    Status.FUTURE: "dated in the future: not on the built site yet",
    Status.NOT_OUTPUT: "not written to the built site",
}


def _no_hover() -> Hover | None:
    return None


@never_raises(_no_hover)
def hover(site: LoadedSite, path: str, document: Document, offset: int) -> Hover | None:
    """The hover at `offset` of `document` (the file at site-relative `path`), if any."""
    offset = clamp(document, offset)
    entry = entry_at(document, offset)
    if entry is not None:
        return _front_matter(site, path, document, entry, offset)
    salutation = document.salutation
    if salutation is not None and contains(salutation.span, offset):
        return Hover(_salutation(site, path, document), salutation.span)
    settings = site.settings
    block = document.signature(settings.signature_tag, settings.signature_block)
    if block is not None and contains(block.span, offset):
        return _signature(site, path, document, block.span, block)
    target = target_at(document, offset)
    if target is not None:
        linked = resolve(site, path, target)
        if linked is not None:
            return Hover(_target_summary(site, linked), target.link_span)
    return None


# -- front matter --------------------------------------------------------------------------------


def _front_matter(
    site: LoadedSite, path: str, document: Document, entry: FrontMatterEntry, offset: int
) -> Hover | None:
    key = entry.key
    on_key = contains(entry.key_span, offset)
    whole = Span(entry.key_span.start, max(entry.value_span.end, entry.key_span.end))
    if key in ("addressee", "position"):
        documentation = _key_documentation(site, key)
        return Hover(documentation + "\n\n---\n\n" + _salutation(site, path, document), whole)
    if on_key:
        return Hover(_key_documentation(site, key), entry.key_span)
    if key in ("tags", "categories"):
        item = item_at(entry, offset)
        if item is None or not isinstance(item.value, str) or not item.value:
            return None
        return Hover(_taxonomy(site, path, key, item.value), item.text_span)
    value_hover = _value(site, path, key, entry.value)
    return Hover(value_hover, entry.value_span) if value_hover else None


def _key_documentation(site: LoadedSite, key: str) -> str:
    documentation = STANDARD_KEYS.get(key)
    if documentation is None:
        if key in site.settings.known_keys:
            return f"{code_span(key)}: a key this site's settings list as known (`letterhead: known_keys`)."
        return f"{code_span(key)}: not a key letterhead knows."
    required = key in site.settings.required_keys or key in site.settings.letter_required_keys
    return f"{code_span(key)}{' (required)' if required else ''}: {documentation}"


def _value(site: LoadedSite, path: str, key: str, value: Any) -> str | None:
    if key == "imdb":
        address = imdb_address(value)
        return f"IMDb: [{address}]({address})" if address else None
    if key == "author" and isinstance(value, str):
        details = author_details(site.site)
        if value not in details and value not in site.site.authors:
            return f"{code_span(value)} is not an author of `_data/authors.yml`."
        name = author_name(details.get(value, {}))
        count = catalog_for(site.index).value_count("author", value)
        key_text = code_span(value)
        return (f"**{escaped(name)}** ({key_text})" if name else key_text) + f": {_uses(count)}"
    if key == "layout" and isinstance(value, str):
        if value in site.site.layouts:
            folder = site.site.config.layouts_dir
            letter = ", a letter layout" if site.settings.is_letter_layout(value) else ""
            return f"Layout {code_span(value)} ({code_span(folder + '/')}{letter})"
        if value in site.settings.extra_layouts:
            return f"Layout {code_span(value)} (a theme layout, from `letterhead: extra_layouts`)"
        return None
    if key == "image":
        found = image_entry(site, value)
        return f"Image {code_span(found.path)}" if found is not None else None
    if key == "stars" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{_stars(float(value))} ({value:g} of 5)"
    return None


def _uses(count: int) -> str:
    return f"{count} review{'' if count == 1 else 's'}"


def _taxonomy(site: LoadedSite, path: str, key: str, value: str) -> str:
    catalog = catalog_for(site.index)
    taxonomy = catalog.taxonomy(key)
    noun = "tag" if key == "tags" else "category"
    users = taxonomy.users(value)
    others = len(users) - site.index.uses(path, key, value)
    lines = [f"**{escaped(value)}** — {noun} used in {_uses(others)} besides this one"]
    newest = catalog.newest_users(key, value, _FEW, exclude=path)
    for record in newest:
        day = f" ({record.day})" if record.day else ""
        lines.append(f"- “{escaped(record.title)}”{day}")
    if others > len(newest):
        lines.append(f"- … and {others - len(newest)} more")
    spellings = [s for s in taxonomy.spellings(value) if s.text != value]
    canonical = taxonomy.canonical(value)
    if canonical is not None and canonical.text != value and canonical.count > len(users):
        lines.append(
            f"\nThe established spelling is {code_span(canonical.text)} ({_uses(canonical.count)})."
        )
    elif spellings:
        variants = ", ".join(f"{code_span(s.text)} ({s.count})" for s in spellings[:_FEW])
        lines.append(f"\nAlso spelled {variants}.")
    policy = site.settings.tags if key == "tags" else site.settings.categories
    alias_of = policy.aliases.get(value) or {fold(a): c for a, c in policy.aliases.items()}.get(
        fold(value)
    )
    if alias_of and alias_of != value:
        lines.append(f"\nAn alias of {code_span(alias_of)} in this site's settings.")
    return "\n".join(lines)


# -- letter parts --------------------------------------------------------------------------------


def _salutation(site: LoadedSite, path: str, document: Document) -> str:
    data = effective_data(site, path, document)
    rendered = salutation_markdown(site, data)
    lines = ["**Salutation**, from `addressee` and `position`:", "", rendered or "*(empty)*"]
    salutation = document.salutation
    if salutation is not None:
        written = document.text[salutation.span.start : salutation.span.end].strip()
        if written != rendered:
            lines += ["", "The letter says:", "", code_block(written, "markdown")]
    return "\n".join(lines)


def _signature(
    site: LoadedSite, path: str, document: Document, span: Span, block: LiquidBlock
) -> Hover:
    rendered = signature_markdown(site, path, document, block)
    return Hover("**Signature**\n\n---\n\n" + (rendered or "*(empty)*"), span)


# -- link targets --------------------------------------------------------------------------------


def _target_summary(site: LoadedSite, entry: Entry) -> str:
    if entry.kind is EntryKind.STATIC:
        return f"File {code_span(entry.path)}" + (
            f" at {code_span(entry.url)}" if entry.url else ""
        )
    data = entry.data
    title = entry.title or entry.path
    heading = f"**{escaped(title)}**"
    if entry.date is not None and entry.kind is not EntryKind.PAGE:
        heading += f" — {entry.date.date().isoformat()}"
    stars = data.get("stars")
    if isinstance(stars, (int, float)) and not isinstance(stars, bool):
        heading += f" · {_stars(float(stars))}"
    lines = [heading]
    image = data.get("image")
    if isinstance(image, str) and image.strip():
        lines.append(f"Image: {code_span(image.strip())}")
    excerpt = _excerpt(site, entry)
    if excerpt:
        lines.append("> " + excerpt)
    where = code_span(entry.path) + (f" · {escaped(entry.url)}" if entry.url else "")
    lines.append(where)
    if entry.status is not Status.BUILT:
        lines.append(f"⚠ {_STATUS_WORDS.get(entry.status, 'not on the built site')}")
    return "\n\n".join(lines)


def _excerpt(site: LoadedSite, entry: Entry) -> str:
    value = entry.data.get("excerpt")
    if isinstance(value, str) and value.strip():
        return _shorten(value)
    document = site.document(entry.path)
    if document is None:
        return ""
    start = document.salutation.span.end if document.salutation is not None else document.body_start
    text = document.text[start : start + 4 * _EXCERPT_CHARS]
    for paragraph in text.replace("\r\n", "\n").split("\n\n"):
        stripped = paragraph.strip()
        if stripped and not stripped.startswith(("{%", "[", "#", "<", "---")):
            return _shorten(stripped)
    return ""


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1].rstrip() + "…"


def _stars(stars: float) -> str:
    whole = int(max(0.0, min(stars, 5.0)))
    return "★" * whole + ("½" if stars - whole >= 0.5 else "") or "no stars"
