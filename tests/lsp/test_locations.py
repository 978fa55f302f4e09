"""Where opened documents live: `Locations`, the memo of folders a burst of opens shares, and
`check.RealPaths` beneath it, which the command line uses for the files it is given.

In process, on a real tree with links: for every file of the table, `Locations` gives what the
uncached lookups give (`path_of`, `find_site_root`), whether its folder is met first or again,
and `RealPaths` what `Path.resolve` gives (or raises), for the path written absolute or relative.
Through the server: a document opened after a pause, or after file events, is looked up afresh,
so a site that appeared meanwhile is found.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_lsp
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lsp_support import RecordingClient, capabilities, copy_site, initialize_params, server_config
from lsprotocol import types
from pygls.uris import to_fs_path

from letterhead.check import RealPaths, find_site_root
from letterhead.lsp.server import OPEN_BURST_SECONDS
from letterhead.lsp.workspace import Locations, fs_path, path_of

# A tree of two sites, one inside the other, with links to folders and files: a path per line,
# a folder ending in `/`, `a -> b` a link `a` to `b` (relative to the link's folder).
TREE = """
outer/_config.yml
outer/_posts/2020-01-01-first.md
outer/_posts/2020-01-02-second.md
outer/notes/
outer/inner/_config.yml
outer/inner/_posts/2020-02-01-deep.md
outer/linked -> inner/_posts
outer/_posts/alias.md -> ../inner/_posts/2020-02-01-deep.md
outer/_posts/dangling.md -> nowhere.md
elsewhere/loose.md
elsewhere/site -> ../outer
outer/loop -> loop
"""

# Files as an editor names them (relative to the tree, `%`-escapes and all): existing or not,
# through links, with `.` and `..`, in folders that do not exist.
OPENED = [
    "outer/_posts/2020-01-01-first.md",
    "outer/_posts/2020-01-02-second.md",
    "outer/_posts/never-saved.md",
    "outer/_posts/alias.md",
    "outer/_posts/dangling.md",
    "outer/inner/_posts/2020-02-01-deep.md",
    "outer/linked/2020-02-01-deep.md",
    "outer/linked/new.md",
    "elsewhere/site/_posts/2020-01-01-first.md",
    "elsewhere/site/inner/_posts/2020-02-01-deep.md",
    "elsewhere/loose.md",
    "outer/notes/./draft.md",
    "outer/inner/../_posts/2020-01-01-first.md",
    "outer/_posts/",
    "outer/notes",
    "outer/inner",
    "outer/not-a-folder/yet.md",
    "outer/_posts/a%20review%20with%20spaces.md",
    "outer/_posts/caf%C3%A9.md",
    "outer/loop/round.md",
]


def _build(root: Path) -> None:
    for line in TREE.strip().splitlines():
        name, _, target = line.partition(" -> ")
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if target:
            path.symlink_to(target)
        elif name.endswith("/"):
            path.mkdir(exist_ok=True)
        else:
            path.write_text("---\n---\n", encoding="utf-8")


def _uri(root: Path, written: str) -> str:
    return "file://" + str(root) + "/" + written


@pytest.mark.parametrize("order", ["forward", "backward", "twice"])
def test_the_memo_gives_what_the_lookups_give(tmp_path: Path, order: str) -> None:
    root = Path(os.path.realpath(tmp_path))
    _build(root)
    opened = {"forward": OPENED, "backward": OPENED[::-1], "twice": OPENED + OPENED}[order]
    locations = Locations()
    for written in opened:
        uri = _uri(root, written)
        expected = path_of(uri)
        assert locations.path_of(uri) == expected, written
        assert expected is not None
        assert locations.site_root(expected) == find_site_root(expected, resolved=True), written


@pytest.mark.parametrize("written_as", ["absolute", "relative"])
@pytest.mark.parametrize("order", ["forward", "backward", "twice"])
def test_real_paths_give_what_path_resolve_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str, written_as: str
) -> None:
    root = Path(os.path.realpath(tmp_path))
    _build(root)
    monkeypatch.chdir(root)
    opened = {"forward": OPENED, "backward": OPENED[::-1], "twice": OPENED + OPENED}[order]
    real = RealPaths()
    for written in opened:
        path = to_fs_path(_uri(root, written))
        assert path is not None and path.startswith(f"{root}/")
        if written_as == "relative":
            path = path[len(str(root)) + 1 :]  # as written: `.` and `..` kept
        try:
            expected = Path(path).resolve()
        except RuntimeError:  # a loop of links
            with pytest.raises(RuntimeError):
                real.resolve(path)
            continue
        assert real.resolve(path) == expected, written
        assert real.site_root(expected) == find_site_root(expected, resolved=True), written


def test_a_memo_forgotten_sees_a_new_site(tmp_path: Path) -> None:
    root = Path(os.path.realpath(tmp_path))
    _build(root)
    locations = Locations()
    path = locations.path_of(_uri(root, "outer/notes/draft.md"))
    assert path is not None and locations.site_root(path) == root / "outer"
    (root / "outer" / "notes" / "_config.yml").write_text("", encoding="utf-8")
    assert locations.site_root(path) == root / "outer"  # remembered, until forgotten
    locations.forget()
    assert locations.site_root(path) == root / "outer" / "notes"


# Paths as editors write them, and anything else: escapes, queries, drive letters, controls.
_PATH_TEXT = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(["%20", "%3A", "%25", "%C3%A9", "%zz", "C:", "c:", "[", "]", "@"]),
            st.sampled_from(list("abé /._-~%?#;:!$&'()*+,=\t\n\r\x00\x1f\x7f")),
        ),
        max_size=12,
    ).map("".join),
    st.text(max_size=30),
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["file:///", "file://", "file:", "FILE:///", "file:////"]), _PATH_TEXT)
@example("file:///", "reviews/a%20letter.md")
@example("file:///", "reviews/a.md?line=3")
@example("file:///", "reviews/a.md#top")
@example("file:///", "C:/site/_posts/a.md")
@example("file:///", "site/a\tletter.md")
def test_a_plain_uri_is_read_as_the_full_parse_reads_it(start: str, rest: str) -> None:
    uri = start + rest
    assert _outcome(fs_path, uri) == _outcome(to_fs_path, uri)


def _outcome(read: Callable[[str], str | None], uri: str) -> tuple[str | None, str | None]:
    """What `read` gives, or the error it raises (`file://[` is no URL to either)."""
    try:
        return read(uri), None
    except ValueError as error:
        return None, str(error)


def test_other_uris_are_no_paths() -> None:
    locations = Locations()
    assert locations.path_of("untitled:Untitled-1") is None
    assert locations.path_of("file://") is None


@pytest_lsp.fixture(config=server_config())
async def fresh(lsp_client: RecordingClient):
    """A client that has not initialized yet."""
    yield
    await lsp_client.shutdown_session()


async def _a_note_open(client: RecordingClient, tmp_path: Path) -> tuple[Path, Path]:
    """A site indexed and a note of its folder `notes/` open (of that site: the folder has no
    `_config.yml` yet); the folder and a second note, written but not open."""
    site = copy_site(tmp_path / "site")
    notes = site / "notes"
    notes.mkdir()
    await client.initialize_session(initialize_params(site, capabilities()))
    await client.indexed()
    first, second = notes / "first.md", notes / "second.md"
    for path in (first, second):
        path.write_text("# A note\n", encoding="utf-8")
    client.open(first.as_uri(), first.read_text(encoding="utf-8"))
    assert (await client.server_stats()).sites == 1  # read, and a few milliseconds at most ago
    return notes, second


async def _opened_in_a_site_of_its_own(client: RecordingClient, notes: Path, note: Path) -> None:
    client.open(note.as_uri(), note.read_text(encoding="utf-8"))
    assert (await client.server_stats()).sites == 2
    assert any(
        f"{note.name} belongs to the site at" in m.message and str(notes) in m.message
        for m in client.log_messages
    )


async def test_an_open_after_a_pause_finds_a_site_made_meanwhile(
    fresh: RecordingClient, tmp_path: Path
) -> None:
    """A client that watches no files: a review opened on its own is looked up afresh."""
    notes, second = await _a_note_open(fresh, tmp_path)
    (notes / "_config.yml").write_text("title: Notes\n", encoding="utf-8")
    await asyncio.sleep(OPEN_BURST_SECONDS * 4)
    await _opened_in_a_site_of_its_own(fresh, notes, second)


async def test_an_open_after_file_events_finds_a_site_made_meanwhile(
    fresh: RecordingClient, tmp_path: Path
) -> None:
    """Within a burst of opens, a file event makes the next open look its folder up afresh."""
    notes, second = await _a_note_open(fresh, tmp_path)
    config = notes / "_config.yml"
    config.write_text("title: Notes\n", encoding="utf-8")
    fresh.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=config.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    await _opened_in_a_site_of_its_own(fresh, notes, second)
