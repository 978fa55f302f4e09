"""The hostile corpus as data: each case is the file(s) it writes into a copy of the base site and
what `letterhead check --format json` must say about them.

Large inputs are functions, called at test time (and only once per session: see the test module),
so the repository holds no large or binary files. Paths are relative to the site root.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REVIEW = "_posts/2014-06-01-hostile.md"
CONFIG = "_config.yml"
# Text that `check --fix` must never remove from a review it rewrites.
SENTINEL = "The projector hums like a confession."
MB = 1024 * 1024

Content = bytes | Callable[[], bytes]


@dataclass(frozen=True)
class HostileCase:
    name: str
    files: Mapping[str, Content]  # path -> bytes, or a function making them (large inputs)
    codes: frozenset[str] = frozenset()  # codes that must be reported on `target`
    target: str = REVIEW  # the file the expectations are about
    lines: Mapping[str, int] = field(default_factory=dict)  # code -> 0-based line it starts on
    messages: Mapping[str, str] = field(default_factory=dict)  # code -> text in its message
    absent: frozenset[str] = frozenset()  # codes that must not be reported on `target`
    setup: Callable[[Path], None] | None = None  # links, FIFOs, permissions
    keep: tuple[str, ...] = (SENTINEL,)  # text `--fix` must leave in `target` (when decodable)
    undecodable: bool = False  # `--fix` must not change a byte of `target`
    budget: float = 10.0  # seconds the check may take (the subprocess timeout is larger)
    exit_codes: frozenset[int] = frozenset({0, 1})
    # Text no finding may contain: what files outside the site hold or are called.
    secrets: tuple[str, ...] = ("root:x:0:0",)
    xfail: str | None = None  # a known bug (strict: the case fails until it is fixed)


# -- building blocks ---------------------------------------------------------------------------

FRONT = """title: "Hostile"
author: annaw
addressee: Rithy Panh
position: Director
tags: [letters, cambodia]"""

BODY = f"""_**Dear Rithy Panh**, Director,_

{SENTINEL}

{{% contentfor signature %}}
**Yours,**

Anna
{{% endcontentfor %}}
"""


def review(front: str = FRONT, body: str = BODY, newline: str = "\n") -> str:
    """A review with the given front matter (without fences) and body."""
    return f"---\n{front}\n---\n{body}".replace("\n", newline)


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


def _laughs(levels: int = 9, width: int = 9) -> str:
    """A billion-laughs YAML: `width ** levels` values from a few hundred bytes."""
    lines = ['l0: &l0 "lol"']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines)


def _nested_flow(depth: int) -> str:
    return "[" * depth + "x" + "]" * depth


def _nested_block(depth: int) -> str:
    return "\n".join("  " * level + "a:" for level in range(depth)) + " leaf"


# -- large inputs, generated at test time ------------------------------------------------------


def fifty_megabytes() -> bytes:
    paragraph = utf8(
        "A long letter about [The Act of Killing](/content/2013/9/13/the-act-of-killing.html) "
        "and [S21](/content/2014/5/2/s21.html), written again and again.\n\n"
    )
    head = utf8(review(body=BODY + "\n"))
    return head + paragraph * ((50 * MB - len(head)) // len(paragraph) + 1)


def one_megabyte_line() -> bytes:
    line = "word [link](/content/2014/5/2/s21.html) *emphasis* `code` {{ page.title }} " * 14_000
    return utf8(review(body=BODY + "\n" + line + "\n"))


def one_megabyte_title() -> bytes:
    return utf8(review(front=f'title: "{"x" * MB}"\nauthor: annaw'))


def hundred_thousand_lines() -> bytes:
    lines = [
        f"Line {number}." if number % 1000 else "[S21](/content/2014/5/2/s21.html)"
        for number in range(100_000)
    ]
    return utf8(review(body=BODY + "\n".join(lines) + "\n"))


def headings() -> bytes:
    # The slowest body per byte found so far: every other line a setext heading underline.
    return utf8(review(body=BODY + "Heading\n=\n" * 100_000))


def thousands_of_tags() -> bytes:
    tags = ", ".join(f"tag {number}" for number in range(5_000))
    return utf8(review(front=FRONT.replace("[letters, cambodia]", f"[{tags}]")))


def long_tag() -> bytes:
    return utf8(review(front=FRONT.replace("cambodia", "x" * 10_000)))


def random_binary() -> bytes:
    return random.Random(1).randbytes(64 * 1024)


def png_named_md() -> bytes:
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
        + random.Random(2).randbytes(2048)
    )


def deep_markdown() -> bytes:
    quotes = "> " * 5_000 + "deep\n"
    brackets = "[" * 50_000 + "\n\n" + "[a](" * 20_000 + "\n\n" + "](" * 20_000 + "\n"
    ticks = "`" * 30_000 + "\n\n" + "<" * 30_000 + "\n\n" + "*_" * 30_000 + "\n"
    lists = "".join("  " * level + "- item\n" for level in range(1_000))
    return utf8(review(body=BODY + quotes + brackets + ticks + lists))


def deep_liquid() -> bytes:
    opened = "{% if true %}" * 3_000
    unclosed = "{% raw %}" + "{{ x " * 20_000 + "\n"
    outputs = "{{" * 3_000 + "\n" + "{%" * 3_000 + "\n"
    return utf8(review(body=BODY + opened + "\n" + outputs + unclosed))


def many_dead_links() -> bytes:
    links = "\n".join(
        f"[dead {number}](/content/2013/9/{number % 28 + 1}/not-here-{number}.html)"
        for number in range(3_000)
    )
    return utf8(review(body=BODY + links + "\n"))


def deep_config() -> bytes:
    return utf8(f"title: Deep\n{_nested_block(200)}\n")


# -- file-system set-ups -----------------------------------------------------------------------


def symlink_loops(root: Path) -> None:
    os.symlink(".", root / "_posts" / "loop")
    os.symlink("..", root / "_posts" / "up")
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    os.symlink("self.md", root / "_posts" / "2014-06-02-self.md")
    (root / "nested").mkdir()
    os.symlink("../nested", root / "nested" / "again")


def symlinks_outside(root: Path) -> None:
    os.symlink("/etc/passwd", root / "_posts" / "2014-06-02-passwd.md")
    os.symlink("/etc", root / "etc")
    os.symlink("/etc/passwd", root / "passwd.md")
    os.symlink("/", root / "_posts" / "everything")
    os.symlink("/dev/zero", root / "_posts" / "2014-06-03-zero.md")
    os.symlink("/dev/urandom", root / "random.md")


def fifo_review(root: Path) -> None:
    os.mkfifo(root / "_posts" / "2014-06-03-fifo.md")
    os.mkfifo(root / "fifo.md")
    os.symlink("../fifo.md", root / "_posts" / "2014-06-04-link-to-fifo.md")


def directory_named_md(root: Path) -> None:
    (root / "_posts" / "2014-06-04-folder.md").mkdir()
    (root / "_posts" / "2014-06-04-folder.md" / "inside.md").write_text("---\n---\n")
    os.symlink("missing-target.md", root / "_posts" / "2014-06-05-dangling.md")


def undecodable_file_name(root: Path) -> None:
    name = b"_posts/2014-06-06-caf\xe9-\xff.md"
    with open(os.path.join(os.fsencode(root), name), "wb") as handle:
        handle.write(utf8(review(front=FRONT.replace("letters", "Letters"))))


def outside_data_and_layouts(root: Path) -> None:
    # `_data` and `_layouts` replaced by links to folders outside the site.
    for folder in ("_data", "_layouts"):
        for child in (root / folder).iterdir():
            child.unlink()
        (root / folder).rmdir()
    os.symlink("/etc", root / "_layouts")
    os.symlink("/etc", root / "_data")


def unreadable_review(root: Path) -> None:
    os.chmod(root / REVIEW, 0)


# -- the corpus --------------------------------------------------------------------------------

BILLION_LAUGHS_CONFIG = f"""title: Fixture Letters
permalink: /content/:year/:i_month/:i_day/:title.html
{_laughs()}
defaults:
  - scope:
      path: ""
      type: posts
    values:
      layout: review
      tags: *l9
      addressee: *l9
letterhead:
  letter_layouts: [review]
"""

CASES: list[HostileCase] = [
    # -- front matter ------------------------------------------------------------------------
    HostileCase(
        "unclosed front matter",
        {REVIEW: utf8(f"---\n{FRONT}\n{BODY}")},
        codes=frozenset({"FM001"}),
        lines={"FM001": 0},
    ),
    HostileCase(
        "YAML error on the first line",
        {REVIEW: utf8(review(front="title: @handle\n" + FRONT.split("\n", 1)[1]))},
        codes=frozenset({"FM002"}),
        lines={"FM002": 1},
    ),
    HostileCase(
        "YAML error on the last line",
        {REVIEW: utf8(review(front=FRONT + "\nposition: Director: of photography"))},
        codes=frozenset({"FM002"}),
        lines={"FM002": 6},
    ),
    HostileCase(
        "billion laughs in the front matter",
        {REVIEW: utf8(review(front=FRONT + "\n" + _laughs() + "\nkeywords: *l9"))},
        codes=frozenset({"FM002"}),
        messages={"FM002": "alias"},
        budget=3.0,
    ),
    HostileCase(
        "recursive alias",
        {REVIEW: utf8(review(front=FRONT + "\nloop: &loop [*loop]"))},
        codes=frozenset({"FM002"}),
        messages={"FM002": "recursive"},
    ),
    HostileCase(
        "aliases merged into the mapping",
        {REVIEW: utf8(review(front=_laughs() + "\n<<: {title: *l9}\n" + FRONT))},
        codes=frozenset({"FM002"}),
        budget=3.0,
    ),
    HostileCase(
        "deep flow nesting",
        {REVIEW: utf8(review(front=FRONT + "\ndeep: " + _nested_flow(20_000)))},
        codes=frozenset({"FM002"}),
    ),
    HostileCase(
        "deep block nesting",
        {REVIEW: utf8(review(front=FRONT + "\n" + _nested_block(300)))},
        codes=frozenset({"FM002"}),
        messages={"FM002": "nested"},
    ),
    HostileCase(
        "python object tags",
        {
            REVIEW: utf8(
                review(
                    front=FRONT + '\nrun: !!python/object/apply:os.system ["touch PWNED"]\n'
                    "name: !!python/name:os.system\n"
                    'popen: !!python/object/new:subprocess.Popen [["touch", "PWNED"]]'
                )
            )
        },
        codes=frozenset({"FM002"}),
        messages={"FM002": "is not allowed"},
    ),
    HostileCase(
        "an unsafe tag on a list of strings",
        {REVIEW: utf8(review(front=FRONT + '\nrun: !!python/object/apply:os.system ["touch x"]'))},
        codes=frozenset({"FM002"}),
        lines={"FM002": 6},
    ),
    HostileCase(
        "ruby and local tags",
        {
            REVIEW: utf8(
                review(front="gem: !ruby/object:Gem::Installer {i: x}\nlocal: !mine 1\n" + FRONT)
            )
        },
        codes=frozenset({"FM002"}),
        lines={"FM002": 1},
    ),
    HostileCase(
        "front matter is a list",
        {REVIEW: utf8(review(front="- title: Hostile\n- author: annaw"))},
        codes=frozenset({"FM003"}),
        lines={"FM003": 1},
    ),
    HostileCase(
        "front matter is a scalar",
        {REVIEW: utf8(review(front="just a sentence"))},
        codes=frozenset({"FM003"}),
    ),
    HostileCase(
        "front matter is empty",
        {REVIEW: utf8("---\n---\n" + BODY)},
        codes=frozenset({"FM006"}),
    ),
    HostileCase("an empty file", {REVIEW: b""}, codes=frozenset({"FM001"}), keep=()),
    HostileCase("only an opening fence", {REVIEW: b"---"}, codes=frozenset({"FM001"}), keep=()),
    HostileCase(
        "tabs in the YAML",
        {REVIEW: utf8(review(front=FRONT + "\ncategories:\n\t- reviews"))},
        codes=frozenset({"FM002"}),
        messages={"FM002": "tabs"},
    ),
    # -- size --------------------------------------------------------------------------------
    HostileCase(
        "a 50 MB review",
        {REVIEW: fifty_megabytes},
        codes=frozenset({"FL001"}),
        messages={"FL001": "over the 2,000,000-byte limit"},
        keep=(),
        undecodable=True,  # not read, so never rewritten
        budget=3.0,
    ),
    HostileCase("a single 1 MB line", {REVIEW: one_megabyte_line}, budget=8.0),
    HostileCase(
        "a 1 MB title",
        {REVIEW: one_megabyte_title},
        codes=frozenset({"FM002"}),
        messages={"FM002": "characters long"},
        keep=(),
        budget=5.0,
    ),
    HostileCase("100,000 lines", {REVIEW: hundred_thousand_lines}, budget=8.0),
    HostileCase("100,000 setext headings", {REVIEW: headings}, budget=15.0),
    HostileCase("5,000 tags in one review", {REVIEW: thousands_of_tags}, budget=8.0),
    HostileCase("a 10,000-character tag", {REVIEW: long_tag}, budget=5.0),
    HostileCase("3,000 dead links", {REVIEW: many_dead_links}, codes=frozenset({"LK001"})),
    HostileCase("deeply nested Markdown", {REVIEW: deep_markdown}, budget=8.0),
    HostileCase(
        "deeply nested and unclosed Liquid",
        {REVIEW: deep_liquid},
        codes=frozenset({"LQ001"}),
        budget=8.0,
    ),
    # -- bytes -------------------------------------------------------------------------------
    HostileCase(
        "random binary named .md",
        {REVIEW: random_binary},
        codes=frozenset({"FL001"}),
        messages={"FL001": "binary"},
        absent=frozenset({"FM001", "LT001", "LT003"}),
        keep=(),
        undecodable=True,
    ),
    HostileCase(
        "a PNG named .md",
        {REVIEW: png_named_md},
        codes=frozenset({"FL001"}),
        absent=frozenset({"FM001", "LT001", "LT003"}),
        keep=(),
        undecodable=True,
    ),
    HostileCase(
        "NUL bytes in a review",
        {REVIEW: utf8(review()).replace(b"Hostile", b"Host\x00ile")},
        codes=frozenset({"FL001"}),
        keep=(),
        undecodable=True,
    ),
    HostileCase(
        "invalid UTF-8",
        {
            REVIEW: utf8(review(front=FRONT.replace("letters", "Letters"))).replace(
                b"Director,_", b"Chef \xe9,_"
            )
        },
        codes=frozenset({"FL001"}),
        messages={"FL001": "byte 0xe9"},
        keep=(),
        undecodable=True,
    ),
    HostileCase(
        "UTF-16 with a byte order mark",
        {REVIEW: review(front=FRONT.replace("letters", "Letters")).encode("utf-16")},
        codes=frozenset({"TX001"}),
        absent=frozenset({"FL001"}),
    ),
    HostileCase(
        "UTF-16 big-endian with a byte order mark",
        {
            REVIEW: b"\xfe\xff"
            + review(front=FRONT.replace("letters", "Letters")).encode("utf-16-be")
        },
        codes=frozenset({"TX001"}),
        absent=frozenset({"FL001"}),
    ),
    HostileCase(
        "UTF-16 cut in the middle of a character",
        {REVIEW: review().encode("utf-16")[:-1]},
        codes=frozenset({"FL001"}),
        keep=(),
        undecodable=True,
    ),
    HostileCase(
        "a UTF-8 byte order mark",
        {REVIEW: b"\xef\xbb\xbf" + utf8(review(front=FRONT.replace("letters", "Letters")))},
        codes=frozenset({"TX001"}),
        absent=frozenset({"FL001", "FM001"}),
    ),
    HostileCase(
        "CRLF line ends",
        {REVIEW: utf8(review(front=FRONT.replace("letters", "Letters"), newline="\r\n"))},
        codes=frozenset({"TX001"}),
        lines={"TX001": 5},
        absent=frozenset({"FM001", "FM002"}),
    ),
    HostileCase(
        "lone CR line ends",
        {REVIEW: utf8(review(front=FRONT.replace("letters", "Letters"), newline="\r"))},
        codes=frozenset({"TX001"}),
        lines={"TX001": 5},
        absent=frozenset({"FM001", "FM002"}),
    ),
    HostileCase(
        "lone CR line ends and a missing key",
        {REVIEW: utf8(review(front=FRONT.replace("author: annaw\n", ""), newline="\r"))},
        codes=frozenset({"FM006"}),
    ),
    HostileCase(
        "CRLF line ends and no front matter",
        {REVIEW: utf8(BODY.replace("\n", "\r\n"))},
        codes=frozenset({"FM001"}),
    ),
    HostileCase(
        "mixed line ends",
        {REVIEW: utf8(review(front=FRONT.replace("letters", "Letters"))).replace(b"\n", b"\r", 3)},
        codes=frozenset({"TX001"}),
        absent=frozenset({"FM001", "FM002"}),
    ),
    # -- _config.yml -------------------------------------------------------------------------
    HostileCase(
        "_config.yml with a YAML error",
        {CONFIG: b"title: Fixture Letters\npermalink: [unclosed\nletterhead: {}\n"},
        codes=frozenset({"CF001"}),
        target=CONFIG,
        keep=(),
    ),
    HostileCase("an empty _config.yml", {CONFIG: b""}, target=CONFIG, keep=()),
    HostileCase(
        "_config.yml that is a list",
        {CONFIG: b"- title\n- permalink\n"},
        codes=frozenset({"CF001"}),
        target=CONFIG,
        keep=(),
    ),
    HostileCase(
        "_config.yml that is a scalar",
        {CONFIG: b"just words\n"},
        codes=frozenset({"CF001"}),
        target=CONFIG,
        keep=(),
    ),
    HostileCase(
        "_config.yml with NUL bytes",
        {CONFIG: b"title: Fix\x00ture\n"},
        codes=frozenset({"CF001"}),
        target=CONFIG,
        keep=(),
    ),
    HostileCase(
        "billion laughs in _config.yml defaults",
        {CONFIG: utf8(BILLION_LAUGHS_CONFIG)},
        codes=frozenset({"CF001"}),
        messages={"CF001": "alias"},
        target=CONFIG,
        keep=(),
        budget=3.0,
    ),
    HostileCase(
        "deep nesting in _config.yml",
        {CONFIG: deep_config},
        codes=frozenset({"CF001"}),
        target=CONFIG,
        keep=(),
    ),
    HostileCase(
        "an unsafe tag in _config.yml",
        {CONFIG: b'title: x\nrun: !!python/object/apply:os.system ["touch PWNED"]\n'},
        codes=frozenset({"CF001"}),
        target=CONFIG,
        keep=(),
    ),
    HostileCase(
        "permalinks with unknown placeholders",
        {
            CONFIG: b"title: x\npermalink: /:year/:nonsense/:title/\n"
            b"collections:\n  letters:\n    output: true\n    permalink: /:whatever/:name\n"
            b"defaults:\n  - scope: {path: ''}\n    values: {permalink: '/:bogus/'}\n"
        },
        codes=frozenset({"CF001"}),
        messages={"CF001": ":nonsense"},
        target=CONFIG,
        keep=(),
    ),
    HostileCase(
        "a review's own permalink with unknown placeholders",
        {REVIEW: utf8(review(front=FRONT + "\npermalink: /:nonsense/:title:bogus/"))},
        codes=frozenset({"FM007"}),
        messages={"FM007": "`:nonsense`, `:bogus`"},
    ),
    HostileCase(
        "a hostile salutation template",
        {
            CONFIG: b"title: x\nletterhead:\n  letter_layouts: [review]\n  salutation: >-\n"
            b"    {% for i in (1..100000000) %}{% for j in (1..100000000) %}x{% endfor %}"
            b"{% endfor %}{% include '/etc/passwd' %}{{ page.addressee }}\n",
            REVIEW: utf8(
                review(front="layout: review\n" + FRONT, body=BODY.replace("Rithy", "Someone"))
            ),
        },
        codes=frozenset({"LT002"}),
        budget=5.0,
    ),
    HostileCase(
        "max_file_bytes smaller than every review",
        {CONFIG: b"title: x\nletterhead:\n  max_file_bytes: 10\n", REVIEW: utf8(review())},
        codes=frozenset({"FL001"}),
        keep=(),
        undecodable=True,
    ),
    # -- the file system ---------------------------------------------------------------------
    HostileCase("symbolic link loops", {REVIEW: utf8(review())}, setup=symlink_loops),
    HostileCase("symbolic links out of the site", {REVIEW: utf8(review())}, setup=symlinks_outside),
    HostileCase(
        "_data and _layouts linked out of the site",
        {REVIEW: utf8(review())},
        setup=outside_data_and_layouts,
        secrets=("root:x:0:0", "adduser", "PackageKit", "passwd"),
    ),
    HostileCase("FIFOs named .md", {REVIEW: utf8(review())}, setup=fifo_review),
    HostileCase(
        "a folder named .md and a dangling link",
        {REVIEW: utf8(review())},
        setup=directory_named_md,
    ),
    HostileCase(
        "a file name that is not UTF-8", {REVIEW: utf8(review())}, setup=undecodable_file_name
    ),
    HostileCase(
        "an unreadable review",
        {REVIEW: utf8(review())},
        setup=unreadable_review,
        codes=frozenset({"FL001"}) if os.geteuid() != 0 else frozenset(),
        keep=(),
        undecodable=True,
    ),
]
