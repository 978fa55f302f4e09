"""Site-wide lists that completion, hover and workspace symbols rank, cached on the index.

Completion and hover run per keystroke on sites of 20,000 reviews, so nothing here is rebuilt
per call. A `Catalog` keeps one small record per review and derived lists: reviews newest first
with a text search over their titles, URLs and post ids (`TextSearch`, `str.find` over one joined
string), value frequencies, tags and categories ranked by use (`RankedNames`), image names.
It refreshes lazily when the index's `generation` moved: it finds the documents added since
(see `Catalog.refresh`), updates their records, and repairs only the derived lists those changes
touch, so re-indexing the document being typed costs microseconds, not a rebuild.
"""

from __future__ import annotations

import bisect
import datetime
import heapq
import json
import math
import operator
import re
import weakref
from array import array
from collections import Counter
from collections.abc import Callable, Container, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from letterhead.document import fold, fold_once
from letterhead.index import IndexedDocument, SiteIndex
from letterhead.site.discovery import within_site
from letterhead.site.model import Entry, Site, Status
from letterhead.site.yamldata import safe_load
from letterhead.taxonomy import Taxonomy

# Front matter keys whose values completion offers from the corpus, by frequency.
VALUE_KEYS = ("position", "addressee", "author", "layout")
_NO_VALUES = (None,) * len(VALUE_KEYS)  # a review that shares none of another's values
TAXONOMY_KEYS = ("tags", "categories")
_MAX_DATA_FILE_BYTES = 2_000_000
# Walking the newest-first list to find a tag's latest review is cheap for common tags and
# hopeless for rare ones; past these bounds the review's own users are scanned instead.
_FEW_USERS = 256
_MAX_WALK = 4096
# How many names of its own a review may have that `Catalog.prime` looks past.
_OWN_NAMES = 20

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class ReviewRecord:
    """What lists and rankings need of one review. Made for every review when a site is indexed
    (20,000 of them on the way to a ready index), so it holds only what the index does not
    (the date's POSIX time, the values as text); the rest is read from the index's own objects
    when asked for (a record of eleven fields took ~45 ms to make for 20,000 reviews)."""

    path: str
    indexed: IndexedDocument  # the index's object; a new one means the review changed
    stamp: float  # the date as a POSIX time (-inf without one), for sorting newest first
    values: tuple[str | None, ...]  # the VALUE_KEYS values, as strings

    @property
    def entry(self) -> Entry:
        return self.indexed.entry

    @property
    def title(self) -> str:
        return self.indexed.title

    @property
    def url(self) -> str | None:
        return self.indexed.entry.url

    @property
    def built(self) -> bool:
        return self.indexed.entry.status is Status.BUILT

    @property
    def date(self) -> datetime.datetime | None:
        return self.indexed.entry.date

    @property
    def post_id(self) -> str | None:
        return self.indexed.entry.post_id

    @property
    def tags(self) -> tuple[str, ...]:
        return self.indexed.tags

    @property
    def categories(self) -> tuple[str, ...]:
        return self.indexed.categories

    @property
    def title_fold(self) -> str:
        return fold_once(self.title)

    @property
    def slug(self) -> str:
        """The slug (else the file name without its extension), case-folded."""
        entry = self.indexed.entry
        return (entry.slug or entry.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]).casefold()

    @property
    def day(self) -> str:
        """The date as `YYYY-MM-DD`, or "" when there is none."""
        return self.date.date().isoformat() if self.date is not None else ""

    def names(self, key: str) -> tuple[str, ...]:
        """The review's tags or categories (`key` is "tags" or "categories")."""
        return self.tags if key == "tags" else self.categories


def _record(indexed: IndexedDocument, stamps: dict[datetime.datetime, float]) -> ReviewRecord:
    """The record of a review; `stamps` keeps the POSIX times of dates already seen (reviews
    share dates, and looking one up costs less than `timestamp`)."""
    entry = indexed.entry
    date = entry.date
    if date is None:
        stamp = -math.inf
    else:
        known = stamps.get(date)
        stamp = date.timestamp() if known is None else known
        if known is None:
            stamps[date] = stamp
    get = entry.data.get
    values = []
    for key in VALUE_KEYS:
        value = get(key)
        values.append((value.strip() or None) if type(value) is str else _other_as_text(value))
    return ReviewRecord(entry.path, indexed, stamp, tuple(values))


_SEARCH_LINES: dict[str, Callable[[ReviewRecord], str]] = {
    "title": lambda r: f"{r.title_fold} \x1f {r.slug.replace('-', ' ')}",
    "url": lambda r: (r.url or "").casefold(),
    "post_id": lambda r: f"{fold_once(r.post_id or '')} \x1f {r.title_fold}",
}


# The searches built while the editor is quiet.
_PREPARED_SEARCHES = ("title", "url", "post_id")
# Documents a step of `Catalog.taking` makes records of (~1.3 ms at 20,000 reviews; a request
# waits for a step at most, and right after an index is ready, while the template engine is
# imported beside them, a step takes two to three times as long).
_RECORDS_PER_STEP = 500
# Lines a step of `TextSearch.building` makes (~1 ms at 20,000 reviews), or names folded.
_LINES_PER_STEP = 2_000
# Static files a step of `_Images.building` files under their names (~2 ms).
_IMAGES_PER_STEP = 5_000


def _other_as_text(value: Any) -> str | None:
    """A front matter value that is not a plain string, as a value completion offers (a
    string, `_record` trims without a call)."""
    if value is None or isinstance(value, (list, dict, bool)):
        return None
    text = str(value).strip()
    return text or None


def _newest_first_key(record: ReviewRecord) -> tuple[float, str]:
    return (-record.stamp, record.path)


_path_of = operator.attrgetter("path")
_stamp_of = operator.attrgetter("stamp")

# Past this many records in or out of the newest-first list at once (a branch switched, a
# folder of reviews added), it is sorted again and the searches built again on first use.
_FEW_MOVES = 32


class _Changes:
    """What one refresh of the catalog found, for the lists made from the records."""

    __slots__ = ("came", "gone", "replaced", "retagged")

    def __init__(self) -> None:
        self.gone: list[ReviewRecord] = []  # out of the newest-first order
        self.came: list[ReviewRecord] = []  # into it
        self.replaced: list[tuple[ReviewRecord, ReviewRecord]] = []  # old and new, in place
        self.retagged: list[ReviewRecord] = []  # old and new records whose names changed

    def touching_users(self) -> Iterator[ReviewRecord]:
        """Records whose names' newest users may have changed."""
        yield from self.gone
        yield from self.came
        yield from self.retagged
        for old, new in self.replaced:
            if old.built != new.built:
                yield old
                yield new


@dataclass(frozen=True, slots=True)
class RankedName:
    """A tag or category offered by completion: its canonical spelling and its uses."""

    text: str  # the canonical spelling
    folded: str
    count: int  # reviews using any spelling of it
    variants: tuple[tuple[str, int], ...]  # other spellings and their counts


# What `TextSearch` looks for in its lines: a text, a pattern, or any of several texts.
Needle = str | re.Pattern[str] | tuple[str, ...]


class TextSearch(Generic[T]):
    """One line of folded text per item (reviews newest first, names most used first),
    searched at C speed.

    A query never loops over 20,000 reviews in Python: `str.find` (or a linear-time regular
    expression) skips to the next line that matches, and the search stops once it has one
    more match than asked for.
    """

    def __init__(self, records: list[T], line: Callable[[T], str]) -> None:
        for _ in self._fill(records, line):
            pass

    @classmethod
    def building(
        cls, records: list[T], line: Callable[[T], str]
    ) -> Generator[None, None, TextSearch[T]]:
        """The search over `records`, made `_LINES_PER_STEP` lines at a time (the language
        server takes a step while the editor is quiet: the searches of 20,000 reviews take
        10-30 ms each, which a first link completion or symbol search would otherwise wait)."""
        search = cls.__new__(cls)
        yield from search._fill(records, line)
        return search

    def _fill(self, records: list[T], line: Callable[[T], str]) -> Iterator[None]:
        self.records = records
        # Where each line starts, as machine integers (a list of 20,000 ints held 0.7 MiB, an
        # object each; this 0.16), exact before `_exact_to` and `_shift` short from there on:
        # a line put in, taken out or changed moves every later line, and moving them all at
        # once cost a pass over 20,000 offsets per search (~4 ms for a new review, the newest,
        # first in the list; ~1 ms a keystroke for a front matter value being typed, among
        # 10,000). The shift is carried instead, and settled only over the lines between one
        # change and the next, which are near each other or the same.
        self.starts = array("q")
        starts = self.starts
        parts: list[str] = []
        position = 0
        for number, record in enumerate(records, start=1):
            text = "\n" + line(record).replace("\n", " ")
            starts.append(position)
            parts.append(text)
            position += len(text)
            if number % _LINES_PER_STEP == 0:
                yield
        self.text = "".join(parts)
        self._carry(len(starts), 0)

    def _carry(self, exact_to: int, shift: int) -> None:
        """The starts are exact before `exact_to` and short by `shift` from it on (none when no
        start lies there)."""
        self._exact_to = exact_to
        self._shift = shift if exact_to < len(self.starts) else 0

    def _settle(self, index: int) -> None:
        """Make the starts before `index` exact, and those from it on short by `_shift`."""
        starts, exact_to, shift = self.starts, self._exact_to, self._shift
        if shift and index > exact_to:
            starts[exact_to:index] = _shifted(starts[exact_to:index], shift)
        elif shift and index < exact_to:
            starts[index:exact_to] = _shifted(starts[index:exact_to], -shift)
        self._carry(index, shift)

    def start(self, index: int) -> int:
        """Where the line of the item at `index` starts in `text` (its `\n`)."""
        return self.starts[index] + (self._shift if index >= self._exact_to else 0)

    # The three below follow a change to `records`, the list the search shares with the
    # caller (the catalog's reviews newest first): each costs one string copy and the settling
    # of the starts between the last change and this one, against 10-30 ms to build the search
    # at 20,000 reviews.

    def replace(self, index: int, line: str) -> None:
        """Give the item at `index` a new line."""
        start, end = self._bounds(index)
        new = "\n" + line.replace("\n", " ")
        self.text = self.text[:start] + new + self.text[end:]
        self._settle(index + 1)
        self._carry(index + 1, self._shift + len(new) - (end - start))

    def inserted(self, index: int, line: str) -> None:
        """Take in the line of the item just inserted into `records` at `index`."""
        start = self.start(index) if index < len(self.starts) else len(self.text)
        new = "\n" + line.replace("\n", " ")
        self.text = self.text[:start] + new + self.text[start:]
        self._settle(index)
        self.starts.insert(index, start)
        self._carry(index + 1, self._shift + len(new))

    def deleted(self, index: int) -> None:
        """Drop the line of the item just deleted from `records` at `index`."""
        start, end = self._bounds(index)
        self.text = self.text[:start] + self.text[end:]
        self._settle(index + 1)
        del self.starts[index]
        self._carry(index, self._shift - (end - start))

    def _bounds(self, index: int) -> tuple[int, int]:
        end = self.start(index + 1) if index + 1 < len(self.starts) else len(self.text)
        return self.start(index), end

    def _line_at(self, offset: int) -> int:
        """The index of the line holding `offset` of `text`."""
        starts, exact_to, shift = self.starts, self._exact_to, self._shift
        if exact_to < len(starts) and offset >= starts[exact_to] + shift:
            return bisect.bisect_right(starts, offset - shift, exact_to) - 1
        return bisect.bisect_right(starts, offset, 0, exact_to) - 1

    def occurrences(self, needle: Needle) -> Iterator[int]:
        """The indexes of the records whose line holds `needle` (any of them, for a tuple),
        newest first, each once."""
        if isinstance(needle, tuple):
            last = -1
            for index in heapq.merge(*(self.occurrences(each) for each in needle)):
                if index != last:
                    last = index
                    yield index
            return
        text, count = self.text, len(self.starts)
        if isinstance(needle, re.Pattern):
            last = -1
            for match in needle.finditer(text):
                index = self._line_at(match.start())
                if index != last:
                    last = index
                    yield index
            return
        position = 0
        while True:
            found = text.find(needle, position)
            if found < 0:
                return
            index = self._line_at(found)
            yield index
            if index + 1 >= count:
                return
            position = self.start(index + 1)

    def ranked(
        self,
        needles: list[Needle],
        wanted: Callable[[T], bool],
        limit: int,
    ) -> tuple[list[T], bool]:
        """Records matching the needles: the first needle's matches first, each needle's newest
        first; at most `limit`, and whether more matched."""
        taken: set[int] = set()
        found: list[T] = []
        for needle in needles:
            for index in self.occurrences(needle):
                if index in taken:
                    continue
                taken.add(index)
                record = self.records[index]
                if not wanted(record):
                    continue
                found.append(record)
                if len(found) > limit:
                    return found[:limit], True
        return found, False


def _shifted(offsets: array[int], shift: int) -> array[int]:
    """`offsets`, each moved by `shift`."""
    return array("q", [offset + shift for offset in offsets])


def ranked_needles(folded: str) -> list[Needle]:
    """Needles for `TextSearch.ranked`: lines it begins, then a word it begins, then anywhere
    (everything, in order, when nothing is typed)."""
    if not folded:
        return ["\n"]
    return ["\n" + folded, " " + folded, folded]


# What comes before a word within a name (`match_class`'s second class).
_WORD_BREAKS = " -_/."


def word_needles(folded: str) -> list[Needle]:
    """Needles for `TextSearch.ranked` in `match_class`'s order: lines it begins, then a word
    it begins after any of `_WORD_BREAKS`, then anywhere (everything, in order, when nothing is
    typed). Texts only: `str.find` skips through 10,000 values in microseconds, where a pattern
    for the words took ~1 ms."""
    if not folded:
        return ["\n"]
    return ["\n" + folded, tuple(mark + folded for mark in _WORD_BREAKS), folded]


def _name_order(name: RankedName) -> tuple[int, str, str]:
    return (-name.count, name.folded, name.text)


class RankedNames:
    """Every folded form of one taxonomy, most used first, kept sorted as reviews change.

    Typing in a `tags:` list re-indexes the document on every keystroke; only the folded forms
    of that document's old and new tags are recounted and moved (a bisect), never the whole
    vocabulary.
    """

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.by_fold: dict[str, RankedName] = {}
        for folded in taxonomy.folded_forms():
            name = self._make(folded)
            if name is not None:
                self.by_fold[folded] = name
        self.names = sorted(self.by_fold.values(), key=_name_order)
        self.keys = [_name_order(name) for name in self.names]
        self._search: TextSearch[RankedName] | None = None

    def _make(self, folded: str) -> RankedName | None:
        form = self.taxonomy.form(folded)
        if form is None:
            return None
        canonical, spellings = form
        # Reviews using any spelling (one using two spellings counts twice: TX005 reports it).
        count = sum(spelling.count for spelling in spellings)
        variants = tuple((s.text, s.count) for s in spellings if s.text != canonical.text)
        return RankedName(canonical.text, folded, count, variants)

    def update(self, folds: Iterable[str]) -> None:
        for folded in folds:
            old = self.by_fold.pop(folded, None)
            if old is not None:
                at = bisect.bisect_left(self.keys, _name_order(old))
                del self.keys[at]
                del self.names[at]
            new = self._make(folded)
            if new is not None:
                self.by_fold[folded] = new
                order = _name_order(new)
                at = bisect.bisect_left(self.keys, order)
                self.keys.insert(at, order)
                self.names.insert(at, new)
        self._search = None

    def search(self) -> TextSearch[RankedName]:
        """The names, most used first, searchable by their folded form."""
        if self._search is None:
            self._search = TextSearch(self.names, _folded_name)
        return self._search


def _folded_name(name: RankedName) -> str:
    return name.folded


_K = TypeVar("_K")
_V = TypeVar("_V")


def _folded_in_steps(
    pairs: list[tuple[str, _V]], order: Callable[[tuple[str, _V, str]], Any]
) -> Generator[None, None, list[tuple[str, _V, str]]]:
    """`(text, value, folded text)` for each pair, sorted by `order`, folded `_LINES_PER_STEP`
    at a time. Folded without `fold`'s cache: thousands of names met once (image names,
    addressees) would push the tags' folded forms out of it."""
    items: list[tuple[str, _V, str]] = []
    for start in range(0, len(pairs), _LINES_PER_STEP):
        chunk = pairs[start : start + _LINES_PER_STEP]
        items += [(text, value, fold_once(text)) for text, value in chunk]
        yield
    items.sort(key=order)
    return items


# A front matter value as the catalog ranks it: (value, reviews using it, folded value).
RankedValue = tuple[str, int, str]


def _value_order(item: RankedValue) -> tuple[int, str, str]:
    return (-item[1], item[2], item[0])


def _folded_value(item: RankedValue) -> str:
    return item[2]


# Up to how many values holding what is typed `RankedValues.best` classifies one by one.
_FEW_HOLDING = 400


class RankedValues:
    """One front matter key's values (one of `VALUE_KEYS`) across reviews, most used first,
    kept sorted as reviews change, and searchable by their folded form.

    Typing a review's `addressee:` re-indexes the review at every keystroke, and each one
    changes the count of the value typed so far: that value is moved (a bisect and a shift of
    the list) and its line in the search follows, where sorting the ~10,000 distinct
    addressees of a 20,000-review site again took ~20 ms a keystroke.
    """

    def __init__(self, counter: Counter[str]) -> None:
        for _ in self._fill(counter):
            pass

    @classmethod
    def building(cls, counter: Counter[str]) -> Generator[None, None, RankedValues]:
        """The values of `counter` ranked, and their search, made a slice at a time (~15 ms in
        all for the ~10,000 addressees of 20,000 reviews)."""
        ranked = cls.__new__(cls)
        yield from ranked._fill(counter)
        ranked._search = yield from TextSearch.building(ranked.items, _folded_value)
        return ranked

    def _fill(self, counter: Counter[str]) -> Iterator[None]:
        self.items = yield from _folded_in_steps(list(counter.items()), _value_order)
        self._search: TextSearch[RankedValue] | None = None  # made on the first typed query

    def recount(self, value: str, old: int, new: int) -> None:
        """Move `value`, used by `old` reviews (0: not listed), to its place for `new` (0:
        out of the list)."""
        folded = fold_once(value)
        items, search = self.items, self._search
        if old > 0:
            at = bisect.bisect_left(items, (-old, folded, value), key=_value_order)
            del items[at]
            if search is not None:
                search.deleted(at)
        if new > 0:
            item = (value, new, folded)
            at = bisect.bisect_left(items, _value_order(item), key=_value_order)
            items.insert(at, item)
            if search is not None:
                search.inserted(at, folded)

    def best(
        self, folded: str, wanted: Callable[[RankedValue], bool], limit: int
    ) -> tuple[list[RankedValue], bool]:
        """The `wanted` values holding `folded` by `match_class` (those it begins, then those
        with a word it begins, then the rest; most used first within each), at most `limit`,
        and whether more matched.

        A letter typed is held by thousands of a 20,000-review site's ~10,000 addressees:
        classifying each in Python took ~13 ms, where the search finds each class at C speed
        and stops once it has enough (~0.3 ms). Finding each class costs up to seven passes
        over the values' text (~0.15 ms each) when few values match, though: those few are
        classified one by one (~0.4 ms for a hundred)."""
        search = self._search
        if search is None:
            search = self._search = TextSearch(self.items, _folded_value)
        if folded and search.text.count(folded) <= _FEW_HOLDING:
            return best_matches(
                (item for item in self.holding(folded) if wanted(item)),
                lambda item: match_class(item[2], folded),
                limit,
            )
        return search.ranked(word_needles(folded), wanted, limit)

    def holding(self, folded: str) -> Iterator[RankedValue]:
        """The values whose folded form holds `folded` (all of them when it is empty), most used
        first: found by the search at C speed, not by a Python call for each value."""
        items = self.items
        if not folded:
            yield from items
            return
        if self._search is None:
            self._search = TextSearch(items, _folded_value)
        for at in self._search.occurrences(folded):
            yield items[at]


def subsequence_pattern(folded: str) -> re.Pattern[str]:
    """A linear-time pattern for a line holding the letters of `folded` in order (atomic
    groups: no backtracking, whatever the titles hold)."""
    parts = []
    for char in folded:
        if char.isspace():
            continue
        escaped = re.escape(char)
        parts.append(f"(?>[^\\n\\x1f{escaped}]*){escaped}")
    return re.compile("\n" + "".join(parts))


class Catalog:
    """Derived, lazily refreshed lists over one `SiteIndex` (see the module docstring)."""

    def __init__(self, index: SiteIndex) -> None:
        self.index = index
        self._generation = -1
        self._records: dict[str, ReviewRecord] = {}
        self._counters: dict[str, Counter[str]] = {key: Counter() for key in VALUE_KEYS}
        self._newest: list[ReviewRecord] | None = None  # sorted by `_newest_first_key`
        self._ranked_values: dict[str, RankedValues] = {}
        self._ranked_names: dict[str, RankedNames] = {}
        # (key, spelling) -> the paths of its two newest users: the newest other than any one
        # review is among them, so the answer holds for every document asking.
        self._latest_users: dict[tuple[str, str], tuple[str, ...]] = {}
        self._seen: dict[str, IndexedDocument] = {}  # every document as last seen
        self._stamps: dict[datetime.datetime, float] = {}  # see `_record`
        self._images: dict[tuple[str, ...], _Images] = {}
        self._statics_seen = 0  # the index's generation the image lists follow it up to
        self._searches: dict[str, TextSearch[ReviewRecord]] = {}
        self._taking: Iterator[None] | None = None  # a first take begun by `taking`
        index.follow_removals()  # see `refresh`

    # -- refreshing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring the records up to date with the index, touching only what changed.

        `SiteIndex.add` removes a path before inserting it again, so `index.documents` (a dict,
        in insertion order) ends with every document added since the last refresh: walking it
        backwards up to the first document already seen finds them all. Removals show up as a
        difference in size; the index's `removal_log` names them (a pass over every path
        finds them when it does not reach back far enough).
        A catalog that has seen no document yet takes them all at once (`_take_all`), and
        finishes at once a take of them begun by `taking`.
        """
        if self._taking is not None:
            for _ in self._taking:
                pass
        index = self.index
        if index.generation == self._generation:
            return
        previous, self._generation = self._generation, index.generation
        if self._seen:
            self._take_changes(index.documents, previous)
        else:
            self._take_all(index.documents)
        if self._images:
            log = index.static_log
            changed = log.paths_after(self._statics_seen) if log is not None else None
            if changed is None:
                self._images.clear()  # made again when asked for
            else:
                for path in changed:
                    for images in self._images.values():
                        images.changed(path, index.statics)
        self._statics_seen = index.generation

    @property
    def lag(self) -> int:
        """How many times the index changed since the last refresh."""
        return self.index.generation - self._generation

    def behind(self, most: int) -> bool:
        """Whether the index changed `most` times or more since the last refresh, and a refresh
        would take in those changes only (not a first take of every document, nor the rest of
        one begun by `taking`, which is done a step at a time)."""
        return self._taking is None and bool(self._seen) and self.lag >= most

    def _take_changes(self, documents: dict[str, IndexedDocument], previous: int) -> None:
        seen = self._seen
        added: list[IndexedDocument] = []
        for path, indexed in reversed(documents.items()):
            if seen.get(path) is indexed:
                break
            added.append(indexed)
        changes = _Changes()
        for indexed in reversed(added):
            seen[indexed.path] = indexed
            self._update(indexed, changes)
        if len(seen) != len(documents):
            # The documents taken out since `previous`, from the index's log of them (a pass
            # over every path took 1-2 ms at 20,000 reviews), or that pass when the log does
            # not reach back that far (many files deleted at once).
            log = self.index.removal_log
            logged = log.paths_after(previous) if log is not None else None
            self._forget_gone(logged or (), changes)
            if len(seen) != len(documents):
                self._forget_gone([path for path in seen if path not in documents], changes)
        if changes.gone or changes.came:
            moves = len(changes.gone) + len(changes.came)
            if moves > _FEW_MOVES or not self._move(changes.gone, changes.came):
                self._drop_order()
        if not self._replace(changes.replaced):
            self._drop_order()
        if changes.retagged:
            for key, ranked in self._ranked_names.items():
                ranked.update(
                    {fold(name) for record in changes.retagged for name in record.names(key)}
                )
        # A name's newest users change only with a review using it that came, went, moved,
        # was retagged or changed its status.
        latest = self._latest_users
        if latest:
            for record in changes.touching_users():
                for key in TAXONOMY_KEYS:
                    for name in record.names(key):
                        latest.pop((key, name), None)

    def _forget_gone(self, paths: Iterable[str], changes: _Changes) -> None:
        """Forget those of `paths` that are no longer in the index."""
        seen, documents = self._seen, self.index.documents
        for path in paths:
            if path in seen and path not in documents:
                del seen[path]
                old = self._records.pop(path, None)
                if old is not None:
                    self._forget(old, changes)

    def taking(self) -> Iterator[None]:
        """The first `refresh` of a catalog that has seen no document yet, `_RECORDS_PER_STEP`
        documents a step (~1.3 ms at 20,000 reviews, ~50 ms in all): the language server takes
        the steps once the index is ready, not on its way there. Whatever uses the catalog
        meanwhile refreshes it, which finishes the take at once; a change of the index between
        two steps is taken in after it, as any change is."""
        index = self.index
        if self._seen or self._taking is not None or index.generation == self._generation:
            return
        self._generation = index.generation
        self._taking = self._taking_all(index.documents)
        while self._taking is not None:
            next(self._taking, None)
            yield

    def _take_all(self, documents: dict[str, IndexedDocument]) -> None:
        """Every document as new: what `_take_changes` would do one document at a time, in
        bulk (20,000 reviews: ~50 ms instead of ~80)."""
        for _ in self._taking_all(documents):
            pass

    def _taking_all(self, documents: dict[str, IndexedDocument]) -> Iterator[None]:
        """`_take_all`, a step at a time. Whatever was derived from earlier records (none,
        unless every document was removed) is dropped; nothing of the catalog may be read
        before the last step (`refresh` runs the rest first)."""
        self._seen = seen = dict(documents)  # as they are now, whatever comes between steps
        self._drop_order()  # and the rest, made again when asked for
        self._ranked_values.clear()
        self._ranked_names.clear()
        self._latest_users.clear()
        stamps = self._stamps
        records = self._records = {}
        counters = self._counters = {key: Counter() for key in VALUE_KEYS}
        indexed = list(seen.values())
        for start in range(0, len(indexed), _RECORDS_PER_STEP):
            made = [
                _record(document, stamps)
                for document in indexed[start : start + _RECORDS_PER_STEP]
                if document.is_review
            ]
            records.update((record.path, record) for record in made)
            for at, key in enumerate(VALUE_KEYS):
                values = (record.values[at] for record in made)
                counters[key].update(value for value in values if value is not None)
            if start + _RECORDS_PER_STEP < len(indexed):
                yield
        self._taking = None

    def _update(self, indexed: IndexedDocument, changes: _Changes) -> None:
        """Take in one added or changed document."""
        records = self._records
        old = records.get(indexed.path)
        if not indexed.is_review:
            if old is not None:
                del records[indexed.path]
                self._forget(old, changes)
            return
        new = _record(indexed, self._stamps)
        records[indexed.path] = new
        if old is None:
            self._count(new, 1)
            changes.retagged.append(new)
            changes.came.append(new)
            return
        if old.values != new.values:
            self._count(old, -1, unless=new)
            self._count(new, 1, unless=old)
        if old.tags != new.tags or old.categories != new.categories:
            changes.retagged += (old, new)
        if _newest_first_key(old) != _newest_first_key(new):
            changes.gone.append(old)
            changes.came.append(new)
        else:
            changes.replaced.append((old, new))

    def _forget(self, record: ReviewRecord, changes: _Changes) -> None:
        self._count(record, -1)
        changes.retagged.append(record)
        changes.gone.append(record)

    def _drop_order(self) -> None:
        """Drop the newest-first list and the searches over it: made again when asked for."""
        self._newest = None
        self._searches.clear()

    def _where(self, record: ReviewRecord) -> int:
        """Where `record` goes in the newest-first list (which must be made)."""
        assert self._newest is not None
        return bisect.bisect_left(self._newest, _newest_first_key(record), key=_newest_first_key)

    def _place(self, record: ReviewRecord) -> int | None:
        """Where `record` (or the record of its path it stands for, with the same place in the
        order) is in the newest-first list; None if it is not there."""
        newest = self._newest
        assert newest is not None
        at = self._where(record)
        return at if at < len(newest) and newest[at].path == record.path else None

    def _move(self, gone: list[ReviewRecord], came: list[ReviewRecord]) -> bool:
        """Take records out of the newest-first list and put others in, patching the searches
        (a review added, removed or dated again: one string copy a search instead of building
        them again, 10-30 ms each at 20,000 reviews). False if a record to take out was not
        found (then the caller builds the list again)."""
        newest = self._newest
        if newest is None:
            return True
        for record in gone:
            at = self._place(record)
            if at is None:
                return False
            del newest[at]
            for search in self._searches.values():
                search.deleted(at)
        for record in came:
            at = self._where(record)
            newest.insert(at, record)
            for field, search in self._searches.items():
                search.inserted(at, _SEARCH_LINES[field](record))
        return True

    def _replace(self, replaced: list[tuple[ReviewRecord, ReviewRecord]]) -> bool:
        """Put changed records in the unchanged places of their old ones, patching the searches'
        lines; False if an old one was not found (then the caller builds the list again)."""
        newest = self._newest
        if newest is None:
            return True
        for old, record in replaced:
            at = self._place(old)
            if at is None:
                return False
            newest[at] = record
            for field, search in self._searches.items():
                line = _SEARCH_LINES[field]
                if line(old) != line(record):
                    search.replace(at, line(record))
        return True

    def _count(self, record: ReviewRecord, delta: int, unless: ReviewRecord | None = None) -> None:
        """Count `record`'s values `delta` times more, those it shares with `unless` left as they
        are (a review's other values when one changes: the ranked lists move nothing)."""
        # Run once per new review: plain dict calls, no Counter `__missing__`, and nothing to
        # move while no ranking has been made yet.
        counters, ranked = self._counters, self._ranked_values
        others = unless.values if unless is not None else _NO_VALUES
        for key, value, other in zip(VALUE_KEYS, record.values, others, strict=True):
            if value is None or value == other:
                continue
            counter = counters[key]
            count = counter.get(value, 0) + delta
            if count > 0:
                counter[value] = count
            else:
                counter.pop(value, None)
            if ranked:
                values = ranked.get(key)
                if values is not None:
                    values.recount(value, count - delta, max(count, 0))

    def warm(self) -> None:
        """Build every list now (once the index is ready) rather than on the first keystroke."""
        for field in _SEARCH_LINES:
            self.search(field)
        for key in TAXONOMY_KEYS:
            self.ranked_names(key)
        for key in VALUE_KEYS:
            self.ranked_values(key)

    # -- reviews ------------------------------------------------------------------------------

    def record(self, path: str) -> ReviewRecord | None:
        self.refresh()
        return self._records.get(path)

    def searched(self, image_dirs: tuple[str, ...]) -> bool:
        """Whether everything `searching` builds is built."""
        return (
            all(field in self._searches for field in _PREPARED_SEARCHES)
            and all(key in self._ranked_values for key in VALUE_KEYS)
            and image_dirs in self._images
        )

    def searching(self, image_dirs: tuple[str, ...]) -> Iterator[None]:
        """Build a slice at a time what a first request would otherwise build at once: the
        searches by title, URL and post id (a first symbol search, link or `{% post_url`
        completion; 10-30 ms each at 20,000 reviews), each front matter key's ranked values
        (a first value completion; ~15 ms for the addressees) and the list of images in
        `image_dirs` (a first `image:` completion; ~25 ms). What a change of the index
        interrupts is dropped, and built on first use as before."""
        for field in _PREPARED_SEARCHES:
            if not (yield from self._built_quietly(self._searches, field, self._search_building)):
                return
        for key in VALUE_KEYS:
            if not (
                yield from self._built_quietly(self._ranked_values, key, self._values_building)
            ):
                return
        yield from self._built_quietly(self._images, image_dirs, self._images_building)

    def _built_quietly(
        self,
        table: dict[_K, _V],
        key: _K,
        building: Callable[[_K], Generator[None, None, _V]],
    ) -> Generator[None, None, bool]:
        """`table[key]` made by `building(key)` a step at a time, unless it is there: a step of
        its own at the end, however small the site; dropped (False) if the index changed
        meanwhile (what it was made from is no longer the index's) or someone made it first."""
        self.refresh()
        if key in table:
            return True
        generation = self.index.generation
        made = yield from building(key)
        yield
        if self.index.generation != generation or key in table:
            return False
        table[key] = made
        return True

    def _search_building(self, field: str) -> Generator[None, None, TextSearch[ReviewRecord]]:
        return TextSearch.building(self.newest_first(), _SEARCH_LINES[field])

    def _values_building(self, key: str) -> Generator[None, None, RankedValues]:
        return RankedValues.building(self._counters.get(key, Counter()))

    def _images_building(self, image_dirs: tuple[str, ...]) -> Generator[None, None, _Images]:
        self.index.follow_statics()  # before the images are listed: their changes from then on
        return _Images.building(image_dirs, self.index.statics)

    def search(self, field: str) -> TextSearch[ReviewRecord]:
        """The newest-first text search over one field: "title" (title and slug words), "url"
        or "post_id" (the id's words and the title)."""
        self.refresh()
        search = self._searches.get(field)
        if search is None:
            line = _SEARCH_LINES[field]
            search = TextSearch(self.newest_first(), line)
            self._searches[field] = search
        return search

    def newest_first(self) -> list[ReviewRecord]:
        """Every review, newest first (ties by path)."""
        self.refresh()
        if self._newest is None:
            # `_newest_first_key` as two sorts on C-made keys (the second keeps the first's
            # order among equal dates): 3.4 ms at 20,000 reviews instead of 6.4 with a tuple a
            # review. Made again whenever an edit moves a review in the order (its date).
            newest = sorted(self._records.values(), key=_path_of)
            newest.sort(key=_stamp_of, reverse=True)
            self._newest = newest
        return self._newest

    # -- front matter values --------------------------------------------------------------------

    def ranked_values(self, key: str) -> list[RankedValue]:
        """`(value, count, folded value)` of `key` (one of VALUE_KEYS) across reviews, most
        used first."""
        return self.values(key).items

    def values(self, key: str) -> RankedValues:
        """`key`'s values (one of VALUE_KEYS), ranked and searchable."""
        self.refresh()
        ranked = self._ranked_values.get(key)
        if ranked is None:
            ranked = RankedValues(self._counters.get(key, Counter()))
            self._ranked_values[key] = ranked
        return ranked

    def value_count(self, key: str, value: str) -> int:
        self.refresh()
        return self._counters.get(key, Counter()).get(value, 0)

    # -- tags and categories --------------------------------------------------------------------

    def taxonomy(self, key: str) -> Taxonomy:
        return self.index.tags if key == "tags" else self.index.categories

    def ranked_names(self, key: str) -> list[RankedName]:
        """Every folded form of `key`'s names, canonical spelling first, most used first."""
        return self.names(key).names

    def names(self, key: str) -> RankedNames:
        """`key`'s names ("tags" or "categories"), ranked and searchable."""
        self.refresh()
        ranked = self._ranked_names.get(key)
        if ranked is None:
            ranked = RankedNames(self.taxonomy(key))
            self._ranked_names[key] = ranked
        return ranked

    def latest_user(self, key: str, spelling: str, exclude: str | None = None) -> str | None:
        """The path of the newest review (other than `exclude`) whose `key` list has `spelling`;
        reviews on the built site are preferred over drafts and unpublished ones."""
        self.refresh()
        newest = self._latest_users.get((key, spelling))
        if newest is None:
            users = self.newest_users(key, spelling, 2)
            newest = self._latest_users[key, spelling] = tuple(user.path for user in users)
        return next((path for path in newest if path != exclude), None)

    def newest_users(
        self, key: str, spelling: str, count: int, exclude: str | None = None
    ) -> list[ReviewRecord]:
        """Up to `count` reviews whose `key` list has `spelling`, built ones first, newest first.

        For a common name the newest-first list is walked (a few steps find `count` users); for
        a rare one its users are sorted. Either way the work is bounded.
        """
        self.refresh()
        users = self.taxonomy(key).users(spelling)
        if len(users) > _FEW_USERS:
            found: list[ReviewRecord] = []
            for steps, record in enumerate(self.newest_first()):
                if steps >= _MAX_WALK or len(found) >= count:
                    break
                if (
                    record.built
                    and record.path != exclude
                    and self.index.uses(record.path, key, spelling)
                ):
                    found.append(record)
            if len(found) >= count:
                return found
        records = [self._records[p] for p in users if p in self._records and p != exclude]
        records.sort(key=lambda record: (not record.built, *_newest_first_key(record)))
        return records[:count]

    def prime(self, limit: int) -> None:
        """Build now what the first completion in a tag or category list builds: the ranked
        names, the reviews newest first, and the newest user of the `limit` most used names
        (tens of milliseconds at 20,000 reviews, better spent before anyone waits on them)."""
        for _ in self.priming(limit):
            pass

    def priming(self, limit: int) -> Iterator[None]:
        """`prime`, one list at a time (~10 ms each at 20,000 reviews): the language server
        takes a step between two requests. Each list is refreshed against the index as it is
        used, so a change between two steps costs nothing more."""
        self.newest_first()
        yield
        for key in TAXONOMY_KEYS:
            names = self.names(key)
            yield
            names.search()
            yield
            # A few more than `limit`: a review's own names are not offered to it.
            for name in names.names[: limit + _OWN_NAMES]:
                self.latest_user(key, name.text)
            yield

    # -- images ---------------------------------------------------------------------------------

    def images(self, image_dirs: tuple[str, ...]) -> list[tuple[str, str, str]]:
        """`(name, path, folded name)` of every static file in the image folders, the name
        relative to its folder, sorted by name (a name in two folders: the first folder's).
        Made on first use (~20 ms for 20,000 images), then kept up to date a file at a time."""
        return self._images_in(image_dirs).items

    def image_matches(
        self, image_dirs: tuple[str, ...], typed: str, slug: str, limit: int
    ) -> tuple[list[tuple[str, str, str]], bool]:
        """`images` that match folded `typed`, the one named after `slug` first (see
        `_Images.matching`), at most `limit`, and whether more matched."""
        return self._images_in(image_dirs).matching(typed, slug, limit)

    def _images_in(self, image_dirs: tuple[str, ...]) -> _Images:
        self.refresh()
        images = self._images.get(image_dirs)
        if images is None:
            self.index.follow_statics()
            images = self._images[image_dirs] = _Images(image_dirs, self.index.statics)
        return images


def _image_order(item: tuple[str, str, str]) -> tuple[str, str]:
    return (item[2], item[0])


class _Images:
    """The files of some image folders as image completion offers them: each name (the path
    relative to its folder) once, with the first folder's file, sorted by folded name."""

    def __init__(self, image_dirs: tuple[str, ...], statics: Iterable[str]) -> None:
        for _ in self._fill(image_dirs, statics):
            pass

    @classmethod
    def building(
        cls, image_dirs: tuple[str, ...], statics: Iterable[str]
    ) -> Generator[None, None, _Images]:
        """The images, and their search, made a slice at a time (~35 ms in all for 20,000)."""
        images = cls.__new__(cls)
        yield from images._fill(image_dirs, statics)
        images._search = yield from TextSearch.building(images.items, _folded_image)
        return images

    def _fill(self, image_dirs: tuple[str, ...], statics: Iterable[str]) -> Iterator[None]:
        self.prefixes = [folder.strip("/") + "/" for folder in image_dirs if folder.strip("/")]
        ranked = [(rank, prefix, len(prefix)) for rank, prefix in enumerate(self.prefixes)]
        first: dict[str, str] = {}  # name -> the first folder's file
        # Sorted, the names come nearly in order, which the sort below takes in one pass.
        paths = sorted(statics)
        for start in range(0, len(paths), _IMAGES_PER_STEP):
            for path in paths[start : start + _IMAGES_PER_STEP]:  # `_named` written out
                for rank, prefix, cut in ranked:
                    if path.startswith(prefix):
                        held = first.setdefault(path[cut:], path)
                        if held is not path and self._rank(held) > rank:  # in two folders
                            first[path[cut:]] = path
                        break
            yield
        self.items = yield from _folded_in_steps(list(first.items()), _image_order)
        self._search: TextSearch[tuple[str, str, str]] | None = None  # made on first use

    def _rank(self, path: str) -> int:
        named = self._named(path)
        return named[0] if named is not None else len(self.prefixes)

    def _named(self, path: str) -> tuple[int, str] | None:
        """The rank of the first folder holding `path`, and its name there."""
        for rank, prefix in enumerate(self.prefixes):
            if path.startswith(prefix):
                return rank, path[len(prefix) :]
        return None

    def changed(self, path: str, statics: Container[str]) -> None:
        """Follow a static file put in or taken out (`statics` as it is now)."""
        named = self._named(path)
        if named is None:
            return
        name = named[1]
        # The files that may carry this name: one in each folder, the first one offered.
        offered = next(
            (
                prefix + name
                for rank, prefix in enumerate(self.prefixes)
                if prefix + name in statics and self._named(prefix + name) == (rank, name)
            ),
            None,
        )
        folded = fold_once(name)
        items, search = self.items, self._search
        at = bisect.bisect_left(items, (folded, name), key=_image_order)
        listed = at < len(items) and items[at][0] == name
        if offered is None:
            if listed:
                del items[at]
                if search is not None:
                    search.deleted(at)
        elif listed:
            items[at] = (name, offered, folded)
        else:
            items.insert(at, (name, offered, folded))
            if search is not None:
                search.inserted(at, folded)

    def matching(
        self, typed: str, slug: str, limit: int
    ) -> tuple[list[tuple[str, str, str]], bool]:
        """The images for folded `typed`, best first, at most `limit`, and whether more matched:
        the one named after the review (`slug`, folded), then the names beginning with `typed`,
        then those with a word beginning with it, then those holding it; each group in the
        list's order. What `best_matches` makes of `match_class`, without a Python call for
        each of 20,000 images (7 ms a completion): the first two groups are ranges of the
        sorted list, the others come from a search of the names' text."""
        items = self.items
        named: list[int] = []  # after the review
        if slug:
            for at in self._beginning(slug):
                folded = items[at][2]
                if folded.rsplit(".", 1)[0] == slug and match_class(folded, typed) is not None:
                    named.append(at)
        groups: list[list[int]] = [named, [], [], []]  # by `match_class` + 1 past the first
        matched = len(named)
        for at in self._beginning(typed):
            if at not in named:
                groups[1].append(at)
                matched += 1
                if len(named) + len(groups[1]) > limit:
                    return self._first(groups, limit), True
        if typed:
            if self._search is None:
                self._search = TextSearch(items, _folded_image)
            for at in self._search.occurrences(typed):
                rank = match_class(items[at][2], typed)
                if rank is None or rank == 0 or at in named:
                    continue  # a name beginning with it is in its group already
                matched += 1
                if len(groups[rank + 1]) < limit:
                    groups[rank + 1].append(at)
                if len(named) + len(groups[1]) + len(groups[2]) > limit:
                    return self._first(groups, limit), True
        chosen = self._first(groups, limit)
        return chosen, matched > len(chosen)

    def _beginning(self, prefix: str) -> Iterator[int]:
        """The places of the names whose folded form begins with `prefix`, in order."""
        items = self.items
        at = bisect.bisect_left(items, (prefix, ""), key=_image_order)
        while at < len(items) and items[at][2].startswith(prefix):
            yield at
            at += 1

    def _first(self, groups: list[list[int]], limit: int) -> list[tuple[str, str, str]]:
        return [self.items[at] for group in groups for at in group][:limit]


def _folded_image(item: tuple[str, str, str]) -> str:
    return item[2]


_CATALOGS: weakref.WeakKeyDictionary[SiteIndex, Catalog] = weakref.WeakKeyDictionary()


def catalog_for(index: SiteIndex) -> Catalog:
    """The index's catalog, created on first use and refreshed when the index changed."""
    catalog = catalog_of(index)
    catalog.refresh()
    return catalog


# How many changes of the index a catalog may lag behind while nothing asks it for anything
# (`keep_up`; a review edited is two: taken out, put in): a refresh of 256 reviews edited takes
# ~2 ms at 20,000 reviews.
CATCH_UP_CHANGES = 512


def keep_up(index: SiteIndex, most_behind: int = CATCH_UP_CHANGES) -> bool:
    """Refresh the index's catalog, if it has one with every document taken in, once the index
    has changed `most_behind` times or more since its last refresh (its `generation`); whether
    it did.

    A catalog refreshes when a request reads it, and holds meanwhile the index's records of the
    reviews as it last saw them: an editor applying a rename to 7,847 reviews sends no request
    for seconds, and the records the rename replaced stayed alive to its end (~7,870 of them, a
    few MiB of the server's peak). A caller that changes the index calls this after each
    change, and with a `most_behind` of 1 once the editor is quiet."""
    catalog = _CATALOGS.get(index)
    if catalog is None or not catalog.behind(most_behind):
        return False
    catalog.refresh()
    return True


def catalog_lag(index: SiteIndex) -> int:
    """How many changes of the index its catalog has yet to take in (0 without a catalog)."""
    catalog = _CATALOGS.get(index)
    return catalog.lag if catalog is not None else 0


def catalog_of(index: SiteIndex) -> Catalog:
    """The index's catalog as it is, created if need be: for the steps that bring it up to
    date (`Catalog.taking`); everything else wants `catalog_for`."""
    catalog = _CATALOGS.get(index)
    if catalog is None:
        catalog = Catalog(index)
        _CATALOGS[index] = catalog
    return catalog


# -- authors ---------------------------------------------------------------------------------

_authors_cache: dict[str, tuple[tuple[int, int], dict[str, dict[str, Any]]]] = {}


def author_details(site: Site) -> dict[str, dict[str, Any]]:
    """`_data/authors.yml` (or `.yaml`/`.json`) as key -> details; `{}` when there is none.

    Read with a safe loader, bounded in size, cached until the file changes.
    """
    data_dir = site.root / site.config.data_dir
    for name in ("authors.yml", "authors.yaml", "authors.json"):
        path = data_dir / name
        try:
            stat = path.stat()
        except (OSError, ValueError):
            continue
        if not within_site(site.root, path):
            return {}  # a link out of the site: not the site's to read
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _authors_cache.get(str(path))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        details = _read_authors(path, stat.st_size)
        _authors_cache[str(path)] = (stamp, details)
        return details
    return {}


def _read_authors(path: Path, size: int) -> dict[str, dict[str, Any]]:
    if size > _MAX_DATA_FILE_BYTES:
        return {}
    try:
        text = path.read_bytes()[:_MAX_DATA_FILE_BYTES].decode("utf-8-sig", errors="replace")
        loaded = json.loads(text) if path.suffix == ".json" else safe_load(text)
    except (OSError, yaml.YAMLError, ValueError, RecursionError):
        return {}
    if not isinstance(loaded, dict):
        return {}
    details: dict[str, dict[str, Any]] = {}
    for key, value in loaded.items():
        if isinstance(value, dict):
            details[str(key)] = {str(k): v for k, v in value.items()}
        elif isinstance(value, str):
            details[str(key)] = {"name": value}
        else:
            details[str(key)] = {}
    return details


def author_name(details: dict[str, Any]) -> str:
    name = details.get("name") or details.get("display_name") or details.get("full_name")
    return str(name) if isinstance(name, (str, int, float)) else ""


def best_matches(
    candidates: Iterable[T], classify: Callable[[T], int | None], limit: int, classes: int = 3
) -> tuple[list[T], bool]:
    """The first `limit` candidates by match class (0 best), keeping the candidates' own order
    within a class, and whether more matched. Bounded memory; stops early once the best class
    alone fills the list."""
    buckets: list[list[T]] = [[] for _ in range(classes)]
    matched = 0
    for candidate in candidates:
        rank = classify(candidate)
        if rank is None:
            continue
        matched += 1
        bucket = buckets[min(rank, classes - 1)]
        if len(bucket) < limit:
            bucket.append(candidate)
        if len(buckets[0]) >= limit and matched > limit:
            break
    result = [candidate for bucket in buckets for candidate in bucket][: max(limit, 0)]
    return result, matched > len(result)


def match_class(candidate_fold: str, typed_fold: str) -> int | None:
    """How well a folded candidate matches folded typed text: 0 prefix, 1 the start of a word
    (anywhere in it), 2 anywhere inside; None when it does not contain it. Empty typed text
    matches everything."""
    if not typed_fold:
        return 0
    position = candidate_fold.find(typed_fold)
    if position < 0:
        return None
    if position == 0:
        return 0
    while position > 0:
        if candidate_fold[position - 1] in _WORD_BREAKS:
            return 1
        position = candidate_fold.find(typed_fold, position + 1)
    return 2
