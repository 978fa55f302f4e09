"""Jekyll's URL arithmetic: slugs, permalink templates, URL escaping, output paths, URL keys.

Everything here is a pure function of its arguments and mirrors Jekyll 4.3 (`Jekyll::Utils.slugify`,
`Jekyll::URL`, `Jekyll::Drops::UrlDrop`), quirks included, because a link checker that is kinder
than Jekyll reports dead links as alive.
"""

from __future__ import annotations

import datetime
import posixpath
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote

from letterhead.site.dates import MONTHS

__all__ = [
    "DOCUMENT_PLACEHOLDERS",
    "STYLE_TO_PERMALINK",
    "CompiledTemplate",
    "UrlFacts",
    "add_permalink_suffix",
    "compile_template",
    "date_placeholders",
    "escape_path",
    "expand",
    "expand_sequential",
    "normalize_url",
    "output_path_key",
    "sanitize_url",
    "slugify",
    "slugify_once",
    "unescape_path",
    "unknown_placeholders",
    "url_to_output_path",
]

# Jekyll's built-in permalink styles (lib/jekyll/configuration.rb). `weekdate` uses two
# placeholders (`:week`, `:short_day`) that the SPEC's list does not name but Jekyll has.
STYLE_TO_PERMALINK: dict[str, str] = {
    "none": "/:categories/:title:output_ext",
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
}

# Every key a document's URL template may use (Jekyll::Drops::UrlDrop's methods).
DOCUMENT_PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "collection",
        "name",
        "title",
        "slug",
        "categories",
        "slugified_categories",
        "path",
        "output_ext",
        "year",
        "short_year",
        "month",
        "i_month",
        "short_month",
        "long_month",
        "day",
        "i_day",
        "y_day",
        "hour",
        "minute",
        "second",
        "w_year",
        "week",
        "w_day",
        "short_day",
        "long_day",
    }
)

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# ---------------------------------------------------------------------------------------------
# slugify

SLUGIFY_MODES = ("raw", "default", "pretty", "ascii", "latin")
_PRETTY_KEEP = frozenset("._~!$&'()+,;=@")
# On pure-ASCII input the Unicode classes \p{L}\p{M}\p{Nd} reduce to [A-Za-z0-9]: a fast path
# for the common case, since slugify runs twice per post while indexing.
_ASCII_DEFAULT = re.compile(r"[^A-Za-z0-9]+")
_ASCII_PRETTY = re.compile(r"[^A-Za-z0-9._~!$&'()+,;=@]+")
_RUBY_SPACE = re.compile(r"[ \t\r\n\f\v]+")  # Ruby's \s is ASCII-only


def _keep_default(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Nd"


def _replace_runs(text: str, keep: Callable[[str], bool]) -> str:
    out: list[str] = []
    in_run = False
    for char in text:
        if keep(char):
            out.append(char)
            in_run = False
        elif not in_run:
            out.append("-")
            in_run = True
    return "".join(out)


def _transliterate_latin(text: str) -> str:
    # I18n.transliterate: accented Latin letters lose their accents, anything else becomes "?"
    # (which the default mode then turns into a hyphen).
    out: list[str] = []
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and base.isascii() else "?")
    return "".join(out)


@lru_cache(maxsize=4096)
def slugify(text: str, mode: str = "default", cased: bool = False) -> str:
    """`slugify_once`, remembered: for names used again and again (categories)."""
    return slugify_once(text, mode, cased)


def slugify_once(text: str, mode: str = "default", cased: bool = False) -> str:
    """Jekyll's `Utils.slugify`: runs of characters the mode does not keep become one hyphen.
    Uncached, for the names of one document only (its slug and file name), which would only
    push the names used again and again out of `slugify`'s cache.

    `default` keeps letters, marks and decimal digits (any script); `pretty` also keeps
    `._~!$&'()+,;=@`; `ascii` keeps only `[A-Za-z0-9]`; `raw` replaces only white space; `latin`
    strips accents first. An unknown mode returns the text unchanged (lowercased unless `cased`).
    """
    if mode not in SLUGIFY_MODES:
        return text if cased else text.lower()
    if mode == "latin":
        text = _transliterate_latin(text)
    if mode == "raw":
        slug = _RUBY_SPACE.sub("-", text)
    elif mode == "ascii":
        slug = _ASCII_DEFAULT.sub("-", text)
    elif mode == "pretty":
        if text.isascii():
            slug = _ASCII_PRETTY.sub("-", text)
        else:
            slug = _replace_runs(text, lambda c: c in _PRETTY_KEEP or _keep_default(c))
    elif text.isascii():
        slug = _ASCII_DEFAULT.sub("-", text)
    else:
        slug = _replace_runs(text, _keep_default)
    # Jekyll removes one hyphen at each end (`gsub(/^-|-$/, "")`).
    if slug.startswith("-"):
        slug = slug[1:]
    if slug.endswith("-"):
        slug = slug[:-1]
    return slug if cased else slug.lower()


# ---------------------------------------------------------------------------------------------
# escaping

_SAFE_PATH = re.compile(r"[a-zA-Z0-9./-]+")
# Addressable's character classes: what a path / query / fragment may hold unescaped.
_PATH_SAFE = "-._~!$&'()*+,;=:@/"
_QUERY_SAFE = _PATH_SAFE + "?"


def escape_path(value: str) -> str:
    """`Jekyll::URL.escape_path`: percent-encode what may not stand in a URL path (UTF-8).

    Jekyll runs the value through `Addressable::URI.encode`, which parses it as a URI first: a `?`
    starts a query and survives unescaped; the first `#` ends up as `%23`.
    """
    if not value or _SAFE_PATH.fullmatch(value):
        return value
    before_fragment, hash_mark, fragment = value.partition("#")
    path, question, query = before_fragment.partition("?")
    escaped = quote(path, safe=_PATH_SAFE)
    if question:
        escaped += "?" + quote(query, safe=_QUERY_SAFE)
    if hash_mark:
        escaped += "%23" + quote(fragment, safe=_QUERY_SAFE)
    return escaped


def unescape_path(url: str) -> str:
    """`Jekyll::URL.unescape_path`: percent-decode (UTF-8) for the file name on disk."""
    if "%" not in url:
        return url
    return unquote(url, errors="replace")


def sanitize_url(url: str) -> str:
    """`Jekyll::URL#sanitize_url`: force a leading `/`, turn `..` into `/`, drop `./`, squeeze `//`.

    Note the quirk kept on purpose: every `./` is removed, even inside a segment (`/a./b` → `/ab`).
    """
    if url.startswith("/") and "//" not in url and ".." not in url and "./" not in url:
        return url  # nearly every URL a template makes: nothing to change
    result = ("/" + url).replace("..", "/").replace("./", "")
    if "//" in result:
        result = _SLASHES.sub("/", result)
    return result


_SLASHES = re.compile(r"/{2,}")


def add_permalink_suffix(template: str, permalink_style: str) -> str:
    """`Utils.add_permalink_suffix`: end a page or collection template the way the site style ends.

    `pretty` adds `/`; `date`, `ordinal` and `none` add `:output_ext`; a custom pattern adds `/` or
    `:output_ext` only if it ends with one. `weekdate` is not in Jekyll's list, so it adds nothing.
    """
    if permalink_style == "pretty":
        return template + "/"
    if permalink_style in ("date", "ordinal", "none"):
        return template + ":output_ext"
    if permalink_style.endswith("/"):
        template += "/"
    if permalink_style.endswith(":output_ext"):
        template += ":output_ext"
    return template


# ---------------------------------------------------------------------------------------------
# templates

_PLACEHOLDER = re.compile(r":([a-z_]+)")


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A document URL template split once into literal text and placeholder keys."""

    template: str
    parts: tuple[str, ...]  # literal, key, literal, key, ..., literal (odd indexes are keys)
    suffixes: tuple[str, ...]  # per key: the underscore Jekyll put back after the value
    keys: frozenset[str]
    unknown: tuple[str, ...]  # keys Jekyll's UrlDrop does not have (Jekyll stops the build)
    # For `render_document`, each known key as (the literal text before it, the function of its
    # value, whether that takes the date alone), unknown keys kept in the literal text as
    # `render` keeps them; and the text after the last key.
    steps: tuple[tuple[str, Callable[[Any], str], bool], ...]
    tail: str

    def render_document(self, facts: UrlFacts) -> str:
        """The URL of the document `facts` describe: `render` of its placeholders' values, made
        one by one as the template asks for them."""
        out: list[str] = []
        for literal, value_of, of_date in self.steps:
            out.append(literal)
            # (a date's values are digits and English names: nothing to escape)
            out.append(value_of(facts.date) if of_date else escape_path(value_of(facts)))
        out.append(self.tail)
        return sanitize_url("".join(out))

    def render(self, values: Mapping[str, str]) -> str:
        """Fill in the placeholders (values are escaped here) and sanitize, like `URL#to_s`."""
        parts = self.parts
        out = [parts[0]]
        for index in range(1, len(parts), 2):
            key = parts[index]
            value = values.get(key)
            if value is None:
                # Unknown to Jekyll: it raises; we keep the placeholder literally.
                out.append(":" + key + self.suffixes[index // 2])
            else:
                out.append(escape_path(value) + self.suffixes[index // 2])
            out.append(parts[index + 1])
        return sanitize_url("".join(out))


@lru_cache(maxsize=1024)
def compile_template(template: str) -> CompiledTemplate:
    """Split a document template (`UrlDrop` semantics: `:[a-z_]+`, a trailing `_` is not part of
    the key, e.g. `:month_:day`)."""
    parts: list[str] = []
    suffixes: list[str] = []
    keys: set[str] = set()
    unknown: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        suffix = ""
        if name.endswith("_"):
            # Jekyll tries the name with one trailing underscore chomped (and, through an
            # in-place `chomp!`, only that); the underscore stays in the URL.
            name, suffix = name[:-1], "_"
        parts.append(template[position : match.start()])
        parts.append(name)
        suffixes.append(suffix)
        keys.add(name)
        if name not in DOCUMENT_PLACEHOLDERS and name not in unknown:
            unknown.append(name)
        position = match.end()
    parts.append(template[position:])
    steps: list[tuple[str, Callable[[Any], str], bool]] = []
    literal = parts[0]
    for index in range(1, len(parts), 2):
        key, suffix = parts[index], suffixes[index // 2]
        if key in _DATE_FUNCTIONS:
            steps.append((literal, _DATE_FUNCTIONS[key], True))
        elif key in _DOCUMENT_VALUES:
            steps.append((literal, _DOCUMENT_VALUES[key], False))
        else:
            literal += ":" + key + suffix + parts[index + 1]
            continue
        literal = suffix + parts[index + 1]
    return CompiledTemplate(
        template,
        tuple(parts),
        tuple(suffixes),
        frozenset(keys),
        tuple(unknown),
        tuple(steps),
        literal,
    )


def unknown_placeholders(template: str) -> list[str]:
    """Placeholders in a document template that Jekyll does not know (its build fails on them)."""
    return list(compile_template(template).unknown)


def expand(pattern: str, placeholders: Mapping[str, str]) -> str:
    """A document URL: `pattern` with each `:key` replaced by its escaped value, sanitized.

    Placeholders missing from `placeholders` are left as written (Jekyll stops the build instead).
    """
    return compile_template(pattern).render(placeholders)


def expand_sequential(pattern: str, placeholders: Mapping[str, str | None]) -> str:
    """A page or static-file URL (`URL#generate_url_from_hash`): plain text replacement of each
    `:key` in the mapping's order; a None value removes `/:key`; unknown placeholders stay."""
    result = pattern
    for key, value in placeholders.items():
        if ":" not in result:
            break
        if value is None:
            result = result.replace("/:" + key, "")
        else:
            result = result.replace(":" + key, escape_path(value))
    return sanitize_url(result)


_DATE_FUNCTIONS: dict[str, Callable[[datetime.datetime], str]] = {
    "year": lambda d: f"{d.year:04d}",
    "short_year": lambda d: f"{d.year % 100:02d}",
    "month": lambda d: f"{d.month:02d}",
    "i_month": lambda d: str(d.month),
    "short_month": lambda d: MONTHS[d.month - 1][:3],
    "long_month": lambda d: MONTHS[d.month - 1],
    "day": lambda d: f"{d.day:02d}",
    "i_day": lambda d: str(d.day),
    "y_day": lambda d: f"{d.timetuple().tm_yday:03d}",
    "hour": lambda d: f"{d.hour:02d}",
    "minute": lambda d: f"{d.minute:02d}",
    "second": lambda d: f"{d.second:02d}",
    "w_year": lambda d: str(d.isocalendar()[0]),
    "week": lambda d: f"{d.isocalendar()[1]:02d}",
    "w_day": lambda d: str(d.isoweekday()),
    "short_day": lambda d: _DAYS[d.weekday()][:3],
    "long_day": lambda d: _DAYS[d.weekday()],
}


def date_placeholders(date: datetime.datetime) -> dict[str, str]:
    """Every date placeholder of a document dated `date` (already in the site's time zone)."""
    return {key: function(date) for key, function in _DATE_FUNCTIONS.items()}


@dataclass(slots=True)  # (not frozen: a frozen dataclass is slower to make, once per document)
class UrlFacts:
    """What the placeholders of a post's or collection document's URL are made of (UrlDrop)."""

    date: datetime.datetime  # on the site's clock
    slug: str | None  # the front matter's `slug`, else from the file name (None: `basename`)
    basename: str  # the file name without its extension
    path: str  # the cleaned relative path (may be left "" when the template has no `:path`)
    collection: str
    categories: list[str]
    output_ext: str


def _joined_categories(facts: UrlFacts) -> str:
    return "/".join(dict.fromkeys(category.lower() for category in facts.categories))


def _joined_slugified_categories(facts: UrlFacts) -> str:
    return "/".join(dict.fromkeys(slugify(category) for category in facts.categories))


# The value of each placeholder of a document URL other than the date's (`_DATE_FUNCTIONS`).
_DOCUMENT_VALUES: dict[str, Callable[[UrlFacts], str]] = {
    "title": lambda f: slugify_once(f.slug if f.slug is not None else f.basename, "pretty", True),
    "slug": lambda f: slugify_once(f.slug if f.slug is not None else f.basename),
    "name": lambda f: slugify_once(f.basename),
    "path": lambda f: f.path,
    "output_ext": lambda f: f.output_ext,
    "collection": lambda f: f.collection,
    "categories": _joined_categories,
    "slugified_categories": _joined_slugified_categories,
}


# ---------------------------------------------------------------------------------------------
# output paths and URL keys


def url_to_output_path(url: str, output_ext: str = ".html") -> str:
    """The file under `_site/` that a page with this URL is written to (no leading `/`).

    A URL ending in `/` is written to `index` + `output_ext` inside it; a URL without the output
    extension gets it appended (`/about` → `about.html`). Percent-escapes are decoded, as Jekyll
    names files by the decoded URL. Documents differ in one corner, handled by the site model:
    their directory URLs always get `index.html`.
    """
    path = unescape_path(url)
    if path.endswith("/"):
        path += "index"
    if not path.endswith(output_ext):
        path += output_ext
    return path.lstrip("/")


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _canonical(path: str) -> str:
    # The key of a served path: `/a.html` and `/a` are one page, and so are `/a/`, `/a/index`
    # and `/a/index.html` (what static hosts such as GitHub Pages serve for them).
    if path.endswith(".html"):
        path = path[:-5]
    if path == "/index" or path.endswith("/index"):
        path = path[:-5]
    return path or "/"


def _resolve_dots(path: str) -> str:
    trailing = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):
        resolved = "/" + resolved.lstrip("/")
    if trailing and not resolved.endswith("/"):
        resolved += "/"
    return resolved


# An absolute path of URL-safe characters, then any query or fragment. Its path is plain (no
# `%` to decode, nothing to resolve) when it has no `//` and no segment starts with a dot (no
# `.` or `..`): two substring tests, quicker than a regex of segments.
_SIMPLE_URL = re.compile(r"(/[A-Za-z0-9._~/-]*)(?:[?#].*)?", re.DOTALL)


def _under_site_url(url: str, site_url: str) -> bool:
    return bool(site_url) and url.startswith(site_url.rstrip("/") + "/")


def normalize_url(
    url: str, baseurl: str = "", *, base: str | None = None, site_url: str = ""
) -> str | None:
    """One key per page of the built site, so that links and URLs can be compared.

    Drops the query and fragment, percent-decodes, strips `site_url` (the site's own absolute
    address, when given) and `baseurl` (when present), resolves `.`/`..` and `//`, and folds
    `/a.html` ≡ `/a` and `/a/` ≡ `/a/index.html` ≡ `/a/index` into one key (`/a` and `/a/`).

    Returns None for what is not a site path: URLs with a scheme (`http:`, `mailto:`),
    protocol-relative `//host/...`, bare `#fragment`/`?query` and empty strings, and relative
    paths (`a/b.html`) unless `base` (the URL of the page holding the link) is given to resolve
    them against.
    """
    url = url.strip()
    simple = _SIMPLE_URL.fullmatch(url)
    if simple is not None:
        path = simple[1]
        # Most URLs of a site (every entry's own, most links): nothing to decode or resolve.
        # (A `site_url` that is a path, `/blog`, is stripped only from URLs that have more
        # than a path, as it always was.)
        if (
            "//" not in path
            and "/." not in path
            and (len(path) == len(url) or not _under_site_url(url, site_url))
        ):
            return _canonical(_without_baseurl(path, baseurl) if baseurl else path)
    if _under_site_url(url, site_url):
        url = url[len(site_url.rstrip("/")) :]
    if not url or url.startswith("//") or _SCHEME.match(url):
        return None
    path = url.split("#", 1)[0].split("?", 1)[0]
    if not path:
        return None
    path = unquote(path, errors="replace")
    if not path.startswith("/"):
        if base is None:
            return None
        base_path = unquote(base.split("#", 1)[0].split("?", 1)[0], errors="replace")
        directory = base_path if base_path.endswith("/") else posixpath.dirname(base_path)
        path = posixpath.join(directory or "/", path)
        if not path.startswith("/"):
            path = "/" + path
    return _canonical(_without_baseurl(_resolve_dots(path), baseurl))


def _without_baseurl(path: str, baseurl: str) -> str:
    prefix = "/" + baseurl.strip("/") if baseurl.strip("/") else ""
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix) :] or "/"
    return path


def output_path_key(output_path: str) -> str:
    """The `normalize_url` key of the file written at `output_path` (relative to `_site/`)."""
    return _canonical("/" + output_path)
