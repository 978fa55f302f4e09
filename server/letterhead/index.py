"""The site index: every document of a site with its URL, front matter, taxonomy and links.

It answers the cross-document questions rules and features ask: what page a URL names, which
reviews use a tag and how they spell it, which reviews link to a review. It is built from parsed
documents (`Document`) and the site model's `Entry`s; it keeps only what those questions need, so
20,000 reviews fit in little memory, and it can be updated one document at a time.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import gc
import operator
import re
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from letterhead.document import Document, LinkKind
from letterhead.site.model import Entry, EntryKind, Site, Status
from letterhead.site.permalinks import normalize_url
from letterhead.taxonomy import Taxonomy, sorted_insert, sorted_remove

# The version of what `SiteIndex.record` and `Site.entry` make of a file: bumped whenever that
# changes, so that a persistent index written by an older letterhead is not trusted.
RECORD_FORMAT = 1
REVIEW_KINDS = (EntryKind.POST, EntryKind.DRAFT, EntryKind.DOCUMENT)
_DATE_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-")
# At most this many of `suggest_url`'s answers are kept (all are dropped when it is reached).
_SUGGESTIONS_KEPT = 16_384


@contextlib.contextmanager
def collector_paused(freeze: bool = False) -> Iterator[None]:
    """The cyclic garbage collector off while a large heap without cycles is built (an index,
    its records, a parse of every file): it would walk the growing heap again and again and find
    nothing to collect (about 40% of a cold load at 20,000 reviews).

    With `freeze`, everything alive at the end is moved out of the collector's reach before it
    is back on (`gc.freeze`), as a long-lived holder of the heap wants: else its first
    collection walks all of it once (0.1 s after a restart at 20,000 reviews)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if freeze:
                gc.freeze()
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
        return IndexedDocument, _document_fields(self)

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
        if not self.anchors:
            self.anchors = NO_ANCHORS


_document_fields = operator.attrgetter(*IndexedDocument.__dataclass_fields__)

# The one empty list of names that entries without tags, categories or problems share (entries
# are never changed once made; thousands of images would otherwise hold three lists each).
NO_NAMES: list[str] = []
# The same for the many documents without a heading, and for the front matter of static files
# without `defaults:` values: an empty frozenset is not shared by the interpreter (216 bytes
# each) nor an empty dict (64), ~5 MiB at 20,000 reviews and as many images.
NO_ANCHORS: frozenset[str] = frozenset()
NO_DATA: dict[str, Any] = {}

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


def share_unchanged(entry: Entry, previous: Entry) -> None:
    """Make what a file's new entry has unchanged the very objects of the entry it replaces
    (an editor's text of a review, put in the index at each check): the strings of its front
    matter, of its lists of names, its URL and other names. The entry replaced was made in bulk
    and shares its strings (`share_strings`), with the other entries too; a new one brings its
    own copies of each (~1.4 KB a review; 8.5 MiB of the server with the 7,847 reviews an
    applied rename opens and edits). Nothing is added to the table of interned strings: only
    what the replaced entry holds is reused, so a tag typed letter by letter leaves nothing."""
    data, before = entry.data, previous.data
    if data == before and _alike(data, before):  # the body alone changed, or the file was
        entry.data = before  # opened as it is on disk
    else:
        for key, value in data.items():
            old = before.get(key)
            if old is None or old is value:
                continue
            kind = type(value)
            if kind is str:
                if type(old) is str and old == value:
                    data[key] = old
            elif kind is list and type(old) is list:
                _share_items(value, old)
    if entry.tags == previous.tags:
        entry.tags = previous.tags
    if entry.categories == previous.categories:
        entry.categories = previous.categories
    if not entry.problems:
        entry.problems = NO_NAMES
    for name in ("url", "slug", "title", "post_id", "output_path"):
        mine, theirs = getattr(entry, name), getattr(previous, name)
        if mine is not None and mine is not theirs and mine == theirs:
            setattr(entry, name, theirs)


# The fields of an entry `_same_record` compares by value: every field but those it compares
# by identity (shared by `share_unchanged` only when equal and alike) and the date (by `repr`).
# Taken from the class, so that a field added to `Entry` is compared too.
_compared_fields = operator.attrgetter(
    *(
        name
        for name in Entry.__dataclass_fields__
        if name not in {"data", "tags", "categories", "date"}
    )
)


def _same_record(new: IndexedDocument, old: IndexedDocument) -> bool:
    """Whether `new`, made to replace `old` and given its objects where equal
    (`share_unchanged`), says nothing `old` does not: a review opened as it is on disk, or a
    keystroke in its body that changed no link and no heading. Putting it in would take the
    review out of the taxonomies and tables and put it back as it was (~60 µs), and count as a
    change of the index for everything that follows one (the completion catalog)."""
    entry, before = new.entry, old.entry
    return (
        entry.data is before.data  # shared only when alike throughout
        and new.link_keys is old.link_keys
        and new.anchors is old.anchors
        and entry.tags is before.tags
        and entry.categories is before.categories
        and new.tags == old.tags
        and new.categories == old.categories
        and _compared_fields(entry) == _compared_fields(before)
        and repr(entry.date) == repr(before.date)  # one moment at two offsets is two dates
    )


def _alike(value: Any, other: Any) -> bool:
    """Whether `value` and `other`, equal, are alike throughout: of the same types, their keys
    in the same order. Python holds YAML's `1`, `1.0` and `true` equal, a page shows them as
    written (`4` stars, or `4.0`), and the order of a mapping's keys is what a loop over it
    gives."""
    if type(value) is not type(other):
        return False
    if type(value) is dict:
        keys = list(value)
        return (
            keys == list(other)
            and all(map(_alike, keys, other))
            and all(map(_alike, value.values(), other.values()))
        )
    if type(value) is list:
        return all(map(_alike, value, other))
    # Equal floats and times may still be written apart: `-0.0` and `0.0`, one moment at two
    # offsets.
    return type(value) in _EXACT_WHEN_EQUAL or repr(value) == repr(other)


_EXACT_WHEN_EQUAL = frozenset({str, int, bool, type(None)})


def _share_items(values: list[Any], previous: list[Any]) -> None:
    """The strings of `values` that `previous` holds too, made its objects (in place)."""
    known = {item: item for item in previous if type(item) is str}
    for at, item in enumerate(values):
        if type(item) is str:
            found = known.get(item)
            if found is not None:
                values[at] = found


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
# How many changes a `ChangeLog` keeps at least.
_CHANGE_LOG = 64


def taxonomy_values(value: Any) -> tuple[str, ...]:
    """Tag or category values as Jekyll reads them: a list of names, or a string split on spaces."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        if _STRINGS_ONLY.issuperset(map(type, value)):
            return tuple(value)  # the common case, done in C
        return tuple(
            str(item) for item in value if item is not None and not isinstance(item, (list, dict))
        )
    return (str(value),)


_STRINGS_ONLY = frozenset({str})


class ChangeLog:
    """Paths an index changed, as (the index's generation after the change, path), from the
    generation someone began to follow them; the oldest are dropped past a bound."""

    __slots__ = ("entries", "whole_from")

    def __init__(self, generation: int) -> None:
        self.entries: list[tuple[int, str]] = []
        self.whole_from = generation  # every change after this generation is here

    def note(self, generation: int, path: str) -> None:
        entries = self.entries
        entries.append((generation, path))
        if len(entries) > 2 * _CHANGE_LOG:
            self.whole_from = entries[-_CHANGE_LOG - 1][0]
            del entries[:-_CHANGE_LOG]

    def paths_after(self, generation: int) -> list[str] | None:
        """The paths changed after `generation`, in order, or None when the log does not reach
        back that far (it began later, or its oldest were dropped)."""
        if generation < self.whole_from:
            return None
        return [path for changed, path in self.entries if changed > generation]


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
        # The post ids of posts filed in a subfolder of `_posts`, by their last segment, in the
        # order of `_by_post_id`: the first is the post a bare name finds (`resolve_post_id`).
        self._by_post_name: dict[str, str | tuple[str, ...]] = {}
        # For the suggestions of dead links: built on the first one, then kept up to date.
        self._near_slugs: _NearMisses | None = None
        self._near_post_ids: _NearMisses | None = None
        self._post_id_endings: _Endings | None = None
        self._backlinks: dict[str, str | list[str]] | None = None  # see `_add_user`
        self._key_uses: Counter[str] | None = None  # front matter key -> documents with it
        # `suggest_url`'s answers for the index as of a generation: a site whose permalinks
        # changed has every link dead, the same few URLs from many reviews (36,367 dead links
        # to 9,735 URLs at 10,000 reviews), each answer a search for the nearest.
        self._suggested: tuple[int, dict[str, str | None]] | None = None
        # Bumped by every add and remove, so that caches built from the index (features/) can
        # tell they are stale without comparing the whole index.
        self.generation = 0
        self.review_count = 0  # documents that are reviews (`IndexedDocument.is_review`)

    # What is derived on demand from the maps above, and built again after a pickle (an index
    # snapshot holds only what it is made of: these hold classes the snapshot's unpickler
    # does not know, and would go stale with the first change anyway).
    _DERIVED = ("_backlinks", "_near_slugs", "_near_post_ids", "_post_id_endings", "_key_uses")

    # What changed since someone began to follow it (not in a snapshot): the static files put
    # in or taken out (`follow_statics`; the completion catalog keeps its lists of images up
    # to date from it), and the documents taken out (`follow_removals`; the catalog finds
    # them without a pass over every path).
    static_log: ChangeLog | None = None
    removal_log: ChangeLog | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in self._DERIVED:
            state[name] = None
        state["_suggested"] = None
        state.pop("static_log", None)
        state.pop("removal_log", None)
        return state

    def follow_statics(self) -> None:
        """Log the static files that change from now on in `static_log`."""
        if self.static_log is None:
            self.static_log = ChangeLog(self.generation)

    def follow_removals(self) -> None:
        """Log the documents taken out from now on in `removal_log` (not those replaced)."""
        if self.removal_log is None:
            self.removal_log = ChangeLog(self.generation)

    # -- building -------------------------------------------------------------------------

    def add(self, entry: Entry, document: Document | None) -> None:
        """Add (or replace) one file. `document` is None for static files."""
        if entry.kind is EntryKind.STATIC:
            self.insert(entry, None)
            return
        previous = self.documents.get(entry.path)
        if previous is not None:
            share_unchanged(entry, previous.entry)
        indexed = self.record(entry, document)
        if previous is not None:
            if indexed.link_keys == previous.link_keys:
                indexed.link_keys = previous.link_keys
            if indexed.anchors == previous.anchors:
                indexed.anchors = previous.anchors
            if _same_record(indexed, previous):
                return  # the record stays, and every table with it: nothing changed
        self.insert(entry, indexed)

    def record(self, entry: Entry, document: Document | None) -> IndexedDocument:
        """What the index keeps of one document; computed apart from `insert` so that worker
        processes can parse and summarise while one process builds the index."""
        data = entry.data
        return IndexedDocument(
            entry,
            taxonomy_values(data.get("tags")),
            taxonomy_values(data.get("categories")),
            self._link_keys(document) if document is not None else (),
            (frozenset(document.anchors()) or NO_ANCHORS) if document is not None else NO_ANCHORS,
        )

    def insert(self, entry: Entry, indexed: IndexedDocument | None) -> None:
        """Add (or replace) one file from its record (None for static files)."""
        self._take_out(entry.path, document_follows=indexed is not None)
        if indexed is None:
            # Thousands of images: one `.jpg`, and the output path that is the path itself.
            if entry.output_ext is not None:
                entry.output_ext = sys.intern(entry.output_ext)
            if entry.output_path == entry.path:
                entry.output_path = entry.path
            if not entry.tags and not entry.categories and not entry.problems:
                entry.tags = entry.categories = entry.problems = NO_NAMES
            if not entry.data:
                entry.data = NO_DATA
            self.statics[entry.path] = entry
        else:
            self.documents[entry.path] = indexed
            if indexed.is_review:
                self.review_count += 1
                self.tags.add(entry.path, indexed.tags)
                self.categories.add(entry.path, indexed.categories)
            if entry.post_id and self._claim(self._by_post_id, "post_id", entry.post_id, entry):
                self._post_id_claimed(entry.post_id)
        if entry.url is not None:
            key = normalize_url(entry.url)
            if key is not None and self._claim(self._by_url, "url", key, entry):
                self._url_claimed(key)
        backlinks = self._backlinks
        if backlinks is not None and indexed is not None:
            for key in indexed.link_keys:
                _add_user(backlinks, key, entry.path)
        if self._key_uses is not None and indexed is not None:
            self._key_uses.update(entry.data.keys())
        self.generation += 1
        if indexed is None and self.static_log is not None:
            self.static_log.note(self.generation, entry.path)

    def uses(self, path: str, key: str, spelling: str) -> bool:
        """Whether the review at `path` has `spelling` in its `key` list ("tags" or
        "categories"), as the taxonomy counts it: in constant time, from the review's record."""
        indexed = self.documents.get(path)
        if indexed is None or not indexed.is_review:
            return False
        return spelling in (indexed.tags if key == "tags" else indexed.categories)

    def remove(self, path: str) -> None:
        """Take one file out of the index."""
        self._take_out(path)

    def _take_out(self, path: str, document_follows: bool = False) -> None:
        """Take out the file at `path`, if the index has it; `document_follows` when a document
        is put in its place at once (`insert`: then no document left the index)."""
        old: Entry | None = None
        indexed = self.documents.pop(path, None)
        if indexed is not None:
            old = indexed.entry
            if indexed.is_review:
                self.review_count -= 1
                self.tags.remove(path, indexed.tags)
                self.categories.remove(path, indexed.categories)
            if old.post_id and self._release(self._by_post_id, "post_id", old.post_id, old):
                self._post_id_released(old.post_id)
        else:
            old = self.statics.pop(path, None)
        if old is None:
            return
        if old.url is not None:
            key = normalize_url(old.url)
            if key is not None and self._release(self._by_url, "url", key, old):
                self._url_released(key)
        backlinks = self._backlinks
        if backlinks is not None and indexed is not None:
            for key in indexed.link_keys:
                _discard_user(backlinks, key, path)
        key_uses = self._key_uses
        if key_uses is not None and indexed is not None:
            for key in old.data:
                key_uses[key] -= 1
                if key_uses[key] <= 0:
                    del key_uses[key]
        self.generation += 1
        if indexed is None:
            if self.static_log is not None:
                self.static_log.note(self.generation, path)
        elif not document_follows and self.removal_log is not None:
            self.removal_log.note(self.generation, path)  # a page without front matter, too

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

    def _url_claimed(self, key: str) -> None:
        """Note a URL key that has just got a holder (it had none) under its slug."""
        slug = _last_segment_slug(key)
        if self._near_slugs is not None and slug not in self._by_slug:
            self._near_slugs.add(slug)
        _add_key(self._by_slug, slug, key)

    def _url_released(self, key: str) -> None:
        """Forget a URL key that nobody holds any more."""
        slug = _last_segment_slug(key)
        _discard_key(self._by_slug, slug, key)
        if self._near_slugs is not None and slug not in self._by_slug:
            self._near_slugs.discard(slug)

    def _post_id_claimed(self, post_id: str) -> None:
        """Note a post id just added to `_by_post_id` (so at the end of its order)."""
        if "/" in post_id:
            _add_key(self._by_post_name, post_id.rsplit("/", 1)[1], post_id)
        if self._near_post_ids is not None:
            self._near_post_ids.add(post_id)
        if self._post_id_endings is not None:
            self._post_id_endings.add(post_id)

    def _post_id_released(self, post_id: str) -> None:
        """Forget a post id just deleted from `_by_post_id`."""
        if "/" in post_id:
            _discard_key(self._by_post_name, post_id.rsplit("/", 1)[1], post_id)
        if self._near_post_ids is not None:
            self._near_post_ids.discard(post_id)
        if self._post_id_endings is not None:
            self._post_id_endings.discard(post_id)

    def _link_keys(self, document: Document) -> tuple[str, ...]:
        baseurl = self.site.config.baseurl
        keys: list[str] = []
        for link in document.links:
            target = link.target
            if target is None:
                continue
            kind = link.kind
            if kind is LinkKind.POST_URL:
                keys.append("post_id:" + target.strip())
            elif kind is LinkKind.LINK_TAG:
                keys.append("path:" + target.strip())
            else:
                key = normalize_url(target, baseurl)
                if key is not None:
                    keys.append(key)
        for definition in document.definitions:
            key = normalize_url(definition.url, baseurl)
            if key is not None:
                keys.append(key)
        return tuple(keys)

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
            # The first in `_by_post_id`'s order of the ids ending with `/wanted`.
            keys = self._by_post_name.get(wanted)
            if keys is not None:
                found = self._by_post_id[keys if isinstance(keys, str) else keys[0]]
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
        suggested = self._suggested
        if suggested is None or suggested[0] != self.generation:
            suggested = self._suggested = (self.generation, {})
        answers = suggested[1]
        if url in answers:
            return answers[url]
        if len(answers) >= _SUGGESTIONS_KEPT:
            answers.clear()
        answer = answers[url] = self._suggest_url(url)
        return answer

    def _suggest_url(self, url: str) -> str | None:
        key = normalize_url(url, self.site.config.baseurl)
        if key is None:
            return None
        slug = _last_segment_slug(key)
        candidates = [k for k in self._slug_keys(slug) if _built(self._by_url.get(k))]
        if not candidates:
            close = self._close_slugs(slug)
            candidates = [
                k for s in close for k in self._slug_keys(s) if _built(self._by_url.get(k))
            ]
        if not candidates:
            return None
        entry = self._by_url[_most_similar(key, candidates)]
        return entry.url

    def _slug_keys(self, slug: str) -> tuple[str, ...]:
        keys = self._by_slug.get(slug)
        if keys is None:
            return ()
        return (keys,) if isinstance(keys, str) else keys

    def _close_slugs(self, slug: str) -> list[str]:
        """`difflib.get_close_matches(slug, list(self._by_slug), n=3, cutoff=0.8)`, without
        comparing `slug` with every slug of the site (25 ms at 20,000 reviews)."""
        near = self._near_slugs
        if near is None or near.worn:
            near = self._near_slugs = _run(_NearMisses.built(self._by_slug))
        return near.close_matches(slug, 3, 0.8)

    def suggest_post_id(self, post_id: str) -> str | None:
        """The existing post id an author most likely meant: one with the same slug (the part
        after the date) at its end, the most similar of those, else a close match."""
        match = _DATE_PREFIX.match(post_id)
        slug = post_id[match.end() :] if match else post_id
        ids = self._post_ids_ending(slug)
        if not ids:
            near = self._near_post_ids
            if near is None or near.worn:
                near = self._near_post_ids = _run(_NearMisses.built(self._by_post_id))
            ids = near.close_matches(post_id, 1, 0.8)
        if not ids:
            return None
        return _most_similar(post_id, ids)

    def _post_ids_ending(self, slug: str) -> list[str]:
        """The post ids that end with `-slug` or are `slug`, in `_by_post_id`'s order (which
        decides between equally similar ones)."""
        endings = self._post_id_endings
        if endings is None:
            endings = self._post_id_endings = _run(_Endings.built(self._by_post_id))
        found = endings.ending_with("-" + slug)
        same = endings.find(slug)
        if same is not None:
            found.append(same)
        found.sort()
        return [post_id for _, post_id in found]

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
            found = table.get(key)
            if isinstance(found, str):
                users.add(found)
            elif found is not None:
                users.update(found)
        users.discard(path)
        return sorted(users)

    def documents_with_key(self, key: str) -> int:
        """How many documents have `key` in their front matter (over the site's defaults):
        counted once, then kept up to date by `insert` and `remove` (a rule asks it of every
        unknown key at every check of a review; walking 20,000 documents took ~1.5 ms each)."""
        if self._key_uses is None:
            self._key_uses = _run(self._key_uses_built())
        return self._key_uses[key]

    def _key_uses_built(self) -> Generator[None, None, Counter[str]]:
        counts: Counter[str] = Counter()
        for documents in _slices(self.documents.values()):
            for indexed in documents:
                counts.update(indexed.entry.data.keys())
            yield
        return counts

    def _backlink_table(self) -> dict[str, str | list[str]]:
        """Link key -> the documents linking with it: built once, then kept up to date by
        `insert` and `remove` (a few keys a document; built again it took ~25 ms at 20,000)."""
        if self._backlinks is None:
            self._backlinks = _run(self._backlinks_built())
        return self._backlinks

    def _backlinks_built(self) -> Generator[None, None, dict[str, str | list[str]]]:
        table: dict[str, str | list[str]] = {}
        for documents in _slices(self.documents.values()):
            for indexed in documents:
                for key in indexed.link_keys:
                    _add_user(table, key, indexed.path)
            yield
        return table

    @property
    def prepared(self) -> bool:
        """Whether every table `prepare` builds is built."""
        return all(getattr(self, name) is not None for name in self._DERIVED)

    def prepare(self) -> Iterator[None]:
        """Build, a slice at a time, what the first backlinks request and the first dead-link
        suggestion that needs a near match would otherwise build at once (~0.45 s at 20,000
        reviews, in the middle of a didOpen): the language server takes one step at a time
        between requests once the index is in use. A table that a change of the index
        interrupts is dropped, and built on demand as before."""
        for name, build in (
            ("_backlinks", self._backlinks_built),
            ("_near_slugs", lambda: _NearMisses.built(self._by_slug)),
            ("_near_post_ids", lambda: _NearMisses.built(self._by_post_id)),
            ("_post_id_endings", lambda: _Endings.built(self._by_post_id)),
            ("_key_uses", self._key_uses_built),
        ):
            if getattr(self, name) is not None:
                continue
            started = self.generation
            table = yield from build()
            if self.generation != started:
                return
            setattr(self, name, table)


def _add_user(table: dict[str, str | list[str]], key: str, path: str) -> None:
    """Note `path` as a user of `key` in a table of backlinks: one user as the path itself,
    more as a sorted list. Sets took 9.6 MiB for the 26,086 link keys of 20,000 reviews (a set
    costs 216 bytes at the least, and a quarter of the keys have one user, most a handful)."""
    users = table.get(key)
    if users is None:
        table[key] = path
    elif isinstance(users, str):
        if users != path:
            table[key] = [users, path] if users < path else [path, users]
    else:
        sorted_insert(users, path)


def _discard_user(table: dict[str, str | list[str]], key: str, path: str) -> None:
    """Take `path` out of `key`'s users (`_add_user`), if it is one."""
    users = table.get(key)
    if users is None:
        return
    if isinstance(users, str):
        if users == path:
            del table[key]
        return
    if sorted_remove(users, path) and len(users) == 1:
        table[key] = users[0]


# Strings filed, or documents walked, between two steps of `SiteIndex.prepare` (at 20,000
# reviews, at most ~7 ms a step: a request that comes meanwhile waits that long).
_SLICE = 500
_T = TypeVar("_T")


def _slices(values: Iterable[_T]) -> Iterator[list[_T]]:
    """`values` as they are now, `_SLICE` at a time (a builder of `SiteIndex.prepare` takes
    a step between two slices; the index may change meanwhile, not what it walks)."""
    listed = list(values)
    for at in range(0, len(listed), _SLICE):
        yield listed[at : at + _SLICE]


def _run(steps: Generator[None, None, _T]) -> _T:
    """What a builder of `SiteIndex.prepare` makes, made at once."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


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


# -- near misses: what `suggest_url` and `suggest_post_id` compare a dead link with -------------
#
# `difflib.get_close_matches(word, strings, n, cutoff)` computes `SequenceMatcher.ratio` of `word`
# with every string it is given (after two cheaper bounds that let most through): ~25 ms per dead
# link against the slugs of 20,000 reviews, and a site whose permalinks changed has thousands.
# `_NearMisses` gives the same answer while comparing with a handful: difflib's ratio is
# `2 * matched / total` (`total` the two lengths added), and `matched` can be no more than
# the characters the two strings have in common (a multiset intersection: difflib's own
# `quick_ratio`) nor than their longest common subsequence (its matching blocks are one).


def _score(matched: int, total: int) -> float:
    """difflib's ratio for `matched` characters out of `total`, computed as difflib does
    (`_calculate_ratio`), so that bounds and ratios round alike and compare exactly."""
    return 2.0 * matched / total if total else 1.0


@functools.lru_cache(maxsize=1024)
def _fewest_common(total: int, cutoff: float) -> int:
    """The fewest characters two strings `total` long together must have in common for any
    ratio of theirs to reach `cutoff`."""
    common = 0
    while _score(common, total) < cutoff:
        common += 1
    return common


@dataclass(slots=True)
class _SameLength:
    """Strings of one length, and for each character `c` and count `k` the bitmap (an int, bit
    `i` for `words[i]`) of those with at least `k` copies of `c`: `levels[c][k - 1]`.

    Bitmaps rather than a count per string: the counts of all strings are added up in a few
    operations per character of the word compared (`common`), where a loop over the strings
    would cost as much as difflib's own cheap bounds. Each bitmap is small (one bit a string)."""

    words: list[str] = field(default_factory=list)
    levels: dict[str, list[int]] = field(default_factory=dict)

    def add(self, word: str) -> None:
        bit = 1 << len(self.words)
        self.words.append(word)
        for char, count in Counter(word).items():
            levels = self.levels.setdefault(char, [])
            if len(levels) < count:
                levels.extend([0] * (count - len(levels)))
            for k in range(count):
                levels[k] |= bit

    def common(self, counts: dict[str, int]) -> list[int]:
        """How many characters each string has in common with a word of these character
        `counts`, bit-sliced: bit `p` of string `i`'s count is bit `i` of `planes[p]`."""
        planes: list[int] = []
        for char, count in counts.items():
            for bitmap in self.levels.get(char, ())[:count]:
                carry = bitmap  # add one to the count of every string in `bitmap`
                for p, plane in enumerate(planes):
                    planes[p] = plane ^ carry
                    carry &= plane
                    if not carry:
                        break
                else:
                    planes.append(carry)
        return planes


class _NearMisses:
    """A set of strings filed to answer `difflib.get_close_matches` over all of them without
    comparing the word with each (see the comment above `_score`).

    Strings are filed by length (`_SameLength`); a removed one stays filed, marked `gone`, until
    it comes back or half of those filed are gone (`worn`: the owner then files them anew), so
    that an edit which takes a slug away and puts it back, as every keystroke in a review does,
    costs two set operations."""

    def __init__(self) -> None:
        self.lengths: dict[int, _SameLength] = {}
        self.gone: set[str] = set()
        self.filed = 0

    @classmethod
    def built(cls, strings: Iterable[str]) -> Generator[None, None, _NearMisses]:
        """The set of `strings`, filed a slice at a time (see `SiteIndex.prepare`)."""
        near = cls()
        for listed in _slices(strings):
            for string in listed:
                near._file(string)
            yield
        return near

    @property
    def worn(self) -> bool:
        return len(self.gone) * 2 > self.filed

    def add(self, string: str) -> None:
        """Take in a string that is not in the set."""
        if string in self.gone:
            self.gone.discard(string)
        else:
            self._file(string)

    def discard(self, string: str) -> None:
        """Let go of a string of the set."""
        self.gone.add(string)

    def _file(self, string: str) -> None:
        group = self.lengths.get(len(string))
        if group is None:
            group = self.lengths[len(string)] = _SameLength()
        group.add(string)
        self.filed += 1

    def close_matches(self, word: str, n: int, cutoff: float) -> list[str]:
        """`difflib.get_close_matches(word, strings, n, cutoff)`: the `n` strings with the best
        ratios at or above `cutoff`, best first, equal ratios in reverse alphabetical order.

        Candidates are taken best bound first; the ratio, the costly part, is computed only for
        those whose subsequence bound can still make the `n` best, and none is taken once even
        the bound of the next is below the `n`-th best ratio found."""
        found: list[tuple[float, str]] = []
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(word)  # the sides `get_close_matches` gives them (its junk is the word's)
        subsequences = _Subsequences(word)
        for bound, candidate in sorted(self._candidates(word, cutoff), reverse=True):
            least = found[n - 1][0] if len(found) >= n else cutoff
            if bound < least:
                break
            if candidate in self.gone:
                continue
            if _score(subsequences.longest(candidate), len(word) + len(candidate)) < least:
                continue
            matcher.set_seq1(candidate)
            ratio = matcher.ratio()
            if ratio >= cutoff:
                found.append((ratio, candidate))
                found.sort(reverse=True)
        return [candidate for _, candidate in found[:n]]

    def _candidates(self, word: str, cutoff: float) -> Iterator[tuple[float, str]]:
        """(bound, string) for the strings, gone ones included, that pass difflib's two cheap
        tests (`real_quick_ratio`, `quick_ratio`: length, characters in common) at `cutoff`;
        the bound is the latter. No other string can reach `cutoff`."""
        counts = Counter(word)
        for length, group in self.lengths.items():
            total = len(word) + length
            least = _fewest_common(total, cutoff)
            if least > min(len(word), length):
                continue
            planes = group.common(counts)
            hits = _at_least(planes, least, (1 << len(group.words)) - 1)
            while hits:  # those with exactly `least` in common, then `least + 1`, ...
                more = _at_least(planes, least + 1, hits)
                exactly = hits ^ more
                bound = _score(least, total)
                while exactly:
                    low = exactly & -exactly
                    exactly ^= low
                    yield bound, group.words[low.bit_length() - 1]
                hits = more
                least += 1


def _at_least(planes: list[int], least: int, everyone: int) -> int:
    """The bitmap of the strings among `everyone` whose bit-sliced count (`_SameLength.common`)
    is at least `least`, compared bit by bit from the highest."""
    if least <= 0:
        return everyone
    if least >> len(planes):
        return 0
    greater, equal = 0, everyone
    for p in range(len(planes) - 1, -1, -1):
        plane = planes[p]
        if least >> p & 1:
            equal &= plane
        else:
            greater |= equal & plane
            equal &= ~plane
    return greater | equal


class _Subsequences:
    """The length of the longest common subsequence of one word and others, by Hyyrö's
    bit-vector algorithm (a few int operations a character): difflib's matching blocks are a
    common subsequence, so this bounds its ratio, and far closer than the characters in common
    for slugs that have the same words in another order."""

    def __init__(self, word: str) -> None:
        self.size = len(word)
        self.positions: dict[str, int] = {}
        for i, char in enumerate(word):
            self.positions[char] = self.positions.get(char, 0) | 1 << i

    def longest(self, other: str) -> int:
        full = (1 << self.size) - 1
        rest = full
        positions = self.positions
        for char in other:
            taken = rest & positions.get(char, 0)
            rest = ((rest + taken) | (rest - taken)) & full
        return self.size - rest.bit_count()


def _most_similar(word: str, candidates: list[str]) -> str:
    """`max(candidates, key=lambda c: SequenceMatcher(None, word, c).ratio())`: the first of
    the most similar, comparing only those whose bounds (length, then subsequence) could still
    win; a short slug can end a great many post ids."""
    subsequences = _Subsequences(word)
    matcher = difflib.SequenceMatcher()
    matcher.set_seq1(word)
    best, best_ratio = 0, -1.0

    def bound(index: int) -> float:
        size = len(candidates[index])
        return _score(min(len(word), size), len(word) + size)

    for index in sorted(range(len(candidates)), key=bound, reverse=True):
        candidate = candidates[index]
        if bound(index) < best_ratio:
            break
        if _score(subsequences.longest(candidate), len(word) + len(candidate)) < best_ratio:
            continue
        matcher.set_seq2(candidate)
        ratio = matcher.ratio()
        if ratio > best_ratio or (ratio == best_ratio and index < best):
            best, best_ratio = index, ratio
    return candidates[best]


class _Endings:
    """Strings in the order of their reversed text, so that those ending with a text are found
    by bisection, each with its rank in the order the strings were added (`ranks`, in step with
    `strings`): the post ids of the index, ranked as `_by_post_id` orders them.

    A list of the index's own strings and an array of ints: ~16 bytes a post id."""

    @classmethod
    def built(cls, strings: Iterable[str]) -> Generator[None, None, _Endings]:
        """`_Endings(strings)` as a builder of `SiteIndex.prepare` (one step: a sort)."""
        yield
        return cls(strings)

    def __init__(self, strings: Iterable[str]) -> None:
        ranked = sorted(enumerate(strings), key=lambda pair: pair[1][::-1])
        self.strings = [string for _, string in ranked]
        self.ranks = array("q", [rank for rank, _ in ranked])
        self.next_rank = len(ranked)

    def _position(self, string: str) -> int:
        return bisect_left(self.strings, string[::-1], key=_reversed)

    def add(self, string: str) -> None:
        """Take in a string that is not there, ranked after all others."""
        at = self._position(string)
        self.strings.insert(at, string)
        self.ranks.insert(at, self.next_rank)
        self.next_rank += 1

    def discard(self, string: str) -> None:
        at = self._position(string)
        if at < len(self.strings) and self.strings[at] == string:
            del self.strings[at]
            del self.ranks[at]

    def find(self, string: str) -> tuple[int, str] | None:
        """(rank, string) if `string` is there."""
        at = self._position(string)
        if at < len(self.strings) and self.strings[at] == string:
            return self.ranks[at], string
        return None

    def ending_with(self, ending: str) -> list[tuple[int, str]]:
        """(rank, string) for every string that ends with `ending`."""
        found = []
        at = self._position(ending)
        strings = self.strings
        while at < len(strings) and strings[at].endswith(ending):
            found.append((self.ranks[at], strings[at]))
            at += 1
        return found


def _reversed(string: str) -> str:
    return string[::-1]
