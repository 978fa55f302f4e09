"""The index's URL and post id maps under edits: a key shared by several files (a duplicate
permalink, a draft and its post) always belongs to one of the files claiming it, a built one
if any is built, and to nobody only when no file claims it, whatever the order of the edits.
Real files in a temporary site; edits go through `LoadedSite.update` as the editor's do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letterhead.check import LoadedSite, load_site
from letterhead.site.permalinks import normalize_url

BASE_SITE = Path(__file__).parent / "cases" / "base-site"
FILES = [f"_posts/2016-0{n}-01-claim-{n}.md" for n in range(1, 5)]
PERMALINKS = ["/shared/", "/other/", None]


def review(permalink: str | None, published: bool) -> str:
    lines = ["---", "title: A claim", "layout: review", "author: annaw"]
    if permalink is not None:
        lines.append(f"permalink: {permalink}")
    if not published:
        lines.append("published: false")
    return "\n".join([*lines, "---", "Body.", ""])


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
