"""Finding a site's files the way Jekyll's Reader does: which are posts, drafts, collection
documents, page candidates or static files, and which it never reads at all.

The walk never leaves the site root: a symbolic link is followed only when its target lies inside
the root, and a folder already visited (a link loop) is not entered twice.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from letterhead.site.config import SiteConfig
from letterhead.site.kinds import EntryKind, SourceFile

__all__ = [
    "BINARY_EXTENSIONS",
    "DATED_NAME",
    "DATELESS_NAME",
    "PathFilter",
    "Walker",
    "guess_static",
    "has_yaml_header",
    "jekyll_relative_path",
    "within_site",
]

# Document::DATE_FILENAME_MATCHER and DATELESS_FILENAME_MATCHER, applied to relative paths.
DATED_NAME = re.compile(r"^(?:.+/)*?(\d{2,4}-\d{1,2}-\d{1,2})-([^/]*)(\.[^./]+)$")
DATELESS_NAME = re.compile(r"^(?:.+/)*(.*)(\.[^./]+)$")
_HEADER = re.compile(rb"---[ \t\r\f\v]*\r?\n")

# Files with these extensions are treated as static without reading them. Jekyll would make a
# page of one that starts with `---`, which no real image or font does.
BINARY_EXTENSIONS = frozenset(
    """
    .png .jpg .jpeg .gif .webp .avif .heic .ico .bmp .tif .tiff .psd .ai .eps .pdf .zip .gz
    .tgz .bz2 .xz .7z .rar .tar .jar .woff .woff2 .ttf .otf .eot .mp3 .mp4 .m4a .m4v .ogg
    .oga .ogv .wav .flac .webm .mov .avi .mkv .epub .mobi .doc .docx .xls .xlsx .ppt .pptx
    .odt .swf .exe .dmg .bin .dat .db .sqlite
    """.split()  # noqa: SIM905
)
# Files with these extensions are page candidates: read to see whether they have front matter.
TEXT_EXTENSIONS = frozenset(
    """
    .md .markdown .mkdown .mkdn .mkd .html .htm .xhtml .xml .txt .json .css .scss .sass .js
    .mjs .csv .tsv .yml .yaml .toml .rss .atom .svg .ics .webmanifest .liquid .textile
    .coffee .rb
    """.split()  # noqa: SIM905
)
_PEEK_BYTES = 64


def within_site(root: Path | str, path: Path | str) -> bool:
    """Whether `path`, links resolved, lies inside the site at `root` (never raises)."""
    try:
        real_root = os.path.realpath(root)
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return False
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def jekyll_relative_path(path: str, collection: str | None, collections_dir: str) -> str:
    """Jekyll's `relative_path`: documents count from `collections_dir`, the rest from the
    site root."""
    if collection is not None and collections_dir and path.startswith(collections_dir + "/"):
        return path[len(collections_dir) + 1 :]
    return path


def guess_static(absolute: str, markdown_ext: frozenset[str]) -> bool:
    """Whether a file is static without a parser's help: a binary extension, or (for extensions
    that are neither binary nor text) a first line that is not `---`."""
    extension = os.path.splitext(absolute)[1].lower()
    if extension in BINARY_EXTENSIONS:
        return True
    if extension in TEXT_EXTENSIONS or extension in markdown_ext:
        return False
    try:
        with open(absolute, "rb") as handle:
            return not has_yaml_header(handle.read(_PEEK_BYTES))
    except OSError:
        return True


def has_yaml_header(head: bytes) -> bool:
    """Jekyll's `Utils.has_yaml_header?`: the file's first line is `---` (trailing blanks allowed).
    `head` is the file's first bytes; a byte order mark makes it False, as in Jekyll."""
    return _HEADER.match(head) is not None


class _Patterns:
    """`EntryFilter#glob_include?`: Ruby `File.fnmatch?` without flags (a `*` crosses `/`), or a
    plain prefix test, over paths written `/relative/path`."""

    def __init__(self, patterns: list[str]) -> None:
        rooted = ["/" + pattern.lstrip("/") for pattern in patterns]
        self._prefixes = tuple(rooted)
        # `pattern == entry + "/"` names a folder by its path with a trailing slash.
        self._folders = frozenset(prefix[:-1] for prefix in rooted if prefix.endswith("/"))
        globs = [fnmatch.translate(prefix) for prefix in rooted if any(c in prefix for c in "*?[")]
        self._glob = re.compile("|".join(globs)) if globs else None

    def __bool__(self) -> bool:
        return bool(self._prefixes)

    def match(self, rooted: str, is_dir: bool) -> bool:
        if rooted.startswith(self._prefixes) or (is_dir and rooted in self._folders):
            return True
        return self._glob is not None and self._glob.match(rooted) is not None


class PathFilter:
    """Jekyll's EntryFilter for one site: special names, backups, `exclude:` and `include:`."""

    def __init__(self, config: SiteConfig) -> None:
        include = set(config.include)
        self.include = _Patterns(config.include)
        self.exclude = _Patterns([p for p in config.exclude if p not in include])

    def included(self, entry: str, is_dir: bool) -> bool:
        basename = entry.rsplit("/", 1)[-1]
        return self.include.match("/" + entry, is_dir) or (
            basename != entry and self.include.match("/" + basename, is_dir)
        )

    def excluded(self, rooted: str, is_dir: bool) -> bool:
        return self.exclude.match(rooted, is_dir)

    def accepts(self, entry: str, rooted: str, is_dir: bool) -> bool | None:
        """Whether Jekyll keeps `entry` (a name, or a path inside a posts/collection folder);
        `rooted` is its path from the site source written `/a/b`. None: rejected by `exclude:`."""
        if entry.endswith("."):
            return False
        included = self.included(entry, is_dir)
        if not included and self.excluded(rooted, is_dir):
            return None
        if included:
            return True
        basename = entry.rsplit("/", 1)[-1]
        return not (entry[0] in "._#~" or basename[0] in "._#~" or entry.endswith("~"))


@dataclass(slots=True)
class _Found:
    path: str
    is_dir: bool
    size: int
    mtime: float
    real: str
    mtime_ns: int = 0


class Walker:
    """One pass over a site's folders, yielding SourceFiles in Jekyll's reading order."""

    def __init__(self, root: Path, config: SiteConfig) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.config = config
        self.filter = PathFilter(config)
        self.markdown_ext = frozenset(config.markdown_ext)
        destination = config.destination.strip("/") or "_site"
        self.destination = os.path.realpath(os.path.join(root, destination))
        self._visited: set[str] = set()

    # -- file system, bounded to the root ------------------------------------------------------

    def _inside(self, real: str) -> bool:
        return real == self.real_root or real.startswith(self.real_root + os.sep)

    def _list(self, relative_dir: str, follow_dir_links: bool) -> list[_Found]:
        """The entries of a folder, symbolic links resolved and checked against the root."""
        absolute = os.path.join(self.root, relative_dir) if relative_dir else os.fspath(self.root)
        try:
            with os.scandir(absolute) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except OSError:
            return []
        found: list[_Found] = []
        for entry in entries:
            path = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
            try:
                is_link = entry.is_symlink()
                real = os.path.realpath(entry.path) if is_link else ""
                if is_link and not self._inside(real):
                    continue  # never follow a link out of the site
                info = entry.stat(follow_symlinks=True)
            except (OSError, RuntimeError, ValueError):
                continue  # broken link, vanished file, link loop
            is_dir = stat.S_ISDIR(info.st_mode)
            if is_dir and is_link and not follow_dir_links:
                continue  # Ruby's `**` glob does not descend through links
            if not is_dir and not stat.S_ISREG(info.st_mode):
                continue
            if not is_dir and not os.access(entry.path, os.R_OK):
                continue
            found.append(
                _Found(
                    path, is_dir, info.st_size, info.st_mtime, real or entry.path, info.st_mtime_ns
                )
            )
        return found

    def _enter(self, found: _Found) -> bool:
        real = os.path.realpath(found.real)
        if real in self._visited or real == self.destination:
            return False
        self._visited.add(real)
        return True

    # -- Jekyll's reading ------------------------------------------------------------------------

    def walk(self) -> list[SourceFile]:
        self._visited = {os.path.realpath(self.root)}
        files: list[SourceFile] = []
        seen: set[str] = set()
        for source in self._read_directories(""):
            if source.path not in seen:
                seen.add(source.path)
                files.append(source)
        for source in self._read_included():
            if source.path not in seen:
                seen.add(source.path)
                files.append(source)
        for label, collection in self.config.collections.items():
            if label in ("posts", "data"):
                continue
            for source in self._read_collection(label, collection.relative_directory):
                if source.path not in seen:
                    seen.add(source.path)
                    files.append(source)
        return files

    def _read_directories(self, relative_dir: str) -> Iterator[SourceFile]:
        entries = self._list(relative_dir, follow_dir_links=True)
        yield from self._read_posts(relative_dir)
        subdirs: list[_Found] = []
        for found in entries:
            name = found.path.rsplit("/", 1)[-1]
            if not self.filter.accepts(name, "/" + found.path, found.is_dir):
                continue
            if found.is_dir:
                subdirs.append(found)
            else:
                yield self._page_or_static(found, None)
        for found in subdirs:
            if self._enter(found):
                yield from self._read_directories(found.path)

    def _in_collections_dir(self, relative_dir: str) -> bool:
        collections_dir = self.config.collections_dir
        return not collections_dir or ("/" + relative_dir).startswith("/" + collections_dir)

    def _read_posts(self, relative_dir: str) -> Iterator[SourceFile]:
        if not self._in_collections_dir(relative_dir):
            return
        for special, kind, matcher in (
            ("_posts", EntryKind.POST, DATED_NAME),
            ("_drafts", EntryKind.DRAFT, DATELESS_NAME),
        ):
            base = f"{relative_dir}/{special}" if relative_dir else special
            for found, entry in self._glob(base, dot_match=False):
                if matcher.match(entry):
                    yield self._source(found, kind, "posts")

    def _read_collection(self, label: str, relative_directory: str) -> Iterator[SourceFile]:
        # The filter sees `/_label/...` even under a `collections_dir`, as in Jekyll.
        for found, _entry in self._glob(
            relative_directory, dot_match=True, rooted_base="_" + label
        ):
            if self._peek_static(found):
                yield self._source(found, EntryKind.STATIC, label)
            else:
                yield self._source(found, EntryKind.DOCUMENT, label)

    def _glob(
        self, base: str, dot_match: bool, rooted_base: str | None = None
    ) -> Iterator[tuple[_Found, str]]:
        """Every file under `base` kept by the filter, with its path inside `base`
        (`Reader#get_entries` and `Collection#filtered_entries`)."""
        absolute = os.path.join(self.root, base)
        try:
            if not os.path.isdir(absolute) or not self._inside(os.path.realpath(absolute)):
                return
        except (OSError, ValueError):
            return
        rooted_prefix = "/" + (rooted_base or base) + "/"
        stack = [base]
        visited = {os.path.realpath(absolute)}
        while stack:
            current = stack.pop()
            for found in reversed(self._list(current, follow_dir_links=False)):
                entry = found.path[len(base) + 1 :]
                name = entry.rsplit("/", 1)[-1]
                if not dot_match and name.startswith("."):
                    continue  # `**/*` without FNM_DOTMATCH sees no dot files or folders
                if found.is_dir:
                    real = os.path.realpath(found.real)
                    if real not in visited:
                        visited.add(real)
                        stack.append(found.path)
                    continue
                if self.filter.accepts(entry, rooted_prefix + entry, False):
                    yield found, entry

    def _read_included(self) -> Iterator[SourceFile]:
        # Reader#read_included_excludes: an `include:` entry naming a file directly is read even
        # inside a folder the walk skips.
        for pattern in self.config.include:
            relative = pattern.strip("/")
            if not relative or any(char in relative for char in "*?["):
                continue
            absolute = os.path.join(self.root, relative)
            try:
                if os.path.islink(absolute) or not os.path.isfile(absolute):
                    continue
                real = os.path.realpath(absolute)
                if not self._inside(real) or not os.access(absolute, os.R_OK):
                    continue
                info = os.stat(absolute)
            except (OSError, ValueError):
                continue
            yield self._page_or_static(
                _Found(relative, False, info.st_size, info.st_mtime, absolute, info.st_mtime_ns),
                None,
            )

    # -- classification --------------------------------------------------------------------------

    def _peek_static(self, found: _Found) -> bool:
        return guess_static(os.path.join(self.root, found.path), self.markdown_ext)

    def _page_or_static(self, found: _Found, collection: str | None) -> SourceFile:
        kind = EntryKind.STATIC if self._peek_static(found) else EntryKind.PAGE
        return self._source(found, kind, collection)

    def _source(self, found: _Found, kind: EntryKind, collection: str | None) -> SourceFile:
        return SourceFile(
            path=found.path,
            kind=kind,
            collection=collection,
            relative_path=jekyll_relative_path(found.path, collection, self.config.collections_dir),
            size=found.size,
            mtime=found.mtime,
            mtime_ns=found.mtime_ns,
        )
