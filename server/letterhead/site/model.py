"""The Jekyll site model: each file of a site, whether Jekyll 4.3 outputs it, and at which URL.

`Site.open` reads the configuration, layouts and authors once; `Site.discover` lists the files as
Jekyll's Reader finds them; `Site.entry` turns one file and its front matter into an `Entry`
without touching the file system (it runs once per file while indexing, so everything it needs is
prepared in `Site.open`).
"""

from __future__ import annotations

import datetime
import json
import operator
import os
import re
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from letterhead.site.config import CollectionConfig, ConfigProblem, SiteConfig, load_config
from letterhead.site.dates import SiteClock, calendar_date, parse_jekyll_date
from letterhead.site.defaults import DefaultsMatcher, deep_merge
from letterhead.site.discovery import (
    DATED_NAME,
    DATELESS_NAME,
    PathFilter,
    Walker,
    guess_static,
    has_yaml_header,
    jekyll_relative_path,
    within_site,
)
from letterhead.site.kinds import EntryKind, SourceFile, Status
from letterhead.site.permalinks import (
    CompiledTemplate,
    UrlFacts,
    add_permalink_suffix,
    compile_template,
    expand_sequential,
    output_path_key,
    unescape_path,
    url_to_output_path,
)
from letterhead.site.yamldata import safe_load

__all__ = [
    "MAX_FRONT_MATTER_BYTES",
    "Entry",
    "EntryKind",
    "Site",
    "SourceFile",
    "Status",
    "read_front_matter",
]

# `Site.entries` reads at most this much of a file: front matter lives at the top.
MAX_FRONT_MATTER_BYTES = 1_000_000
MAX_DATA_FILE_BYTES = 2_000_000
# Bounds the caches `Site.entry` keeps (distinct dates, URL templates).
_MAX_REMEMBERED = 50_000

_HTML_EXTENSIONS = frozenset({".html", ".xhtml", ".htm"})
# Parts of a relative path that `real_file` leaves to the full resolution.
_SPECIAL_PARTS = frozenset({"", ".", ".."})
_OPENING = re.compile(r"---[ \t\r\f\v]*\r?\n")
_CLOSING = re.compile(r"^(?:---|\.\.\.)[ \t\r\f\v]*\r?$", re.MULTILINE)


def read_front_matter(text: str) -> dict[str, Any] | None:
    """The front matter of a file's text, as Jekyll splits it (CSafeLoader, never unsafe).

    None when the file does not start with a `---` line. An opening `---` without a readable
    mapping after it (unclosed, broken YAML, a list) gives `{}`, not None: Jekyll still makes such
    a file a page or document, just without data.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    opening = _OPENING.match(text)
    if opening is None:
        return None
    # The closing line may follow the opening one directly (empty front matter).
    closing = _CLOSING.search(text, opening.end())
    if closing is None:
        return {}
    try:
        data = safe_load(text[opening.end() : closing.start()])
    except (yaml.YAMLError, RecursionError, ValueError):
        return {}
    if isinstance(data, dict):
        return {str(key): value for key, value in data.items()}
    return {}


class _UrlPlan(NamedTuple):
    compiled: CompiledTemplate
    output_ext: str
    problems: tuple[str, ...]


@dataclass(slots=True)
class Entry:
    """One file of the site as Jekyll 4.3 treats it."""

    path: str  # relative to the site root, `/`-separated
    kind: EntryKind
    status: Status
    # The URL Jekyll gives it, starting with `/`, without `baseurl`, escaped as Jekyll escapes
    # it. Set for drafts, unpublished and future entries too (the URL they would have), so that a
    # link to one can be told apart from a dead link; None when it has no URL at all (a
    # collection without `output: true`, an excluded file, a `_posts` file without a date).
    url: str | None
    data: dict[str, Any]  # front matter over the matching `defaults:` values
    collection: str | None = None  # `posts` for posts and drafts
    date: datetime.datetime | None = None  # on the site's clock (`timezone:`)
    slug: str | None = None
    title: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    post_id: str | None = None  # what `{% post_url %}` names, e.g. `2013-09-13-the-act-of-killing`
    output_path: str | None = None  # the file under `_site/` (where it would be, if not built)
    output_ext: str | None = None
    problems: list[str] = field(default_factory=list)  # what Jekyll would stop on or ignore

    @property
    def url_key(self) -> str | None:
        """The `normalize_url` key under which links reach this entry."""
        return output_path_key(self.output_path) if self.output_path is not None else None

    @property
    def built(self) -> bool:
        return self.status is Status.BUILT

    def __reduce__(self) -> tuple[type[Entry], tuple[Any, ...]]:
        """Pickled as its fields in order, rebuilt by `__init__`: the default for a slotted
        class, a dict of slot names for each entry, made an index snapshot's 40,000 entries
        leave ~20 MiB of freed dicts between them in the heap when unpickled."""
        return Entry, _entry_fields(self)


# An entry's fields as a tuple, in order, in one call (a generator of `getattr`s took a fifth
# longer to pickle a record).
_entry_fields = operator.attrgetter(*Entry.__dataclass_fields__)


class Site:
    """One Jekyll site: its configuration and what Jekyll makes of each of its files."""

    def __init__(
        self,
        root: Path,
        config: SiteConfig,
        layouts: frozenset[str] = frozenset(),
        authors: tuple[str, ...] = (),
        problems: list[ConfigProblem] | None = None,
    ) -> None:
        self.root = root
        self.root_prefix = os.path.join(root, "")  # the root as text, ending with a separator
        self._real_root = os.path.realpath(root)
        self.config = config
        self.layouts = layouts
        self.authors = authors
        self.problems: list[ConfigProblem] = list(config.problems) if problems is None else problems
        self.clock = SiteClock(config.timezone)
        if self.clock.problem:
            self.problems.append(ConfigProblem(self.clock.problem, key="timezone"))
        self.filter = PathFilter(config)
        self._defaults = DefaultsMatcher(config.defaults, config.collections_dir)
        self._markdown_ext = frozenset(config.markdown_ext)
        self._page_template = add_permalink_suffix("/:path/:basename", config.permalink_style)
        self._build_time = self._configured_time()
        # Caches for `entry`, which runs once per file while indexing: many posts share a date,
        # nearly all documents a URL template, and one indexing pass passes the same `now` each
        # time.
        self._dates: dict[str, datetime.datetime | None] = {}
        self._seconds: dict[tuple[datetime.datetime, int], int] = {}
        self._url_plans: dict[tuple[str | None, str, str], _UrlPlan] = {}
        self._last_now: tuple[datetime.datetime | None, datetime.datetime, int] | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path) -> Site:
        """Read `_config.yml`, the layout names and the author keys; never raises."""
        config = load_config(root)
        problems = list(config.problems)
        layouts = _layout_names(root, root / config.layouts_dir, PathFilter(config))
        authors = _author_keys(root, root / config.data_dir, problems)
        return cls(root, config, layouts, authors, problems)

    def _configured_time(self) -> datetime.datetime | None:
        if self.config.time is None:
            return None
        parsed = parse_jekyll_date(self.config.time, self.clock)
        if parsed is None:
            self.problems.append(ConfigProblem("`time` is not a date Jekyll can read", key="time"))
        return parsed

    def _now(self, now: datetime.datetime | None) -> tuple[datetime.datetime, int]:
        """The build time on the site clock, and as whole seconds (Jekyll compares `to_i`)."""
        last = self._last_now
        # The same `now`, or none again within the second the clock was last read in: statuses
        # are decided on whole seconds, and reading the clock on the site's zone cost as much as
        # the rest of a post's status.
        if (
            last is not None
            and last[0] is now
            and (now is not None or self._build_time is not None or int(time.time()) == last[2])
        ):
            return last[1], last[2]
        if now is None:
            local = self._build_time or self.clock.now()
        else:
            local = self.clock.local(now if now.tzinfo is not None else now.astimezone())
        seconds = int(local.timestamp())
        self._last_now = (now, local, seconds)
        return local, seconds

    # -- files -------------------------------------------------------------------------------

    def discover(self) -> list[SourceFile]:
        """Every file Jekyll reads, classified; excluded, special (`_`/`.`), unreadable and
        out-of-root files are left out."""
        return Walker(self.root, self.config).walk()

    def classify(self, path: str, *, on_disk: bool = True) -> SourceFile | None:
        """The SourceFile for one site-relative path (say, a file just opened or changed), or None
        when Jekyll never reads it. Excluded files come back with `excluded=True`.

        With `on_disk` False, a path where nothing exists yet is classified too, by its name
        alone (size and times 0): a review the editor has open but that was never saved."""
        path = path.replace(os.sep, "/").strip("/")
        parts = path.split("/")
        if not path or ".." in parts or "" in parts:
            return None
        absolute = self.root / path
        found = self.real_file(path)  # never describe a file whose real location is outside
        if found is not None:
            info = found[1]
            size, mtime, mtime_ns = info.st_size, info.st_mtime, info.st_mtime_ns
        elif not on_disk and self._unsaved(absolute):
            size, mtime, mtime_ns = 0, 0.0, 0
        else:
            return None
        collection, kind, excluded = self._classify_parts(parts)
        if kind is None:
            return None
        if kind in (EntryKind.PAGE, EntryKind.DOCUMENT) and guess_static(
            os.fspath(absolute), self._markdown_ext
        ):
            kind = EntryKind.STATIC
        return SourceFile(
            path=path,
            kind=kind,
            collection=collection,
            relative_path=jekyll_relative_path(path, collection, self.config.collections_dir),
            size=size,
            mtime=mtime,
            mtime_ns=mtime_ns,
            excluded=excluded,
        )

    def _unsaved(self, absolute: Path) -> bool:
        """Whether nothing at all is at `absolute` (not even a broken link), in a folder whose
        real location is inside the site: where an unsaved file would be written."""
        try:
            if os.path.lexists(absolute):
                return False
            real = os.path.realpath(absolute)
        except (OSError, ValueError):
            return False
        return real.startswith(self._real_root + os.sep)

    def real_file(self, path: str) -> tuple[str, os.stat_result] | None:
        """The real location of the site-relative `path` and its status when it is a file inside
        the site (links resolved), else None: the one check before reading or describing a file
        named by the index.

        A plain path (no `.`, `..` or empty part) is followed from the site's real root one part
        at a time, an `lstat` each: two for `_posts/x.md`, where resolving the whole path took
        one for every folder above the site too (a rename of a tag reads thousands of reviews).
        A symbolic link on the way hands the path to the full resolution."""
        parts = path.split("/")
        if _SPECIAL_PARTS.isdisjoint(parts) and "\\" not in path and not os.path.isabs(path):
            current = self._real_root.rstrip(os.sep)  # "" for a site at the file system's root
            try:
                for part in parts:
                    current = current + os.sep + part
                    info = os.lstat(current)
                    if stat.S_ISLNK(info.st_mode):
                        return self._resolved_file(path)
            except (OSError, ValueError):
                return None
            return (current, info) if stat.S_ISREG(info.st_mode) else None
        return self._resolved_file(path)

    def _resolved_file(self, path: str) -> tuple[str, os.stat_result] | None:
        """`real_file` for any path: resolved whole, then held to the site's real root."""
        try:
            real = os.path.realpath(os.path.join(self.root, path))  # no pathlib: it interns parts
            if not real.startswith(self._real_root + os.sep):
                return None
            info = os.stat(real)
        except (OSError, ValueError):
            return None
        return (real, info) if stat.S_ISREG(info.st_mode) else None

    def _classify_parts(self, parts: list[str]) -> tuple[str | None, EntryKind | None, bool]:
        path = "/".join(parts)
        collections_dir = self.config.collections_dir
        for label, collection in self.config.collections.items():
            if label in ("posts", "data"):
                continue
            prefix = collection.relative_directory + "/"
            if path.startswith(prefix):
                entry = path[len(prefix) :]
                verdict = self.filter.accepts(entry, f"/_{label}/{entry}", False)
                if verdict is False:
                    return None, None, False
                return label, EntryKind.DOCUMENT, verdict is None
        for index, part in enumerate(parts[:-1]):
            if part not in ("_posts", "_drafts"):
                continue
            outer = "/".join(parts[:index])
            if collections_dir and not ("/" + outer).startswith("/" + collections_dir):
                return None, None, False
            verdict = self._walkable(parts[:index])
            if verdict is False:
                return None, None, False
            entry = "/".join(parts[index + 1 :])
            special = "/".join(parts[: index + 1])
            inner = self.filter.accepts(entry, f"/{special}/{entry}", False)
            if inner is False or any(p.startswith(".") for p in parts[index + 1 :]):
                return None, None, False
            if part == "_posts":
                if not DATED_NAME.match(entry):
                    return None, None, False
                return "posts", EntryKind.POST, verdict is None or inner is None
            if not DATELESS_NAME.match(entry):
                return None, None, False
            return "posts", EntryKind.DRAFT, verdict is None or inner is None
        verdict = self._walkable(parts)
        if verdict is False:
            if path in self.config.include:
                return None, EntryKind.PAGE, False
            return None, None, False
        return None, EntryKind.PAGE, verdict is None

    def _walkable(self, parts: list[str]) -> bool | None:
        # Whether the main walk reaches this path: each component must pass the filter.
        excluded = False
        for index, part in enumerate(parts):
            rooted = "/" + "/".join(parts[: index + 1])
            verdict = self.filter.accepts(part, rooted, index < len(parts) - 1)
            if verdict is False:
                return False
            excluded = excluded or verdict is None
        return None if excluded else True

    # -- entries -----------------------------------------------------------------------------

    def entry(
        self,
        source: SourceFile,
        front_matter: dict[str, Any] | None,
        now: datetime.datetime | None = None,
    ) -> Entry:
        """What Jekyll makes of `source` given its front matter (None: the file has none; `{}`:
        it starts with `---` but nothing could be read). `now` is the build time (default: the
        config's `time:`, else now)."""
        front = front_matter if isinstance(front_matter, dict) else None
        kind = source.kind
        if kind in (EntryKind.PAGE, EntryKind.DOCUMENT) and front is None:
            kind = EntryKind.STATIC
        if source.excluded:
            return Entry(
                source.path,
                kind,
                Status.NOT_OUTPUT,
                None,
                dict(front or {}),
                collection=source.collection,
                problems=["excluded by `exclude:` in _config.yml"],
            )
        if kind is EntryKind.STATIC:
            return self._static(source)
        if kind is EntryKind.PAGE:
            return self._page(source, front or {})
        return self._document(source, kind, front or {}, self._now(now))

    def entries(self, now: datetime.datetime | None = None) -> list[Entry]:
        """Discover every file, read its front matter and build its Entry (a convenience for
        tests and scripts; the index parses documents with its own parser)."""
        result = []
        for source in self.discover():
            entry = self.read_entry(source, now)
            if entry is not None:
                result.append(entry)
        return result

    def read_entry(self, source: SourceFile, now: datetime.datetime | None = None) -> Entry | None:
        """Read one file's front matter (its first MAX_FRONT_MATTER_BYTES) and build its Entry;
        None when the file cannot be read."""
        front: dict[str, Any] | None = None
        if source.kind is not EntryKind.STATIC:
            try:
                with (self.root / source.path).open("rb") as handle:
                    head = handle.read(MAX_FRONT_MATTER_BYTES)
            except OSError:
                return None
            # Posts and drafts are documents with or without front matter; other files only
            # with a first line `---` (checked on the raw bytes, so a BOM hides it, as in Jekyll).
            if source.kind in (EntryKind.POST, EntryKind.DRAFT) or has_yaml_header(head):
                front = read_front_matter(head.decode("utf-8", errors="replace"))
        return self.entry(source, front, now)

    def date_from_filename(self, name: str) -> datetime.datetime | None:
        """The date a `YYYY-MM-DD-slug.ext` file name gives (midnight on the site's clock)."""
        match = DATED_NAME.match(name)
        return self._filename_date(match.group(1)) if match else None

    def _filename_date(self, text: str) -> datetime.datetime | None:
        if text in self._dates:
            return self._dates[text]
        year, month, day = (int(part) for part in text.split("-"))
        date = calendar_date(year, month, day)
        wall = self.clock.wall(date.year, date.month, date.day) if date else None
        self._dates[text] = wall
        return wall

    # -- documents (posts, drafts, collections) ------------------------------------------------

    def _document(
        self,
        source: SourceFile,
        kind: EntryKind,
        front: dict[str, Any],
        now: tuple[datetime.datetime, int],
    ) -> Entry:
        label = source.collection or "posts"
        collection = self.config.collections.get(label)
        relative = source.relative_path
        defaults = self._defaults.values_for(relative, label)
        data = deep_merge(defaults, front) if defaults else dict(front)
        problems: list[str] = []
        special = "_drafts" if kind is EntryKind.DRAFT else "_" + label
        categories = _categories(_folder_categories(relative, special), defaults, front, data)

        basename = relative.rpartition("/")[2]
        extname = _extname(basename)
        stem = basename[: -len(extname)] if extname else basename
        # The date and slug parts of a name never span folders, so the file name is enough.
        dated = DATED_NAME.match(basename)
        name_slug = (dated.group(2) if dated else stem).rstrip(".")

        date: datetime.datetime | None = None
        raw_date = data.get("date")
        if raw_date is not None and raw_date is not False:
            date = parse_jekyll_date(raw_date, self.clock)
            if date is None:
                problems.append(f"`date: {raw_date}` is not a date Jekyll can read; it stops")
        if date is None and dated:
            date = self._filename_date(dated.group(1))
            if date is None:
                problems.append(f"the file name's date {dated.group(1)} is not a valid date")
        if date is None:
            if kind is EntryKind.DRAFT:
                date = self.clock.local(datetime.datetime.fromtimestamp(source.mtime, datetime.UTC))
            else:
                date = now[0]

        slug_value = data.get("slug")
        slug = _ruby_string(slug_value) if slug_value is not None else name_slug
        title_value = data.get("title")
        title = _ruby_string(title_value) if title_value is not None else _titleize(name_slug)

        entry = Entry(
            source.path,
            kind,
            Status.BUILT,
            None,
            data,
            collection=label,
            date=date,
            slug=slug,
            title=title,
            categories=categories,
            tags=_tags(data),
            problems=problems,
        )
        if kind is EntryKind.POST:
            entry.post_id = _post_id(relative, "_posts")
            if not dated:
                entry.status = Status.NOT_OUTPUT
                problems.append("a file in _posts needs a YYYY-MM-DD- date in its name")
                return entry
        elif kind is EntryKind.DRAFT and dated:
            entry.post_id = _post_id(relative, "_drafts")
        if collection is None or not collection.output:
            entry.status = Status.NOT_OUTPUT
            return entry

        permalink = _permalink(data)
        plan = self._url_plan(permalink, collection.url_template, extname)
        output_ext = entry.output_ext = plan.output_ext
        problems.extend(plan.problems)
        compiled = plan.compiled
        path = (
            _cleaned_relative_path(relative, extname, "_" + label)
            if "path" in compiled.keys
            else ""
        )
        url = compiled.render_document(
            UrlFacts(date, slug, stem, path, label, categories, output_ext)
        )
        entry.url = url
        output = unescape_path(url)
        if url.endswith("/"):
            output += "index.html"
        elif not output.endswith(output_ext):
            output += output_ext
        entry.output_path = output.lstrip("/")
        entry.status = self._publication(kind, data, date, now)
        return entry

    def clock_seconds(self, now: datetime.datetime | None = None) -> int:
        """`now` (else the build time) as the whole seconds statuses are decided by."""
        return self._now(now)[1]

    def status_is_current(self, entry: Entry, now: datetime.datetime | None = None) -> bool:
        """Whether an entry built earlier still has the status it would have at `now`: the one
        thing about an unchanged file that time alone changes (a future post comes out)."""
        if entry.status not in (Status.BUILT, Status.FUTURE) or entry.date is None:
            return True
        if entry.kind not in (EntryKind.POST, EntryKind.DRAFT, EntryKind.DOCUMENT):
            return True
        return self._publication(entry.kind, entry.data, entry.date, self._now(now)) is entry.status

    def _publication(
        self,
        kind: EntryKind,
        data: dict[str, Any],
        date: datetime.datetime,
        now: tuple[datetime.datetime, int],
    ) -> Status:
        if kind is EntryKind.DRAFT and not self.config.show_drafts:
            return Status.DRAFT
        if data.get("published") is False and not self.config.unpublished:
            return Status.UNPUBLISHED
        if not self.config.future and self._timestamp(date) > now[1]:
            return Status.FUTURE
        return Status.BUILT

    def _timestamp(self, date: datetime.datetime) -> int:
        """`date.to_i`, remembered: the posts of a day share their date. Equal aware datetimes
        with the same `fold` are one instant (datetimes on one zone compare without `fold`)."""
        key = (date, date.fold)
        seconds = self._seconds.get(key)
        if seconds is None:
            seconds = int(date.timestamp())
            if len(self._seconds) < _MAX_REMEMBERED:
                self._seconds[key] = seconds
        return seconds

    def _url_plan(self, permalink: str | None, collection_template: str, extname: str) -> _UrlPlan:
        """The URL template of a document, its output extension and what Jekyll would stop on,
        remembered: nearly every document of a site shares them."""
        key = (permalink, collection_template, extname)
        plan = self._url_plans.get(key)
        if plan is None:
            compiled = compile_template(permalink if permalink is not None else collection_template)
            problems = tuple(
                f"the permalink uses `:{unknown}`, which Jekyll does not know; it stops"
                for unknown in compiled.unknown
            )
            plan = _UrlPlan(compiled, self._output_ext(extname, permalink), problems)
            if len(self._url_plans) < _MAX_REMEMBERED:
                self._url_plans[key] = plan
        return plan

    def _output_ext(self, extname: str, permalink: str | None) -> str:
        # Renderer#output_ext: the permalink's own extension wins, else the converter's.
        if permalink is not None and not permalink.endswith("/"):
            permalink_ext = _extname(permalink.rpartition("/")[2])
            if permalink_ext:
                return permalink_ext
        lowered = extname.lower()
        if lowered in self._markdown_ext:
            return ".html"
        if lowered in (".scss", ".sass"):
            return ".css"
        return extname

    # -- pages -------------------------------------------------------------------------------

    def _page(self, source: SourceFile, front: dict[str, Any]) -> Entry:
        path = source.path
        directory, _, name = path.rpartition("/")
        extname = os.path.splitext(name)[1]
        basename = (name[: -len(extname)] if extname else name).rstrip(".")
        defaults = self._defaults.values_for(path, "pages")
        # A page reads defaults only for keys its front matter lacks (Jekyll's default_proc).
        data = dict(front)
        for key, value in defaults.items():
            data.setdefault(key, value)
        problems: list[str] = []
        permalink = _permalink(data)
        if permalink == "":
            problems.append("an empty `permalink:` stops Jekyll ('Invalid permalink')")
            permalink = None
        output_ext = self._output_ext(extname, permalink)
        if output_ext not in _HTML_EXTENSIONS:
            template = "/:path/:basename:output_ext"
        elif basename == "index":
            template = "/:path/"
        else:
            template = self._page_template
        url = expand_sequential(
            permalink if permalink is not None else template,
            {
                "path": "/" + directory if directory else "",
                "basename": basename,
                "output_ext": output_ext,
            },
        )
        # Jekyll decides a page's publication from its own front matter: the publisher uses
        # `data.fetch("published", true)`, which does not see values from `defaults:`.
        unpublished = front.get("published") is False and not self.config.unpublished
        date_value = data.get("date")
        title_value = data.get("title")
        return Entry(
            path,
            EntryKind.PAGE,
            Status.UNPUBLISHED if unpublished else Status.BUILT,
            url,
            data,
            date=parse_jekyll_date(date_value, self.clock) if date_value is not None else None,
            title=_ruby_string(title_value) if title_value is not None else None,
            categories=_categories([], {}, data, data),
            tags=_tags(data),
            output_path=url_to_output_path(url, output_ext),
            output_ext=output_ext,
            problems=problems,
        )

    # -- static files --------------------------------------------------------------------------

    def _static(self, source: SourceFile) -> Entry:
        label = source.collection
        relative = source.relative_path
        name = relative.rsplit("/", 1)[-1]
        extname = os.path.splitext(name)[1]
        collection: CollectionConfig | None = None
        if label is not None and label != "posts":
            collection = self.config.collections.get(label)
        if collection is None:
            cleaned = "/" + (relative[: -len(extname)] if extname else relative)
            url = cleaned.rstrip(".") + extname
        else:
            cleaned = (relative[: -len(extname)] if extname else relative).rstrip(".")
            cleaned = cleaned.replace("_" + collection.name, "", 1)
            basename = (name[: -len(extname)] if extname else name).rstrip(".")
            generated = expand_sequential(
                collection.url_template,
                {
                    "collection": collection.name,
                    "path": cleaned,
                    "output_ext": "",
                    "name": basename,
                    "title": "",
                },
            )
            url = (generated[:-1] if generated.endswith("/") else generated) + extname
        # Static files match `defaults:` by their URL, not their source path (StaticFile#defaults).
        defaults = self._defaults.values_for(url, collection.name if collection else None)
        status = Status.BUILT
        if "published" in defaults and not defaults["published"]:
            status = Status.UNPUBLISHED
        if collection is not None and not collection.output:
            return Entry(
                source.path, EntryKind.STATIC, Status.NOT_OUTPUT, None, dict(defaults), label
            )
        return Entry(
            source.path,
            EntryKind.STATIC,
            status,
            url,
            dict(defaults),
            collection=label if collection is not None else None,
            output_path=unescape_path(url).lstrip("/"),
            output_ext=extname,
        )


# -- helpers -----------------------------------------------------------------------------------


def _extname(name: str) -> str:
    """Ruby's `File.extname` of a file name: from the last dot, unless the name starts with it."""
    position = name.rfind(".")
    if position <= 0 or name[:position].strip(".") == "":
        return ""
    return name[position:]


def _ruby_string(value: Any) -> str:
    """`to_s` as Ruby writes scalars (true, not True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _titleize(slug: str) -> str:
    return " ".join([word.capitalize() for word in slug.split("-")])


def _permalink(data: dict[str, Any]) -> str | None:
    value = data.get("permalink")
    if value is None or value is False:
        return None
    return _ruby_string(value)


def _folder_categories(relative: str, special: str) -> list[str]:
    """Document#categories_from_path: the folders above `<dir>/_posts` are categories (those
    below `_posts/` are not). Jekyll cuts at the first `_posts` anywhere in the path."""
    if relative.startswith(special):
        return []
    position = relative.find(special)
    head = relative[:position] if position != -1 else relative
    basename = relative.rsplit("/", 1)[-1]
    return [part for part in head.split("/") if part and part != special and part != basename]


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return value
    return [value]


def _flatten(values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        elif value is not None:
            yield value


def _categories(
    folders: list[str], defaults: dict[str, Any], front: dict[str, Any], data: dict[str, Any]
) -> list[str]:
    """The categories Jekyll ends with: folder categories, then those of `defaults:` and of the
    front matter (a string split on white space), then a singular `category:` (not split)."""
    singular = data.get("category")
    value = front.get("categories")
    if not folders and singular is None and "categories" not in defaults:
        # The common case: one list of strings (or nothing) in the front matter.
        if value is None:
            return []
        if isinstance(value, list):
            names = _distinct_strings(value)
            if names is not None:
                return names
    merged: list[Any] = list(folders)
    for layer in (defaults, front):
        value = layer.get("categories")
        if value is not None:
            merged.extend(item for item in _as_list(value) if item not in merged)
    extra = (
        _as_list(singular)
        if singular is not None and not isinstance(singular, str)
        else ([singular] if singular is not None else merged)
    )
    result: dict[str, None] = {}
    for item in _flatten([*merged, *extra]):
        text = _ruby_string(item)
        if text:
            result.setdefault(text)
    return list(result)


def _distinct_strings(values: list[Any]) -> list[str] | None:
    """The non-empty strings of a list of strings, each once, in order; None when the list
    holds anything but strings (the common case of categories and tags, done in C)."""
    if not _STR_ONLY.issuperset(map(type, values)):
        return None
    distinct = dict.fromkeys(values)
    distinct.pop("", None)
    return list(distinct)


_STR_ONLY = frozenset({str})


def _tags(data: dict[str, Any]) -> list[str]:
    singular = data.get("tag")
    if singular is not None:
        values = [singular]
    else:
        plural = data.get("tags")
        if plural is None:
            return []
        if isinstance(plural, list):
            names = _distinct_strings(plural)
            if names is not None:
                return names
        values = _as_list(plural)
    result: dict[str, None] = {}
    for item in _flatten(values):
        text = _ruby_string(item)
        if text:
            result.setdefault(text)
    return list(result)


def _cleaned_relative_path(relative: str, extname: str, directory: str) -> str:
    """Document#cleaned_relative_path: no extension, the collection folder cut (its first
    occurrence, wherever it is), trailing dots removed."""
    without_ext = relative[: -len(extname)] if extname else relative
    return without_ext.replace(directory, "", 1).rstrip(".")


def _post_id(relative: str, special: str) -> str | None:
    """The name `{% post_url %}` matches this post by (Tags::PostComparer): `<sub>/<stem>` for
    `_posts/<sub>/`, `<dir>/<stem>` for `<dir>/_posts/`; just the stem deeper than that, where
    Jekyll falls back to matching date and slug."""
    if relative.startswith(special + "/"):  # nearly every post: `_posts/<name>`
        inner = relative[len(special) + 1 :]
        if "/" not in inner:
            # `_extname` agrees with `os.path.splitext` on a name, in a few C calls
            extname = _extname(inner)
            return inner[: -len(extname)] if extname else inner
    rooted = "/" + relative
    position = rooted.find("/" + special + "/")
    if position == -1:
        return None
    outer = rooted[1 : position + 1]  # "" or "dir/"
    inner = rooted[position + len(special) + 2 :]  # "sub/2014-...md" or "2014-...md"
    stem = os.path.splitext(inner)[0]
    if not outer:
        return stem
    if "/" not in inner:
        return outer + stem
    return stem.rsplit("/", 1)[-1]


def _layout_names(root: Path, directory: Path, path_filter: PathFilter) -> frozenset[str]:
    """LayoutReader: every file with an extension under `_layouts/`, named by its path without
    the last extension (`review`, `sub/letter`). Nothing when the folder is a link out of the
    site: the names of files elsewhere on the computer are not the site's to show."""
    names: set[str] = set()
    if not within_site(root, directory):
        return frozenset()
    real_root = os.path.realpath(directory)
    try:
        for current, folders, files in os.walk(directory, followlinks=False):
            relative_dir = os.path.relpath(current, directory).replace(os.sep, "/")
            prefix = "" if relative_dir == "." else relative_dir + "/"
            folders[:] = [f for f in folders if not f.startswith((".", "_", "#", "~"))]
            for name in files:
                entry = prefix + name
                if "." not in name or path_filter.accepts(entry, "/" + entry, False) is not True:
                    continue
                full = os.path.join(current, name)
                if not os.path.realpath(full).startswith(real_root):
                    continue
                names.add(entry.rsplit(".", 1)[0])
    except OSError:
        pass
    return frozenset(names)


def _author_keys(root: Path, data_dir: Path, problems: list[ConfigProblem]) -> tuple[str, ...]:
    """The keys of `_data/authors.yml` (or `.yaml`/`.json`), in file order; a file whose real
    location is outside the site is not read."""
    for name in ("authors.yml", "authors.yaml", "authors.json"):
        path = data_dir / name
        try:
            if not path.is_file():
                continue
            if not within_site(root, path):
                problems.append(ConfigProblem(f"{name} is a link out of the site; it was not read"))
                return ()
            with path.open("rb") as handle:
                raw = handle.read(MAX_DATA_FILE_BYTES + 1)
        except OSError as error:
            problems.append(ConfigProblem(f"{name} cannot be read: {error.strerror or error}"))
            return ()
        if len(raw) > MAX_DATA_FILE_BYTES:
            problems.append(ConfigProblem(f"{name} is too large to read"))
            return ()
        text = raw.decode("utf-8-sig", errors="replace")
        try:
            loaded = json.loads(text) if name.endswith(".json") else safe_load(text)
        except (yaml.YAMLError, ValueError, RecursionError) as error:
            mark = getattr(error, "problem_mark", None)
            problems.append(
                ConfigProblem(
                    f"{name} is not valid: {error}",
                    mark.line if mark else None,
                    mark.column if mark else None,
                )
            )
            return ()
        if isinstance(loaded, dict):
            return tuple(str(key) for key in loaded)
        problems.append(ConfigProblem(f"{name} should map author keys to details"))
        return ()
    return ()
