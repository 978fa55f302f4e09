"""Letter rules (LT): a letter opens with a salutation matching its front matter, and is signed."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from letterhead.document import FrontMatter, Salutation
from letterhead.findings import Fix, Severity
from letterhead.positions import Span
from letterhead.render import render_salutation, template_keys
from letterhead.rules import Context, Report, rule
from letterhead.site.discovery import within_site
from letterhead.site.yamldata import safe_load

_SALUTATION_PARTS = ("addressee", "position")


def _letter_front_matter(ctx: Context) -> FrontMatter | None:
    """The front matter of a document that uses a letter layout (None for anything else)."""
    front_matter = ctx.document.front_matter
    if front_matter is None or front_matter.error is not None:
        return None
    if not ctx.settings.is_letter_layout(ctx.data.get("layout")):
        return None
    return front_matter


def _newline(text: str) -> str:
    """The text's own line break for inserted lines: `\\r\\n`, `\\n`, or a lone `\\r`."""
    found = _FIRST_BREAK.search(text)
    return found.group() if found is not None else "\n"


_FIRST_BREAK = re.compile(r"\r\n|\r|\n")


def _body_lines(ctx: Context) -> list[int]:
    """The numbers of the body's non-blank lines."""
    lines = ctx.document.lines
    first = lines.position(ctx.document.body_start).line
    if lines.line_start(first) < ctx.document.body_start:
        first += 1  # the body starts mid-line only when the closing fence ends the text
    return [line for line in range(first, lines.line_count) if lines.line_text(line).strip()]


def _fence_line(ctx: Context, front_matter: FrontMatter) -> Span:
    """The closing `---` line, where findings about an empty body sit."""
    text = ctx.document.text
    end = len(text[: front_matter.span.end].rstrip("\r\n"))
    lines = ctx.document.lines
    line = lines.position(end).line
    return Span(lines.line_start(line), lines.line_end(line))


def _text_value(value: Any) -> str | None:
    if value is None or isinstance(value, list | dict):
        return None
    text = str(value).strip()
    return text or None


# -- LT001 -------------------------------------------------------------------------------------


@rule(
    "LT001",
    "missing-salutation",
    Severity.WARNING,
    "a letter with no salutation paragraph (`_**Dear <addressee>**, <position>,_`)",
    fixable=True,
)
def missing_salutation(ctx: Context) -> Iterator[Report]:
    """Catches a letter (a document whose layout is a letter layout) that does not open with a
    salutation.

    Every review on a letters site is addressed to someone from the film: the first paragraph
    names them, built from the front matter's `addressee` and `position`.

    Wrong:

        ---
        addressee: Rithy Panh
        position: Director
        ---
        I don't think I've ever met a film fan who ...

    Right:

        ---
        addressee: Rithy Panh
        position: Director
        ---
        _**Dear Rithy Panh**, Director,_

        I don't think I've ever met a film fan who ...

    The fix inserts the salutation rendered from the site's template and the front matter.
    Configure the template (Liquid) and which layouts are letters:
    `letterhead: {salutation: "_**Dear {{ page.addressee }}**, {{ page.position }},_",
    letter_layouts: [review]}`.
    """
    front_matter = _letter_front_matter(ctx)
    if front_matter is None or ctx.document.salutation is not None:
        return
    body = _body_lines(ctx)
    lines = ctx.document.lines
    salutation, complete = _rendered_salutation(ctx)
    if not salutation.strip():
        return  # the site's template renders to nothing: there is no salutation to ask for
    newline = _newline(ctx.document.text)
    if body:
        span = Span(lines.line_start(body[0]), lines.line_end(body[0]))
        fix = ctx.insert(
            span.start, salutation + newline + newline, "Insert the salutation", complete
        )
    else:
        span = _fence_line(ctx, front_matter)
        at = ctx.document.body_start
        lead = "" if ctx.document.text[:at].endswith(("\n", "\r")) else newline
        fix = ctx.insert(at, lead + salutation + newline, "Insert the salutation", complete)
    yield Report(span, f"the letter has no salutation; open it with `{salutation}`", fix)


def _rendered_salutation(ctx: Context) -> tuple[str, bool]:
    """The salutation for this letter, and whether every value it names was in the front matter.

    A missing value is shown as a `<key>` placeholder, and the fix is then offered only in the
    editor, never applied by `check --fix`.
    """
    data = dict(ctx.data)
    complete = True
    for key in _template_keys(ctx.settings.salutation):
        if _text_value(data.get(key)) is None:
            data[key] = f"<{key}>"
            complete = False
    return render_salutation(ctx.settings.salutation, data), complete


@functools.lru_cache(maxsize=16)
def _template_keys(template: str) -> tuple[str, ...]:
    """`template_keys`, read once per template: every letter of a site asks about the same one."""
    return tuple(template_keys(template))


# -- LT002 -------------------------------------------------------------------------------------


@rule(
    "LT002",
    "salutation-mismatch",
    Severity.WARNING,
    "a salutation naming another addressee or position than the front matter",
    fixable=True,
)
def salutation_mismatch(ctx: Context) -> Iterator[Report]:
    """Catches a salutation whose addressee or position differs from the front matter's.

    The front matter feeds the site's indexes ("letters to directors") and the salutation is
    what readers see; when one is edited and not the other, they disagree. Comparison ignores
    case, accents written in either composed or decomposed form, and extra spaces.

    Wrong:

        addressee: Rithy Panh
        ---
        _**Dear Rithy Pan**, Director,_

    Right:

        _**Dear Rithy Panh**, Director,_

    The fix rewrites the differing part from the front matter. When the salutation leaves a
    part out entirely, the fix (offered in the editor only) rewrites the whole salutation from
    the site's template.
    """
    front_matter = _letter_front_matter(ctx)
    salutation = ctx.document.salutation
    if front_matter is None or salutation is None:
        return
    used = _template_keys(ctx.settings.salutation)
    for part in _SALUTATION_PARTS:
        expected = _text_value(ctx.data.get(part))
        if part in used and expected is not None:
            yield from _compare_part(ctx, salutation, part, expected)


def _compare_part(
    ctx: Context, salutation: Salutation, part: str, expected: str
) -> Iterator[Report]:
    written: str | None = getattr(salutation, part)
    span: Span | None = getattr(salutation, f"{part}_span")
    if written is None or span is None:
        rendered, complete = _rendered_salutation(ctx)
        fix = ctx.replace(
            salutation.span, rendered, "Rewrite the salutation from the front matter", False
        )
        yield Report(
            salutation.span,
            f"the salutation names no {part}; the front matter's {part} is `{expected}`: "
            f"`{rendered}`",
            fix if complete else None,
        )
        return
    if written == expected or _normalized(written) == _normalized(expected):
        return
    fix = ctx.replace(span, expected, f"Write the front matter's {part}, `{expected}`")
    yield Report(
        span,
        f"the salutation names `{written}` but the front matter's {part} is `{expected}`",
        fix,
    )


def _normalized(text: str) -> str:
    """A name as compared: Unicode-normalised, case-folded, spaces collapsed, emphasis dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[*_]", "", text)
    return " ".join(text.split()).strip(" ,")


# -- LT003 -------------------------------------------------------------------------------------


@rule(
    "LT003",
    "missing-signature",
    Severity.WARNING,
    "a letter with no signature block (`{% contentfor signature %}...{% endcontentfor %}`)",
    fixable=True,
)
def missing_signature(ctx: Context) -> Iterator[Report]:
    """Catches a letter (a document whose layout is a letter layout) that is not signed.

    The layout prints the signature block after the letter; without one the letter just
    stops, and the author's name is missing.

    Wrong: a letter ending with its last paragraph.

    Right:

        {% contentfor signature %}
        **Thanks for helping fill in the picture,**

        Christopher
        {% endcontentfor %}

    The fix appends a signature block with the author's name from `_data/authors.yml` for
    the author to finish. Configure the block:
    `letterhead: {signature_tag: contentfor, signature_block: signature}`.
    """
    front_matter = _letter_front_matter(ctx)
    settings = ctx.settings
    if front_matter is None:
        return
    if ctx.document.signature(settings.signature_tag, settings.signature_block) is not None:
        return
    body = _body_lines(ctx)
    lines = ctx.document.lines
    if body:
        span = Span(lines.line_start(body[-1]), lines.line_end(body[-1]))
    else:
        span = _fence_line(ctx, front_matter)
    opening = f"{{% {settings.signature_tag} {settings.signature_block} %}}"
    yield Report(
        span,
        f"the letter is not signed; end it with a `{opening} … "
        f"{{% end{settings.signature_tag} %}}` block",
        _append_signature(ctx),
    )


def _append_signature(ctx: Context) -> Fix:
    settings = ctx.settings
    text = ctx.document.text
    newline = _newline(text)
    name = _author_name(ctx)
    block = newline.join(
        [
            f"{{% {settings.signature_tag} {settings.signature_block} %}}",
            "**Yours,**",
            "",
            name or "<your name>",
            f"{{% end{settings.signature_tag} %}}",
            "",
        ]
    )
    stripped = text.rstrip("\r\n \t")
    lead = newline + newline if stripped else ""
    return Fix(
        "Append a signature block",
        (ctx.edit(Span(len(stripped), len(text)), lead + block),),
        name is not None,
    )


def _author_name(ctx: Context) -> str | None:
    """The author's name from `_data/authors.yml`, else the author handle itself."""
    author = ctx.data.get("author")
    if not isinstance(author, str) or not author.strip():
        return None
    site = ctx.index.site
    path = site.root / site.config.data_dir / "authors.yml"
    names = _author_names(path) if within_site(site.root, path) else {}
    return names.get(author.strip()) or author.strip()


_NAMES_CACHE: dict[str, tuple[float, dict[str, str]]] = {}
_MAX_AUTHORS_BYTES = 2_000_000


def _author_names(path: Path) -> dict[str, str]:
    """Author handle -> `name:` from an authors data file (cached by modification time).

    The site model keeps only the handles; the names are read here, safely and bounded, only
    when a signature is to be written.
    """
    try:
        mtime = path.stat().st_mtime
        cached = _NAMES_CACHE.get(str(path))
        if cached is not None and cached[0] == mtime:
            return cached[1]
        with path.open("rb") as handle:
            raw = handle.read(_MAX_AUTHORS_BYTES + 1)
    except OSError:
        return {}
    names: dict[str, str] = {}
    if len(raw) <= _MAX_AUTHORS_BYTES:
        try:
            loaded = safe_load(raw.decode("utf-8-sig", errors="replace"))
        except (yaml.YAMLError, RecursionError, ValueError):
            loaded = None
        if isinstance(loaded, dict):
            for handle_key, record in loaded.items():
                name = record.get("name") if isinstance(record, dict) else None
                if isinstance(name, str) and name.strip():
                    names[str(handle_key)] = name.strip()
    _NAMES_CACHE[str(path)] = (mtime, names)
    return names
