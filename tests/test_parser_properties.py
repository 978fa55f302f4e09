"""Properties of the parser on generated input: it never raises, stays fast, keeps its spans inside
the text, and finds the links markdown-it-py (a CommonMark implementation) finds.

markdown-it-py is the oracle for links and reference definitions: for link-heavy bodies without
Liquid or HTML, the hrefs of every link and image markdown-it renders must be exactly the targets
our scanner reports (reference links resolved through their definitions).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference, unescapeAll

from letterhead.document import Document, LinkKind, parse_document
from letterhead.positions import Span

REVIEW = (Path(__file__).parent / "data" / "parse" / "the-missing-picture.md").read_text("utf-8")
MARKDOWN_IT = MarkdownIt("commonmark")
# Bounded so that the suite stays fast; LETTERHEAD_EXAMPLES=5000 explores further.
BOUNDED = settings(
    max_examples=int(os.environ.get("LETTERHEAD_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def all_spans(document: Document) -> list[Span]:
    spans: list[Span] = []
    front_matter = document.front_matter
    if front_matter is not None:
        spans += [front_matter.span, front_matter.yaml_span]
        if front_matter.error is not None:
            spans.append(front_matter.error.span)
        for entry in front_matter.entries:
            spans += [entry.key_span, entry.value_span]
            for item in entry.items or []:
                spans += [item.span, item.text_span]
    for link in document.links:
        spans += [s for s in (link.span, link.target_span, link.label_span) if s is not None]
    for definition in document.definitions:
        spans += [definition.span, definition.label_span, definition.url_span]
    for tag in document.liquid_tags:
        spans += [tag.span, tag.name_span, tag.markup_span]
    for block in document.liquid_blocks:
        spans += [block.span, block.body_span]
    spans += [error.span for error in document.liquid_errors]
    spans += [heading.span for heading in document.headings]
    spans += [problem.span for problem in document.problems]
    if document.salutation is not None:
        salutation = document.salutation
        spans += [
            s
            for s in (salutation.span, salutation.addressee_span, salutation.position_span)
            if s is not None
        ]
    return spans


def check_document(text: str) -> Document:
    started = time.perf_counter()
    document = parse_document(text)
    # Not a benchmark: a guard against runaway work on small inputs.
    assert time.perf_counter() - started < 1.0
    for span in all_spans(document):
        assert 0 <= span.start <= span.end <= len(text), span
    for link in document.links:
        if link.target is not None and link.target_span is not None:
            assert text[link.target_span.start : link.target_span.end] == link.target
    for definition in document.definitions:
        assert text[definition.url_span.start : definition.url_span.end] == definition.url
    if document.salutation is not None and document.salutation.addressee_span is not None:
        span = document.salutation.addressee_span
        assert text[span.start : span.end] == document.salutation.addressee
    return document


# -- never raises, spans inside the text ----------------------------------------------------------

MARKUP_ALPHABET = st.sampled_from(
    [
        *"-[]()<>!`~{}%#*_:\"' \t\n\r\\/.=|&;^",
        *["---", "...", "{%", "%}", "{{", "}}", "](", "]:", "\r\n", "é", "😀", "中", "e\u0301"],
        *["\x00", "[a]", "[a]: /x", "{% if x %}", "{% endif %}", "```", "    ", "&a", "*a"],
        "!!python/object",
    ]
)


@BOUNDED
@given(st.text())
def test_any_text_parses(text: str) -> None:
    check_document(text)


@BOUNDED
@given(st.lists(MARKUP_ALPHABET, max_size=80).map("".join))
def test_markup_soup_parses(text: str) -> None:
    check_document(text)


@st.composite
def mutated_review(draw: Any) -> str:
    """The example review with a few random cuts, insertions and duplications."""
    text = REVIEW
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 40)) :]
        elif action == "insert":
            text = text[:position] + draw(MARKUP_ALPHABET) + text[position:]
        else:
            length = draw(st.integers(1, 80))
            text = text[:position] + text[position : position + length] * 2 + text[position:]
    return text


@BOUNDED
@given(mutated_review())
def test_mutated_review_parses(text: str) -> None:
    check_document(text)


def test_the_review_itself() -> None:
    document = check_document(REVIEW)
    assert document.front_matter is not None and document.front_matter.error is None
    assert document.salutation is not None and document.salutation.addressee == "Sarith Mang"
    assert document.signature() is not None


# -- markdown-it as the oracle ---------------------------------------------------------------------


def oracle_hrefs(body: str) -> Counter[str]:
    """The href of every link and src of every image markdown-it renders."""
    found: Counter[str] = Counter()

    def walk(tokens: list[Any]) -> None:
        for token in tokens:
            if token.type == "link_open":
                found[str(token.attrs["href"])] += 1
            elif token.type == "image":
                found[str(token.attrs["src"])] += 1
            if token.children:
                walk(token.children)

    walk(MARKDOWN_IT.parse(body))
    return found


def scanned_hrefs(body: str) -> Counter[str]:
    """The same, from our scan: targets normalised as markdown-it normalises them."""
    document = parse_document(body)
    definitions: dict[str, str] = {}
    for definition in document.definitions:
        definitions.setdefault(definition.key, definition.url)
    found: Counter[str] = Counter()
    for link in document.links:
        if link.kind is LinkKind.AUTOLINK:
            assert link.target is not None
            url = link.target if ":" in link.target else "mailto:" + link.target
            found[MARKDOWN_IT.normalizeLink(url)] += 1
            continue
        if link.kind is LinkKind.INLINE:
            assert link.target is not None
            url = link.target
        else:
            assert link.label is not None
            key = " ".join(link.label.split()).casefold()
            if key not in definitions:
                continue  # `[text][label]` with no definition: no link for markdown-it either
            url = definitions[key]
        found[MARKDOWN_IT.normalizeLink(unescapeAll(url))] += 1
    return found


WORD = st.sampled_from(
    [
        "the",
        "film",
        "Été",
        "中文",
        "😀",
        "e\u0301",
        "critic",
        "*emphasis*",
        "_word_",
        "Heat",
        "1917",
    ]
)
LABEL = st.sampled_from(["1", "2", "heat", "Heat", "the act", "The  Act", "été", "x y", "😀"])
SIMPLE_URL = st.sampled_from(
    [
        "/content/2013/9/13/the-act-of-killing.html",
        "http://www.imdb.com/title/tt1391092/?ref_=nv_sr_1",
        "https://en.wikipedia.org/wiki/Heat_(1995_film)",
        "/a/é.html",
        "/path/with%20space",
        "#section",
        "",
        "/a\\_b",
        "/x?y=1&z=2",
        "/p((1))",
        "/a(b",
        "/a\\)b",
        "/q&amp;r",
        "mailto:x@y.z",
    ]
)


@st.composite
def inline_link(draw: Any) -> str:
    text = " ".join(draw(st.lists(WORD, min_size=0, max_size=3)))
    if draw(st.booleans()):
        text = f"{text} [{draw(WORD)}]"  # balanced brackets inside the text
    url = draw(SIMPLE_URL)
    destination = draw(st.sampled_from([url, f"<{url}>", f"<{url} x>"]))
    title = draw(st.sampled_from(["", ' "A title"', " 'title'", " (title)", '\n"title"']))
    space = draw(st.sampled_from(["", " ", "\n"]))
    image = draw(st.sampled_from(["", "", "!"]))
    return f"{image}[{text}]({space}{destination}{title})"


@st.composite
def reference_link(draw: Any) -> str:
    label = draw(LABEL)
    form = draw(st.sampled_from(["full", "collapsed", "shortcut"]))
    if form == "full":
        return f"[{' '.join(draw(st.lists(WORD, min_size=1, max_size=3)))}][{label}]"
    if form == "collapsed":
        return f"[{label}][]"
    return f"[{label}]"


@st.composite
def definition(draw: Any) -> str:
    indent = draw(st.sampled_from(["", " ", "   ", "    "]))
    title = draw(st.sampled_from(["", ' "Title"', "\n  'Title'", " (T)"]))
    separator = draw(st.sampled_from([" ", "", "\n  "]))
    return f"{indent}[{draw(LABEL)}]:{separator}{draw(SIMPLE_URL) or '<>'}{title}"


INLINE_PIECE = st.one_of(
    WORD,
    WORD,
    inline_link(),
    reference_link(),
    st.sampled_from(
        [
            "`[code](/span)`",
            "``a ` [b](/c) ``",
            "\\[escaped](/x)",
            "<https://example.org/auto>",
            "<critic@example.org>",
            "[unclosed",
            "closed]",
            "](",
            "[a [b](/inner) c](/outer)",
            # Not "![img [in](/link)](/img.png)": after an unclosed `[`, markdown-it makes a
            # link of that bracket around the image, the CommonMark reference (and this
            # scanner) does not; see markdown.yml.
            "[foo](not a link)",
            "[^1]",
            "*[emphasised](/e)*",
            "**[strong][heat]**",
            "[code `]` inside](/c)",
            '[a](/t "ti\\"tle")',
            "[a]( /spaced )",
            "[a](<>)",
            "[multi\nline][heat]",
            "[heat]\n[]",
            "[x] [heat]",
            "![[nested]](/n)",
        ]
    ),
)


@st.composite
def paragraph(draw: Any) -> str:
    pieces = draw(st.lists(INLINE_PIECE, min_size=1, max_size=8))
    separators = draw(st.lists(st.sampled_from([" ", " ", "\n"]), min_size=len(pieces)))
    return "".join(piece + separator for piece, separator in zip(pieces, separators, strict=False))


BLOCK = st.one_of(
    paragraph(),
    paragraph(),
    definition(),
    # In a quote, a definition continued on an unquoted (lazy) line is not supported; and a
    # line right after a definition in a quote or a list item is a lazy continuation for the
    # CommonMark reference (commonmark.js) and this scanner, but not for markdown-it: a blank
    # line after them keeps the oracle out of that disagreement.
    definition().filter(lambda text: "\n" not in text).map(lambda text: "> " + text + "\n"),
    definition().map(lambda text: "- " + text + "\n"),
    st.sampled_from(["---", "***", "Setext\n===", "1. item [heat]", "[heat]: /a\n'unclosed title"]),
    paragraph().map(lambda text: "## " + text.replace("\n", " ")),
    paragraph().map(lambda text: "```\n" + text + "\n```"),
    paragraph().map(lambda text: "~~~ruby\n" + text + "\n~~~"),
    paragraph().map(lambda text: "    " + text.replace("\n", "\n    ")),
    paragraph().map(lambda text: "> " + text.replace("\n", " ")),
    paragraph().map(lambda text: "- " + text.replace("\n", " ")),
)


@st.composite
def link_heavy_body(draw: Any) -> str:
    blocks = draw(st.lists(BLOCK, min_size=1, max_size=8))
    separators = draw(st.lists(st.sampled_from(["\n\n", "\n\n", "\n"]), min_size=len(blocks)))
    # A first line of its own, so that a body opening with `---` is not front matter.
    return "Dear reader,\n\n" + "".join(
        block + separator for block, separator in zip(blocks, separators, strict=False)
    )


@BOUNDED
@given(link_heavy_body())
@example("[a]: /x\n[b]: /y 'T'\n\n[a] [b][] [c][a] [d](/e)\n")
@example("Text\n[a]: /x\n\n[a]\n")
@example("- item\n\n    [a](/b)\n")
def test_links_agree_with_markdown_it(body: str) -> None:
    assert scanned_hrefs(body) == oracle_hrefs(body)


def oracle_definitions(body: str) -> dict[str, str]:
    env: dict[str, Any] = {}
    MARKDOWN_IT.parse(body, env)
    return {key: value["href"] for key, value in env.get("references", {}).items()}


@BOUNDED
@given(link_heavy_body())
def test_definitions_agree_with_markdown_it(body: str) -> None:
    document = parse_document(body)
    ours: dict[str, str] = {}
    for definition in document.definitions:
        key = normalizeReference(definition.label)
        ours.setdefault(key, MARKDOWN_IT.normalizeLink(unescapeAll(definition.url)))
    assert ours == oracle_definitions(body)
