"""Every rule's fixture cases: a review with «marked» ranges and the findings expected there.

Cases live in `tests/cases/rules/*.yml` as data; each runs in a copy of `tests/cases/base-site`
(plus the case's own files and settings), checked through the same engine as `letterhead check`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from letterhead.check import config_findings, entry_for, load_site, parse_source
from letterhead.fixes import apply_edits
from letterhead.positions import LineIndex
from letterhead.rules import all_rules

CASES = Path(__file__).parent / "cases"
BASE_SITE = CASES / "base-site"
DEFAULT_PATH = "_posts/2014-06-01-case.md"
MARK = re.compile("[«»]")


@dataclass
class Case:
    file: str
    name: str
    spec: dict[str, Any]
    codes: list[str]


def load_cases() -> list[Case]:
    cases = []
    for file in sorted((CASES / "rules").glob("*.yml")):
        content = yaml.safe_load(file.read_text(encoding="utf-8"))
        for spec in content["cases"]:
            cases.append(Case(file.stem, spec["name"], spec, spec.get("codes", content["codes"])))
    return cases


def strip_marks(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without « » marks, and each marked (start, end) as code-point offsets."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    start: int | None = None
    position = 0
    offset = 0
    for match in MARK.finditer(text):
        plain.append(text[offset : match.start()])
        position += match.start() - offset
        if match.group() == "«":
            start = position
        else:
            assert start is not None, "» without «"
            spans.append((start, position))
            start = None
        offset = match.end()
    plain.append(text[offset:])
    return "".join(plain), spans


def build_site(tmp_path: Path, case: Case) -> tuple[Path, str, str, list[tuple[int, int]]]:
    root = tmp_path / "site"
    shutil.copytree(BASE_SITE, root)
    for relative in case.spec.get("remove", []):
        (root / relative).unlink()
    for relative, content in (case.spec.get("files") or {}).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    if "config" in case.spec:
        config_path = root / "_config.yml"
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        config["letterhead"] = {**config.get("letterhead", {}), **case.spec["config"]}
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    path = case.spec.get("path", DEFAULT_PATH)
    text, spans = strip_marks(case.spec["text"])
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode("utf-8"))
    return root, path, text, spans


ALL_CASES = load_cases()


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.file}:{c.name}" for c in ALL_CASES])
def test_rule_case(tmp_path: Path, case: Case) -> None:
    root, path, text, spans = build_site(tmp_path, case)
    loaded = load_site(root)
    if path == "_config.yml":  # CF001 cases: the case's text is the site's configuration
        all_findings = config_findings(loaded)
        lines = LineIndex(text)
    else:
        all_findings = loaded.check_document(path, loaded.documents[path])
        lines = loaded.documents[path].lines
    findings = [f for f in all_findings if any(f.code.startswith(p) for p in case.codes)]
    got = [
        (lines.offset(f.range.start), lines.offset(f.range.end), f.code, f.message)
        for f in findings
    ]
    expected = case.spec.get("expect") or []
    assert len(expected) == len(spans), "each expectation needs exactly one «marked» range"
    described = "\n".join(f"  {c} {text[s:e]!r} {m}" for s, e, c, m in got)
    assert len(got) == len(expected), f"expected {expected}, got:\n{described}"
    for (start, end), expectation, (got_start, got_end, code, message) in zip(
        spans, expected, got, strict=True
    ):
        want_code, _, want_message = expectation.partition(" ")
        assert code == want_code, f"expected {expectation}, got:\n{described}"
        assert (got_start, got_end) == (start, end), (
            f"{code}: expected range {text[start:end]!r}, got {text[got_start:got_end]!r}"
        )
        assert want_message in message, f"{code}: {message!r} lacks {want_message!r}"
    if "fixed" in case.spec:
        edits = [e for f in findings if f.fix and f.fix.safe for e in f.fix.edits if e.path == path]
        fixed, _ = apply_edits(text, edits)
        assert fixed == case.spec["fixed"]


def test_every_rule_has_cases_that_fire_and_cases_that_must_not() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in ALL_CASES:
        expected = {e.split(" ", 1)[0] for e in case.spec.get("expect") or []}
        fired |= expected
        for code in case.spec.get("near_miss_for", []):
            quiet.add(code)
    codes = {rule.code for rule in all_rules()}
    assert codes - fired == set(), "rules with no case that fires"
    assert codes - quiet == set(), "rules with no near-miss case (`near_miss_for:`)"


RACE = r"""
import importlib.abc, sys, threading, time
import letterhead.rules as rules

class SlowFamily(importlib.abc.MetaPathFinder):
    # The last family module takes a while to import, as on a busy machine.
    def find_spec(self, name, path, target=None):
        if name != "letterhead.rules.taxonomy":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def slowly(module):
            time.sleep(0.5)
            run(module)
        spec.loader.exec_module = slowly
        return spec

import importlib.util
sys.meta_path.insert(0, SlowFamily())
counts = []
first = threading.Thread(target=lambda: counts.append(len(rules.all_rules())))
first.start()
time.sleep(0.2)
counts.append(len(rules.all_rules()))  # while the first thread still imports
first.join()
print(counts[0], counts[1])
"""


def test_rules_asked_for_while_another_thread_loads_them_are_all_there() -> None:
    """The language server indexes two sites on two threads, each asking for the rules."""
    result = subprocess.run(
        [sys.executable, "-c", RACE], capture_output=True, text=True, check=True, timeout=60
    )
    seen, other = result.stdout.split()
    assert seen == other, result.stdout


def test_a_spelling_checked_again_after_the_site_changed_sees_the_change(tmp_path: Path) -> None:
    """TX001 remembers each spelling's established one for the index as it is: a review
    checked, then two others added with another spelling, then checked again must see them."""
    root = tmp_path / "site"
    shutil.copytree(BASE_SITE, root)
    review = "_posts/2016-03-01-variant.md"
    (root / review).write_text(
        "---\ntitle: Variant\nlayout: review\nauthor: annaw\ntags: [Slow Cinema]\n---\nText.\n",
        encoding="utf-8",
    )
    loaded = load_site(root)

    def spellings() -> list[str]:
        found = loaded.check_document(review, loaded.documents[review])
        return [f.message for f in found if f.code == "TX001"]

    assert spellings() == []
    for number in (1, 2):
        path = f"_posts/2016-03-0{number + 1}-other-{number}.md"
        text = f"---\ntitle: Other {number}\nlayout: review\ntags: [slow cinema]\n---\nText.\n"
        (root / path).write_text(text, encoding="utf-8")
        source = loaded.site.classify(path)
        assert source is not None
        document = parse_source(loaded.site, source, loaded.settings)
        loaded.index.add(entry_for(loaded.site, source, document, None), document)
    assert spellings() == ["`Slow Cinema` — 2 reviews spell it `slow cinema`"]
