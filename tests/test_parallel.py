"""Checking on several cores gives exactly the findings of one core."""

from __future__ import annotations

import importlib.util
import itertools
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from letterhead import indexer
from letterhead.cache import IndexCache
from letterhead.check import LoadedSite, check_site, load_site
from letterhead.cores import MIN_DOCUMENTS_PER_WORKER
from letterhead.indexer import _fingerprint, index_site
from letterhead.parallel import FEW_FILES, RUN, check_paths, runs_taken
from letterhead.site.model import EntryKind, Site, SourceFile

ROOT = Path(__file__).resolve().parent.parent


def generate(out: Path, reviews: int) -> None:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "bench" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate", module)
    spec.loader.exec_module(module)
    module.generate_site(out, reviews=reviews, seed=11)


def test_two_workers_find_what_one_process_finds(tmp_path: Path) -> None:
    site = tmp_path / "site"
    generate(site, 2 * MIN_DOCUMENTS_PER_WORKER + 50)
    loaded = load_site(site)
    serial = check_site(loaded, loaded.checked_paths())
    parallel, checked, _ = check_paths(site, [site], jobs=2)
    assert checked == loaded.checked_paths()
    assert serial, "the generator plants mistakes; the check found none"
    assert parallel == serial


def _take(documents: Any, taken: Any, pause: float, out: Any) -> None:
    took = []
    for document in runs_taken(documents, taken):
        took.append(document)
        time.sleep(pause)  # a core that runs slower
    out.send(took)


def test_workers_take_runs_of_files_as_they_are_ready_for_them() -> None:
    """Every file goes to exactly one worker, in runs of `RUN`, and a worker slowed down takes
    fewer: the other does the rest, rather than waiting for it at the end."""
    context = multiprocessing.get_context("fork")
    documents = list(range(40 * RUN + 7))
    taken = context.Value("q", 0)
    results = []
    for pause in (0.002, 0.0):
        receiver, sender = context.Pipe(duplex=False)
        context.Process(target=_take, args=(documents, taken, pause, sender)).start()
        results.append(receiver)
    slow, fast = (receiver.recv() for receiver in results)
    assert sorted(slow + fast) == documents
    for took in (slow, fast):
        runs = [took[i : i + RUN] for i in range(0, len(took), RUN)]
        assert all(run == list(range(run[0], run[0] + len(run))) for run in runs)
    assert len(slow) < len(fast) / 4, (len(slow), len(fast))


def test_a_subset_of_paths_is_checked_alone(tmp_path: Path) -> None:
    site = tmp_path / "site"
    generate(site, 2 * MIN_DOCUMENTS_PER_WORKER + 50)
    posts = sorted((site / "_posts").glob("*.md"))[:3]
    findings, checked, _ = check_paths(site, posts, jobs=2)
    assert checked == sorted(p.relative_to(site).as_posix() for p in posts)
    assert {f.path for f in findings} <= set(checked)


def test_the_servers_index_on_two_cores_is_the_one_of_load_site(tmp_path: Path) -> None:
    """`indexer.index_site` (the language server's cold index) keeps no parsed document, and its
    index, built from records made in a forked worker and here, is the one `load_site` builds."""
    site = tmp_path / "site"
    generate(site, 2 * MIN_DOCUMENTS_PER_WORKER + 50)
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
def test_a_worker_that_dies_halfway_leaves_the_rest_of_its_share_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    site = tmp_path / "site"
    generate(site, jobs * MIN_DOCUMENTS_PER_WORKER + 50)
    serial = load_site(site)
    work = indexer._worker

    def half_then_die(connection: Any, site: Any, sources: Any, share: range, *rest: Any) -> None:
        work(connection, site, sources, share[: len(share) // 2], *rest)
        raise SystemExit(1)  # the forked child exits with nothing more sent

    monkeypatch.setattr(indexer, "_worker", half_then_die)
    _same_index(index_site(site, jobs=jobs), serial)


@pytest.mark.parametrize("jobs", [2, 3])
def test_static_files_among_the_pages_are_indexed_in_the_sites_order(
    tmp_path: Path, jobs: int
) -> None:
    """Pages and static files of one folder are listed by name, mixed: the runs are cut by
    documents, so static files fall in every run, not only after the last document."""
    site = tmp_path / "site"
    generate(site, jobs * MIN_DOCUMENTS_PER_WORKER + 50)
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


def test_while_a_worker_is_slow_this_process_makes_the_static_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The static files come last in the order; this process makes their entries while it
    waits for a worker's records, and puts them in after every worker's."""
    site = tmp_path / "site"
    generate(site, 2 * MIN_DOCUMENTS_PER_WORKER + 50)
    serial = load_site(site)
    work = indexer._worker

    def slow(*arguments: Any) -> None:
        time.sleep(1.0)  # this process's own documents take a fraction of that
        work(*arguments)

    made: list[bool] = []
    batches = indexer._Receiver.batches

    def counting(receiver: Any, meanwhile: Any) -> Any:
        def counted() -> bool:
            made.append(meanwhile())
            return made[-1]

        return batches(receiver, counted)

    monkeypatch.setattr(indexer, "_worker", slow)
    monkeypatch.setattr(indexer._Receiver, "batches", counting)
    _same_index(index_site(site, jobs=2), serial)
    assert sum(made) == len(serial.index.statics) > 0


@pytest.mark.parametrize(
    ("documents", "statics", "jobs"),
    [
        (0, 0, 2),
        (0, 5, 2),
        (1, 0, 2),
        (10, 10, 2),
        (1000, 1000, 2),
        (1000, 3000, 3),
        (7, 0, 8),
        (20_004, 20_000, 2),
        (20_004, 0, 4),
        (500, 100_000, 2),
    ],
)
def test_shares_cover_every_file_once_and_balance_the_work(
    documents: int, statics: int, jobs: int
) -> None:
    """A site lists its static files after its documents. This process takes the first run of
    documents and the static files; each worker an equal run of documents, larger than this
    process's by what this process does besides parsing (every record put in, the static files'
    entries made), so that all end together."""
    sources = [
        SourceFile(f"_posts/{n}.md", EntryKind.POST, "posts", f"_posts/{n}.md")
        for n in range(documents)
    ] + [
        SourceFile(f"images/{n}.jpg", EntryKind.STATIC, None, f"images/{n}.jpg")
        for n in range(statics)
    ]
    bounds = indexer._shares(sources, jobs)
    assert len(bounds) == jobs + 1
    assert bounds[0][0] == 0 and bounds[-1][1] == len(sources)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(start <= end for start, end in bounds)
    held = [
        sum(1 for s in sources[start:end] if s.kind is not EntryKind.STATIC)
        for start, end in bounds
    ]
    own, *workers, tail = held
    assert tail == 0 and bounds[-1][1] - bounds[-1][0] == statics
    assert max(workers) - min(workers) <= 1
    # This process's parsing and its other work against a worker's parsing.
    other_work = documents * indexer._PUT_IN + statics * indexer._STATIC
    if own > 0:
        assert abs(own + other_work - max(workers)) <= 1
    else:  # its other work alone outweighs a worker's share
        assert other_work + 1 >= max(workers)


def test_a_few_files_are_checked_against_the_persistent_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pre-commit hook checks the files of a commit: the index then comes from the persistent
    index (written by the first run), and a change to another file still reaches the check."""
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LETTERHEAD_CACHE", raising=False)
    site = tmp_path / "site"
    generate(site, 2 * MIN_DOCUMENTS_PER_WORKER + 50)
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
