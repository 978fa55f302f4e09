"""Front matter `defaults:` matching (Jekyll's FrontmatterDefaults), compiled once per site."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from letterhead.site.config import DefaultRule

__all__ = ["DefaultsMatcher", "deep_merge", "glob_to_regex"]


def deep_merge(master: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """`Utils.deep_merge_hashes`: `other` wins, mappings merge recursively, and a null in `other`
    keeps the value from `master` (so `layout:` left empty still gets the default layout)."""
    merged = {**master, **other}
    # Only keys both hold need a second look; `master` (the defaults) is usually the smaller.
    for key, old in master.items():
        if key in other:
            value = other[key]
            if value is None:
                merged[key] = old
            elif isinstance(old, dict) and isinstance(value, dict):
                merged[key] = deep_merge(old, value)
    return merged


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A Ruby `Dir.glob` pattern as a regex over `/`-separated relative paths: `*` and `?` stay
    inside one segment and skip dot files, `**/` spans folders, `{a,b}` and `[...]` work."""
    out: list[str] = []
    index = 0
    at_segment_start = True
    depth = 0  # inside `{...}`
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append(r"(?:[^/.][^/]*/)*")
            index += 3
            at_segment_start = True
            continue
        if char == "*":
            out.append(r"(?:[^/.][^/]*)?" if at_segment_start else r"[^/]*")
        elif char == "?":
            out.append(r"[^/.]" if at_segment_start else r"[^/]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                index = end
        elif char == "{":
            out.append("(?:")
            depth += 1
        elif char == "}" and depth:
            out.append(")")
            depth -= 1
        elif char == "," and depth:
            out.append("|")
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        at_segment_start = char == "/"
        index += 1
    out.append(")" * depth)
    try:
        return re.compile("".join(out))
    except re.error:
        return re.compile(re.escape(pattern))


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    path: str
    type: str | None
    glob: re.Pattern[str] | None
    folders_only: bool  # a glob ending in `/` matches folders only
    values: dict[str, Any]


class DefaultsMatcher:
    """Answers "which default values apply to this file" without touching the file system.

    Jekyll expands a glob scope with `Dir.glob` and then asks whether the file's path *starts
    with* one of the results; here the glob is matched against the path's folder prefixes and the
    whole path instead, which agrees for every file that exists (and for files created later).
    """

    def __init__(self, rules: Sequence[DefaultRule], collections_dir: str = "") -> None:
        slashed = collections_dir.strip("/") + "/" if collections_dir.strip("/") else ""
        compiled = []
        for rule in rules:
            path = rule.path
            glob = None
            folders_only = False
            if "*" in path:
                pattern = path[len(slashed) :] if slashed and path.startswith(slashed) else path
                folders_only = pattern.endswith("/")
                glob = glob_to_regex(pattern.rstrip("/"))
            elif slashed and path.startswith(slashed):
                path = path[len(slashed) :]
            compiled.append(_CompiledRule(path, rule.type, glob, folders_only, rule.values))
        self._rules = tuple(compiled)
        # `has_precedence?` compares the scope paths as written (before the collections_dir strip).
        self._lengths = tuple(len(rule.path) for rule in rules)
        # Thousands of files share a few combinations of matching rules: merge each once. The
        # merged mappings are shared, so callers must copy before changing them.
        self._merged: dict[tuple[int, ...], dict[str, Any]] = {}
        self._folder_globs: dict[tuple[int, str], bool] = {}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def values_for(self, path: str, kind: str | None) -> dict[str, Any]:
        """The merged default values for a file at `path` (relative to the collections folder for
        documents, to the site for pages; a leading `/` is ignored) of type `kind` (`posts`,
        `pages`, a collection label; None for a static file outside collections)."""
        if not self._rules:
            return {}
        if path.startswith("/"):
            path = path[1:]
        matching = tuple(
            index
            for index, rule in enumerate(self._rules)
            if (rule.type is None or rule.type == kind)
            and (not rule.path or self._path_applies(index, rule, path))
        )
        merged = self._merged.get(matching)
        if merged is None:
            merged = self._merged[matching] = self._merge(matching)
        return merged

    def _merge(self, matching: tuple[int, ...]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        best: int | None = None  # index of the scope holding precedence so far
        for index in matching:
            rule = self._rules[index]
            if best is None or self._has_precedence(best, index):
                merged = deep_merge(merged, rule.values)
                best = index
            else:
                merged = deep_merge(rule.values, merged)
        return merged

    def _path_applies(self, index: int, rule: _CompiledRule, path: str) -> bool:
        if rule.glob is None:
            return path.startswith(rule.path)
        if not rule.folders_only and rule.glob.fullmatch(path):
            return True
        folder = path.rpartition("/")[0]
        key = (index, folder)
        found = self._folder_globs.get(key)
        if found is None:
            found = self._folder_globs[key] = self._folder_matches(rule.glob, folder)
        return found

    @staticmethod
    def _folder_matches(glob: re.Pattern[str], folder: str) -> bool:
        # Does the glob name this folder or one above it?
        while folder:
            if glob.fullmatch(folder):
                return True
            folder = folder.rpartition("/")[0]
        return False

    def _has_precedence(self, old: int, new: int) -> bool:
        old_length, new_length = self._lengths[old], self._lengths[new]
        if old_length != new_length:
            return new_length >= old_length
        if self._rules[new].type is not None:
            return True
        return self._rules[old].type is None
