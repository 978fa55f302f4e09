"""The server's state: the sites of the workspace, the open documents, and what depends on what.

Everything here runs on the event loop's thread, except `load_site`, which builds a fresh
`LoadedSite` in a background thread that nobody else sees until it is swapped in on the loop. So
the index is never read while it is being written. Per keystroke the work is one document: its text
is patched, and it is reparsed and put back in the index only when something needs it (a debounced
check or a request), never the rest of the site.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pygls.uris import to_fs_path  # the standard library only (not the protocol stack)

from letterhead.check import (
    CHECKED_SUFFIXES,
    LoadedSite,
    RealPaths,
    config_findings,
    find_site_root,
    pack_text,
    read_text,
    settings_for,
    unpack_text,
)
from letterhead.document import Document, parse_document
from letterhead.findings import Finding
from letterhead.index import SiteIndex
from letterhead.site.model import Entry, Site
from letterhead.site.permalinks import normalize_url

CONFIG_FILE = "_config.yml"
# Folders never searched for sites below a workspace folder.
_SKIPPED_FOLDERS = frozenset({"node_modules", "vendor", "_site", ".git", ".jekyll-cache", "venv"})
_SITE_SEARCH_DEPTH = 4
_SITE_SEARCH_FOLDERS = 2_000  # a bound on the folders visited per workspace folder
_FOLDER_EVENT_FILES = 5_000  # a bound on the files read for one "folder created" event
# The open documents whose parses are kept, the most recently used: the others keep their text
# and findings, and are parsed again when asked. An editor applying a rename opens every review
# it edits (7,848 for the most used tag of 20,000 reviews), and each parse is ~14 KB.
KEPT_PARSES = 200


@dataclass
class UserSettings:
    """Per-user settings from the client (`letterhead.*`); site settings stay in `_config.yml`."""

    debounce_ms: int = 150
    trace: str = "off"  # "off", "messages" or "verbose": how much the server logs

    @classmethod
    def from_json(cls, value: Any, base: UserSettings | None = None) -> UserSettings:
        """Settings from a `letterhead` configuration section over `base` (else the defaults);
        anything missing or unusable keeps the base value."""
        settings = replace(base) if base is not None else cls()
        if not isinstance(value, dict):
            return settings
        diagnostics = value.get("diagnostics")
        if isinstance(diagnostics, dict):
            debounce = diagnostics.get("debounceMs")
            if isinstance(debounce, (int, float)) and not isinstance(debounce, bool):
                settings.debounce_ms = max(0, min(int(debounce), 10_000))
        trace = value.get("trace")
        if isinstance(trace, dict):
            trace = trace.get("server")
        if trace in ("off", "messages", "verbose"):
            settings.trace = trace
        return settings


@dataclass
class SiteState:
    """One site of the workspace; `loaded` holds only the open documents until it is indexed."""

    root: Path
    loaded: LoadedSite
    ready: bool = False
    indexing: bool = False
    generation: int = 0  # bumped on every (re)load, so a stale background load is dropped
    pending: list[tuple[Path, bool]] = field(default_factory=list)  # file events while indexing
    load_seconds: float = 0.0
    # The open documents of the site by site-relative path, in the order they were opened (a
    # file open under two URIs has two): found without a walk of every open document, which a
    # site-wide answer would make for each file it names, with thousands open after an editor
    # applied a rename to every review using a tag.
    open_at: dict[str, list[OpenDocument]] = field(default_factory=dict)
    # The index whose tables for first requests are all built (the server's quiet work).
    prepared: LoadedSite | None = None


@dataclass(slots=True)
class OpenDocument:
    uri: str
    # The editor's text (`text`), packed (`pack_text`) once the document is no longer among
    # the `kept_parses` last used, until it is edited again.
    stored: str | bytes
    version: int | None
    site: SiteState | None = None
    relative: str | None = None  # site-relative, `/`-separated
    document: Document | None = None  # the parse of `text`, None until needed or let go
    stale: bool = True  # whether `text` changed since it was last parsed and put in the index
    indexed: bool = False  # whether the site reads the file as a document (and indexes it)
    findings: list[Finding] | None = None  # for `document`, in the current index
    findings_stamp: int = -1
    # The index's stamp and the version whose diagnostics were last published.
    published: tuple[int, int | None] = (-1, None)
    # The text as it was packed, while it is kept unpacked and unchanged (`unpacked`): packed
    # again, it is this (a review opened by a rename is packed while it waits for its check,
    # then unpacked for the check, then packed once its parse is let go).
    packed: bytes | None = None

    @property
    def text(self) -> str:
        return unpack_text(self.stored)

    @text.setter
    def text(self, text: str) -> None:
        self.stored = text
        self.packed = None

    def unpacked(self) -> str:
        """The text, kept as it is from now on: what the index is given, which must be the very
        object the document holds (`LoadedSite.drop_parse` packs both once)."""
        stored = self.stored
        if isinstance(stored, str):
            return stored
        text = self.stored = unpack_text(stored)
        self.packed = stored
        return text

    def pack(self) -> bytes:
        """Keep the text packed (it is unpacked at each use until the next edit)."""
        stored = self.stored
        if isinstance(stored, str):
            stored = self.stored = self.packed if self.packed is not None else pack_text(stored)
            self.packed = None
        return stored

    @property
    def checked(self) -> bool:
        """Whether the rules check this file (as `letterhead check` does)."""
        return (
            self.site is not None
            and self.indexed
            and self.relative is not None
            and self.relative.endswith(CHECKED_SUFFIXES)
        )


@dataclass(frozen=True)
class Dependents:
    """What changed about a document that other open documents depend on."""

    taxonomy: bool = False  # its tags or categories
    target: bool = False  # its URL, title or publication
    keys: frozenset[str] = frozenset()  # the link keys that reach it, before and after


def empty_site(root: Path) -> LoadedSite:
    """A site with its configuration read but no file indexed yet (answers during indexing)."""
    site = Site.open(root)
    settings, problems = settings_for(site)
    return LoadedSite(site, SiteIndex(site), settings, problems)


def update_document(
    loaded: LoadedSite, relative: str, text: str | None
) -> tuple[Document | None, bool]:
    """Put one file's text in the index (see `LoadedSite.update`)."""
    return loaded.update(relative, text)


def remove_document(loaded: LoadedSite, relative: str) -> None:
    loaded.remove(relative)


def link_keys(entry: Entry | None) -> set[str]:
    """The keys under which the index records links to `entry` (see `SiteIndex.backlinks`)."""
    if entry is None:
        return set()
    keys = {"path:" + entry.path}
    if entry.url is not None:
        key = normalize_url(entry.url)
        if key is not None:
            keys.add(key)
    if entry.post_id:
        keys.add("post_id:" + entry.post_id)
    return keys


def _signature(entry: Entry | None) -> tuple[Any, ...]:
    if entry is None:
        return (None, None, None, None)
    return (entry.url, entry.title, entry.status, entry.post_id)


def _taxonomy(relative: str, index: SiteIndex) -> tuple[Any, ...]:
    indexed = index.documents.get(relative)
    if indexed is None:
        return ((), ())
    return (indexed.tags, indexed.categories)


class Workspace:
    """Sites by root and open documents by URI; the engine does the work, this keeps it fresh."""

    def __init__(self, encoding: str = "utf-16", kept_parses: int = KEPT_PARSES) -> None:
        self.encoding = encoding
        self.kept_parses = kept_parses  # the open documents whose parses are kept
        self.sites: dict[Path, SiteState] = {}
        self.documents: dict[str, OpenDocument] = {}
        self.locations = Locations()  # forgotten by the server between bursts of opens
        self.settings = UserSettings()
        self.stamp = 0  # bumped whenever any index changes, so cached findings go stale
        self.edits = 0  # bumped whenever a document is opened, changed or closed
        # The open documents that hold a parse (or held one until an edit), by URI, the least
        # recently used first.
        self._kept: OrderedDict[str, OpenDocument] = OrderedDict()
        # The open documents holding their text as the editor sent it, not yet used since (not
        # among `_kept`), the least recently opened or edited first; beyond `kept_parses` their
        # text is packed. An editor applying a rename sends thousands of opens and edits at once,
        # all read before any is checked.
        self._loose: OrderedDict[str, OpenDocument] = OrderedDict()

    # -- sites -----------------------------------------------------------------------------

    def site_for(self, path: Path) -> tuple[SiteState | None, bool]:
        """The site holding `path` (absolute, its links resolved: `path_of`), and
        whether it is new (the caller then indexes it)."""
        root = self.locations.site_root(path)
        if root is None:
            return None, False
        return self.add_site(root)

    def innermost(self, path: Path) -> SiteState | None:
        """The known site whose root is nearest above `path`."""
        best: SiteState | None = None
        for root, state in self.sites.items():
            if (path == root or root in path.parents) and (
                best is None or len(root.parts) > len(best.root.parts)
            ):
                best = state
        return best

    def add_site(self, root: Path) -> tuple[SiteState, bool]:
        state = self.sites.get(root)  # the sites' roots are real paths: one is found as it is
        if state is None:
            root = Path(os.path.realpath(root))
            state = self.sites.get(root)
        if state is not None:
            return state, False
        state = SiteState(root, empty_site(root))
        self.sites[root] = state
        return state, True

    def remove_sites_under(self, folder: Path) -> list[SiteState]:
        removed = [s for r, s in self.sites.items() if r == folder or folder in r.parents]
        for state in removed:
            del self.sites[state.root]
            for document in self.open_in(state):
                document.site, document.relative, document.findings = None, None, None
            state.open_at.clear()
        return removed

    def install(self, state: SiteState, loaded: LoadedSite, seconds: float) -> None:
        """Swap a freshly indexed site in, keeping the editor's text for open documents."""
        state.loaded = loaded
        state.ready = True
        state.indexing = False
        state.load_seconds = seconds
        for document in self.open_in(state):
            if document.relative is not None:
                parsed, document.indexed = update_document(
                    loaded, document.relative, document.unpacked()
                )
                document.document = parsed
                document.stale = False
                document.findings = None
                self._keep(document)
        self.stamp += 1

    def open_in(self, state: SiteState) -> list[OpenDocument]:
        return [document for documents in state.open_at.values() for document in documents]

    def editor_keeps(self, state: SiteState, path: Path) -> bool:
        """Whether a change on disk to the file at `path` (absolute) changes nothing the index
        holds, the file being open in the editor, whose text wins (`file_changed`); never for
        the configuration, layouts and data, which reload the site whoever has them open."""
        try:
            relative = path.relative_to(state.root).as_posix()
        except ValueError:
            return False
        return relative in state.open_at and not _reloads(state, relative)

    def open_at(self, state: SiteState, relative: str) -> OpenDocument | None:
        """The editor's document for a file of the site, if it is open (the first opened)."""
        documents = state.open_at.get(relative)
        return documents[0] if documents else None

    # -- open documents ----------------------------------------------------------------------

    def open(
        self, uri: str, text: str, version: int | None, path: Path | None
    ) -> tuple[OpenDocument, SiteState | None]:
        """Track a document the editor opened at `path` (see `site_for`); also returns its site
        when that is new."""
        self.edits += 1
        if (previous := self.documents.get(uri)) is not None:
            _take_away(previous)  # opened again without a close: the new text replaces it
            self._kept.pop(uri, None)
        document = OpenDocument(uri, text, version)
        self.documents[uri] = document
        self._loosen(document)  # in place of the previous one, if any
        if path is None:
            return document, None
        state, new = self.site_for(path)
        if state is None:
            return document, None
        try:
            document.relative = path.relative_to(state.root).as_posix()
        except ValueError:
            return document, None
        document.site = state
        state.open_at.setdefault(document.relative, []).append(document)
        return document, state if new else None

    def set_text(self, document: OpenDocument, text: str, version: int | None) -> None:
        self.edits += 1
        document.text = text
        document.version = version
        document.document = None
        document.stale = True
        document.findings = None
        self._loosen(document)

    def close(self, uri: str) -> tuple[OpenDocument, Dependents] | None:
        """Forget an open document; the index goes back to the file on disk (what that changed
        for other documents is the second item)."""
        document = self.documents.pop(uri, None)
        if document is None:
            return None
        self.edits += 1
        _take_away(document)
        self._kept.pop(uri, None)
        self._loose.pop(uri, None)
        state, relative = document.site, document.relative
        if state is None or relative is None:
            return document, Dependents()
        other = self.open_at(state, relative)  # the file open under another URI too (rare)
        if other is None and not document.stale and _on_disk(state, document):
            # Saved before it was closed (as an editor saves the reviews a rename edited): the
            # index already holds what the file says; only the editor's text and parse go.
            state.loaded.release(relative)
            return document, Dependents()
        return document, self._indexed(state, relative, other)

    def get(self, uri: str) -> OpenDocument | None:
        return self.documents.get(uri)

    def up_to_date(self, document: OpenDocument) -> Dependents:
        """Put the document's current text in its site's index unless it is there already, and
        say what that changed that other documents depend on."""
        if not document.stale:
            return Dependents()
        state = document.site
        if state is not None and document.relative is not None:
            return self._indexed(state, document.relative, document)
        document.document = parse_document(document.text)
        document.stale = False
        self._keep(document)
        return Dependents()

    def parsed(self, document: OpenDocument) -> tuple[Document, Dependents]:
        """The document parsed from its current text, and put in its site's index."""
        change = self.up_to_date(document)
        parsed = document.document
        if parsed is None:  # let go (`kept_parses`); the index holds its text already
            parsed = document.document = parse_document(document.text)
            if document.site is not None and document.relative is not None:
                document.site.loaded.keep_parse(document.relative, parsed)
        self._keep(document)
        return parsed, change

    def _keep(self, document: OpenDocument) -> None:
        """Note `document` as the last used of those holding a parse, and let go of the
        parses of the least recently used beyond `kept_parses`."""
        self._loose.pop(document.uri, None)
        kept = self._kept
        kept[document.uri] = document
        kept.move_to_end(document.uri)
        while len(kept) > self.kept_parses:
            _, dropped = kept.popitem(last=False)
            dropped.document = None
            text = dropped.stored
            packed = dropped.pack()
            if dropped.site is not None and dropped.relative is not None:
                dropped.site.loaded.drop_parse(dropped.relative, text, packed)

    def _loosen(self, document: OpenDocument) -> None:
        """Note `document` as holding the editor's text and not used since, unless it is among
        the last used (`_kept`, the review being typed in); pack the text of the least recently
        noted beyond `kept_parses`."""
        if document.uri in self._kept:
            return
        loose = self._loose
        loose[document.uri] = document
        loose.move_to_end(document.uri)
        while len(loose) > self.kept_parses:
            _, packed = loose.popitem(last=False)
            packed.pack()

    def _indexed(
        self, state: SiteState, relative: str, document: OpenDocument | None
    ) -> Dependents:
        """Put the editor's text of `document` in the index (None: the file on disk), and say
        what that changed that other documents depend on."""
        loaded = state.loaded
        before_entry = loaded.index.entry(relative)
        before = (_signature(before_entry), _taxonomy(relative, loaded.index))
        keys_before = link_keys(before_entry)
        if document is not None:
            parsed, document.indexed = update_document(loaded, relative, document.unpacked())
            document.document = parsed if parsed is not None else parse_document(document.text)
            document.stale = False
            self._keep(document)
        else:
            update_document(loaded, relative, None)
        self.stamp += 1
        after_entry = loaded.index.entry(relative)
        after = (_signature(after_entry), _taxonomy(relative, loaded.index))
        return Dependents(
            taxonomy=before[1] != after[1],
            target=before[0] != after[0],
            keys=frozenset(keys_before | link_keys(after_entry)),
        )

    def findings(self, document: OpenDocument) -> list[Finding]:
        """The rules' findings for the document's current text (cached until anything changes)."""
        self.up_to_date(document)
        if document.findings is not None and document.findings_stamp == self.stamp:
            return document.findings
        parsed, _ = self.parsed(document)
        state = document.site
        findings: list[Finding] = []
        if state is not None and document.relative == CONFIG_FILE:
            # The configuration's own findings (CF001), as of the last (re)load of the site.
            findings = [f for f in config_findings(state.loaded) if f.path == CONFIG_FILE]
        elif state is not None and document.relative is not None and document.checked:
            findings = state.loaded.check_document(document.relative, parsed)
        document.findings = findings
        document.findings_stamp = self.stamp
        return findings

    def linking_to(self, document: OpenDocument, change: Dependents) -> list[OpenDocument]:
        """The other open documents of its site that link to `document` under a key it had
        before `change` or has after it (its URL, `post_url` id or path)."""
        state = document.site
        if state is None:
            return []
        others = [d for d in self.open_in(state) if d is not document]
        index = state.loaded.index
        result = []
        for other in others:
            indexed = index.documents.get(other.relative or "")
            if indexed is not None and change.keys.intersection(indexed.link_keys):
                result.append(other)
        return result

    # -- files changed on disk ------------------------------------------------------------------

    def file_changed(self, path: Path, deleted: bool) -> tuple[SiteState | None, str]:
        """Bring the index up to date with one file changed outside the editor.

        Returns the site and what to do: "reload" (its configuration, layouts or data changed),
        "updated", "queued" (the site is being indexed) or "ignored".
        """
        state = self.innermost(path)
        if state is None:
            return None, "ignored"
        try:
            relative = path.relative_to(state.root).as_posix()
        except ValueError:
            return None, "ignored"
        if _reloads(state, relative):
            return state, "reload"
        if state.indexing:
            state.pending.append((path, deleted))
            return state, "queued"
        open_paths = state.open_at
        if relative in open_paths:
            return state, "ignored"  # the editor's text wins over the disk's
        if deleted:
            index = state.loaded.index
            if relative in index.documents or relative in index.statics:
                gone = [relative]  # a file: nothing is below it (no walk of 40,000 paths)
            else:  # a folder's deletion comes as one event: everything indexed below it goes
                gone = [
                    p for p in (*index.documents, *index.statics) if p.startswith(relative + "/")
                ]
            for path_gone in gone:
                if path_gone not in open_paths:
                    remove_document(state.loaded, path_gone)
        elif path.is_dir():
            for found in _files_below(path, _FOLDER_EVENT_FILES):
                inner = found.relative_to(state.root).as_posix()
                if inner not in open_paths:
                    update_document(state.loaded, inner, None)
        else:
            update_document(state.loaded, relative, None)
        self.stamp += 1
        return state, "updated"

    def replay_pending(self, state: SiteState) -> bool:
        """Apply file events that arrived while the site was indexed; True if any did."""
        pending, state.pending = state.pending, []
        changed = False
        for path, deleted in pending:
            _, action = self.file_changed(path, deleted)
            changed = changed or action == "updated"
        return changed

    # -- finding sites ---------------------------------------------------------------------------

    def text_of(self, state: SiteState, relative: str) -> str | None:
        """The text the engine used for a file of the site: the editor's, else the indexed one."""
        if (document := self.open_at(state, relative)) is not None:
            return document.text
        indexed = state.loaded.document(relative)
        return indexed.text if indexed is not None else None

    def uri_of(self, state: SiteState, relative: str) -> str | None:
        document = self.open_at(state, relative)
        return document.uri if document is not None else None


def _reloads(state: SiteState, relative: str) -> bool:
    """Whether a change to the site's file at `relative` reloads the site: its configuration,
    layouts and data."""
    config = state.loaded.site.config
    return relative == CONFIG_FILE or relative.split("/", 1)[0] in (
        config.layouts_dir.strip("/"),
        config.data_dir.strip("/"),
    )


def _on_disk(state: SiteState, document: OpenDocument) -> bool:
    """Whether the file of `document` holds its text (read as the index reads files)."""
    assert document.relative is not None
    located = state.loaded.site.real_file(document.relative)
    if located is None:
        return False
    text, problems = read_text(located[0], state.loaded.settings.max_file_bytes)
    return not problems and text == document.text


def _take_away(document: OpenDocument) -> None:
    """Take `document` out of its site's open documents."""
    if document.site is None or document.relative is None:
        return
    documents = document.site.open_at.get(document.relative)
    if documents is None:
        return
    documents[:] = [other for other in documents if other is not document]  # by identity
    if not documents:
        del document.site.open_at[document.relative]


def _files_below(folder: Path, limit: int) -> list[Path]:
    """Up to `limit` files below `folder` (a folder created outside the editor, say by git)."""
    found: list[Path] = []
    for directory, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        found.extend(Path(directory) / name for name in sorted(files))
        if len(found) >= limit:
            return found[:limit]
    return found


# What makes a `file:` URI need the full parse: escapes, the parts after a path, characters a
# URL parser drops or strips, a Windows drive letter (`file:///C:/`). (Where the separator is not
# `/`, every URI gets it.)
_NOT_PLAIN_URI = re.compile(r"[%?#\x00-\x20\x7f]|^file:///[A-Za-z]:")


def fs_path(uri: str) -> str | None:
    """What `pygls.uris.to_fs_path` gives, read off a plain `file:///` URI (a fifth of the time:
    an editor applying a rename opens thousands)."""
    if uri.startswith("file:///") and os.sep == "/" and not _NOT_PLAIN_URI.search(uri):
        return uri[7:]
    return to_fs_path(uri)


def path_of(uri: str, resolve: Callable[[str], Path] | None = None) -> Path | None:
    """The absolute path a `file:` URI names (symbolic links resolved, by `resolve` if given),
    else None."""
    if not uri.startswith("file:"):
        return None
    path = fs_path(uri)
    if not path:
        return None
    return (resolve or _resolved)(path)


def _resolved(path: str) -> Path:
    """`path` with its links resolved (as it is written, made absolute, if that fails)."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return Path(path).absolute()


class Locations(RealPaths):
    """`path_of`, and the folder a file's site is searched from, for many files at once.

    An editor applying a rename opens thousands of reviews of one folder in a burst, and
    resolving each path's links and looking above it for `_config.yml` cost ~70 µs a file at
    20,000 reviews; remembered folder by folder (`RealPaths`), a file costs one `lstat`. The
    caller forgets what is remembered between two bursts, and around file and folder events.
    """

    def path_of(self, uri: str) -> Path | None:
        """What `path_of(uri)` gives."""
        return path_of(uri, self._resolved)

    def _resolved(self, path: str) -> Path:
        """`_resolved(path)`, from what is remembered of its folder."""
        if not os.path.isabs(path):
            return _resolved(path)
        try:
            return self.resolve(path)
        except (OSError, RuntimeError, ValueError):
            return _resolved(path)


def find_sites(folder: Path) -> list[Path]:
    """Site roots for a workspace folder: the site holding it, else the sites below it."""
    enclosing = find_site_root(folder)
    if enclosing is not None:
        return [enclosing]
    return list(_sites_below(folder))


def _sites_below(folder: Path) -> Iterator[Path]:
    queue: list[tuple[Path, int]] = [(folder, 0)]
    visited = 0
    seen: set[str] = set()
    while queue and visited < _SITE_SEARCH_FOLDERS:
        current, depth = queue.pop(0)
        real = os.path.realpath(current)
        if real in seen:
            continue
        seen.add(real)
        visited += 1
        if (current / CONFIG_FILE).is_file():
            yield Path(real)
            continue  # a site's own folders are not searched for further sites
        if depth >= _SITE_SEARCH_DEPTH:
            continue
        try:
            with os.scandir(current) as entries:
                children = sorted(
                    entry.name
                    for entry in entries
                    if entry.is_dir()
                    and not entry.name.startswith(".")
                    and entry.name not in _SKIPPED_FOLDERS
                )
        except OSError:
            continue
        queue.extend((current / name, depth + 1) for name in children)
