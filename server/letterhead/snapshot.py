"""The built index as one blob: how a restart skips rebuilding it.

The persistent index's records (`cache`) spare a restart the reading and parsing of unchanged
files, but it still decodes 20,000 records and inserts them one by one into a fresh index
(~1 s at 20,000 reviews). A snapshot is the index itself, pickled once it is built, with the
size and modification time of every file it was built from: a restart unpickles it (~0.4 s),
takes out the files that are gone and puts in again the few that changed, as an editor's edits
would. The records stay the fallback, for a missing, damaged or too stale snapshot.

A snapshot is read with an unpickler that knows only the classes an index is made of, so a
damaged or planted cache file can at worst be refused, never run code.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import logging
import pickle
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol

from letterhead.index import SiteIndex
from letterhead.site.model import Site, SourceFile

logger = logging.getLogger("letterhead.snapshot")

# Bumped whenever what a snapshot holds changes shape (the cache's fingerprint includes it).
SNAPSHOT_FORMAT = 7  # 2: `listed`; 3: `stamped`; 4: `SiteIndex._key_uses`; 5: sorted uses;
# 6: `SiteIndex._suggested`; 7: `SiteIndex.review_count`

# Everything an index is made of, by (module, name); nothing else may be named in a snapshot.
_ALLOWED = frozenset(
    {
        ("collections", "Counter"),
        ("collections", "OrderedDict"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("letterhead.snapshot", "zone_named"),
        ("letterhead.index", "IndexedDocument"),
        ("letterhead.index", "SiteIndex"),
        ("letterhead.site.kinds", "EntryKind"),
        ("letterhead.site.kinds", "Status"),
        ("letterhead.site.model", "Entry"),
        ("letterhead.taxonomy", "Taxonomy"),
    }
)


class Snapshot(NamedTuple):
    format: int
    taken: int  # the site clock's seconds when the statuses in the index were decided
    # The size and modification time of every file indexed, pickled on their own: only a
    # listing that differs from `listed` needs them (unpickled with the rest, ~10 ms of a
    # restart at 20,000 reviews).
    stamped: bytes
    listed: bytes  # `listing_digest` of the files, as listed when the index was built
    site_index: SiteIndex  # without its site (`SiteIndex.site` is None until restored)

    def stamps(self) -> dict[str, tuple[int, int]] | None:
        """path -> (size, mtime_ns) of every file indexed; None if they are not that."""
        try:
            stamps = _StampsUnpickler(io.BytesIO(self.stamped)).load()
        except Exception as error:  # damaged: anything may be raised, all of it means "no"
            _refused(f"its stamps are unreadable ({type(error).__name__})")
            return None
        if type(stamps) is not dict:
            _refused("its stamps are not a table")
            return None
        return stamps


class _IndexUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"a snapshot may not hold {module}.{name}")
        return super().find_class(module, name)


class _StampsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"stamps may not hold {module}.{name}")


def dumps(index: SiteIndex, sources: Sequence[SourceFile], taken: int) -> bytes:
    """The snapshot of `index`, built from `sources` with statuses decided at `taken`.

    Detaches the index from its site while pickling (the site is the caller's, made again from
    the configuration on a restart); run it where the index cannot be in use (a forked child).
    """
    stamps = {source.path: (source.size, source.mtime_ns) for source in sources}
    stamped = pickle.dumps(stamps, pickle.HIGHEST_PROTOCOL)
    listed = listing_digest(sources)
    site, index.site = index.site, None  # type: ignore[assignment]
    try:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = {**copyreg.dispatch_table, zoneinfo.ZoneInfo: _reduce_zone}
        pickler.dump((SNAPSHOT_FORMAT, taken, stamped, listed, index))
        return buffer.getvalue()
    finally:
        index.site = site


def listing_digest(sources: Iterable[SourceFile]) -> bytes:
    """A digest of a site's listing: every file's path, kind, size and modification time, in
    order. A restart whose listing has the snapshot's digest has exactly the files the index was
    built from, unchanged, and needs no comparison file by file (~50 ms at 20,000 reviews in the
    server's process; the digest, ~20 ms, is made in the lister's)."""
    lines = "\n".join(f"{s.path}\0{s.kind.value}\0{s.size}\0{s.mtime_ns}" for s in sources)
    return hashlib.blake2b(lines.encode("utf-8", "surrogatepass"), digest_size=32).digest()


def _reduce_zone(zone: zoneinfo.ZoneInfo) -> tuple[Any, tuple[str]]:
    """A time zone (a site's `timezone:`) as its name: its own pickle goes through `getattr`,
    which no snapshot may name (it would reach anything)."""
    if zone.key is None:
        raise pickle.PicklingError("a time zone without a name")
    return zone_named, (zone.key,)


def zone_named(key: str) -> zoneinfo.ZoneInfo:
    """The time zone `key` names (zoneinfo refuses a key that is not a zone's name)."""
    return zoneinfo.ZoneInfo(key)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def readline(self) -> bytes: ...


def loads(blob: bytes, site: Site) -> Snapshot | None:
    """`load` from bytes."""
    return load(io.BytesIO(blob), site)


def load(file: Readable, site: Site) -> Snapshot | None:
    """The snapshot read from `file`, its index attached to `site`; None for anything that is
    not a snapshot of this format (damaged, foreign, or naming a class an index does not hold).

    A refusal is logged: the caller falls back to the slower records, and a snapshot refused at
    every start (an index that came to hold a class missing from `_ALLOWED`) must not go unseen.
    """
    try:
        loaded = _IndexUnpickler(file).load()
    except pickle.UnpicklingError as error:
        return _refused(str(error))
    except Exception as error:  # a damaged pickle can raise nearly anything; all of it means "no"
        return _refused(f"unreadable ({type(error).__name__})")
    if type(loaded) is not tuple or len(loaded) != len(Snapshot._fields):
        return _refused("not a snapshot")
    snapshot = Snapshot(*loaded)
    if not (
        snapshot.format == SNAPSHOT_FORMAT
        and type(snapshot.taken) is int
        and type(snapshot.stamped) is bytes
        and type(snapshot.listed) is bytes
        and type(snapshot.site_index) is SiteIndex
    ):
        return _refused("another format")
    snapshot.site_index.site = site
    return snapshot


def _refused(reason: str) -> Snapshot | None:
    """None, the answer for a snapshot refused, once the reason is logged."""
    logger.warning("the persistent index's snapshot was refused: %s", reason)
    return None
