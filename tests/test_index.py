"""The index's URL and post id maps under edits: a key shared by several files (a duplicate
permalink, a draft and its post) always belongs to one of the files claiming it, a built one
if any is built, and to nobody only when no file claims it, whatever the order of the edits.
Real files in a temporary site; edits go through `LoadedSite.update` as the editor's do."""

from __future__ import annotations

import difflib
import gc
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letterhead.check import LoadedSite, load_site
from letterhead.index import (
    SiteIndex,
    _last_segment_slug,
    _most_similar,
    _NearMisses,
    _run,
    collector_paused,
)
from letterhead.site.model import Entry, Status
from letterhead.site.permalinks import normalize_url

BASE_SITE = Path(__file__).parent / "cases" / "base-site"
FILES = [f"_posts/2016-0{n}-01-claim-{n}.md" for n in range(1, 5)]
PERMALINKS = ["/shared/", "/other/", None]


def front(lines: list[str], permalink: str | None, published: bool) -> str:
    """A file of `lines` of front matter, a permalink and published flag as asked, and a body."""
    if permalink is not None:
        lines = [*lines, f"permalink: {permalink}"]
    if not published:
        lines = [*lines, "published: false"]
    return "\n".join(["---", *lines, "---", "Body.", ""])


def review(permalink: str | None, published: bool) -> str:
    return front(["title: A claim", "layout: review", "author: annaw"], permalink, published)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("claims") / "site"
    shutil.copytree(BASE_SITE, root)
    for path in FILES:
        (root / path).write_text(review(None, True), encoding="utf-8")
    return root


def check_claims(loaded: LoadedSite) -> None:
    claimants: dict[str, list[str]] = {}
    for path in FILES:
        entry = loaded.index.entry(path)
        if entry is not None and entry.url is not None:
            key = normalize_url(entry.url)
            assert key is not None
            claimants.setdefault(key, []).append(path)
    for key in ("/shared", "/other"):
        holder = loaded.index.resolve_url(key + "/")
        paths = claimants.get(key + "/", []) + claimants.get(key, [])
        if not paths:
            assert holder is None or holder.path not in FILES
            continue
        assert holder is not None and holder.path in paths, (key, paths)
        if any(loaded.index.entry(p).built for p in paths):  # type: ignore[union-attr]
            assert holder.built


edits = st.lists(
    st.tuples(
        st.sampled_from(FILES),
        st.sampled_from(PERMALINKS),
        st.booleans(),
        st.booleans(),  # False: the file is removed from the index (closed unsaved, deleted)
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=edits)
def test_a_shared_url_always_belongs_to_a_file_claiming_it(
    root: Path, history: list[tuple[str, str | None, bool, bool]]
) -> None:
    loaded = load_site(root)
    for path, permalink, published, present in history:
        if present:
            loaded.update(path, review(permalink, published))
        else:
            loaded.remove(path)
        check_claims(loaded)


def test_fixing_a_duplicate_permalink_gives_the_url_to_the_other_file(root: Path) -> None:
    loaded = load_site(root)
    first, second = FILES[0], FILES[1]
    loaded.update(first, review("/shared/", True))
    loaded.update(second, review("/shared/", True))
    holder = loaded.index.resolve_url("/shared/")
    assert holder is not None and holder.path == second
    loaded.update(second, review("/other/", True))  # the author fixes the duplicate
    holder = loaded.index.resolve_url("/shared/")
    assert holder is not None and holder.path == first


# -- near misses and post ids: the answers of a scan of every key, without the scan ----------
#
# `suggest_url`, `suggest_post_id` and `resolve_post_id` once compared a dead link with every
# slug or post id of the site; they now look in structures kept beside the index. The scans are
# kept here, as they were, to compare with on random sites edited at random.


def scanned_suggest_url(index: SiteIndex, url: str) -> str | None:
    key = normalize_url(url, index.site.config.baseurl)
    if key is None:
        return None

    def keys(slug: str) -> tuple[str, ...]:
        found = index._by_slug.get(slug)
        if found is None:
            return ()
        return (found,) if isinstance(found, str) else found

    def built(key: str) -> bool:
        entry = index._by_url.get(key)
        return entry is not None and entry.status is Status.BUILT

    slug = _last_segment_slug(key)
    candidates = [k for k in keys(slug) if built(k)]
    if not candidates:
        close = difflib.get_close_matches(slug, list(index._by_slug), n=3, cutoff=0.8)
        candidates = [k for s in close for k in keys(s) if built(k)]
    if not candidates:
        return None
    best = max(candidates, key=lambda k: difflib.SequenceMatcher(None, key, k).ratio())
    return index._by_url[best].url


def scanned_suggest_post_id(index: SiteIndex, post_id: str) -> str | None:
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})-", post_id)
    slug = post_id[match.end() :] if match else post_id
    ids = [pid for pid in index._by_post_id if pid.endswith("-" + slug) or pid == slug]
    if not ids:
        ids = difflib.get_close_matches(post_id, list(index._by_post_id), n=1, cutoff=0.8)
    if not ids:
        return None
    return max(ids, key=lambda pid: difflib.SequenceMatcher(None, post_id, pid).ratio())


def scanned_resolve_post_id(index: SiteIndex, post_id: str) -> Entry | None:
    wanted = post_id.strip().lstrip("/")
    found = index._by_post_id.get(wanted)
    if found is None and "/" not in wanted:
        suffix = "/" + wanted
        found = next(
            (entry for key, entry in index._by_post_id.items() if key.endswith(suffix)), None
        )
    return found


def near(text: str) -> list[str]:
    """`text`, and the texts one letter away: one dropped, doubled, or swapped with the next."""
    found = [text]
    for i in range(len(text)):
        found += [text[:i] + text[i + 1 :], text[:i] + text[i] + text[i:]]
        if i + 1 < len(text):
            found.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
    return found


def check_lookups(index: SiteIndex, words: list[str]) -> None:
    assert index.review_count == sum(1 for _ in index.reviews())
    slugs = [_last_segment_slug(key) for key, _ in index.urls()]
    post_ids = list(index.post_ids())
    for slug in {variant for text in slugs + words for variant in near(text)}:
        for url in (f"/{slug}.html", f"/content/2016/1/1/{slug}", f"/p/{slug}/"):
            assert index.suggest_url(url) == scanned_suggest_url(index, url), url
    ids = {variant for text in post_ids + words for variant in near(text)}
    post_slugs = {re.sub(r"^(.*/)?\d{4}-\d{2}-\d{2}-", "", pid) for pid in post_ids}
    ids |= {
        f"{date}-{slug}"
        for date in [*DATES, "2016-01-03", "2015-06-06"]
        for slug in post_slugs | set(words)
    }
    for post_id in ids:
        assert index.suggest_post_id(post_id) == scanned_suggest_post_id(index, post_id), post_id
    names = {pid.rsplit("/", 1)[-1] for pid in post_ids} | set(words)
    for name in names | {f" /{name}" for name in names} | set(post_ids):
        assert index.resolve_post_id(name) is scanned_resolve_post_id(index, name), name


DATES = ["2016-01-01", "2016-01-02"]
SLUG_LETTERS = "abc-é"
names = st.sampled_from(["ab", "ba"])
slugs = (
    names
    | st.sampled_from(["abc", "ab-c", "é-a"])
    | st.text(alphabet=SLUG_LETTERS, min_size=1, max_size=7)
)
site_files = st.one_of(
    # Half the files among six posts that share names, so that a bare name often finds several
    # and a link is often as close to one as to another: the order of the index decides.
    st.builds("_posts/{}2016-01-01-{}.md".format, st.sampled_from(["", "a/", "b/"]), names),
    st.one_of(
        st.builds("_posts/{}-{}.md".format, st.sampled_from(DATES), slugs),
        st.builds(
            "_posts/{}/{}-{}.md".format, st.sampled_from("ab"), st.sampled_from(DATES), slugs
        ),
        st.builds("_drafts/{}.md".format, slugs),
        st.builds("{}.md".format, slugs),
        st.builds("images/{}.jpg".format, slugs),
    ),
)


def page(permalink: str | None, published: bool) -> str:
    return front(["title: A page"], permalink, published)


@pytest.fixture(scope="module")
def bare_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base site without its reviews and images: the random ones are the whole site."""
    root = tmp_path_factory.mktemp("lookups") / "site"
    shutil.copytree(BASE_SITE, root, ignore=shutil.ignore_patterns("*.md", "*.jpg"))
    return root


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_lookups_answer_as_a_scan_of_every_key_does(bare_root: Path, data: st.DataObject) -> None:
    loaded = load_site(bare_root)
    present: list[str] = []
    preparing: Iterator[None] | None = None  # `SiteIndex.prepare`, taken a few steps at a time
    for _ in range(data.draw(st.integers(1, 14), label="edits")):
        if present and data.draw(st.integers(0, 3), label="remove?") == 0:
            path = data.draw(st.sampled_from(present), label="removed")
            loaded.remove(path)
            present.remove(path)
        else:
            path = data.draw(site_files, label="path")
            permalink = data.draw(st.none() | st.builds("/p/{}/".format, slugs), label="link")
            loaded.update(
                path, "" if path.endswith(".jpg") else page(permalink, data.draw(st.booleans()))
            )
            if path not in present:
                present.append(path)
        if data.draw(st.booleans(), label="prepare?"):
            preparing = preparing or loaded.index.prepare()
            for _ in range(data.draw(st.integers(1, 4), label="steps")):
                if next(preparing, "done") == "done":
                    preparing = None
                    break
        words = data.draw(st.lists(st.text(alphabet=SLUG_LETTERS + "/0", max_size=9), max_size=3))
        check_lookups(loaded.index, words)


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abcdé-", max_size=12), unique=True, max_size=40),
    edits=st.lists(st.tuples(st.booleans(), st.text(alphabet="abcdé-", max_size=12)), max_size=20),
    queries=st.lists(st.text(alphabet="abcdé-x", max_size=14), min_size=1, max_size=5),
    n=st.integers(1, 4),
)
def test_near_misses_are_the_close_matches_of_difflib(
    words: list[str], edits: list[tuple[bool, str]], queries: list[str], n: int
) -> None:
    """The structure itself against `difflib.get_close_matches`, on more and stranger strings
    than small sites give, strings taken away and put back included."""
    present = dict.fromkeys(words)
    near_misses = _run(_NearMisses.built(present))
    for add, word in edits:
        if add and word not in present:
            present[word] = None
            near_misses.add(word)
        elif not add and word in present:
            del present[word]
            near_misses.discard(word)
    for query in queries + [w[1:] + "x" for w in words[:5]]:
        for cutoff in (0.8, 0.6):
            expected = difflib.get_close_matches(query, list(present), n=n, cutoff=cutoff)
            assert near_misses.close_matches(query, n, cutoff) == expected, (query, cutoff)


@settings(max_examples=300, deadline=None)
@given(
    word=st.text(alphabet="ab-1", max_size=10),
    candidates=st.lists(st.text(alphabet="ab-1", max_size=12), min_size=1, max_size=12),
)
def test_the_most_similar_is_the_first_of_the_best(word: str, candidates: list[str]) -> None:
    expected = max(candidates, key=lambda c: difflib.SequenceMatcher(None, word, c).ratio())
    assert _most_similar(word, candidates) == expected


def test_a_typo_in_a_slug_is_told_the_url(root: Path) -> None:
    index = load_site(root).index
    url = "/content/2013/9/13/the-act-of-kiling.html"
    assert index.suggest_url(url) == "/content/2013/9/13/the-act-of-killing.html"
    assert index.suggest_url("/content/2013/9/13/zzzz.html") is None


def test_equally_close_slugs_are_taken_in_difflibs_order(root: Path) -> None:
    """Four slugs as close to the typo: difflib keeps three, the last alphabetically first, and
    of their URLs, as close to the link as each other, the first is suggested."""
    loaded = load_site(root)
    for letter in "wxyz":
        loaded.update(f"abcdefg{letter}.md", page(None, True))
    url = "/abcdefgh.html"
    assert loaded.index.suggest_url(url) == "/abcdefgz" == scanned_suggest_url(loaded.index, url)
    loaded.remove("abcdefgz.md")
    assert loaded.index.suggest_url(url) == "/abcdefgy"


def test_a_post_id_with_another_date_or_a_typo_is_told_the_right_one(root: Path) -> None:
    index = load_site(root).index
    for wrong in ("2013-09-31-the-act-of-killing", "2013-09-13-the-act-of-kiling"):
        assert index.suggest_post_id(wrong) == "2013-09-13-the-act-of-killing"
    assert index.suggest_post_id("2013-09-13-nothing-like-it") is None


def test_of_equally_close_post_ids_the_first_indexed_is_suggested(root: Path) -> None:
    loaded = load_site(root)
    loaded.update("_posts/2018-01-01-twin.md", page(None, True))
    loaded.update("_posts/2016-01-01-twin.md", page(None, True))
    assert loaded.index.suggest_post_id("2017-01-01-twin") == "2018-01-01-twin"
    loaded.remove("_posts/2018-01-01-twin.md")
    loaded.update("_posts/2018-01-01-twin.md", page(None, True))  # now indexed last
    assert loaded.index.suggest_post_id("2017-01-01-twin") == "2016-01-01-twin"


def test_a_bare_name_finds_the_first_post_filed_under_it(root: Path) -> None:
    loaded = load_site(root)
    first, second = "_posts/b/2016-01-01-twin.md", "_posts/a/2016-01-01-twin.md"
    loaded.update(first, page(None, True))
    loaded.update(second, page(None, True))

    def found() -> str | None:
        entry = loaded.index.resolve_post_id(" /2016-01-01-twin")
        return entry.path if entry is not None else None

    assert found() == first
    loaded.remove(first)
    assert found() == second
    loaded.update(first, page(None, True))
    assert found() == second
    loaded.remove(second)
    loaded.remove(first)
    assert found() is None


def test_the_collector_is_paused_and_what_was_built_can_be_frozen() -> None:
    assert gc.isenabled()
    before = gc.get_freeze_count()
    try:
        with collector_paused():
            assert not gc.isenabled()
            with collector_paused(freeze=True):  # nested: the outer one decides
                kept = [{"heap": number} for number in range(1_000)]
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() == before
        with collector_paused(freeze=True):
            kept = [{"heap": number} for number in range(1_000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()


link_edits = st.lists(
    st.tuples(
        st.sampled_from(FILES),
        st.lists(
            st.sampled_from(
                ["/shared/", "/other/", "{% post_url 2016-01-01-claim-1 %}", "/nowhere.html"]
            ),
            max_size=3,
        ),
        st.booleans(),  # False: the file is removed from the index
    ),
    max_size=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=link_edits)
def test_backlinks_follow_every_edit_as_a_table_built_afresh(
    root: Path, history: list[tuple[str, list[str], bool]]
) -> None:
    """Once built, the backlinks table is kept up to date by each edit (links added, dropped,
    a file removed) and is the table a build from the index as it is now makes."""
    loaded = load_site(root)
    loaded.index.backlinks(FILES[0])  # built now, then kept
    for number, (path, targets, present) in enumerate(history):
        if present:
            permalink = PERMALINKS[number % len(PERMALINKS)]
            body = "".join(f"See [this]({target}).\n" for target in targets)
            loaded.update(path, review(permalink, True).replace("Body.\n", body))
        else:
            loaded.remove(path)
        table = loaded.index._backlinks
        assert table == _run(loaded.index._backlinks_built())
        scanned: dict[str, set[str]] = {}
        for indexed in loaded.index.documents.values():
            for key in indexed.link_keys:
                scanned.setdefault(key, set()).add(indexed.path)
        assert table is not None
        assert {
            key: {users} if isinstance(users, str) else set(users) for key, users in table.items()
        } == scanned
        # One user as itself, more as a sorted list of distinct paths.
        assert all(
            isinstance(u, str) or (len(u) > 1 and u == sorted(set(u))) for u in table.values()
        )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=st.lists(
        st.tuples(
            st.sampled_from(FILES),
            st.lists(st.sampled_from(["mood", "venue", "rating", "title"]), unique=True),
            st.booleans(),  # False: the file is removed from the index
        ),
        max_size=20,
    )
)
def test_front_matter_key_counts_follow_every_edit(
    root: Path, history: list[tuple[str, list[str], bool]]
) -> None:
    """Once counted, how many documents use each front matter key is kept up to date by each
    edit, and is what a count of the index as it is now gives."""
    loaded = load_site(root)
    loaded.index.documents_with_key("title")  # counted now, then kept
    for path, keys, present in history:
        if present:
            loaded.update(path, front([f"{key}: x" for key in keys], None, True))
        else:
            loaded.remove(path)
        assert loaded.index._key_uses == _run(loaded.index._key_uses_built())
        for key in ("mood", "venue", "rating", "title", "layout"):
            expected = sum(key in d.entry.data for d in loaded.index.documents.values())
            assert loaded.index.documents_with_key(key) == expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=st.lists(
        st.tuples(
            st.sampled_from([*FILES[:2], "page-x.md"]),
            st.sampled_from(["document", "no front matter", "removed"]),
        ),
        max_size=20,
    )
)
def test_the_removal_log_names_each_document_that_left(
    root: Path, history: list[tuple[str, str]]
) -> None:
    """Once followed, the index logs each document that leaves it (taken out, or a page whose
    front matter went: a static file now), once, in order, and no document it replaced."""
    loaded = load_site(root)
    index = loaded.index
    index.follow_removals()
    since = index.generation
    left = []
    page = root / "page-x.md"
    try:
        for path, what in history:
            was = path in index.documents
            if what == "removed":
                loaded.remove(path)
            elif what == "document" or path != "page-x.md":
                loaded.update(path, front(["title: x"], None, True))
            else:  # as a file changed on disk is read
                page.write_text("No front matter.\n", encoding="utf-8")
                loaded.update(path, None)
            if was and path not in index.documents:
                left.append(path)
            assert index.removal_log is not None
            assert index.removal_log.paths_after(since) == left
    finally:
        page.unlink(missing_ok=True)


def test_a_removal_log_cut_short_says_so(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("letterhead.index._CHANGE_LOG", 1)
    loaded = load_site(root)
    loaded.index.follow_removals()
    since = loaded.index.generation
    for path in FILES[:3]:
        loaded.remove(path)
    assert loaded.index.removal_log is not None
    assert loaded.index.removal_log.paths_after(since) is None  # the first was dropped
    assert loaded.index.removal_log.paths_after(loaded.index.generation - 1) == [FILES[2]]


def test_the_tables_prepared_in_steps_answer_as_those_built_on_demand(root: Path) -> None:
    """`SiteIndex.prepare` builds backlinks and the near-miss tables a slice at a time; a change
    of the index between two steps drops the table being built (built on demand instead)."""
    on_demand = load_site(root).index
    paths = list(on_demand.documents)
    expected = {path: on_demand.backlinks(path) for path in paths}
    assert any(expected.values())
    prepared = load_site(root)
    steps = sum(1 for _ in prepared.index.prepare())
    assert steps >= 4 and prepared.index.prepared
    assert {path: prepared.index.backlinks(path) for path in paths} == expected
    check_lookups(prepared.index, ["claim", "clam-1"])

    interrupted = load_site(root)
    preparing = interrupted.index.prepare()
    next(preparing)
    path = FILES[0]
    heading = "\n## A heading of its own\n"  # a change of the index, not of backlinks
    interrupted.update(path, (root / path).read_text(encoding="utf-8") + heading)
    assert list(preparing) == [] and not interrupted.index.prepared
    assert {p: interrupted.index.backlinks(p) for p in paths} == expected


def test_an_edited_review_keeps_the_objects_of_what_it_left_as_it_was(root: Path) -> None:
    """A review's text put in the index again (an editor's check at each keystroke) keeps the
    strings, names and link keys it did not change as the very objects of the record it
    replaces: that one shares them with the rest of the index, a new parse has copies."""
    loaded = load_site(root)
    lines = ["title: A claim", "layout: review", "author: annaw"]
    lines.append("tags: [khmer rouge, documentary, cinema]")
    body = "See [this](/other/) and [that](/shared/).\n\n## A heading\n"
    loaded.update(FILES[0], front(lines, None, True).replace("Body.\n", body))
    before = loaded.index.documents[FILES[0]]
    lines[2] = "author: leilap"  # a value changed
    lines[3] = "tags: [khmer rouge, documentaries, cinema]"  # and one tag
    text = front(lines, None, True).replace("Body.\n", body + "More.\n")
    loaded.update(FILES[0], text)
    after = loaded.index.documents[FILES[0]]
    assert after.entry is not before.entry and after == loaded.index.documents[FILES[0]]
    assert after.tags == ("khmer rouge", "documentaries", "cinema")
    kept = [(a is b) for a, b in zip(after.tags, before.tags, strict=True)]
    assert kept == [True, False, True]  # the new one is the parse's own
    for key in ("title", "layout"):
        assert after.entry.data[key] is before.entry.data[key]
    assert after.entry.data["author"] == "leilap"
    assert after.entry.url is before.entry.url and after.entry.title is before.entry.title
    assert after.link_keys is before.link_keys and after.anchors is before.anchors
    # The body alone changed: the front matter is the very dictionary of the record before.
    loaded.update(FILES[0], text + "Even more.\n")
    body_only = loaded.index.documents[FILES[0]]
    assert body_only.entry.data is after.entry.data and body_only.tags == after.tags
    # What changes is the new record's own: a permalink changes the URL and output path.
    loaded.update(FILES[0], front(lines, "/moved/", True))
    moved = loaded.index.documents[FILES[0]].entry
    assert (moved.url, moved.output_path) == ("/moved/", "moved/index.html")
    loaded.update(FILES[0], text)
    after = loaded.index.documents[FILES[0]]
    # And nothing of it differs from a record made afresh (with no record to replace).
    other = load_site(root)
    other.remove(FILES[0])
    other.update(FILES[0], text)
    fresh = other.index.documents[FILES[0]]
    assert (after.entry, after.tags, after.link_keys, after.anchors) == (
        fresh.entry,
        fresh.tags,
        fresh.link_keys,
        fresh.anchors,
    )


def test_a_text_that_changes_no_record_leaves_the_index_as_it_was(root: Path) -> None:
    """An editor's text of a review as the file has it (opened), or changed only where the index
    keeps nothing (a sentence typed), is no change of the index: its record stays, the very
    object, and so does the index's generation, which everything derived from it follows. A
    link, a heading or a front matter value is one."""
    loaded = load_site(root)
    path = FILES[2]
    text = (root / path).read_text(encoding="utf-8")
    record, generation = loaded.index.documents[path], loaded.index.generation
    for same in (text, text + "A sentence typed.\n"):
        loaded.update(path, same)
        assert loaded.index.documents[path] is record
        assert loaded.index.generation == generation
    for changed in (
        text + "[A link](/elsewhere/)\n",
        text + "\n## A heading\n",
        text.replace("layout: review", "layout: post"),
    ):
        loaded.update(path, changed)
        assert loaded.index.documents[path] is not record, changed
        assert loaded.index.generation > generation
        record, generation = loaded.index.documents[path], loaded.index.generation


def _typed(value: object) -> object:
    """`value` as it shows: the type and `repr` of everything in it, the order of every
    mapping's keys."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    return (type(value).__name__, repr(value))


# Front matter edited into values Python holds equal to the old ones (`1 == 1.0 == True`), or
# into the same keys in another order: each is what the file now says, and a page shows it so.
RETYPED = [
    ("stars: 4", "stars: 4.0"),
    ("stars: 4.0", "stars: 4"),
    ("comments: 1", "comments: true"),
    ("comments: false", "comments: 0"),
    ("scores: [1, 0]", "scores: [true, false]"),
    ("cast: {lead: 1}", "cast: {lead: 1.0}"),
    ("title: A claim\nauthor: annaw", "author: annaw\ntitle: A claim"),
    ("stars: 0.0", "stars: -0.0"),
    ("seen: 2016-01-01 12:00:00 +00:00", "seen: 2016-01-01 13:00:00 +01:00"),
]


@pytest.mark.parametrize(("before", "after"), RETYPED)
def test_a_value_retyped_is_the_new_one(root: Path, before: str, after: str) -> None:
    loaded = load_site(root)
    lines = ["layout: review", "tags: [khmer rouge]"]
    loaded.update(FILES[1], front([*lines, before], None, True))
    text = front([*lines, after], None, True)
    loaded.update(FILES[1], text)
    fresh = load_site(root)
    fresh.remove(FILES[1])
    fresh.update(FILES[1], text)
    edited = loaded.index.documents[FILES[1]].entry.data
    assert _typed(edited) == _typed(fresh.index.documents[FILES[1]].entry.data)
