"""Checking on several cores gives exactly the findings of one core."""

from __future__ import annotations

import itertools
import multiprocessing
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from letterhead import indexer
from letterhead.cache import IndexCache
from letterhead.check import LoadedSite, check_site, load_site, relative_paths
from letterhead.cores import MIN_DOCUMENTS_PER_WORKER, RUN, Runs
from letterhead.indexer import _fingerprint, index_site
from letterhead.parallel import FEW_FILES, check_paths
from letterhead.site.model import EntryKind, Site


def test_two_workers_find_what_one_process_finds(
    tmp_path: Path, generate_site: Callable[..., Any]
) -> None:
    site = tmp_path / "site"
    generate_site(site, reviews=2 * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    loaded = load_site(site)
    serial = check_site(loaded, loaded.checked_paths())
    parallel, checked, _ = check_paths(site, [site], jobs=2)
    assert checked == loaded.checked_paths()
    assert serial, "the generator plants mistakes; the check found none"
    assert parallel == serial


def _take(runs: Runs, pause: float, out: Any) -> None:
    took = []
    while (run := runs.take()) is not None:
        took.append(run)
        time.sleep(pause * len(run))  # a core that runs slower
    out.send(took)


@pytest.mark.parametrize("count", [0, 1, RUN, 40 * RUN + 7])
def test_processes_take_runs_of_files_as_they_are_ready_for_them(count: int) -> None:
    """Every file goes to exactly one process, in ascending runs of `RUN`, and a process slowed
    down takes fewer: the other does the rest, rather than waiting for it at the end."""
    context = multiprocessing.get_context("fork")
    runs = Runs(count)
    results = []
    for pause in (0.002, 0.0):
        receiver, sender = context.Pipe(duplex=False)
        context.Process(target=_take, args=(runs, pause, sender)).start()
        results.append(receiver)
    runs.close()
    assert runs.take() is None  # closed here, taken or not
    slow, fast = (receiver.recv() for receiver in results)
    for took in (slow, fast):
        assert [run.start for run in took] == sorted(run.start for run in took)
        assert all(len(run) == RUN for run in took if run.stop < count)
    assert sorted(p for run in slow + fast for p in run) == list(range(count))
    if count > 4 * RUN:
        assert sum(map(len, slow)) < sum(map(len, fast)) / 4, (slow, fast)


def test_a_site_of_millions_of_files_is_cut_into_runs_that_fit_a_pipe() -> None:
    """The runs wait in a pipe, written before any is taken: however many files, they fit in
    its smallest buffer, so writing them cannot block."""
    runs = Runs(50_000_000)
    starts = []
    while (run := runs.take()) is not None:
        starts.append(run.start)
    runs.close()
    assert starts == list(range(0, 50_000_000, runs.size))
    assert len(starts) * 4 <= 4096


def test_a_subset_of_paths_is_checked_alone(
    tmp_path: Path, generate_site: Callable[..., Any]
) -> None:
    site = tmp_path / "site"
    generate_site(site, reviews=2 * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    posts = sorted((site / "_posts").glob("*.md"))[:3]
    findings, checked, _ = check_paths(site, posts, jobs=2)
    assert checked == sorted(p.relative_to(site).as_posix() for p in posts)
    assert {f.path for f in findings} <= set(checked)


def test_the_servers_index_on_two_cores_is_the_one_of_load_site(
    tmp_path: Path, generate_site: Callable[..., Any]
) -> None:
    """`indexer.index_site` (the language server's cold index) keeps no parsed document, and its
    index, built from records made in a forked worker and here, is the one `load_site` builds."""
    site = tmp_path / "site"
    generate_site(site, reviews=2 * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    serial = load_site(site)
    indexed = index_site(site, jobs=2)
    assert indexed.documents == {}
    assert indexed.index.documents == serial.index.documents
    assert list(indexed.index.documents) == list(serial.index.documents)  # the same order
    assert indexed.index.statics == serial.index.statics
    assert dict(indexed.index.urls()) == dict(serial.index.urls())
    assert sorted(indexed.index.post_ids()) == sorted(serial.index.post_ids())
    assert indexed.index.tags.all() == serial.index.tags.all()
    # Findings computed from the kept index and parses read again from disk are the same.
    assert check_site(indexed) == check_site(serial)


def _same_index(indexed: LoadedSite, serial: LoadedSite) -> None:
    assert indexed.index.documents == serial.index.documents
    assert list(indexed.index.documents) == list(serial.index.documents)  # the same order
    assert indexed.index.statics == serial.index.statics
    assert list(indexed.index.statics) == list(serial.index.statics)
    assert dict(indexed.index.urls()) == dict(serial.index.urls())
    assert indexed.index.tags.all() == serial.index.tags.all()


@pytest.mark.parametrize("jobs", [2, 3])
def test_runs_a_worker_took_and_never_sent_are_parsed_here(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: int,
    generate_site: Callable[..., Any],
) -> None:
    site = tmp_path / "site"
    generate_site(site, reviews=jobs * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    serial = load_site(site)

    def one_run_then_die(connection: Any, site: Any, sources: Any, runs: Runs, *rest: Any) -> None:
        run = runs.take()
        if run is not None:
            scratch = indexer.SiteIndex(site)
            records = [indexer.summarize(site, scratch, sources[p], *rest) for p in run]
            connection.send((run.start, records))
        runs.take(), runs.take()  # taken, and never sent
        raise SystemExit(1)  # the forked child exits with nothing more sent

    monkeypatch.setattr(indexer, "_worker", one_run_then_die)
    _same_index(index_site(site, jobs=jobs), serial)


@pytest.mark.parametrize("refused", ["fork", "pipe"])
def test_a_system_that_refuses_a_process_or_a_pipe_gets_the_index_from_this_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    refused: str,
    generate_site: Callable[..., Any],
) -> None:
    site = tmp_path / "site"
    generate_site(site, reviews=2 * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    serial = load_site(site)

    def refuse(*_: Any) -> Any:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(indexer.os, refused, refuse)
    _same_index(index_site(site, jobs=2), serial)


def test_a_worker_slow_with_its_first_run_is_waited_for(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    generate_site: Callable[..., Any],
) -> None:
    """This process takes every run but the one a slow worker holds, keeping their records
    until that run's have come, and makes the static files' entries while it waits: all go in
    in the site's order."""
    site = tmp_path / "site"
    generate_site(site, reviews=2 * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    serial = load_site(site)
    work = indexer._worker

    class Slow:
        def __init__(self, runs: Runs) -> None:
            self.runs, self.first = runs, True

        def take(self) -> range | None:
            run = self.runs.take()
            if self.first:
                self.first = False
                time.sleep(1.0)  # this process's runs take a fraction of that
            return run

    def slow(connection: Any, site: Any, sources: Any, runs: Runs, *rest: Any) -> None:
        work(connection, site, sources, Slow(runs), *rest)

    monkeypatch.setattr(indexer, "_worker", slow)
    _same_index(index_site(site, jobs=2), serial)


@pytest.mark.parametrize("jobs", [2, 3])
def test_static_files_among_the_pages_are_indexed_in_the_sites_order(
    tmp_path: Path,
    jobs: int,
    generate_site: Callable[..., Any],
) -> None:
    """Pages and static files of one folder are listed by name, mixed: the runs are cut by
    documents, so static files fall in every run, not only after the last document."""
    site = tmp_path / "site"
    generate_site(site, reviews=jobs * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    for number in range(40):
        (site / f"p{number:02}.md").write_text(f"---\ntitle: Page {number}\n---\nText.\n")
        (site / f"p{number:02}.png").write_bytes(b"\x89PNG")
    # A page and a static file with one URL: the one put in last holds it, as Jekyll writes it.
    (site / "zz.md").write_text("---\npermalink: /zz.png\n---\nText.\n")
    (site / "zz.png").write_bytes(b"\x89PNG")
    serial = load_site(site)
    holder = serial.index.resolve_url("/zz.png")
    assert holder is not None and holder.path == "zz.png"
    listed = [s.kind is EntryKind.STATIC for s in Site.open(site).discover()]
    assert any(static and not after for static, after in itertools.pairwise(listed))
    _same_index(index_site(site, jobs=jobs), serial)


def test_a_few_files_are_checked_against_the_persistent_index(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    generate_site: Callable[..., Any],
) -> None:
    """A pre-commit hook checks the files of a commit: the index then comes from the persistent
    index (written by the first run), and a change to another file still reaches the check."""
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LETTERHEAD_CACHE", raising=False)
    site = tmp_path / "site"
    generate_site(site, reviews=2 * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    target = site / "_posts" / "2001-02-03-the-target.md"
    target.write_text(REVIEW.format(title="The Target", link="/"), encoding="utf-8")
    linking = site / "_posts" / "2001-02-04-the-letter.md"
    linking.write_text(
        REVIEW.format(title="The Letter", link="/content/2001/2/3/the-target.html"),
        encoding="utf-8",
    )
    loaded = load_site(site)
    flagged = sorted({f.path for f in check_site(loaded)} - {"_config.yml"})[:6]
    few = sorted({*flagged, "_posts/2001-02-04-the-letter.md"})
    expected = check_site(loaded, few)
    assert len(few) * FEW_FILES <= len(loaded.checked_paths())
    for _ in range(2):  # the first run writes the persistent index, the second reads it
        findings, checked, _ = check_paths(site, [site / path for path in few], jobs=2)
        assert checked == few
        assert findings == expected
    store = IndexCache.open(site, _fingerprint(Site.open(site)))
    assert store is not None
    assert len(store.load()) == len(loaded.index.documents) + len(loaded.index.statics)
    store.close()
    # The target moves: the letter's link is dead, although only the target changed.
    target.write_text(
        REVIEW.format(title="The Target", link="/").replace(
            "---\nBody", "permalink: /t/\n---\nBody"
        ),
        encoding="utf-8",
    )
    findings, _, _ = check_paths(site, [linking], jobs=2)
    before = sorted(f.code for f in expected if f.path == "_posts/2001-02-04-the-letter.md")
    assert "LK001" not in before
    assert sorted(f.code for f in findings) == sorted([*before, "LK001"])


REVIEW = """---
title: {title}
layout: review
author: annaw
tags: [letters]
---
Body, with [a link]({link}).
"""


# What is done to a site between the run of `letterhead check` that wrote its persistent index
# and the next, which names files: that one's findings must be the ones a check of the site as it
# is now finds, whichever way it took.
_TARGET = "_posts/2001-02-03-the-target.md"
_LETTER = "_posts/2001-02-04-the-letter.md"
_NEWCOMER = "_posts/2001-02-05-the-newcomer.md"
_TARGET_URL = "/content/2001/2/3/the-target.html"
_NEWCOMER_URL = "/content/2001/2/5/the-newcomer.html"
_MOVED = REVIEW.format(title="The Target", link="/").replace(
    "---\nBody", "permalink: /t/\n---\nBody"
)


class Changed(NamedTuple):
    writes: dict[str, str | None]  # text written (appended, to `_config.yml`), None: deleted
    named: list[str]  # the files named, site-relative; "*": every review, "*/3": every third
    listed_apart: bool  # the index read while a child listed the site (few files named, indexed)
    dead_link: bool  # whether the letter's link is dead now


_CHANGED_SINCE_INDEXED = {
    "nothing changed": Changed({}, [_LETTER, _TARGET], True, False),
    "the named review links nowhere now": Changed(
        {_LETTER: REVIEW.format(title="The Letter", link="/nowhere/")}, [_LETTER], True, True
    ),
    "the linked review moved": Changed({_TARGET: _MOVED}, [_LETTER], True, True),
    "the linked review is gone": Changed({_TARGET: None}, [_LETTER], True, True),
    "a review appeared where a link led nowhere": Changed(
        {
            _LETTER: REVIEW.format(title="The Letter", link=_NEWCOMER_URL),
            _NEWCOMER: REVIEW.format(title="The Newcomer", link=_TARGET_URL),
        },
        [_LETTER, _NEWCOMER],
        True,
        False,
    ),
    # An index of another configuration is not read: there is nothing to list apart for.
    "the configuration changed every URL": Changed(
        {"_config.yml": "permalink: /:title/\n"}, [_LETTER], False, True
    ),
    "a file that is not a review": Changed({}, ["_config.yml", _LETTER], True, False),
    # More than the index's files (images too) allow for: checked on every core at once.
    "every review named": Changed({}, ["*"], False, False),
    # Few against all of the site's files, but not against its reviews: the index is read,
    # the reviews counted, and checked on every core.
    "a third of the reviews named": Changed({}, ["*/3"], True, False),
    "a folder named": Changed({}, ["_posts"], False, False),
}


@pytest.fixture(scope="module")
def indexed_site(
    tmp_path_factory: pytest.TempPathFactory, generate_site: Callable[..., Any]
) -> Path:
    """A generated site with a review that links to another."""
    site = tmp_path_factory.mktemp("indexed") / "site"
    generate_site(site, reviews=2 * MIN_DOCUMENTS_PER_WORKER + 50, seed=11)
    (site / _TARGET).write_text(REVIEW.format(title="The Target", link="/"), encoding="utf-8")
    (site / _LETTER).write_text(REVIEW.format(title="The Letter", link=_TARGET_URL), "utf-8")
    return site


@pytest.mark.parametrize("case", list(_CHANGED_SINCE_INDEXED))
def test_files_named_after_the_site_changed_get_the_findings_of_the_site_now(
    case: str, indexed_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = _CHANGED_SINCE_INDEXED[case]
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LETTERHEAD_CACHE", raising=False)
    site = tmp_path / "site"
    shutil.copytree(indexed_site, site)
    check_paths(site, [site / _LETTER], jobs=2)  # writes the persistent index
    for path, text in changed.writes.items():
        if text is None:
            (site / path).unlink()
        elif path == "_config.yml":
            (site / path).write_text((site / path).read_text("utf-8") + text, "utf-8")
        else:
            (site / path).write_text(text, "utf-8")
    named = changed.named
    if named in (["*"], ["*/3"]):
        paths = sorted((site / "_posts").glob("*.md"))[:: 3 if named == ["*/3"] else 1]
    else:
        paths = [site / path for path in named]
    apart = indexer._Listing.apart
    listings: list[Site] = []

    def counted(site: Site) -> indexer._Listing:
        listings.append(site)
        return apart(site)

    monkeypatch.setattr(indexer._Listing, "apart", staticmethod(counted))
    findings, checked, _ = check_paths(site, paths, jobs=2)
    now = load_site(site)
    assert checked == relative_paths(now, paths)
    assert findings == check_site(now, checked)
    assert len(listings) == changed.listed_apart
    dead = {f.code for f in findings if f.path == _LETTER} & {"LK001"}
    assert bool(dead) == changed.dead_link
