"""Configuration rule (CF): problems in `_config.yml`, letterhead's settings and Jekyll's own."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from letterhead.findings import Finding, Severity
from letterhead.positions import LineIndex, Position, Span
from letterhead.rules import RULES, Context, Report, all_rules, rule
from letterhead.site.discovery import within_site

if TYPE_CHECKING:
    from letterhead.check import LoadedSite
    from letterhead.site.config import ConfigProblem

CONFIG_PATH = "_config.yml"
_MAX_CONFIG_BYTES = 1_000_000
_MAX_KEYS = 10_000  # keys located in one `_config.yml`; aliases can make the node graph huge
_MAX_DEPTH = 8


@rule(
    "CF001",
    "bad-config",
    Severity.ERROR,
    "letterhead's settings (or Jekyll's) in `_config.yml` are invalid",
)
def bad_config(ctx: Context) -> Iterator[Report]:
    """Catches a `_config.yml` whose settings cannot be used as written: letterhead's own
    settings under the `letterhead:` key (an unknown setting, a value of the wrong type, an
    unknown rule or severity under `rules:`) and what Jekyll itself would reject (YAML that does
    not parse, `exclude` given as a string, an unknown permalink placeholder).

    A setting letterhead cannot use is left at its default, so the checks silently behave
    differently from what the site asked for; reporting it at its own key says so.

    Wrong:

        letterhead:
          letter_layout: [review]
          rules:
            TX001: loud

    Right:

        letterhead:
          letter_layouts: [review]
          rules:
            TX001: warning   # error, warning, info, hint or off

    The findings are reported on `_config.yml` itself (by `letterhead check` and when the editor
    opens the file); this rule reports nothing on reviews.
    """
    return iter(())


def config_findings(loaded: LoadedSite) -> list[Finding]:
    """CF001 findings for the site's `_config.yml`, each at the key it is about."""
    severity = loaded.settings.severity_of("CF001", "bad-config", RULES["CF001"].severity)
    if severity is None:
        return []
    text = _read_config(loaded.root)
    lines = LineIndex(text)
    locator = _KeyLocator(text, lines)
    located: list[tuple[Span, str]] = []
    for problem in _config_problems(loaded):
        if problem.key is not None:
            span = locator.span((problem.key,))
        elif problem.line is not None:
            span = _line_rest(lines, problem.line, problem.column or 0)
        else:
            span = _line_rest(lines, 0, 0)
        located.append((span, problem.message))
    for setting in loaded.setting_problems:
        located.append((locator.span(setting.key_path), setting.message))
    for kind, policy in (
        ("tags", loaded.settings.tags),
        ("categories", loaded.settings.categories),
    ):
        allowed = policy.allowed_file
        if allowed is not None and not within_site(loaded.root, loaded.root / allowed):
            located.append(
                (
                    locator.span(("letterhead", kind, "allowed")),
                    f"`allowed: {allowed}` points outside the site; it was not read, so no "
                    f"allowed list of {kind} is checked",
                )
            )
    for key in loaded.settings.severities:
        message = _unknown_rule_message(key)
        if message is not None:
            located.append((locator.span(("letterhead", "rules", key)), message))
    findings: list[Finding] = []
    seen: set[tuple[int, int, str]] = set()
    for span, message in located:
        if (span.start, span.end, message) in seen:
            continue
        seen.add((span.start, span.end, message))
        findings.append(
            Finding(CONFIG_PATH, "CF001", "bad-config", severity, message, lines.range(span))
        )
    findings.sort(key=Finding.sort_key)
    return findings


def _config_problems(loaded: LoadedSite) -> list[ConfigProblem]:
    """The site model's problems that are about `_config.yml` (not, say, `_data/authors.yml`)."""
    own = loaded.site.config.problems
    return [
        problem
        for problem in loaded.site.problems
        if any(problem is mine for mine in own) or problem.key is not None
    ]


def _read_config(root: Path) -> str:
    """The text of `_config.yml` as the site model reads it (BOM dropped), "" when unreadable."""
    try:
        with (root / CONFIG_PATH).open("rb") as handle:
            data = handle.read(_MAX_CONFIG_BYTES + 1)
    except OSError:
        return ""
    if len(data) > _MAX_CONFIG_BYTES:
        return ""
    return data.decode("utf-8-sig", errors="replace")


def _line_rest(lines: LineIndex, line: int, column: int) -> Span:
    """From `column` of `line` to the end of its text (the whole line when that is empty)."""
    start = lines.offset(Position(line, column))
    end = lines.line_end(min(line, lines.line_count - 1))
    if end <= start:
        start = lines.line_start(line)
    return Span(start, max(start, end))


class _KeyLocator:
    """Finds the span of a key such as `letterhead: rules: TX001:` in the config's text."""

    def __init__(self, text: str, lines: LineIndex) -> None:
        self.lines = lines
        self.spans: dict[tuple[str, ...], Span] = {}
        try:
            root = yaml.compose(text, Loader=yaml.CSafeLoader)
        except (yaml.YAMLError, RecursionError, ValueError):
            return
        self._walk(root, ())

    def _walk(self, node: yaml.Node | None, path: tuple[str, ...]) -> None:
        if not isinstance(node, yaml.MappingNode) or len(path) >= _MAX_DEPTH:
            return
        for key_node, value_node in node.value:
            if len(self.spans) >= _MAX_KEYS:
                return
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key_path = (*path, str(key_node.value))
            if key_path in self.spans:
                continue
            start = self.lines.offset(
                Position(key_node.start_mark.line, key_node.start_mark.column)
            )
            end = self.lines.offset(Position(key_node.end_mark.line, key_node.end_mark.column))
            self.spans[key_path] = Span(start, max(start, end))
            self._walk(value_node, key_path)

    def span(self, key_path: tuple[str, ...]) -> Span:
        """The span of the deepest key of `key_path` that is written; else the first line."""
        for length in range(len(key_path), 0, -1):
            found = self.spans.get(key_path[:length])
            if found is not None:
                return found
        return _line_rest(self.lines, 0, 0)


def _unknown_rule_message(key: str) -> str | None:
    """Why `key` under `letterhead: rules:` names no rule (None when it names one)."""
    rules = all_rules()
    codes = {known.code for known in rules}
    names = {known.name for known in rules}
    families = {known.family for known in rules}
    if key in codes or key in names or key in families:
        return None
    for written in (key.upper(), key.lower()):
        if written in codes or written in names or written in families:
            return f"rule `{key}` is not recognised as written: write `{written}`"
    matches = difflib.get_close_matches(key, sorted(codes | names | families), n=1, cutoff=0.6)
    hint = f" — did you mean `{matches[0]}`?" if matches else ""
    return (
        f"unknown rule `{key}` under `rules:`; name a rule by its code (`FM005`), its name "
        f"(`unknown-key`) or its family (`FM`){hint}"
    )
