"""One review (or page) parsed, with the exact span of every part the rules and features need.

Spans are code-point offsets into `Document.text` (see `positions`). Parsing never raises on bad
input: whatever cannot be read is recorded in `Document.problems` or `FrontMatter.error`.
The parsers themselves live in `frontmatter` (YAML with node positions), `markdown` (a light,
fence-aware scanner for links, definitions and headings) and `liquid` (tags and blocks).
"""

from __future__ import annotations

import datetime
import functools
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from letterhead.positions import LineIndex, Span


class ValueStyle(StrEnum):
    """How a front matter value is written, so that fixes can keep the author's formatting."""

    NULL = "null"  # `excerpt:` with nothing after it
    PLAIN = "plain"  # a bare scalar
    QUOTED = "quoted"  # a single- or double-quoted scalar
    BLOCK_SCALAR = "block-scalar"  # `|` or `>`
    FLOW_LIST = "flow-list"  # `[a, b]`
    BLOCK_LIST = "block-list"  # `- a` lines
    FLOW_MAP = "flow-map"
    BLOCK_MAP = "block-map"


@dataclass(slots=True)
class ListItem:
    """One scalar item of a front matter list, e.g. a tag."""

    value: Any  # as YAML constructs it (str, int, ...); None for an empty item
    span: Span  # the item's text as written, quotes included
    text_span: Span  # the item's content without quotes; equal to `span` for plain scalars


@dataclass(slots=True)
class FrontMatterEntry:
    """One top-level `key: value` of the front matter."""

    key: str
    key_span: Span
    value: Any  # as the safe loader builds it: str, int, float, bool, date, list, dict
    value_span: Span  # the value as written; empty span right after the colon for a null value
    style: ValueStyle
    items: list[ListItem] | None = None  # for lists of scalars: each item with its span
    tag: str | None = None  # an explicit YAML tag such as "!!python/object", if written


class FrontMatterErrorKind(StrEnum):
    MISSING = "missing"  # no front matter at all
    UNCLOSED = "unclosed"  # an opening `---` with no closing one
    YAML = "yaml"  # a YAML syntax error
    NOT_MAPPING = "not-mapping"  # a list or a scalar
    TOO_COMPLEX = "too-complex"  # alias expansion or nesting past the safety bounds
    UNSAFE_TAG = "unsafe-tag"  # a tag the safe loader refuses (e.g. !!python/object)


@dataclass(slots=True)
class FrontMatterError:
    kind: FrontMatterErrorKind
    message: str
    span: Span


@dataclass(slots=True)
class FrontMatter:
    span: Span  # from the first `---` through the end of the closing `---` line
    yaml_span: Span  # the YAML text between the two fences
    entries: list[FrontMatterEntry] = field(default_factory=list)  # in order, duplicates kept
    error: FrontMatterError | None = None
    closing_fence: str = "---"  # `---` or `...`

    @property
    def data(self) -> dict[str, Any]:
        """The mapping as Jekyll sees it (a later duplicate key wins)."""
        return {entry.key: entry.value for entry in self.entries}

    def get(self, key: str) -> FrontMatterEntry | None:
        """The effective entry for `key` (the last one written)."""
        for entry in reversed(self.entries):
            if entry.key == key:
                return entry
        return None


class LinkKind(StrEnum):
    INLINE = "inline"  # [text](url)
    REFERENCE = "reference"  # [text][label]
    COLLAPSED = "collapsed"  # [label][]
    SHORTCUT = "shortcut"  # [label]
    AUTOLINK = "autolink"  # <https://...>
    POST_URL = "post_url"  # {% post_url 2013-09-13-slug %}
    LINK_TAG = "link"  # {% link _posts/2013-09-13-slug.md %}


@dataclass(slots=True)
class Link:
    kind: LinkKind
    span: Span  # the whole construct
    text: str  # the link text ("" for tags and autolinks)
    target: str | None = None  # URL, post id or path; None for reference-style links
    target_span: Span | None = None
    label: str | None = None  # the label as written, for reference-style links
    label_span: Span | None = None
    is_image: bool = False
    # A `#fragment` written right after a `post_url` or `link` tag (`{% post_url id %}#part`):
    # Jekyll renders the tag to a URL, and the fragment goes with it.
    fragment_span: Span | None = None


@dataclass(slots=True)
class ReferenceDefinition:
    label: str  # as written
    label_span: Span
    url: str
    url_span: Span
    span: Span  # the whole definition line(s), without the final line break
    title: str | None = None

    @property
    def key(self) -> str:
        return normalize_label(self.label)


@dataclass(slots=True)
class LiquidTag:
    """A `{% name markup %}` or `{{ expression }}` in the body."""

    name: str  # tag name; "{{" for an output expression
    markup: str  # everything after the name, stripped
    span: Span
    name_span: Span
    markup_span: Span


@dataclass(slots=True)
class LiquidBlock:
    """A block tag with its end tag, e.g. `{% contentfor signature %}...{% endcontentfor %}`."""

    name: str
    opening: LiquidTag
    closing: LiquidTag | None  # None when unclosed (reported by LQ001)
    body_span: Span  # between the tags (to the end of the text when unclosed)

    @property
    def span(self) -> Span:
        end = self.closing.span.end if self.closing else self.body_span.end
        return Span(self.opening.span.start, end)

    @property
    def argument(self) -> str:
        return self.opening.markup.split()[0] if self.opening.markup.split() else ""


@dataclass(slots=True)
class LiquidError:
    message: str
    span: Span


@dataclass(slots=True)
class Heading:
    level: int
    text: str
    anchor: str  # the id kramdown gives it: explicit `{:#id}` or generated from the text
    span: Span  # the heading line


@dataclass(slots=True)
class Salutation:
    """The first paragraph of the body when it opens with "Dear" (e.g. `_**Dear X**, Y,_`)."""

    span: Span  # the whole paragraph
    addressee: str | None
    addressee_span: Span | None
    position: str | None
    position_span: Span | None


@dataclass(slots=True)
class Problem:
    """Something about the file itself that could not be read as written."""

    code: str  # e.g. "encoding", "too-large", "binary"
    message: str
    span: Span


@dataclass(slots=True)
class Document:
    text: str
    lines: LineIndex
    front_matter: FrontMatter | None
    body_start: int  # offset of the first character after the front matter
    salutation: Salutation | None = None
    links: list[Link] = field(default_factory=list)
    definitions: list[ReferenceDefinition] = field(default_factory=list)
    liquid_tags: list[LiquidTag] = field(default_factory=list)
    liquid_blocks: list[LiquidBlock] = field(default_factory=list)
    liquid_errors: list[LiquidError] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return self.front_matter.data if self.front_matter else {}

    def signature(
        self, block_name: str = "contentfor", argument: str = "signature"
    ) -> LiquidBlock | None:
        for block in self.liquid_blocks:
            if block.name == block_name and block.argument == argument:
                return block
        return None

    def anchors(self) -> set[str]:
        return {heading.anchor for heading in self.headings}


def normalize_label(label: str) -> str:
    """CommonMark label matching: Unicode case fold and collapse internal white space."""
    return " ".join(label.split()).casefold()


def as_date(value: Any) -> datetime.date | None:
    """A front matter date value as a date, if it is one Jekyll would accept."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return None


# A site has a few thousand tag and value names, folded over and over; titles and post ids,
# folded once each, go through `fold_once` and stay out of the cache (at 65,536 entries it held
# ~13 MB, most of it titles).
@functools.lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """The folded form of a tag: case, accents, spacing, hyphens and underscores ignored."""
    return fold_once(text)


def fold_once(text: str) -> str:
    """`fold` without its cache, for texts folded once (a review's title)."""
    if text.isascii():
        return " ".join(text.lower().replace("-", " ").replace("_", " ").split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.casefold().replace("-", " ").replace("_", " ").split())


# ---------------------------------------------------------------------------------------------
# Reading bytes and parsing

# The Markdown and Liquid scanners are linear, but a body this long is not a review: past this
# bound only the front matter is read, and a Problem says so.
MAX_BODY_CHARS = 2_000_000


def decode(data: bytes) -> tuple[str, list[Problem]]:
    """A file's bytes as text, with what could not be decoded recorded; never raises.

    UTF-8 (with or without a byte order mark) is the rule; UTF-16 is accepted when it starts with
    its byte order mark. The mark is not part of the text, as Jekyll reads it (`bom|utf-8`).
    Undecodable bytes become U+FFFD; a file with NUL bytes is binary and yields no text.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        return _decode_with(data[2:], encoding, "UTF-16")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:  # no text file holds NUL bytes (git and grep decide the same way)
        return "", [
            Problem(
                "binary",
                "the file holds NUL bytes: it is binary, not a text file, and was not checked",
                Span(0, 0),
            )
        ]
    return _decode_with(data, "utf-8", "UTF-8")


def _decode_with(data: bytes, encoding: str, name: str) -> tuple[str, list[Problem]]:
    try:
        return data.decode(encoding), []
    except UnicodeDecodeError as error:
        first_bad = error.start
    text = data.decode(encoding, errors="replace")
    offset = len(data[:first_bad].decode(encoding, errors="replace"))
    byte = data[first_bad : first_bad + 1].hex()
    return text, [
        Problem(
            "encoding",
            f"the file is not valid {name}: byte 0x{byte} at byte offset {first_bad} cannot be "
            "decoded; undecodable bytes were read as U+FFFD",
            Span(offset, offset + 1),
        )
    ]


def parse_document(text: str, *, header_ids: str = "gfm") -> Document:
    """Parse one review (or page); never raises, and bounded in time for any input.

    `header_ids` chooses how heading anchors are generated: "gfm" as Jekyll's default kramdown
    input does, or "kramdown" for sites that set `kramdown: {input: kramdown}`.
    """
    try:
        return _parse(text, header_ids)
    except Exception as error:  # the last guard: a parser bug must not take down the engine
        document = Document(text=text, lines=LineIndex(text), front_matter=None, body_start=0)
        document.problems.append(
            Problem(
                "internal", f"the file could not be parsed ({type(error).__name__})", Span(0, 0)
            )
        )
        return document


def parse_head(text: str) -> Document:
    """Only the front matter of `text`, its body left unscanned (no links, headings, Liquid or
    salutation): what a site-wide rename of a tag needs of each of thousands of reviews, at a
    fraction of the cost of `parse_document`. Never raises."""
    from letterhead.frontmatter import parse_front_matter

    try:
        front_matter, body_start = parse_front_matter(text)
    except Exception:  # the same last guard as `parse_document`
        return parse_document(text)
    return Document(
        text=text, lines=LineIndex(text), front_matter=front_matter, body_start=body_start
    )


def _parse(text: str, header_ids: str) -> Document:
    # The parsers import this module for its types, so they are imported here, at first use.
    from letterhead.frontmatter import parse_front_matter
    from letterhead.liquid import scan_liquid
    from letterhead.markdown import parse_salutation, scan_body

    front_matter, body_start = parse_front_matter(text)
    document = Document(
        text=text, lines=LineIndex(text), front_matter=front_matter, body_start=body_start
    )
    body_end = len(text)
    if body_end - body_start > MAX_BODY_CHARS:
        body_end = body_start + MAX_BODY_CHARS
        document.problems.append(
            Problem(
                "too-large",
                f"the body is {len(text) - body_start:,} characters long; only the first "
                f"{MAX_BODY_CHARS:,} were checked",
                Span(body_end, body_end),
            )
        )
    liquid = scan_liquid(text, body_start, body_end)
    body = scan_body(text, body_start, body_end, liquid.opaque, header_ids)
    document.liquid_tags = liquid.tags
    document.liquid_blocks = liquid.blocks
    document.liquid_errors = liquid.errors
    document.definitions = body.definitions
    document.headings = body.headings
    links = body.links
    if liquid.links:
        links = sorted(links + liquid.links, key=lambda link: link.span.start)
    else:
        links.sort(key=lambda link: link.span.start)
    document.links = links
    document.salutation = parse_salutation(text, body.first_paragraph)
    return document
