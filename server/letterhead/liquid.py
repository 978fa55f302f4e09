"""Liquid in a body: `{% tags %}` and `{{ outputs }}` with spans, blocks paired, syntax errors.

Nothing is rendered or executed here: the scanner only finds where Liquid is, as Liquid's own
tokenizer would (the first `%}` ends a tag, the first `}}` an output), pairs block tags with their
end tags, and reports what Liquid would refuse. Whether a tag name is known is left to the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from letterhead.document import Link, LinkKind, LiquidBlock, LiquidError, LiquidTag
from letterhead.positions import Span

# Tags that always take an end tag; any other `X` becomes a block when an `endX` is seen.
BLOCK_TAGS = frozenset(
    {
        "if",
        "unless",
        "case",
        "for",
        "capture",
        "comment",
        "raw",
        "tablerow",
        "ifchanged",
        "highlight",
        "contentfor",
    }
)
# Tags that only make sense directly inside certain blocks.
_INTERMEDIATE = {
    "else": frozenset({"if", "unless", "case", "for"}),
    "elsif": frozenset({"if", "unless"}),
    "when": frozenset({"case"}),
}
# Blocks whose body is not Markdown that renders: a comment disappears, a highlight is code.
_OPAQUE_BLOCKS = frozenset({"comment", "highlight"})
_LINK_TAGS = {"post_url": LinkKind.POST_URL, "link": LinkKind.LINK_TAG}

_TAG_HEAD = re.compile(r"\{%-?[ \t\r\n]*(#|\w+)?")  # matches wherever a `{%` is
_END_NAME = re.compile(r"\{%-?[ \t\r\n]*end(\w+)")
_END_RAW = re.compile(r"\{%-?[ \t\r\n]*endraw[ \t\r\n]*-?%\}")
_COMMENT_TAGS = re.compile(r"\{%-?[ \t\r\n]*(end)?comment[ \t\r\n]*-?%\}")
_FIRST_WORD = re.compile(r"\S+")
# A fragment right after a link tag, up to what ends a Markdown link destination or a word.
_FRAGMENT = re.compile(r"#[^\s)\]>\"'<{]+")
_SPACE = " \t\r\n"


@dataclass(slots=True)
class LiquidScan:
    """What a body holds of Liquid."""

    tags: list[LiquidTag] = field(default_factory=list)
    blocks: list[LiquidBlock] = field(default_factory=list)
    errors: list[LiquidError] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)  # from `post_url` and `link` tags
    # Spans the Markdown scanner must treat as opaque: every tag and output, and the whole of
    # comment and highlight blocks. Sorted and non-overlapping.
    opaque: list[Span] = field(default_factory=list)


def _describe(tag: LiquidTag) -> str:
    return f"`{{% {tag.name} {tag.markup} %}}`" if tag.markup else f"`{{% {tag.name} %}}`"


def scan_liquid(text: str, start: int = 0, end: int | None = None) -> LiquidScan:
    """Scan `text[start:end]` for Liquid; never raises, linear in the length."""
    end = len(text) if end is None else end
    scan = LiquidScan()
    pos = text.find("{", start, end)
    if pos < 0:
        return scan
    ended: set[str] | None = None  # the X of every `{% endX %}`, found at first need

    def is_block(name: str) -> bool:
        nonlocal ended
        if name in BLOCK_TAGS:
            return True
        if ended is None:
            ended = _end_names(text, start, end)
        return name in ended

    stack: list[LiquidTag] = []
    opaque: list[Span] = []  # tags and outputs, in order and apart
    opaque_blocks: list[Span] = []  # comment and highlight blocks, each over its tags
    outputs_can_close = True
    while True:
        # `str.find` runs far faster than a regex search; a `{` is rare outside Liquid.
        tag_start = text.find("{", pos, end - 1)  # a `{` with a character after it
        if tag_start < 0:
            break
        if text[tag_start + 1] not in "%{":
            pos = tag_start + 1
            continue
        if text[tag_start + 1] == "{":
            close = text.find("}}", tag_start + 2, end) if outputs_can_close else -1
            if close < 0:
                if outputs_can_close:  # the first one only: no `}}` follows any later one
                    scan.errors.append(
                        LiquidError(
                            "`{{` is never closed: add `}}`", Span(tag_start, tag_start + 2)
                        )
                    )
                outputs_can_close = False
                pos = tag_start + 2
                continue
            output = _make_tag(text, "{{", tag_start, tag_start + 2, close, close + 2)
            scan.tags.append(output)
            opaque.append(output.span)
            pos = close + 2
            continue
        close = text.find("%}", tag_start + 2, end)
        if close < 0:
            scan.errors.append(
                LiquidError("`{%` is never closed: add `%}`", Span(tag_start, tag_start + 2))
            )
            break  # no `%}` anywhere after: no later tag can be closed either
        head = _TAG_HEAD.match(text, tag_start, close)
        assert head is not None
        name = head.group(1) or ""
        name_start = head.start(1) if name else tag_start
        tag = _make_tag(text, name, tag_start, name_start, close, close + 2)
        scan.tags.append(tag)
        opaque.append(tag.span)
        pos = tag.span.end
        if name in _LINK_TAGS:
            link = _tag_link(tag, _LINK_TAGS[name])
            fragment = _FRAGMENT.match(text, pos, end)
            if fragment is not None:
                link.fragment_span = Span(fragment.start() + 1, fragment.end())
            scan.links.append(link)
        if name == "raw":
            closing = _END_RAW.search(text, pos, end)
            if closing is None:
                scan.blocks.append(LiquidBlock(name, tag, None, Span(pos, end)))
                scan.errors.append(_unclosed(tag))
                break
            end_tag = _make_end_tag(text, closing.start(), closing.end())
            scan.tags.append(end_tag)
            opaque.append(end_tag.span)
            scan.blocks.append(LiquidBlock(name, tag, end_tag, Span(pos, closing.start())))
            pos = closing.end()
        elif name == "comment":
            closing_span = _comment_end(text, pos, end)
            if closing_span is None:
                scan.blocks.append(LiquidBlock(name, tag, None, Span(pos, end)))
                scan.errors.append(_unclosed(tag))
                opaque_blocks.append(Span(tag.span.start, end))
                break
            end_tag = _make_end_tag(text, closing_span.start, closing_span.end)
            scan.tags.append(end_tag)
            scan.blocks.append(LiquidBlock(name, tag, end_tag, Span(pos, closing_span.start)))
            opaque_blocks.append(Span(tag.span.start, end_tag.span.end))
            pos = end_tag.span.end
        elif is_block(name):
            stack.append(tag)
        elif name.startswith("end") and len(name) > 3:
            _close_block(scan, stack, tag, opaque_blocks, end)
        elif name in _INTERMEDIATE and (not stack or stack[-1].name not in _INTERMEDIATE[name]):
            allowed = " or ".join(f"`{{% {b} %}}`" for b in sorted(_INTERMEDIATE[name]))
            scan.errors.append(
                LiquidError(f"{_describe(tag)} can only stand inside {allowed}", tag.span)
            )
    for unclosed in reversed(stack):
        scan.blocks.append(LiquidBlock(unclosed.name, unclosed, None, Span(unclosed.span.end, end)))
        scan.errors.append(_unclosed(unclosed))
    if len(scan.blocks) > 1:
        scan.blocks.sort(key=lambda block: block.opening.span.start)
    if len(scan.errors) > 1:
        scan.errors.sort(key=lambda error: error.span.start)
    # Only blocks overlap the tags: without them the tags are the spans, already in order.
    scan.opaque = _merge(opaque + opaque_blocks) if opaque_blocks else opaque
    return scan


def _close_block(
    scan: LiquidScan,
    stack: list[LiquidTag],
    end_tag: LiquidTag,
    opaque_blocks: list[Span],
    end: int,
) -> None:
    """Pair `end_tag` with the innermost open block of its name, or report it."""
    name = end_tag.name[3:]
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth].name == name:
            break
    else:
        message = f"`{{% {end_tag.name} %}}` closes nothing: no `{{% {name} %}}` is open"
        if stack:
            message += (
                f" (the open block {_describe(stack[-1])} ends with `{{% end{stack[-1].name} %}}`)"
            )
        scan.errors.append(LiquidError(message, end_tag.span))
        return
    while len(stack) > depth + 1:  # blocks left open inside the one being closed
        inner = stack.pop()
        scan.blocks.append(LiquidBlock(inner.name, inner, None, Span(inner.span.end, end)))
        scan.errors.append(
            LiquidError(
                f"{_describe(inner)} is never closed: add `{{% end{inner.name} %}}` "
                f"before `{{% {end_tag.name} %}}`",
                inner.span,
            )
        )
    opening = stack.pop()
    scan.blocks.append(
        LiquidBlock(name, opening, end_tag, Span(opening.span.end, end_tag.span.start))
    )
    if name in _OPAQUE_BLOCKS:
        opaque_blocks.append(Span(opening.span.start, end_tag.span.end))


def _unclosed(tag: LiquidTag) -> LiquidError:
    return LiquidError(f"{_describe(tag)} is never closed: add `{{% end{tag.name} %}}`", tag.span)


def _end_names(text: str, start: int, end: int) -> set[str]:
    """The X of every `{% endX` in `text[start:end]`, in raw blocks and comments too.

    Each `{` is found by `str.find`, which skips prose many times faster than a regex search.
    """
    names = set()
    at = text.find("{", start, end)
    while at >= 0:
        match = _END_NAME.match(text, at, end)
        if match is not None:
            names.add(match.group(1))
        at = text.find("{", at + 1, end)
    return names


def _comment_end(text: str, pos: int, end: int) -> Span | None:
    """The `{% endcomment %}` that closes a comment opened before `pos` (comments nest)."""
    depth = 1
    for match in _COMMENT_TAGS.finditer(text, pos, end):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return Span(match.start(), match.end())
    return None


def _make_tag(
    text: str, name: str, start: int, name_start: int, inner_end: int, end: int
) -> LiquidTag:
    """A tag from its delimiters: `text[start:end]` is `{% name markup %}` (or `{{ ... }}`)."""
    if name == "{{":
        name_span = Span(start, start + 2)
        markup_from = start + 2 + (text[start + 2] == "-" if start + 2 < inner_end else 0)
    else:
        name_span = Span(name_start, name_start + len(name)) if name else Span(start + 2, start + 2)
        markup_from = name_span.end
    markup_to = (
        inner_end - 1 if inner_end - 1 >= markup_from and text[inner_end - 1] == "-" else inner_end
    )
    raw = text[markup_from:markup_to]
    markup = raw.strip(_SPACE)
    if len(markup) != len(raw):
        markup_from += len(raw) - len(raw.lstrip(_SPACE))
        markup_to = markup_from + len(markup)
    return LiquidTag(name, markup, Span(start, end), name_span, Span(markup_from, markup_to))


def _make_end_tag(text: str, start: int, end: int) -> LiquidTag:
    close = end - 2
    head = _TAG_HEAD.match(text, start, close)
    assert head is not None and head.group(1) is not None
    return _make_tag(text, head.group(1), start, head.start(1), close, end)


def _tag_link(tag: LiquidTag, kind: LinkKind) -> Link:
    word = _FIRST_WORD.search(tag.markup)
    if word is None:
        target_span = Span(tag.markup_span.start, tag.markup_span.start)
        return Link(kind, tag.span, "", "", target_span)
    target_span = Span(tag.markup_span.start + word.start(), tag.markup_span.start + word.end())
    return Link(kind, tag.span, "", word.group(), target_span)


def _merge(spans: list[Span]) -> list[Span]:
    spans.sort(key=lambda span: span.start)
    merged: list[Span] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged
