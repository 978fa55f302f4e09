"""Checking a site: find its root, read and parse its files, build the index, run the rules.

This is the engine's front door for the command line and the language server alike. It never
imports the protocol stack. Reading is defensive: size-bounded, decoded with problems recorded,
never following a path outside the site root.
"""

from __future__ import annotations

import errno
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from letterhead.document import Document, Problem, decode, parse_document, parse_head
from letterhead.findings import Finding
from letterhead.index import SiteIndex, collector_paused
from letterhead.positions import Span
from letterhead.rules import Context, run_rules
from letterhead.settings import SettingProblem, Settings
from letterhead.site.model import Entry, EntryKind, Site, SourceFile

# Parses of files read again from disk that `LoadedSite.document` keeps (see there).
_RECENT_PARSES = 64
# Files checked by the rules (others, such as HTML pages, are only indexed).
CHECKED_SUFFIXES = (".md", ".markdown", ".mkd", ".mkdn", ".mdown")


def find_site_root(path: Path, resolved: bool = False) -> Path | None:
    """The nearest folder at or above `path` that holds a `_config.yml` (`resolved`: `path`
    is absolute, its links resolved already)."""
    current = path if resolved else path.resolve()
    if current.is_file() or not current.exists():
        current = current.parent
    for folder in (current, *current.parents):
        if (folder / "_config.yml").is_file():
            return folder
    return None


class RealPaths:
    """`Path.resolve` and `find_site_root` for many paths at once: the thousands of files a
    pre-commit run over a whole site names, or an editor opens as it applies a rename.

    Each folder's real path and each site root found are remembered, so that a file costs one
    `lstat` (is it a link itself?) rather than one for every folder above it, and a walk up
    them for `_config.yml`. What is remembered goes stale if a folder becomes a link or a
    `_config.yml` appears: a holder that lives on forgets it whenever such a change may have
    happened unseen (`forget`).
    """

    def __init__(self) -> None:
        # A folder as written -> its real path ("" for one in a loop of links).
        self._real_folders: dict[str, str] = {}
        self._site_roots: dict[str, Path | None] = {}  # a real folder -> its site's root

    def forget(self) -> None:
        self._real_folders.clear()
        self._site_roots.clear()

    def resolve(self, path: str) -> Path:
        """What `Path(path).resolve()` gives (and raises)."""
        return Path(self.real_path(path))

    def real_path(self, path: str) -> str:
        """`resolve` as a string (no `Path` made: thousands of them cost more than the rest)."""
        folder, name = os.path.split(path)
        if name in ("", ".", ".."):
            return str(Path(path).resolve())
        real = self._real_folders.get(folder)
        if real is None:
            real = os.path.realpath(folder)
            try:
                os.stat(real)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    real = ""  # `Path.resolve` raises for every path in it
            self._real_folders[folder] = real
        if not real:
            return str(Path(path).resolve())
        resolved = os.path.join(real, name)
        if os.path.islink(resolved):
            return str(Path(resolved).resolve())  # a link to elsewhere
        return resolved

    def site_root(self, path: Path | str) -> Path | None:
        """What `find_site_root(Path(path), resolved=True)` gives (`path` from `resolve`)."""
        start = os.fspath(path)
        if not os.path.isdir(start):
            start = os.path.dirname(start)
        if start not in self._site_roots:
            self._site_roots[start] = find_site_root(Path(start), resolved=True)
        return self._site_roots[start]


def read_text(path: Path | str, max_bytes: int) -> tuple[str, list[Problem]]:
    """A file's text, decoded; what could not be read becomes a Problem, never an exception."""
    try:
        data = read_bounded(path, max_bytes)
    except OSError as error:
        return "", [
            Problem("unreadable", f"the file cannot be read: {error.strerror or error}", Span(0, 0))
        ]
    if isinstance(data, int):
        return "", [
            Problem(
                "too-large",
                f"the file is {data:,} bytes, over the {max_bytes:,}-byte limit; it was not checked",
                Span(0, 0),
            )
        ]
    return decode(data)


def read_bounded(path: Path | str, max_bytes: int) -> bytes | int:
    """The bytes of the file at `path`, or its size when that is over `max_bytes`.

    One descriptor, its `fstat` and a read of the size it gives (plus one to see the end):
    half the system calls and none of the buffering of `Path.stat` then `Path.read_bytes`,
    which shows at 20,000 files. A file growing meanwhile is read to its end, within the bound."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(descriptor).st_size
        if size > max_bytes:
            return size
        data = os.read(descriptor, size + 1)
        if len(data) <= size:
            return data
        pieces, total = [data], len(data)
        while piece := os.read(descriptor, 1 << 16):
            pieces.append(piece)
            total += len(piece)
            if total > max_bytes:
                return total
        return b"".join(pieces)
    finally:
        os.close(descriptor)


@dataclass
class LoadedSite:
    """A site read from disk: its model, index, settings, and every parsed document."""

    site: Site
    index: SiteIndex
    settings: Settings
    setting_problems: list[SettingProblem]
    # Parsed documents kept in memory: every document after `load_site`; only the editor's open
    # ones in the language server, which keeps the index alone (`keep_documents` False).
    documents: dict[str, Document] = field(default_factory=dict)
    keep_documents: bool = True
    # The editor's texts of the files it has open, which the index holds instead of the files':
    # `document` parses one again when its kept parse was let go (`drop_parse`), which also
    # hands over the text packed (`pack_text`).
    texts: dict[str, str | bytes] = field(default_factory=dict)
    _recent: OrderedDict[tuple[str, bool], tuple[object, Document]] = field(
        default_factory=OrderedDict, repr=False
    )

    @property
    def root(self) -> Path:
        return self.site.root

    def context(self, path: str, document: Document) -> Context:
        return Context(path, document, self.index.entry(path), self.index, self.settings)

    def check_document(self, path: str, document: Document) -> list[Finding]:
        return run_rules(self.context(path, document))

    def update(self, relative: str, text: str | None) -> tuple[Document | None, bool]:
        """Put one file's text (an editor's, or the disk's when `text` is None) in the index.

        The same steps `load_site` takes for one file, so that an editor and `letterhead check`
        agree. Returns the parsed text (None for a file without text) and whether the site reads
        the file as a document (only those are checked).
        """
        site = self.site
        self.texts.pop(relative, None)
        # The editor's text stands for the file even before it is first saved.
        source = site.classify(relative, on_disk=text is None)
        if source is None or source.excluded or source.kind is EntryKind.STATIC:
            if source is not None and not source.excluded:
                self.index.add(site.entry(source, None), None)
                self.documents.pop(relative, None)
            else:
                self.remove(relative)
            return (parse_document(text) if text is not None else None), False
        document = (
            parse_source(site, source, self.settings) if text is None else parse_document(text)
        )
        entry = entry_for(site, source, document, None)
        self.index.add(entry, document)
        if entry.kind is EntryKind.STATIC:  # a page without front matter: copied as it is
            self.documents.pop(relative, None)
            return document, False
        if text is not None:
            self.texts[relative] = text
        if text is not None or self.keep_documents:
            self.documents[relative] = document
        else:
            self.documents.pop(relative, None)
        return document, True

    def remove(self, relative: str) -> None:
        self.index.remove(relative)
        self.documents.pop(relative, None)
        self.texts.pop(relative, None)

    def drop_parse(self, relative: str, text: str | bytes, packed: bytes) -> None:
        """Let go of the kept parse of an editor's text (the text stays, and `document` parses
        it again when asked): what an editor with thousands of files open needs to fit.
        `packed` (`pack_text` of `text`) is kept instead of the text if `text` is the one the
        index holds (a file open under two names has two)."""
        held = self.texts.get(relative)
        if held is None:
            return
        self.documents.pop(relative, None)
        if held == text:
            self.texts[relative] = packed

    def keep_parse(self, relative: str, document: Document) -> None:
        """Keep again the parse of an editor's text, made again after `drop_parse`."""
        if relative in self.texts:
            self.documents[relative] = document

    def release(self, relative: str) -> None:
        """The editor closed `relative` with the file holding its text: the index's record
        stays (it is the file's), the editor's text and its parse go."""
        self.texts.pop(relative, None)
        self.documents.pop(relative, None)

    def document(self, relative: str, head_only: bool = False) -> Document | None:
        """The parse of an indexed file: the one kept in memory (every file after `load_site`,
        open files in the language server), else its text parsed again, the editor's if the
        index holds that, else the file's (only its front matter when `head_only`, see
        `parse_head`)."""
        kept = self.documents.get(relative)
        if kept is not None:
            return kept
        if relative not in self.index.documents:
            return None
        source = self._source_of(relative)
        if source is None:
            return None
        stamp, read = source
        # A rename reads each review it edits, then its positions are converted for the client
        # (`codec_for`): the last few parses are kept, valid while the text is the same.
        recent = self._recent
        for kind in (False, True) if head_only else (False,):
            found = recent.get((relative, kind))
            if found is not None and found[0] == stamp:
                recent.move_to_end((relative, kind))
                return found[1]
        text, problems = read()
        document = parse_head(text) if head_only else parse_document(text)
        document.problems[:0] = problems
        recent[(relative, head_only)] = (stamp, document)
        while len(recent) > _RECENT_PARSES:
            recent.popitem(last=False)
        return document

    def _source_of(
        self, relative: str
    ) -> tuple[object, Callable[[], tuple[str, list[Problem]]]] | None:
        """The text the index holds of `relative`: something equal for the same text, and how
        to read it (the editor's text whose parse was let go, else the file's); None when the
        file is gone or leads out of the site."""
        text = self.texts.get(relative)
        if text is not None:
            return text, lambda: (unpack_text(text), [])
        located = self.site.real_file(relative)
        if located is None:
            return None
        real, info = located
        limit = self.settings.max_file_bytes
        return (info.st_size, info.st_mtime_ns), lambda: read_text(real, limit)

    def checked_paths(self) -> list[str]:
        return sorted(path for path in self.index.documents if path.endswith(CHECKED_SUFFIXES))


class SiteDocuments(Mapping[str, Document]):
    """The parses of a site's indexed files as a mapping, read through `LoadedSite.document`
    on first use; `own` holds parses the caller already has (an editor's text, say)."""

    def __init__(
        self,
        loaded: LoadedSite,
        own: Mapping[str, Document] | None = None,
        head_only: bool = False,
    ) -> None:
        self.loaded = loaded
        self.own = dict(own or {})
        self.head_only = head_only  # front matter is all the caller reads (see `parse_head`)

    def __getitem__(self, path: str) -> Document:
        document = self.own.get(path)
        if document is None:
            document = self.loaded.document(path, self.head_only)
        if document is None:
            raise KeyError(path)
        return document

    def __iter__(self) -> Iterator[str]:
        return iter(self.loaded.index.documents)

    def __len__(self) -> int:
        return len(self.loaded.index.documents)


def settings_for(site: Site) -> tuple[Settings, list[SettingProblem]]:
    return Settings.from_mapping(site.config.letterhead)


# The FDICT flag of a zlib header's second byte: a preset dictionary's Adler-32 follows.
_FDICT = 0x20


class TextPacker:
    """Editors' texts kept small while nothing uses them: zlib at level 1 (a generated review of
    3,092 bytes packs to 1,664 on its own, in ~50 µs; level 6 gives 1,606 for ~60 µs, not worth
    it), against a preset dictionary once there is one. An editor that applied the rename of a
    tag used by 7,847 reviews has each of them open, and reviews of one site share much: their
    front matter's keys and layout, the salutation's and the signature's markup, the authors'
    words. The first `dictionary_bytes` of texts packed become the dictionary, fixed from then
    on: against it a generated review packs to ~800 bytes at the same speed, a review of the
    example site (each written apart) 1,035 → ~815.

    A text packed against a dictionary says so in its zlib header, with the dictionary's
    Adler-32, which names it here: whichever thread packed it, it unpacks.

    Each text is packed by a copy of one compressor primed with the dictionary: priming reads
    the whole dictionary into zlib's tables, which cost more than packing a review (a review
    packed by a fresh compressor given the dictionary: ~93 µs; by a copy: ~58 µs, the same
    bytes)."""

    def __init__(self, dictionary_bytes: int = 16_384) -> None:
        self.dictionary_bytes = dictionary_bytes
        self._seed: list[bytes] = []
        self._seed_size = 0
        self._lock = threading.Lock()
        self._by_checksum: dict[int, bytes] = {}
        # A compressor given the dictionary and nothing else; set last: packing may begin.
        self._primed: zlib._Compress | None = None
        self.dictionary: bytes | None = None

    def pack(self, text: str) -> bytes:
        data = text.encode("utf-8", "surrogatepass")
        primed = self._primed
        if primed is None:
            self._learn(data)
            return zlib.compress(data, 1)
        packer = primed.copy()
        return packer.compress(data) + packer.flush()

    def unpack(self, text: str | bytes) -> str:
        """The text `pack` packed (a text not packed as it is)."""
        if isinstance(text, str):
            return text
        if len(text) > 6 and text[1] & _FDICT:
            unpacker = zlib.decompressobj(zdict=self._by_checksum[int.from_bytes(text[2:6], "big")])
            data = unpacker.decompress(text) + unpacker.flush()
        else:
            data = zlib.decompress(text)
        return data.decode("utf-8", "surrogatepass")

    def _learn(self, data: bytes) -> None:
        with self._lock:
            if self.dictionary is not None:
                return
            self._seed.append(data[: self.dictionary_bytes])
            self._seed_size += len(self._seed[-1])
            if self._seed_size >= self.dictionary_bytes:
                dictionary = b"".join(self._seed)[-self.dictionary_bytes :]
                self._by_checksum[zlib.adler32(dictionary)] = dictionary
                self.dictionary = dictionary
                self._primed = zlib.compressobj(1, zdict=dictionary)  # after it can be found
                self._seed = []


_PACKER = TextPacker()


def pack_text(text: str) -> bytes:
    """An editor's text kept small while nothing uses it (`TextPacker`)."""
    return _PACKER.pack(text)


def unpack_text(text: str | bytes) -> str:
    """The text `pack_text` packed (a text not packed as it is)."""
    return _PACKER.unpack(text)


def parse_source(
    site: Site, source: SourceFile, settings: Settings, head_only: bool = False
) -> Document:
    # A string, not `site.root / source.path`: a Path per file was 2% of parsing a review.
    text, problems = read_text(site.root_prefix + source.path, settings.max_file_bytes)
    document = parse_head(text) if head_only else parse_document(text)
    document.problems[:0] = problems
    return document


def entry_for(
    site: Site, source: SourceFile, document: Document | None, now: datetime | None
) -> Entry:
    front_matter = None
    if document is not None and document.front_matter is not None:
        front_matter = document.data if document.front_matter.error is None else {}
    return site.entry(source, front_matter, now)


def load_site(
    root: Path,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadedSite:
    """Read, parse and index every file of the site at `root`.

    `progress(done, total)` is called now and then (about a hundred times in all).
    """
    with collector_paused():
        return _load_site(root, now, progress)


def _load_site(
    root: Path, now: datetime | None, progress: Callable[[int, int], None] | None
) -> LoadedSite:
    site = Site.open(root)
    settings, problems = settings_for(site)
    index = SiteIndex(site)
    loaded = LoadedSite(site, index, settings, problems)
    sources = site.discover()
    step = max(1, len(sources) // 100)
    for number, source in enumerate(sources):
        if progress is not None and number % step == 0:
            progress(number, len(sources))
        if source.kind is EntryKind.STATIC:
            index.add(site.entry(source, None, now), None)
            continue
        document = parse_source(site, source, settings)
        index.add(entry_for(site, source, document, now), document)
        loaded.documents[source.path] = document
    return loaded


def relative_paths(loaded: LoadedSite, paths: Iterable[Path]) -> list[str]:
    """The site-relative paths of the given files and folders that the rules check."""
    return select_paths(loaded.root, loaded.checked_paths(), paths)


def select_paths(root: Path, checked: Iterable[str], paths: Iterable[Path]) -> list[str]:
    """Those of `checked` (site-relative) that are, or lie under, one of `paths`."""
    base = str(root.resolve())
    inside = base.rstrip(os.sep) + os.sep
    checked = list(checked)
    known = set(checked)
    wanted: set[str] = set()
    real = RealPaths()  # thousands of files named, in a few folders
    for path in paths:
        absolute = real.real_path(os.fspath(path))
        if absolute == base:
            relative = ""
        elif absolute.startswith(inside):
            relative = absolute[len(inside) :].replace(os.sep, "/")
        else:
            continue
        if relative in known:
            wanted.add(relative)
        elif os.path.isdir(absolute):
            prefix = relative + "/" if relative else ""
            wanted.update(p for p in checked if p.startswith(prefix))
    return sorted(wanted)


def check_site(loaded: LoadedSite, paths: Iterable[str] | None = None) -> list[Finding]:
    """Findings for the given site-relative paths (all checked files when None), sorted.

    The collector is paused as `load_site` pauses it: over a loaded site's heap (every parse
    kept) each full collection walked all of it and found nothing: the rules over 20,000
    reviews took 2.25 s, 1.60-1.63 with the collector off."""
    findings: list[Finding] = []
    with collector_paused():
        for path in loaded.checked_paths() if paths is None else paths:
            document = loaded.document(path)
            if document is not None:
                findings.extend(loaded.check_document(path, document))
    findings.extend(config_findings(loaded))
    findings.sort(key=Finding.sort_key)
    return findings


def config_findings(loaded: LoadedSite) -> list[Finding]:
    """CF001 findings for `_config.yml` itself (problems Jekyll or letterhead would hit)."""
    from letterhead.rules.config import config_findings as findings_for_config

    return findings_for_config(loaded)
