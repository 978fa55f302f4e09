"""The real Jekyll is the oracle for dead links too.

Each site is built with `jekyll build`; every internal `href`/`src` in every built page is then
looked up in the built folder the way a static server would (`/a` may be `/a.html` or `/a/`). The
links the built site cannot serve must be exactly the links `letterhead check` reports as dead
(LK001) or unpublished (LK002), page for page and link for link.
"""

from __future__ import annotations

import posixpath
import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from letterhead.check import check_site, load_site

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = ROOT / "examples" / "site"
JEKYLL = shutil.which("jekyll")

pytestmark = [
    pytest.mark.jekyll,
    pytest.mark.skipif(JEKYLL is None, reason="the jekyll command is not on PATH"),
]

Link = tuple[str, str]  # (URL of the page holding the link, the link's site path)


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and (tag, name) in (("a", "href"), ("img", "src")):
                self.found.append(value)


def _site_path(href: str, page_url: str, baseurl: str) -> str | None:
    """The site path `href` names, or None for external links and bare fragments."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = unquote(parts.path)
    if not path.startswith("/"):
        directory = page_url if page_url.endswith("/") else posixpath.dirname(page_url)
        path = posixpath.normpath(posixpath.join(directory, path)) + (
            "/" if path.endswith("/") else ""
        )
    prefix = "/" + baseurl.strip("/") if baseurl.strip("/") else ""
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    return path


def _served(built: Path, path: str) -> bool:
    relative = path.lstrip("/")
    if path.endswith("/"):
        candidates = [relative + "index.html"]
    else:
        candidates = [relative, relative + ".html", relative + "/index.html"]
    return any((built / candidate).is_file() for candidate in candidates)


def _page_url(built: Path, html_file: Path) -> str:
    relative = html_file.relative_to(built).as_posix()
    if relative.endswith("index.html"):
        return "/" + relative[: -len("index.html")]
    return "/" + relative


def unservable_links(source: Path, built: Path, page_urls: set[str]) -> set[Link]:
    """Internal links in the built pages of `page_urls` that the built site cannot serve."""
    baseurl = str(load_site(source).site.config.baseurl or "")
    dead: set[Link] = set()
    for html_file in built.rglob("*.html"):
        page = _page_url(built, html_file)
        if page not in page_urls:
            continue
        parser = _Hrefs()
        parser.feed(html_file.read_text(encoding="utf-8", errors="replace"))
        for href in parser.found:
            path = _site_path(href, page, baseurl)
            if path is not None and not _served(built, path):
                dead.add((page, path))
    return dead


def reported_links(source: Path) -> tuple[set[Link], set[str]]:
    """LK001/LK002 findings of built reviews as (page URL, link path), and every built page URL."""
    loaded = load_site(source)
    pages = {
        entry.url
        for path in loaded.documents
        if (entry := loaded.index.entry(path)) is not None and entry.built and entry.url
    }
    reported: set[Link] = set()
    for finding in check_site(loaded):
        if finding.code not in ("LK001", "LK002"):
            continue
        entry = loaded.index.entry(finding.path)
        if entry is None or not entry.built or not entry.url:
            continue
        document = loaded.documents[finding.path]
        target = document.text[
            document.lines.offset(finding.range.start) : document.lines.offset(finding.range.end)
        ]
        path = _site_path(target, entry.url, str(loaded.site.config.baseurl or ""))
        if path is not None:
            reported.add((entry.url, path))
    return reported, pages


def build(source: Path, destination: Path) -> None:
    result = subprocess.run(
        [
            str(JEKYLL),
            "build",
            "--quiet",
            "--disable-disk-cache",
            "-s",
            str(source),
            "-d",
            str(destination),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def compare(source: Path, tmp_path: Path) -> set[Link]:
    built = tmp_path / "_built"
    build(source, built)
    reported, pages = reported_links(source)
    unservable = unservable_links(source, built, pages)
    assert unservable == reported, (
        f"dead on the built site but not reported: {sorted(unservable - reported)}\n"
        f"reported but served by the built site: {sorted(reported - unservable)}"
    )
    return unservable


def test_example_site_dead_links_are_exactly_the_reported_ones(tmp_path: Path) -> None:
    source = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, source, ignore=shutil.ignore_patterns("_site", ".jekyll-cache"))
    dead = compare(source, tmp_path)
    assert len(dead) >= 2  # the planted wrong-day link and the link to the unpublished review


def test_generated_site_dead_links_are_exactly_the_reported_ones(
    tmp_path: Path, generate_site: Callable[..., Any]
) -> None:
    source = tmp_path / "site"
    generate_site(source, reviews=400, seed=7)
    dead = compare(source, tmp_path)
    assert dead, "the generator plants dead links; none were found"
