"""A site's `_config.yml` read as Jekyll 4.3 reads it, never raising: defaults plus problems."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from letterhead.site.permalinks import (
    STYLE_TO_PERMALINK,
    add_permalink_suffix,
    unknown_placeholders,
)
from letterhead.site.yamldata import YamlTooComplex, safe_load_mapping

__all__ = [
    "DEFAULT_EXCLUDES",
    "MAX_CONFIG_BYTES",
    "CollectionConfig",
    "ConfigProblem",
    "DefaultRule",
    "SiteConfig",
    "load_config",
    "parse_config",
]

MAX_CONFIG_BYTES = 1_000_000

# Jekyll appends these to any `exclude` list (Configuration::DEFAULT_EXCLUDES).
DEFAULT_EXCLUDES = (
    ".sass-cache",
    ".jekyll-cache",
    "gemfiles",
    "Gemfile",
    "Gemfile.lock",
    "node_modules",
    "vendor/bundle/",
    "vendor/cache/",
    "vendor/gems/",
    "vendor/ruby/",
)
DEFAULT_MARKDOWN_EXT = "markdown,mkdown,mkdn,mkd,md"
_DEPRECATED_TYPES = {"page": "pages", "post": "posts", "draft": "drafts"}


@dataclass(slots=True)
class ConfigProblem:
    """Something in `_config.yml` that Jekyll rejects or that the model had to ignore."""

    message: str
    line: int | None = None  # 0-based, when known
    column: int | None = None  # 0-based, when known
    key: str | None = None  # the top-level key concerned, when there is one


@dataclass(slots=True)
class CollectionConfig:
    """One collection (`posts` always among them)."""

    name: str
    output: bool
    permalink: str | None  # the collection's own `permalink:` (for posts: the site pattern)
    relative_directory: str  # from the site root, `collections_dir` included: `_reviews`
    url_template: str  # what Jekyll uses when a document has no `permalink:` of its own
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class DefaultRule:
    """One `defaults:` entry: values for files whose path and type match the scope."""

    path: str  # `scope.path` with a leading `/` removed; "" matches everything
    type: str | None  # `scope.type` (`posts`, `pages`, `drafts` or a collection), deprecated
    # singular forms mapped as Jekyll maps them; None when the scope names no type
    values: dict[str, Any]
    index: int  # position in `defaults:`, for messages


@dataclass(slots=True)
class SiteConfig:
    """The settings of one Jekyll site that decide which files are output and at which URL."""

    raw: dict[str, Any] = field(default_factory=dict)
    permalink: str = STYLE_TO_PERMALINK["date"]  # the posts' pattern, built-in styles resolved
    permalink_style: str = "date"  # the `permalink:` value as written (pages follow its ending)
    baseurl: str = ""
    url: str = ""
    collections: dict[str, CollectionConfig] = field(default_factory=dict)
    collections_dir: str = ""
    defaults: list[DefaultRule] = field(default_factory=list)
    future: bool = False
    show_drafts: bool = False
    unpublished: bool = False
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    include: list[str] = field(default_factory=lambda: [".htaccess"])
    layouts_dir: str = "_layouts"
    data_dir: str = "_data"
    plugins_dir: str = "_plugins"
    includes_dir: str = "_includes"
    destination: str = "_site"
    markdown_ext: list[str] = field(default_factory=lambda: DEFAULT_MARKDOWN_EXT.split(","))
    timezone: str | None = None
    time: Any = None  # `time:` as written; the build time Jekyll would use instead of now
    letterhead: dict[str, Any] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)


def load_config(root: Path) -> SiteConfig:
    """Read `root/_config.yml`; a missing, unreadable or broken file gives Jekyll's defaults."""
    path = root / "_config.yml"
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return parse_config(None)
    except OSError as error:
        config = parse_config(None)
        config.problems.append(
            ConfigProblem(f"_config.yml cannot be read: {error.strerror or error}")
        )
        return config
    if len(data) > MAX_CONFIG_BYTES:
        config = parse_config(None)
        config.problems.append(
            ConfigProblem(f"_config.yml is over {MAX_CONFIG_BYTES:,} bytes; it was not read")
        )
        return config
    return parse_config(data.decode("utf-8-sig", errors="replace"))


def parse_config(text: str | None) -> SiteConfig:
    """Build a SiteConfig from the text of a `_config.yml` (None: no file)."""
    problems: list[ConfigProblem] = []
    raw: dict[str, Any] = {}
    if text is not None:
        try:
            loaded, refused = safe_load_mapping(text)
            for key, why in refused.items():
                problems.append(
                    ConfigProblem(f"`{key}` is too complex to read safely: {why}", key=key)
                )
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            problems.append(
                ConfigProblem(
                    f"_config.yml is not valid YAML ({error.problem or error}); Jekyll uses its"
                    " defaults",
                    mark.line if mark else None,
                    mark.column if mark else None,
                )
            )
            loaded = None
        except YamlTooComplex as error:
            problems.append(
                ConfigProblem(f"_config.yml is too complex to read safely: {error}", 0, 0)
            )
            loaded = None
        except (yaml.YAMLError, RecursionError, ValueError) as error:
            problems.append(ConfigProblem(f"_config.yml cannot be read as YAML: {error}"))
            loaded = None
        if isinstance(loaded, dict):
            raw = {str(key): value for key, value in loaded.items()}
        elif loaded is not None:
            problems.append(
                ConfigProblem(
                    f"_config.yml holds a {type(loaded).__name__}, not a mapping of settings;"
                    " Jekyll stops with 'Configuration file: (INVALID)'",
                    0,
                    0,
                )
            )
    builder = _Builder(raw, problems, text)
    return builder.build()


class _Builder:
    def __init__(self, raw: dict[str, Any], problems: list[ConfigProblem], text: str | None):
        self.raw = raw
        self.problems = problems
        self.text = text
        self._positions: dict[str, tuple[int, int]] | None = None

    def problem(self, key: str, message: str) -> None:
        line, column = self.position(key)
        self.problems.append(ConfigProblem(message, line, column, key))

    def position(self, key: str) -> tuple[int | None, int | None]:
        # Composing the node tree costs a second parse, so only when there is a problem to place.
        if self._positions is None:
            self._positions = {}
            try:
                node = yaml.compose(self.text or "", Loader=yaml.CSafeLoader)
            except yaml.YAMLError:
                node = None
            if isinstance(node, yaml.MappingNode):
                for key_node, _ in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        mark = key_node.start_mark
                        self._positions.setdefault(str(key_node.value), (mark.line, mark.column))
        found = self._positions.get(key)
        return found if found is not None else (None, None)

    def string(self, key: str, default: str) -> str:
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(key, f"`{key}` should be a string, not {_describe(value)}")
            return default
        return str(value)

    def folder(self, key: str, default: str) -> str:
        """A folder of the site as Jekyll's `in_source_dir` reads it: always inside the source,
        so `../../etc` and `/etc` both name `etc` under the site root."""
        value = self.string(key, default)
        inside = posixpath.normpath("/" + value).lstrip("/")
        if posixpath.normpath(value.lstrip("/")).startswith(".."):
            self.problem(
                key,
                f"`{key}: {value}` climbs out of the site; Jekyll reads `{inside or '.'}` inside "
                "the site instead",
            )
        return inside

    def flag(self, key: str) -> bool:
        value = self.raw.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problem(key, f"`{key}` should be true or false, not {_describe(value)}")
        # Ruby truthiness: anything but nil and false counts as set.
        return value is not False

    def string_list(self, key: str, default: list[str]) -> list[str]:
        if key not in self.raw or self.raw[key] is None:
            return list(default)
        value = self.raw[key]
        if not isinstance(value, list):
            self.problem(
                key,
                f"`{key}` should be a list, but was {_describe(value)}; Jekyll stops with"
                " 'should be set as an array'",
            )
            return list(default)
        return [str(item) for item in value if isinstance(item, str | int | float)]

    def build(self) -> SiteConfig:
        raw = self.raw
        config = SiteConfig(raw=raw, problems=self.problems)
        style = raw.get("permalink")
        if style is None:
            style = "date"
        elif not isinstance(style, str):
            self.problem("permalink", f"`permalink` should be a string, not {_describe(style)}")
            style = "date"
        config.permalink_style = style
        config.permalink = STYLE_TO_PERMALINK.get(style, style)
        for name in unknown_placeholders(config.permalink):
            self.problem(
                "permalink",
                f"`permalink` uses `:{name}`, which Jekyll does not know; its build stops with"
                " 'The URL template doesn't have ... keys'",
            )
        config.baseurl = self.string("baseurl", "")
        config.url = self.string("url", "")
        config.collections_dir = self.string("collections_dir", "").strip("/")
        config.future = self.flag("future")
        config.show_drafts = self.flag("show_drafts")
        config.unpublished = self.flag("unpublished")
        exclude = self.string_list("exclude", [])
        config.exclude = list(dict.fromkeys([*exclude, *DEFAULT_EXCLUDES]))
        config.include = self.string_list("include", [".htaccess"])
        config.layouts_dir = self.folder("layouts_dir", "_layouts")
        config.data_dir = self.folder("data_dir", "_data")
        config.plugins_dir = self.folder("plugins_dir", "_plugins")
        config.includes_dir = self.folder("includes_dir", "_includes")
        config.destination = self.string("destination", "_site")
        # Jekyll splits on commas without trimming, so `md, markdown` has an extension " markdown".
        config.markdown_ext = [
            "." + ext.lower()
            for ext in self.string("markdown_ext", DEFAULT_MARKDOWN_EXT).split(",")
        ]
        timezone = raw.get("timezone")
        config.timezone = timezone if isinstance(timezone, str) and timezone else None
        config.time = raw.get("time")
        letterhead = raw.get("letterhead")
        if isinstance(letterhead, dict):
            config.letterhead = letterhead
        elif letterhead is not None:
            self.problem(
                "letterhead", f"`letterhead` should be a mapping, not {_describe(letterhead)}"
            )
        config.collections = self.collections(config)
        config.defaults = self.defaults()
        return config

    def collections(self, config: SiteConfig) -> dict[str, CollectionConfig]:
        declared = self.raw.get("collections")
        entries: dict[str, Any] = {}
        if isinstance(declared, list):
            entries = {str(name): {} for name in declared if isinstance(name, str | int | float)}
        elif isinstance(declared, dict):
            entries = {str(name): value for name, value in declared.items()}
        elif declared is not None:
            self.problem(
                "collections",
                f"`collections` should be a mapping or a list, not {_describe(declared)}",
            )
        result: dict[str, CollectionConfig] = {}
        prefix = config.collections_dir + "/" if config.collections_dir else ""
        for name, metadata in {"posts": {}, **entries}.items():
            # Jekyll drops characters other than [a-z0-9_.-] from collection labels.
            label = re.sub(r"[^a-z0-9_\-.]", "", name, flags=re.IGNORECASE)
            if not label:
                continue
            meta = dict(metadata) if isinstance(metadata, dict) else {}
            if label == "posts":
                meta["output"] = True
                meta.setdefault("permalink", config.permalink)
            permalink = meta.get("permalink")
            if permalink is not None and not isinstance(permalink, str):
                self.problem(
                    "collections", f"the permalink of collection `{label}` should be a string"
                )
                permalink = None
            if permalink is not None:
                for unknown in unknown_placeholders(permalink):
                    self.problem(
                        "collections",
                        f"the permalink of collection `{label}` uses `:{unknown}`, which Jekyll"
                        " does not know; its build stops",
                    )
            template = permalink
            if template is None:
                template = add_permalink_suffix("/:collection/:path", config.permalink_style)
            output = meta.get("output", False)
            result[label] = CollectionConfig(
                name=label,
                output=output is not None and output is not False,
                permalink=permalink,
                relative_directory=prefix + "_" + label,
                url_template=template,
                metadata=meta,
            )
        return result

    def defaults(self) -> list[DefaultRule]:
        sets = self.raw.get("defaults")
        if sets is None:
            return []
        if not isinstance(sets, list):
            self.problem("defaults", f"`defaults` should be a list, not {_describe(sets)}")
            return []
        rules: list[DefaultRule] = []
        for index, entry in enumerate(sets):
            if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
                self.problem(
                    "defaults",
                    f"`defaults` entry {index + 1} has no `values` mapping; Jekyll ignores it",
                )
                continue
            scope = entry.get("scope")
            scope = scope if isinstance(scope, dict) else {}
            path = scope.get("path")
            path = path if isinstance(path, str) else ""
            if path.startswith("/"):
                path = path[1:]
            kind: str | None = None
            if "type" in scope and scope["type"] is not None:
                kind = str(scope["type"])
                kind = _DEPRECATED_TYPES.get(kind, kind)
            rules.append(DefaultRule(path, kind, dict(entry["values"]), index))
        return rules


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"`{value!r}`"
