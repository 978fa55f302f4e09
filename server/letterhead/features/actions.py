"""Code actions: the fixes of the findings at the cursor, and two edits of the letter itself.

Every finding whose range touches the requested span and that carries a fix becomes a quick fix
(the rule's own edit, so the editor and `letterhead check --fix` agree). Besides them: "Sort and
normalise tags" on a `tags:` or `categories:` list (canonical spellings, duplicates removed,
sorted, the list's flow or block style kept), and "Insert letter template" when the document
lacks front matter, a salutation or a signature.
"""

from __future__ import annotations

import re

from letterhead.check import LoadedSite
from letterhead.document import Document, FrontMatterEntry, ValueStyle, fold
from letterhead.features.cursor import clamp
from letterhead.features.guard import never_raises
from letterhead.features.preview import effective_data
from letterhead.features.template import letter_template
from letterhead.features.types import Action, ActionKind
from letterhead.findings import Finding, TextEdit
from letterhead.positions import Range, Span
from letterhead.settings import TaxonomyPolicy
from letterhead.taxonomy import Taxonomy
from letterhead.yamltext import flow_list, scalar

SORT_TITLE = "Sort and normalise {key}"
TEMPLATE_TITLE = "Insert letter template"


def _no_actions() -> list[Action]:
    return []


@never_raises(_no_actions)
def code_actions(
    site: LoadedSite, path: str, document: Document, span: Span, findings: list[Finding]
) -> list[Action]:
    """The actions for `span` of `document`, given the findings the rules reported for it."""
    span = Span(clamp(document, span.start), clamp(document, max(span.start, span.end)))
    requested = document.lines.range(span)
    actions: list[Action] = []
    for finding in findings:
        fix = finding.fix
        if fix is None or finding.path != path or not _touches(finding.range, requested):
            continue
        edits: dict[str, list[TextEdit]] = {}
        for edit in fix.edits:
            edits.setdefault(edit.path, []).append(edit)
        actions.append(Action(fix.title, ActionKind.QUICKFIX, edits, finding, preferred=fix.safe))
    actions.extend(_sort_taxonomy(site, path, document, span))
    template = _insert_template(site, path, document)
    if template is not None:
        actions.append(template)
    return actions


def _touches(a: Range, b: Range) -> bool:
    return a.start <= b.end and b.start <= a.end


# -- sort and normalise tags ---------------------------------------------------------------------


def normalised_names(names: list[str], taxonomy: Taxonomy, policy: TaxonomyPolicy) -> list[str]:
    """`names` with each in its canonical spelling, duplicates (after folding) removed, sorted."""
    folded_aliases = {fold(alias): canonical for alias, canonical in policy.aliases.items()}
    result: dict[str, str] = {}
    for name in names:
        name = policy.aliases.get(name) or folded_aliases.get(fold(name)) or name
        if policy.case == "lower":
            name = name.lower()
        else:
            canonical = taxonomy.canonical(name)
            if canonical is not None and canonical.count > taxonomy.count(name):
                name = canonical.text
        result.setdefault(fold(name), name)
    return sorted(result.values(), key=lambda name: (fold(name), name))


def _sort_taxonomy(site: LoadedSite, path: str, document: Document, span: Span) -> list[Action]:
    front_matter = document.front_matter
    if front_matter is None or front_matter.error is not None:
        return []
    actions = []
    for key in ("tags", "categories"):
        entry = front_matter.get(key)
        if entry is None or entry.items is None or not entry.items:
            continue
        if not (entry.key_span.start <= span.end and span.start <= entry.value_span.end):
            continue
        names = [item.value for item in entry.items]
        if not all(isinstance(name, str) and name for name in names):
            continue
        taxonomy = site.index.tags if key == "tags" else site.index.categories
        policy = site.settings.tags if key == "tags" else site.settings.categories
        normalised = normalised_names(names, taxonomy, policy)
        edit = _list_edit(path, document, entry, normalised)
        if edit is not None:
            title = SORT_TITLE.format(key=key)
            actions.append(Action(title, ActionKind.REFACTOR, {path: [edit]}))
    return actions


def _list_edit(
    path: str, document: Document, entry: FrontMatterEntry, names: list[str]
) -> TextEdit | None:
    text = document.text
    items = entry.items or []
    if entry.style is ValueStyle.FLOW_LIST:
        new_text = flow_list(names)
        old = Span(entry.value_span.start, entry.value_span.end)
    elif entry.style is ValueStyle.BLOCK_LIST:
        first_line = text.rfind("\n", 0, items[0].span.start) + 1
        last_end = items[-1].span.end
        line_end = text.find("\n", last_end)
        last_line_end = len(text) if line_end < 0 else line_end
        if text[last_line_end - 1 : last_line_end] == "\r":
            last_line_end -= 1
        old = Span(first_line, last_line_end)
        lines = text[old.start : old.end].splitlines()
        if len(lines) != len(items) or any(not line.lstrip().startswith("-") for line in lines):
            return None  # comments or blank lines inside the list: leave it to the author
        dash = text.find("-", first_line)
        indent = text[first_line:dash]
        newline = "\r\n" if "\r\n" in text[old.start : old.end + 2] else "\n"
        new_text = newline.join(f"{indent}- {scalar(name)}" for name in names)
    else:
        return None
    if text[old.start : old.end] == new_text:
        return None
    return TextEdit(path, document.lines.range(old), new_text)


# -- insert letter template ----------------------------------------------------------------------


def _newline(text: str) -> str:
    """The text's own line break for inserted lines: `\\r\\n`, `\\n`, or a lone `\\r`."""
    found = _FIRST_BREAK.search(text)
    return found.group() if found is not None else "\n"


_FIRST_BREAK = re.compile(r"\r\n|\r|\n")


def _insert_template(site: LoadedSite, path: str, document: Document) -> Action | None:
    text = document.text
    newline = _newline(text)
    lines = document.lines
    settings = site.settings
    front_matter = document.front_matter
    if front_matter is not None and front_matter.error is not None:
        return None  # a broken front matter is FM001/FM002's business
    data = effective_data(site, path, document)
    template = letter_template(site, path, snippet=False, newline=newline, data=data)
    edits: list[TextEdit] = []
    if front_matter is None:
        head = template.front_matter + template.salutation + newline + newline
        edits.append(TextEdit(path, Range.point(lines.position(0)), head))
        signature = document.signature(settings.signature_tag, settings.signature_block)
        if signature is None:
            edits.append(_append(path, document, template.signature, newline))
        return Action(TEMPLATE_TITLE, ActionKind.SOURCE, {path: edits})
    if not settings.is_letter_layout(data.get("layout")):
        return None
    parts = []
    if document.salutation is None:
        at = document.body_start
        lead = "" if text[:at].endswith(("\n", "\r")) else newline
        salutation = lead + template.salutation + newline + newline
        edits.append(TextEdit(path, Range.point(lines.position(at)), salutation))
        parts.append("salutation")
    if document.signature(settings.signature_tag, settings.signature_block) is None:
        edits.append(_append(path, document, template.signature, newline))
        parts.append("signature")
    if not edits:
        return None
    return Action(f"{TEMPLATE_TITLE} ({' and '.join(parts)})", ActionKind.SOURCE, {path: edits})


def _append(path: str, document: Document, block: str, newline: str) -> TextEdit:
    text = document.text
    if not text.strip() or text.endswith(newline + newline):
        lead = ""
    elif text.endswith(newline):
        lead = newline
    else:
        lead = newline + newline
    end = document.lines.position(len(text))
    return TextEdit(path, Range.point(end), lead + block + newline)
