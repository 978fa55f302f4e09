"""A persistent cache of the site index, so that a restart re-reads only the files that changed.

Each indexed file is kept as one row of a SQLite database: its path, the size and modification
time it had when it was indexed, and its record (`Entry` plus `IndexedDocument`, or None for a
static file) as a compact JSON array. The caller compares size and mtime with the disk and
re-parses only the files that differ.

The cache is a convenience, never a source of truth, and never a reason to fail:

* It is read as untrusted input. No pickle or marshal: JSON with an explicit codec, and every
  value's type is checked while decoding. Anything unexpected (a foreign or truncated file, a row
  of the wrong shape, another schema, letterhead version, site or configuration) discards the
  whole cache, which is then rebuilt; no error reaches the caller.
* The decoded records equal the encoded ones exactly (front matter dates, time zones, tuples,
  sets, non-string keys included). A record the codec cannot represent exactly is left out of
  the cache, so that file is simply parsed again on the next start.
* Writes are single transactions in WAL mode: a crash leaves the old state or the new one.
  SQLite's locking lets two servers share a site's cache; a writer that finds the database busy
  skips its save rather than wait.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import hashlib
import json
import os
import sqlite3
import sys
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import letterhead
from letterhead.cachefolder import cache_dir
from letterhead.index import (
    NO_ANCHORS,
    NO_NAMES,
    IndexedDocument,
    Record,
    collector_paused,
    share_strings,
)
from letterhead.site.kinds import EntryKind, Status
from letterhead.site.model import Entry

__all__ = [
    "SCHEMA_VERSION",
    "CachedFile",
    "IndexCache",
    "Record",
    "cache_dir",
    "cache_path",
    "decode_records",
    "decode_value",
    "encode_record",
    "encode_rows",
    "encode_value",
    "fingerprint_of",
]

# Rows decoded per JSON parse when loading (see `IndexCache._read`).
_ROWS_PER_PARSE = 4_000
# Bump whenever the row layout or the codec changes: older files are then discarded.
SCHEMA_VERSION = 2  # 2: the snapshot table
_FALLBACK_VERSION = "unknown"
# Large pages make the bulk write of a whole site several times faster (fewer, fuller pages);
# a save of a few rows still touches only a page or two.
_PAGE_SIZE = 65536
# How long a write waits for another server's transaction before giving up on saving.
_BUSY_SECONDS = 0.5
# Deeper front matter than this is not cached (the YAML loader already refuses beyond 50).
_MAX_DEPTH = 100
# Keys of tagged values in the front matter codec start with NUL, which plain YAML keys
# practically never do; a plain mapping that has such a key is stored in the tagged form.
_TAG = "\0"


class CachedFile(NamedTuple):
    """One cached file: the size and mtime it had when indexed, and its record."""

    size: int
    mtime_ns: int
    record: Record


class CacheCorrupt(ValueError):
    """The cache's content is not what this version writes; it is discarded."""


# -- where ------------------------------------------------------------------------------------


def _real_root(root: Path) -> bytes:
    # Bytes, so that a root whose name is not valid UTF-8 still has one exact identity.
    return os.fsencode(os.path.realpath(root))


def cache_path(root: Path) -> Path:
    """The cache file of the site at `root`: one per site, named by a hash of its real path, so
    that a site reached through a link shares the cache and names never collide."""
    digest = hashlib.sha256(_real_root(root)).hexdigest()[:16]
    return cache_dir() / f"index-{digest}.sqlite3"


def fingerprint_of(config_bytes: bytes, extra: str = "") -> str:
    """A hash of what the records depend on besides each file (the site configuration, and
    whatever else the caller names in `extra`); a cache written under another is discarded."""
    digest = hashlib.sha256()
    digest.update(len(config_bytes).to_bytes(8, "big"))
    digest.update(config_bytes)
    digest.update(extra.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _version() -> str:
    version = getattr(letterhead, "__version__", None)
    return version if isinstance(version, str) else _FALLBACK_VERSION


# -- front matter values ----------------------------------------------------------------------

_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR_ONLY = frozenset({str})


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Whether `value` survives a JSON round trip unchanged: str-keyed dicts, lists and JSON
    scalars only. Nearly all front matter is plain and is then stored as is, which lets loading
    use the JSON parser alone. (Type checks run over whole containers in C where they can.)"""
    if depth > _MAX_DEPTH:
        return False
    kind = type(value)
    if kind is dict:
        if value and not _STR_ONLY.issuperset(map(type, value)):
            return False
        items: Iterable[Any] = value.values()
    elif kind is list:
        items = value
    else:
        return kind in _SCALARS
    if _SCALARS.issuperset(map(type, items)):
        return True
    deeper = depth + 1
    return all(_is_plain(item, deeper) for item in items if type(item) not in _SCALARS)


def encode_value(value: Any, depth: int = 0) -> Any:
    """A front matter value as JSON-ready data, with tags for what JSON cannot say: dates,
    datetimes, tuples, sets, bytes and mappings whose keys are not all plain strings.

    Types are matched exactly (a subclass would not come back as itself); anything else raises
    TypeError, and the record holding it is not cached."""
    if depth > _MAX_DEPTH:
        raise TypeError("front matter nested too deep to cache")
    kind = type(value)
    if kind in _SCALARS:
        return value
    deeper = depth + 1
    if kind is list:
        return [encode_value(item, deeper) for item in value]
    if kind is dict:
        if all(type(key) is str and not key.startswith(_TAG) for key in value):
            return {key: encode_value(item, deeper) for key, item in value.items()}
        pairs = [
            [encode_value(key, deeper), encode_value(item, deeper)] for key, item in value.items()
        ]
        return {_TAG + "m": pairs}
    if kind is tuple:
        return {_TAG + "t": [encode_value(item, deeper) for item in value]}
    if kind is set:
        return {_TAG + "s": [encode_value(item, deeper) for item in value]}
    if kind is frozenset:
        return {_TAG + "f": [encode_value(item, deeper) for item in value]}
    if kind is datetime.datetime:
        return {_TAG + "T": encode_datetime(value)}
    if kind is datetime.date:
        return {_TAG + "d": value.isoformat()}
    if kind is bytes:
        return {_TAG + "b": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot cache a {kind.__name__} value")


def decode_value(value: Any, depth: int = 0) -> Any:
    """The inverse of `encode_value`, checking every node: raises CacheCorrupt (or another
    ValueError/TypeError) on anything `encode_value` does not write."""
    if depth > _MAX_DEPTH:
        raise CacheCorrupt("front matter nested too deep")
    kind = type(value)
    if kind in _SCALARS:
        return value
    deeper = depth + 1
    if kind is list:
        return [decode_value(item, deeper) for item in value]
    if kind is not dict:
        raise CacheCorrupt(f"unexpected {kind.__name__} in front matter")
    if len(value) == 1:
        ((key, payload),) = value.items()
        if key.startswith(_TAG):
            return _decode_tagged(key[1:], payload, deeper)
    elif any(key.startswith(_TAG) for key in value):
        raise CacheCorrupt("a tag key among other keys")
    return {key: decode_value(item, deeper) for key, item in value.items()}


def _decode_tagged(tag: str, payload: Any, depth: int) -> Any:
    if tag in ("d", "T", "b"):
        if type(payload) is not str:
            raise CacheCorrupt("a tagged scalar that is not a string")
        if tag == "d":
            return datetime.date.fromisoformat(payload)
        if tag == "T":
            return decode_datetime(payload)
        return base64.b64decode(payload.encode("ascii"), validate=True)
    if type(payload) is not list:
        raise CacheCorrupt("a tagged collection that is not a list")
    if tag == "m":
        mapping = {}
        for pair in payload:
            if type(pair) is not list or len(pair) != 2:
                raise CacheCorrupt("a mapping entry that is not a pair")
            mapping[decode_value(pair[0], depth)] = decode_value(pair[1], depth)
        return mapping
    items = [decode_value(item, depth) for item in payload]
    if tag == "t":
        return tuple(items)
    if tag == "s":
        return set(items)
    if tag == "f":
        return frozenset(items)
    raise CacheCorrupt(f"unknown tag {tag!r}")


# -- datetimes --------------------------------------------------------------------------------


def encode_datetime(value: datetime.datetime) -> str:
    """`<naive ISO>|<fold>|<zone>`: the wall time, the fold, and the zone, where the zone is
    empty (naive), `z:<IANA key>` or `o:<seconds>:<microseconds>[:<name>]` (a fixed offset
    and its name when it is not the default one). Keeping the zone itself, not just the
    offset, keeps later arithmetic and `%Z` the same."""
    zone = value.tzinfo
    if zone is None:
        spec = ""
    elif type(zone) is zoneinfo.ZoneInfo and zone.key is not None:
        spec = "z:" + zone.key
    elif type(zone) is datetime.timezone:
        offset = zone.utcoffset(None)
        spec = f"o:{offset.days * 86400 + offset.seconds}:{offset.microseconds}"
        name = zone.tzname(None)
        if name != datetime.timezone(offset).tzname(None):
            spec += ":" + name
    else:
        raise TypeError(f"cannot cache the time zone {zone!r}")
    return f"{value.replace(tzinfo=None).isoformat()}|{value.fold}|{spec}"


def decode_datetime(text: str) -> datetime.datetime:
    """The inverse of `encode_datetime`; raises ValueError (KeyError or OSError for a zone that
    cannot be found) on text it does not write."""
    wall, fold, spec = text.split("|", 2)
    naive = datetime.datetime.fromisoformat(wall)
    if naive.tzinfo is not None or fold not in ("0", "1"):
        raise CacheCorrupt("a malformed datetime")
    return naive.replace(tzinfo=_zone(spec), fold=int(fold))


@functools.lru_cache(maxsize=64)
def _zone(spec: str) -> datetime.tzinfo | None:
    """The zone of an `encode_datetime` spec; remembered, as a site has one or two zones but
    thousands of distinct dates."""
    if not spec:
        return None
    if spec.startswith("z:"):
        return zoneinfo.ZoneInfo(spec[2:])
    if spec.startswith("o:"):
        parts = spec[2:].split(":", 2)
        if len(parts) < 2:
            raise CacheCorrupt("a malformed offset")
        offset = datetime.timedelta(seconds=int(parts[0]), microseconds=int(parts[1]))
        return datetime.timezone(offset, parts[2]) if len(parts) == 3 else datetime.timezone(offset)
    raise CacheCorrupt("an unknown time zone form")


# -- records ----------------------------------------------------------------------------------
#
# A record is one JSON array, in `Entry`'s field order after three file fields:
#
#   [path, size, mtime_ns, kind, status, url, data, collection, date, slug, title,
#    categories, tags, post_id, output_path, output_ext, problems, document]
#
# `data` is the front matter as JSON when it is plain, else `[encode_value(data)]`; `date` is
# `encode_datetime` text; `document` is null for a static file, else
# `[tags, categories, link_keys, anchors]`. Values that usually repeat others are written as
# the number 1: `title`, `categories` and `tags` equal to the front matter's own, `output_path`
# equal to the URL without its leading `/`, and the document's tags and categories equal to the
# entry's. That makes the file about a quarter smaller, and loading shares those strings.

_DERIVED = 1
_KINDS = {kind.value: kind for kind in EntryKind}
_STATUSES = {status.value: status for status in Status}
_KIND_VALUES = {kind: kind.value for kind in EntryKind}
_STATUS_VALUES = {status: status.value for status in Status}
_NONE: type = type(None)
_OPTIONAL: frozenset[type] = frozenset({str, _NONE})
# The types each position of a record array may hold before derived values are replaced by 1.
_FIELD_TYPES: tuple[frozenset[type], ...] = (
    frozenset({str}),  # path
    frozenset({int}),  # size
    frozenset({int}),  # mtime_ns
    frozenset({str}),  # kind
    frozenset({str}),  # status
    _OPTIONAL,  # url
    frozenset({dict, list}),  # data
    _OPTIONAL,  # collection
    _OPTIONAL,  # date
    _OPTIONAL,  # slug
    _OPTIONAL,  # title
    frozenset({list}),  # categories
    frozenset({list}),  # tags
    _OPTIONAL,  # post_id
    _OPTIONAL,  # output_path
    _OPTIONAL,  # output_ext
    frozenset({list}),  # problems
    frozenset({list, _NONE}),  # document
)
# What the decoder accepts: the same, and an int where a derived value may stand (title,
# categories, tags, output_path).
_DERIVABLE = (10, 11, 12, 14)
_STORED_TYPES = tuple(
    types | {int} if position in _DERIVABLE else types
    for position, types in enumerate(_FIELD_TYPES)
)


def _valid_shape(shape: tuple[type, ...], allowed: tuple[frozenset[type], ...]) -> bool:
    return len(shape) == len(allowed) and all(t in a for t, a in zip(shape, allowed, strict=True))


def _strings(values: list[Any]) -> list[Any]:
    """`values`, checked to hold only strings (`str.join` does the check in C, for speed)."""
    "".join(values)
    return values


def encode_record(path: str, size: int, mtime_ns: int, record: Record) -> str:
    """One record as compact JSON text. Raises (TypeError, ValueError) for a record that would
    not come back equal, or that the decoder would refuse; such a record is not cached."""
    entry, document = record
    if entry.path != path:
        raise ValueError("the record is not the file's")
    data = entry.data
    if type(data) is not dict:
        raise TypeError("front matter that is not a dict")
    date = entry.date
    row: list[Any] = [
        path,
        size,
        mtime_ns,
        _KIND_VALUES[entry.kind],
        _STATUS_VALUES[entry.status],
        entry.url,
        data if _is_plain(data) else [encode_value(data)],
        entry.collection,
        None if date is None else _encode_entry_date(date),
        entry.slug,
        entry.title,
        entry.categories,
        entry.tags,
        entry.post_id,
        entry.output_path,
        entry.output_ext,
        entry.problems,
        None if document is None else _encode_document(entry, document),
    ]
    # The decoder's own checks, so that nothing is written that would discard the whole cache.
    shape = tuple(map(type, row))
    if shape not in _WRITTEN_SHAPES:
        if not _valid_shape(shape, _FIELD_TYPES):
            raise TypeError("a record field of an unexpected type")
        _WRITTEN_SHAPES.add(shape)
    for values in (entry.categories, entry.tags, entry.problems):
        if values:
            _strings(values)
    _derive(row, data)
    return _ENCODER.encode(row)


# Shapes of record arrays already found valid: a handful, against a check per field per record.
_WRITTEN_SHAPES: set[tuple[type, ...]] = set()
# ASCII only, so that any string (lone surrogates included) fits a TEXT column; no circularity
# check, as `_is_plain` and `encode_value` already refuse structures nested too deep.
_ENCODER = json.JSONEncoder(ensure_ascii=True, check_circular=False, separators=(",", ":"))


def _derive(row: list[Any], data: dict[Any, Any]) -> None:
    """Replace the values that repeat others by the marker (see the layout above)."""
    for position, key in ((10, "title"), (11, "categories"), (12, "tags")):
        source = data.get(key)
        value = row[position]
        if value is not None and type(source) is type(value) and value == source:
            row[position] = _DERIVED
    url, output_path = row[5], row[14]
    if output_path is not None and url is not None and output_path == url[1:]:
        row[14] = _DERIVED


def _encode_entry_date(date: datetime.datetime) -> str:
    if type(date) is not datetime.datetime:
        raise TypeError("an entry date that is not a datetime")
    return encode_datetime(date)


def _encode_document(entry: Entry, document: IndexedDocument) -> list[Any]:
    if document.entry is not entry and document.entry != entry:
        raise ValueError("the document's entry is not the record's")
    if (
        type(document.tags) is not tuple
        or type(document.categories) is not tuple
        or type(document.link_keys) is not tuple
        or type(document.anchors) is not frozenset
    ):
        raise TypeError("document fields of an unexpected type")
    tags: Any = _strings(list(document.tags))
    categories: Any = _strings(list(document.categories))
    return [
        _DERIVED if tags == entry.tags else tags,
        _DERIVED if categories == entry.categories else categories,
        _strings(list(document.link_keys)),
        _strings(list(document.anchors)),
    ]


def decode_records(text: str) -> dict[str, CachedFile]:
    """Records from the JSON array text of many `encode_record` results; raises CacheCorrupt
    (or another of `_DECODE_ERRORS`) on anything else.

    This is the hot loop of a warm start (one pass per file, 40,000 at 20,000 reviews), so it
    is written flat: the checks that repeat per record are C calls (`map(type, ...)` against
    shapes already seen, `str.join` for lists of strings), and what repeats across records
    (array shapes, datetimes) is checked or decoded once."""
    rows = json.loads(text)
    if type(rows) is not list:
        raise CacheCorrupt("not an array of records")
    shapes: set[tuple[type, ...]] = set()
    last_shape: tuple[type, ...] = ()
    dates: dict[str, datetime.datetime] = {}
    kinds, statuses, join, intern = _KINDS, _STATUSES, "".join, sys.intern
    make_entry, make_document, make_file = Entry, IndexedDocument, _cached_file
    files: dict[str, CachedFile] = {}
    for row in rows:
        if type(row) is not list:
            raise CacheCorrupt("a record that is not an array")
        shape = tuple(map(type, row))
        # Neighbouring rows mostly share a shape, and comparing two tuples of the same types
        # is quicker than hashing one.
        if shape != last_shape:
            if shape not in shapes:
                if not _valid_shape(shape, _STORED_TYPES):
                    raise CacheCorrupt("a record of the wrong shape")
                shapes.add(shape)
            last_shape = shape
        (
            path,
            size,
            mtime_ns,
            kind,
            status,
            url,
            data,
            collection,
            date,
            slug,
            title,
            categories,
            tags,
            post_id,
            output_path,
            output_ext,
            problems,
            document,
        ) = row
        if type(data) is list:
            data = _decode_front_matter(data)
        if date is not None:
            known = dates.get(date)
            if known is None:
                known = dates[date] = decode_datetime(date)
            date = known
        # Derived values: an int in the array (the shape check allows no other int there).
        if type(title) is int:
            title = data.get("title")
            if type(title) is not str:
                raise CacheCorrupt("a derived title without its source")
        if type(categories) is int:
            categories = data.get("categories")
            if type(categories) is not list:
                raise CacheCorrupt("derived categories without their source")
        if type(tags) is int:
            tags = data.get("tags")
            if type(tags) is not list:
                raise CacheCorrupt("derived tags without their source")
        if type(output_path) is int:
            if url is None:
                raise CacheCorrupt("a derived output path without a URL")
            output_path = url[1:]
        # Lists of strings only (`str.join` checks that in C). Most are empty: one shared empty
        # list each (entries are never mutated), which saves a few MiB over a large site's
        # static files.
        if categories:
            join(categories)
        else:
            categories = _NO_NAMES
        if tags:
            join(tags)
        else:
            tags = _NO_NAMES
        if problems:
            join(problems)
        else:
            problems = _NO_NAMES
        entry = make_entry(
            path,
            kinds[kind],
            statuses[status],
            url,
            data,
            collection,
            date,
            slug,
            title,
            categories,
            tags,
            post_id,
            output_path,
            output_ext,
            problems,
        )
        if document is None:
            indexed = None
        else:
            if len(document) != 4:
                raise CacheCorrupt("a document of the wrong shape")
            doc_tags, doc_categories, link_keys, anchors = document
            if type(doc_tags) is int:
                doc_tags = tags
            elif type(doc_tags) is list:
                join(doc_tags)
            else:
                raise CacheCorrupt("document tags of the wrong type")
            if type(doc_categories) is int:
                doc_categories = categories
            elif type(doc_categories) is list:
                join(doc_categories)
            else:
                raise CacheCorrupt("document categories of the wrong type")
            if type(link_keys) is not list or type(anchors) is not list:
                raise CacheCorrupt("document links or anchors of the wrong type")
            if link_keys:
                join(link_keys)
            if anchors:
                join(anchors)
            # One copy of each name and link target, as when indexing: the entry's lists are
            # interned in place, and the tags and categories derived from them share that.
            share_strings(entry)
            indexed = make_document(
                entry,
                tuple(doc_tags),
                tuple(doc_categories),
                tuple(map(intern, link_keys)),
                frozenset(anchors) if anchors else NO_ANCHORS,
            )
        files[path] = make_file((size, mtime_ns, (entry, indexed)))
    return files


_NO_NAMES = NO_NAMES

# A `CachedFile` from a 3-tuple, skipping the named tuple's own `__new__` (a Python function,
# called once per record).
_cached_file = functools.partial(tuple.__new__, CachedFile)


def _decode_front_matter(stored: list[Any]) -> dict[Any, Any]:
    if len(stored) != 1:
        raise CacheCorrupt("tagged front matter of the wrong shape")
    data = decode_value(stored[0])
    if type(data) is not dict:
        raise CacheCorrupt("front matter that is not a mapping")
    return data


# -- the database -----------------------------------------------------------------------------

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    # A rowid table: rows average about 800 bytes, too large to sit well in a key b-tree.
    "CREATE TABLE files (path TEXT PRIMARY KEY, record TEXT NOT NULL)",
    # At most one row: the built index, pickled (`letterhead.snapshot`).
    "CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 0), data BLOB NOT NULL)",
)
# SQLite's codes for a file that is not a database, or is damaged beyond reading.
_UNREADABLE = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OSError,
    RecursionError,
    OverflowError,
)


def _sqlite_code(error: sqlite3.Error) -> int:
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


class IndexCache:
    """The cache file of one site, open for reading and writing.

    No method raises: `load` answers `{}` and empties a cache it cannot trust, writes answer
    False when they did not happen, and a cache that cannot be repaired closes itself and stays
    inert for the rest of the session. Methods may be called from any thread, one at a time.
    """

    def __init__(self, path: Path, root: Path, fingerprint: str) -> None:
        self.path = path
        self._meta: dict[str, Any] = {
            "schema": str(SCHEMA_VERSION),
            "version": _version(),
            "root": _real_root(root),
            "fingerprint": fingerprint,
        }
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    # -- opening --------------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path, fingerprint: str) -> IndexCache | None:
        """The cache of the site at `root`, or None when the cache folder or file cannot be
        created or opened (the caller then works without a cache)."""
        try:
            path = cache_path(root)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            cache = cls(path, root, fingerprint)
            try:
                cache._connection = cache._connect()
            except sqlite3.Error as error:
                if _sqlite_code(error) not in _UNREADABLE:
                    return None
                cache._connection = cache._recreate()  # not a database at all: start anew
        except (sqlite3.Error, OSError, RuntimeError, ValueError):
            return None
        return cache

    def _connect(self) -> sqlite3.Connection:
        """A connection with the cache's settings, to a file with tables in it (ours if it had
        none; a foreign or stale file is emptied by `load`). Raises sqlite3.Error when the file
        cannot be used."""
        connection = sqlite3.connect(
            self.path, timeout=_BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
        try:
            # Takes effect only for a new, empty file; must come before WAL.
            connection.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
            # WAL: readers never block the writer, and a commit is atomic. NORMAL: no fsync per
            # commit; a power cut may lose the last commits, never consistency (and losing a
            # cache only costs one full index).
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
            connection.execute("PRAGMA synchronous = NORMAL")
            if not connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall():
                # A new file; the write lock is taken only then, so that opening never waits
                # for another server's long write.
                connection.execute("BEGIN IMMEDIATE")
                try:
                    if not connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall():
                        self._create(connection)
                    connection.execute("COMMIT")
                finally:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
        except BaseException:
            connection.close()
            raise
        return connection

    def _create(self, connection: sqlite3.Connection) -> None:
        for statement in _SCHEMA:
            connection.execute(statement)
        connection.executemany("INSERT INTO meta VALUES (?, ?)", self._meta.items())

    def _recreate_tables(self, connection: sqlite3.Connection) -> None:
        """Drop every table and view (ours, stale or foreign) and create ours, empty; inside
        the caller's write transaction."""
        objects = connection.execute(
            "SELECT type, name FROM sqlite_master"
            " WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for kind, name in objects:
            quoted = '"' + str(name).replace('"', '""') + '"'
            connection.execute(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} {quoted}")
        self._create(connection)

    def _recreate(self) -> sqlite3.Connection:
        """Delete the file (and its WAL companions, which must not be replayed into a new
        file) and start again; only for a file SQLite cannot read at all."""
        self._drop_connection()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        return self._connect()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    def _reset(self) -> None:
        """Empty the cache and claim it for our site and configuration.

        In place, inside a transaction, when SQLite can still read the file: another server may
        have it open, and deleting a database in use can corrupt it. A file SQLite cannot read
        is deleted and made again. On any other failure the cache closes and stays inert."""
        connection = self._connection
        if connection is None:
            return
        try:
            with _transaction(connection, "BEGIN IMMEDIATE"):
                self._recreate_tables(connection)
                connection.execute("COMMIT")
        except sqlite3.Error as error:
            code = _sqlite_code(error)
            if code in _BUSY:
                return  # another server is writing: its own state, or its own reset
            if code in _UNREADABLE:
                try:
                    self._connection = self._recreate()
                    return
                except (sqlite3.Error, OSError):
                    pass
            self._drop_connection()
        except Exception:
            self._drop_connection()

    def close(self) -> None:
        """Close the file; the cache is inert afterwards."""
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> IndexCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------

    def load(self) -> dict[str, CachedFile]:
        """Every cached file by path; `{}` when there is no usable cache, in which case the
        file is emptied so that the next save starts a fresh one."""
        with self._lock:
            connection = self._connection
            if connection is None:
                return {}
            try:
                return self._read(connection)
            except sqlite3.Error as error:
                if _sqlite_code(error) in _BUSY:
                    return {}  # another server is rewriting it; leave it be
            # Anything else (damage, a foreign file, or a bug here) is the cache's problem, not
            # the caller's: start again.
            except Exception:
                pass
            self._reset()
            return {}

    def _read(self, connection: sqlite3.Connection) -> dict[str, CachedFile]:
        with collector_paused():
            # One read transaction, so that the meta and the rows are of the same moment.
            with _transaction(connection):
                if not self._meta_matches(connection):
                    raise CacheCorrupt("the cache is another version's, site's or configuration's")
                # Records in chunks of a few thousand, each parsed as one JSON array: the parser
                # shares repeated keys within a chunk and the per-call overhead goes (a parse
                # per row is a third slower), while the text in memory at once stays a few MB
                # (the whole table as one string was 24 MB at 20,000 reviews, all of it on top
                # of the decoded records at the server's peak).
                files: dict[str, CachedFile] = {}
                cursor = connection.execute("SELECT record FROM files")
                while chunk := cursor.fetchmany(_ROWS_PER_PARSE):
                    parts = [record for (record,) in chunk]
                    if any(type(part) is not str for part in parts):
                        raise CacheCorrupt("records that are not text")
                    decoded = decode_records("[" + ",".join(parts) + "]")
                    del parts, chunk
                    if decoded.keys() & files.keys():
                        raise CacheCorrupt("a path stored twice")
                    files.update(decoded)
            return files

    def size(self) -> int:
        """How many files the cache has records of, for this site and configuration; 0 when it
        cannot say."""
        with self._lock:
            connection = self._connection
            if connection is None:
                return 0
            try:
                with _transaction(connection):
                    if self._meta_matches(connection):
                        count = connection.execute("SELECT count(*) FROM files").fetchone()[0]
                        return count if type(count) is int else 0
            except sqlite3.Error:
                pass
            return 0

    def read_snapshot(self, reader: Callable[[BlobReader], T]) -> T | None:
        """`reader`'s answer from the stored snapshot, read a piece at a time (a whole snapshot
        in memory at once would sit on top of what it becomes); None when there is none for
        this site and configuration, or it cannot be read. `reader` runs inside one read
        transaction, so a writer's new snapshot is never seen half-written."""
        with self._lock:
            connection = self._connection
            if connection is None:
                return None
            try:
                with _transaction(connection):
                    if not self._meta_matches(connection):
                        return None
                    if connection.execute("SELECT 1 FROM snapshot WHERE id = 0").fetchone():
                        with connection.blobopen("snapshot", "data", 0, readonly=True) as blob:
                            return reader(BlobReader(blob))
            except sqlite3.Error:
                pass
            return None

    def write_snapshot(self, size: int, pieces: Iterable[bytes]) -> bool:
        """Store a snapshot of `size` bytes, written a piece at a time as `pieces` come (from
        another process: none of it is held here beyond one piece). False when nothing was
        written (busy, another configuration's cache, or the pieces did not add up)."""
        with self._lock:
            connection = self._connection
            if connection is None:
                return False
            try:
                with _transaction(connection, "BEGIN IMMEDIATE"):
                    if not self._meta_matches(connection):
                        return False
                    connection.execute(
                        "INSERT OR REPLACE INTO snapshot VALUES (0, zeroblob(?))", (size,)
                    )
                    with connection.blobopen("snapshot", "data", 0) as blob:
                        for piece in pieces:
                            blob.write(piece)
                        if blob.tell() != size:
                            return False  # rolled back on leaving the transaction
                    connection.execute("COMMIT")
            except (sqlite3.Error, ValueError, OSError, EOFError):
                return False
            return True

    def _meta_matches(self, connection: sqlite3.Connection) -> bool:
        rows = connection.execute("SELECT key, value FROM meta").fetchall()
        return dict(rows) == self._meta

    # -- writing --------------------------------------------------------------------------

    def save(
        self,
        changed: Mapping[str, tuple[int, int, Record]],
        removed: Iterable[str] = (),
    ) -> bool:
        """Store the files in `changed` (path -> size, mtime_ns, record) and forget those in
        `removed`, in one transaction. False when nothing was written: the database was busy,
        or it now belongs to another configuration (a newer server reset it, and records made
        under ours must not be mixed in)."""
        try:
            rows, failed = encode_rows(changed)
        except Exception:
            return False
        return self.save_encoded(rows, (*removed, *failed))

    def save_encoded(
        self, rows: Iterable[tuple[str, str]], removed: Iterable[str] = (), presorted: bool = False
    ) -> bool:
        """`save` with the rows already made by `encode_rows` (possibly in another process:
        encoding is the costly part of a save, and needs no database). With `presorted`, the
        rows (in path order) are written as they are iterated, so a caller can stream them
        without holding them all."""
        try:
            forget = [(path,) for path in removed if _storable_path(path)]
        except Exception:
            return False
        if not presorted:
            # In key order, the b-tree is filled page after page (a first save is big).
            rows = sorted(rows)
        return self._write(rows, forget, replace=False)

    def replace_all(self, files: Mapping[str, tuple[int, int, Record]]) -> bool:
        """Replace the whole cache with `files` (after a full index), claiming it for this
        site and configuration. False when nothing was written."""
        try:
            rows, _ = encode_rows(files)
        except Exception:
            return False
        rows.sort()  # in key order, the b-tree is filled page after page
        return self._write(rows, [], replace=True)

    def _write(
        self, rows: Iterable[tuple[str, str]], forget: list[tuple[str]], *, replace: bool
    ) -> bool:
        with self._lock:
            connection = self._connection
            if connection is None:
                return False
            try:
                with _transaction(connection, "BEGIN IMMEDIATE"):
                    if replace:
                        # Whatever the file held, even a foreign schema: a full rebuild.
                        self._recreate_tables(connection)
                    elif not self._meta_matches(connection):
                        return False
                    connection.executemany("DELETE FROM files WHERE path = ?", forget)
                    connection.executemany("INSERT OR REPLACE INTO files VALUES (?, ?)", rows)
                    connection.execute("COMMIT")
            except sqlite3.Error as error:
                if _sqlite_code(error) in _UNREADABLE:
                    self._reset()
                return False
            except Exception:
                return False
            return True


T = TypeVar("T")


class BlobReader:
    """A stored blob as the binary file an unpickler reads from."""

    def __init__(self, blob: sqlite3.Blob) -> None:
        self._blob = blob

    def read(self, size: int = -1) -> bytes:
        return self._blob.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self._blob.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        raise ValueError("a snapshot has no lines")  # pickle's text opcodes are never written


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[None]:
    """One transaction (`begin`: BEGIN or BEGIN IMMEDIATE) after whatever a failure left open,
    rolled back unless the body committed it."""
    _end_transaction(connection)
    connection.execute(begin)
    try:
        yield
    finally:
        _end_transaction(connection)


def _end_transaction(connection: sqlite3.Connection) -> None:
    """Roll back whatever transaction a failure left open, so the next BEGIN can start."""
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")


def encode_rows(
    files: Mapping[str, tuple[int, int, Record]],
) -> tuple[list[tuple[str, str]], list[str]]:
    """The rows for `files`, and the paths that cannot be cached (their old rows must go)."""
    rows: list[tuple[str, str]] = []
    failed: list[str] = []
    with collector_paused():
        for path, (size, mtime_ns, record) in files.items():
            if not _storable_path(path):
                continue  # never stored, so nothing to forget either
            try:
                rows.append((path, encode_record(path, size, mtime_ns, record)))
            except (*_DECODE_ERRORS, AttributeError):
                failed.append(path)
    return rows, failed


def _storable_path(path: object) -> bool:
    """Whether `path` fits the TEXT key column (a name with lone surrogates has no UTF-8 form)."""
    if type(path) is not str:
        return False
    if path.isascii():
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
