"""The language server's index through the persistent index: what is reused, what is read again.

Real files in a temporary site, a cache folder of the test's own; each start is a call of
`index_site_cached` as the server makes it, and each answer is compared with a fresh index.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import gc
import logging
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letterhead import cores, indexer, snapshot
from letterhead.cache import cache_path
from letterhead.index import SiteIndex
from letterhead.indexer import CachedIndex, index_site, index_site_cached
from letterhead.site.model import EntryKind, Site, SourceFile, Status

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
    # A cold start, then one from the persistent index's snapshot, then one from its records.
    for start_from in ("files", "snapshot", "records"):
        if start_from == "records":
            with contextlib.closing(sqlite3.connect(cache_path(site))) as connection:
                connection.execute("DELETE FROM snapshot")
                connection.commit()
        indexed = index_site_cached(site, jobs=workers)
        indexed.persist()
        assert indexed.from_snapshot == (start_from == "snapshot")
        records = [r for r in indexed.loaded.index.reviews() if "-shared-" in r.path]
        assert len(records) == 40
        for field in ("tags", "categories", "link_keys"):
            values = {id(value) for r in records for value in getattr(r, field)}
            distinct = {value for r in records for value in getattr(r, field)}
            assert len(values) == len(distinct), field
        authors = {id(r.entry.data["author"]) for r in records}
        assert len(authors) == 1
        assert len({id(tag) for r in records for tag in r.entry.tags}) == 2
        # None of them has a heading, and no static file has front matter defaults: one empty
        # set of anchors between them all, one empty front matter.
        assert len({id(r.anchors) for r in records}) == 1
        statics = indexed.loaded.index.statics.values()
        assert statics and len({id(e.data) for e in statics}) == 1
    assert indexed.reused > 0


# -- the snapshot: the built index itself, for a restart -------------------------------------

REVIEWS = 40  # enough that a few changed files are fewer than a quarter (the snapshot's limit)


def many_reviews(root: Path) -> None:
    for number in range(REVIEWS):
        write_review(root, number, ["letters", f"series {number % 3}"])


def write_review(root: Path, number: int, tags: list[str], title: str = "Many") -> None:
    listed = ", ".join(tags)
    (root / "_posts" / f"2021-04-{number % 28 + 1:02d}-many-{number}.md").write_text(
        f"---\ntitle: {title} {number}\nauthor: annaw\ntags: [{listed}]\n---\n"
        f"See [the first](/content/2021/4/1/many-0.html).\n\n## Part {number}\n",
        encoding="utf-8",
    )


def same_as_fresh(root: Path, indexed: CachedIndex) -> None:
    fresh = index_site(root)
    index = indexed.loaded.index
    assert index.documents == fresh.index.documents
    assert index.statics == fresh.index.statics
    assert dict(index.urls()) == dict(fresh.index.urls())
    assert sorted(index.post_ids()) == sorted(fresh.index.post_ids())
    assert index.tags.all() == fresh.index.tags.all()
    assert index.categories.all() == fresh.index.categories.all()
    assert index.review_count == fresh.index.review_count == sum(1 for _ in index.reviews())
    assert index.backlinks("_posts/2021-04-01-many-0.md") == fresh.index.backlinks(
        "_posts/2021-04-01-many-0.md"
    )


def test_a_second_start_comes_from_the_snapshot(site: Path) -> None:
    many_reviews(site)
    first = index_site_cached(site)
    first.persist()
    assert not first.from_snapshot
    second = index_site_cached(site)
    second.persist()
    assert second.from_snapshot and second.read == 0
    same_as_fresh(site, second)


@pytest.mark.parametrize("from_snapshot", [False, True], ids=["fresh", "snapshot"])
def test_the_index_kept_is_out_of_the_collectors_walks(site: Path, from_snapshot: bool) -> None:
    """A command keeps the index it is given until it exits; had the index stayed in the
    collector's youngest generation, the first collection (due at once: the count of new
    objects grows while the collector is paused) and the one at exit would each walk all of it
    (`letterhead tags` at 20,000 reviews: ~0.3 s of ~1 s)."""
    many_reviews(site)
    if from_snapshot:
        index_site_cached(site).persist()
    try:
        indexed = index_site_cached(site)
        assert indexed.from_snapshot is from_snapshot
        index = indexed.loaded.index
        entry = next(iter(index.documents.values())).entry
        walked = {id(thing) for thing in gc.get_objects()}  # every generation but the frozen
        assert id(index) not in walked and id(entry) not in walked
        assert gc.isenabled() and gc.get_count()[0] < 100
    finally:
        gc.unfreeze()


# Run in a process of its own: a start of the server, as far as the index goes.
_START = """
import sys
from pathlib import Path
from letterhead.indexer import index_site_cached
indexed = index_site_cached(Path(sys.argv[1]))
indexed.persist()
near = indexed.loaded.index.tags.near_miss("khmer rogue")
print(indexed.from_snapshot, near.text if near else None)
"""


def test_near_misses_survive_a_restart_in_another_process(site: Path) -> None:
    """The near-miss tables are keyed by string hashes, which each process salts its own way:
    an index restored from a snapshot written by another process must still find them."""
    many_reviews(site)
    answers = []
    for seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", _START, str(site)],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        answers.append(run.stdout.split())
    assert answers == [["False", "khmer", "rouge"], ["True", "khmer", "rouge"]]


def test_a_site_with_a_time_zone_starts_from_the_snapshot(site: Path) -> None:
    """Dates on a named zone's clock: the zone is stored by name (its own pickle would need
    `getattr`, which the snapshot's unpickler refuses)."""
    config = site / "_config.yml"
    config.write_text(config.read_text(encoding="utf-8") + "timezone: Europe/Berlin\n")
    many_reviews(site)
    index_site_cached(site).persist()
    second = index_site_cached(site)
    assert second.from_snapshot
    zones = {type(r.entry.date.tzinfo).__name__ for r in second.loaded.index.reviews()}
    assert zones == {"ZoneInfo"}
    same_as_fresh(site, second)


changes = st.lists(
    st.tuples(
        st.sampled_from(["edit", "delete", "add", "touch"]),
        st.integers(0, REVIEWS + 5),
        st.lists(st.sampled_from(["letters", "Letters", "noir", "series 1"]), max_size=3),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(changes, min_size=1, max_size=3))
def test_a_snapshot_brought_up_to_date_is_a_fresh_index(
    steps: list[list[tuple[str, int, list[str]]]],
) -> None:
    """Files edited, deleted, added or only touched between starts: each start from the
    snapshot answers as an index built from scratch."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / "site"
        shutil.copytree(BASE_SITE, root)
        many_reviews(root)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LETTERHEAD_CACHE_DIR", str(Path(temporary) / "cache"))
            patch.delenv("LETTERHEAD_CACHE", raising=False)
            index_site_cached(root).persist()
            for step in steps:
                for action, number, tags in step:
                    review = root / "_posts" / f"2021-04-{number % 28 + 1:02d}-many-{number}.md"
                    if action == "delete":
                        review.unlink(missing_ok=True)
                    elif action == "touch" and review.exists():
                        stamp = review.stat().st_mtime_ns + 1_000_000_000
                        os.utime(review, ns=(stamp, stamp))
                    elif action in ("edit", "add"):
                        write_review(root, number, tags, title=action.capitalize())
                indexed = index_site_cached(root)
                indexed.persist()
                assert indexed.from_snapshot
                same_as_fresh(root, indexed)


def _children() -> set[int]:
    """This process's child processes (Linux)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


@pytest.mark.skipif(
    not Path("/proc/self/task").exists() or not hasattr(os, "fork"), reason="Linux only"
)
def test_an_index_dropped_unpersisted_leaves_no_snapshot_child(site: Path) -> None:
    many_reviews(site)
    before = _children()
    indexed = index_site_cached(site)
    assert _children() - before  # the snapshot's child, pickling or waiting on its pipe
    del indexed
    assert _children() == before


def test_a_damaged_snapshot_is_set_aside(site: Path) -> None:
    many_reviews(site)
    read, _, _ = start(site)
    connection = sqlite3.connect(cache_path(site))
    connection.execute("UPDATE snapshot SET data = ?", (b"\x80\x05not a pickle" * 100,))
    connection.commit()
    connection.close()
    indexed = index_site_cached(site)
    indexed.persist()
    assert not indexed.from_snapshot and (indexed.read, indexed.reused) == (0, read)
    same_as_fresh(site, indexed)
    assert index_site_cached(site).from_snapshot  # the records' start wrote a new one


def test_a_snapshot_that_names_anything_else_is_refused_unread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Unpickling runs what a pickle names: a snapshot may name only what an index is made of.
    A refusal says why in the log (else an index that came to hold a new class would lose its
    snapshot at every start, unseen)."""
    planted = tmp_path / "planted"

    class Plant:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {planted}",))

    blob = pickle.dumps((1, 0, {}, Plant()), pickle.HIGHEST_PROTOCOL)
    with caplog.at_level(logging.WARNING, logger="letterhead.snapshot"):
        assert snapshot.loads(blob, Site.open(BASE_SITE)) is None
    assert not planted.exists()
    assert [r.getMessage() for r in caplog.records] == [
        "the persistent index's snapshot was refused: a snapshot may not hold posix.system"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="letterhead.snapshot"):
        assert snapshot.loads(b"\x80\x05garbage", Site.open(BASE_SITE)) is None
        assert snapshot.loads(pickle.dumps((1, 2)), Site.open(BASE_SITE)) is None
    assert len(caplog.records) == 2
    assert all("snapshot was refused" in r.getMessage() for r in caplog.records)


def test_what_the_index_derives_on_demand_stays_out_of_its_snapshot(site: Path) -> None:
    """Backlinks and the near-miss tables of dead-link suggestions, once built, are left out of
    the snapshot (their classes are not the unpickler's to know) and built again on demand."""
    many_reviews(site)
    loaded = index_site(site)
    index = loaded.index
    suggestion = index.suggest_url("/content/2021/4/1/mny-0.html")
    backlinks = index.backlinks("_posts/2021-04-01-many-0.md")
    assert suggestion is not None and backlinks
    sources = loaded.site.discover()
    restored = snapshot.loads(snapshot.dumps(index, sources, 0), Site.open(site))
    assert restored is not None
    assert restored.site_index.suggest_url("/content/2021/4/1/mny-0.html") == suggestion
    assert restored.site_index.backlinks("_posts/2021-04-01-many-0.md") == backlinks


def test_the_files_listed_apart_are_the_sites_own_list(site: Path) -> None:
    """On a restart a forked child lists the site while the snapshot is read; its rows must
    make exactly the SourceFiles `Site.discover` makes (kinds, collections, sizes, times)."""
    (site / "_drafts").mkdir(exist_ok=True)
    (site / "_drafts" / "a-draft.md").write_text("---\ntitle: D\n---\n", encoding="utf-8")
    (site / "notes.txt").write_text("no front matter", encoding="utf-8")
    model = Site.open(site)
    listing = indexer._Listing.apart(model)
    assert listing.digest() == snapshot.listing_digest(model.discover())
    assert indexer._Listing(model.discover()).digest() is None  # none made here
    assert listing.sources() == model.discover()
    assert listing.paths() == {source.path for source in model.discover()}


def test_a_restart_with_nothing_changed_compares_no_file(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing's digest is the snapshot's: the index is taken as it is, without the
    comparison file by file (which a change still gets)."""
    many_reviews(site)
    index_site_cached(site).persist()

    def compared(*arguments: object) -> list[int]:
        raise AssertionError("compared file by file")

    with monkeypatch.context() as patch:
        patch.setattr(indexer._Listing, "changed_since", compared)
        patch.setattr(snapshot.Snapshot, "stamps", compared)  # nor read the files' stamps
        unchanged = index_site_cached(site)
    unchanged.persist()
    assert unchanged.from_snapshot and unchanged.read == 0
    same_as_fresh(site, unchanged)
    write_review(site, 3, ["letters"], title="Changed")
    changed = index_site_cached(site)
    assert changed.from_snapshot and changed.read == 1


def test_a_snapshot_with_damaged_stamps_is_set_aside_when_they_are_needed(site: Path) -> None:
    """The stamps are read only when the listing differs; damaged, the records take over."""
    many_reviews(site)
    index_site_cached(site).persist()
    restored = snapshot.Snapshot.stamps

    def damaged(self: snapshot.Snapshot) -> dict[str, tuple[int, int]] | None:
        return restored(self._replace(stamped=b"\x80\x05not a pickle"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshot.Snapshot, "stamps", damaged)
        assert index_site_cached(site).from_snapshot  # nothing changed: not needed
        write_review(site, 3, ["letters"], title="Changed")
        indexed = index_site_cached(site)
    assert not indexed.from_snapshot and indexed.read == 1
    same_as_fresh(site, indexed)


def test_meanwhile_comes_before_the_snapshots_child_and_the_changes(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`meanwhile` gets a new index before the snapshot's child is forked, and a restart's
    index while the site is listed, before the files that changed are put in; what it builds
    there (the completion catalog, as the server does) follows the changes."""
    from letterhead.features.catalog import Catalog, catalog_for

    many_reviews(site)
    events: list[object] = []
    forking = indexer._snapshot_apart

    def fork(*arguments: Any) -> Any:
        events.append("fork")
        return forking(*arguments)

    monkeypatch.setattr(indexer, "_snapshot_apart", fork)
    first = index_site_cached(site, meanwhile=events.append)
    first.persist()
    assert events == [first.loaded.index, "fork"]
    events.clear()
    write_review(site, 3, ["letters", "a new tag"], title="Changed")
    (site / "_posts" / "2021-04-05-many-4.md").unlink()
    changed = "_posts/2021-04-04-many-3.md"

    def early_catalog(index: SiteIndex) -> None:
        events.append(index.documents[changed].title)  # as it was: not put in yet
        events.append(catalog_for(index))

    indexed = index_site_cached(site, meanwhile=early_catalog)
    assert indexed.from_snapshot and indexed.read == 1
    title_then, early, fork_of_the_changed_index = events
    assert (title_then, fork_of_the_changed_index) == ("Many 3", "fork")
    assert indexed.loaded.index.documents[changed].title == "Changed 3"
    assert isinstance(early, Catalog) and early.index is indexed.loaded.index
    assert catalog_for(indexed.loaded.index) is early  # kept, and brought up to date
    fresh = Catalog(indexed.loaded.index)
    assert [(n.text, n.count) for n in early.ranked_names("tags")] == [
        (n.text, n.count) for n in fresh.ranked_names("tags")
    ]
    assert [r.path for r in early.newest_first()] == [r.path for r in fresh.newest_first()]
    same_as_fresh(site, indexed)


_POST = "_posts/2021-04-01-a.md"
LISTED = [
    SourceFile(_POST, EntryKind.POST, "posts", _POST, 10, 1.0, 1),
    SourceFile("images/a.jpg", EntryKind.STATIC, None, "images/a.jpg", 20, 2.0, 2),
]


@pytest.mark.parametrize(
    "other",
    [
        [LISTED[1], LISTED[0]],  # another order
        LISTED[:1],  # a file gone
        [*LISTED, replace(LISTED[1], path="images/b.jpg", relative_path="images/b.jpg")],
        [replace(LISTED[0], size=11), LISTED[1]],
        [replace(LISTED[0], mtime_ns=3), LISTED[1]],
        [LISTED[0], replace(LISTED[1], kind=EntryKind.PAGE)],
        [replace(LISTED[0], path=_POST + "\0post\n" + "images/a.jpg"), LISTED[1]],
    ],
)
def test_a_listing_digest_changes_with_any_file(other: list[SourceFile]) -> None:
    assert snapshot.listing_digest(other) != snapshot.listing_digest(LISTED)
    assert snapshot.listing_digest(list(LISTED)) == snapshot.listing_digest(LISTED)


@pytest.mark.skipif(
    not Path("/proc/self/task").exists() or not hasattr(os, "fork"), reason="Linux only"
)
def test_a_restart_leaves_no_child_behind(site: Path) -> None:
    many_reviews(site)
    index_site_cached(site).persist()
    before = _children()
    second = index_site_cached(site)
    second.persist()
    assert second.from_snapshot
    assert _children() == before


def _fails_at_once(connection: Any, model: Site) -> None:
    raise RuntimeError("the child fails before it sends anything")


def _fails_after_its_digest(connection: Any, model: Site) -> None:
    connection.send_bytes(snapshot.listing_digest(model.discover()))
    raise RuntimeError("the child fails before its rows")


@pytest.mark.parametrize("lister", [_fails_at_once, _fails_after_its_digest])
def test_a_lister_that_fails_costs_only_its_time(
    site: Path, monkeypatch: pytest.MonkeyPatch, lister: Any
) -> None:
    many_reviews(site)
    index_site_cached(site).persist()
    review = site / "_posts" / "2021-04-02-many-1.md"
    review.write_text(review.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    monkeypatch.setattr(indexer, "_list_apart", lister)
    indexed = index_site_cached(site)
    indexed.persist()
    assert indexed.from_snapshot and indexed.read == 1
    same_as_fresh(site, indexed)


@pytest.mark.parametrize("at_once", [False, True], ids=["one after the other", "side by side"])
def test_both_writers_leave_a_snapshot_and_every_record(site: Path, at_once: bool) -> None:
    """A command persists with its two writers side by side (`at_once`), the language server
    one after the other: either way the next start has the snapshot, and without it, every
    record."""
    many_reviews(site)
    first = index_site_cached(site)
    first.persist(at_once=at_once)
    assert first.read > 0
    second = index_site_cached(site)
    second.persist()
    assert second.from_snapshot and second.read == 0
    connection = sqlite3.connect(cache_path(site))
    connection.execute("DELETE FROM snapshot")
    connection.commit()
    connection.close()
    third = index_site_cached(site)
    third.persist()
    assert not third.from_snapshot and (third.read, third.reused) == (0, first.read)
    same_as_fresh(site, third)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe buffers are Linux's")
def test_bulk_pipes_take_a_megabyte_before_the_writer_waits() -> None:
    # A worker must not wait on a parent that reads between parses: the whole send fits.
    reader, writer = cores.wide_pipe()
    try:
        allowed = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert fcntl.fcntl(writer.fileno(), fcntl.F_GETPIPE_SZ) == min(cores.PIPE_BYTES, allowed)
        os.set_blocking(writer.fileno(), False)
        writer.send_bytes(bytes(min(cores.PIPE_BYTES, allowed) - 64))  # would raise if full
        assert len(reader.recv_bytes()) == min(cores.PIPE_BYTES, allowed) - 64
    finally:
        reader.close()
        writer.close()


def test_what_an_editor_puts_in_the_index_before_the_write_stays_out_of_it(site: Path) -> None:
    # The language server writes the persistent index only once the editor pauses; by then an
    # editor's unsaved text may have replaced a review in the index. The disk's is written.
    many_reviews(site)
    first = index_site_cached(site)
    path = "_posts/2021-04-01-many-0.md"
    first.loaded.update(path, "---\ntitle: Unsaved\ntags: [only in the editor]\n---\n")
    assert first.loaded.index.documents[path].entry.title == "Unsaved"
    first.persist()
    connection = sqlite3.connect(cache_path(site))
    connection.execute("DELETE FROM snapshot")  # the records alone make the next index
    connection.commit()
    connection.close()
    second = index_site_cached(site)
    assert not second.from_snapshot and second.read == 0
    same_as_fresh(site, second)
