"""Indexing a whole site on every core, keeping the index alone: how the language server starts.

`check.load_site` parses every file and keeps every parse, which `letterhead check` needs and a
language server does not: it answers from the index, and parses a review again only when the
editor opens it. Here worker processes (forked, so they share the site model and every module
already imported) read and parse runs of the files, each taking the next run whenever it is ready
for one (`cores.Runs`), and send back only the small records the index keeps
(`SiteIndex.record`); the calling process takes runs too, and builds the index from all records
in the order the site lists its files, so ties resolve as in `load_site`.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import multiprocessing
import operator
import os
import pickle
import queue
import signal
import threading
import time
import weakref
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple, Protocol

# Imported here, before any worker is forked, although only the parser uses them: a module first
# imported by another thread while a worker forks would stay locked in the worker for ever.
import letterhead.frontmatter
import letterhead.liquid
import letterhead.markdown  # noqa: F401
from letterhead import snapshot
from letterhead.cache import CachedFile, IndexCache, cache_path, encode_rows, fingerprint_of
from letterhead.cachefolder import cache_on
from letterhead.check import LoadedSite, entry_for, parse_source, settings_for
from letterhead.cores import MIN_DOCUMENTS_PER_WORKER, Runs, default_jobs, wide_pipe
from letterhead.index import RECORD_FORMAT, IndexedDocument, Record, SiteIndex, collector_paused
from letterhead.settings import SettingProblem, Settings
from letterhead.site.kinds import Status
from letterhead.site.model import Entry, EntryKind, Site, SourceFile

# Rows of the persistent index sent from the encoding child to the writer at a time.
_ROWS_PER_BATCH = 1_000
# A worker silent this long is taken for stuck; its files are then indexed in this process.
_STALL_SECONDS = 20.0
# A snapshot crosses the pipe in pieces of this many bytes (the writer holds one at a time).
_SNAPSHOT_PIECE = 1 << 20
# A snapshot is brought up to date only while at most one file in this many changed.
_MOSTLY_UNCHANGED = 4

Progress = Callable[[int, int], None]
# Work on an index on its way: before a snapshot's is brought up to date, or a new one is set
# aside for its snapshot (see `index_site_cached`).
Meanwhile = Callable[[SiteIndex], None]


def summarize(
    site: Site, scratch: SiteIndex, source: SourceFile, settings: Settings, now: datetime | None
) -> Record:
    """What the index keeps of one file: its entry, and for documents their record."""
    if source.kind is EntryKind.STATIC:
        return site.entry(source, None, now), None
    document = parse_source(site, source, settings)
    entry = entry_for(site, source, document, now)
    indexed = scratch.record(entry, document)
    indexed.share_strings()  # in the worker too: a pickle then holds each name once per batch
    return entry, indexed


def index_site(
    root: Path,
    now: datetime | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> LoadedSite:
    """The site at `root` with its index built and no parsed document kept.

    `progress(done, total)` is called now and then from the calling thread.
    """
    with collector_paused():
        return _index_site_cached(root, now, progress, jobs, use_cache=False).loaded


class Persist(Protocol):
    """Writes the files read this time to the persistent index. Its two writers (the snapshot's
    and the records') run one after the other, leaving a language server a core of its own;
    `at_once`, for a command that waits for them, runs them side by side."""

    def __call__(self, at_once: bool = False) -> None: ...


def _nothing_to_persist(at_once: bool = False) -> None:
    return None


class CachedIndex(NamedTuple):
    loaded: LoadedSite
    persist: Persist
    reused: int  # files whose records came from the persistent index
    read: int  # files read and parsed
    from_snapshot: bool = False  # whether the index itself came from the persistent index
    listed_early: bool = False  # whether its listing was begun before (`start_listing`)


def index_site_cached(
    root: Path,
    now: datetime | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
    meanwhile: Meanwhile | None = None,
    started: StartedListing | None = None,
) -> CachedIndex:
    """`index_site` through the site's persistent index (`cache.IndexCache`): files whose size
    and modification time are those cached are not read again. The answer also holds the
    function that writes what changed back to the cache, for the caller to run once the index is
    in use (a first index of 20,000 reviews takes a few tenths of a second to write).

    `meanwhile(index)` is for work that follows the index's later changes by itself: a restart
    from a snapshot calls it with the snapshot's index while a child still lists the site (the
    changed files are put in afterwards), in time that would otherwise go to waiting; a new
    index gets it before the snapshot's child is forked, which then shares what it wrote
    instead of having each page it touches copied (at 20,000 reviews the catalog took ~15 ms
    more with the child alive).

    `started` is the site at `root` opened, and its listing begun, earlier (`start_listing`).

    Without a usable cache (no cache folder, `LETTERHEAD_CACHE=off`) this is `index_site`.

    The index is for keeps (a server's, a command's until it exits): it is moved out of the
    cyclic collector's walks, as `index_sources_cached` does. Left in the youngest generation,
    which the collector finds full as soon as it is back on, it was walked whole at once and
    again at exit (~0.3 s of `letterhead tags` at 20,000 reviews).
    """
    with collector_paused(freeze=True):
        return _index_site_cached(
            root, now, progress, jobs, use_cache=True, meanwhile=meanwhile, started=started
        )


class StartedListing(NamedTuple):
    """A site opened and its files being listed in a child (`start_listing`)."""

    site: Site
    listing: _Listing

    def close(self) -> None:
        """Stop the listing, if nobody took it."""
        self.listing.close()


def start_listing(root: Path) -> StartedListing:
    """Open the site at `root` and begin listing its files in a child process, for an
    `index_site_cached` to come (the language server begins before it imports the protocol
    stack, on the core that leaves idle)."""
    site = Site.open(root)
    return StartedListing(site, _Listing.apart(site))


def index_sources_cached(
    site: Site, sources: Sequence[SourceFile] | None, now: datetime | None, jobs: int | None
) -> CachedIndex:
    """`index_site_cached` for a caller that keeps the index to its end (`letterhead check` of
    a few files), with the site's files as `Site.discover` listed them, or None to have them
    listed here (in a child while the snapshot is read, as a restart does): what is alive is
    frozen out of the collector's reach, whose first full collection would otherwise walk it
    all once (~50 ms at 20,000 reviews)."""
    listing = _Listing(sources) if sources is not None else _listing_of(site, use_cache=True)
    with collector_paused(freeze=True), contextlib.closing(listing):
        return _index_sources(site, listing, now, None, jobs, use_cache=True)


def has_persistent_index(site: Site) -> bool:
    """Whether the site has a persistent index to read (whether it can be used is known only
    once it is read: it may be damaged, or of another configuration)."""
    return cache_on() and cache_path(site.root).exists()


def persistent_index_size(site: Site) -> int:
    """How many files the site's persistent index holds (0 without one for its configuration):
    the size of the site when it was last indexed, known in a few milliseconds."""
    if not has_persistent_index(site):
        return 0
    store = IndexCache.open(site.root, _fingerprint(site))
    if store is None:
        return 0
    with store:
        return store.size()


def _listing_of(site: Site, use_cache: bool) -> _Listing:
    """The site's files, listed in a child while this process reads the snapshot when there is
    one to read, else here."""
    if use_cache and has_persistent_index(site):
        return _Listing.apart(site)
    return _Listing(site.discover())


def _index_site_cached(
    root: Path,
    now: datetime | None,
    progress: Progress | None,
    jobs: int | None,
    use_cache: bool,
    meanwhile: Meanwhile | None = None,
    started: StartedListing | None = None,
) -> CachedIndex:
    if started is not None:
        site, listing = started
    else:
        site = Site.open(root)
        listing = _listing_of(site, use_cache)
    with contextlib.closing(listing):  # a child whose rows were never asked for is reaped
        indexed = _index_sources(site, listing, now, progress, jobs, use_cache, meanwhile)
    return indexed._replace(listed_early=started is not None)


def _index_sources(
    site: Site,
    listing: _Listing,
    now: datetime | None,
    progress: Progress | None,
    jobs: int | None,
    use_cache: bool,
    meanwhile: Meanwhile | None = None,
) -> CachedIndex:
    settings, problems = settings_for(site)
    if not use_cache or not cache_on():
        return _index_afresh(site, listing.sources(), settings, problems, now, progress, jobs, None)
    fingerprint = _fingerprint(site)
    store = IndexCache.open(site.root, fingerprint)
    if store is None:
        return _index_afresh(site, listing.sources(), settings, problems, now, progress, jobs, None)
    try:
        restored = store.read_snapshot(lambda blob: snapshot.load(blob, site))
        if restored is not None:
            if meanwhile is not None and listing.still_listing:
                meanwhile(restored.site_index)
            indexed = _index_from_snapshot(
                site, listing, restored, settings, problems, now, progress, jobs, fingerprint
            )
            if indexed is not None:
                return indexed
            del restored  # too much changed: the records make a fresh index
        cached = store.load()
    finally:
        store.close()  # written again by `persist`, in a process of its own
    return _index_afresh(
        site,
        listing.sources(),
        settings,
        problems,
        now,
        progress,
        jobs,
        (fingerprint, cached),
        meanwhile,
    )


def _index_afresh(
    site: Site,
    sources: Sequence[SourceFile],
    settings: Settings,
    problems: list[SettingProblem],
    now: datetime | None,
    progress: Progress | None,
    jobs: int | None,
    cache: tuple[str, dict[str, CachedFile]] | None,
    meanwhile: Meanwhile | None = None,
) -> CachedIndex:
    """A new index from every file's record: the cached one where the file is unchanged,
    else one made now (on every core). Without `cache` (fingerprint, cached records) nothing
    is cached or written."""
    cached = cache[1] if cache is not None else {}
    hits: list[Record | None] = [None] * len(sources)
    stale: list[int] = []
    for position, source in enumerate(sources):
        hit = cached.get(source.path)
        if (
            hit is not None
            and hit.size == source.size
            and hit.mtime_ns == source.mtime_ns
            and _still_valid(site, source, hit.record, now)
        ):
            hits[position] = hit.record
        else:
            stale.append(position)
    # Records go into the index in the site's order as they come: the build overlaps the
    # workers' parsing instead of following it.
    making = _records_in_order(site, [sources[p] for p in stale], settings, now, progress, jobs)
    index = SiteIndex(site)
    complete: list[Record] = []
    with contextlib.closing(making) as fresh:
        for known in hits:
            record = known if known is not None else next(fresh)
            index.insert(*record)
            complete.append(record)
        extra = next(fresh, None)  # runs it to its end: its workers are gone before any fork
    assert extra is None  # one record for each stale file
    loaded = LoadedSite(site, index, settings, problems, keep_documents=False)
    if cache is None:
        return CachedIndex(loaded, _nothing_to_persist, 0, len(stale))
    changed = _Changed((sources[p], complete[p]) for p in stale)
    removed = set(cached.keys() - {source.path for source in sources})
    read = len(stale)
    # Let go of the records' lists before the fork: freed after it, each record would copy a
    # page that the snapshot's child shares (~25 ms more of a cold start at 20,000 reviews).
    del hits, complete, stale
    if meanwhile is not None:
        meanwhile(index)  # before the fork, so that its writes copy no page of the child's
    taken = _snapshot_apart(site, index, sources, now)
    persist = _persister(site.root, cache[0], changed, removed, taken)
    return CachedIndex(loaded, persist, len(sources) - read, read)


def _index_from_snapshot(
    site: Site,
    listing: _Listing,
    restored: snapshot.Snapshot,
    settings: Settings,
    problems: list[SettingProblem],
    now: datetime | None,
    progress: Progress | None,
    jobs: int | None,
    fingerprint: str,
) -> CachedIndex | None:
    """The snapshot's index brought up to date: files gone are taken out, files changed (or
    whose status time has changed) are read and put in again. None when so much changed that a
    fresh index is the better answer (after a branch switch, say: a fresh index also resolves
    ties between files in the site's order, as a first index does)."""
    index = restored.site_index
    changed: list[SourceFile] = []
    gone: list[str] = []
    present = len(index.documents) + len(index.statics)
    if listing.digest() != restored.listed:  # else the very files the index was built from
        # (or there is no digest: the files are compared one by one)
        stamps = restored.stamps()
        if stamps is None:
            return None
        changed = [listing.source(at) for at in listing.changed_since(index, stamps)]
        paths = listing.paths()
        gone = [path for path in stamps if path not in paths]
        present = len(paths)
    if site.clock_seconds(now) >= restored.taken:
        # Time only brings future posts out: an entry built then is built now.
        maybe_stale = [d.entry for d in index.documents.values() if d.entry.status is Status.FUTURE]
    else:  # the clock went back
        maybe_stale = [d.entry for d in index.documents.values()]
    outdated = {entry.path for entry in maybe_stale if not site.status_is_current(entry, now)}
    if outdated:
        seen = {source.path for source in changed}
        changed += [s for s in listing.sources() if s.path in outdated and s.path not in seen]
    if (len(changed) + len(gone)) * _MOSTLY_UNCHANGED > present:
        return None
    for path in gone:
        index.remove(path)
    fresh = list(_records_in_order(site, changed, settings, now, progress, jobs))
    for entry, indexed in fresh:
        index.insert(entry, indexed)
    loaded = LoadedSite(site, index, settings, problems, keep_documents=False)
    if not changed and not gone:
        return CachedIndex(loaded, _nothing_to_persist, present, 0, from_snapshot=True)
    records = _Changed(zip(changed, fresh, strict=True))
    taken = _snapshot_apart(site, index, listing.sources(), now)
    persist = _persister(site.root, fingerprint, records, set(gone), taken)
    return CachedIndex(loaded, persist, present - len(changed), len(changed), from_snapshot=True)


# A listed file as the lister sends it: the fields of its SourceFile, in order, with the kind's
# value. Plain tuples unpickle several times faster than the frozen dataclass.
_Row = tuple[str, str, str | None, str, int, float, int, bool]
_KINDS = {kind.value: kind for kind in EntryKind}


class _Listing:
    """The site's files, as `Site.discover` lists them.

    A restart needs both the list (~0.15 s of `stat` at 20,000 reviews) and the snapshot (~0.15
    s to unpickle), and neither needs the other: `apart` lists in a forked child while this
    process reads the snapshot. The child sends the listing's digest (`snapshot.listing_digest`),
    which is all a restart with nothing changed needs, then rows; a row becomes a SourceFile only
    where one is needed: the files that changed, or all of them when the snapshot is written
    again.
    """

    def __init__(self, sources: Sequence[SourceFile] | None = None) -> None:
        self._sources = list(sources) if sources is not None else None
        self._rows: list[_Row] | None = None
        self._digest: bytes | None = None
        self._child: tuple[int, Connection] | None = None
        self._site: Site | None = None

    @classmethod
    def apart(cls, site: Site) -> _Listing:
        listing = cls()
        listing._site = site
        parent, child = wide_pipe()
        pid = _fork(_list_apart, child, site)
        child.close()
        if pid is None:
            parent.close()
            return cls(site.discover())
        listing._child = (pid, parent)
        return listing

    @property
    def still_listing(self) -> bool:
        """Whether the child is still listing (nothing it sends has been received yet)."""
        return self._child is not None and self._digest is None

    def close(self) -> None:
        """Stop and reap a child whose rows were never asked for, and let go of the files
        listed (a listing begun early stays referenced until the indexing thread ends)."""
        self._rows = self._sources = None
        if self._child is not None:
            (pid, connection), self._child = self._child, None
            connection.close()
            _reap(pid, timeout=0)

    def digest(self) -> bytes | None:
        """`snapshot.listing_digest` of the files as the child made it; None without a child
        (or if it failed): made here it would cost about what comparing the files does."""
        if self._digest is None and self._child is not None:
            self._digest = self._child_digest()
        return self._digest

    def _child_digest(self) -> bytes | None:
        """The digest the child sends first; None (and the child stopped) if it failed."""
        assert self._child is not None
        connection = self._child[1]
        try:
            if connection.poll(_STALL_SECONDS):
                return connection.recv_bytes()
        except (OSError, EOFError):
            pass
        self.close()
        return None

    def _received(self) -> None:
        """The child's rows, or the list made here if the child failed."""
        if self._child is not None and self._digest is None:
            self._digest = self._child_digest()  # sent first
        if self._child is not None:
            (pid, connection), self._child = self._child, None
            try:
                if connection.poll(_STALL_SECONDS):
                    self._rows = pickle.loads(connection.recv_bytes())
            except (OSError, EOFError, pickle.UnpicklingError):
                pass
            finally:
                connection.close()
                _reap(pid, timeout=5)
        if self._rows is None and self._sources is None:
            assert self._site is not None
            self._sources = self._site.discover()

    def sources(self) -> list[SourceFile]:
        self._received()
        if self._sources is None:
            assert self._rows is not None
            self._sources = [self._make(row) for row in self._rows]
            self._rows = None  # the tuples the sources replace (~11 MiB at 20,000 reviews)
        return self._sources

    def source(self, at: int) -> SourceFile:
        self._received()
        if self._sources is not None:
            return self._sources[at]
        assert self._rows is not None
        return self._make(self._rows[at])

    def paths(self) -> set[str]:
        self._received()
        if self._rows is not None:
            return {row[0] for row in self._rows}
        return {source.path for source in self.sources()}

    def changed_since(self, index: SiteIndex, stamps: dict[str, tuple[int, int]]) -> list[int]:
        """The positions of the files the snapshot's index does not hold as they are now (same
        size, time and kind)."""
        self._received()
        statics, documents = index.statics, index.documents
        changed = []
        if self._rows is not None:
            static = EntryKind.STATIC.value
            for at, (path, kind, _, _, size, _, mtime_ns, _) in enumerate(self._rows):
                if stamps.get(path) != (size, mtime_ns) or (
                    path not in (statics if kind == static else documents)
                ):
                    changed.append(at)
            return changed
        for at, source in enumerate(self.sources()):
            if stamps.get(source.path) != (source.size, source.mtime_ns) or source.path not in (
                statics if source.kind is EntryKind.STATIC else documents
            ):
                changed.append(at)
        return changed

    @staticmethod
    def _make(row: _Row) -> SourceFile:
        path, kind, collection, relative_path, size, mtime, mtime_ns, excluded = row
        return SourceFile(
            path, _KINDS[kind], collection, relative_path, size, mtime, mtime_ns, excluded
        )


# A SourceFile as a `_Row`, in one call.
_row_of = operator.attrgetter(
    "path", "kind.value", "collection", "relative_path", "size", "mtime", "mtime_ns", "excluded"
)


def _list_apart(connection: Connection, site: Site) -> None:
    gc.disable()  # a short-lived child: nothing to collect
    sources = site.discover()
    connection.send_bytes(snapshot.listing_digest(sources))
    rows: list[_Row] = list(map(_row_of, sources))
    del sources
    connection.send_bytes(pickle.dumps(rows, pickle.HIGHEST_PROTOCOL))
    connection.close()


def _persister(
    root: Path,
    fingerprint: str,
    changed: _Changed,
    removed: set[str],
    taken: _SnapshotChild | None,
) -> Persist:
    def persist(at_once: bool = False) -> None:
        abandon.detach()
        # One child at a time: the snapshot's pickles first, the records' starts after it (two
        # at once would leave the language server no core of its own meanwhile), but side by
        # side for a command that only waits (a pre-commit check's first run).
        records = None
        if (changed or removed) and at_once and taken is not None:
            records = threading.Thread(
                target=_save_apart, args=(root, fingerprint, changed, removed), daemon=True
            )
            records.start()
        try:
            if taken is not None:
                _store_snapshot(root, fingerprint, taken)
        finally:
            if records is not None:
                records.join()
            elif changed or removed:
                _save_apart(root, fingerprint, changed, removed)

    # A caller that drops the index without persisting it (an index superseded, an error on
    # the way): the snapshot child, a fork of this process's heap waiting to be asked, would
    # otherwise stay until this process ends.
    abandon = weakref.finalize(persist, _abandon, taken)
    return persist


class _Changed:
    """The files a write of the persistent index takes (each read as `source`, giving `record`),
    kept small while the write waits for the editor to pause: a record's objects are the index's
    own (an editor's text replacing one in the index leaves the one read from disk here), and a
    dict of a tuple per file held ~4 MB more at 20,000 reviews, on top of the server's peak."""

    __slots__ = ("items", "paths", "stamps")

    def __init__(self, files: Iterable[tuple[SourceFile, Record]]) -> None:
        self.paths: list[str] = []
        self.stamps = array("q")  # size and mtime_ns of each file, in turn
        self.items: list[Entry | IndexedDocument] = []
        for source, (entry, indexed) in files:
            self.paths.append(source.path)
            self.stamps.append(source.size)
            self.stamps.append(source.mtime_ns)
            self.items.append(entry if indexed is None else indexed)

    def __len__(self) -> int:
        return len(self.paths)

    def files(self) -> dict[str, tuple[int, int, Record]]:
        """Each file's size, mtime and record, by path (what `encode_rows` takes)."""
        stamps = self.stamps
        return {
            path: (
                stamps[2 * number],
                stamps[2 * number + 1],
                (item.entry, item) if isinstance(item, IndexedDocument) else (item, None),
            )
            for number, (path, item) in enumerate(zip(self.paths, self.items, strict=True))
        }


def _abandon(child: _SnapshotChild | None) -> None:
    """Stop a snapshot child whose snapshot nobody will store."""
    if child is not None:
        child.ask.close()
        child.connection.close()
        _reap(child.pid, timeout=0)  # killed unless it has already ended


def _fingerprint(site: Site) -> str:
    try:
        config = (site.root / "_config.yml").read_bytes()
    except OSError:
        config = b""
    return fingerprint_of(config, f"records {RECORD_FORMAT} snapshot {snapshot.SNAPSHOT_FORMAT}")


class _SnapshotChild(NamedTuple):
    pid: int
    connection: Connection  # its size, then its pieces
    ask: Connection  # written to once the snapshot is wanted; closed if it never will be


def _snapshot_apart(
    site: Site, index: SiteIndex, sources: Sequence[SourceFile], now: datetime | None
) -> _SnapshotChild | None:
    """Fork a child that holds the index as it is at this moment, before it is handed to anyone
    who could change it (the language server applies editors' unsaved texts to it), and that,
    once `_store_snapshot` asks, pickles it and streams the pickle back. Pickling 20,000
    reviews' index takes a few tenths of a second on the other core: the language server asks
    only once the editor is quiet, as it would otherwise slow the answers to an editor's first
    requests. `persist` collects it; a persist dropped uncalled stops it (`_abandon`)."""
    taken = site.clock_seconds(now)  # every status in the index was decided by now
    parent, child = wide_pipe()
    wait, ask = multiprocessing.Pipe(duplex=False)
    pid = _fork(_pickle_apart, child, wait, ask, index, sources, taken)
    child.close()
    wait.close()
    if pid is None:
        parent.close()
        ask.close()
        return None
    return _SnapshotChild(pid, parent, ask)


def _pickle_apart(
    connection: Connection,
    wait: Connection,
    ask: Connection,
    index: SiteIndex,
    sources: Sequence[SourceFile],
    taken: int,
) -> None:
    gc.disable()  # a short-lived child: nothing to collect
    ask.close()  # the parent's end: once the parent's copy is closed too, `recv` ends
    try:
        wait.recv_bytes()
    except EOFError:
        return  # nobody will ask (the parent dropped it, or is gone)
    blob = memoryview(snapshot.dumps(index, sources, taken))
    connection.send_bytes(len(blob).to_bytes(8, "little"))
    for start in range(0, len(blob), _SNAPSHOT_PIECE):
        connection.send_bytes(blob[start : start + _SNAPSHOT_PIECE])
    connection.close()


def _store_snapshot(root: Path, fingerprint: str, child: _SnapshotChild) -> None:
    """Write the child's snapshot into the persistent index as it arrives, a piece at a time."""
    connection = child.connection
    try:
        child.ask.send_bytes(b"")
        if not connection.poll(_STALL_SECONDS * 3):
            return  # a stuck child: the next start uses the records
        size = int.from_bytes(connection.recv_bytes(), "little")
        store = IndexCache.open(root, fingerprint)
        if store is not None:
            try:
                store.write_snapshot(size, _pieces(connection, size))
            finally:
                store.close()
    except (OSError, EOFError, ValueError):
        pass  # the cache is a convenience: a broken write only costs the next start
    finally:
        child.ask.close()
        connection.close()
        _reap(child.pid, timeout=5)


def _pieces(connection: Connection, size: int) -> Iterator[bytes]:
    received = 0
    while received < size:
        if not connection.poll(_STALL_SECONDS):
            raise EOFError("the snapshot writer went quiet")
        piece = connection.recv_bytes()
        received += len(piece)
        yield piece


def _save_apart(root: Path, fingerprint: str, changed: _Changed, removed: set[str]) -> None:
    """Write to the persistent index. Encoding 20,000 records takes about a second of CPU, which
    here would hold the interpreter's lock against the language server's requests, so a forked
    child encodes them and streams the rows back in path order, a batch at a time; this thread
    only waits and hands each batch to SQLite inside one transaction, never holding more than
    a batch (all the rows of a first index are ~25 MB of text). The child never opens the
    database: SQLite's own locks must not cross a fork."""
    parent, child = wide_pipe()
    pid = _fork(_encode_apart, child, changed)
    child.close()
    try:
        if pid is None:
            rows, failed = encode_rows(changed.files())
            _store(root, fingerprint, sorted(rows), (*removed, *failed))
            return
        if not parent.poll(_STALL_SECONDS * 3):
            return  # a stuck child: no cache this time, the next start indexes again
        failed = pickle.loads(parent.recv_bytes())
        _store(root, fingerprint, _received_rows(parent), (*removed, *failed))
    except (OSError, EOFError, pickle.UnpicklingError, TypeError):
        pass  # the cache is a convenience: a broken write only costs the next start
    finally:
        parent.close()
        if pid is not None:
            _reap(pid, timeout=5)


def _received_rows(connection: Connection) -> Iterator[tuple[str, str]]:
    """The child's batches of rows, until its empty batch (a missing one raises EOFError, which
    aborts the transaction: nothing half-written is committed)."""
    while True:
        if not connection.poll(_STALL_SECONDS):
            raise EOFError("the cache writer went quiet")
        batch = pickle.loads(connection.recv_bytes())
        if not batch:
            return
        yield from batch


def _store(
    root: Path, fingerprint: str, rows: Iterable[tuple[str, str]], removed: Iterable[str]
) -> None:
    store = IndexCache.open(root, fingerprint)
    if store is not None:
        try:
            store.save_encoded(rows, removed, presorted=True)
        finally:
            store.close()


def _encode_apart(connection: Connection, changed: _Changed) -> None:
    gc.disable()  # a short-lived child: nothing to collect
    rows, failed = encode_rows(changed.files())
    rows.sort()
    connection.send_bytes(pickle.dumps(failed, pickle.HIGHEST_PROTOCOL))
    for start in range(0, len(rows), _ROWS_PER_BATCH):
        batch = rows[start : start + _ROWS_PER_BATCH]
        connection.send_bytes(pickle.dumps(batch, pickle.HIGHEST_PROTOCOL))
    connection.send_bytes(pickle.dumps([], pickle.HIGHEST_PROTOCOL))
    connection.close()


def _fork(target: Callable[..., None], *arguments: Any) -> int | None:
    """Run `target(*arguments)` in a forked child, which then exits at once; None without fork.

    A bare `os.fork`, not `multiprocessing`: its children close `sys.stdin` first, and in the
    language server another thread is always blocked reading stdin, holding the lock a close
    needs, so such a child would hang for ever. This child touches no stream, no database and
    no lock that another thread may hold: it computes, writes to its pipe, and `_exit`s.
    """
    if not hasattr(os, "fork"):
        return None
    pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        target(*arguments)
        code = 0
    except BaseException:  # nothing to report to: the parent sees the exit code or EOF
        pass
    finally:
        os._exit(code)


def _reap(pid: int, timeout: float | None) -> None:
    """Wait for a child to exit, killing it after `timeout` seconds (None: wait for ever)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        if deadline is not None and time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = None  # now wait for the kill to take


def _still_valid(site: Site, source: SourceFile, record: Record, now: datetime | None) -> bool:
    """Whether a cached record of an unchanged file is still the one indexing would make."""
    entry = record[0]
    if entry.path != source.path or (record[1] is None) != (source.kind is EntryKind.STATIC):
        return False
    return site.status_is_current(entry, now)


def _records_in_order(
    site: Site,
    sources: Sequence[SourceFile],
    settings: Settings,
    now: datetime | None,
    progress: Progress | None,
    jobs: int | None,
) -> Generator[Record, None, None]:
    """The records of `sources`, in their order, made on as many cores as they are worth.

    This process and forked workers take runs of the files up to the last document (`Runs`)
    whenever each is ready for another, so that all end together whatever else each does and
    however fast its core runs. The caller takes each record as soon as those before it have
    come (to put it in the index), so that what it does with them overlaps the parsing: a run is
    kept here only until the runs before it, taken earlier, have come from the workers. The
    static files listed after the last document, which come last in the order and are neither
    read nor parsed, are made here alongside, a share with each run this process takes (and while
    it waits). The runs a worker took and did not send, because it died or went quiet, are
    parsed here."""
    documents = sum(1 for s in sources if s.kind is not EntryKind.STATIC)
    jobs = min(jobs or default_jobs(), max(1, documents // MIN_DOCUMENTS_PER_WORKER))
    runs = None
    if jobs >= 2 and hasattr(os, "fork"):
        end = max(p for p, s in enumerate(sources) if s.kind is not EntryKind.STATIC) + 1
        # Without a pipe to be had (the process's files all open), one core.
        with contextlib.suppress(OSError):
            runs = Runs(end)
    if runs is None:
        yield from _records_here(site, sources, settings, now, progress, len(sources))
        return
    arrivals: queue.SimpleQueue[tuple[int, list[Record]] | None] = queue.SimpleQueue()
    workers: list[tuple[int, Connection]] = []
    try:
        for _ in range(jobs - 1):
            try:
                parent, child = wide_pipe()
            except OSError:
                break  # the runs no worker takes are taken here
            try:
                pid = _fork(_worker, child, site, sources, runs, settings, now)
            except OSError:  # the system refused another process
                pid = None
            child.close()
            if pid is None:
                parent.close()
            else:
                workers.append((pid, parent))
                _receive(parent, arrivals)
        yield from _in_order(
            site, sources, end, runs, arrivals, len(workers), settings, now, progress
        )
    finally:
        runs.close()
        for pid, connection in workers:
            connection.close()
            _reap(pid, timeout=5)


def _in_order(
    site: Site,
    sources: Sequence[SourceFile],
    end: int,
    runs: Runs,
    arrivals: queue.SimpleQueue[tuple[int, list[Record]] | None],
    workers: int,
    settings: Settings,
    now: datetime | None,
    progress: Progress | None,
) -> Iterator[Record]:
    """`_records_in_order` in this process: its own runs, the workers' as they arrive (None:
    a worker has sent all it will), and the static files after `end`."""
    scratch = SiteIndex(site)
    held: dict[int, list[Record]] = {}  # a run's start -> its records, until those before it come
    statics = (summarize(site, scratch, source, settings, now) for source in sources[end:])
    made: list[Record] = []
    # The static files' entries made with each run taken here, as if it took its share of runs.
    with_each_run = math.ceil((len(sources) - end) * (workers + 1) / max(1, len(runs)))

    def made_here(run: range) -> list[Record]:
        return [summarize(site, scratch, sources[p], settings, now) for p in run]

    step, reported = max(1, len(sources) // 100), 0
    done = 0  # the records before this position have gone to the caller
    while done < end:
        run = runs.take()
        if run is not None:
            held[run.start] = made_here(run)
            made.extend(itertools.islice(statics, with_each_run))
        while True:  # what the workers have sent
            try:
                arrival = arrivals.get_nowait()
            except queue.Empty:
                if run is not None or done in held or not workers:
                    break
                # Every run is taken and the next is a worker's: the static files' entries
                # meanwhile, then wait.
                more = list(itertools.islice(statics, runs.size))
                if more:
                    made.extend(more)
                    continue
                arrival = arrivals.get()
            if arrival is None:
                workers -= 1
            else:
                held[arrival[0]] = arrival[1]
        while done in held:
            batch = held.pop(done)
            done += len(batch)
            yield from batch
        if run is None and workers == 0 and done < end and done not in held:
            held[done] = made_here(runs.at(done))  # a worker took it, and stopped
        if progress is not None and done - reported >= step:
            reported = done
            progress(done, len(sources))
    yield from made
    yield from statics


def _records_here(
    site: Site,
    sources: Sequence[SourceFile],
    settings: Settings,
    now: datetime | None,
    progress: Progress | None,
    total: int,
) -> Iterator[Record]:
    scratch = SiteIndex(site)  # only for `record`, which needs the site's baseurl
    step = max(1, total // 100)
    for number, source in enumerate(sources):
        if progress is not None and number % step == 0:
            progress(number, total)
        yield summarize(site, scratch, source, settings, now)


def _receive(
    connection: Connection, arrivals: queue.SimpleQueue[tuple[int, list[Record]] | None]
) -> None:
    """Read a worker's runs on a thread of its own as they come (so that the worker never waits
    on a full pipe while this process parses), then None once it has sent all it will, or died,
    or been silent for `_STALL_SECONDS`."""

    def run() -> None:
        try:
            while connection.poll(_STALL_SECONDS):
                start, batch = connection.recv()
                for _, indexed in batch:  # strings the worker shared were copied by pickling
                    if indexed is not None:
                        indexed.share_strings()
                arrivals.put((start, batch))
        except Exception:  # the worker is done, died, or sent what cannot be read
            pass
        finally:
            arrivals.put(None)

    threading.Thread(target=run, name="letterhead-records", daemon=True).start()


def _worker(
    connection: Connection,
    site: Site,
    sources: Sequence[SourceFile],
    runs: Runs,
    settings: Settings,
    now: datetime | None,
) -> None:
    gc.disable()  # a short-lived process whose records hold no cycles
    scratch = SiteIndex(site)
    while (run := runs.take()) is not None:
        connection.send(
            (run.start, [summarize(site, scratch, sources[p], settings, now) for p in run])
        )
    connection.close()
