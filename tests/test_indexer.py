"""The language server's index through the persistent index: what is reused, what is read again.

Real files in a temporary site, a cache folder of the test's own; each start is a call of
`index_site_cached` as the server makes it, and each answer is compared with a fresh index.
"""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import pytest

from letterhead.indexer import index_site, index_site_cached
from letterhead.site.model import Status

BASE_SITE = Path(__file__).parent / "cases" / "base-site"
FUTURE_POST = "_posts/2030-06-01-not-yet.md"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LETTERHEAD_CACHE", raising=False)
    root = tmp_path / "site"
    shutil.copytree(BASE_SITE, root)
    (root / FUTURE_POST).write_text(
        "---\ntitle: Not Yet\nlayout: review\nauthor: annaw\ntags: [letters]\n---\nSoon.\n",
        encoding="utf-8",
    )
    return root


def start(root: Path, now: datetime.datetime | None = None) -> tuple[int, int, Status]:
    """Index as a server start does; (files read, files reused, the future post's status)."""
    indexed = index_site_cached(root, now=now)
    indexed.persist()
    fresh = index_site(root, now=now)
    assert indexed.loaded.index.documents == fresh.index.documents
    assert indexed.loaded.index.statics == fresh.index.statics
    entry = indexed.loaded.index.entry(FUTURE_POST)
    assert entry is not None
    return indexed.read, indexed.reused, entry.status


def test_a_second_start_reads_nothing(site: Path) -> None:
    read, reused, _ = start(site)
    assert read > 0 and reused == 0
    assert start(site)[:2] == (0, read)


def test_a_future_post_is_read_again_once_its_date_has_passed(site: Path) -> None:
    before = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    after = datetime.datetime(2031, 1, 1, tzinfo=datetime.UTC)
    read, _, status = start(site, now=before)
    assert status is Status.FUTURE
    read_again, reused, status = start(site, now=after)
    assert status is Status.BUILT
    assert (read_again, reused) == (1, read - 1)


def test_a_changed_configuration_makes_every_record_stale(site: Path) -> None:
    read, _, _ = start(site)
    config = site / "_config.yml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "permalink: /content/:year/:i_month/:i_day/:title.html", "permalink: /:title/"
        ),
        encoding="utf-8",
    )
    assert start(site)[:2] == (read, 0)


def test_a_file_touched_but_unchanged_is_read_again(site: Path) -> None:
    read, _, _ = start(site)
    review = site / "_posts" / "2014-05-02-s21.md"
    stamp = review.stat().st_mtime_ns + 1_000_000_000  # same bytes, a new modification time
    os.utime(review, ns=(stamp, stamp))
    assert start(site)[:2] == (1, read - 1)


def test_the_cache_can_be_turned_off(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read, _, _ = start(site)
    monkeypatch.setenv("LETTERHEAD_CACHE", "off")
    assert start(site)[:2] == (read, 0)


@pytest.mark.parametrize("workers", [1, 2])
def test_names_and_link_targets_are_shared_between_reviews(
    site: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Each review's tags, categories, short front matter values and link targets are one
    object per distinct string, however the records were made: in this process, by a worker
    (through a pickle) or from the persistent index (JSON)."""
    monkeypatch.setattr("letterhead.indexer.MIN_DOCUMENTS_PER_WORKER", 1)
    for number in range(40):
        (site / "_posts" / f"2021-03-{number % 28 + 1:02d}-shared-{number}.md").write_text(
            "---\ntitle: Shared\nauthor: annaw\ncategories: [reviews]\n"
            "tags: [letters, Slow Cinema]\n---\n"
            "See [the other one](/2021/03/01/shared-0.html).\n",
            encoding="utf-8",
        )
    for _ in range(2):  # a cold start, then one from the persistent index
        indexed = index_site_cached(site, jobs=workers)
        indexed.persist()
        records = [r for r in indexed.loaded.index.reviews() if "-shared-" in r.path]
        assert len(records) == 40
        for field in ("tags", "categories", "link_keys"):
            values = {id(value) for r in records for value in getattr(r, field)}
            distinct = {value for r in records for value in getattr(r, field)}
            assert len(values) == len(distinct), field
        authors = {id(r.entry.data["author"]) for r in records}
        assert len(authors) == 1
        assert len({id(tag) for r in records for tag in r.entry.tags}) == 2
    assert indexed.reused > 0
