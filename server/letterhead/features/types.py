"""What editor features answer, as plain engine types the protocol layer converts.

Places in the document being edited are `Span`s (code-point offsets into its text); places in
other files are `Location`s (a site-relative path and a line/code-point `Range` of that file).
Nothing here knows the Language Server Protocol; `lsp/convert` maps these onto it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from letterhead.findings import Finding, TextEdit
from letterhead.positions import LineIndex, Range, Span


class CompletionKind(StrEnum):
    """What a completion item inserts (the protocol layer picks an icon from it)."""

    KEY = "key"  # a front matter key
    VALUE = "value"  # a front matter value: stars, booleans, ...
    TAG = "tag"
    CATEGORY = "category"
    LAYOUT = "layout"
    AUTHOR = "author"
    IMAGE = "image"  # a file name in an image folder
    URL = "url"  # a site URL of another review
    POST_ID = "post_id"  # an id for `{% post_url %}`
    LABEL = "label"  # a reference label of the document
    LIQUID_TAG = "liquid_tag"
    SNIPPET = "snippet"  # a whole template (a new letter)


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a completion item's documentation is written from, when writing it costs more than
    the item itself (a tag's newest user, a review's summary): an editor shows the documentation
    of one item at a time, and asks for it (`completionItem/resolve`) with this."""

    topic: str  # "tags" or "categories" (`subject` a name's folded form), "review" (a path)
    subject: str


@dataclass(slots=True)
class CompletionItem:
    label: str
    kind: CompletionKind
    insert_text: str
    replace_span: Span  # the partly typed word the item replaces (the cursor lies within it)
    detail: str = ""
    documentation: str = ""  # Markdown
    sort_text: str = ""  # clients sort by this; it encodes the engine's ranking
    filter_text: str = ""  # clients filter what was typed in `replace_span` against this
    is_snippet: bool = False  # `insert_text` uses snippet syntax ($1, ${1:x}, $0)
    # Set when `documentation` can be written later, from this (`completion.explain`); the
    # documentation is then left empty if the completion was asked for without it.
    explanation: Explanation | None = None


@dataclass(slots=True)
class Completions:
    items: list[CompletionItem] = field(default_factory=list)
    incomplete: bool = False  # the list was cut at the limit: ask again as the user types


@dataclass(slots=True)
class Hover:
    markdown: str
    span: Span  # what the hover describes, in the current document


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file of the site: a path relative to the site root and a range in it."""

    path: str
    range: Range
    # The lines of the text `range` was worked out on, where that is another file's: the
    # protocol's units are counted on them, without reading the file again (references to a
    # tag read thousands of reviews, more than `LoadedSite.document` keeps).
    lines: LineIndex | None = field(default=None, compare=False, repr=False)


class ActionKind(StrEnum):
    QUICKFIX = "quickfix"  # the fix of a finding
    REFACTOR = "refactor"  # a change at the cursor that is not a fix (sort tags)
    SOURCE = "source"  # a change to the whole file (insert the letter template)


@dataclass(slots=True)
class Action:
    title: str
    kind: ActionKind
    edits: dict[str, list[TextEdit]]  # site-relative path -> edits (ranges in that file)
    finding: Finding | None = None  # the finding a quick fix mends
    preferred: bool = False


class SymbolKind(StrEnum):
    """Parts of a review; suggested protocol kinds in the comments."""

    FRONT_MATTER = "front_matter"  # Namespace
    KEY = "key"  # Property
    SALUTATION = "salutation"  # String
    HEADING = "heading"  # String
    SIGNATURE = "signature"  # Event
    REVIEW = "review"  # File (workspace symbols)


@dataclass(slots=True)
class Symbol:
    name: str
    kind: SymbolKind
    span: Span  # the whole part (a heading: its section up to the next heading of its level)
    selection_span: Span  # what to highlight: the key, the heading line
    detail: str = ""
    children: list[Symbol] = field(default_factory=list)


@dataclass(slots=True)
class WorkspaceSymbol:
    name: str  # the review's title
    kind: SymbolKind
    path: str  # site-relative
    range: Range  # line 0
    detail: str = ""  # its date


@dataclass(slots=True)
class DocumentLink:
    span: Span
    target: str  # a site-relative file path, or an absolute https URL
    tooltip: str = ""

    @property
    def is_url(self) -> bool:
        return self.target.startswith(("https://", "http://"))
