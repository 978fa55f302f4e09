"""The rule registry: every check is a `Rule`, a small documented unit registered with `@rule`.

A rule is a code, a name, a default severity, a one-line summary, its docstring (printed by
`letterhead explain CODE`) and one function from a `Context` (the document, its site entry, the
site index and the settings) to `Report`s. The engine fills in the code, severity and range.
Adding a rule is adding one such function to a family module and its fixture cases.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from letterhead.findings import Finding, Fix, Severity, TextEdit
from letterhead.positions import Span

if TYPE_CHECKING:
    from letterhead.document import Document, FrontMatterEntry
    from letterhead.index import SiteIndex
    from letterhead.settings import Settings
    from letterhead.site.model import Entry


@dataclass(slots=True)
class Report:
    """What a rule function yields: where, what, and how to mend it."""

    span: Span
    message: str
    fix: Fix | None = None
    related: list[tuple[str, Span, str]] = field(default_factory=list)


@dataclass(slots=True)
class Context:
    path: str  # relative to the site root, `/` separators
    document: Document
    entry: Entry | None  # None for a file outside any site or not a site document
    index: SiteIndex
    settings: Settings
    # Work several rules share for one document (e.g. resolved links), computed once.
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        """Front matter after the site's defaults (the file's own values win)."""
        if self.entry is not None:
            return self.entry.data
        return self.document.data

    def front_matter_entry(self, key: str) -> FrontMatterEntry | None:
        """`document.front_matter.get(key)`: the last entry written for `key`, if any.

        Looked up in a table of the entries built once per document, since the rules ask for
        some fifteen keys of every review (each `FrontMatter.get` walks the entries).
        """
        table = self.memo.get("front_matter.entries")
        if table is None:
            front_matter = self.document.front_matter
            entries = front_matter.entries if front_matter is not None else []
            table = self.memo["front_matter.entries"] = {entry.key: entry for entry in entries}
        return table.get(key)

    def edit(self, span: Span, new_text: str) -> TextEdit:
        return TextEdit(self.path, self.document.lines.range(span), new_text)

    def replace(
        self, span: Span, new_text: str, title: str | None = None, safe: bool = True
    ) -> Fix:
        return Fix(title or f"Replace with {new_text}", (self.edit(span, new_text),), safe)

    def insert(self, offset: int, new_text: str, title: str, safe: bool = True) -> Fix:
        return Fix(title, (self.edit(Span(offset, offset), new_text),), safe)

    def delete(self, span: Span, title: str, safe: bool = True) -> Fix:
        return Fix(title, (self.edit(span, ""),), safe)


RuleFunction = Callable[[Context], Iterable[Report]]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    documentation: str
    check: RuleFunction
    fixable: bool

    @property
    def family(self) -> str:
        return self.code.rstrip("0123456789")


RULES: dict[str, Rule] = {}
_BY_NAME: dict[str, Rule] = {}


def rule(
    code: str, name: str, severity: Severity, summary: str, fixable: bool = False
) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule function; its docstring is the rule's documentation."""

    def register(function: RuleFunction) -> RuleFunction:
        if code in RULES or name in _BY_NAME:
            raise ValueError(f"rule {code} ({name}) is registered twice")
        documentation = inspect.cleandoc(function.__doc__ or summary)
        registered = Rule(code, name, severity, summary, documentation, function, fixable)
        RULES[code] = registered
        _BY_NAME[name] = registered
        return function

    return register


def all_rules() -> list[Rule]:
    _load_families()
    return sorted(RULES.values(), key=lambda r: r.code)


def find_rule(code_or_name: str) -> Rule | None:
    _load_families()
    key = code_or_name.strip()
    return RULES.get(key.upper()) or _BY_NAME.get(key.lower())


def run_rules(context: Context, only: Iterable[Rule] | None = None) -> list[Finding]:
    """Every finding of every enabled rule for one document, sorted by position."""
    findings: list[Finding] = []
    lines = context.document.lines
    if only is None:
        enabled = _enabled_rules(context.settings)
    else:
        enabled = tuple(_with_severities(only, context.settings))
    for current, severity in enabled:
        for report in current.check(context):
            findings.append(
                Finding(
                    path=context.path,
                    code=current.code,
                    name=current.name,
                    severity=severity,
                    message=report.message,
                    range=lines.range(report.span),
                    fix=report.fix,
                    related=[
                        (path, lines.range(span), text) for path, span, text in report.related
                    ],
                )
            )
    findings.sort(key=Finding.sort_key)
    return findings


def _with_severities(rules: Iterable[Rule], settings: Settings) -> Iterator[tuple[Rule, Severity]]:
    """Each rule `settings` leave on, with the severity they give it."""
    for current in rules:
        severity = settings.severity_of(current.code, current.name, current.severity)
        if severity is not None:
            yield current, severity


# The enabled rules of the last few `Settings` (each kept alive in its entry, so that its `id` is
# not reused) and the registry size they were worked out for. Settings are frozen and never
# changed once read, so the answer holds for every document checked with them: a site check
# works it out once, not for every rule of every review (that was a tenth of the rules' time).
_ENABLED: dict[int, tuple[Settings, int, tuple[tuple[Rule, Severity], ...]]] = {}
_ENABLED_KEPT = 8


def _enabled_rules(settings: Settings) -> tuple[tuple[Rule, Severity], ...]:
    """Every registered rule `settings` leave on, in code order, with its severity."""
    cached = _ENABLED.get(id(settings))
    if cached is not None and cached[0] is settings and cached[1] == len(RULES):
        return cached[2]
    enabled = tuple(_with_severities(all_rules(), settings))
    if len(_ENABLED) >= _ENABLED_KEPT:
        _ENABLED.clear()
    _ENABLED[id(settings)] = (settings, len(RULES), enabled)
    return enabled


_loaded = False


def _load_families() -> None:
    """Import the family modules, whose `@rule` decorators fill the registry.

    Marked done only once imported: the language server indexes two sites on two threads, and
    a second thread that saw the mark while the first was still importing ran rules of a module
    half executed (`NameError`). A second importer waits on the modules' import locks instead."""
    global _loaded
    if _loaded:
        return
    from letterhead.rules import (  # noqa: F401
        config,
        files,
        frontmatter,
        letter,
        links,
        liquid,
        taxonomy,
    )

    _loaded = True
