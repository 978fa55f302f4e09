"""A taxonomy answers from what is in use now, whatever its history.

Tags come and go as reviews are edited (a tag typed letter by letter is a new name at every
keystroke); the near-miss tables are updated lazily and merged now and then. After any sequence
of additions and removals, every question must have the answer a taxonomy built fresh from the
same reviews gives.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letterhead import taxonomy
from letterhead.check import LoadedSite, load_site
from letterhead.document import fold
from letterhead.taxonomy import Taxonomy

# Few letters, so that names collide, fold together and sit a typo apart.
names = st.text(alphabet="abcdeAB -", min_size=1, max_size=10)
paths = st.sampled_from([f"_posts/2020-01-0{n}-r.md" for n in range(1, 6)])
steps = st.lists(st.tuples(st.booleans(), paths, st.lists(names, max_size=4)), max_size=60)


def answers(tags: Taxonomy, probes: list[str]) -> list[object]:
    return [
        sorted((s.text, s.count) for s in tags.all()),
        [tags.near_miss(probe) for probe in probes],
        [tags.near_miss(probe, exclude_path="_posts/2020-01-01-r.md") for probe in probes],
        [tags.spellings(probe) for probe in probes],
    ]


@settings(max_examples=200, deadline=None)
@given(uses=st.lists(st.tuples(paths, st.lists(names, max_size=4)), max_size=12))
def test_the_canonical_spelling_is_the_most_used_then_lower_case_then_first(
    uses: list[tuple[str, list[str]]],
) -> None:
    tags = Taxonomy("tag")
    counts: dict[str, dict[str, int]] = {}  # folded form -> spelling -> reviews using it
    for number, (path, spellings) in enumerate(uses):
        review = f"{path}-{number}"
        tags.add(review, spellings)
        for spelling in dict.fromkeys(spellings):  # a review counts once per spelling
            counter = counts.setdefault(fold(spelling), {})
            counter[spelling] = counter.get(spelling, 0) + 1
    for folded, counter in counts.items():
        top = max(counter.values())
        most_used = sorted(text for text, count in counter.items() if count == top)
        expected = next((text for text in most_used if text == text.lower()), most_used[0])
        form = tags.form(folded)
        assert form is not None
        canonical, spellings = form
        assert (canonical.text, canonical.count) == (expected, top)
        assert [(s.text, s.count) for s in spellings] == sorted(
            counter.items(), key=lambda item: (-item[1], item[0])
        )
        assert tags.canonical(folded) == canonical and tags.spellings(folded) == spellings
    assert tags.form("no such form") is None


@pytest.mark.parametrize("overlay_forms", [1, 3, 64])
@settings(max_examples=150, deadline=None)
@given(
    history=steps,
    probes=st.lists(names, min_size=1, max_size=6),
    stepping=st.lists(st.integers(0, 3), max_size=60),
)
def test_any_history_answers_as_a_fresh_build(
    overlay_forms: int,
    history: list[tuple[bool, str, list[str]]],
    probes: list[str],
    stepping: list[int],
) -> None:
    """...also when the tables are built a few forms at a time (`preparing`) between edits."""
    saved = taxonomy._OVERLAY_FORMS, taxonomy._FORMS_PER_STEP
    taxonomy._OVERLAY_FORMS = overlay_forms  # small values force merges and rebuilds
    taxonomy._FORMS_PER_STEP = 2
    try:
        used: dict[str, list[str]] = {}
        tags = Taxonomy("tag")
        preparing: Iterator[None] | None = None
        for number, (adding, path, spellings) in enumerate(history):
            old = used.pop(path, [])
            tags.remove(path, old)
            if adding:
                tags.add(path, spellings)
                used[path] = spellings
            if number < len(stepping) and stepping[number]:
                preparing = preparing or tags.preparing()  # begun with forms in the base
                for _ in range(stepping[number]):
                    if next(preparing, "done") == "done":
                        preparing = None
                        break
        taxonomy._OVERLAY_FORMS = 0  # the reference: every form merged into the base at once
        fresh = Taxonomy("tag")
        for path, spellings in used.items():
            fresh.add(path, spellings)
        assert not fresh._overlay_forms
        # Probes a typo away from names of the history, so that near misses are found.
        written = [name for _, _, spellings in history for name in spellings]
        probes += [name[:-1] for name in written] + [name + "a" for name in written]
        assert answers(tags, probes) == answers(fresh, probes)
        for name in written:  # each spelling's users: exactly the paths using it, sorted
            assert list(tags.users(name)) == sorted(p for p, s in used.items() if name in s)
    finally:
        taxonomy._OVERLAY_FORMS, taxonomy._FORMS_PER_STEP = saved


@pytest.mark.parametrize(
    "edited",
    [
        [],  # an index built newest first, read once
        [50],  # a review edited: re-added after the others
        [0],  # the oldest
        [99],  # the newest
        [10, 90, 50],  # three edited between two reads
        list(range(0, 100, 3)),  # a third of them: more than a few, sorted again whole
    ],
)
def test_a_spellings_users_are_read_in_order_however_they_were_added(edited: list[int]) -> None:
    """Users come newest first while an index is built and one at a time as reviews are edited;
    `users` gives them sorted, and an edit is read back before and after the next."""
    tags = Taxonomy("tag")
    reviews = [f"_posts/2020-01-01-r{n:03}.md" for n in range(100)]
    for path in reversed(reviews):
        tags.add(path, ["letters"])
    assert list(tags.users("letters")) == reviews
    for number in edited:
        tags.remove(reviews[number], ["letters"])
        tags.add(reviews[number], ["letters", "edited"])
    assert list(tags.users("letters")) == reviews
    assert list(tags.users("edited")) == sorted(reviews[n] for n in edited)
    for number in edited:  # and edited back, each read at once
        tags.remove(reviews[number], ["letters", "edited"])
        tags.add(reviews[number], ["letters"])
        assert list(tags.users("letters")) == reviews
    assert tags.count("letters") == 100 and tags.count("edited") == 0


def test_typing_a_tag_letter_by_letter_leaves_the_big_tables_alone() -> None:
    tags = Taxonomy("tag")
    for number in range(600):
        tags.add(f"_posts/r{number}.md", [f"established name {number}"])
    base = [dict(shard) for shard in tags._base]
    overlay = set(tags._overlay_forms)
    typed = "khmer rouge cinema"
    for length in range(1, len(typed) + 1):  # one keystroke: the prefix replaces the last one
        tags.remove("_posts/r0.md", [typed[: length - 1]] if length > 1 else [])
        tags.add("_posts/r0.md", [typed[:length]])
    assert [dict(shard) for shard in tags._base] == base
    # Every prefix came and went in the overlay; only the finished name stays, in the overlay.
    assert tags._overlay_forms - overlay == {fold(typed)}
    assert tags.count(typed) == 1 and tags.count(typed[:-1]) == 0


def test_forms_that_come_and_go_do_not_pile_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(taxonomy, "_OVERLAY_FORMS", 3)  # merges every few new forms
    tags = Taxonomy("tag")
    for number in range(10):
        tags.add(f"_posts/r{number}.md", [f"lasting {number}"])
    for number in range(0, 2_000, 5):  # five new names at once: merged into the base in use
        passing = [f"passing {n}" for n in range(number, number + 5)]
        tags.add("_posts/scratch.md", passing)
        tags.remove("_posts/scratch.md", passing)
    live = len(tags.folded_forms())
    assert live == 10
    # Stale forms are dropped by a rebuild once they would be a quarter of the base.
    assert len(tags._base_forms) <= (live + 3) * 5 // 4 + 3


# -- the taxonomy inside a site's index ------------------------------------------------------

BASE_SITE = Path(__file__).parent / "cases" / "base-site"
REVIEWS = [f"_posts/2020-01-0{n}-r.md" for n in range(1, 4)]
VOCABULARY = ["noir", "Noir", "silent", "japan"]


@pytest.fixture(scope="module")
def loaded_site(tmp_path_factory: pytest.TempPathFactory) -> LoadedSite:
    root = tmp_path_factory.mktemp("uses") / "site"
    shutil.copytree(BASE_SITE, root)
    return load_site(root)


def review(tags: list[str]) -> str:
    listed = ", ".join(f'"{tag}"' for tag in tags)
    return f"---\ntitle: A use\nlayout: review\nauthor: annaw\ntags: [{listed}]\n---\nBody.\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(REVIEWS), st.none() | st.lists(st.sampled_from(VOCABULARY))),
        max_size=12,
    )
)
def test_a_review_is_counted_once_per_spelling_whatever_the_edits(
    loaded_site: LoadedSite, edits: list[tuple[str, list[str] | None]]
) -> None:
    """Users are kept in lists, which trust `SiteIndex.insert` to take a review's old spellings
    out before its new ones go in; `SiteIndex.uses` answers from the review's own record."""
    written: dict[str, list[str]] = {}
    for path, tags in edits:
        if tags is None:
            loaded_site.remove(path)
            written.pop(path, None)
        else:
            loaded_site.update(path, review(tags))
            written[path] = tags
    index = loaded_site.index
    for spelling in VOCABULARY:
        expected = sorted(p for p, tags in written.items() if spelling in tags)
        assert sorted(p for p in index.tags.users(spelling) if p in REVIEWS) == expected
        for path in REVIEWS:
            assert index.uses(path, "tags", spelling) == (path in expected)
            others = [p for p in expected if p != path]
            in_base = [p for p in index.tags.users(spelling) if p not in REVIEWS]
            assert index.tags.used_elsewhere(spelling, path) == bool(others or in_base)
    for path in REVIEWS:  # back to no review, for the next example
        loaded_site.remove(path)


def test_forms_merged_while_the_tables_are_prepared_are_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A merge between two steps of `preparing` moves forms into the base that the tables being
    built do not hold: preparing starts again rather than install them."""
    monkeypatch.setattr(taxonomy, "_OVERLAY_FORMS", 1)
    monkeypatch.setattr(taxonomy, "_FORMS_PER_STEP", 1)
    tags = Taxonomy("tag")
    tags.add("_posts/a.md", ["alpha", "beta"])
    tags.add("_posts/b.md", ["gamma"])
    preparing = tags.preparing()
    next(preparing)
    tags.add("_posts/c.md", ["delta", "epsilon"])  # a merge: `epsilon` joins the base
    assert sum(1 for _ in preparing) >= 1
    assert tags.near_miss("epsilo") == taxonomy.Spelling("epsilon", 1)
    assert tags.near_miss("deltaa") == taxonomy.Spelling("delta", 1)


# -- near misses: the answer of a scan of every form, without the scan --------------------------

# Names long enough for two typos (8 letters and more), digits for numbered names, and letters
# that fold together.
long_names = st.text(alphabet="abcdefgh é1-", min_size=1, max_size=22)


def typos(name: str, where: int, kind: int) -> str:
    """`name` with one typo at `where`: a letter dropped, added, changed or two swapped."""
    at = where % (len(name) + 1)
    if kind == 0:
        return name[:at] + name[at + 1 :]
    if kind == 1:
        return name[:at] + "x" + name[at:]
    if kind == 2:
        return name[:at] + "x" + name[at + 1 :]
    return name[:at] + name[at + 1 : at + 2] + name[at : at + 1] + name[at + 2 :]


def scanned_near_miss(tags: Taxonomy, text: str, exclude_path: str | None) -> object:
    """`Taxonomy.near_miss` as a comparison of `text` with every form in use."""
    folded = fold(text)
    if len(folded) < 4 or len(folded) > taxonomy._MAX_INDEXED_LENGTH:
        return None
    limit = 1 if len(folded) < 8 else taxonomy._MAX_DISTANCE
    best = None
    for other, counter in tags._by_fold.items():
        if (
            other == folded
            or len(other) > taxonomy._MAX_INDEXED_LENGTH
            or other.translate(taxonomy._DIGITS) == folded.translate(taxonomy._DIGITS)
            or abs(len(other) - len(folded)) > limit
        ):
            continue
        distance = taxonomy._bounded_distance(folded, other, limit)
        if distance > limit:
            continue
        spelling, count = max(counter.items(), key=lambda item: (item[1], item[0]))
        users = tags.users(spelling)
        if exclude_path is not None and list(users) == [exclude_path]:
            continue
        candidate = (distance, -count, spelling)
        if best is None or candidate < best:
            best = candidate
    return None if best is None else (best[2], -best[1])


@settings(max_examples=300, deadline=None)
@given(
    uses=st.lists(st.tuples(paths, st.lists(long_names, max_size=4)), max_size=12),
    probes=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 3), st.integers(0, 3)), max_size=12
    ),
    extra=st.lists(long_names, max_size=4),
)
def test_a_near_miss_is_what_a_scan_of_every_form_finds(
    uses: list[tuple[str, list[str]]], probes: list[tuple[int, int, int]], extra: list[str]
) -> None:
    """Typos of the names in use, one or two, anywhere in the name (before and after its
    eighth letter too), and unrelated names: the near miss found through the deletion keys is
    the one a comparison with every form finds (the keys may bring extra candidates, never
    lose one)."""
    tags = Taxonomy("tag")
    for path, spellings in uses:
        tags.add(path, spellings)
    written = [name for _, spellings in uses for name in spellings]
    texts = list(extra)
    for number, (where, kind, second) in enumerate(probes):
        if written:
            name = typos(written[number % len(written)], where, kind)
            texts.append(typos(name, where * 7 + 3, second) if number % 2 else name)
    for text in texts:
        for exclude in (None, "_posts/2020-01-01-r.md"):
            found = tags.near_miss(text, exclude_path=exclude)
            expected = scanned_near_miss(tags, text, exclude)
            assert (None if found is None else (found.text, found.count)) == expected, text
