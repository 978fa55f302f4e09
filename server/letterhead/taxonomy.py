"""Tags and categories across a site: spellings, their folded forms, counts, and near misses.

A `Taxonomy` holds, for one kind (tags or categories), which reviews use which spelling, grouped by
folded form (`fold`: case, accents, spacing, hyphens and underscores ignored). The canonical
spelling of a folded form is the one most reviews use.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from letterhead.document import fold


@dataclass(frozen=True, slots=True)
class Spelling:
    text: str
    count: int


class Taxonomy:
    def __init__(self, kind: str) -> None:
        self.kind = kind  # "tag" or "category"
        # Spelling -> paths of the reviews that use it, sorted. Lists, not sets: a set costs
        # ~40 bytes a path, a list 9, and the uses of a 20,000-review site are ~100,000 (9 MiB as
        # sets). Sorted, so that a review edited is found in its tags' lists by bisection: the
        # most used tag of 20,000 reviews has 7,848 (a scan took ~0.3 ms at each edit). Asking
        # whether one review uses a spelling goes to that review's record (`SiteIndex.uses`).
        self._uses: dict[str, list[str]] = {}
        # Spellings whose list had paths added out of order, with how many of its paths before
        # them are in order: put in order when next read (`_sorted_users`). A site lists its
        # posts newest first, so an index being built adds each tag's users in descending
        # order, and keeping every list sorted meant inserting at its front: 40% of putting
        # 20,000 reviews into an index (~0.13 s); sorted when read, each is reversed in one pass.
        self._unsorted: dict[str, int] = {}
        self._by_fold: dict[str, Counter[str]] = {}  # folded form -> spelling -> count
        # Deletion neighbourhoods of every folded form (as in SymSpell), so that a near-miss
        # lookup touches a handful of candidates instead of the whole vocabulary.
        # Most variants come from one form only, so that one is kept as a plain string (a
        # one-element set would cost five times the memory: tens of MiB at 20,000 reviews).
        # Keyed by a 30-bit hash of the variant rather than the variant itself: a small int is
        # half the memory of a short string, and a collision only adds a candidate that the
        # distance check then drops.
        # Two tiers, because an author typing a tag makes a new form at every keystroke (`m`,
        # `me`, `mem`, ...) that is gone at the next: the big `_base` (split over `_SHARDS`
        # dicts by the key's low bits) only ever grows by merges, and a form leaving it stays
        # there, stale, skipped by lookups, which check `_by_fold`; new forms go to the small
        # `_overlay`, which takes the churn. Deleting from the big dicts and inserting again
        # made them reallocate their tables now and then, the server's memory stepping up by
        # megabytes over a session (the soak saw 20 MiB with one dict, ~5 MiB with shards).
        # The tiers' forms are kept from the start, their tables of variants only from the
        # first lookup (`_indexed`): indexing a site adds thousands of forms, and a check
        # worker may look up none, or look up all at the end, where building `_base` in one go
        # costs less than half of building it form by form through the overlay and its merges.
        self._base: list[dict[int, str | set[str]]] = [{} for _ in range(_SHARDS)]
        self._base_forms: set[str] = set()  # forms of the big tier, live or not
        self._overlay: dict[int, str | set[str]] = {}
        self._overlay_forms: set[str] = set()
        self._indexed = False  # whether `_base` and `_overlay` hold their forms' variants
        # Folded forms by their text without digits: `tag 1` ... `tag 5000` are one group, names
        # that differ only in digits (distinct names, not typos), set aside in one step.
        self._digit_groups: dict[str, set[str]] = {}

    def add(self, path: str, spellings: Iterable[str]) -> None:
        """Count `path` as a user of `spellings`. Its previous spellings must have been removed
        first (`SiteIndex.insert` does), so that a path is never counted twice."""
        for text in set(spellings):
            users = self._uses.get(text)
            if users is None:
                self._uses[text] = [path]
            else:
                if users[-1] > path and text not in self._unsorted:
                    self._unsorted[text] = len(users)
                users.append(path)
            folded = fold(text)
            if folded not in self._by_fold:
                self._by_fold[folded] = Counter()
                if folded not in self._base_forms:
                    if self._indexed:
                        _insert([self._overlay], _deletion_keys(folded), folded)
                    self._overlay_forms.add(folded)
                    if len(self._overlay_forms) > _OVERLAY_FORMS:
                        self._merge()
                self._digit_groups.setdefault(folded.translate(_DIGITS), set()).add(folded)
            self._by_fold[folded][text] += 1

    def remove(self, path: str, spellings: Iterable[str]) -> None:
        for text in set(spellings):
            users = self._sorted_users(text)
            if not users or not sorted_remove(users, path):
                continue
            if not users:
                del self._uses[text]
            folded = fold(text)
            counter = self._by_fold[folded]
            counter[text] -= 1
            if counter[text] <= 0:
                del counter[text]
            if not counter:
                del self._by_fold[folded]
                if folded in self._overlay_forms:  # a form in `_base` stays there, stale
                    self._overlay_forms.discard(folded)
                    if self._indexed:
                        _discard(self._overlay, _deletion_keys(folded), folded)
                digitless = folded.translate(_DIGITS)
                group = self._digit_groups.get(digitless)
                if group is not None:
                    group.discard(folded)
                    if not group:
                        del self._digit_groups[digitless]

    def count(self, text: str) -> int:
        return len(self._uses.get(text, ()))

    def users(self, text: str) -> Sequence[str]:
        """The paths of the reviews using exactly this spelling, sorted (not to be changed)."""
        return self._sorted_users(text) or ()

    def _sorted_users(self, text: str) -> list[str] | None:
        users = self._uses.get(text)
        in_order = self._unsorted.pop(text, None)
        if users is not None and in_order is not None:
            added = users[in_order:]
            if len(added) * _FEW_ADDED < in_order:  # a review edited: each put in its place
                del users[in_order:]
                for path in added:
                    sorted_insert(users, path)
            else:  # an index built: sorted at once (a descending run is reversed in one pass)
                users.sort()
        return users

    def used_elsewhere(self, text: str, path: str) -> bool:
        """Whether a review other than `path` uses exactly this spelling."""
        users = self._uses.get(text, ())
        return len(users) > 1 or (len(users) == 1 and users[0] != path)

    def spelling_count(self, text: str) -> int:
        """How many spellings share `text`'s folded form."""
        return len(self._by_fold.get(fold(text), ()))

    def spellings(self, text: str) -> list[Spelling]:
        """Every spelling sharing `text`'s folded form, most used first."""
        form = self.form(fold(text))
        return form[1] if form is not None else []

    def canonical(self, text: str) -> Spelling | None:
        """The spelling most reviews use for `text`'s folded form (ties: the lower-case one)."""
        form = self.form(fold(text))
        return form[0] if form is not None else None

    def form(self, folded: str) -> tuple[Spelling, list[Spelling]] | None:
        """The canonical spelling of a folded form (`folded` is one already) and all of its
        spellings, most used first (ties in text order); None when no review uses it."""
        counter = self._by_fold.get(folded)
        if not counter:
            return None
        spellings = [Spelling(t, c) for t, c in sorted(counter.items(), key=_most_used)]
        top = spellings[0].count
        # Of the most used, the first in lower case, else the first.
        canonical = next(
            (s for s in spellings if s.count == top and s.text == s.text.lower()), spellings[0]
        )
        return canonical, spellings

    def all(self) -> list[Spelling]:
        """Every spelling in use, most used first."""
        return sorted(
            (Spelling(text, len(users)) for text, users in self._uses.items()),
            key=lambda s: (-s.count, s.text.casefold(), s.text),
        )

    def folded_forms(self) -> list[str]:
        return list(self._by_fold)

    def clusters(self) -> list[list[Spelling]]:
        """Folded forms written more than one way: the variants an editor should merge."""
        result = [
            self.spellings(next(iter(counter)))
            for counter in self._by_fold.values()
            if len(counter) > 1
        ]
        result.sort(key=lambda group: -sum(s.count for s in group))
        return result

    def near_miss(self, text: str, exclude_path: str | None = None) -> Spelling | None:
        """An established spelling a small typo away from `text` (`khmer rogue` → `khmer rouge`).

        Spellings that differ only in digits (`Oscars 2015` and `Oscars 2014`) are distinct tags,
        not typos, and so are spellings of the same folded form (TX001 handles those).
        """
        folded = fold(text)
        if len(folded) < 4:
            return None
        limit = 1 if len(folded) < 8 else _MAX_DISTANCE
        self.prepare()
        candidates: set[str] = set()
        base, overlay = self._base, self._overlay
        for variant in _deletion_keys(folded):
            for found in (base[variant & _SHARD_MASK].get(variant), overlay.get(variant)):
                if isinstance(found, str):
                    candidates.add(found)
                elif found is not None:
                    candidates |= found
        # Numbered names (`tag 1` ... `tag 5000`) share most of their deletions, so a name can
        # have thousands of candidates that differ from it only in digits: drop them at once.
        same_letters = self._digit_groups.get(folded.translate(_DIGITS))
        if same_letters:  # (`difference` walks the smaller set; `-=` would walk the group)
            candidates = candidates.difference(same_letters)
        candidates.discard(folded)
        best: tuple[int, int, str] | None = None
        for other in candidates:
            counter = self._by_fold.get(other)  # None for a stale form of `_base`
            if not counter or abs(len(other) - len(folded)) > limit:
                continue
            distance = _bounded_distance(folded, other, limit)
            if distance > limit:
                continue
            spelling, count = max(counter.items(), key=lambda item: (item[1], item[0]))
            users = self._uses.get(spelling, ())
            if exclude_path is not None and len(users) == 1 and users[0] == exclude_path:
                continue
            candidate = (distance, -count, spelling)
            if best is None or candidate < best:
                best = candidate
        if best is None:
            return None
        return Spelling(best[2], -best[1])

    def _merge(self) -> None:
        """Move the overlay's forms into `_base`; rebuild `_base` from the live forms instead
        when stale ones would make up more than a quarter of it."""
        stale = len(self._base_forms) - (len(self._by_fold) - len(self._overlay_forms))
        if stale > len(self._base_forms) // 4:
            self._base_forms = set(self._by_fold)
            if self._indexed:
                self._base = _tables(self._base_forms, _SHARDS)
        else:
            if self._indexed:  # the overlay's keys as they are: no deletions computed again
                for variant, forms in self._overlay.items():
                    shard = self._base[variant & _SHARD_MASK]
                    for folded in (forms,) if isinstance(forms, str) else forms:
                        _insert_one(shard, variant, folded)
            self._base_forms |= self._overlay_forms
        self._overlay = {}
        self._overlay_forms = set()

    def prepare(self) -> None:
        """Build the near-miss tables now rather than at the first lookup."""
        for _ in self.preparing():
            pass

    def preparing(self) -> Iterator[None]:
        """`prepare`, a slice of forms at a time (the language server takes a step between two
        requests: the tags of 20,000 reviews take ~0.1 s in all). Forms that reach `_base`
        meanwhile (a merge) make it start again; forms that leave it are stale there, as
        always, and the overlay's table is built at the end from the overlay as it is then.
        The stale forms of `_base` are left out of the new tables."""
        while not self._indexed:
            base = self._base_forms & self._by_fold.keys()
            forms = list(base)
            tables: list[dict[int, str | set[str]]] = [{} for _ in range(_SHARDS)]
            for at in range(0, len(forms), _FORMS_PER_STEP):
                for folded in forms[at : at + _FORMS_PER_STEP]:
                    _insert(tables, _deletion_keys(folded), folded)
                yield
            if not self._indexed and self._base_forms & self._by_fold.keys() <= base:
                self._base_forms = base
                self._base = tables
                self._overlay = _tables(self._overlay_forms, 1)[0]
                self._indexed = True

    # A snapshot leaves the tables out: they are keyed by `hash`, which differs from one process
    # to the next (string hashes are salted), and are built again on the first lookup.

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_base=[], _overlay={}, _indexed=False)
        # Every list sorted, as a snapshot has always held them.
        uses, unsorted = self._uses, self._unsorted
        state["_uses"] = {t: sorted(u) if t in unsorted else u for t, u in uses.items()}
        del state["_unsorted"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._unsorted = {}
        # (also a snapshot from before the tables were left out: its keys are another process's)
        self._base = [{} for _ in range(_SHARDS)]
        self._overlay = {}
        self._indexed = False


# Paths added out of order are each put in place (`sorted_insert`) while they are fewer than
# one in this many of those in order, else the list is sorted: a review edited re-adds its path
# to a long list, which a sort would walk whole at every keystroke (~0.15 ms for 7,848 paths).
_FEW_ADDED = 8


def sorted_insert(values: list[str], value: str) -> None:
    """Put `value` in its place in the sorted `values`, unless it is there: at the end at once
    when it sorts last. (A taxonomy being built does not come here: see `Taxonomy._unsorted`.)"""
    if not values or values[-1] < value:
        values.append(value)
        return
    at = bisect_left(values, value)  # `values[-1] >= value`: `at` is within the list
    if values[at] != value:
        values.insert(at, value)


def sorted_remove(values: list[str], value: str) -> bool:
    """Take `value` out of the sorted `values`; whether it was there."""
    at = bisect_left(values, value)
    if at == len(values) or values[at] != value:
        return False
    del values[at]
    return True


def _most_used(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def _tables(forms: Iterable[str], count: int) -> list[dict[int, str | set[str]]]:
    """`count` tables holding the deletion keys of `forms` (split by the keys' low bits)."""
    tables: list[dict[int, str | set[str]]] = [{} for _ in range(count)]
    for folded in forms:
        _insert(tables, _deletion_keys(folded), folded)
    return tables


def _insert(tables: list[dict[int, str | set[str]]], keys: Iterable[int], folded: str) -> None:
    """Add `folded` under each of its deletion keys, in the table (of `tables`) the key's low
    bits pick: the shards of `_base`, or the overlay alone in a list of one."""
    mask = len(tables) - 1
    for variant in keys:
        _insert_one(tables[variant & mask], variant, folded)


def _insert_one(table: dict[int, str | set[str]], variant: int, folded: str) -> None:
    present = table.get(variant)
    if present is None:
        table[variant] = folded
    elif isinstance(present, str):
        if present != folded:
            table[variant] = {present, folded}
    else:
        present.add(folded)


def _discard(table: dict[int, str | set[str]], keys: Iterable[int], folded: str) -> None:
    for variant in keys:
        candidates = table.get(variant)
        if candidates == folded:
            del table[variant]
        elif isinstance(candidates, set):
            candidates.discard(folded)
            if len(candidates) == 1:
                table[variant] = next(iter(candidates))


_MAX_DISTANCE = 2
_SHARDS = 64
# Forms given their variants in one step of `Taxonomy.preparing` (~5 ms).
_FORMS_PER_STEP = 100
# New forms kept apart from `_base` before they are merged into it (~6,000 variants at most).
_OVERLAY_FORMS = 64
_SHARD_MASK = _SHARDS - 1
_MAX_INDEXED_LENGTH = 64  # longer names are not typo-checked (and cost nothing to index)


def _deletion_keys(text: str) -> set[int]:
    """The keys of `text`'s first `_PREFIX` characters with up to two of them deleted (one for
    names shorter than 8), those characters themselves included. Each pair of positions is
    deleted once (`i <= j` over the shortened text), where deleting from each variant of the
    round before made every pair twice.

    Only a prefix, as SymSpell does: two names a distance d apart (insertions, deletions,
    substitutions, adjacent swaps) have prefixes of the same length that d deletions from each
    make equal (an edit costs at most one deletion on each side, and an insertion that shifts
    one name's prefix past the other's end costs one more on the side it shifts, in place of
    one it spares there). So no near miss is lost; names that share a beginning become more
    candidates, which the distance check drops. A name of 20 letters had 211 keys, now 56: at
    20,000 reviews the tags' tables took 10.5 MiB, now 5.6 MiB (a lookup, only ever made for
    a tag no other review uses, 140 -> 234 us on average; 3.8 MiB and 425 us with 8)."""
    length = len(text)
    if length > _MAX_INDEXED_LENGTH:
        return {hash(text) & _KEY_MASK}
    prefix = text[:_PREFIX]
    size = len(prefix)
    variants = [prefix[:i] + prefix[i + 1 :] for i in range(size)]
    if length >= 8:  # a second deletion (`_MAX_DISTANCE`)
        variants += [
            shorter[:j] + shorter[j + 1 :]
            for i, shorter in enumerate(variants)
            for j in range(i, size - 1)
        ]
    variants.append(prefix)
    return {hash(variant) & _KEY_MASK for variant in variants}


# How many first characters of a name give its deletion keys (at least 8: shorter names are
# never cut, so the one deletion they get stays enough).
_PREFIX = 10


_KEY_MASK = 0x3FFFFFFF


_DIGITS = str.maketrans("", "", "0123456789")


def _bounded_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (adjacent transpositions) distance, stopping early past `limit`."""
    if a == b:
        return 0
    previous_previous: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        row_min = i
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if (
                previous_previous is not None
                and i > 1
                and j > 1
                and char_a == b[j - 2]
                and a[i - 2] == char_b
            ):
                value = min(value, previous_previous[j - 2] + 1)
            current[j] = value
            row_min = min(row_min, value)
        if row_min > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return previous[-1]
