"""Where links lead: the link target at the cursor, and the site file it resolves to.

Targets resolve through the site index only (permalinks, `post_url` ids, `link` paths), never by
reading the file system, as the link rules do: relative URLs against the review's own URL, the
site's own absolute address (`url:` in `_config.yml`) stripped, external and Liquid URLs left out.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from letterhead.check import LoadedSite
from letterhead.document import Document, LinkKind, normalize_label
from letterhead.features.cursor import contains
from letterhead.positions import Span
from letterhead.site.model import Entry

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
IMDB_ID = re.compile(r"^tt\d{7,8}$")


@dataclass(frozen=True, slots=True)
class Target:
    """A link target written in the document."""

    text: str  # the URL, post id or path as written
    span: Span  # where it is written (for a reference link: the link itself)
    kind: LinkKind | None  # None for a reference definition's URL
    link_span: Span  # the whole link or definition


def targets(document: Document) -> list[Target]:
    """Every internal-or-external target written in the document: links and definitions."""
    found: list[Target] = []
    for link in document.links:
        if link.target is not None and link.target_span is not None:
            found.append(Target(link.target, link.target_span, link.kind, link.span))
    for definition in document.definitions:
        found.append(Target(definition.url, definition.url_span, None, definition.span))
    return found


def target_at(document: Document, offset: int) -> Target | None:
    """The link target at `offset`: a link's URL, a definition's URL, or (on a reference link)
    the URL of the definition its label names."""
    best: Target | None = None
    for link in document.links:
        if not contains(link.span, offset):
            continue
        if best is not None and link.span.start < best.link_span.start:
            continue  # keep the innermost link (an image inside a link)
        if link.target is not None and link.target_span is not None:
            best = Target(link.target, link.target_span, link.kind, link.span)
        elif link.label is not None:
            key = normalize_label(link.label)
            for definition in document.definitions:
                if definition.key == key:
                    best = Target(definition.url, link.span, None, link.span)
                    break
    if best is not None:
        return best
    for definition in document.definitions:
        if contains(definition.span, offset):
            return Target(definition.url, definition.url_span, None, definition.span)
    return None


def resolve(site: LoadedSite, path: str, target: Target) -> Entry | None:
    """The file of the site `target` leads to, or None (external, Liquid, dead)."""
    return resolve_text(site, path, target.text, target.kind)


def resolve_text(site: LoadedSite, path: str, text: str, kind: LinkKind | None) -> Entry | None:
    index = site.index
    text = text.strip()
    if kind is LinkKind.POST_URL:
        return index.resolve_post_id(text.partition("#")[0])
    if kind is LinkKind.LINK_TAG:
        return index.resolve_path(text.partition("#")[0])
    if not text or "{{" in text or "{%" in text or text.startswith("#"):
        return None
    own_address = site.site.config.url.rstrip("/")
    if own_address and text.startswith(own_address + "/"):
        text = text[len(own_address) :]
    if _SCHEME.match(text) or text.startswith("//"):
        return None
    url_path = unquote(urlsplit(text).path)
    if not url_path:
        return None
    if not url_path.startswith("/"):
        entry = index.entry(path)
        base = entry.url if entry is not None and entry.url else "/"
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(base) or "/", url_path))
        if joined.startswith(".."):
            return None
        url_path = joined + ("/" if url_path.endswith("/") and not joined.endswith("/") else "")
    return index.resolve_url(url_path)


def image_entry(site: LoadedSite, name: Any) -> Entry | None:
    """The static file a front matter `image:` names: a site path, or a file in an image folder."""
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip()
    index = site.index
    if name.startswith("/"):
        return index.statics.get(unquote(name).lstrip("/")) or index.resolve_url(name)
    if _SCHEME.match(name) or name.startswith("//"):
        return None
    for folder in site.settings.image_dirs:
        entry = index.statics.get(f"{folder.strip('/')}/{name}")
        if entry is not None:
            return entry
    return None


def imdb_address(value: Any) -> str | None:
    """The IMDb title page of an id such as `tt2852470`."""
    if not isinstance(value, str) or IMDB_ID.match(value.strip()) is None:
        return None
    return f"https://www.imdb.com/title/{value.strip()}/"
