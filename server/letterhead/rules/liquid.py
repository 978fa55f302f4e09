"""Liquid rules (LQ): blocks that close, and tags Liquid, Jekyll or the site's plugins define."""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letterhead.document import LiquidTag
from letterhead.findings import Severity
from letterhead.positions import Span
from letterhead.rules import Context, Report, rule

LIQUID_TAGS = frozenset(
    {
        "#", "assign", "break", "capture", "case", "comment", "continue", "cycle", "decrement",
        "doc", "echo", "else", "elsif", "for", "if", "ifchanged", "include", "increment",
        "liquid", "raw", "render", "tablerow", "unless", "when",
    }
)  # fmt: skip
JEKYLL_TAGS = frozenset({"highlight", "include", "include_relative", "link", "post_url"})
# `contentfor` (jekyll-contentblocks) is how letters on a review site carry their signature.
SITE_TAGS = frozenset({"contentfor"})
# Tags that gems named in `plugins:` define.
PLUGIN_GEM_TAGS: dict[str, tuple[str, ...]] = {
    "jekyll-contentblocks": ("contentfor", "contentblock", "ifhascontent", "ifnothascontent"),
    "jekyll-seo-tag": ("seo",),
    "jekyll-feed": ("feed_meta",),
    "jekyll-gist": ("gist",),
    "jekyll-avatar": ("avatar",),
    "jekyll-include-cache": ("include_cached",),
    "jekyll-twitter-plugin": ("twitter",),
    "jekyll-youtube": ("youtube",),
}
# Known on every site, so a tag among them needs no look at the site's plugins and settings.
_BUILT_IN = LIQUID_TAGS | JEKYLL_TAGS | SITE_TAGS
# Tags whose bodies are text, not Liquid: a `{% foo %}` inside them is not a tag.
VERBATIM_BLOCKS = ("raw", "comment", "doc")
_REGISTER_TAG = re.compile(r"register_tag\s*\(?\s*(?:['\"]([\w-]+)['\"]|:([\w]+))")
_MAX_PLUGIN_FILES = 500
_MAX_PLUGIN_BYTES = 1_000_000
_RECHECK_SECONDS = 2.0


@rule(
    "LQ001",
    "liquid-syntax",
    Severity.ERROR,
    "an unclosed or mismatched Liquid block, or a tag nothing defines",
)
def liquid_syntax(ctx: Context) -> Iterator[Report]:
    """Catches Liquid that stops the Jekyll build: a block tag without its end tag
    (`{% contentfor signature %}` with no `{% endcontentfor %}`), an end tag that closes
    nothing or closes another block, and a tag name that neither Liquid, Jekyll, the site's
    plugins nor letterhead's configuration defines.

    Wrong:

        {% contentfor signature %}
        **Yours,**

        Christopher

    Right:

        {% contentfor signature %}
        **Yours,**

        Christopher
        {% endcontentfor %}

    Known tags are Liquid's own (`if`, `for`, `assign`, `capture`, `raw`, `comment`, ...),
    Jekyll's (`include`, `include_relative`, `link`, `post_url`, `highlight`), `contentfor`,
    tags of well-known plugin gems listed in `plugins:`, and tags registered by the site's
    `_plugins/*.rb` (`Liquid::Template.register_tag('name', ...)`; the files are read as text,
    never run). Name other tags in `letterhead: {liquid_tags: [youtube, gallery]}`.
    """
    for error in ctx.document.liquid_errors:
        yield Report(error.span, error.message)
    known: set[str] | None = None
    verbatim = _verbatim_bodies(ctx)
    for tag in ctx.document.liquid_tags:
        if not _is_named_tag(tag) or tag.name in _BUILT_IN or _inside(tag.span, verbatim):
            continue
        if known is None:
            known = _known_tags(ctx)
        if tag.name not in known:
            yield Report(tag.name_span, _unknown_message(tag.name, known))


def _is_named_tag(tag: LiquidTag) -> bool:
    """Whether the tag's name is worth checking (not an output, not an end tag)."""
    return tag.name != "{{" and bool(tag.name) and not tag.name.startswith("end")


def _verbatim_bodies(ctx: Context) -> list[Span]:
    return [
        block.body_span for block in ctx.document.liquid_blocks if block.name in VERBATIM_BLOCKS
    ]


def _inside(span: Span, bodies: list[Span]) -> bool:
    return any(body.start <= span.start and span.end <= body.end for body in bodies)


def _unknown_message(name: str, known: set[str]) -> str:
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean `{matches[0]}`?" if matches else "tags from a plugin must be defined"
    return (
        f"unknown Liquid tag `{name}`, which stops the Jekyll build; {hint} "
        "(define tags in _plugins/ or list them under `letterhead: liquid_tags:`)"
    )


def _known_tags(ctx: Context) -> set[str]:
    site = ctx.index.site
    known = set(_BUILT_IN)
    known.update(ctx.settings.liquid_tags)
    known.update(_gem_tags(site.config.raw))
    known.update(plugin_tags(site.root, site.config.plugins_dir))
    return known


def _gem_tags(raw_config: Any) -> set[str]:
    tags: set[str] = set()
    if not isinstance(raw_config, dict):
        return tags
    for key in ("plugins", "gems"):
        gems = raw_config.get(key)
        if isinstance(gems, list):
            for gem in gems:
                tags.update(PLUGIN_GEM_TAGS.get(str(gem), ()))
    return tags


@dataclass(slots=True)
class _PluginScan:
    tags: frozenset[str]
    stamps: dict[str, float]  # the plugin folder's and every scanned file's mtime
    checked_at: float


_SCANS: dict[str, _PluginScan] = {}


def plugin_tags(root: Path, plugins_dir: str = "_plugins") -> frozenset[str]:
    """Tag names the site's `_plugins/**/*.rb` register, found by reading them as text (cached)."""
    key = f"{root}\0{plugins_dir}"
    now = time.monotonic()
    cached = _SCANS.get(key)
    if cached is not None and now - cached.checked_at < _RECHECK_SECONDS:
        return cached.tags
    if cached is not None and _unchanged(cached.stamps):
        cached.checked_at = now
        return cached.tags
    tags, stamps = _scan_plugins(root, root / plugins_dir)
    _SCANS[key] = _PluginScan(tags, stamps, now)
    return tags


def _unchanged(stamps: dict[str, float]) -> bool:
    for path, mtime in stamps.items():
        try:
            if os.stat(path).st_mtime != mtime:
                return False
        except OSError:
            if mtime != -1.0:
                return False
    return True


def _scan_plugins(root: Path, folder: Path) -> tuple[frozenset[str], dict[str, float]]:
    stamps: dict[str, float] = {}
    tags: set[str] = set()
    try:
        stamps[str(folder)] = os.stat(folder).st_mtime
        inside = folder.resolve().is_relative_to(root.resolve())
    except OSError:
        stamps[str(folder)] = -1.0
        return frozenset(), stamps
    if not inside:
        return frozenset(), stamps
    for path in _ruby_files(folder, stamps):
        tags.update(_registered_tags(path))
    return frozenset(tags), stamps


def _ruby_files(folder: Path, stamps: dict[str, float]) -> Iterable[Path]:
    count = 0
    for current, subfolders, names in os.walk(folder, followlinks=False):
        try:
            stamps[current] = os.stat(current).st_mtime
        except OSError:
            continue
        subfolders.sort()
        for name in sorted(names):
            if not name.endswith(".rb"):
                continue
            path = Path(current) / name
            try:
                status = path.stat()
            except OSError:
                continue
            stamps[str(path)] = status.st_mtime
            if status.st_size <= _MAX_PLUGIN_BYTES and path.is_file() and not path.is_symlink():
                yield path
            count += 1
            if count >= _MAX_PLUGIN_FILES:
                return


def _registered_tags(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {match.group(1) or match.group(2) for match in _REGISTER_TAG.finditer(text)}
