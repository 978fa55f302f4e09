"""Document links: internal URLs, `post_url`, `link`, images and IMDb ids made clickable.

Targets are site-relative file paths (the protocol layer turns them into file URIs) or, for an
IMDb id, the title page's https address. Dead and external links get no document link: the link
rules report the dead ones, and editors already open external addresses.
"""

from __future__ import annotations

from letterhead.check import LoadedSite
from letterhead.document import Document, FrontMatterEntry, ValueStyle
from letterhead.features.guard import never_raises
from letterhead.features.targets import image_entry, imdb_address, resolve, targets
from letterhead.features.types import DocumentLink
from letterhead.positions import Span


def _no_links() -> list[DocumentLink]:
    return []


@never_raises(_no_links)
def document_links(site: LoadedSite, path: str, document: Document) -> list[DocumentLink]:
    """The clickable targets of `document`, in text order."""
    links: list[DocumentLink] = []
    front_matter = document.front_matter
    if front_matter is not None and front_matter.error is None:
        for key in ("image", "imdb"):
            entry = front_matter.get(key)
            if entry is None or entry.style not in (ValueStyle.PLAIN, ValueStyle.QUOTED):
                continue
            span = _value_text_span(document, entry)
            if key == "image":
                found = image_entry(site, entry.value)
                if found is not None:
                    links.append(DocumentLink(span, found.path, f"Open {found.path}"))
            else:
                address = imdb_address(entry.value)
                if address is not None:
                    links.append(DocumentLink(span, address, "Open the film on IMDb"))
    for target in targets(document):
        linked = resolve(site, path, target)
        if linked is None:
            continue
        title = linked.title or linked.path
        links.append(DocumentLink(target.span, linked.path, f"Open “{title}” ({linked.path})"))
    links.sort(key=lambda link: link.span.start)
    return links


def _value_text_span(document: Document, entry: FrontMatterEntry) -> Span:
    span = entry.value_span
    if entry.style is ValueStyle.QUOTED and span.end - span.start >= 2:
        return Span(span.start + 1, span.end - 1)
    return span
