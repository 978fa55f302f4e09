"""Link rules (LK): internal links checked against the URLs Jekyll builds, references, anchors.

Internal links are resolved through the site index (permalinks, `post_url` ids, `link` paths),
never by reading the file system, so a link can never make the engine read outside the site.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from letterhead.document import Link, LinkKind, ReferenceDefinition, normalize_label
from letterhead.findings import Severity
from letterhead.positions import Span
from letterhead.rules import Context, Report, rule
from letterhead.site.model import Entry, Status

_KNOWN_SCHEMES = {
    "http",
    "https",
    "mailto",
    "ftp",
    "ftps",
    "tel",
    "sms",
    "data",
    "irc",
    "news",
    "xmpp",
    "geo",
    "magnet",
    "webcal",
}
_SCHEME_TYPO = re.compile(r"^(?:h?t?t?p?s?):?/*", re.IGNORECASE)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_BARE_DOMAIN = re.compile(r"^(?:www\.)[^\s/]+\.[a-z]{2,}", re.IGNORECASE)
_WHITE_SPACE = re.compile(r"\s")
_AUTHORITY = re.compile(r"//([^/?#]*)")
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:@%_~+!$&'()*,;=]+$")
_STATUS_WORDS = {
    Status.DRAFT: "a draft",
    Status.UNPUBLISHED: "marked `published: false`",
    Status.FUTURE: "dated in the future (and `future: true` is not set)",
}


_TAG_KINDS = (LinkKind.POST_URL, LinkKind.LINK_TAG)


@dataclass(slots=True)
class _Target:
    """One link target to check: where it is written, what it says, and what every link rule
    needs to know of it, worked out once per document (`_targets`)."""

    text: str  # as written, without surrounding white space
    span: Span
    kind: LinkKind | None  # None for a reference definition's URL
    fragment_span: Span | None  # a `#fragment` after a link tag (without the `#`)
    liquid: bool  # holds Liquid (`{{`, `{%`): only Jekyll knows what it becomes
    problem: str | None  # why it cannot be a URL (LK007); None if it can, for tags and Liquid


def _targets(context: Context) -> list[_Target]:
    """Every target of the document (links, then reference definitions), read once for all
    link rules."""
    cached = context.memo.get("links.targets")
    if cached is None:
        cached = [
            _target(link.target, link.target_span, link.kind, link.fragment_span)
            for link in context.document.links
            if link.target is not None and link.target_span is not None
        ]
        cached += [
            _target(definition.url, definition.url_span, None, None)
            for definition in context.document.definitions
        ]
        context.memo["links.targets"] = cached
    return cached


def _target(written: str, span: Span, kind: LinkKind | None, fragment_span: Span | None) -> _Target:
    text = written.strip()
    liquid = _is_liquid(text)
    problem = None
    if kind not in _TAG_KINDS and text and not liquid:
        problem = _url_problem(text)
    return _Target(text, span, kind, fragment_span, liquid, problem)


def _resolved(context: Context) -> list[tuple[_Target, _Resolution | None]]:
    """Every target of the document with its resolution, computed once for all link rules."""
    cached = context.memo.get("links.resolved")
    if cached is None:
        cached = [(target, _resolve(context, target)) for target in _targets(context)]
        context.memo["links.resolved"] = cached
    return cached


def _is_liquid(text: str) -> bool:
    return "{{" in text or "{%" in text


@dataclass(slots=True)
class _Resolution:
    entry: Entry | None
    fragment: str
    site_url: str | None  # the normalised site URL checked, for messages
    outside: bool = False  # a relative path that climbs above the site root


def _resolve(context: Context, target: _Target) -> _Resolution | None:
    """Resolve an internal target; None for external, anchor-only or Liquid targets."""
    text = target.text
    index = context.index
    if target.kind in _TAG_KINDS:
        name, _, fragment = text.partition("#")
        if target.fragment_span is not None:
            fragment = context.document.text[target.fragment_span.start : target.fragment_span.end]
        if target.kind is LinkKind.POST_URL:
            return _Resolution(index.resolve_post_id(name), fragment, None)
        return _Resolution(index.resolve_path(name), fragment, None)
    if (
        not text
        or target.liquid
        or text.startswith("#")
        or _SCHEME.match(text)
        or text.startswith("//")
    ):
        return None
    if target.problem is not None:
        return None  # a malformed external URL (LK007), not a page of the site
    written_path, fragment = _path_and_fragment(text)
    path = unquote(written_path)
    if not path.startswith("/"):
        base = context.entry.url if context.entry is not None and context.entry.url else "/"
        joined = posixpath.join(posixpath.dirname(base) or "/", path)
        depth = 0
        for segment in joined.split("/"):
            if segment == "..":
                depth -= 1
                if depth < 0:
                    return _Resolution(None, fragment, text, outside=True)
            elif segment not in ("", "."):
                depth += 1
        path = posixpath.normpath(joined)
        if text.endswith("/") and not path.endswith("/"):
            path += "/"
    return _Resolution(index.resolve_url(path), fragment, path)


def _path_and_fragment(text: str) -> tuple[str, str]:
    """`urlsplit(text)`'s path and fragment, for a site path as `_resolve` lets through.

    Such a text has no scheme, does not start with `//` and holds no white space (`_url_problem`
    reports any), so of all `urlsplit` does only splitting off the fragment and the query is
    left, unless the text starts with a control character (`urlsplit` drops those, and could
    then find a scheme): that rare text goes to `urlsplit` itself.
    """
    if text[0] <= " ":
        parts = urlsplit(text)
        return parts.path, parts.fragment
    before_fragment, _, fragment = text.partition("#")
    return before_fragment.partition("?")[0], fragment


@rule(
    "LK001",
    "dead-internal-link",
    Severity.WARNING,
    "a site URL, `post_url` or `link` that no page of the site produces",
    fixable=True,
)
def dead_internal_link(context: Context) -> Iterator[Report]:
    """
    An internal link (inline `[t](/url)`, a reference definition `[1]: /url`, an image, a
    `{% post_url id %}` or a `{% link path %}`) that names no post, page, collection document or
    static file of the site. URLs are compared as Jekyll serves them: permalinks with the site's
    pattern, `baseurl` stripped, `/a.html` the same as `/a`, a trailing `/` meaning `index.html`.
    Links that contain Liquid are not checked, and relative links are resolved against the
    review's own URL; one that climbs above the site root is reported, never followed.

    The finding names the nearest existing URL (same slug first, then a close match), and the fix
    replaces the link with it.

    Wrong: `[1]: /content/2013/9/31/the-act-of-killing.html`
    Right: `[1]: /content/2013/9/13/the-act-of-killing.html`
    """
    for target, resolution in _resolved(context):
        if resolution is None or resolution.entry is not None:
            continue
        text = target.text
        if resolution.outside:
            yield Report(
                target.span, f"`{text}` points outside the site root; link to a page of the site"
            )
            continue
        if target.kind is LinkKind.POST_URL:
            post_id = text.partition("#")[0]
            suggestion = context.index.suggest_post_id(post_id)
            hint = f"; did you mean `{suggestion}`?" if suggestion else ""
            fix = context.replace(target.span, suggestion) if suggestion else None
            yield Report(target.span, f"no post has the id `{post_id}`{hint}", fix)
            continue
        if target.kind is LinkKind.LINK_TAG:
            yield Report(
                target.span, f"`{{% link %}}` names `{text}`, which is not a file of the site"
            )
            continue
        suggestion = context.index.suggest_url(text)
        if suggestion is not None:
            fragment = resolution.fragment
            replacement = suggestion + (f"#{fragment}" if fragment else "")
            yield Report(
                target.span,
                f"no page of the site has the URL {resolution.site_url}; did you mean {suggestion}?",
                context.replace(target.span, replacement),
            )
        else:
            yield Report(target.span, f"no page of the site has the URL {resolution.site_url}")


@rule(
    "LK002",
    "link-to-unpublished",
    Severity.WARNING,
    "a link to a draft, an unpublished review or one dated in the future",
)
def link_to_unpublished(context: Context) -> Iterator[Report]:
    """
    The link's target exists in the repository but is not on the built site: it is a draft, its
    front matter says `published: false`, or it is dated in the future while `_config.yml` does
    not set `future: true`. Readers following the link get a 404 until the target is published.
    """
    for target, resolution in _resolved(context):
        if resolution is None or resolution.entry is None:
            continue
        status = resolution.entry.status
        if status is Status.BUILT:
            continue
        what = _STATUS_WORDS.get(status, "not written to the built site")
        title = resolution.entry.title or resolution.entry.path
        yield Report(
            target.span,
            f"“{title}” ({resolution.entry.path}) is {what}, so this link is dead on the built site",
        )


def _whole_lines(context: Context, span: Span) -> Span:
    """`span` widened to whole lines, with the last line's break (any of LF, CRLF, CR)."""
    lines = context.document.lines
    first, last = lines.position(span.start).line, lines.position(span.end).line
    end = lines.line_start(last + 1) if last + 1 < lines.line_count else len(lines.text)
    return Span(lines.line_start(first), end)


def _reference_links(context: Context) -> list[tuple[Link, str]]:
    """The review's reference-style links with their normalised labels, for LK003 and LK004."""
    cached = context.memo.get("links.references")
    if cached is None:
        cached = [
            (link, normalize_label(link.label))
            for link in context.document.links
            if link.kind in (LinkKind.REFERENCE, LinkKind.COLLAPSED, LinkKind.SHORTCUT)
            and link.label is not None
        ]
        context.memo["links.references"] = cached
    return cached


def _definitions(context: Context) -> list[tuple[ReferenceDefinition, str]]:
    """The review's reference definitions with their keys, normalised once for LK003–LK005."""
    cached = context.memo.get("links.definitions")
    if cached is None:
        cached = [(definition, definition.key) for definition in context.document.definitions]
        context.memo["links.definitions"] = cached
    return cached


@rule(
    "LK003",
    "undefined-reference",
    Severity.WARNING,
    "a reference link whose label has no definition",
)
def undefined_reference(context: Context) -> Iterator[Report]:
    """
    `[text][label]` or `[label][]` with no definition `[label]: url` in the review. Labels match
    as CommonMark matches them: case-insensitively, with runs of white space counted as one space.
    Kramdown prints such a link as plain text with its brackets.
    """
    defined = {key for _, key in _definitions(context)}
    for link, key in _reference_links(context):
        if link.kind is LinkKind.SHORTCUT or link.label is None:
            continue
        if key in defined:
            continue
        labels = sorted({definition.label for definition in context.document.definitions})
        known = (
            f"; defined labels: {', '.join(labels[:8])}"
            if labels
            else "; the review defines no labels"
        )
        yield Report(
            link.label_span or link.span,
            f"reference `[{link.label}]` has no definition `[{link.label}]: url`{known}",
        )


@rule(
    "LK004",
    "unused-definition",
    Severity.INFO,
    "a reference definition that no link uses",
    fixable=True,
)
def unused_definition(context: Context) -> Iterator[Report]:
    """
    A reference definition `[label]: url` that no `[text][label]`, `[label][]` or `[label]` of the
    review uses: usually a link the author meant to place and forgot. The fix removes the line.
    """
    used = {key for link, key in _reference_links(context) if link.label}
    for definition, key in _definitions(context):
        if key in used:
            continue
        yield Report(
            definition.label_span,
            f"the definition `[{definition.label}]` is not used by any link; use it or remove it",
            context.delete(
                _whole_lines(context, definition.span),
                f"Remove the unused definition [{definition.label}]",
            ),
        )


@rule(
    "LK005",
    "duplicate-definition",
    Severity.WARNING,
    "a reference label defined twice",
    fixable=True,
)
def duplicate_definition(context: Context) -> Iterator[Report]:
    """
    A label defined twice. CommonMark uses the first definition and ignores the later one, so the
    later URL never reaches a reader. The finding is on the later definition; the fix removes it
    (after checking which URL is right).
    """
    first: dict[str, str] = {}
    for definition, key in _definitions(context):
        if key not in first:
            first[key] = definition.url
            continue
        same = "the same URL" if first[key] == definition.url else first[key]
        yield Report(
            definition.label_span,
            f"`[{definition.label}]` is already defined above (as {same}); the first definition wins",
            context.delete(
                _whole_lines(context, definition.span),
                f"Remove the second definition of [{definition.label}]",
                safe=False,
            ),
        )


@rule(
    "LK006", "missing-anchor", Severity.WARNING, "a `#fragment` that names no heading of its target"
)
def missing_anchor(context: Context) -> Iterator[Report]:
    """
    A link with a `#fragment` whose target page has no heading with that id. Ids are those
    kramdown gives headings: an explicit `{:#id}` or one generated from the heading text. Only
    Markdown targets are checked (HTML pages and layouts can hold ids letterhead cannot see).
    """
    own = context.document.anchors()
    for target, resolution in _resolved(context):
        text = target.text
        if target.liquid and target.kind not in _TAG_KINDS:
            continue
        if text.startswith("#"):
            fragment = unquote(text[1:])
            if fragment and fragment not in own:
                yield Report(target.span, _anchor_message(fragment, own, "this review"))
            continue
        if resolution is None or resolution.entry is None or not resolution.fragment:
            continue
        indexed = context.index.documents.get(resolution.entry.path)
        if indexed is None or not resolution.entry.path.endswith((".md", ".markdown")):
            continue
        fragment = unquote(resolution.fragment)
        if fragment not in indexed.anchors:
            yield Report(
                target.fragment_span or target.span,
                _anchor_message(fragment, indexed.anchors, f"“{indexed.title}”"),
            )


def _anchor_message(fragment: str, anchors: frozenset[str] | set[str], where: str) -> str:
    if anchors:
        listed = ", ".join(f"#{a}" for a in sorted(anchors)[:6])
        return f"{where} has no heading with the id `{fragment}`; its headings: {listed}"
    return f"{where} has no heading with the id `{fragment}` (it has no headings)"


@rule("LK007", "malformed-url", Severity.WARNING, "an external URL that cannot be a URL")
def malformed_url(context: Context) -> Iterator[Report]:
    """
    An external link that no browser can follow: a misspelled scheme (`htp://`, `http//`,
    `https:/`), a scheme browsers do not know, white space inside the URL, a `file:` URL that
    points into the author's own computer, or a bare `www.` address without `https://` (which
    Jekyll turns into a relative link to a page of the site).
    """
    for target in _targets(context):
        if target.problem is not None:
            yield Report(target.span, target.problem)


def _url_problem(url: str) -> str | None:
    if _WHITE_SPACE.search(url):
        return f"`{url}` contains white space; encode it as %20 or remove it"
    if url.startswith("/"):
        return None
    if _BARE_DOMAIN.match(url):
        return f"`{url}` has no scheme, so it is read as a page of this site; write `https://{url}`"
    lowered = url.lower()
    for wrong, right in (
        ("http//", "http://"),
        ("https//", "https://"),
        ("http:/", "http://"),
        ("https:/", "https://"),
    ):
        if lowered.startswith(wrong) and not lowered.startswith(right):
            return f"`{url}` is not a valid URL; did you mean `{right}{url[len(wrong) :]}`?"
    match = _SCHEME.match(url)
    if match is None:
        return None
    scheme = match.group(1).lower()
    if scheme == "file":
        return f"`{url}` is a file on the author's computer, not a page readers can open"
    if scheme in ("javascript", "vbscript"):
        return f"`{url}` runs a script; link to a page instead"
    if scheme not in _KNOWN_SCHEMES:
        if _SCHEME_TYPO.fullmatch(scheme + ":") or scheme in (
            "htp",
            "htps",
            "htttp",
            "hhtp",
            "http2",
            "ttp",
            "ttps",
        ):
            return f"`{url}` has a misspelled scheme `{scheme}:`; did you mean `https:`?"
        return f"`{url}` uses the unknown scheme `{scheme}:`"
    if scheme in ("http", "https"):
        netloc = _netloc(url, match.end())
        if netloc is None:
            return f"`{url}` has a host that is not valid (an unclosed `[`, or characters a host cannot hold)"
        if not netloc or not _HOST.match(netloc):
            return f"`{url}` has no host name after `{scheme}://`"
    return None


def _netloc(url: str, after_scheme: int) -> str | None:
    """`urlsplit(url).netloc`, for a URL `_url_problem` has read up to its scheme's colon; None
    when `urlsplit` refuses it.

    Such a URL starts with its scheme and holds no white space, so `urlsplit` strips nothing
    from it and takes the netloc from the `//` after the colon to the first `/`, `?` or `#`, as
    here. A netloc `urlsplit` goes on to validate (and refuses with a ValueError: an unclosed
    IPv6 bracket, characters that NFKC turns into separators), one with brackets or beyond
    ASCII, is left to `urlsplit` itself.
    """
    found = _AUTHORITY.match(url, after_scheme)
    if found is None:
        return ""
    netloc = found.group(1)
    if netloc.isascii() and "[" not in netloc and "]" not in netloc:
        return netloc
    try:
        return urlsplit(url).netloc
    except ValueError:
        return None
