"""The Markdown scanner against its oracles: kramdown (as Jekyll runs it) for heading ids, and
bounds on the work any input can cost.

The case-by-case behaviour is data in `tests/data/parse/markdown.yml` and `letter.yml`; the
comparison with markdown-it-py on generated bodies is in `test_parser_properties.py`.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time

import pytest

from letterhead.document import parse_document
from letterhead.markdown import gfm_header_id_base, kramdown_header_id_base, scan_body

RUBY = shutil.which("ruby")

# Jekyll's default kramdown options (Jekyll 4.3 `Configuration::DEFAULTS["kramdown"]`).
KRAMDOWN_IDS = r"""
require "json"
require "kramdown"
require "kramdown-parser-gfm"
options = {input: ARGV[0], auto_ids: true, entity_output: "as_char", hard_wrap: false,
           smart_quotes: "lsquo,rsquo,ldquo,rdquo", toc_levels: (1..6).to_a}
html = Kramdown::Document.new(STDIN.read, options).to_html
ids = html.scan(/<h\d([^>]*)>/).map { |match| match[0][/ id="([^"]*)"/, 1] || "" }
puts JSON.generate(ids)
"""


def kramdown_available() -> bool:
    if RUBY is None:
        return False
    probe = subprocess.run(
        [RUBY, "-e", 'require "kramdown"; require "kramdown-parser-gfm"'],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def kramdown_ids(markdown: str, parser: str) -> list[str]:
    assert RUBY is not None
    result = subprocess.run(
        [RUBY, "-e", KRAMDOWN_IDS, parser],
        input=markdown,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    return list(json.loads(result.stdout))


FIXED_HEADINGS = [
    "The Act of Killing",
    "The *Act* of Killing",
    "Été à Paris, 1917",
    "`code` here!",
    "[a link](http://x) and ![img](y.png)",
    "Don't stop... << x >> --- y -- z",
    "😀 Smile 中文",
    "a_b -- c",
    "_emph_ and __strong__ snake_case_x",
    "Tab\there",
    "1917",
    "2001: A Space Odyssey",
    "Q&amp;A with the director",
    'What\'s "new"?',
    "Agne\u0300s Varda",
    "x {#1bad}",
    "Notes",
    "Notes",
    "Notes",
    ";;",
    ";;",
    "<span>html</span> here",
    "<https://example.org> autolink",
    "Ça va ?",
    "Straße – ß",
    "ﬁlm ligature",
    "Ⅻ roman numeral",
    "x² superscript",
]

_WORDS = [
    "film",
    "Été",
    "über",
    "1917",
    "中文",
    "😀",
    "a_b",
    "O'Brien",
    "--",
    "...",
    "&amp;",
    "(director's cut)",
    "*emphasis*",
    "**strong**",
    "`code`",
    "[link](/x)",
    "!",
    "?",
    ":",
    "e\u0301",
    "Ⅻ",
    "½",
    "x²",
    "-",
]


def random_headings(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)
    headings = []
    for _ in range(count):
        words = [generator.choice(_WORDS) for _ in range(generator.randint(1, 5))]
        headings.append(" ".join(words))
    return headings


@pytest.mark.jekyll
@pytest.mark.skipif(not kramdown_available(), reason="ruby with kramdown is not installed")
@pytest.mark.parametrize("parser", ["GFM", "kramdown"])
def test_heading_ids_match_kramdown(parser: str) -> None:
    headings = FIXED_HEADINGS + random_headings(150, seed=7)
    markdown = "".join(f"## {heading}\n\n" for heading in headings)
    expected = kramdown_ids(markdown, parser)
    document = parse_document(markdown, header_ids="gfm" if parser == "GFM" else "kramdown")
    actual = [heading.anchor for heading in document.headings]
    assert len(actual) == len(expected)
    mismatches = [
        (heading, want, got)
        for heading, want, got in zip(headings, expected, actual, strict=True)
        if want != got
    ]
    assert mismatches == []


# An attribute list (`{: #id}`) on a line of its own belongs to the block right after it; a
# heading after that block keeps its own id.
IAL_CASES = {
    "before the heading": "{: #x}\n# Heading\n",
    "before prose": "{: #x}\nplain words\n# Heading\n",
    "before Liquid": "{: #x}\n{{ page.title }}\n# Heading\n",
    "before emphasis": "{: #x}\n*emphasis*\n# Heading\n",
    "before strong text": "{: #x}\n__strong__\n# Heading\n",
    "before a list": "{: #x}\n- an item\n\n# Heading\n",
    "before a quote": "{: #x}\n> a quote\n\n# Heading\n",
    "before code": "{: #x}\n```\ncode\n```\n# Heading\n",
    "after a blank line": "{: #x}\n\n# Heading\n",
}


@pytest.mark.jekyll
@pytest.mark.skipif(not kramdown_available(), reason="ruby with kramdown is not installed")
@pytest.mark.parametrize("case", list(IAL_CASES))
def test_an_attribute_list_gives_its_id_to_the_next_block_only(case: str) -> None:
    markdown = IAL_CASES[case]
    document = parse_document(markdown, header_ids="gfm")
    assert [heading.anchor for heading in document.headings] == kramdown_ids(markdown, "GFM")


# Where a heading can stand, in the block structure around it: each body is run through both of
# kramdown's inputs. kramdown (not CommonMark) decides what an HTML block takes in: from a block
# tag to its matching end tag, blank lines included; and its own input wants a heading after a
# block boundary (a blank line, an attribute list, the start), not right after a paragraph.
BLOCK_CASES = {
    "atx after prose": "para\n# Heading\n",
    "atx after two lines": "para\nmore\n## Heading\n\ntext\n",
    "atx after a blank line": "para\n\n# Heading\n",
    "atx, prose, atx": "# A\npara\n# B\n",
    "atx after a quote": "> quote\n# H\n",
    "atx after a list item": "- item\n# H\n",
    "atx after a definition": "[a]: /x\n# H\n",
    "atx after an attribute list": "{: .c}\n# H\n",
    "atx after Liquid": "{% raw %}x{% endraw %}\n# H\n",
    "setext after a definition": "[a]: /x\nHeading\n===\n",
    "setext after prose": "para\nHeading\n===\n\n# After\n",
    "setext alone": "Heading\n===\n",
    "tilde fence after prose": "para\n~~~\n# in code\n~~~\n\n# After\n",
    "backtick fence": "```\n# in code\n```\n\n# After\n",
    "backtick fence around blank lines": "```\n\n# in code\n\n```\n",
    "tilde fence around blank lines": "~~~\n\n# in code\n\n~~~\n",
    "tilde fence after prose, blank lines": "para\n~~~\n\n# in\n\n~~~\n",
    "html block on one line": "<div>x</div>\n# H\n",
    "html block over lines": "<div>\nx\n</div>\n# H\n",
    "html block with a blank line": "<div>\nx\n\n# Inside\n\n</div>\n\n# After\n",
    "html block never closed": "<div>\nx\n\n# Inside\n",
    "html blocks nested": "<div><div>x</div>\n# A\n</div>\n# H\n",
    "html block, upper case": "<DIV>x</DIV>\n# H\n",
    "html block then prose": "<div>x</div> tail\n# H\n",
    "html paragraph": "<p>x</p>\n# H\n",
    "html span starts prose": "<span>x</span>\n# H\n",
    "html comment": "<!-- c -->\n# H\n",
    "html comment over lines": "<!--\n# not\n-->\n\n# H\n",
    "figure then heading": '<figure>\n<img src="x.png">\n\n</figure>\n\n## Next\n',
    "atx after an attribute list and prose": "para\n{: .c}\n# H\n",
    "atx after an attribute list, blank": "para\n\n{: .c}\n# H\n",
    "atx after a heading's attribute list": "# A\n{: .c}\n# B\n",
    "atx after a definition's attribute list": "[a]: /x\n{: .c}\n# H\n",
    "atx after two attribute lists": "{: .a}\n{: .b}\n# H\n",
    "atx after prose and two attribute lists": "para\n{: .a}\n{: .b}\n# H\n",
    "atx after an end-of-block marker": "para\n^\n# H\n",
    "atx after a marker and an attribute list": "para\n^\n{: .c}\n# H\n",
}


@pytest.mark.jekyll
@pytest.mark.skipif(not kramdown_available(), reason="ruby with kramdown is not installed")
@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("parser", ["GFM", "kramdown"])
@pytest.mark.parametrize("case", list(BLOCK_CASES))
def test_headings_stand_where_kramdown_puts_them(case: str, parser: str, line_end: str) -> None:
    markdown = BLOCK_CASES[case].replace("\n", line_end)
    document = parse_document(markdown, header_ids="gfm" if parser == "GFM" else "kramdown")
    assert [heading.anchor for heading in document.headings] == kramdown_ids(markdown, parser)


@pytest.mark.parametrize(
    "text, gfm, kramdown",
    [
        ("The Act of Killing", "the-act-of-killing", "the-act-of-killing"),
        ("Été à Paris", "été-à-paris", "t--paris"),
        ("1917: Été", "1917-été", "t"),
        (";;", "", ""),
    ],
)
def test_id_bases(text: str, gfm: str, kramdown: str) -> None:
    assert gfm_header_id_base(text) == gfm
    assert kramdown_header_id_base(text) == kramdown


# -- bounded work -----------------------------------------------------------------------------

PATHOLOGICAL = {
    "one 1 MB line of brackets": "[" * 500_000 + "]" * 500_000,
    "one 1 MB line of openers": "![" * 500_000,
    "unclosed code spans of every length": " ".join("`" * n for n in range(1, 1400)),
    "many unclosed angle brackets": "<!-- <? <![CDATA[ " * 40_000,
    "many unclosed links": "[a](" * 200_000,
    "deep parentheses": "[a](" + "(" * 300_000,
    "100,000 lines": "[a]: /x\n" * 50_000 + "text [a] `c`\n" * 50_000,
    "100,000 fence lines": "```\n" * 100_000,
    "long label": "[" + "a" * 1_000_000 + "]: /x\n",
    "Liquid openers": "{%" * 300_000,
    "Liquid outputs": "{{ x " * 200_000,
    "salutation with a 1 MB line": "Dear " + " " * 1_000_000 + "x",
    "many headings": "## a\n" * 100_000,
    "nested HTML never closed": "<div>\n" * 100_000,
    "an HTML tag with 1 MB of attributes": "<div " + 'a="x" ' * 150_000 + "\n# H\n",
    "headings after long lines": ("x" * 1_000 + "\n# H\n") * 1_000,
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_bodies_finish_quickly(name: str) -> None:
    text = PATHOLOGICAL[name]
    started = time.perf_counter()
    document = parse_document(text)
    elapsed = time.perf_counter() - started
    # A guard against quadratic behaviour, not a benchmark: linear work on 1 MB takes well under
    # a second, quadratic work would take minutes.
    assert elapsed < 10.0, f"{name}: {elapsed:.2f} s"
    for link in document.links:
        assert 0 <= link.span.start <= link.span.end <= len(text)


def test_scan_body_respects_its_bounds() -> None:
    text = "[a](/x)\n\n[b](/y)\n\n[c](/z)\n"
    middle = text.index("[b]")
    scan = scan_body(text, middle, text.index("[c]"))
    assert [link.target for link in scan.links] == ["/y"]
