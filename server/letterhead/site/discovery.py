"""Finding a site's files the way Jekyll's Reader does: which are posts, drafts, collection
documents, page candidates or static files, and which it never reads at all.

The walk never leaves the site root: a symbolic link is followed only when its target lies inside
the root, and a folder already visited (a link loop) is not entered twice.
"""

from __future__ import annotations

import fnmatch
import operator
import os
import re
import sys
from pathlib import Path
from stat import S_IRUSR, S_ISDIR, S_ISLNK, S_ISREG

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
# First and last characters that make Jekyll's EntryFilter skip a name (unless `include:`d).
_SPECIAL_FIRST = "._#~"
_SPECIAL_LAST = ".~"
_FIRST = operator.itemgetter(0)
# List folders through a descriptor where the platform allows, so that `stat` and `access` look
# up a name in the folder rather than resolve the whole path again.
_LIST_BY_FD = os.scandir in os.supports_fd and os.access in os.supports_dir_fd
_OVERFLOW_UID = 65534
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


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

    def within(
        self, rooted_dir: str
    ) -> tuple[bool, tuple[str, ...], frozenset[str], re.Pattern[str] | None]:
        """What can match `rooted_dir + name` (`rooted_dir` ends with `/`): whether every
        prefix-matched name does (a pattern names the folder or a parent), the prefixes and
        folder names left for `name`, and the glob, which sees the whole path."""
        cut = len(rooted_dir)
        return (
            rooted_dir.startswith(self._prefixes),
            tuple(prefix[cut:] for prefix in self._prefixes if prefix.startswith(rooted_dir)),
            frozenset(folder[cut:] for folder in self._folders if folder.startswith(rooted_dir)),
            self._glob,
        )

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


def _access_shortcut_uid() -> int:
    """The user whose own files `access(R_OK)` need not be asked about, -1 for none.

    On Linux, `access` judges a file by the caller's real user; for the file's owner, the
    owner's read bit decides (it is also the owner entry of a POSIX ACL): a file of that user
    with the bit set is readable and the status the walk has already read says so. Any other
    file, owned by someone else or without the bit, is left to `access`: groups, ACL entries and
    capabilities (root) are the kernel's business. Nobody (the overflow user, which unmapped
    owners also show as) gets no shortcut."""
    if sys.platform != "linux":
        return -1
    uid = os.getuid()
    return -1 if uid == _OVERFLOW_UID else uid


class Walker:
    """One pass over a site's folders, giving SourceFiles in Jekyll's reading order.

    It runs at every server start and every `letterhead check`, over sites of tens of thousands
    of files, so it is careful with system calls: one `scandir` per folder, one status per entry
    (two for a link), looked up in the open folder rather than by path, and an `access` only for
    a file not plainly readable by its owner (see `_access_shortcut_uid`). tests/test_discovery.py
    holds it to a walk without these shortcuts."""

    def __init__(self, root: Path, config: SiteConfig) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.config = config
        self.filter = PathFilter(config)
        self.markdown_ext = frozenset(config.markdown_ext)
        destination = config.destination.strip("/") or "_site"
        self.destination = os.path.realpath(os.path.join(root, destination))
        self._visited: set[str] = set()
        # Per extension as written: static (True), a page candidate (False), or None: read it.
        self._extensions: dict[str, bool | None] = {}
        collections_dir = config.collections_dir
        self._collections_prefix = collections_dir + "/" if collections_dir else ""
        self._owner = _access_shortcut_uid()

    # -- file system, bounded to the root ------------------------------------------------------

    def _inside(self, real: str) -> bool:
        return real == self.real_root or real.startswith(self.real_root + os.sep)

    def _scan(
        self,
        relative_dir: str,
        *,
        follow_dir_links: bool,
        dot_match: bool,
        filter_dirs: bool,
        entry_prefix: str,
        rooted_dir: str,
    ) -> tuple[list[tuple[str, int, float, int]], list[tuple[str, str]]]:
        """The files and folders of a folder that the filter keeps, each sorted by name: files
        as (name, size, mtime, mtime_ns), folders as (name, path to resolve). Symbolic links are
        resolved and checked against the root; files that are not regular or not readable are
        left out, and so is any entry whose status cannot be read.

        Filter: an entry is `entry_prefix + name` for `PathFilter.accepts`, and `rooted_dir +
        name` from the site source; folders are filtered only with `filter_dirs`; with
        `dot_match` off, no dot file or folder is kept (Ruby's `**` glob without FNM_DOTMATCH)."""
        absolute = os.path.join(self.root, relative_dir) if relative_dir else os.fspath(self.root)
        fd = None
        try:
            if _LIST_BY_FD:
                fd = os.open(absolute, _DIRECTORY_FLAGS)
            iterator = os.scandir(fd) if fd is not None else os.scandir(absolute)
        except OSError:
            if fd is not None:
                os.close(fd)
            return [], []
        files: list[tuple[str, int, float, int]] = []
        dirs: list[tuple[str, str]] = []
        accepts = self.filter.accepts
        owner = self._owner
        # A plain name (no special first or last character, in a folder `exclude:` does not
        # name) is kept unless `exclude:` matches it, and in most folders no `exclude:` entry
        # can (`unexcluded`); only the other names take the filter's full test.
        every, prefixes, folders, glob = self.filter.exclude.within(rooted_dir)
        plain = not every and (not entry_prefix or entry_prefix[0] not in _SPECIAL_FIRST)
        unexcluded = not prefixes and not folders and glob is None
        # Entries are taken as they come and what is kept is sorted at the end, so that each
        # DirEntry and status is dropped at once rather than thousands of them kept alive.
        try:
            with iterator:
                for entry in iterator:
                    name = entry.name
                    if not dot_match and name[0] == ".":
                        continue  # `**/*` without FNM_DOTMATCH sees no dot files or folders
                    try:
                        info = entry.stat(follow_symlinks=False)
                        mode = info.st_mode
                        real = ""
                        if S_ISLNK(mode):
                            real = os.path.realpath(os.path.join(absolute, name))
                            if not self._inside(real):
                                continue  # never follow a link out of the site
                            info = entry.stat()
                            mode = info.st_mode
                            if not follow_dir_links and S_ISDIR(mode):
                                continue  # Ruby's `**` glob does not descend through links
                        is_dir = S_ISDIR(mode)
                        if not is_dir and not S_ISREG(mode):
                            continue  # a pipe, a socket, a device
                    except (OSError, RuntimeError, ValueError):
                        continue  # broken link, vanished file, link loop
                    if (is_dir and not filter_dirs) or (
                        plain
                        and name[0] not in _SPECIAL_FIRST
                        and name[-1] not in _SPECIAL_LAST
                        and (
                            unexcluded
                            or not (
                                name.startswith(prefixes)
                                or (is_dir and name in folders)
                                or (glob is not None and glob.match(rooted_dir + name) is not None)
                            )
                        )
                    ):
                        pass  # kept without the filter's full test
                    elif not accepts(entry_prefix + name, rooted_dir + name, is_dir):
                        continue
                    if is_dir:
                        dirs.append((name, real or os.path.join(absolute, name)))
                    elif (info.st_uid == owner and mode & S_IRUSR) or (
                        os.access(name, os.R_OK, dir_fd=fd)
                        if fd is not None
                        else os.access(entry.path, os.R_OK)
                    ):
                        files.append((name, info.st_size, info.st_mtime, info.st_mtime_ns))
        except OSError:
            return [], []  # a folder that fails half-way gives nothing, as one that cannot open
        finally:
            if fd is not None:
                os.close(fd)
        files.sort(key=_FIRST)
        dirs.sort(key=_FIRST)
        return files, dirs

    def _enter(self, real: str) -> bool:
        real = os.path.realpath(real)
        if real in self._visited or real == self.destination:
            return False
        self._visited.add(real)
        return True

    # -- Jekyll's reading ------------------------------------------------------------------------

    def walk(self) -> list[SourceFile]:
        self._visited = {os.path.realpath(self.root)}
        found: list[SourceFile] = []
        self._read_directories("", found)
        self._read_included(found)
        for label, collection in self.config.collections.items():
            if label in ("posts", "data"):
                continue
            self._read_collection(label, collection.relative_directory, found)
        if len({source.path for source in found}) == len(found):
            return found
        files: list[SourceFile] = []
        seen: set[str] = set()
        for source in found:  # the first reading of a path wins
            if source.path not in seen:
                seen.add(source.path)
                files.append(source)
        return files

    def _read_directories(self, relative_dir: str, out: list[SourceFile]) -> None:
        rooted_dir = "/" + relative_dir + "/" if relative_dir else "/"
        files, dirs = self._scan(
            relative_dir,
            follow_dir_links=True,
            dot_match=True,
            filter_dirs=True,
            entry_prefix="",
            rooted_dir=rooted_dir,
        )
        self._read_posts(relative_dir, out)
        base = relative_dir + "/" if relative_dir else ""
        static, page = EntryKind.STATIC, EntryKind.PAGE
        extensions = self._extensions
        for name, size, mtime, mtime_ns in files:
            path = base + name
            # self._static(name, path), with its first step inline: this loop sees every image.
            dot = name.rfind(".")
            verdict = extensions.get(name[dot:]) if dot > 0 and name[0] != "." else None
            if verdict is None:
                verdict = self._static(name, path)
            out.append(
                SourceFile(path, static if verdict else page, None, path, size, mtime, mtime_ns)
            )
        for name, real in dirs:
            if self._enter(real):
                self._read_directories(base + name, out)

    def _in_collections_dir(self, relative_dir: str) -> bool:
        collections_dir = self.config.collections_dir
        return not collections_dir or ("/" + relative_dir).startswith("/" + collections_dir)

    def _read_posts(self, relative_dir: str, out: list[SourceFile]) -> None:
        if not self._in_collections_dir(relative_dir):
            return
        prefix = self._collections_prefix
        cut = len(prefix)
        for special, kind, matcher in (
            ("_posts", EntryKind.POST, DATED_NAME),
            ("_drafts", EntryKind.DRAFT, DATELESS_NAME),
        ):
            base = f"{relative_dir}/{special}" if relative_dir else special
            match = matcher.match
            for folder, entry_prefix, files in self._glob(base, dot_match=False):
                for name, size, mtime, mtime_ns in files:
                    if match(entry_prefix + name):
                        path = folder + name
                        relative = path[cut:] if prefix and path.startswith(prefix) else path
                        out.append(SourceFile(path, kind, "posts", relative, size, mtime, mtime_ns))

    def _read_collection(self, label: str, relative_directory: str, out: list[SourceFile]) -> None:
        prefix = self._collections_prefix
        cut = len(prefix)
        static, document = EntryKind.STATIC, EntryKind.DOCUMENT
        # The filter sees `/_label/...` even under a `collections_dir`, as in Jekyll.
        for folder, _prefix, files in self._glob(
            relative_directory, dot_match=True, rooted_base="_" + label
        ):
            for name, size, mtime, mtime_ns in files:
                path = folder + name
                kind = static if self._static(name, path) else document
                relative = path[cut:] if prefix and path.startswith(prefix) else path
                out.append(SourceFile(path, kind, label, relative, size, mtime, mtime_ns))

    def _glob(
        self, base: str, dot_match: bool, rooted_base: str | None = None
    ) -> list[tuple[str, str, list[tuple[str, int, float, int]]]]:
        """Every file under `base` kept by the filter, folder by folder in Jekyll's order
        (`Reader#get_entries` and `Collection#filtered_entries`): the folder's path and path
        inside `base` (both ending with `/`, the latter empty for `base`) and its files as
        `_scan` gives them, in reading order."""
        absolute = os.path.join(self.root, base)
        try:
            if not os.path.isdir(absolute) or not self._inside(os.path.realpath(absolute)):
                return []
        except (OSError, ValueError):
            return []
        rooted_prefix = "/" + (rooted_base or base) + "/"
        found: list[tuple[str, str, list[tuple[str, int, float, int]]]] = []
        stack = [base]
        visited = {os.path.realpath(absolute)}
        cut = len(base) + 1
        while stack:
            current = stack.pop()
            entry_prefix = current[cut:] + "/" if len(current) > len(base) else ""
            files, dirs = self._scan(
                current,
                follow_dir_links=False,
                dot_match=dot_match,
                filter_dirs=False,
                entry_prefix=entry_prefix,
                rooted_dir=rooted_prefix + entry_prefix,
            )
            folder = current + "/"
            files.reverse()  # each folder's files in reverse name order, as the walk reads them
            found.append((folder, entry_prefix, files))
            for name, real in reversed(dirs):
                real = os.path.realpath(real)
                if real not in visited:
                    visited.add(real)
                    stack.append(folder + name)
        return found

    def _read_included(self, out: list[SourceFile]) -> None:
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
            kind = (
                EntryKind.STATIC
                if self._static(relative.rsplit("/", 1)[-1], relative)
                else EntryKind.PAGE
            )
            out.append(
                SourceFile(
                    relative,
                    kind,
                    None,
                    relative,
                    info.st_size,
                    info.st_mtime,
                    info.st_mtime_ns,
                )
            )

    # -- classification --------------------------------------------------------------------------

    def _static(self, name: str, path: str) -> bool:
        """`guess_static` for the file `path` named `name`, remembering what each extension
        says so that only files whose extension says neither binary nor text are read."""
        dot = name.rfind(".")
        # os.path.splitext(name)[1], quickly for names that do not start with a dot.
        extension = name[dot:] if dot > 0 and name[0] != "." else os.path.splitext(name)[1]
        try:
            verdict = self._extensions[extension]
        except KeyError:
            lowered = extension.lower()
            if lowered in BINARY_EXTENSIONS:
                verdict = True
            elif lowered in TEXT_EXTENSIONS or lowered in self.markdown_ext:
                verdict = False
            else:
                verdict = None
            self._extensions[extension] = verdict
        if verdict is None:
            return guess_static(os.path.join(self.root, path), self.markdown_ext)
        return verdict
