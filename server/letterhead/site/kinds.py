"""The site model's vocabulary: what kind of file an entry is, and whether Jekyll outputs it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["EntryKind", "SourceFile", "Status"]


class EntryKind(StrEnum):
    """What Jekyll makes of a file."""

    POST = "post"  # `_posts/` or `<dir>/_posts/`, named `YYYY-MM-DD-slug.ext`
    DRAFT = "draft"  # `_drafts/` or `<dir>/_drafts/`
    PAGE = "page"  # any other file with front matter (for a SourceFile: a page *candidate*)
    DOCUMENT = "document"  # a file with front matter in a declared collection
    STATIC = "static"  # copied as is: no front matter (images, PDFs, CSS without front matter)


class Status(StrEnum):
    """Whether an entry is on the built site, and if not, why."""

    BUILT = "built"
    DRAFT = "draft"  # a draft, and `show_drafts` is off
    UNPUBLISHED = "unpublished"  # `published: false` (front matter or defaults)
    FUTURE = "future"  # dated after the build time, and `future` is off
    NOT_OUTPUT = "not_output"  # a collection without `output: true`, excluded, or ignored


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file of the site as found on disk, before its front matter is read.

    `kind` is a first guess that the front matter settles: a PAGE or DOCUMENT without front matter
    becomes STATIC. Files whose extension says binary (images, PDFs, fonts) are STATIC at once,
    so that nobody reads them.
    """

    path: str  # relative to the site root, `/`-separated
    kind: EntryKind
    collection: str | None  # `posts` for posts and drafts, the label for collection files
    relative_path: str  # Jekyll's own relative path (documents: from `collections_dir`)
    size: int = 0
    mtime: float = 0.0
    mtime_ns: int = 0  # the same, exactly: what the persistent index compares
    excluded: bool = False  # matched by `exclude:`; only `Site.classify` returns such files


def _set_source_file(
    self: SourceFile,
    path: str,
    kind: EntryKind,
    collection: str | None,
    relative_path: str,
    size: int = 0,
    mtime: float = 0.0,
    mtime_ns: int = 0,
    excluded: bool = False,
) -> None:
    _set_path(self, path)
    _set_kind(self, kind)
    _set_collection(self, collection)
    _set_relative_path(self, relative_path)
    _set_size(self, size)
    _set_mtime(self, mtime)
    _set_mtime_ns(self, mtime_ns)
    _set_excluded(self, excluded)


# Listing a site makes a SourceFile per file (40,000 at 20,000 reviews, on the way to every index
# and check). A frozen dataclass's `__init__` sets each field with `object.__setattr__` (0.8 µs
# for the eight); setting the slots through their descriptors does the same in less than half
# the time (as `positions.Span` does). Every other write still raises FrozenInstanceError.
_slots: Any = SourceFile
_set_path = _slots.path.__set__
_set_kind = _slots.kind.__set__
_set_collection = _slots.collection.__set__
_set_relative_path = _slots.relative_path.__set__
_set_size = _slots.size.__set__
_set_mtime = _slots.mtime.__set__
_set_mtime_ns = _slots.mtime_ns.__set__
_set_excluded = _slots.excluded.__set__
SourceFile.__init__ = _set_source_file  # type: ignore[method-assign]
