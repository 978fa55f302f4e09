"""Front matter: find the `---` fences and read the YAML between them, with the span of every entry.

The YAML is composed once with PyYAML's C loader (`yaml.CSafeLoader`); values are constructed from
the composed nodes with the same loader, one top-level entry at a time, so that a bad value (an
unsafe tag, an impossible date) spoils only its own entry. Before anything is constructed the node
graph is measured: alias bombs, recursive aliases and deep nesting are refused in bounded time.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml

from letterhead.document import (
    FrontMatter,
    FrontMatterEntry,
    FrontMatterError,
    FrontMatterErrorKind,
    ListItem,
    ValueStyle,
)
from letterhead.plainyaml import read_plain
from letterhead.positions import Span
from letterhead.yamlsafe import GraphMeasure

# Real front matter is a few hundred bytes; the C loader needs ~0.4 s per megabyte, so a bound keeps
# one pathological file from stalling a whole `letterhead check`.
MAX_FRONT_MATTER_CHARS = 128 * 1024
# Nodes after alias expansion, and nesting depth: far beyond any real front matter, far below harm.
MAX_EXPANDED_NODES = 20_000

_OPENING = re.compile(r"\ufeff?---[ \t]*(\r\n|\r|\n|\Z)")
# A closing fence is a line of its own; lines may end at "\r" alone, which `re.M` does not know.
# The second group is the fence line's break, after which the body starts.
_CLOSING = re.compile(r"[\r\n](---|\.\.\.)[ \t]*(\r\n|\r|\n|\Z)")
# The same for a text without "\r" (nearly all): starting with a literal, the search skips from
# one line break to the next instead of trying the pattern at every character, four times faster.
_CLOSING_AFTER_LF = re.compile(r"\n(---|\.\.\.)[ \t]*(\r\n|\r|\n|\Z)")
_NO_VALUE = object()
_ANCHOR_AND_TAG = re.compile(r"(?:&\S+[ \t]+)?(!\S*)")
_ALIAS = re.compile(r"\*[^\s,\[\]{}]+")

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_REMEMBERED_TAGS = 20_000
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOLS = yaml.constructor.SafeConstructor.bool_values
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"


class _Loader(yaml.CSafeLoader):
    """The C safe loader, with the tag resolution of plain scalars remembered.

    The C parser asks the Python resolver for the tag of every scalar, and that costs as much as
    the parsing itself. A plain scalar's tag depends on its text alone, and front matter repeats
    the same texts (`true`, `review`, tag names) across a whole site, so answers are kept.
    """

    _plain_tags: ClassVar[dict[str, str]] = {}

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return _STR_TAG  # a quoted or block scalar
            tag = _Loader._plain_tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_Loader._plain_tags) < _MAX_REMEMBERED_TAGS:
                    _Loader._plain_tags[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


def split_front_matter(text: str) -> tuple[FrontMatter | None, int]:
    """The fences of the front matter (YAML not yet read) and the offset where the body starts.

    Returns `(None, 0)` when the first line is not `---`. An opening fence without a closing one
    gives a `FrontMatter` with an UNCLOSED error whose body starts after the opening line.
    """
    opening = _OPENING.match(text)
    if opening is None:
        return None, 0
    fence_start = 1 if text.startswith("\ufeff") else 0
    yaml_start = opening.end()
    # The search starts on the opening line's break, which the pattern needs before a fence.
    closing = None
    if opening.group(1):
        pattern = _CLOSING if "\r" in text else _CLOSING_AFTER_LF
        closing = pattern.search(text, yaml_start - 1)
    if closing is None:
        fence = Span(fence_start, fence_start + 3)
        front_matter = FrontMatter(
            span=Span(fence_start, opening.start(1)),
            yaml_span=Span(yaml_start, len(text)),
            error=FrontMatterError(
                FrontMatterErrorKind.UNCLOSED,
                "the front matter is never closed: add a line `---` after its last key",
                fence,
            ),
        )
        return front_matter, yaml_start
    front_matter = FrontMatter(
        span=Span(fence_start, closing.start(2)),
        yaml_span=Span(yaml_start, closing.start(1)),
        closing_fence=closing.group(1),
    )
    return front_matter, closing.end()


def parse_front_matter(text: str) -> tuple[FrontMatter | None, int]:
    """Split and read the front matter of `text`; never raises."""
    front_matter, body_start = split_front_matter(text)
    if front_matter is not None and front_matter.error is None:
        read_yaml(text, front_matter)
    return front_matter, body_start


def read_yaml(text: str, front_matter: FrontMatter, plain: bool = True) -> None:
    """Fill `front_matter.entries` (and `.error`) from the YAML inside its fences.

    Plain front matter (most of it) is read by `plainyaml`, which gives the same entries faster;
    `plain=False` always takes the full reader (tests compare the two).
    """
    start, end = front_matter.yaml_span.start, front_matter.yaml_span.end
    if end - start > MAX_FRONT_MATTER_CHARS:
        front_matter.error = FrontMatterError(
            FrontMatterErrorKind.TOO_COMPLEX,
            f"the front matter is {end - start:,} characters long, over the "
            f"{MAX_FRONT_MATTER_CHARS:,}-character limit; it was not read",
            Span(front_matter.span.start, front_matter.span.start + 3),
        )
        return
    if plain:
        entries = read_plain(text, start, end)
        if entries is not None:
            front_matter.entries = entries
            return
    yaml_text = text[start:end]
    loader = _Loader(yaml_text)
    try:
        _read(text, start, yaml_text, loader, front_matter)
    except Exception as error:  # a last guard: the loader must never take the engine down
        front_matter.error = FrontMatterError(
            FrontMatterErrorKind.YAML,
            f"the front matter cannot be read: {error}",
            Span(start, start),
        )
    finally:
        loader.dispose()


def _read(
    text: str, offset: int, yaml_text: str, loader: _Loader, front_matter: FrontMatter
) -> None:
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        front_matter.error = _syntax_error(text, offset, yaml_text, error)
        return
    except yaml.YAMLError as error:
        front_matter.error = FrontMatterError(
            FrontMatterErrorKind.YAML, f"YAML syntax error: {error}", Span(offset, offset)
        )
        return
    if root is None:  # empty, or only comments: a valid empty mapping
        return
    if not isinstance(root, yaml.MappingNode):
        if isinstance(root, yaml.ScalarNode) and root.tag == _NULL_TAG:
            return  # `~` or `null`: Jekyll reads no data, and complains of nothing
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        front_matter.error = FrontMatterError(
            FrontMatterErrorKind.NOT_MAPPING,
            f"the front matter is {kind}, not a mapping of keys to values such as `title: ...`",
            _node_span(root, offset, yaml_text),
        )
        return
    # Without anchors there are no aliases, and then only the depth needs a look.
    too_complex = GraphMeasure("&" in yaml_text, MAX_EXPANDED_NODES).why_unsafe(root)
    if too_complex is not None:
        front_matter.error = FrontMatterError(
            FrontMatterErrorKind.TOO_COMPLEX,
            f"the front matter {too_complex}; it was not read",
            _node_span(root, offset, yaml_text),
        )
        return
    reader = _EntryReader(text, offset, yaml_text, loader)
    front_matter.entries = reader.entries(root)
    front_matter.error = reader.error


def _syntax_error(
    text: str, offset: int, yaml_text: str, error: yaml.MarkedYAMLError
) -> FrontMatterError:
    mark = error.problem_mark or error.context_mark
    index = min(mark.index, len(yaml_text)) if mark is not None else 0
    problem = error.problem or "invalid YAML"
    if "maximum nesting depth" in problem:
        return FrontMatterError(
            FrontMatterErrorKind.TOO_COMPLEX,
            "the front matter is nested too deeply to be read safely",
            Span(offset + index, offset + index),
        )
    message = f"YAML syntax error: {problem}"
    if problem == "second occurrence" and error.context_mark is not None:
        line = _line_number(text, offset + error.context_mark.index)
        message = f"YAML syntax error: an anchor is defined twice (first on line {line})"
    elif error.context and error.context_mark is not None:
        line = _line_number(text, offset + error.context_mark.index)
        message += f" ({error.context} on line {line})"
    if yaml_text.startswith("\t", index) or (
        "cannot start any token" in problem and "\t" in yaml_text[max(0, index - 1) : index + 1]
    ):
        message += "; YAML does not allow tabs for indentation, use spaces"
    end = index + 1 if index < len(yaml_text) and yaml_text[index] not in "\r\n" else index
    return FrontMatterError(FrontMatterErrorKind.YAML, message, Span(offset + index, offset + end))


def _line_number(text: str, offset: int) -> int:
    """One-based line of `offset` (for messages only, so a plain count is fine)."""
    prefix = text[:offset]
    return prefix.count("\n") + prefix.count("\r") - prefix.count("\r\n") + 1


def _node_span(node: yaml.Node, offset: int, yaml_text: str) -> Span:
    """The node's text as written, trailing white space and line breaks left out."""
    start, end = node.start_mark.index, node.end_mark.index
    while end > start and yaml_text[end - 1] in " \t\r\n":
        end -= 1
    return Span(offset + start, offset + end)


class _EntryReader:
    """Turns the top-level pairs of the root mapping into `FrontMatterEntry`s."""

    def __init__(self, text: str, offset: int, yaml_text: str, loader: _Loader) -> None:
        self.text = text
        self.offset = offset
        self.yaml_text = yaml_text
        self.loader = loader
        self.error: FrontMatterError | None = None

    def entries(self, root: yaml.MappingNode) -> list[FrontMatterEntry]:
        entries: list[FrontMatterEntry] = []
        merged: list[FrontMatterEntry] = []
        for key_node, value_node in root.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merged(value_node))
                continue
            entries.append(self._entry(key_node, value_node))
        if merged:
            # Keys written in this mapping win over merged ones, wherever `<<` stands.
            written = {entry.key for entry in entries}
            seen: set[str] = set()
            kept = []
            for entry in merged:
                if entry.key not in written and entry.key not in seen:
                    seen.add(entry.key)
                    kept.append(entry)
            entries[:0] = kept
        return entries

    def _merged(self, value_node: yaml.Node) -> list[FrontMatterEntry]:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        entries: list[FrontMatterEntry] = []
        for source in sources:  # earlier sources win in a YAML merge
            if isinstance(source, yaml.MappingNode):
                entries.extend(
                    self._entry(key, value) for key, value in source.value if key.tag != _MERGE_TAG
                )
        return entries

    def _entry(self, key_node: yaml.Node, value_node: yaml.Node) -> FrontMatterEntry:
        offset = self.offset
        key_start = key_node.start_mark.index
        if type(key_node) is yaml.ScalarNode and key_node.style in ("", None):
            # A plain key ends exactly at its end mark; its text is its name, as written
            # (`2014:` is "2014", `true:` is "true").
            key_span = Span(offset + key_start, offset + key_node.end_mark.index)
            key = key_node.value
        else:
            key_span = _node_span(key_node, offset, self.yaml_text)
            key = (
                str(key_node.value)
                if isinstance(key_node, yaml.ScalarNode)
                else self.text[key_span.start : key_span.end]
            )
        value_start = value_node.start_mark.index
        if (
            type(value_node) is yaml.ScalarNode
            and value_node.style in ("", None, '"', "'")
            and value_start > key_start
            and self.yaml_text[value_start] not in "!&"
        ):
            # The common cases, a plain or quoted string, boolean or number, without helpers.
            tag = value_node.tag
            value: Any = _NO_VALUE
            if tag == _STR_TAG:
                value = value_node.value
            elif tag == _BOOL_TAG:
                value = _BOOLS.get(value_node.value.lower(), _NO_VALUE)
            elif tag == _NULL_TAG:
                value_end = value_node.end_mark.index
                if value_end == value_start:  # `excerpt:` with nothing after the colon
                    colon = self.yaml_text.rfind(":", key_node.end_mark.index, value_start)
                    if colon >= 0:
                        at = offset + colon + 1
                        return FrontMatterEntry(key, key_span, None, Span(at, at), ValueStyle.NULL)
                else:
                    value = None
            elif tag in (_INT_TAG, _FLOAT_TAG):
                try:
                    value = self.loader.yaml_constructors[tag](self.loader, value_node)
                except Exception:  # never for what the resolver accepted, but stay safe
                    value = _NO_VALUE
            if value is not _NO_VALUE:
                value_span = Span(offset + value_start, offset + value_node.end_mark.index)
                style = ValueStyle.QUOTED if value_node.style else ValueStyle.PLAIN
                return FrontMatterEntry(key, key_span, value, value_span, style)
        value_span, is_alias = self._value_span(key_span, value_node)
        style = self._style(value_node, value_span)
        value = self._construct(value_node)
        written_tag = None
        if not is_alias and self.text[value_span.start : value_span.start + 1] in ("!", "&"):
            written = _ANCHOR_AND_TAG.match(self.text, value_span.start, value_span.end)
            written_tag = written.group(1) if written is not None else None
        items = None
        if not is_alias and isinstance(value_node, yaml.SequenceNode):
            items = self._items(value_node, value, value_span)
        return FrontMatterEntry(key, key_span, value, value_span, style, items, written_tag)

    def _value_span(self, key_span: Span, node: yaml.Node) -> tuple[Span, bool]:
        span = _node_span(node, self.offset, self.yaml_text)
        if span.start >= key_span.end:
            if span.start == span.end and node.tag == _NULL_TAG:
                colon = self.text.find(":", key_span.end, max(span.start, key_span.end + 1))
                if colon >= 0:
                    return Span(colon + 1, colon + 1), False
            return span, False
        # An alias: the node was written at its anchor, earlier; point at the `*name` instead.
        alias = _ALIAS.search(self.text, key_span.end, self.offset + len(self.yaml_text))
        if alias is not None:
            return Span(alias.start(), alias.end()), True
        return Span(key_span.end, key_span.end), True

    def _style(self, node: yaml.Node, span: Span) -> ValueStyle:
        if isinstance(node, yaml.SequenceNode):
            return ValueStyle.FLOW_LIST if node.flow_style else ValueStyle.BLOCK_LIST
        if isinstance(node, yaml.MappingNode):
            return ValueStyle.FLOW_MAP if node.flow_style else ValueStyle.BLOCK_MAP
        style = getattr(node, "style", None)
        if style in ("'", '"'):
            return ValueStyle.QUOTED
        if style in ("|", ">"):
            return ValueStyle.BLOCK_SCALAR
        if span.start == span.end and node.tag == _NULL_TAG:
            return ValueStyle.NULL
        return ValueStyle.PLAIN

    def _construct(self, node: yaml.Node) -> Any:
        # Strings, and lists of strings, are most of any front matter: build them directly.
        if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
            return node.value
        if (
            isinstance(node, yaml.SequenceNode)
            and node.tag == _SEQ_TAG
            and all(
                child.tag == _STR_TAG and isinstance(child, yaml.ScalarNode) for child in node.value
            )
        ):
            return [child.value for child in node.value]
        try:
            if type(node) is yaml.ScalarNode:
                # Scalar constructors of the safe loader return plain values at once; calling
                # them directly skips the bookkeeping `construct_object` keeps for containers.
                constructor = self.loader.yaml_constructors.get(node.tag)
                if constructor is not None:
                    return constructor(self.loader, node)
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as error:
            self._construction_failed(node, error)
            return None  # an unsafe or unknown tag: no value rather than a pretend one
        except Exception:
            # e.g. `date: 2013-02-30` matches the timestamp pattern but is no date: keep the text
            # so that the rules can say what is wrong with it.
            pass
        return node.value if isinstance(node, yaml.ScalarNode) else None

    def _construction_failed(self, node: yaml.Node, error: yaml.MarkedYAMLError) -> None:
        if self.error is not None:
            return
        mark = error.problem_mark or node.start_mark
        start = self.offset + min(mark.index, len(self.yaml_text))
        end = start
        while end < self.offset + len(self.yaml_text) and not self.text[end].isspace():
            end += 1
        problem = error.problem or "the value cannot be read"
        tag_match = re.search(r"tag '([^']*)'", problem)
        if tag_match is not None:
            tag = tag_match.group(1).replace("tag:yaml.org,2002:", "!!")
            self.error = FrontMatterError(
                FrontMatterErrorKind.UNSAFE_TAG,
                f"the YAML tag `{tag}` is not allowed: front matter is read with a safe loader "
                "that builds only plain values",
                Span(start, end),
            )
        else:
            self.error = FrontMatterError(
                FrontMatterErrorKind.YAML, f"YAML error: {problem}", Span(start, end)
            )

    def _items(self, node: yaml.SequenceNode, value: Any, span: Span) -> list[ListItem] | None:
        if not isinstance(value, list) or len(value) != len(node.value):
            return None
        items: list[ListItem] = []
        offset = self.offset
        for child, child_value in zip(node.value, value, strict=True):
            if type(child) is not yaml.ScalarNode:
                return None
            style = child.style
            if style in ("", None, '"', "'"):  # flow and quoted scalars end at their end mark
                item_span = Span(offset + child.start_mark.index, offset + child.end_mark.index)
            else:
                item_span = _node_span(child, offset, self.yaml_text)
            if item_span.start < span.start or item_span.end > span.end:
                return None  # an alias to a value written elsewhere
            text_span = item_span
            if style in ("'", '"') and item_span.end - item_span.start >= 2:
                text_span = Span(item_span.start + 1, item_span.end - 1)
            items.append(ListItem(child_value, item_span, text_span))
        return items
