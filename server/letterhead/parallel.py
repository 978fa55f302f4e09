"""Checking a site on every core: the same results as `check.check_site`, sooner.

Parsing is the bulk of a check and each review parses on its own, so worker processes (forked,
so they share the site model already loaded) parse the files and keep their documents: each takes
the next run of files not yet taken whenever it is ready for more (`cores.Runs`), so that a core
that runs slower (another program on it, or a machine whose cores are shared) parses fewer, and
all end together. They send back only the small records the index needs; every worker then builds
the same index from all records and runs the rules on its own documents. Documents never cross a
process boundary, findings do (they are small).

Checking a few files of a large site (a pre-commit hook passes the files of a commit) takes
another way: the index comes from the persistent index the language server keeps (`indexer`;
files unchanged since it was written are not read), and only the files asked for are parsed.
When the files are named one by one and are few against the files the persistent index holds
(a count SQLite gives in milliseconds), the site is not listed first to count its reviews: a
child lists it while the index is read, as at a restart (at 20,000 reviews, ~0.2-0.4 s of
listing and ~0.15-0.3 s of reading, which took turns before). If they then prove to be a large
share of its reviews (a site with many images), the index read is set aside and the site
checked on every core as if it had none.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
from collections.abc import Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

from letterhead.check import (
    CHECKED_SUFFIXES,
    LoadedSite,
    check_site,
    config_findings,
    entry_for,
    load_site,
    parse_source,
    relative_paths,
    select_paths,
    settings_for,
)
from letterhead.cores import MIN_DOCUMENTS_PER_WORKER, Runs, default_jobs
from letterhead.document import Document
from letterhead.findings import Finding
from letterhead.index import Record, SiteIndex
from letterhead.indexer import CachedIndex, index_sources_cached, persistent_index_size
from letterhead.settings import Settings
from letterhead.site.model import EntryKind, Site, SourceFile

# Checking at most one in this many of a site's files goes through the persistent index: parsing
# only those beats parsing the whole site on every core (see the module's docstring).
FEW_FILES = 4


def check_paths(
    root: Path, paths: Sequence[Path], jobs: int | None = None, now: datetime | None = None
) -> tuple[list[Finding], list[str], Settings]:
    """The findings for `paths` (files or folders) of the site at `root`, and the site-relative
    paths checked, using up to `jobs` processes (the whole site is read either way: the rules
    need its index), and the site's settings."""
    jobs = jobs or default_jobs()
    site = Site.open(root)
    chosen: list[str] | None = None
    if (
        paths
        and len(paths) * FEW_FILES <= persistent_index_size(site)
        and all(path.is_file() for path in paths)
    ):
        # Files named one by one (a pre-commit hook's), few against the site when it was last
        # indexed (its static files counted too): the index is read while a child lists the
        # site, as a restart reads it, and the reviews among them are counted then.
        indexed = index_sources_cached(site, None, now, jobs)
        candidates = indexed.loaded.checked_paths()
        chosen = select_paths(root, candidates, paths)
        if len(chosen) * FEW_FILES <= len(candidates):
            return _check_through_index(indexed, chosen)
        del indexed  # a large share of the reviews: checked on every core, as if not indexed
    sources = site.discover()
    documents = [s for s in sources if s.kind is not EntryKind.STATIC]
    candidates = [s.path for s in documents if s.path.endswith(CHECKED_SUFFIXES)]
    if chosen is None:  # else chosen among the same files, listed then
        chosen = select_paths(root, candidates, paths)
    if len(documents) >= MIN_DOCUMENTS_PER_WORKER and len(chosen) * FEW_FILES <= len(candidates):
        return _check_through_index(index_sources_cached(site, sources, now, jobs), chosen)
    jobs = min(jobs, max(1, len(documents) // MIN_DOCUMENTS_PER_WORKER))
    if jobs < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return _check_serially(root, paths, now)
    order = {source.path: position for position, source in enumerate(sources)}
    wanted = set(chosen)
    try:
        return _check_with_workers(site, sources, documents, order, wanted, jobs, now)
    except (OSError, EOFError, multiprocessing.ProcessError):
        # A worker died or could not start: the serial path gives the same answer.
        return _check_serially(root, paths, now)


def _check_through_index(
    indexed: CachedIndex, wanted: list[str]
) -> tuple[list[Finding], list[str], Settings]:
    """Check `wanted` against the index of the whole site built through the persistent index,
    then write to that index what this run had to read (for the next run, or the editor)."""
    findings = check_site(indexed.loaded, wanted)
    indexed.persist(at_once=True)
    return findings, wanted, indexed.loaded.settings


def _check_serially(
    root: Path, paths: Sequence[Path], now: datetime | None
) -> tuple[list[Finding], list[str], Settings]:
    loaded = load_site(root, now)
    wanted = relative_paths(loaded, paths)
    return check_site(loaded, wanted), wanted, loaded.settings


def _check_with_workers(
    site: Site,
    sources: Sequence[SourceFile],
    documents: Sequence[SourceFile],
    order: dict[str, int],
    wanted: set[str],
    jobs: int,
    now: datetime | None,
) -> tuple[list[Finding], list[str], Settings]:
    context = multiprocessing.get_context("fork")
    runs = Runs(len(documents))
    statics = [source for source in sources if source.kind is EntryKind.STATIC]
    workers = []
    try:
        for _ in range(jobs):
            parent, child = context.Pipe()
            arguments = (child, site, documents, runs, statics, order, wanted, now)
            process = context.Process(target=_worker, args=arguments, daemon=True)
            process.start()
            child.close()
            workers.append((process, parent))
        shared: list[bytes] = []
        checked: list[str] = []
        for _, connection in workers:
            shared.append(connection.recv_bytes())
            checked.extend(connection.recv())
        # Each worker gets the other shares' records as the bytes they were sent in: nothing
        # is unpickled and pickled again here.
        for number, (_, connection) in enumerate(workers):
            others = [chunk for k, chunk in enumerate(shared) if k != number]
            connection.send(len(others))
            for chunk in others:
                connection.send_bytes(chunk)
        findings: list[Finding] = []
        for _, connection in workers:
            findings.extend(connection.recv())
    finally:
        runs.close()
        for process, connection in workers:
            connection.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    settings, problems = settings_for(site)
    findings.extend(config_findings(LoadedSite(site, SiteIndex(site), settings, problems)))
    findings.sort(key=Finding.sort_key)
    return findings, sorted(checked), settings


def _worker(
    connection: Connection,
    site: Site,
    documents: Sequence[SourceFile],
    runs: Runs,
    statics: list[SourceFile],
    order: dict[str, int],
    wanted: set[str],
    now: datetime | None,
) -> None:
    gc.disable()  # a short-lived process whose documents hold no cycles (see `load_site`)
    settings, problems = settings_for(site)
    scratch = SiteIndex(site)  # only for `record`, which needs the site's baseurl
    parsed: dict[str, Document] = {}
    records: list[Record] = []
    while (run := runs.take()) is not None:
        for source in documents[run.start : run.stop]:
            document = parse_source(site, source, settings)
            entry = entry_for(site, source, document, now)
            records.append((entry, scratch.record(entry, document)))
            parsed[source.path] = document
    loaded = LoadedSite(site, SiteIndex(site), settings, problems, parsed)
    checked = sorted(p for p in parsed if p in wanted and p.endswith(CHECKED_SUFFIXES))
    connection.send_bytes(pickle.dumps(records, pickle.HIGHEST_PROTOCOL))
    connection.send(checked)
    every = records  # and the other shares' records, and the static files'
    for _ in range(connection.recv()):
        every.extend(pickle.loads(connection.recv_bytes()))
    # Made here rather than sent: cheaper than pickling and unpickling them (and the parent
    # made them on a third process, taking a core from the workers while they parse).
    every.extend((site.entry(source, None, now), None) for source in statics)
    # The same insertion order as the serial path, so ties resolve the same way.
    every.sort(key=lambda record: order[record[0].path])
    for entry, indexed in every:
        loaded.index.insert(entry, indexed)
    findings: list[Finding] = []
    for path in checked:
        findings.extend(loaded.check_document(path, parsed[path]))
    connection.send(findings)
    connection.close()
    # Gone at once: freeing ten thousand documents one by one (a tenth of a second) would only
    # keep the parent waiting in `join`.
    os._exit(0)
