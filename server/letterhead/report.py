"""Printing findings: compiler-style text, the stable JSON report, GitHub workflow commands, SARIF."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from letterhead import __version__
from letterhead.findings import Finding, Fix, Severity
from letterhead.positions import Range
from letterhead.rules import all_rules

JSON_VERSION = 1
FORMATS = ("text", "json", "github", "sarif")


@dataclass(frozen=True, slots=True)
class Located:
    """A finding with the path to print for it (relative to where the command was run)."""

    finding: Finding
    display_path: str


def _range(range_: Range) -> dict[str, Any]:
    return {
        "start": {"line": range_.start.line, "character": range_.start.character},
        "end": {"line": range_.end.line, "character": range_.end.character},
    }


def _fix(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {
        "title": fix.title,
        "edits": [
            {"path": edit.path, "range": _range(edit.range), "new_text": edit.new_text}
            for edit in fix.edits
        ],
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "path": finding.path,
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.value,
        "message": finding.message,
        "range": _range(finding.range),
        "fix": _fix(finding.fix),
    }


def render_json(findings: Sequence[Located], files: int) -> str:
    report = {
        "version": JSON_VERSION,
        "files": files,
        "findings": [finding_json(f.finding) for f in findings],
    }
    return json.dumps(report, ensure_ascii=False, indent=2)


def render_text(findings: Sequence[Located], files: int) -> str:
    lines = [
        f"{item.display_path}:{item.finding.range.start.line + 1}:{item.finding.range.start.character + 1}: "
        f"{item.finding.severity.value} {item.finding.code} {item.finding.message}"
        for item in findings
    ]
    counts = {severity: 0 for severity in Severity}
    for item in findings:
        counts[item.finding.severity] += 1
    fixable = sum(1 for item in findings if item.finding.fix is not None and item.finding.fix.safe)
    summary = ", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    checked = f"{files} file{'s' if files != 1 else ''} checked"
    if findings:
        tail = f"; {fixable} fixable with --fix" if fixable else ""
        lines.append(f"{checked}: {summary}{tail}")
    else:
        lines.append(f"{checked}: no findings")
    return "\n".join(lines)


_GITHUB_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
    Severity.HINT: "notice",
}


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Located], files: int) -> str:
    lines = []
    for item in findings:
        finding = item.finding
        start, end = finding.range.start, finding.range.end
        properties = ",".join(
            [
                f"file={_github_property(item.display_path)}",
                f"line={start.line + 1}",
                f"col={start.character + 1}",
                f"endLine={end.line + 1}",
                f"endColumn={end.character + 1}",
                f"title={_github_property(f'{finding.code} {finding.name}')}",
            ]
        )
        lines.append(
            f"::{_GITHUB_LEVEL[finding.severity]} {properties}::{_github_data(finding.message)}"
        )
    return "\n".join(lines)


_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}


def render_sarif(findings: Sequence[Located], files: int) -> str:
    rules = all_rules()
    rule_index = {rule.code: position for position, rule in enumerate(rules)}
    results = []
    for item in findings:
        finding = item.finding
        start, end = finding.range.start, finding.range.end
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": rule_index.get(finding.code, -1),
            "level": _SARIF_LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": item.display_path},
                        "region": {
                            "startLine": start.line + 1,
                            "startColumn": start.character + 1,
                            "endLine": end.line + 1,
                            "endColumn": end.character + 1,
                        },
                    }
                }
            ],
        }
        if finding.fix is not None:
            result["fixes"] = [
                {
                    "description": {"text": finding.fix.title},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": item.display_path},
                            "replacements": [
                                {
                                    "deletedRegion": {
                                        "startLine": edit.range.start.line + 1,
                                        "startColumn": edit.range.start.character + 1,
                                        "endLine": edit.range.end.line + 1,
                                        "endColumn": edit.range.end.character + 1,
                                    },
                                    "insertedContent": {"text": edit.new_text},
                                }
                                for edit in finding.fix.edits
                            ],
                        }
                    ],
                }
            ]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "letterhead",
                        "version": __version__,
                        "rules": [
                            {
                                "id": rule.code,
                                "name": rule.name,
                                "shortDescription": {"text": rule.summary},
                                "fullDescription": {"text": rule.documentation.split("\n\n")[0]},
                                "help": {
                                    "text": rule.documentation,
                                    "markdown": rule.documentation,
                                },
                                "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
                            }
                            for rule in rules
                        ],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, ensure_ascii=False, indent=2)


RENDERERS = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "sarif": render_sarif,
}
