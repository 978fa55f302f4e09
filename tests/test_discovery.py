"""Discovery (`Walker`) against a plain reference walk, and the readability check it makes.

`Walker` takes shortcuts to stay fast on sites of tens of thousands of files: it filters names
before it stats them, skips the pattern tests for names no `exclude:` entry can match, and asks
`access()` only about files whose status does not already say they are readable. The reference
walk below takes none of them (it is the walk as first written: every entry stat-ed, every file
checked with `access()`, every name through `PathFilter.accepts`), and both must give the same
SourceFiles in the same order.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letterhead.site import discovery
from letterhead.site.config import SiteConfig, parse_config
from letterhead.site.discovery import (
    DATED_NAME,
    DATELESS_NAME,
    PathFilter,
    Walker,
    guess_static,
    jekyll_relative_path,
)
from letterhead.site.kinds import EntryKind, SourceFile

BOUNDED = settings(
    max_examples=int(os.environ.get("LETTERHEAD_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FRONT = b"---\n---\nText.\n"
POSIX = pytest.mark.skipif(os.name != "posix", reason="links, pipes and modes")


# --- the reference walk -------------------------------------------------------------------------


class ReferenceWalker:
    """The walk without shortcuts: list and stat every entry, then filter."""

    def __init__(self, root: Path, config: SiteConfig) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.config = config
        self.filter = PathFilter(config)
        self.markdown_ext = frozenset(config.markdown_ext)
        destination = config.destination.strip("/") or "_site"
        self.destination = os.path.realpath(os.path.join(root, destination))
        self.visited: set[str] = set()

    def inside(self, real: str) -> bool:
        return real == self.real_root or real.startswith(self.real_root + os.sep)

    def listing(
        self, relative_dir: str, follow_dir_links: bool
    ) -> list[tuple[str, bool, Any, str]]:
        absolute = os.path.join(self.root, relative_dir) if relative_dir else os.fspath(self.root)
        try:
            with os.scandir(absolute) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except OSError:
            return []
        found = []
        for entry in entries:
            path = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
            try:
                is_link = entry.is_symlink()
                real = os.path.realpath(entry.path) if is_link else ""
                if is_link and not self.inside(real):
                    continue
                info = entry.stat(follow_symlinks=True)
            except (OSError, RuntimeError, ValueError):
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            if is_dir and is_link and not follow_dir_links:
                continue
            if not is_dir and not stat.S_ISREG(info.st_mode):
                continue
            if not is_dir and not os.access(entry.path, os.R_OK):
                continue
            found.append((path, is_dir, info, real or entry.path))
        return found

    def walk(self) -> list[SourceFile]:
        self.visited = {os.path.realpath(self.root)}
        files: list[SourceFile] = []
        seen: set[str] = set()
        sources = [*self.read_directories(""), *self.read_included()]
        for label, collection in self.config.collections.items():
            if label not in ("posts", "data"):
                sources += self.read_collection(label, collection.relative_directory)
        for source in sources:
            if source.path not in seen:
                seen.add(source.path)
                files.append(source)
        return files

    def read_directories(self, relative_dir: str) -> Iterator[SourceFile]:
        entries = self.listing(relative_dir, follow_dir_links=True)
        yield from self.read_posts(relative_dir)
        subdirs = []
        for path, is_dir, info, real in entries:
            name = path.rsplit("/", 1)[-1]
            if not self.filter.accepts(name, "/" + path, is_dir):
                continue
            if is_dir:
                subdirs.append((path, real))
            else:
                yield self.page_or_static(path, info)
        for path, real in subdirs:
            real = os.path.realpath(real)
            if real not in self.visited and real != self.destination:
                self.visited.add(real)
                yield from self.read_directories(path)

    def read_posts(self, relative_dir: str) -> Iterator[SourceFile]:
        collections_dir = self.config.collections_dir
        if collections_dir and not ("/" + relative_dir).startswith("/" + collections_dir):
            return
        for special, kind, matcher in (
            ("_posts", EntryKind.POST, DATED_NAME),
            ("_drafts", EntryKind.DRAFT, DATELESS_NAME),
        ):
            base = f"{relative_dir}/{special}" if relative_dir else special
            for path, entry, info in self.glob(base, dot_match=False):
                if matcher.match(entry):
                    yield self.source(path, kind, "posts", info)

    def read_collection(self, label: str, relative_directory: str) -> Iterator[SourceFile]:
        for path, _entry, info in self.glob(relative_directory, True, "_" + label):
            static = guess_static(os.path.join(self.root, path), self.markdown_ext)
            yield self.source(path, EntryKind.STATIC if static else EntryKind.DOCUMENT, label, info)

    def glob(
        self, base: str, dot_match: bool, rooted_base: str | None = None
    ) -> Iterator[tuple[str, str, Any]]:
        absolute = os.path.join(self.root, base)
        if not os.path.isdir(absolute) or not self.inside(os.path.realpath(absolute)):
            return
        rooted_prefix = "/" + (rooted_base or base) + "/"
        stack = [base]
        visited = {os.path.realpath(absolute)}
        while stack:
            current = stack.pop()
            for path, is_dir, info, real in reversed(self.listing(current, False)):
                entry = path[len(base) + 1 :]
                if not dot_match and entry.rsplit("/", 1)[-1].startswith("."):
                    continue
                if is_dir:
                    real = os.path.realpath(real)
                    if real not in visited:
                        visited.add(real)
                        stack.append(path)
                elif self.filter.accepts(entry, rooted_prefix + entry, False):
                    yield path, entry, info

    def read_included(self) -> Iterator[SourceFile]:
        for pattern in self.config.include:
            relative = pattern.strip("/")
            if not relative or any(char in relative for char in "*?["):
                continue
            absolute = os.path.join(self.root, relative)
            if os.path.islink(absolute) or not os.path.isfile(absolute):
                continue
            if not self.inside(os.path.realpath(absolute)) or not os.access(absolute, os.R_OK):
                continue
            yield self.page_or_static(relative, os.stat(absolute))

    def page_or_static(self, path: str, info: Any) -> SourceFile:
        static = guess_static(os.path.join(self.root, path), self.markdown_ext)
        return self.source(path, EntryKind.STATIC if static else EntryKind.PAGE, None, info)

    def source(self, path: str, kind: EntryKind, collection: str | None, info: Any) -> SourceFile:
        relative = jekyll_relative_path(path, collection, self.config.collections_dir)
        return SourceFile(
            path, kind, collection, relative, info.st_size, info.st_mtime, info.st_mtime_ns
        )


def both_walks(root: Path, config: SiteConfig) -> tuple[list[SourceFile], list[SourceFile]]:
    return Walker(root, config).walk(), ReferenceWalker(root, config).walk()


# --- sites ----------------------------------------------------------------------------------------

NAMES = [
    "a.md",
    "b.html",
    "img.png",
    "IMG.JPG",
    "data.weird",
    "noext",
    "ü.md",
    "space name.md",
    "_posts",
    "_drafts",
    "_col",
    "_data",
    "_site",
    "sub",
    "deep",
    "colls",
    "vendor",
    "bundle",
    "node_modules",
    ".dot",
    ".dot.md",
    "_under.md",
    "#hash.md",
    "~tilde.md",
    "back.md~",
    "trail.",
    "2014-01-02-post.md",
    "2014-1-3-short.markdown",
    "2099-12-31-later.txt",
    "Gemfile",
    "README.md",
    "secret.md",
]
CONTENTS = [FRONT, b"plain\n", b"", b"--- \r\nx: 1\n"]
INCLUDES = [
    "a.md",
    "_under.md",
    "_col",
    ".dot",
    "_posts",
    "sub/",
    "*.weird",
    "#hash.md",
    "_drafts/a.md",
    "sub/a.md",
    "deep",
    "back.md~",
    "_site",
]
EXCLUDES = [
    "sub/",
    "*.md",
    "secret.md",
    "deep",
    "/sub/deep",
    "vendor/bundle/",
    "_posts/sub",
    "a*",
    "README.md",
    "_col/sub",
    "[ab].*",
    "2014-*",
]
LINKS = [
    ("link-sub", "sub"),
    ("link-sub-again", "sub"),
    ("_posts/link-up", ".."),
    ("_posts/2014-05-05-link.md", "../a.md"),
    ("_col/link.md", "../a.md"),
    ("_col/link-dir", "../sub"),
    ("link-file.md", "a.md"),
    ("link-link.md", "link-file.md"),
    ("sub/loop", "."),
    ("sub/up", ".."),
    ("link-out", "/"),
    ("link-out.md", "/etc/hostname"),
    ("dangling.md", "missing.md"),
    ("self-loop.md", "self-loop.md"),
    ("link-site", "_site"),
    ("colls/_posts", "../_posts"),
]
PIPES = ["pipe.md", "_posts/2014-06-06-pipe.md", "_col/pipe.md"]

tree: Any = st.recursive(
    st.sampled_from(CONTENTS),
    lambda children: st.dictionaries(st.sampled_from(NAMES), children, max_size=5),
    max_leaves=30,
)


@st.composite
def sites(
    draw: st.DrawFn,
) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, str]], list[str]]:
    files = draw(st.dictionaries(st.sampled_from(NAMES), tree, min_size=1, max_size=10))
    config: dict[str, Any] = {}
    if include := draw(st.lists(st.sampled_from(INCLUDES), max_size=4, unique=True)):
        config["include"] = include
    if exclude := draw(st.lists(st.sampled_from(EXCLUDES), max_size=4, unique=True)):
        config["exclude"] = exclude
    labels = draw(st.lists(st.sampled_from(["col", "under", "posts", "data"]), unique=True))
    if labels:
        config["collections"] = {label: {} for label in labels}
    if collections_dir := draw(st.sampled_from(["", "", "colls", "sub"])):
        config["collections_dir"] = collections_dir
    if destination := draw(st.sampled_from(["", "", "sub", "deep/"])):
        config["destination"] = destination
    links = draw(st.lists(st.sampled_from(LINKS), max_size=5, unique=True))
    pipes = draw(st.lists(st.sampled_from(PIPES), max_size=2, unique=True))
    return files, config, links, pipes


def write_tree(folder: Path, files: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, dict):
            write_tree(folder / name, content)
        else:
            (folder / name).write_bytes(content)


def build(
    root: Path, files: dict[str, Any], config: dict[str, Any], links: Any, pipes: Any
) -> SiteConfig:
    write_tree(root, files)
    text = yaml.safe_dump(config)
    (root / "_config.yml").write_text(text, "utf-8")
    for name, target in links:
        path = root / name
        if path.parent.is_dir() and not os.path.lexists(path):
            os.symlink(target, path)
    for name in pipes:
        path = root / name
        if path.parent.is_dir() and not os.path.lexists(path):
            os.mkfifo(path)
    return parse_config(text)


@POSIX
@BOUNDED
@given(sites())
def test_walk_matches_the_reference_walk(tmp_path: Path, site: Any) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
        root = Path(folder) / "site"
        config = build(root, *site)
        fast, reference = both_walks(root, config)
        assert fast == reference


@POSIX
def test_walk_matches_the_reference_walk_on_odd_shapes(tmp_path: Path) -> None:
    root = tmp_path / "site"
    files = {
        name: FRONT
        for name in (
            "index.md",
            "a.md",
            "x.weird",
            "_private/inc.md",
            "private/p.md",
            "private/inc.md",
            "_pages/_sub/b.md",
            "dir.md/inner.md",
            "a/b/c/deep.md",
            "a/_posts/2014-01-01-a.md",
            "_posts/2014-01-05-x.md",
            "_posts/.2014-01-08-dot.md",
            "_posts/_underdir/2014-01-13-x.md",
            "_posts/sub/deeper/2014-01-15-x.md",
            "_posts/2014-01-17-x.log",
            "_posts/img.png",
            "_drafts/d.md",
            "_drafts/sub/e.md",
            "_letters/a.md",
            "_letters/.dotdir/x.md",
            "_letters/sub/_u/c.md",
            "_letters/img.jpg",
            "_letters/plain.weird",
            "other/_posts/2014-02-01-linked.md",
            "other/target.md",
            "out-dest/built.html",
            "link-posts/page.md",
            "priv/x.md",
            "_posts/.dot/2014-01-20-x.md",
            "_letters/.dot/x.md",
            "deep/keep.md",
            "deep/other.md",
            "_letters/sub/d.md",
        )
    }
    files["_letters/plain.weird"] = b"no front matter"
    files[".md"] = files["_letters/.md"] = b"no front matter either"  # no extension: read
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    if sys.platform == "linux":
        bad = os.fsencode(root / "_posts") + b"/2014-03-01-bad\xff.md"
        Path(os.fsdecode(bad)).write_bytes(FRONT)
    config = build(
        root,
        {},
        {
            # A folder the walk enters although `exclude:` names it or a parent (the glob of
            # `_posts` and of collections enters every folder; `include:` lets one through).
            "exclude": [
                *("private/", "*.log", "out-dest"),
                *("_posts/sub", "_letters/sub", "priv", "deep/"),
            ],
            "include": [
                *("_pages", "private/inc.md", "_private/inc.md", "*.weird", "link.md"),
                *("priv/", ".dot", "keep.md", ".md"),
            ],
            "destination": "out-dest",
            "collections": {"letters": {"output": True}},
        },
        [
            ("link-dir", "other"),
            ("link-dir-again", "other"),
            ("_posts/link-sub", "../other"),
            ("_posts/2014-02-02-file-link.md", "../other/target.md"),
            ("_letters/linkdir", "../other"),
            ("link.md", "other/target.md"),
            ("link-dest", "out-dest"),
            ("link-posts/_posts", "../other/_posts"),
            ("a/b/c/up", "../../.."),
        ],
        ["fifo.md", "_posts/2014-03-02-fifo.md"],
    )
    assert (root / "link-posts" / "_posts").is_symlink()
    fast, reference = both_walks(root, config)
    assert fast == reference
    paths = [source.path for source in fast]
    assert "_posts/2014-02-02-file-link.md" in paths and "link-dir/target.md" in paths
    assert not any(path.startswith(("link-dir-again/", "out-dest", "link-dest")) for path in paths)


@POSIX
def test_walk_matches_the_reference_walk_with_plain_exclusions(tmp_path: Path) -> None:
    """`exclude:` entries without globs or folder patterns, which only some names match; and a
    name without an extension after one with (`.md` after `-first.md`)."""
    root = tmp_path / "site"
    files = {
        "-first.md": FRONT,
        ".md": b"no front matter",
        "..md": b"no front matter",
        "secret.md": FRONT,
        "secret.md.bak": FRONT,
        "secretive.md": FRONT,
        "_posts/2014-01-02-x.md": FRONT,
        "_posts/2014-01-03-y.md": FRONT,
        "_letters/old.md": FRONT,
        "_letters/older/x.md": FRONT,
        "_letters/new.md": FRONT,
        "sub/keep.md": FRONT,
        "sub/drop.md": FRONT,
        "sub/-first.md": FRONT,
        "sub/.md": b"no front matter",
    }
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    config = build(
        root,
        {},
        {
            "exclude": ["secret.md", "_posts/2014-01-02", "_letters/old", "sub/drop"],
            "include": [".md", "..md"],
            "collections": {"letters": {}},
        },
        [],
        [],
    )
    fast, reference = both_walks(root, config)
    assert fast == reference
    kinds = {source.path: source.kind for source in fast}
    assert kinds == {
        "_posts/2014-01-03-y.md": EntryKind.POST,
        "-first.md": EntryKind.PAGE,
        ".md": EntryKind.STATIC,
        "..md": EntryKind.STATIC,
        "secretive.md": EntryKind.PAGE,
        "sub/-first.md": EntryKind.PAGE,
        "sub/.md": EntryKind.STATIC,
        "sub/keep.md": EntryKind.PAGE,
        "_letters/new.md": EntryKind.DOCUMENT,
    }


# --- `exclude:` patterns, folder by folder --------------------------------------------------------


@given(
    st.lists(st.sampled_from([*EXCLUDES, "sub", "/sub/", "sub/a", "a", "_posts/"]), max_size=5),
    st.sampled_from(["/", "/sub/", "/sub/deep/", "/_posts/", "/_posts/sub/", "/vendor/"]),
    st.sampled_from([*NAMES, "deep", "a", "bundle", "sub", "abc.md"]),
    st.booleans(),
)
def test_exclusion_within_a_folder_is_the_pattern_match(
    patterns: list[str], rooted_dir: str, name: str, is_dir: bool
) -> None:
    config = SiteConfig()
    config.exclude = patterns
    config.include = []
    exclude = PathFilter(config).exclude
    every, prefixes, folders, glob = exclude.within(rooted_dir)
    rooted = rooted_dir + name
    shortcut = (
        every
        or name.startswith(prefixes)
        or (is_dir and name in folders)
        or (glob is not None and glob.match(rooted) is not None)
    )
    assert shortcut == exclude.match(rooted, is_dir)


# --- readability ----------------------------------------------------------------------------------


def test_access_is_asked_about_every_file_not_plainly_readable_by_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["mine.md", "mine-no-read.md", "denied.md", "_posts/2014-01-01-p.md"]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(FRONT)
    (tmp_path / "mine-no-read.md").chmod(0o200)
    (tmp_path / "denied.md").chmod(0o200)
    asked: list[str] = []

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        name = os.path.basename(os.fsdecode(path))
        asked.append(name)
        return name != "denied.md"

    monkeypatch.setattr(discovery.os, "access", access)
    try:
        paths = {source.path for source in Walker(tmp_path, SiteConfig()).walk()}
    finally:
        for name in names:
            (tmp_path / name).chmod(0o644)
    # What access() says goes, whatever the mode bits say.
    assert paths == {"mine.md", "mine-no-read.md", "_posts/2014-01-01-p.md"}
    assert {"mine-no-read.md", "denied.md"} <= set(asked)
    if sys.platform == "linux" and os.getuid() != 65534:
        # The owner's read bit settles it for the owner's own files: no system call.
        assert sorted(asked) == ["denied.md", "mine-no-read.md"]


# (owner, group, mode, kept): owner and group "me" are the user who walks, "other" someone else.
READABILITY = [
    ("me", "me", 0o644, True),
    ("me", "me", 0o400, True),
    ("me", "other", 0o600, True),
    ("me", "me", 0o200, False),
    (
        "me",
        "me",
        0o044,
        False,
    ),  # the owner class has no read: the group and others' bits do not count
    ("me", "me", 0o000, False),
    ("other", "me", 0o640, True),
    ("other", "me", 0o600, False),
    ("other", "other", 0o604, True),
    ("other", "other", 0o640, False),
    ("other", "other", 0o600, False),
]
WALKER_UID = 4242


def readability_site(root: Path, me: int, other: int | None) -> dict[str, bool]:
    """Files for each row of READABILITY at the top, in `_posts` and in a collection, plus links;
    the paths `discover` should give, with whether each should be kept."""
    (root / "_config.yml").write_text("collections:\n  letters: {}\n", "utf-8")
    expected: dict[str, bool] = {}
    for index, (owner, group, mode, kept) in enumerate(READABILITY):
        if other is None and "other" in (owner, group):
            continue
        for folder, name in (("", "f"), ("_posts/", "2014-01-01-f"), ("_letters/", "f")):
            path = root / f"{folder}{name}{index}-{mode:03o}.md"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(FRONT)
            if other is not None:
                uid, gid = (me if owner == "me" else other), (me if group == "me" else other)
                os.chown(path, uid, gid)
            path.chmod(mode)
            expected[path.relative_to(root).as_posix()] = kept
            if not folder:
                link = root / f"link{index}.md"
                link.symlink_to(path.name)
                expected[link.name] = kept
    return expected


def discover_as(root: Path, uid: int | None) -> list[str]:
    """The paths `Site.discover` gives, walking as `uid` (a forked child that drops root: no
    new interpreter, which the other user might not be allowed to run) or as oneself."""
    from letterhead.site.model import Site

    if uid is None:
        return [source.path for source in Site.open(root).discover()]
    Site.open(root).discover()  # imports all it needs (the child may not read the library)
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(reading)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            paths = [source.path for source in Site.open(root).discover()]
            os.write(writing, json.dumps(paths).encode())
            code = 0
        except BaseException:
            os.write(writing, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(writing)
    with os.fdopen(reading, "rb") as stream:
        output = stream.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output.decode()
    return list(json.loads(output))


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_unreadable_files_are_left_out_by_mode_owner_and_group() -> None:
    """With root, the walk runs as another user over files of both; otherwise over one's own."""
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="letterhead-readability-"))
    try:
        folder.chmod(0o755)  # the other user must reach the site
        root = folder / "site"
        root.mkdir()
        if as_root:
            expected = readability_site(root, WALKER_UID, 0)
            found = discover_as(root, WALKER_UID)
        else:
            expected = readability_site(root, os.getuid(), None)
            found = discover_as(root, None)
        assert sorted(found) == sorted(path for path, kept in expected.items() if kept)
    finally:
        for path in folder.rglob("*"):
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(folder)
