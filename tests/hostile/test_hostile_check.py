"""`letterhead check` on hostile input: never a crash, never a hang, never lost text (SPEC §10).

Each case of `hostile_cases.py` is written into a copy of the base site and checked by the real
command line in a subprocess with a timeout: the exit code is 0 or 1, nothing is printed as a
traceback, the JSON report parses, the expected findings are there with ranges inside their
files, and `check --fix` afterwards keeps the text and never rewrites what it could not read.
Beside the corpus: containment (nothing outside the site is read or quoted), files that vanish
or cannot be opened while a site is read, and random bytes as a review (hypothesis).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_cases import CASES, CONFIG, REVIEW, HostileCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import place
from letterhead.check import check_site, load_site
from letterhead.document import decode
from letterhead.fixes import apply_edits
from letterhead.positions import LineIndex, Position, Range
from letterhead.site.model import Site

BASE_SITE = Path(__file__).parent.parent / "cases" / "base-site"
TIMEOUT = 60  # seconds for one run of the command line; every case must finish far sooner
MAX_CONFIG_BYTES = 1_000_000  # as the engine reads `_config.yml`
MAX_REVIEW_BYTES = 2_000_000  # the default `max_file_bytes`
# Prose lines of the base site's reviews: `--fix` may rewrite front matter and links, not these.
_PROSE = re.compile(r"^[A-Z][^\[\]{}#_*]*\.$")


def copy_base_site(root: Path) -> Path:
    shutil.copytree(BASE_SITE, root, symlinks=True)
    return root


def run_check(site: Path, *extra: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`letterhead check --format json SITE` as a real process; its result and wall time."""
    command = [sys.executable, "-m", "letterhead", "check", "--format", "json", *extra, str(site)]
    started = time.perf_counter()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="strict",  # the report must be valid UTF-8 whatever the file names
        cwd=cwd,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    return result, time.perf_counter() - started


def parse_report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), f"exit {result.returncode}: {result.stderr[-2000:]}"
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["version"] == 1
    assert isinstance(report["findings"], list)
    return report


def file_text(site: Path, path: str) -> str | None:
    """The text the engine reads from `path` (None when the file is gone or cannot be named)."""
    target = site / path
    try:
        if target.stat().st_size > MAX_REVIEW_BYTES:
            return ""  # not read by the engine either (FL001)
        data = target.read_bytes()
    except OSError:
        return None
    if path == CONFIG:
        return "" if len(data) > MAX_CONFIG_BYTES else data.decode("utf-8-sig", errors="replace")
    return decode(data)[0]


def assert_inside(lines: LineIndex, range_: dict[str, Any], what: str) -> None:
    start = Position(range_["start"]["line"], range_["start"]["character"])
    end = Position(range_["end"]["line"], range_["end"]["character"])
    assert start <= end, f"{what}: range ends before it starts: {range_}"
    for position in (start, end):
        assert 0 <= position.line < lines.line_count, f"{what}: line outside the file: {range_}"
        length = len(lines.line_text(position.line))
        assert 0 <= position.character <= length, f"{what}: column past the line end: {range_}"


def assert_ranges_inside_files(site: Path, report: dict[str, Any]) -> None:
    texts: dict[str, LineIndex | None] = {}
    for finding in report["findings"]:
        path = finding["path"]
        if path not in texts:
            text = file_text(site, path)
            texts[path] = LineIndex(text) if text is not None else None
        lines = texts[path]
        if lines is None:
            # Only a file name that is not UTF-8 (reported with U+FFFD) cannot be reopened.
            assert "\ufffd" in path, f"a finding for a file that does not exist: {path}"
            continue
        what = f"{finding['code']} in {path}"
        assert_inside(lines, finding["range"], what)
        for edit in (finding["fix"] or {}).get("edits", []):
            if edit["path"] == path:
                assert_inside(lines, edit["range"], f"fix of {what}")


def build(case: HostileCase, root: Path, blobs: Callable[[str, Callable[[], bytes]], Path]) -> Path:
    site = copy_base_site(root)
    for relative, content in case.files.items():
        target = site / relative
        if callable(content):
            place(blobs(f"{case.name}:{relative}", content), target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    if case.setup is not None:
        case.setup(site)
    return site


def prose_lines(site: Path) -> dict[str, set[str]]:
    """Per review in `_posts/`, its plain prose lines (what no fix may remove)."""
    found: dict[str, set[str]] = {}
    for path in sorted((site / "_posts").glob("*.md")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = decode(path.read_bytes())[0]
        except OSError:
            continue
        found[path.name] = {line for line in text.splitlines() if _PROSE.match(line)}
    return found


def line_ends(text: str) -> tuple[bool, bool]:
    """Whether `text` has bare LF line ends, and whether it has any CR."""
    return re.search(r"(?<!\r)\n", text) is not None, "\r" in text


def read_target(site: Path, case: HostileCase) -> bytes | None:
    try:
        return (site / case.target).read_bytes()
    except OSError:
        return None


def _params() -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
        )
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_hostile_case(
    case: HostileCase,
    tmp_path: Path,
    blobs: Callable[[str, Callable[[], bytes]], Path],
    timings: dict[str, float],
) -> None:
    site = build(case, tmp_path / "site", blobs)
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    result, seconds = run_check(site, cwd=cwd)
    timings[case.name] = seconds
    report = parse_report(result)
    assert result.returncode in case.exit_codes
    assert_ranges_inside_files(site, report)
    mine = [f for f in report["findings"] if f["path"] == case.target]
    codes = {f["code"] for f in mine}
    summary = "\n".join(f"  {f['code']} {f['range']['start']} {f['message']}" for f in mine)
    assert case.codes <= codes, f"expected {sorted(case.codes)} on {case.target}, got:\n{summary}"
    assert not case.absent & codes, f"unexpected {sorted(case.absent & codes)}:\n{summary}"
    for code, line in case.lines.items():
        assert line in {f["range"]["start"]["line"] for f in mine if f["code"] == code}, summary
    for code, text in case.messages.items():
        assert any(text in f["message"] for f in mine if f["code"] == code), summary
    for finding in report["findings"]:
        for secret in case.secrets:
            assert secret not in finding["message"], finding
    assert seconds < case.budget, f"{case.name} took {seconds:.2f} s (budget {case.budget} s)"

    # --fix: text survives, and what could not be read is never rewritten. With no fix in the
    # report there is nothing `--fix` could write (it applies the fixes `check` reports).
    if not any(finding["fix"] for finding in report["findings"]):
        return
    before = read_target(site, case)
    prose = prose_lines(site)
    fixed, _ = run_check(site, "--fix", cwd=cwd)
    parse_report(fixed)
    after = read_target(site, case)
    if case.undecodable:
        assert after == before, "a file that could not be read exactly was rewritten"
    elif before is not None and after is not None:
        text = decode(after)[0]
        for kept in case.keep:
            assert kept in text, f"`{kept}` was lost by --fix"
        if after != before:  # a rewritten file keeps its line ends and its byte order mark
            bare_before, cr_before = line_ends(decode(before)[0])
            bare_after, cr_after = line_ends(text)
            if cr_before and not bare_before:
                assert not bare_after, "--fix wrote LF line ends into a CRLF or CR file"
            if bare_before and not cr_before:
                assert not cr_after, "--fix wrote CR into an LF file"
            for mark in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
                assert after.startswith(mark) == before.startswith(mark), "byte order mark lost"
    for name, lines in prose_lines(site).items():
        lost = prose.get(name, set()) - lines
        assert not lost, f"--fix removed {sorted(lost)[:3]} from {name}"
    assert not (cwd / "PWNED").exists() and not (site / "PWNED").exists(), "YAML ran code"


# -- usage errors ------------------------------------------------------------------------------


def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "no-site").mkdir()
    for target in (tmp_path / "missing", tmp_path / "no-site"):
        result = subprocess.run(
            [sys.executable, "-m", "letterhead", "check", "--format", "json", str(target)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("letterhead: ")


# -- containment -------------------------------------------------------------------------------

CONTAINMENT_REVIEW = """---
title: "Escape"
author: annaw
addressee: Rithy Panh
position: Director
image: ../../../../etc/passwd
tags: [letters]
categories: [reviews]
---
_**Dear Rithy Panh**, Director,_

[up](../../../etc/passwd), [absolute](/etc/passwd), [file](file:///etc/passwd),
[home](file:///root/.bashrc), ![poster](../../../../../etc/shadow) and
{% link ../../etc/passwd %} {% include ../../../etc/passwd %}

[ref]: ../../../../etc/hostname

See [the host][ref].

{% contentfor signature %}
Anna
{% endcontentfor %}
"""

CONTAINMENT_CONFIG = """title: Escape
permalink: /content/:year/:i_month/:i_day/:title.html
layouts_dir: ../../../../etc
data_dir: /etc
defaults:
  - scope: {path: "", type: posts}
    values: {layout: review}
letterhead:
  letter_layouts: [review]
  tags: {allowed: ../../../../etc/passwd}
  categories: {allowed: /etc/group}
  salutation: "{% include '/etc/passwd' %}{% render '../../../etc/passwd' %}{{ page.addressee }}"
"""

# Recorded by a Python audit hook inside the checker: every file opened and folder listed.
_AUDIT = """
import json, sys
events = []
recording = False
def hook(event, args):
    if not recording:
        return
    if event == "open" and isinstance(args[0], (str, bytes)):
        events.append(["open", str(args[0])])
    elif event in ("os.scandir", "os.listdir") and args and isinstance(args[0], (str, bytes)):
        events.append([event, str(args[0])])
    elif event.startswith(("socket.", "urllib.", "http.", "subprocess.", "os.exec", "os.system")):
        events.append([event, ""])
sys.addaudithook(hook)
from letterhead.cli import main
recording = True
code = main(sys.argv[1:])
recording = False
with open(sys.argv[-1] + "/../audit.json", "w") as out:
    json.dump(events, out)
raise SystemExit(code)
"""


def _allowed_outside(path: str) -> bool:
    """Files Python itself opens (modules, the time zone database), not the site's."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr/share/zoneinfo"}
    prefixes |= {entry for entry in sys.path if entry and os.path.isabs(entry)}
    real = os.path.realpath(path)
    return real in ("/etc/localtime", "/dev/null") or any(
        real.startswith(os.path.realpath(prefix)) for prefix in prefixes
    )


def test_nothing_outside_the_site_is_read_or_quoted(tmp_path: Path) -> None:
    site = copy_base_site(tmp_path / "site")
    (site / "_config.yml").write_text(CONTAINMENT_CONFIG, encoding="utf-8")
    (site / REVIEW).write_text(CONTAINMENT_REVIEW, encoding="utf-8")
    os.symlink("/etc/passwd", site / "_posts" / "2014-06-02-passwd.md")
    os.symlink("/etc", site / "images" / "etc")
    result = subprocess.run(
        [sys.executable, "-c", _AUDIT, "check", "--format", "json", str(site)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
    )
    report = parse_report(result)
    events = json.loads((tmp_path / "audit.json").read_text())
    assert [event for event in events if event[1] == ""] == [], "network or a process started"
    outside = [
        event
        for event in events
        if not os.path.realpath(event[1]).startswith(os.path.realpath(site))
        and not _allowed_outside(event[1])
    ]
    assert outside == [], "read outside the site root"
    assert any(event[0] == "open" and event[1].endswith(REVIEW) for event in events)

    messages = "\n".join(f["message"] for f in report["findings"])
    for secret in ("root:x:0:0", "root:", "daemon", "adduser", "PackageKit"):
        assert secret not in messages
    review_findings = [f for f in report["findings"] if f["path"] == REVIEW]
    by_code: dict[str, list[str]] = {}
    for finding in review_findings:
        by_code.setdefault(finding["code"], []).append(finding["message"])
    assert any("points outside the site" in m for m in by_code.get("FM010", [])), by_code
    assert any("/etc/passwd" in m for m in by_code.get("LK001", [])), by_code
    assert sum("file on the author's computer" in m for m in by_code.get("LK007", [])) == 2
    config = [f["message"] for f in report["findings"] if f["path"] == CONFIG]
    assert any("layouts_dir" in m and "climbs out of the site" in m for m in config), config
    assert sum("points outside the site" in m for m in config) == 2, config


# -- files that cannot be opened, or vanish while the site is read ----------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return copy_base_site(tmp_path / "site")


def test_an_unreadable_review_is_a_finding(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As root, `chmod 000` reads anyway (the corpus case covers it for other users), so the
    # refusal is simulated where the engine reads bytes.
    target = os.fspath(site / "_posts" / "2014-05-02-s21.md")
    open_file = os.open

    def refuse(path: Any, flags: int, *rest: Any) -> int:
        if os.fspath(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return open_file(path, flags, *rest)

    monkeypatch.setattr(os, "open", refuse)
    loaded = load_site(site)
    findings = check_site(loaded)
    unreadable = [f for f in findings if f.path == "_posts/2014-05-02-s21.md"]
    assert [(f.code, f.message) for f in unreadable] == [
        ("FL001", "the file cannot be read: Permission denied")
    ]


def test_files_deleted_while_indexing(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    discover = Site.discover

    def discover_then_delete(self: Site) -> list[Any]:
        found = discover(self)
        for path in ("_posts/2014-05-02-s21.md", "images/the-act-of-killing.jpg"):
            (self.root / path).unlink()
        shutil.rmtree(self.root / "_layouts")
        return found

    monkeypatch.setattr(Site, "discover", discover_then_delete)
    loaded = load_site(site)
    # And more vanishes between reading the site and running the rules.
    shutil.rmtree(site / "_data")
    shutil.rmtree(site / "images")
    (site / "_posts" / "2015-01-09-unseen.md").unlink()
    findings = check_site(loaded)
    vanished = [f for f in findings if f.path == "_posts/2014-05-02-s21.md"]
    assert [f.code for f in vanished] == ["FL001"]
    assert "No such file" in vanished[0].message


def test_a_review_deleted_before_fix_writes_is_left_alone(site: Path) -> None:
    from letterhead.cli import write_edits
    from letterhead.findings import TextEdit

    target = site / "_posts" / "2014-05-02-s21.md"
    target.unlink()
    edit = TextEdit("_posts/2014-05-02-s21.md", Range(Position(0, 0), Position(0, 0)), "x")
    assert write_edits(target, [edit], 2_000_000) is False
    assert not target.exists()


# -- random bytes as a review (hypothesis) ----------------------------------------------------

FRAGMENTS = [
    b"---\n",
    b"---\r\n",
    b"...\n",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b" ",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00",
    b"\xe9",
    b"\xf0\x9f\x8e\xac",
    b"title: ",
    b"tags: [",
    b"- ",
    b"&a ",
    b"*a",
    b"<<: ",
    b"!!python/object:os.system ",
    b'"',
    b"'",
    b":",
    b"[",
    b"]",
    b"(",
    b")",
    b"](/content/2014/5/2/s21.html)",
    b"[x]: /nowhere",
    b"#",
    b"> ",
    b"```",
    b"{% if x %}",
    b"{% endif %}",
    b"{% contentfor signature %}",
    b"{% raw %}",
    b"{{ page.title }}",
    b"_**Dear Rithy Panh**, Director,_",
    b"Letters",
]

raw_reviews = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=8), max_size=120).map(b"".join),
)


@pytest.fixture(scope="module")
def property_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield copy_base_site(tmp_path_factory.mktemp("property") / "site")


@settings(
    max_examples=int(os.environ.get("LETTERHEAD_EXAMPLES", "100")),  # more: explore further
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=raw_reviews)
def test_random_bytes_never_break_check(property_site: Path, data: bytes) -> None:
    (property_site / REVIEW).write_bytes(data)
    loaded = load_site(property_site)
    findings = check_site(loaded, [REVIEW])
    document = loaded.documents[REVIEW]
    lines = document.lines
    for finding in findings:
        if finding.path != REVIEW:
            continue
        for position in (finding.range.start, finding.range.end):
            assert position.line < lines.line_count
            assert position.character <= len(lines.line_text(position.line))
        assert lines.offset(finding.range.start) <= lines.offset(finding.range.end)
    # Safe fixes apply to the text without raising, and leave text the engine can parse.
    edits = [e for f in findings if f.fix and f.fix.safe for e in f.fix.edits if e.path == REVIEW]
    fixed, _ = apply_edits(document.text, edits)
    assert isinstance(fixed, str)


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
