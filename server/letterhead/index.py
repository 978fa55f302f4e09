"""The site index: every document of a site with its URL, front matter, taxonomy and links.

It answers the cross-document questions rules and features ask: what page a URL names, which
reviews use a tag and how they spell it, which reviews link to a review. It is built from parsed
documents (`Document`) and the site model's `Entry`s; it keeps only what those questions need, so
20,000 reviews fit in little memory, and it can be updated one document at a time.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from letterhead.document import Document, LinkKind
from letterhead.site.model import Entry, EntryKind, Site, Status
from letterhead.site.permalinks import normalize_url
from letterhead.taxonomy import Taxonomy

# The version of what `SiteIndex.record` and `Site.entry` make of a file: bumped whenever that
# changes, so that a persistent index written by an older letterhead is not trusted.
RECORD_FORMAT = 1
REVIEW_KINDS = (EntryKind.POST, EntryKind.DRAFT, EntryKind.DOCUMENT)
_DATE_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a large heap without cycles is built (an index,
    its records, a parse of every file): it would walk the growing heap again and again and find
    nothing to collect (about 40% of a cold load at 20,000 reviews)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class IndexedDocument:
    """What the index keeps of one document with front matter."""

    entry: Entry
    tags: tuple[str, ...]  # as written, after defaults
    categories: tuple[str, ...]  # the front matter's own categories, as written
    link_keys: tuple[str, ...]  # normalised site URLs this document links to (for backlinks)
    anchors: frozenset[str]  # heading ids, for `#fragment` checks

    @property
    def path(self) -> str:
        return self.entry.path

    @property
    def title(self) -> str:
        title = self.entry.title
        return title if title else self.entry.path.rsplit("/", 1)[-1]

    @property
    def is_review(self) -> bool:
        return self.entry.kind in REVIEW_KINDS

    def __reduce__(self) -> tuple[type[IndexedDocument], tuple[Any, ...]]:
        """Pickled as its fields in order (see `Entry.__reduce__`)."""
        return IndexedDocument, tuple(getattr(self, name) for name in _DOCUMENT_FIELDS)

    def share_strings(self) -> None:
        """`share_strings` for the entry, and the record's names and link targets with it.

        Done where records are made in bulk (indexing, and again for those that crossed a pipe:
        unpickling makes copies), not for an editor's updates: a tag typed letter by letter
        would put a short-lived string in the interpreter's table at every keystroke, and that
        table, like any dict, is rebuilt larger when deletions pile up."""
        share_strings(self.entry)
        self.tags = _interned(self.tags)
        self.categories = _interned(self.categories)
        self.link_keys = _interned(self.link_keys)


_DOCUMENT_FIELDS = tuple(IndexedDocument.__dataclass_fields__)

# The one empty list of names that entries without tags, categories or problems share (entries
# are never changed once made; thousands of images would otherwise hold three lists each).
NO_NAMES: list[str] = []

# One file as the index takes it in: its entry, and the record of a document (None for a static
# file). Worker processes and the persistent index hand these over.
Record = tuple[Entry, IndexedDocument | None]


def share_strings(entry: Entry) -> None:
    """Make the repeated strings of a document's entry the interpreter's one copy of each: tag
    and category names, other names in front matter lists, short values (`author: wandas`).

    Each review brings its own copies (from its parse, a worker's pickle or a cache row): at
    20,000 reviews, ~150,000 strings where ~5,000 distinct ones would do, ~10 MiB. Only what
    repeats is worth it; a unique string interned costs a slot in the interpreter's table, so
    long values (titles, excerpts) are left alone. Done while the entry is being indexed, before
    anything else holds it; the values stay equal, only their identity changes."""
    intern = sys.intern
    data = entry.data
    for key, value in data.items():
        kind = type(value)
        if kind is str:
            if len(value) <= _SHARED_LENGTH:
                data[key] = intern(value)
        elif kind is list and value:
            _intern_items(value)
    _intern_items(entry.tags)
    _intern_items(entry.categories)
    entry.tags = _shared_list(entry.tags, data.get("tags"))
    entry.categories = _shared_list(entry.categories, data.get("categories"))
    if not entry.problems:
        entry.problems = NO_NAMES


def _shared_list(values: list[str], written: Any) -> list[str]:
    """`values` as a list that is held anyway: the front matter's own when equal, the shared
    empty one when empty (three lists an entry, 60,000 at 20,000 reviews, most of them empty
    or copies of the front matter's)."""
    if not values:
        return NO_NAMES
    if type(written) is list and written == values:
        return written
    return values


def _interned(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(map(sys.intern, values))


def _intern_items(values: list[Any]) -> None:
    """Intern a list's strings in place (names: tags, categories, other lists of names)."""
    try:
        values[:] = map(sys.intern, values)  # the list is untouched if an item is no string
    except TypeError:
        values[:] = [sys.intern(item) if type(item) is str else item for item in values]


# Front matter values up to this length are interned (names, ids); longer ones are prose.
_SHARED_LENGTH = 40


def taxonomy_values(value: Any) -> tuple[str, ...]:
    """Tag or category values as Jekyll reads them: a list of names, or a string split on spaces."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(
            str(item) for item in value if item is not None and not isinstance(item, (list, dict))
        )
    return (str(value),)


class SiteIndex:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.documents: dict[str, IndexedDocument] = {}
        self.statics: dict[str, Entry] = {}
        self.tags = Taxonomy("tag")
        self.categories = Taxonomy("category")
        self._by_url: dict[str, Entry] = {}
        self._by_post_id: dict[str, Entry] = {}
        # Entries that share a URL or post id with the one holding it, in the order they came:
        # one of them takes the key over when its holder goes (a duplicate permalink fixed).
        self._shadowed: dict[tuple[str, str], list[Entry]] = {}
        # slug -> URL keys: a lone key as a string, a few as a tuple (a set per slug cost 8 MiB
        # at 20,000 reviews; most slugs name one page, or a review and its image).
        self._by_slug: dict[str, str | tuple[str, ...]] = {}
        self._backlinks: dict[str, set[str]] | None = None
        # Bumped by every add and remove, so that caches built from the index (features/) can
        # tell they are stale without comparing the whole index.
        self.generation = 0

    # -- building -------------------------------------------------------------------------

    def add(self, entry: Entry, document: Document | None) -> None:
        """Add (or replace) one file. `document` is None for static files."""
        if entry.kind is EntryKind.STATIC:
            self.insert(entry, None)
        else:
            self.insert(entry, self.record(entry, document))

    def record(self, entry: Entry, document: Document | None) -> IndexedDocument:
        """What the index keeps of one document; computed apart from `insert` so that worker
        processes can parse and summarise while one process builds the index."""
        return IndexedDocument(
            entry=entry,
            tags=taxonomy_values(entry.data.get("tags")),
            categories=taxonomy_values(entry.data.get("categories")),
            link_keys=tuple(self._link_keys(document)) if document is not None else (),
            anchors=frozenset(document.anchors()) if document is not None else frozenset(),
        )

    def insert(self, entry: Entry, indexed: IndexedDocument | None) -> None:
        """Add (or replace) one file from its record (None for static files)."""
        self.remove(entry.path)
        if indexed is None:
            # Thousands of images: one `.jpg`, and the output path that is the path itself.
            if entry.output_ext is not None:
                entry.output_ext = sys.intern(entry.output_ext)
            if entry.output_path == entry.path:
                entry.output_path = entry.path
            if not entry.tags and not entry.categories and not entry.problems:
                entry.tags = entry.categories = entry.problems = NO_NAMES
            self.statics[entry.path] = entry
        else:
            self.documents[entry.path] = indexed
            if indexed.is_review:
                self.tags.add(entry.path, indexed.tags)
                self.categories.add(entry.path, indexed.categories)
            if entry.post_id:
                self._claim(self._by_post_id, "post_id", entry.post_id, entry)
        if entry.url is not None:
            key = normalize_url(entry.url)
            if key is not None and self._claim(self._by_url, "url", key, entry):
                _add_key(self._by_slug, _last_segment_slug(key), key)
        self._backlinks = None
        self.generation += 1

    def uses(self, path: str, key: str, spelling: str) -> bool:
        """Whether the review at `path` has `spelling` in its `key` list ("tags" or
        "categories"), as the taxonomy counts it: in constant time, from the review's record."""
        indexed = self.documents.get(path)
        if indexed is None or not indexed.is_review:
            return False
        return spelling in (indexed.tags if key == "tags" else indexed.categories)

    def remove(self, path: str) -> None:
        old: Entry | None = None
        indexed = self.documents.pop(path, None)
        if indexed is not None:
            old = indexed.entry
            if indexed.is_review:
                self.tags.remove(path, indexed.tags)
                self.categories.remove(path, indexed.categories)
            if old.post_id:
                self._release(self._by_post_id, "post_id", old.post_id, old)
        else:
            old = self.statics.pop(path, None)
        if old is None:
            return
        if old.url is not None:
            key = normalize_url(old.url)
            if key is not None and self._release(self._by_url, "url", key, old):
                _discard_key(self._by_slug, _last_segment_slug(key), key)
        self._backlinks = None
        self.generation += 1

    def _claim(self, table: dict[str, Entry], kind: str, key: str, entry: Entry) -> bool:
        """Give `key` to `entry` if it wins over the holder (see `_replaces`), else keep it
        aside; True when the key had no holder before."""
        holder = table.get(key)
        if _replaces(holder, entry):
            table[key] = entry
            if holder is None or holder.path == entry.path:
                return holder is None
            entry = holder
        self._shadowed.setdefault((kind, key), []).append(entry)
        return False

    def _release(self, table: dict[str, Entry], kind: str, key: str, entry: Entry) -> bool:
        """Take `key` from `entry`, handing it to the entry set aside that would win it (the
        last built one, else the last one); True when nobody holds it any more."""
        waiting = self._shadowed.get((kind, key))
        if table.get(key) is not entry:
            if waiting is not None:
                waiting[:] = [e for e in waiting if e is not entry]
                if not waiting:
                    del self._shadowed[(kind, key)]
            return False
        if not waiting:
            del table[key]
            return True
        heir = next((e for e in reversed(waiting) if e.built), waiting[-1])
        waiting.remove(heir)
        if not waiting:
            del self._shadowed[(kind, key)]
        table[key] = heir
        return False

    def _link_keys(self, document: Document) -> Iterable[str]:
        baseurl = self.site.config.baseurl
        for link in document.links:
            if link.target is None:
                continue
            if link.kind is LinkKind.POST_URL:
                yield "post_id:" + link.target.strip()
                continue
            if link.kind is LinkKind.LINK_TAG:
                yield "path:" + link.target.strip()
                continue
            key = normalize_url(link.target, baseurl)
            if key is not None:
                yield key
        for definition in document.definitions:
            key = normalize_url(definition.url, baseurl)
            if key is not None:
                yield key

    # -- questions ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.documents) + len(self.statics)

    def reviews(self) -> Iterable[IndexedDocument]:
        return (doc for doc in self.documents.values() if doc.is_review)

    def entry(self, path: str) -> Entry | None:
        indexed = self.documents.get(path)
        if indexed is not None:
            return indexed.entry
        return self.statics.get(path)

    def resolve_url(self, url: str) -> Entry | None:
        """The page, document or static file the site serves at `url`, if any."""
        key = normalize_url(url, self.site.config.baseurl)
        if key is None:
            return None
        found = self._by_url.get(key)
        if found is None and not key.endswith("/") and "." not in key.rsplit("/", 1)[-1]:
            # `/about` is served by `/about/index.html` too (servers redirect to the folder).
            found = self._by_url.get(key + "/")
        return found

    def resolve_post_id(self, post_id: str) -> Entry | None:
        """The post `{% post_url post_id %}` names. As Jekyll does, a leading `/` is ignored,
        and a bare name also finds a post filed in a subfolder of `_posts`."""
        wanted = post_id.strip().lstrip("/")
        found = self._by_post_id.get(wanted)
        if found is None and "/" not in wanted:
            suffix = "/" + wanted
            found = next(
                (entry for key, entry in self._by_post_id.items() if key.endswith(suffix)), None
            )
        return found

    def resolve_path(self, path: str) -> Entry | None:
        """The file `{% link path %}` names, relative to the site root."""
        return self.entry(path.strip().lstrip("/"))

    def post_ids(self) -> Iterable[str]:
        return self._by_post_id.keys()

    def urls(self) -> Iterable[tuple[str, Entry]]:
        return self._by_url.items()

    def suggest_url(self, url: str) -> str | None:
        """The existing URL an author most likely meant: same slug first, then a close match."""
        key = normalize_url(url, self.site.config.baseurl)
        if key is None:
            return None
        slug = _last_segment_slug(key)
        candidates = [k for k in self._slug_keys(slug) if _built(self._by_url.get(k))]
        if not candidates:
            close = difflib.get_close_matches(slug, list(self._by_slug), n=3, cutoff=0.8)
            candidates = [
                k for s in close for k in self._slug_keys(s) if _built(self._by_url.get(k))
            ]
        if not candidates:
            return None
        best = max(candidates, key=lambda k: difflib.SequenceMatcher(None, key, k).ratio())
        entry = self._by_url[best]
        return entry.url

    def _slug_keys(self, slug: str) -> tuple[str, ...]:
        keys = self._by_slug.get(slug)
        if keys is None:
            return ()
        return (keys,) if isinstance(keys, str) else keys

    def suggest_post_id(self, post_id: str) -> str | None:
        match = _DATE_PREFIX.match(post_id)
        slug = post_id[match.end() :] if match else post_id
        ids = [pid for pid in self._by_post_id if pid.endswith("-" + slug) or pid == slug]
        if not ids:
            ids = difflib.get_close_matches(post_id, list(self._by_post_id), n=1, cutoff=0.8)
        if not ids:
            return None
        return max(ids, key=lambda pid: difflib.SequenceMatcher(None, post_id, pid).ratio())

    def backlinks(self, path: str) -> list[str]:
        """The documents that link to the document at `path`, by URL, `post_url` or `link`."""
        target = self.entry(path)
        if target is None:
            return []
        table = self._backlink_table()
        keys = []
        if target.url is not None:
            key = normalize_url(target.url)
            if key is not None:
                keys.append(key)
        if target.post_id:
            keys.append("post_id:" + target.post_id)
        keys.append("path:" + target.path)
        users: set[str] = set()
        for key in keys:
            users |= table.get(key, set())
        users.discard(path)
        return sorted(users)

    def _backlink_table(self) -> dict[str, set[str]]:
        if self._backlinks is None:
            table: dict[str, set[str]] = {}
            for indexed in self.documents.values():
                for key in indexed.link_keys:
                    table.setdefault(key, set()).add(indexed.path)
            self._backlinks = table
        return self._backlinks


def _add_key(table: dict[str, str | tuple[str, ...]], slug: str, key: str) -> None:
    present = table.get(slug)
    if present is None:
        table[slug] = key
    elif isinstance(present, str):
        if present != key:
            table[slug] = (present, key)
    elif key not in present:
        table[slug] = (*present, key)


def _discard_key(table: dict[str, str | tuple[str, ...]], slug: str, key: str) -> None:
    present = table.get(slug)
    if present == key:
        del table[slug]
    elif isinstance(present, tuple) and key in present:
        kept = tuple(k for k in present if k != key)
        table[slug] = kept[0] if len(kept) == 1 else kept


def _replaces(existing: Entry | None, new: Entry) -> bool:
    """Whether `new` takes a URL or post id from `existing`: a built page beats a draft."""
    return existing is None or existing.path == new.path or new.built or not existing.built


def _built(entry: Entry | None) -> bool:
    return entry is not None and entry.status is Status.BUILT


def _last_segment_slug(key: str) -> str:
    segment = key.rstrip("/").rsplit("/", 1)[-1]
    if segment == "index.html":
        segment = key.rstrip("/").rsplit("/", 2)[-2] if key.count("/") >= 2 else segment
    return segment.rsplit(".", 1)[0] if "." in segment else segment
