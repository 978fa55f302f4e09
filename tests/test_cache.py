"""The persistent index cache (letterhead.cache) on real sites and real files.

Every record of a site must come back from the cache exactly as it went in (types included:
`1 == True` and two datetimes of the same instant in different zones compare equal in Python,
so equality alone is not enough), and no cache file, however damaged or foreign, may make
`load` return anything but `{}` or stop the next save from working.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letterhead import cache
from letterhead.cache import CachedFile, IndexCache, Record
from letterhead.check import load_site
from letterhead.index import IndexedDocument
from letterhead.site.kinds import EntryKind, Status
from letterhead.site.model import Entry

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "site"
BOUNDED = settings(
    max_examples=int(os.environ.get("LETTERHEAD_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FINGERPRINT = cache.fingerprint_of(b"title: test\n")
Files = dict[str, tuple[int, int, Record]]


def open_cache(root: Path = EXAMPLE, fingerprint: str = FINGERPRINT) -> IndexCache:
    opened = IndexCache.open(root, fingerprint)
    assert opened is not None
    return opened


def records_of(root: Path) -> list[Record]:
    index = load_site(root).index
    documents: list[Record] = [(doc.entry, doc) for doc in index.documents.values()]
    return documents + [(entry, None) for entry in index.statics.values()]


def as_files(records: list[Record]) -> Files:
    return {
        entry.path: (len(entry.path) * 7, 1_700_000_000_000_000_000 + number, (entry, doc))
        for number, (entry, doc) in enumerate(records)
    }


# -- exact comparison -------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (zones, folds and float signs too)."""
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(
            same(getattr(a, field.name), getattr(b, field.name)) for field in dataclasses.fields(a)
        )
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(key_a, key_b) and same(value_a, value_b)
            for (key_a, value_a), (key_b, value_b) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, set | frozenset):
        return sorted(map(repr, a)) == sorted(map(repr, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, datetime.datetime):
        return (
            a.replace(tzinfo=None) == b.replace(tzinfo=None)
            and a.fold == b.fold
            and type(a.tzinfo) is type(b.tzinfo)
            and a.utcoffset() == b.utcoffset()
            and a.tzname() == b.tzname()
            and getattr(a.tzinfo, "key", None) == getattr(b.tzinfo, "key", None)
        )
    return bool(a == b)


def round_trip(files: Files) -> dict[str, CachedFile]:
    rows = [cache.encode_record(path, *fields) for path, fields in files.items()]
    return cache.decode_records("[" + ",".join(rows) + "]")


def assert_same_files(loaded: dict[str, CachedFile], files: Files) -> None:
    assert loaded.keys() == files.keys()
    for path, (size, mtime_ns, record) in files.items():
        got = loaded[path]
        assert (got.size, got.mtime_ns) == (size, mtime_ns)
        assert got.record == record, path
        assert same(got.record, record), path
        entry, doc = got.record
        assert doc is None or doc.entry is entry
        # Entries are never changed once built, so the decoder may share a list between the
        # front matter and `tags` or `categories` (and one empty list between entries).
        assert entry.tags == record[0].tags and entry.categories == record[0].categories


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(home))
    return home


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, generate_site: Callable[..., Any]) -> Files:
    out = tmp_path_factory.mktemp("generated") / "site"
    generate_site(out, reviews=200, seed=7)
    return as_files(records_of(out))


@pytest.fixture(scope="module")
def example() -> Files:
    return as_files(records_of(EXAMPLE))


TRICKY_CONFIG = """\
timezone: Europe/Berlin
collections:
  letters:
    output: true
defaults:
  - scope: {path: ""}
    values: {layout: review, 3: three}
"""
TRICKY_POST = """\
---
title: Tricky
date: 2014-03-30 02:30:00
premiere: 2013-09-01
screened: 2013-09-01 20:00:00+02:00
naive: 2013-09-01 20:00:00
utc: 2013-09-01 20:00:00Z
ratings: {1: one, 2.5: two, null: none, 2013-01-01: dated, "\\0m": tagged}
flags: {true: yes}
nested: {"\\0t": [1, 2]}
chosen: !!set {a, b}
ordered: !!omap [{a: 1}, {b: 2}]
blob: !!binary aGVsbG8=
far: .inf
big: 123456789012345678901234567890
tags: [one, 2, true, [nested]]
categories: "spaced out"
---
Body with a [link](/elsewhere/) and a heading.

## A heading
"""


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> Files:
    root = tmp_path_factory.mktemp("tricky")
    for relative, text in {
        "_config.yml": TRICKY_CONFIG,
        "_posts/2014-03-30-tricky.md": TRICKY_POST,
        "_posts/2014-04-01-plain.md": "---\ntitle: Plain\ntags: [a, b]\n---\nText.\n",
        "_letters/to-agnes.md": "---\ntitle: To Agnes\npublished: false\n---\nDear Agnes.\n",
        "about.md": '---\ntitle: "\\0about"\nempty: {}\npermalink: ""\n---\nAbout.\n',
        "notes.txt": "no front matter",
    }.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return as_files(records_of(root))


# -- round trips ------------------------------------------------------------------------------


def test_every_record_of_the_example_site_round_trips(example: Files) -> None:
    assert len(example) > 50
    assert_same_files(round_trip(example), example)


def test_every_record_of_a_generated_site_round_trips(generated: Files) -> None:
    assert sum(doc is not None for _, _, (_, doc) in generated.values()) >= 200
    assert_same_files(round_trip(generated), generated)


def test_unusual_front_matter_round_trips(tricky: Files) -> None:
    entry = tricky["_posts/2014-03-30-tricky.md"][2][0]
    # The site is what it is meant to be: the tagged codec, a named zone, a problem.
    assert not cache._is_plain(entry.data)
    assert isinstance(entry.date, datetime.datetime)
    assert isinstance(entry.date.tzinfo, zoneinfo.ZoneInfo)
    assert tricky["about.md"][2][0].problems
    loaded = round_trip(tricky)
    assert_same_files(loaded, tricky)
    data = loaded["_posts/2014-03-30-tricky.md"].record[0].data
    assert list(data["ratings"]) == [1, 2.5, None, datetime.date(2013, 1, 1), "\0m"]
    assert type(next(iter(data["flags"]))) is bool
    assert data["ordered"] == [("a", 1), ("b", 2)] and data["chosen"] == {"a", "b"}
    assert data["blob"] == b"hello" and data["nested"] == {"\0t": [1, 2]}


def test_the_cache_file_round_trips(example: Files, tricky: Files) -> None:
    files = {**example, **tricky}
    with open_cache() as opened:
        assert opened.load() == {}
        assert opened.replace_all(files)
    reopened = open_cache()
    assert_same_files(reopened.load(), files)
    reopened.close()


def scalars() -> st.SearchStrategy[Any]:
    zones = st.one_of(
        st.timezones(),
        st.builds(
            datetime.timezone,
            st.timedeltas(
                min_value=datetime.timedelta(hours=-23, minutes=-59),
                max_value=datetime.timedelta(hours=23, minutes=59),
            ),
        ),
        st.builds(
            datetime.timezone,
            st.timedeltas(min_value=datetime.timedelta(0), max_value=datetime.timedelta(hours=5)),
            st.text(max_size=5),
        ),
    )
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.sampled_from(["\0", "\0m", "\0t", "\ud800", "a|b", ""]),
        st.dates(),
        st.datetimes(),
        st.datetimes(timezones=zones),
        st.datetimes().map(lambda value: value.replace(fold=1)),
        st.binary(max_size=8),
    )


def keys() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(max_size=6),
        st.sampled_from(["\0", "\0m", "title"]),
        st.integers(),
        st.booleans(),
        st.none(),
        st.floats(allow_nan=False),
        st.dates(),
    )


def values() -> st.SearchStrategy[Any]:
    hashable = st.one_of(st.text(max_size=4), st.integers(-5, 5))
    return st.recursive(
        scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=3).map(tuple),
            st.dictionaries(keys(), children, max_size=4),
            st.dictionaries(st.text(max_size=4), children, max_size=4),
            st.sets(hashable, max_size=3),
            st.frozensets(hashable, max_size=3),
        ),
        max_leaves=12,
    )


@BOUNDED
@given(values())
def test_front_matter_values_round_trip_exactly(value: Any) -> None:
    text = json.dumps(cache.encode_value(value), ensure_ascii=True)
    assert same(cache.decode_value(json.loads(text)), value)


NOT_PLAIN = [
    {"a": (1,)},
    {"a": [{"b": {1: 2}}]},
    {"a": [[datetime.date(2020, 1, 1)]]},
    {1: "a"},
    {"a": {None: 1}},
    {"a": {"b": {"c": b"x"}}},
    {"a": [{"x"}]},
]


@pytest.mark.parametrize("data", NOT_PLAIN, ids=repr)
def test_front_matter_json_cannot_say_takes_the_tagged_form(data: dict[Any, Any]) -> None:
    assert not cache._is_plain(data)
    assert cache._is_plain({"a": [{"b": {"c": [1, 2.5, None, True, "\0m"]}}], "\0t": []})
    entry = Entry("a.md", EntryKind.PAGE, Status.BUILT, None, data)
    files: Files = {"a.md": (1, 2, (entry, None))}
    assert_same_files(round_trip(files), files)


@BOUNDED
@given(st.dictionaries(keys(), values(), max_size=5), st.datetimes(timezones=st.timezones()))
def test_records_with_any_front_matter_round_trip(data: dict[Any, Any], date: Any) -> None:
    entry = Entry("a/b.md", EntryKind.PAGE, Status.BUILT, "/a/b.html", data, date=date)
    doc = IndexedDocument(entry, ("x",), (), ("/c",), frozenset({"h"}))
    files: Files = {"a/b.md": (1, 2, (entry, doc))}
    assert_same_files(round_trip(files), files)


def test_values_that_cannot_be_exact_are_refused() -> None:
    class Text(str):
        pass

    for value in (Text("x"), object(), datetime.time(1, 2), _deep(200)):
        with pytest.raises((TypeError, ValueError)):
            cache.encode_value(value)
    entry = Entry("a.md", EntryKind.PAGE, Status.BUILT, "/a", {"when": object()})
    with pytest.raises(TypeError):
        cache.encode_record("a.md", 1, 2, (entry, None))
    odd = Entry("b.md", EntryKind.PAGE, Status.BUILT, "/b", {}, title=7)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cache.encode_record("b.md", 1, 2, (odd, None))


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def test_datetimes_keep_zone_name_and_fold() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    for value in (
        datetime.datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=berlin),
        datetime.datetime(2021, 10, 31, 2, 30, fold=0, tzinfo=berlin),
        datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-3))),
        datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(0), "GMT")),
        datetime.datetime(2021, 1, 1, 0, 0, 0, 5, tzinfo=datetime.UTC),
        datetime.datetime(1, 1, 1, fold=1),
    ):
        decoded = cache.decode_datetime(cache.encode_datetime(value))
        assert same(decoded, value), value


# -- the cache file ---------------------------------------------------------------------------


def test_changed_and_removed_files_are_saved(example: Files) -> None:
    opened = open_cache()
    assert opened.replace_all(example)
    paths = sorted(example)
    changed_path, removed_path = paths[0], paths[1]
    entry, doc = example[changed_path][2]
    edited = dataclasses.replace(entry, title="Edited", data={**entry.data, "stars": 1})
    edited_doc = None if doc is None else dataclasses.replace(doc, entry=edited)
    new_entry = Entry("new.md", EntryKind.PAGE, Status.BUILT, "/new.html", {"title": "New"})
    changed: Files = {
        changed_path: (5, 6, (edited, edited_doc)),
        "new.md": (7, 8, (new_entry, None)),
    }
    assert opened.save(changed, [removed_path, "never-cached.md"])
    opened.close()
    expected = {**example, **changed}
    del expected[removed_path]
    reopened = open_cache()
    assert reopened.size() == len(expected)
    assert_same_files(reopened.load(), expected)
    reopened.close()


def test_a_record_that_cannot_be_cached_is_forgotten(example: Files) -> None:
    opened = open_cache()
    assert opened.replace_all(example)
    path = next(iter(example))
    entry, _ = example[path][2]
    odd = dataclasses.replace(entry, data={"when": datetime.time(1, 2)})
    assert opened.save({path: (1, 2, (odd, None))})
    loaded = opened.load()
    assert path not in loaded and len(loaded) == len(example) - 1
    opened.close()


def cached_file(files: Files) -> Path:
    """A closed, checkpointed cache file for the example site holding `files`."""
    opened = open_cache()
    assert opened.replace_all(files)
    opened.close()
    path = cache.cache_path(EXAMPLE)
    assert path.is_file() and not Path(f"{path}-wal").exists()
    return path


def edit_rows(path: Path, edit: Any) -> None:
    connection = sqlite3.connect(path)
    with connection:
        edit(connection)
    connection.close()


def edit_one_record(path: Path, change: Any) -> None:
    def edit(connection: sqlite3.Connection) -> None:
        key, text = connection.execute(
            "SELECT path, record FROM files WHERE path LIKE '%.md' ORDER BY path LIMIT 1"
        ).fetchone()
        row = json.loads(text)
        change(row)
        connection.execute("UPDATE files SET record = ? WHERE path = ?", (json.dumps(row), key))

    edit_rows(path, edit)


def write_bytes(size: int) -> Any:
    def damage(path: Path) -> None:
        path.write_bytes(os.urandom(size))

    return damage


def truncate(fraction: float) -> Any:
    def damage(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return damage


def foreign(path: Path) -> None:
    path.unlink()
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE files (name TEXT, body BLOB);"
        "CREATE TABLE meta (key TEXT, value TEXT);"
        "CREATE VIEW names AS SELECT name FROM files;"
        "INSERT INTO files VALUES ('x', x'00');"
    )
    connection.close()


def setter(position: int, value: Any) -> Any:
    def change(row: list[Any]) -> None:
        row[position] = value

    return change


def set_meta(key: str, value: Any) -> Any:
    def damage(path: Path) -> None:
        edit_rows(
            path,
            lambda connection: connection.execute(
                "UPDATE meta SET value = ? WHERE key = ?", (value, key)
            ),
        )

    return damage


DAMAGE = {
    "random bytes": write_bytes(70_000),
    "a few random bytes": write_bytes(50),
    "empty file": write_bytes(0),
    "truncated to a tenth": truncate(0.1),
    "truncated to a half": truncate(0.5),
    "foreign database": foreign,
    "record not json": lambda path: edit_rows(
        path, lambda c: c.execute("UPDATE files SET record = '[1, 2' WHERE rowid = 1")
    ),
    "record of the wrong shape": lambda path: edit_rows(
        path, lambda c: c.execute("UPDATE files SET record = '{\"a\": 1}' WHERE rowid = 2")
    ),
    "record too short": lambda path: edit_one_record(path, lambda row: row.pop()),
    "title of the wrong type": lambda path: edit_one_record(path, setter(10, ["x"])),
    "unknown kind": lambda path: edit_one_record(path, setter(3, "poster")),
    "tags that are not strings": lambda path: edit_one_record(path, setter(12, ["a", 3])),
    "problem that is not a string": lambda path: edit_one_record(path, setter(16, [3])),
    "size that is not a number": lambda path: edit_one_record(path, setter(1, "12")),
    "derived value without a source": lambda path: edit_one_record(
        path, lambda row: row.__setitem__(6, {})
    ),
    "bad date": lambda path: edit_one_record(path, setter(8, "yesterday")),
    "unknown zone": lambda path: edit_one_record(
        path, setter(8, "2014-01-01T00:00:00|0|z:Nowhere")
    ),
    "zone that is a folder": lambda path: edit_one_record(
        path, setter(8, "2014-01-01T00:00:00|0|z:America")
    ),
    "unknown tag": lambda path: edit_one_record(path, setter(6, [{"\0q": []}])),
    "document of the wrong shape": lambda path: edit_one_record(path, setter(17, [[], []])),
    "link that is not a string": lambda path: edit_one_record(path, setter(17, [1, 1, [5], []])),
    "anchor that is not a string": lambda path: edit_one_record(path, setter(17, [1, 1, [], [5]])),
    "schema version": set_meta("schema", "0"),
    "letterhead version": set_meta("version", "0.0.0"),
    "other fingerprint": set_meta("fingerprint", "other"),
    "other root": set_meta("root", b"/elsewhere"),
    "meta missing": lambda path: edit_rows(path, lambda c: c.execute("DROP TABLE meta")),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=list(DAMAGE))
def test_a_damaged_cache_is_discarded_and_rebuilt(example: Files, damage: Any) -> None:
    path = cached_file(example)
    damage(path)
    opened = open_cache()
    assert opened.load() == {}
    assert opened.load() == {}  # emptied, not read again
    # The next save works: a few files, then the whole site.
    first = dict(list(example.items())[:3])
    assert opened.save(first)
    assert_same_files(opened.load(), first)
    assert opened.replace_all(example)
    opened.close()
    reopened = open_cache()
    assert_same_files(reopened.load(), example)
    reopened.close()


def test_a_full_rebuild_claims_any_file(example: Files) -> None:
    foreign(cached_file(example))
    opened = open_cache()
    assert opened.size() == 0
    assert opened.replace_all(example)  # without a load first
    assert opened.size() == len(example)
    assert_same_files(opened.load(), example)
    opened.close()


def test_a_cache_copied_from_another_site_is_not_used(example: Files, tmp_path: Path) -> None:
    source = cached_file(example)
    other = tmp_path / "other-site"
    other.mkdir()
    shutil.copyfile(source, cache.cache_path(other))
    opened = open_cache(other)
    assert opened.size() == 0
    assert opened.load() == {}
    opened.close()


def test_another_configuration_discards_and_blocks_stale_saves(example: Files) -> None:
    first = open_cache()
    assert first.replace_all(example)
    second = open_cache(fingerprint=cache.fingerprint_of(b"title: changed\n"))
    assert first.size() == len(example)
    assert second.size() == 0
    assert second.load() == {}
    # The older server's records were made under the old configuration: not mixed in.
    assert not first.save(dict(list(example.items())[:1]))
    assert first.load() == {}
    assert second.replace_all(example)
    assert_same_files(second.load(), example)
    first.close()
    second.close()


def test_a_busy_database_skips_the_save_and_still_reads(example: Files) -> None:
    opened = open_cache()
    assert opened.replace_all(example)
    other = sqlite3.connect(opened.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another server in the middle of a write
    try:
        assert not opened.save(dict(list(example.items())[:1]))
        assert_same_files(opened.load(), example)  # WAL: readers are not blocked
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert opened.save(dict(list(example.items())[:1]))
    opened.close()


def test_two_servers_share_a_cache(example: Files) -> None:
    """Two caches of one site (two servers) saving and loading at once: each load sees a whole
    state, never a mixture or an error."""
    caches = [open_cache(), open_cache()]
    assert caches[0].replace_all(example)
    paths = sorted(example)
    problems: list[str] = []

    def work(number: int, opened: IndexCache) -> None:
        for step in range(25):
            path = paths[(number * 25 + step) % len(paths)]
            size, mtime_ns, record = example[path]
            opened.save({path: (size, mtime_ns + step, record)})
            loaded = opened.load()
            if loaded.keys() != example.keys():
                problems.append(f"load {step} of server {number} saw {len(loaded)} files")

    threads = [
        threading.Thread(target=work, args=(number, opened)) for number, opened in enumerate(caches)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not problems
    for opened in caches:
        opened.close()


CRASHING_WRITER = """
import sys
from pathlib import Path
from letterhead.cache import IndexCache
from letterhead.check import load_site

root, fingerprint = Path(sys.argv[1]), sys.argv[2]
index = load_site(root).index
records = [(d.entry, d) for d in index.documents.values()]
records += [(entry, None) for entry in index.statics.values()]
states = [{e.path: (1, mtime, (e, d)) for e, d in records} for mtime in (1, 2)]
cache = IndexCache.open(root, fingerprint)
written = 0
while True:
    cache.replace_all(states[written % 2])
    written += 1
    if written == 2:
        print("writing", flush=True)
"""


def test_a_writer_killed_mid_write_leaves_a_whole_state(example: Files) -> None:
    """A server killed at any moment of a write (here: while it rewrites the whole cache in a
    loop) leaves the cache as it was before that write or after it, never between."""
    for _ in range(2):
        writer = subprocess.Popen(
            [sys.executable, "-c", CRASHING_WRITER, str(EXAMPLE), FINGERPRINT],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
            time.sleep(random.uniform(0.02, 0.15))
        finally:
            writer.kill()
            writer.wait()
        opened = open_cache()
        loaded = opened.load()
        opened.close()
        assert loaded.keys() == example.keys()
        assert len({cached.mtime_ns for cached in loaded.values()}) == 1


def test_a_closed_cache_is_inert(example: Files) -> None:
    opened = open_cache()
    opened.close()
    assert opened.size() == 0
    assert opened.load() == {}
    assert not opened.save(example)
    assert not opened.replace_all(example)
    opened.close()


def test_no_cache_where_the_folder_cannot_be_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(blocker / "cache"))
    assert IndexCache.open(EXAMPLE, FINGERPRINT) is None


def test_no_cache_where_the_file_cannot_be_opened() -> None:
    cache.cache_path(EXAMPLE).mkdir(parents=True)
    assert IndexCache.open(EXAMPLE, FINGERPRINT) is None


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes to read-only folders"
)
def test_no_cache_where_the_folder_is_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(folder))
    try:
        assert IndexCache.open(EXAMPLE, FINGERPRINT) is None
    finally:
        folder.chmod(0o700)


def test_cache_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("LETTERHEAD_CACHE_DIR")
    assert cache.cache_dir() == tmp_path / "xdg" / "letterhead"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "letterhead"
    # One file per site, the same through a link to it.
    link = tmp_path / "link"
    link.symlink_to(EXAMPLE)
    assert cache.cache_path(link) == cache.cache_path(EXAMPLE)
    assert cache.cache_path(tmp_path) != cache.cache_path(EXAMPLE)
    assert cache.cache_path(EXAMPLE).name.startswith("index-")


def test_fingerprints() -> None:
    assert cache.fingerprint_of(b"a") == cache.fingerprint_of(b"a")
    assert cache.fingerprint_of(b"a") != cache.fingerprint_of(b"b")
    assert cache.fingerprint_of(b"a", "x") != cache.fingerprint_of(b"a")
    assert cache.fingerprint_of(b"ax") != cache.fingerprint_of(b"a", "x")
