"""The real Jekyll is the oracle for the site model.

Each case writes a site to a temporary folder, builds it with `jekyll build`, and compares, one for
one, the files Jekyll wrote with the output paths the model computes for the entries it says are
built. Every site also holds a page that lists, through Liquid, the URL Jekyll gives each post,
page and collection document, so URLs are compared as strings, escaping included.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from letterhead.site.kinds import EntryKind, Status
from letterhead.site.model import Entry, Site

JEKYLL = shutil.which("jekyll")
EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "examples" / "site"

pytestmark = [
    pytest.mark.jekyll,
    pytest.mark.skipif(JEKYLL is None, reason="the jekyll command is not on PATH"),
]

# A page in every site that makes Jekyll print the URL of each item it built or read.
URL_LISTING_PATH = "zz-oracle-urls.txt"
URL_LISTING = """---
permalink: /zz-oracle-urls.txt
---
{% for d in site.posts %}doc\t{{ d.relative_path }}\t{{ d.url }}
{% endfor %}{% for c in site.collections %}{% if c.label != "posts" %}{% for d in c.docs %}doc\t{{ d.relative_path }}\t{{ d.url }}
{% endfor %}{% endif %}{% endfor %}{% for p in site.pages %}page\t{{ p.path }}\t{{ p.url }}
{% endfor %}"""


def front(body: str = "Text.\n", **values: Any) -> str:
    """A file with front matter holding `values` (written by PyYAML, so dates stay dates)."""
    if not values:
        return "---\n---\n" + body
    return "---\n" + yaml.safe_dump(values, allow_unicode=True, sort_keys=False) + "---\n" + body


@dataclass
class SiteCase:
    name: str
    config: dict[str, Any]
    files: dict[str, str | bytes]
    mtimes: dict[str, datetime.datetime] = field(default_factory=dict)
    safe: bool = True


# ---------------------------------------------------------------------------------------------
# The sites

COMMON_CONFIG: dict[str, Any] = {
    "timezone": "UTC",
    "collections": {
        "letters": {"output": True},
        "archive": {"output": False},
        "films": {"output": True, "permalink": "/films/:categories/:title:output_ext"},
    },
    "defaults": [
        {"scope": {"path": "", "type": "posts"}, "values": {"layout": "post"}},
        {"scope": {"path": "reviews"}, "values": {"categories": ["from-defaults"]}},
        {"scope": {"path": "_letters/sub"}, "values": {"permalink": "/letters-sub/:name/"}},
        # Jekyll's publisher ignores `published` from defaults for pages (a quirk kept on purpose).
        {"scope": {"path": "quirks", "type": "pages"}, "values": {"published": False}},
        {"scope": {"path": "files/*.pdf"}, "values": {"published": False}},
        {"scope": {"path": "_posts/defaulted"}, "values": {"permalink": "/defaulted/:title/"}},
    ],
}

COMMON_FILES: dict[str, str | bytes] = {
    # posts
    "_posts/2013-09-13-the-act-of-killing.md": front(
        title="The Act of Killing", categories=["reviews", "On Video"], tags=["khmer rouge"]
    ),
    "_posts/2014-03-01-amélie.md": front(title="Amélie"),
    "_posts/2014-03-02-静かな夜.md": front(title="静かな夜"),
    "_posts/2014-03-03-Mixed Case & Spaces!.md": front(),
    "reviews/_posts/2014-01-02-her.md": front(),
    "a/b/_posts/2014-01-03-nested.md": front(categories="extra Cat"),
    "_posts/sub/2014-01-04-in-subfolder.md": front(),
    "_posts/defaulted/2014-01-04-from-defaults.md": front(),
    "_posts/2014-01-05-with-slug.md": front(slug="Custom Slug Here"),
    "_posts/2014-01-06-fm-date.md": front(date="2014-02-01 23:30:00 -0500"),
    "_posts/2014-01-07-naive-timestamp.md": front(date=datetime.datetime(2014, 1, 8, 1, 30)),
    "_posts/2014-01-08-own-permalink.md": front(permalink="/custom/:title/"),
    "_posts/2014-01-09-unpublished.md": front(published=False),
    "_posts/2099-01-01-future.md": front(),
    "_posts/2014-01-10-single-category.md": front(category="Single Cat"),
    "_posts/2014-02-30-rollover.md": front(),
    "_posts/2014-1-5-short-date.md": front(),
    "_posts/not-dated.md": front(),
    "_posts/2014-01-11-no-front-matter.md": "plain text, no front matter\n",
    "_posts/2014-01-12-dots.in.name.md": front(),
    "_posts/2014-01-13-html-post.html": front(),
    "_posts/2014-01-14-text-post.txt": front(),
    "_posts/2014-01-15-trailing-dots...md": front(),
    "_posts/_2014-01-16-underscore.md": front(),
    "_posts/.2014-01-16-hidden.md": front(),
    "_posts/2014-01-17-backup.md~": front(),
    # drafts (not built unless show_drafts)
    "_drafts/a-draft.md": front(),
    "_drafts/2014-01-20-dated-draft.md": front(),
    # pages
    "about.md": front(title="About"),
    "contact.html": front(),
    "index.html": front(),
    "404.html": front(permalink="/404.html"),
    "sub/index.md": front(),
    "sub/page.md": front(permalink="/elsewhere/"),
    "sub/deep/page.markdown": front(),
    "feed.xml": front(),
    "style.css": front(body="body { color: red }\n"),
    "data.json": front(body="{}\n", permalink="/api/data"),
    "no-ext-permalink.md": front(permalink="/no-ext"),
    "page with space.md": front(),
    "café.md": front(),
    "unpublished-page.md": front(published=False),
    "quirks/defaults-say-unpublished.md": front(),
    "broken-front-matter.md": "---\ntitle: [unclosed\n---\nbody\n",
    # static files
    "robots.txt": "User-agent: *\n",
    "images/x.png": b"\x89PNG\r\n",
    "files/doc.pdf": b"%PDF-1.4\n",
    "files/a file.txt": "plain\n",
    "LICENSE": "MIT\n",
    "assets/a..png": b"\x89PNG\r\n",
    ".htaccess": "Options -Indexes\n",
    # never read
    ".hidden.md": front(),
    "_private/x.md": front(),
    "notes.md~": front(),
    "#tmp.md": front(),
    "node_modules/x.js": "x\n",
    "Gemfile": "source 'https://rubygems.org'\n",
    "vendor/bundle/x.txt": "x\n",
    # collections
    "_letters/dear-sarith.md": front(title="Dear Sarith"),
    "_letters/sub/dear-x.md": front(),
    "_letters/attachment.txt": "attached\n",
    "_letters/2014-05-01-dated-letter.md": front(),
    "_letters/_skipped.md": front(),
    "_letters/future.md": front(date=datetime.date(2099, 1, 1)),
    "_letters/no-front-matter.md": "static in a collection\n",
    "_archive/old.md": front(),
    "_archive/img.png": b"\x89PNG\r\n",
    "_films/the-missing-picture.md": front(categories=["Documentary", "Cambodia"]),
    "_films/poster.png": b"\x89PNG\r\n",
}

DRAFT_MTIMES = {
    "_drafts/a-draft.md": datetime.datetime(2015, 6, 15, 12, 0, tzinfo=datetime.UTC),
    "my_collections/_drafts/mtime-draft.md": datetime.datetime(
        2015, 6, 16, 3, 0, tzinfo=datetime.UTC
    ),
}

STYLE_CASES = [
    SiteCase(f"style-{style}", {**COMMON_CONFIG, "permalink": style}, COMMON_FILES, DRAFT_MTIMES)
    for style in ("date", "pretty", "ordinal", "weekdate", "none")
]

PLACEHOLDER_PATTERNS = [
    "/p01/:year/:short_year/:month/:i_month/:short_month/:long_month/:day/:i_day/:y_day/",
    "/p02/:hour-:minute-:second/:title/",
    "/p03/:slug/:name:output_ext",
    "/p04/:categories/:slugified_categories/:title",
    "/p05/:path/",
    "/p06/:collection/:title.html",
    "/p07/:month_:day/:title/",
    "/p08/:w_year/:week/:w_day/:short_day/:long_day/",
    "/p09/:title",
    "/p10/:title.json",
    "/p11/../:title/",
    "p12/:title/",
    "/p13//:title//",
    "/p14/:Title/:title/",
    "/p15/:title.:year.html",
    "/p16/:categories:output_ext",
]

CUSTOM_FILES: dict[str, str | bytes] = {
    "_posts/2013-09-13-the-act-of-killing.md": front(),
    "_posts/2014-03-01-amélie.md": front(categories=["Films Étrangers", "Paris"]),
    "about.md": front(),
    "sub/about.md": front(),
    "sub/index.html": front(),
    "_reviews/first.md": front(),
    "_reviews/deep/second review.md": front(title="Second"),
    "_reviews/2014-04-04-dated.md": front(categories="One Two"),
    "_reviews/logo.png": b"\x89PNG\r\n",
    "_dated/2014-04-05-with-date.md": front(),
    "_dated/undated.md": front(date=datetime.date(2014, 4, 6)),
    "_dated/scan.pdf": b"%PDF-1.4\n",
    "_named/Hello World.md": front(),
    "_named/sub/Ünïcode.md": front(),
}
for number, pattern in enumerate(PLACEHOLDER_PATTERNS, start=1):
    # A different month, day and time per case, so that each placeholder is seen to vary.
    day = f"2014-{(number - 1) % 12 + 1:02d}-{number + 5:02d}"
    CUSTOM_FILES[f"_posts/placeholders/{day}-Case {number}.md"] = front(
        permalink=pattern,
        date=f"{day} {number:02d}:{number * 3:02d}:{number * 2:02d}",
        categories=["Main Cat", "Sub-Cat Ü"],
    )

CUSTOM_CASE = SiteCase(
    "custom-patterns",
    {
        "permalink": "/content/:year/:i_month/:i_day/:title.html",
        "timezone": "Europe/Paris",
        "collections": {
            "reviews": {"output": True, "permalink": "/r/:path:output_ext"},
            "dated": {"output": True, "permalink": "/d/:year/:title/"},
            "named": {"output": True, "permalink": "/n/:name"},
        },
    },
    CUSTOM_FILES,
)

FLAGS_CASE = SiteCase(
    "flags-and-collections-dir",
    {
        "timezone": "America/New_York",
        "show_drafts": True,
        "future": True,
        "unpublished": True,
        "collections_dir": "my_collections",
        "collections": {
            "posts": {"permalink": "/blog/:year/:month/:day/:title/"},
            "reviews": {"output": True},
        },
        "defaults": [
            {"scope": {"path": "my_collections/_reviews"}, "values": {"permalink": "/rv/:title/"}},
            {"scope": {"type": "drafts"}, "values": {"permalink": "/never-applies/:title/"}},
        ],
    },
    {
        "my_collections/_posts/2014-01-01-naive.md": front(
            date=datetime.datetime(2014, 1, 1, 2, 0)
        ),
        "my_collections/_posts/2014-01-02-quoted.md": front(date="2014-01-02 02:00:00"),
        "my_collections/_posts/2014-01-03-offset.md": front(date="2014-01-03 02:00:00 +0100"),
        "my_collections/_posts/2099-01-01-future.md": front(),
        "my_collections/_posts/2014-01-04-unpublished.md": front(published=False),
        "my_collections/_drafts/mtime-draft.md": front(),
        "my_collections/_drafts/2014-02-02-dated-draft.md": front(),
        "my_collections/sub/_posts/2014-01-05-sub.md": front(),
        "my_collections/_reviews/one.md": front(),
        "my_collections/page.md": front(),
        "_posts/2014-01-06-outside-collections-dir.md": front(),
        "index.md": front(),
    },
    DRAFT_MTIMES,
)

FILTERS_CASE = SiteCase(
    "baseurl-exclude-include",
    {
        "baseurl": "/blog",
        "permalink": "pretty",
        "exclude": ["private/", "*.log", "secret.md", "drafts-old"],
        "include": ["_headers", ".well-known", "_pages"],
        "defaults": [
            {"scope": {"path": "_posts/*/"}, "values": {"permalink": "/globbed/:title/"}},
            {
                "scope": {"path": "*.md", "type": "pages"},
                "values": {"permalink": "/md-page/:basename/"},
            },
        ],
    },
    {
        "_posts/2014-01-01-root.md": front(),
        "_posts/sub/2014-01-02-in-sub.md": front(),
        "private/notes.md": front(),
        "server.log": "log\n",
        "logs/app.log": "log\n",
        "secret.md": front(),
        "secret.md.bak": "x\n",
        "drafts-old/x.md": front(),
        "drafts-older.md": front(),
        "_headers": "/*\n  X-Frame-Options: DENY\n",
        ".well-known/security.txt": "Contact: x\n",
        "_pages/included.md": front(),
        "about.md": front(),
        "about.html": front(permalink="/about-html/"),
        "deep/readme.md": front(),
        "index.md": front(),
    },
)

CASES = [*STYLE_CASES, CUSTOM_CASE, FLAGS_CASE, FILTERS_CASE]


# ---------------------------------------------------------------------------------------------
# Building and comparing


def write_site(root: Path, case: SiteCase) -> None:
    config = {"plugins": [], **case.config}
    (root / "_config.yml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    for relative, content in {**case.files, URL_LISTING_PATH: URL_LISTING}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, "utf-8")
    for relative, when in case.mtimes.items():
        if (root / relative).exists():
            os.utime(root / relative, (when.timestamp(), when.timestamp()))


POST_ID_PAGE = "zz-oracle-post-ids.txt"


def write_post_id_page(root: Path) -> dict[str, str]:
    """A page that asks Jekyll's `{% post_url %}` for every post id the model computes (the build
    fails on an id Jekyll cannot find); returns the URL the model expects for each id."""
    site = Site.open(root)
    expected: dict[str, str] = {}
    for source in site.discover():
        entry = site.read_entry(source)
        if entry and entry.kind is EntryKind.POST and entry.built and entry.post_id and entry.url:
            expected[entry.post_id] = site.config.baseurl.rstrip("/") + entry.url
    lines = "".join(f"{post_id}\t{{% post_url {post_id} %}}\n" for post_id in sorted(expected))
    (root / POST_ID_PAGE).write_text(f"---\npermalink: /{POST_ID_PAGE}\n---\n{lines}", "utf-8")
    return expected


def jekyll_post_urls(destination: Path) -> dict[str, str]:
    text = (destination / POST_ID_PAGE).read_text("utf-8")
    return dict(line.split("\t") for line in text.splitlines() if line.strip())


def jekyll_build(source: Path, destination: Path, safe: bool) -> None:
    assert JEKYLL is not None
    command = [JEKYLL, "build", "--source", str(source), "--destination", str(destination)]
    command += ["--quiet", "--disable-disk-cache"]
    if safe:
        command.append("--safe")
    environment = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "JEKYLL_ENV": "production"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=environment, check=False
    )
    assert result.returncode == 0, f"jekyll build failed:\n{result.stdout}\n{result.stderr}"


def written_files(destination: Path) -> set[str]:
    return {
        path.relative_to(destination).as_posix()
        for path in destination.rglob("*")
        if path.is_file() or path.is_symlink()
    }


def jekyll_urls(destination: Path) -> dict[tuple[str, str], str]:
    listing = (destination / URL_LISTING_PATH).read_text("utf-8")
    urls = {}
    for line in listing.splitlines():
        if line.strip():
            kind, path, url = line.split("\t")
            urls[(kind, path.lstrip("/"))] = url
    return urls


def model_view(
    site: Site, now: datetime.datetime
) -> tuple[set[str], dict[tuple[str, str], str], set[tuple[str, str]]]:
    """What the model says Jekyll writes; the URL of each document and page Jekyll lists; and
    the documents of collections without output (Jekyll lists them, the model gives no URL)."""
    outputs: set[str] = set()
    urls: dict[tuple[str, str], str] = {}
    not_output: set[tuple[str, str]] = set()
    for source in site.discover():
        entry = site.read_entry(source, now)
        assert entry is not None, source
        if entry.status is Status.BUILT:
            assert entry.output_path is not None, entry
            outputs.add(entry.output_path)
        if entry.kind is EntryKind.DOCUMENT and entry.status is Status.NOT_OUTPUT:
            not_output.add(("doc", source.relative_path))
        if entry.url is None or entry.kind is EntryKind.STATIC:
            continue
        if entry.kind is EntryKind.PAGE:
            if entry.status is Status.BUILT:
                urls[("page", entry.path)] = entry.url
        elif _listed_by_jekyll(entry):
            urls[("doc", source.relative_path)] = entry.url
    return outputs, urls, not_output


def _listed_by_jekyll(entry: Entry) -> bool:
    # `site.posts` holds published posts (drafts when shown); a collection's `docs` also hold
    # its future documents (Jekyll filters those only when writing).
    if entry.kind in (EntryKind.POST, EntryKind.DRAFT):
        return entry.status is Status.BUILT
    return entry.status in (Status.BUILT, Status.FUTURE)


def compare(site_root: Path, destination: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    site = Site.open(site_root)
    outputs, urls, not_output = model_view(site, now)
    real_outputs = written_files(destination)
    real_urls = {key: url for key, url in jekyll_urls(destination).items() if key not in not_output}
    assert sorted(outputs - real_outputs) == [], "the model outputs files Jekyll does not write"
    assert sorted(real_outputs - outputs) == [], "Jekyll writes files the model does not output"
    mismatched = {
        key: (url, urls.get(key)) for key, url in real_urls.items() if urls.get(key) != url
    }
    assert mismatched == {}, "(jekyll url, model url) differ"
    assert sorted(set(urls) - set(real_urls)) == [], "the model lists items Jekyll does not"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_model_matches_jekyll(case: SiteCase, tmp_path: Path) -> None:
    source, destination = tmp_path / "site", tmp_path / "_built"
    source.mkdir()
    write_site(source, case)
    expected_post_urls = write_post_id_page(source)
    jekyll_build(source, destination, case.safe)
    compare(source, destination)
    assert jekyll_post_urls(destination) == expected_post_urls


@pytest.mark.skipif(not (EXAMPLE_SITE / "_config.yml").is_file(), reason="no examples/site yet")
def test_example_site_matches_jekyll(tmp_path: Path) -> None:
    source = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, source, ignore=shutil.ignore_patterns("_site", ".jekyll-cache"))
    destination = tmp_path / "_built"
    # The example site may carry its own plugins (`_plugins/`), which --safe would switch off.
    jekyll_build(source, destination, safe=False)
    outputs, _, _ = model_view(Site.open(source), datetime.datetime.now(datetime.UTC))
    real_outputs = written_files(destination)
    assert sorted(outputs - real_outputs) == []
    assert sorted(real_outputs - outputs) == []
