"""Previews of a letter's parts for hovers: the salutation and the signature, as Markdown.

The salutation comes from `letterhead.render.render_salutation` (the site's template). The
signature block's content is rendered with python-liquid in a bounded environment with no
template loader; Jekyll's own tags are inert: `post_url` and `link` become the URL they name
(looked up in the index), `include` and friends render nothing. Nothing is executed, and a
template Liquid cannot render is shown as written.
"""

from __future__ import annotations

import functools
from typing import Any

from letterhead.check import LoadedSite
from letterhead.document import Document, LinkKind, LiquidBlock
from letterhead.features.targets import resolve_text
from letterhead.render import parse_template, render_salutation, render_template

_MAX_SOURCE = 20_000
# Tags Jekyll (or its plugins) defines: never handed to python-liquid.
_JEKYLL_TAGS = frozenset(
    {
        "post_url",
        "link",
        "include",
        "include_relative",
        "include_cached",
        "highlight",
        "endhighlight",
        "seo",
        "feed_meta",
        "gist",
    }
)


_parse = functools.lru_cache(maxsize=64)(parse_template)


def effective_data(site: LoadedSite, path: str, document: Document) -> dict[str, Any]:
    """The document's front matter over the values the site's defaults give it."""
    entry = site.index.entry(path)
    data = dict(entry.data) if entry is not None else {}
    data.update(document.data)
    return data


def salutation_markdown(site: LoadedSite, data: dict[str, Any]) -> str:
    """The salutation the site's template renders for `data`, one Markdown line."""
    return render_salutation(site.settings.salutation, data).strip()


def signature_markdown(site: LoadedSite, path: str, document: Document, block: LiquidBlock) -> str:
    """The signature block's content rendered as a reader sees it (still Markdown)."""
    body = block.body_span
    text = document.text
    inert_tags = _JEKYLL_TAGS | {
        site.settings.signature_tag,
        "end" + site.settings.signature_tag,
        *site.settings.liquid_tags,
    }
    pieces: list[str] = []
    position = body.start
    for tag in document.liquid_tags:
        if tag.span.start < body.start or tag.span.end > body.end or tag.name not in inert_tags:
            continue
        pieces.append(text[position : tag.span.start])
        if tag.name == "post_url" or tag.name == "link":
            kind = LinkKind.POST_URL if tag.name == "post_url" else LinkKind.LINK_TAG
            entry = resolve_text(site, path, tag.markup, kind)
            pieces.append(entry.url or "" if entry is not None else "")
        position = tag.span.end
    pieces.append(text[position : body.end])
    source = "".join(pieces)[:_MAX_SOURCE]
    template = _parse(source)
    if template is None:
        return source.strip()
    site_values = {
        key: value
        for key, value in site.site.config.raw.items()
        if isinstance(value, (str, int, float, bool))
    }
    rendered = render_template(
        template, page=effective_data(site, path, document), site=site_values
    )
    return (rendered if rendered is not None else source).strip()
