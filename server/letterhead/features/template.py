"""A new letter: front matter, salutation and signature, as a snippet or as plain text.

Completion offers it as a snippet (tab stops for the title, addressee, position, ...; the
salutation mirrors the addressee and position as they are typed); the "Insert letter template"
code action inserts the parts a document lacks as plain text. Keys that the site's
`defaults:` already give the file are left out, as the FM001 fix does.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from letterhead.check import LoadedSite
from letterhead.features.catalog import author_details, author_name, catalog_for
from letterhead.render import render_salutation
from letterhead.yamltext import scalar

_DATE_PREFIX = re.compile(r"^\d{2,4}-\d{1,2}-\d{1,2}-")
_ADDRESSEE_MARK = "\ue000"
_POSITION_MARK = "\ue001"
_SNIPPET_SPECIAL = re.compile(r"[$\\]")
_PLACEHOLDER_SPECIAL = re.compile(r"[$}\\]")


def escape_snippet(text: str) -> str:
    """`text` as literal snippet text (`$` and `\\` escaped)."""
    return _SNIPPET_SPECIAL.sub(lambda match: "\\" + match.group(), text)


def escape_placeholder(text: str) -> str:
    """`text` as the default of a snippet placeholder (`$`, `}` and `\\` escaped)."""
    return _PLACEHOLDER_SPECIAL.sub(lambda match: "\\" + match.group(), text)


def title_from_path(path: str) -> str:
    stem = posixpath.basename(path).rsplit(".", 1)[0]
    stem = _DATE_PREFIX.sub("", stem)
    words = stem.replace("_", " ").replace("-", " ").split()
    return " ".join(word[:1].upper() + word[1:] for word in words) or "Untitled"


def default_data(site: LoadedSite, path: str) -> dict[str, Any]:
    """The values the site's `defaults:` give the file at `path` (with no front matter of its
    own), and the file's own front matter over them when the index knows the file."""
    entry = site.index.entry(path)
    if entry is not None:
        return dict(entry.data)
    source = site.site.classify(path)
    if source is None:
        return {}
    return dict(site.site.entry(source, {}).data)


def letter_layout(site: LoadedSite) -> str:
    """The layout a new letter should name: the first letter layout the site has."""
    layouts = set(site.site.layouts) | set(site.settings.extra_layouts)
    for layout in site.settings.letter_layouts:
        if layout in layouts:
            return layout
    return site.settings.letter_layouts[0] if site.settings.letter_layouts else "default"


def ranked_authors(site: LoadedSite) -> list[str]:
    """The site's author keys, the most prolific first."""
    catalog = catalog_for(site.index)
    order = {key: number for number, key in enumerate(site.site.authors)}
    return sorted(
        site.site.authors, key=lambda key: (-catalog.value_count("author", key), order[key])
    )


class _Stops:
    """Numbered tab stops in snippet mode; the default text alone in plain mode."""

    def __init__(self, snippet: bool) -> None:
        self.snippet = snippet
        self.number = 0

    def literal(self, text: str) -> str:
        return escape_snippet(text) if self.snippet else text

    def stop(self, default: str) -> tuple[str, int]:
        self.number += 1
        if not self.snippet:
            return default, self.number
        if not default:
            return f"${self.number}", self.number
        return f"${{{self.number}:{escape_placeholder(default)}}}", self.number

    def choice(self, options: list[str]) -> str:
        self.number += 1
        if not self.snippet:
            return options[0]
        escaped = [re.sub(r"[$}\\,|]", lambda match: "\\" + match.group(), o) for o in options]
        return f"${{{self.number}|{','.join(escaped)}|}}"


@dataclass(slots=True)
class LetterTemplate:
    front_matter: str  # from the opening `---` through the closing `---` line and its newline
    salutation: str  # one line, no newline
    signature: str  # the block, no final newline

    def whole(self, newline: str = "\n", body: str = "") -> str:
        return (
            self.front_matter
            + self.salutation
            + newline
            + newline
            + body
            + newline
            + newline
            + self.signature
            + newline
        )


def letter_template(
    site: LoadedSite,
    path: str,
    snippet: bool,
    newline: str = "\n",
    data: dict[str, Any] | None = None,
) -> LetterTemplate:
    """The parts of a new letter for `path`. `data` (front matter already written) fills the
    salutation in plain mode; snippet mode mirrors the tab stops instead."""
    settings = site.settings
    stops = _Stops(snippet)
    given = default_data(site, path)
    known = data or {}
    keys = list(settings.required_keys)
    layout = given.get("layout") or letter_layout(site)
    if settings.is_letter_layout(layout):
        keys += [key for key in settings.letter_required_keys if key not in keys]
    if "tags" not in keys:
        keys.append("tags")
    lines = ["---"]
    mirrors: dict[str, int] = {}
    chosen_author = ""
    for key in keys:
        if key != "tags" and given.get(key) not in (None, ""):
            continue
        if key == "title":
            title, _ = stops.stop(title_from_path(path))
            lines.append('title: "' + title + '"' if snippet else "title: " + scalar(title, '"'))
        elif key == "layout":
            value, _ = stops.stop(letter_layout(site))
            lines.append("layout: " + value)
        elif key == "author":
            authors = ranked_authors(site)
            chosen_author = str(known.get("author") or (authors[0] if authors else ""))
            lines.append("author: " + (stops.choice(authors) if authors else stops.stop("")[0]))
        elif key in ("addressee", "position"):
            value, number = stops.stop(str(known.get(key) or key.capitalize()))
            mirrors[key] = number
            lines.append(f"{key}: {value}")
        elif key == "tags":
            value, _ = stops.stop("")
            lines.append(f"tags: [{value}]")
        else:
            value, _ = stops.stop("")
            lines.append(f"{key}: {value}".rstrip())
    lines.append("---")
    front_matter = newline.join(lines) + newline
    salutation = _salutation(site, stops, mirrors, known)
    author = known.get("author") or given.get("author") or chosen_author
    signature = _signature(site, stops, author, newline)
    return LetterTemplate(front_matter, salutation, signature)


def _salutation(
    site: LoadedSite, stops: _Stops, mirrors: dict[str, int], known: dict[str, Any]
) -> str:
    template = site.settings.salutation
    if not stops.snippet:
        page = {
            "addressee": known.get("addressee") or "Addressee",
            "position": known.get("position") or "Position",
        }
        return render_salutation(template, {**known, **page}).strip()
    rendered = render_salutation(
        template, {"addressee": _ADDRESSEE_MARK, "position": _POSITION_MARK}
    ).strip()
    text = escape_snippet(rendered)
    for key, mark in (("addressee", _ADDRESSEE_MARK), ("position", _POSITION_MARK)):
        number = mirrors.get(key)
        text = text.replace(mark, f"${number}" if number else key.capitalize())
    return text


def _signature(site: LoadedSite, stops: _Stops, author: Any, newline: str) -> str:
    settings = site.settings
    details = author_details(site.site).get(str(author), {}) if author else {}
    name = author_name(details) or "Your name"
    closing, _ = stops.stop("Yours")
    signed, _ = stops.stop(name)
    lines = [
        stops.literal("{% " + f"{settings.signature_tag} {settings.signature_block}" + " %}"),
        f"**{closing},**",
        "",
        signed,
        stops.literal("{% end" + settings.signature_tag + " %}"),
    ]
    return newline.join(lines)
