"""Indexing a whole site on every core, keeping the index alone: how the language server starts.

`check.load_site` parses every file and keeps every parse, which `letterhead check` needs and a
language server does not: it answers from the index, and parses a review again only when the
editor opens it. Here worker processes (forked, so they share the site model and every module
already imported) each read and parse a share of the files and send back only the small records
the index keeps (`SiteIndex.record`); the calling process does a share too, then builds the index
from all records in the order the site lists its files, so ties resolve as in `load_site`.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

# Imported here, before any worker is forked, although only the parser uses them: a module first
# imported by another thread while a worker forks would stay locked in the worker for ever.
import letterhead.frontmatter
import letterhead.liquid
import letterhead.markdown  # noqa: F401
from letterhead.check import LoadedSite, entry_for, parse_source, settings_for
from letterhead.index import IndexedDocument, SiteIndex
from letterhead.settings import Settings
from letterhead.site.model import Entry, EntryKind, Site, SourceFile

# Below this many documents per process, starting one costs more than it saves.
MIN_DOCUMENTS_PER_WORKER = 400
# Records cross the pipe in batches, so that the parent can report progress and start on them.
_BATCH = 500
# A worker silent this long is taken for stuck; its files are then indexed in this process.
_STALL_SECONDS = 20.0

Record = tuple[Entry, IndexedDocument | None]
Progress = Callable[[int, int], None]


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def summarize(
    site: Site, scratch: SiteIndex, source: SourceFile, settings: Settings, now: datetime | None
) -> Record:
    """What the index keeps of one file: its entry, and for documents their record."""
    if source.kind is EntryKind.STATIC:
        return site.entry(source, None, now), None
    document = parse_source(site, source, settings)
    entry = entry_for(site, source, document, now)
    return entry, scratch.record(entry, document)


def index_site(
    root: Path,
    now: datetime | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> LoadedSite:
    """The site at `root` with its index built and no parsed document kept.

    `progress(done, total)` is called now and then from the calling thread.
    """
    collecting = gc.isenabled()
    gc.disable()  # see `check.load_site`: the collector would walk the growing index for nothing
    try:
        return _index_site(root, now, progress, jobs)
    finally:
        if collecting:
            gc.enable()


def _index_site(
    root: Path, now: datetime | None, progress: Progress | None, jobs: int | None
) -> LoadedSite:
    site = Site.open(root)
    settings, problems = settings_for(site)
    sources = site.discover()
    documents = [s for s in sources if s.kind is not EntryKind.STATIC]
    jobs = min(jobs or default_jobs(), max(1, len(documents) // MIN_DOCUMENTS_PER_WORKER))
    records: list[Record] | None = None
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        try:
            records = _records_with_workers(site, sources, settings, now, jobs, progress)
        except (OSError, EOFError, TimeoutError, multiprocessing.ProcessError):
            records = None  # a worker died or could not start: do it all here instead
    if records is None:
        records = _records_here(site, sources, settings, now, progress, len(sources))
    index = SiteIndex(site)
    for entry, indexed in records:
        index.insert(entry, indexed)
    return LoadedSite(site, index, settings, problems, keep_documents=False)


def _records_here(
    site: Site,
    sources: Sequence[SourceFile],
    settings: Settings,
    now: datetime | None,
    progress: Progress | None,
    total: int,
    done_elsewhere: Callable[[], int] = lambda: 0,
) -> list[Record]:
    scratch = SiteIndex(site)  # only for `record`, which needs the site's baseurl
    records: list[Record] = []
    step = max(1, total // 100)
    for number, source in enumerate(sources):
        if progress is not None and number % step == 0:
            progress(min(total, number + done_elsewhere()), total)
        records.append(summarize(site, scratch, source, settings, now))
    return records


def _records_with_workers(
    site: Site,
    sources: Sequence[SourceFile],
    settings: Settings,
    now: datetime | None,
    jobs: int,
    progress: Progress | None,
) -> list[Record]:
    """Every file's record, `jobs - 1` forked workers and this process sharing the files."""
    context = multiprocessing.get_context("fork")
    shares = [list(range(i, len(sources), jobs)) for i in range(jobs)]
    workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    receivers: list[_Receiver] = []
    try:
        for share in shares[1:]:
            parent, child = context.Pipe(duplex=False)
            process: multiprocessing.process.BaseProcess = context.Process(
                target=_worker, args=(child, site, sources, share, settings, now), daemon=True
            )
            process.start()
            child.close()
            workers.append((process, parent))
            receivers.append(_Receiver(parent, len(share)))
        own = [sources[i] for i in shares[0]]
        mine = _records_here(
            site,
            own,
            settings,
            now,
            progress,
            len(sources),
            lambda: sum(receiver.count for receiver in receivers),
        )
        by_position: list[Record | None] = [None] * len(sources)
        for position, record in zip(shares[0], mine, strict=True):
            by_position[position] = record
        for receiver, share in zip(receivers, shares[1:], strict=True):
            for position, record in zip(share, receiver.records(), strict=True):
                by_position[position] = record
    finally:
        for process, connection in workers:
            connection.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    return [record for record in by_position if record is not None]


class _Receiver:
    """Reads a worker's batches on a thread of its own as they come, so that the worker never
    waits on a full pipe while this process parses its own share."""

    def __init__(self, connection: Connection, expected: int) -> None:
        self.connection = connection
        self.expected = expected
        self.count = 0
        self.batches: list[list[Record]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="letterhead-records", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while self.count < self.expected:
                if not self.connection.poll(_STALL_SECONDS):
                    raise TimeoutError(f"no records for {_STALL_SECONDS:.0f} s")
                batch = self.connection.recv()
                self.batches.append(batch)
                self.count += len(batch)
        except BaseException as error:  # EOF from a dead worker: reported by `records`
            self.error = error

    def records(self) -> list[Record]:
        self.thread.join()
        if self.error is not None or self.count != self.expected:
            raise EOFError(f"an indexing worker stopped early: {self.error}")
        return [record for batch in self.batches for record in batch]


def _worker(
    connection: Connection,
    site: Site,
    sources: Sequence[SourceFile],
    share: list[int],
    settings: Settings,
    now: datetime | None,
) -> None:
    gc.disable()  # a short-lived process whose records hold no cycles
    scratch = SiteIndex(site)
    batch: list[Record] = []
    for position in share:
        batch.append(summarize(site, scratch, sources[position], settings, now))
        if len(batch) >= _BATCH:
            connection.send(batch)
            batch = []
    if batch:
        connection.send(batch)
    connection.close()
