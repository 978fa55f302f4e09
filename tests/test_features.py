"""Editor features, case by case: a review with the cursor `$0` and the expected answer beside it.

Cases live in `tests/cases/features/<feature>.yml` as data. Each runs in a copy of
`tests/cases/base-site` (plus the case's own `files:` and `config:`), with the review written at
`path` (default `_posts/2014-06-01-case.md`), the site loaded by `letterhead.check.load_site` as
the language server loads it. In the text, `$0` is the cursor and `«…»` marks ranges of the
document under test (a replaced word, a hover's range, a selection for code actions). Places
in any file are written `path:LINE covered text` (LINE counted from 1, the covered text exactly
what the range covers), so that a range one code point off on a line with accents or emoji fails.

Keys each feature understands are listed in `RUNNERS` below; adding a case is adding data.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import re
import shutil
import tempfile
import types
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letterhead import index as index_module
from letterhead.check import LoadedSite, entry_for, load_site
from letterhead.document import Document, fold, parse_document
from letterhead.features import catalog as catalog_module
from letterhead.features.actions import code_actions
from letterhead.features.catalog import (
    _LINES_PER_STEP,
    _SEARCH_LINES,
    VALUE_KEYS,
    Catalog,
    RankedValue,
    TextSearch,
    catalog_for,
    catalog_of,
    keep_up,
)
from letterhead.features.completion import complete, explain
from letterhead.features.folding import folding_ranges
from letterhead.features.hover import hover
from letterhead.features.links import document_links
from letterhead.features.markup import as_plain_text
from letterhead.features.navigation import definition, prepare_rename, references, rename
from letterhead.features.symbols import document_symbols, workspace_symbols
from letterhead.features.types import CompletionItem, Location, Symbol
from letterhead.findings import TextEdit
from letterhead.fixes import apply_edits
from letterhead.positions import LineIndex, Range, Span
from letterhead.site.model import EntryKind, SourceFile
from rendering import shown

CASES = Path(__file__).parent / "cases"
BASE_SITE = CASES / "base-site"
DEFAULT_PATH = "_posts/2014-06-01-case.md"
MARKS = re.compile(r"\$0|«|»")
PLACE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+)(?: (?P<covered>.*))?$", re.DOTALL)


@dataclass
class Case:
    feature: str
    name: str
    spec: dict[str, Any]


def load_cases() -> list[Case]:
    cases = []
    for file in sorted((CASES / "features").glob("*.yml")):
        content = yaml.safe_load(file.read_text(encoding="utf-8"))
        for spec in content["cases"]:
            cases.append(Case(file.stem, spec["name"], spec))
    return cases


def strip_marks(text: str) -> tuple[str, int | None, list[Span]]:
    """The text without marks, the cursor offset, and each «marked» span (code points)."""
    plain: list[str] = []
    spans: list[Span] = []
    cursor: int | None = None
    start: int | None = None
    position = 0
    offset = 0
    for match in MARKS.finditer(text):
        plain.append(text[offset : match.start()])
        position += match.start() - offset
        offset = match.end()
        if match.group() == "$0":
            cursor = position
        elif match.group() == "«":
            start = position
        else:
            assert start is not None, "» without «"
            spans.append(Span(start, position))
            start = None
    plain.append(text[offset:])
    return "".join(plain), cursor, spans


@dataclass
class Setup:
    site: LoadedSite
    path: str
    document: Document
    text: str
    cursor: int
    spans: list[Span]

    def covered(self, span: Span) -> str:
        return self.text[span.start : span.end]

    def file_text(self, path: str) -> str:
        if path == self.path:
            return self.text
        return (self.site.root / path).read_text(encoding="utf-8")

    def place(self, location: Location) -> str:
        """A location written as `path:LINE covered text`."""
        line = f"{location.path}:{location.range.start.line + 1}"
        if location.range.start == location.range.end:
            return line
        lines = LineIndex(self.file_text(location.path))
        span = lines.span(location.range)
        covered = lines.text[span.start : span.end]
        return f"{line} {covered}" if covered else line

    def applied(self, edits: dict[str, list[TextEdit]], path: str) -> str:
        text, _ = apply_edits(self.file_text(path), edits.get(path, []))
        return text


def build(tmp_path: Path, spec: dict[str, Any]) -> Setup:
    root = tmp_path / "site"
    shutil.copytree(BASE_SITE, root)
    for relative, content in (spec.get("files") or {}).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))
    if "config" in spec:
        config_path = root / "_config.yml"
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        config["letterhead"] = {**config.get("letterhead", {}), **spec["config"]}
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    path = spec.get("path", DEFAULT_PATH)
    raw = spec.get("text", "")
    if spec.get("crlf"):
        raw = raw.replace("\n", "\r\n")
    text, cursor, spans = strip_marks(raw)
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode("utf-8"))
    site = load_site(root)
    if spec.get("indexed") is False:
        site.index.remove(path)
    document = site.documents[path]
    if cursor is None:
        cursor = spans[0].start if spans else 0
    cursor += spec.get("cursor_shift", 0)
    return Setup(site, path, document, text, cursor, spans)


# -- runners -------------------------------------------------------------------------------------


def run_completion(setup: Setup, spec: dict[str, Any]) -> None:
    result = complete(setup.site, setup.path, setup.document, setup.cursor, spec.get("limit", 100))
    labels = [item.label for item in result.items]
    for item in result.items:
        span = item.replace_span
        assert span.start <= setup.cursor <= span.end, f"{item.label}: cursor outside {span}"
        assert 0 <= span.start <= span.end <= len(setup.text)
    assert len(labels) == len(set(labels)), f"duplicate labels: {labels}"
    if "labels" in spec:
        assert labels == spec["labels"]
    if "first" in spec:
        assert labels[: len(spec["first"])] == spec["first"], labels
    for label in spec.get("includes", []):
        assert label in labels, f"{label!r} not in {labels}"
    for label in spec.get("absent", []):
        assert label not in labels, f"{label!r} in {labels}"
    if "incomplete" in spec:
        assert result.incomplete is spec["incomplete"]
    if setup.spans:
        assert result.items, "no items to check the replaced range of"
        for item in result.items:
            assert setup.covered(item.replace_span) == setup.covered(setup.spans[0])
            assert item.replace_span == setup.spans[0], item.label
    by_label = {item.label: item for item in result.items}
    for label, insert in (spec.get("insert") or {}).items():
        assert by_label[label].insert_text == insert
    for label, wanted in (spec.get("detail") or {}).items():
        assert wanted in by_label[label].detail, by_label[label].detail
    for label, wanted in (spec.get("documentation") or {}).items():
        assert wanted in by_label[label].documentation, by_label[label].documentation
    for label, wanted in (spec.get("shows") or {}).items():
        documentation = by_label[label].documentation
        assert wanted in shown(documentation), (shown(documentation), documentation)
        assert wanted in as_plain_text(documentation), as_plain_text(documentation)
    for label, expected in (spec.get("applied") or {}).items():
        item = by_label[label]
        span = item.replace_span
        assert setup.text[: span.start] + item.insert_text + setup.text[span.end :] == expected
    for label in spec.get("snippets", []):
        assert by_label[label].is_snippet
    if "kind" in spec:
        assert {item.kind.value for item in result.items} == {spec["kind"]}
    explained_later(setup, spec, result.items)


def explained_later(setup: Setup, spec: dict[str, Any], items: list[CompletionItem]) -> None:
    """The same completion without its costly documentation (as an editor that asks for it
    item by item gets it): the same items, and `explain` writes the documentation left out."""
    later = complete(
        setup.site, setup.path, setup.document, setup.cursor, spec.get("limit", 100), False
    )
    assert [item.label for item in later.items] == [item.label for item in items]
    for eager, item in zip(items, later.items, strict=True):
        assert item.explanation == eager.explanation
        if item.explanation is None:
            assert item.documentation == eager.documentation, item.label
        else:
            assert item.documentation == "", item.label
            assert eager.documentation, item.label
            written = explain(setup.site, setup.path, item.explanation)
            assert written == eager.documentation, item.label


def run_hover(setup: Setup, spec: dict[str, Any]) -> None:
    result = hover(setup.site, setup.path, setup.document, setup.cursor)
    if spec.get("none"):
        assert result is None, result
        return
    assert result is not None, "no hover"
    for wanted in spec.get("contains", []):
        assert wanted in result.markdown, result.markdown
    for unwanted in spec.get("absent", []):
        assert unwanted not in result.markdown, result.markdown
    for wanted in spec.get("shows", []):
        assert wanted in shown(result.markdown), (shown(result.markdown), result.markdown)
        assert wanted in as_plain_text(result.markdown), as_plain_text(result.markdown)
    if setup.spans:
        assert setup.covered(result.span) == setup.covered(setup.spans[0])
        assert result.span == setup.spans[0]


def run_actions(setup: Setup, spec: dict[str, Any]) -> None:
    selection = setup.spans[0] if setup.spans else Span(setup.cursor, setup.cursor)
    findings = setup.site.check_document(setup.path, setup.document)
    actions = code_actions(setup.site, setup.path, setup.document, selection, findings)
    titles = [action.title for action in actions]
    if "titles" in spec:
        assert titles == spec["titles"]
    for title in spec.get("includes", []):
        assert title in titles, titles
    for title in spec.get("absent", []):
        assert title not in titles, titles
    by_title = {action.title: action for action in actions}
    for title, kind in (spec.get("kinds") or {}).items():
        assert by_title[title].kind.value == kind
    for title, expected in (spec.get("apply") or {}).items():
        assert setup.applied(by_title[title].edits, setup.path) == expected
    for action in actions:
        if action.kind.value == "quickfix":
            assert action.finding is not None and action.finding.fix is not None


def _places(setup: Setup, locations: list[Location]) -> list[str]:
    return [setup.place(location) for location in locations]


def run_definition(setup: Setup, spec: dict[str, Any]) -> None:
    locations = definition(setup.site, setup.path, setup.document, setup.cursor)
    assert _places(setup, locations) == spec.get("locations", [])


def run_references(setup: Setup, spec: dict[str, Any]) -> None:
    include = spec.get("include_declaration", True)
    locations = references(setup.site, setup.path, setup.document, setup.cursor, include)
    assert _places(setup, locations) == spec.get("locations", [])


def run_prepare_rename(setup: Setup, spec: dict[str, Any]) -> None:
    result = prepare_rename(setup.site, setup.path, setup.document, setup.cursor)
    if spec.get("none"):
        assert result is None
        return
    assert result is not None
    span, placeholder = result
    assert placeholder == spec["placeholder"]
    assert span == setup.spans[0], setup.covered(span)


def run_rename(setup: Setup, spec: dict[str, Any]) -> None:
    edits = rename(setup.site, setup.path, setup.document, setup.cursor, spec["new_name"])
    if spec.get("none"):
        assert edits is None
        return
    assert edits is not None
    if "edited" in spec:
        assert sorted(edits) == sorted(spec["edited"])
    for path, expected in (spec.get("after") or {}).items():
        assert expected in setup.applied(edits, path), setup.applied(edits, path)
    if "after_text" in spec:
        assert setup.applied(edits, setup.path) == spec["after_text"]


def _outline(setup: Setup, symbols: list[Symbol], depth: int = 0) -> Iterator[str]:
    for symbol in symbols:
        assert symbol.span.start <= symbol.selection_span.start
        assert symbol.selection_span.end <= symbol.span.end
        for child in symbol.children:
            assert symbol.span.start <= child.span.start and child.span.end <= symbol.span.end
        yield "  " * depth + f"{symbol.name} ({symbol.kind.value})"
        yield from _outline(setup, symbol.children, depth + 1)


def run_document_symbols(setup: Setup, spec: dict[str, Any]) -> None:
    symbols = document_symbols(setup.document, setup.site.settings)
    assert list(_outline(setup, symbols)) == spec["outline"]
    for name, covered in (spec.get("selections") or {}).items():
        found = [s for s in _flatten(symbols) if s.name == name]
        assert found and setup.covered(found[0].selection_span) == covered


def _flatten(symbols: list[Symbol]) -> Iterator[Symbol]:
    for symbol in symbols:
        yield symbol
        yield from _flatten(symbol.children)


def run_workspace_symbols(setup: Setup, spec: dict[str, Any]) -> None:
    found, incomplete = workspace_symbols(setup.site, spec["query"], spec.get("limit", 100))
    assert [symbol.name for symbol in found] == spec["names"]
    assert incomplete is spec.get("incomplete", False)
    for symbol in found:
        assert symbol.range == Range.point(symbol.range.start) and symbol.range.start.line == 0
    for name, detail in (spec.get("details") or {}).items():
        assert next(s.detail for s in found if s.name == name) == detail


def run_document_links(setup: Setup, spec: dict[str, Any]) -> None:
    links = document_links(setup.site, setup.path, setup.document)
    assert [f"{setup.covered(link.span)} -> {link.target}" for link in links] == spec["links"]


def run_folding(setup: Setup, spec: dict[str, Any]) -> None:
    ranges = folding_ranges(setup.document)
    assert [list(pair) for pair in ranges] == spec["ranges"]


RUNNERS: dict[str, Callable[[Setup, dict[str, Any]], None]] = {
    "completion": run_completion,
    "hover": run_hover,
    "actions": run_actions,
    "definition": run_definition,
    "references": run_references,
    "prepare_rename": run_prepare_rename,
    "rename": run_rename,
    "document_symbols": run_document_symbols,
    "workspace_symbols": run_workspace_symbols,
    "document_links": run_document_links,
    "folding": run_folding,
}

ALL_CASES = load_cases()


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _no_feature_errors() -> Iterator[None]:
    """A feature that hits a bug logs it and answers "nothing"; in tests that is a failure."""
    handler = _Failures()
    logger = logging.getLogger("letterhead.features")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    messages = [
        record.getMessage() + "\n" + logging.Formatter().formatException(record.exc_info)
        for record in handler.records
        if record.exc_info
    ]
    assert not handler.records, "\n".join(messages)


@pytest.fixture(autouse=True)
def features_never_fail() -> Iterator[None]:
    with _no_feature_errors():
        yield


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.feature}:{c.name}" for c in ALL_CASES])
def test_feature_case(tmp_path: Path, case: Case) -> None:
    setup = build(tmp_path, case.spec)
    RUNNERS[case.feature](setup, case.spec)


def test_every_feature_has_cases() -> None:
    assert {case.feature for case in ALL_CASES} == set(RUNNERS)


# -- robustness: every feature, at every offset of awkward texts, never fails -------------------

AWKWARD = [
    "",
    "---",
    "---\n",
    "---\ntags: [a, 'b\n",
    "---\ntags: [日本映画, 😀 émoji, kh\n---\n_**Dear 😀**, 映画,_\n",
    '---\r\ntitle: "Ça"\r\ntags:\r\n  - a\r\n  -\r\n---\r\n[x][y] [y]: {% post_url %}\r\n',
    "---\n: : :\n- [\n---\n{% contentfor signature %}\n{{ page. }}\n",
    "\ufeff---\ntitle: x\n---\n# 見出し 😀\n## b\n[a](</x y>) ![i](/images/the-act-of-killing.jpg)\n",
    "---\ntags: khmer rouge\ncategories: {a: b}\nimage: [x]\nimdb: 12\n---\n[1]: \n",
]


@pytest.mark.parametrize("text", AWKWARD, ids=range(len(AWKWARD)))
def test_no_feature_fails_at_any_offset(tmp_path: Path, text: str) -> None:
    setup = build(tmp_path, {"text": text})
    site, path, document = setup.site, setup.path, setup.document
    for offset in range(-1, len(document.text) + 3):
        complete(site, path, document, offset, limit=5)
        hover(site, path, document, offset)
        code_actions(site, path, document, Span(offset, offset + 2), [])
        definition(site, path, document, offset)
        references(site, path, document, offset)
        prepare_rename(site, path, document, offset)
        rename(site, path, document, offset, "new name")
    document_symbols(document)
    document_links(site, path, document)
    folding_ranges(document)
    workspace_symbols(site, "é😀")


# -- the catalog follows the index, incrementally -------------------------------------------------


def catalog_state(catalog: Catalog, site: LoadedSite) -> tuple[object, ...]:
    """Everything a catalog has made (building whatever it had not), to compare a catalog kept
    up to date with one made from scratch."""
    newest = catalog.newest_first()  # newest first, ties by path, undated last
    assert len(newest) == sum(1 for _ in site.index.reviews()) == site.index.review_count
    assert newest == sorted(newest, key=lambda r: (-r.stamp, r.path))
    latest = []  # the newest user of each name other than each review, remembered per name
    for key in ("tags", "categories"):
        for name in catalog.ranked_names(key):
            for exclude in (None, *site.index.documents):
                found = catalog.latest_user(key, name.text, exclude)
                users = catalog.newest_users(key, name.text, 1, exclude)  # not remembered
                assert found == (users[0].path if users else None)
                latest.append((key, name.text, exclude, found))
    searches = [catalog.search(field) for field in _SEARCH_LINES]
    for field, search in zip(_SEARCH_LINES, searches, strict=True):
        lines = ["\n" + _SEARCH_LINES[field](r).replace("\n", " ") for r in newest]
        assert search.records is newest
        assert search.text == "".join(lines)
        starts = list(itertools.accumulate(map(len, lines[:-1]), initial=0))[: len(lines)]
        assert [search.start(index) for index in range(len(lines))] == starts
    return (
        latest,
        [(n.text, n.count, n.variants) for n in catalog.ranked_names("tags")],
        [(n.text, n.count) for n in catalog.ranked_names("categories")],
        [(r.path, r.title, r.url, r.built, r.entry.data.get("stars")) for r in newest],
        [values_state(catalog, key) for key in VALUE_KEYS],
        catalog.images(site.settings.image_dirs),
        [(search.text, [search.start(i) for i in range(len(newest))]) for search in searches],
    )


def values_state(catalog: Catalog, key: str) -> list[RankedValue]:
    """A key's ranked values, checked against their counts, their order and their search."""
    ranked = catalog.ranked_values(key)
    assert [(value, count) for value, count, _ in ranked] == sorted(
        ((value, catalog.value_count(key, value)) for value, _, _ in ranked),
        key=lambda item: (-item[1], fold(item[0]), item[0]),
    )
    for typed in ("", "a", "e", "ga", "zo", "up a"):
        holding = list(catalog.values(key).holding(typed))
        assert holding == [item for item in ranked if typed in item[2]], typed
    return ranked


def add_review(site: LoadedSite, path: str, text: str) -> None:
    """Put a review into the index from its text, as an editor's change does."""
    document = parse_document(text)
    source = SourceFile(path, EntryKind.POST, "posts", path)
    site.index.add(entry_for(site.site, source, document, None), document)


def add_static(site: LoadedSite, path: str) -> None:
    """Put a static file into the index, as a file created outside the editor is."""
    source = SourceFile(path, EntryKind.STATIC, None, path)
    site.index.add(entry_for(site.site, source, None, None), None)


@contextlib.contextmanager
def base_site_with(module: object, name: str, value: object) -> Iterator[LoadedSite]:
    """A copy of the base site, loaded, with `module.name` set to `value` meanwhile (for a
    property test, which runs many times in one test's temporary folder)."""
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as temporary:
        patch.setattr(module, name, value)
        root = Path(temporary) / "site"
        shutil.copytree(BASE_SITE, root)
        yield load_site(root)


def test_catalog_updates_match_a_fresh_catalog(tmp_path: Path) -> None:
    """Re-adding, changing and removing documents leaves the cached lists exactly as a catalog
    built from scratch would make them."""
    setup = build(tmp_path, {"text": "---\ntitle: Case\ntags: [letters, zebra]\n---\nText.\n"})
    site = setup.site
    catalog = catalog_for(site.index)

    def snapshot(catalog: Catalog) -> tuple[object, ...]:
        return catalog_state(catalog, site)

    snapshot(catalog)  # build everything once, then change the index under it

    def add(path: str, text: str) -> None:
        add_review(site, path, text)

    add(setup.path, "---\ntitle: Case\ntags: [Letters, khmer rouge]\nposition: Gaffer\n---\n")
    snapshot(catalog)
    add(setup.path, "---\ntitle: A longer title, Çà 😀\nstars: 2\ntags: [Letters]\n---\n")
    add("_posts/2014-03-07-the-missing-picture.md", "---\ntitle: Shorter\nstars: 1\n---\n")
    assert snapshot(catalog) == snapshot(Catalog(site.index))
    add("_posts/2016-01-01-new.md", "---\ntitle: New\ntags: [zebra, cambodia]\n---\n")
    add("_posts/2014-05-02-s21.md", "---\ntitle: S21 again\ncategories: [on-video]\n---\n")
    add("_posts/2014-05-02-a-same-day.md", "---\ntitle: Same day\n---\n")
    add("_drafts/undated.md", "---\ntitle: Undated\n---\n")
    site.index.remove("_posts/2013-09-13-the-act-of-killing.md")
    site.index.remove("images/the-missing-picture.jpg")
    assert snapshot(catalog) == snapshot(Catalog(site.index))
    # Every document gone (its lists made while empty), then some back: the first refresh of
    # a catalog takes all documents at once, and so does this one.
    for path in list(site.index.documents):
        site.index.remove(path)
    assert snapshot(catalog) == snapshot(Catalog(site.index))
    add("_posts/2016-01-01-new.md", "---\ntitle: New\ntags: [zebra]\nposition: Gaffer\n---\n")
    add("_posts/2014-05-02-s21.md", "---\ntitle: S21\ntags: [Zebra]\n---\n")
    assert snapshot(catalog) == snapshot(Catalog(site.index))
    # The newest user of `zebra` unpublished, nothing else changed: an older built one comes
    # first now.
    add("_posts/2015-03-03-older.md", "---\ntitle: Older\ntags: [zebra]\n---\n")
    assert snapshot(catalog) == snapshot(Catalog(site.index))
    add("_posts/2016-01-01-new.md", "---\ntitle: New\ntags: [zebra]\npublished: false\n---\n")
    assert catalog.latest_user("tags", "zebra") == "_posts/2015-03-03-older.md"
    assert snapshot(catalog) == snapshot(Catalog(site.index))


def test_a_catalog_left_behind_by_edits_catches_up_and_lets_the_replaced_records_go(
    tmp_path: Path,
) -> None:
    """`keep_up`, as the server calls it after each edit it indexes: the catalog refreshes once
    the index changed `most_behind` times since it last did, not before, and then holds nothing
    of the records those changes replaced."""
    site = build(tmp_path, {"text": "---\ntitle: Case\n---\nText.\n"}).site
    assert not keep_up(site.index, most_behind=1)  # no catalog: none is made for it
    catalog = catalog_for(site.index)
    catalog_state(catalog, site)
    path = "_posts/2014-05-02-s21.md"
    replaced = site.index.documents[path]

    def held(record: object) -> bool:  # by anything but a frame of this test
        return any(not isinstance(r, types.FrameType) for r in gc.get_referrers(record))

    add_review(site, path, "---\ntitle: S21, again\ntags: [zebra]\n---\n")
    add_review(site, path, "---\ntitle: S21, once more\ntags: [zebra]\n---\n")
    # A review replaced is two changes (taken out, put in); a new one is one.
    assert not keep_up(site.index, most_behind=5)
    assert catalog.behind(4) and held(replaced)
    add_review(site, "_posts/2016-01-01-new.md", "---\ntitle: New\n---\n")
    assert keep_up(site.index, most_behind=5)
    assert not catalog.behind(1) and not held(replaced)
    assert catalog_state(catalog, site) == catalog_state(Catalog(site.index), site)


def test_a_catalog_taking_its_first_records_in_steps_is_left_to_them() -> None:
    """A catch-up would finish the first take at once (`refresh`), which the server takes a
    step at a time so that no request waits for all of it."""
    with base_site_with(catalog_module, "_RECORDS_PER_STEP", 1) as site:
        catalog = catalog_of(site.index)
        taking = catalog.taking()
        next(taking)
        edit_review(site, 0, (1, True, ["zebra"], [], None, None))  # a review added
        assert not keep_up(site.index, most_behind=1)
        assert next(taking, "done") is None  # steps are left to take


def test_more_removals_than_the_log_keeps_are_found_all_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "_CHANGE_LOG", 1)  # two kept, the rest dropped
    site = build(tmp_path, {"text": "---\ntitle: Case\n---\nText.\n"}).site
    catalog = catalog_for(site.index)
    catalog_state(catalog, site)
    posts = [path for path in site.index.documents if path.startswith("_posts/")][:3]
    assert len(posts) == 3
    for path in posts:
        site.index.remove(path)
    assert catalog_state(catalog, site) == catalog_state(Catalog(site.index), site)
    assert not set(posts) & {record.path for record in catalog.newest_first()}


# An edit to a review of `_posts` (numbered 0-3, a day of June 2014 in its name): a new or
# changed text with a date, a status, tags and categories, or the review removed.
catalog_edits = st.lists(
    st.tuples(
        st.integers(0, 3),  # which review
        st.one_of(
            st.none(),  # removed
            st.tuples(
                st.integers(1, 3),  # the day of its front matter's date (ties are likely)
                st.booleans(),  # published
                st.lists(st.sampled_from(["letters", "zebra", "Zebra"]), max_size=2),
                st.lists(st.sampled_from(["reviews", "on-video"]), max_size=2),
                st.sampled_from([None, "Gaffer", "gaffer", "Make-up artist"]),  # position
                st.sampled_from([None, "Zo", "Zora", "Zora W", "Anna"]),  # addressee
            ),
        ),
    ),
    max_size=12,
)


@pytest.mark.parametrize("few_moves", [0, 2, 32])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=catalog_edits, log_kept=st.sampled_from([1, 64]))
def test_any_edits_leave_the_catalog_as_a_fresh_one(
    few_moves: int,
    log_kept: int,
    edits: list[tuple[int, tuple[int, bool, list[str], list[str], str | None, str | None] | None]],
) -> None:
    """Reviews added, dated again, (un)published, retagged and removed, a few at a time, with
    every list and search built before each refresh: the catalog kept up to date answers as
    one made from scratch (with `few_moves` 0 every move rebuilds the order, with 32 none;
    with the index's log of removals cut short, the catalog looks for them itself)."""
    with (
        pytest.MonkeyPatch.context() as patch,
        base_site_with(catalog_module, "_FEW_MOVES", few_moves) as site,
    ):
        patch.setattr(index_module, "_CHANGE_LOG", log_kept)
        catalog = catalog_for(site.index)
        catalog_state(catalog, site)
        for batch in (edits[:4], edits[4:8], edits[8:]):
            for number, edit in batch:
                edit_review(site, number, edit)
            assert catalog_state(catalog, site) == catalog_state(Catalog(site.index), site)


def edit_review(
    site: LoadedSite,
    number: int,
    edit: tuple[int, bool, list[str], list[str], str | None, str | None] | None,
) -> None:
    """One of `catalog_edits`' edits made to the index."""
    path = f"_posts/2014-06-0{number % 3 + 1}-edited-{number}.md"
    if edit is None:
        site.index.remove(path)
        return
    day, published, tags, categories, position, addressee = edit
    values = "".join(
        f"{key}: {value}\n"
        for key, value in (("position", position), ("addressee", addressee))
        if value is not None
    )
    add_review(
        site,
        path,
        f"---\ntitle: Edited {number}\ndate: 2014-06-0{day}\n"
        f"published: {str(published).lower()}\ntags: [{', '.join(tags)}]\n"
        f"categories: [{', '.join(categories)}]\n{values}---\nText.\n",
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=catalog_edits,
    steps=st.lists(st.integers(0, 3), min_size=1, max_size=12),
    asked_after=st.integers(0, 12),
)
def test_a_catalog_taken_in_steps_answers_as_a_fresh_one(
    edits: list[tuple[int, tuple[int, bool, list[str], list[str], str | None, str | None] | None]],
    steps: list[int],
    asked_after: int,
) -> None:
    """The first take of every review a few documents a step (`Catalog.taking`, as the server
    makes it once the index is ready), with the index edited between steps and the catalog
    used before the last (which finishes it): it answers as a catalog made at once."""
    with base_site_with(catalog_module, "_RECORDS_PER_STEP", 2) as site:
        catalog = catalog_of(site.index)
        taking = catalog.taking()
        for at, (number, edit) in enumerate(edits):
            for _ in range(steps[at % len(steps)]):
                next(taking, None)
            edit_review(site, number, edit)
            if at == asked_after:
                assert len(catalog.newest_first()) == site.index.review_count
        assert catalog_state(catalog, site) == catalog_state(Catalog(site.index), site)
        assert next(taking, "done") == "done"
        assert list(catalog.taking()) == []  # a catalog that has taken everything takes no step


image_edits = st.lists(
    st.tuples(
        st.sampled_from(["images/", "assets/images/", "img/", "images/posters/", "other/"]),
        st.sampled_from(["a.jpg", "A.jpg", "b.png", "posters/a.jpg"]),
        st.booleans(),  # put in (else taken out)
    ),
    max_size=16,
)


@settings(max_examples=60, deadline=None)
@given(edits=image_edits, log_kept=st.sampled_from([1, 64]))
def test_the_image_lists_follow_static_files_as_they_come_and_go(
    edits: list[tuple[str, str, bool]], log_kept: int
) -> None:
    """Image files put in and taken out (one name in several folders, folders inside others,
    names folding alike): the images offered are the first folder's file of each name, sorted
    by folded name, as a catalog made from scratch offers them (with the index's log of
    changes cut short, the list is made again)."""
    dirs = ("images", "assets/images/", "img", "images/posters")
    with base_site_with(index_module, "_CHANGE_LOG", log_kept) as site:
        catalog = catalog_for(site.index)
        catalog.images(dirs)
        for batch in (edits[:5], edits[5:10], edits[10:]):
            for folder, name, present in batch:
                path = folder + name
                if present:
                    add_static(site, path)
                else:
                    site.index.remove(path)
            first: dict[str, tuple[int, str]] = {}
            for path in site.index.statics:
                for rank, prefix in enumerate(
                    ("images/", "assets/images/", "img/", "images/posters/")
                ):
                    if path.startswith(prefix):
                        name = path[len(prefix) :]
                        if name not in first or first[name][0] > rank:
                            first[name] = (rank, path)
                        break
            expected = sorted(
                ((name, path, fold(name)) for name, (_, path) in first.items()),
                key=lambda item: (item[2], item[0]),
            )
            assert catalog.images(dirs) == expected == Catalog(site.index).images(dirs)


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.text(alphabet="ab./-_ A", min_size=1, max_size=8), max_size=40),
    changes=st.lists(
        st.tuples(st.text(alphabet="ab./-_ A", min_size=1, max_size=8), st.booleans())
    ),
    typed=st.text(alphabet="ab./ ", max_size=3),
    slug=st.text(alphabet="ab ", max_size=3),
    limit=st.integers(1, 12),
)
def test_image_matches_are_the_best_matches_of_every_image(
    names: list[str],
    changes: list[tuple[str, bool]],
    typed: str,
    slug: str,
    limit: int,
) -> None:
    """The images offered for what is typed, found through ranges of the sorted names and a
    search of their text, are those a look at every image gives (`best_matches` of
    `match_class`, the image named after the review first), also after images come and go."""
    statics = {f"images/{name}" for name in names}
    images = catalog_module._Images(("images",), statics)
    images.matching("a", "", 1)  # its text search made, then kept up to date
    for name, present in changes:
        (statics.add if present else statics.discard)(f"images/{name}")
        images.changed(f"images/{name}", statics)
    typed, slug = fold(typed), fold(slug)

    def classify(image: tuple[str, str, str]) -> int | None:
        rank = catalog_module.match_class(image[2], typed)
        if rank is None:
            return None
        return 0 if slug and image[2].rsplit(".", 1)[0] == slug else rank + 1

    expected = catalog_module.best_matches(images.items, classify, limit, classes=4)
    assert images.matching(typed, slug, limit) == expected


@settings(max_examples=300, deadline=None)
@given(
    counts=st.dictionaries(st.text(alphabet="ab./-_ A", min_size=1, max_size=8), st.integers(1, 4)),
    typed=st.text(alphabet="ab./ ", max_size=3),
    left_out=st.text(alphabet="ab ", max_size=3),
    limit=st.integers(1, 12),
)
def test_the_values_offered_are_the_best_matches_of_every_value(
    counts: dict[str, int], typed: str, left_out: str, limit: int
) -> None:
    """A front matter value's completions, found through a search of the values' text (or,
    when few values hold what is typed, by a look at each of those), are those a look at every
    value gives (`best_matches` of `match_class`, most used first within a class), with the
    values the caller does not want left out."""
    typed = fold(typed)

    def wanted(item: RankedValue) -> bool:
        return item[0] != left_out

    def classify(item: RankedValue) -> int | None:
        return catalog_module.match_class(item[2], typed) if wanted(item) else None

    for few in (0, 400):  # the search always, then for these few values never
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(catalog_module, "_FEW_HOLDING", few)
            ranked = catalog_module.RankedValues(Counter(counts))
            expected = catalog_module.best_matches(ranked.items, classify, limit)
            assert ranked.best(typed, wanted, limit) == expected, few


_EDITS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace"]),
        st.integers(0, 10**6),
        st.text(alphabet="ab é", max_size=5),
    ),
    max_size=25,
)


@given(lines=st.lists(st.text(alphabet="ab é", max_size=5), max_size=30), edits=_EDITS)
def test_a_search_changed_line_by_line_answers_as_one_built_again(
    lines: list[str], edits: list[tuple[str, int, str]]
) -> None:
    """The changes a catalog makes to a search (a line put in, taken out or changed, anywhere,
    one after another) leave it finding what a search built from the changed lines finds."""
    lines = list(lines)
    search = TextSearch(lines, str.upper)
    for kind, where, line in edits:
        if kind == "insert":
            at = where % (len(lines) + 1)
            lines.insert(at, line)
            search.inserted(at, line.upper())
        elif lines:
            at = where % len(lines)
            if kind == "delete":
                del lines[at]
                search.deleted(at)
            else:
                lines[at] = line
                search.replace(at, line.upper())
        built = TextSearch(list(lines), str.upper)
        assert search.text == built.text
        assert [search.start(i) for i in range(len(lines))] == list(built.starts)
        for needle in ("A", "B", "AB", " ", "É", "\nA", re.compile("B+A")):
            assert list(search.occurrences(needle)) == list(built.occurrences(needle)), needle


@settings(max_examples=50, deadline=None)
@given(lines=st.lists(st.text(alphabet="ab\n é", max_size=6), max_size=4_500))
def test_a_search_built_in_steps_is_the_search_built_at_once(lines: list[str]) -> None:
    steps = TextSearch.building(lines, str.upper)
    taken = 0
    while True:
        try:
            next(steps)
            taken += 1
        except StopIteration as done:
            built = done.value
            break
    at_once = TextSearch(lines, str.upper)
    assert (built.text, built.starts, built.records) == (at_once.text, at_once.starts, lines)
    assert taken == len(lines) // _LINES_PER_STEP  # a step every so many lines, no more


def test_the_searches_built_while_quiet_are_the_ones_built_on_demand(tmp_path: Path) -> None:
    setup = build(tmp_path, {"text": "---\ntitle: Case\ntags: [letters]\n---\nText.\n"})
    index = setup.site.index
    catalog = catalog_for(index)
    image_dirs = setup.site.settings.image_dirs
    assert not catalog.searched(image_dirs)
    steps = catalog.searching(image_dirs)
    next(steps)  # a change of the index between two steps: the search then is dropped
    document = parse_document("---\ntitle: Newer\n---\n")
    path = "_posts/2016-01-01-new.md"
    source = SourceFile(path, EntryKind.POST, "posts", path)
    index.add(entry_for(setup.site.site, source, document, None), document)
    for _ in steps:
        pass
    assert not catalog.searched(image_dirs)
    for _ in catalog.searching(image_dirs):
        pass
    assert catalog.searched(image_dirs)
    fresh = Catalog(index)
    for field in _SEARCH_LINES:
        assert catalog.search(field).text == fresh.search(field).text
    assert "newer" in catalog.search("title").text
    for key in VALUE_KEYS:
        assert values_state(catalog, key) == values_state(fresh, key)
    assert catalog.images(image_dirs) == fresh.images(image_dirs)
    for typed in ("", "the", "k", "s21"):
        matches = catalog.image_matches(image_dirs, typed, "", 3)
        assert matches == fresh.image_matches(image_dirs, typed, "", 3)


@pytest.mark.parametrize("step", range(15))
def test_a_change_at_any_step_of_the_quiet_builds_drops_what_it_interrupts(
    tmp_path: Path, step: int
) -> None:
    """A review and an image put in at any step of `searching`: what was being built is
    dropped, what is built is kept up to date, and building again ends as a fresh catalog."""
    setup = build(tmp_path, {"text": "---\ntitle: Case\naddressee: Anna\n---\nText.\n"})
    index, image_dirs = setup.site.index, setup.site.settings.image_dirs
    catalog = catalog_for(index)
    steps = catalog.searching(image_dirs)
    for _ in itertools.islice(steps, step):
        pass
    add_static(setup.site, "images/zz-new-poster.jpg")
    add_review(setup.site, "_posts/2016-01-01-new.md", "---\ntitle: New\naddressee: Zora\n---\n")
    catalog.refresh()  # a request between two steps
    for _ in steps:  # the build interrupted goes on, and drops what it was making
        pass
    for _ in catalog.searching(image_dirs):  # which is made again
        pass
    assert catalog.searched(image_dirs)
    fresh = Catalog(index)
    assert catalog.images(image_dirs) == fresh.images(image_dirs)
    assert "zz-new-poster.jpg" in [name for name, _, _ in catalog.images(image_dirs)]
    assert ("Zora", 1, "zora") in catalog.ranked_values("addressee")
    assert catalog_state(catalog, setup.site) == catalog_state(fresh, setup.site)


# -- robustness: random texts --------------------------------------------------------------------

_ALPHABET = "-:[]{}#'\"*_|>!%&,.() \n\r\t\\$/abkrt0159éÇ日本😀"


@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory: pytest.TempPathFactory) -> LoadedSite:
    return build(tmp_path_factory.mktemp("fuzz"), {"text": "---\ntitle: x\n---\n"}).site


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.text(alphabet=_ALPHABET, max_size=80),
    front=st.text(alphabet=_ALPHABET, max_size=60),
    offset=st.integers(min_value=-5, max_value=200),
)
def test_no_feature_fails_on_random_text(
    fuzz_site: LoadedSite, body: str, front: str, offset: int
) -> None:
    text = f"---\ntitle: x\n{front}\n---\n{body}"
    document = parse_document(text)
    site, path = fuzz_site, DEFAULT_PATH
    with _no_feature_errors():
        complete(site, path, document, offset, limit=3)
        hover(site, path, document, offset)
        code_actions(site, path, document, Span(offset, offset + 3), [])
        definition(site, path, document, offset)
        references(site, path, document, offset)
        prepare_rename(site, path, document, offset)
        rename(site, path, document, offset, "z")
        document_symbols(document)
        document_links(site, path, document)
        folding_ranges(document)
