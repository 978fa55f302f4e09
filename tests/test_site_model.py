"""The site model on real sites written to temporary folders: what is output, where, and why not."""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from letterhead.site import EntryKind, Site, Status, load_config, normalize_url
from letterhead.site.config import DEFAULT_EXCLUDES, parse_config
from letterhead.site.model import Entry, read_front_matter

NOW = datetime.datetime(2020, 6, 1, 12, 0, tzinfo=datetime.UTC)


def front(**values: Any) -> str:
    if not values:
        return "---\n---\nText.\n"
    return "---\n" + yaml.safe_dump(values, allow_unicode=True, sort_keys=False) + "---\nText.\n"


def make_site(
    root: Path, config: dict[str, Any] | str | None, files: Mapping[str, str | bytes]
) -> Site:
    root.mkdir(parents=True, exist_ok=True)
    if isinstance(config, dict):
        (root / "_config.yml").write_text(yaml.safe_dump({"timezone": "UTC", **config}), "utf-8")
    elif isinstance(config, str):
        (root / "_config.yml").write_text(config, "utf-8")
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, "utf-8")
    return Site.open(root)


def entries_by_path(site: Site, now: datetime.datetime = NOW) -> dict[str, Entry]:
    return {entry.path: entry for entry in site.entries(now)}


# --- posts: overrides, categories, ids ----------------------------------------------------------


def test_front_matter_overrides_date_slug_and_permalink(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        {},
        {
            "_posts/2014-01-05-name.md": front(slug="Other Slug"),
            "_posts/2014-01-06-dated.md": front(date="2014-02-01 23:30:00 -0500"),
            "_posts/2014-01-07-moved.md": front(permalink="/elsewhere/:title/"),
            "_posts/2014-01-08-plain.md": front(title="Plain Title"),
        },
    )
    entries = entries_by_path(site)
    named = entries["_posts/2014-01-05-name.md"]
    assert (named.slug, named.url) == ("Other Slug", "/2014/01/05/Other-Slug.html")
    dated = entries["_posts/2014-01-06-dated.md"]
    assert dated.date == datetime.datetime(2014, 2, 2, 4, 30, tzinfo=datetime.UTC)
    assert dated.url == "/2014/02/02/dated.html"
    assert entries["_posts/2014-01-07-moved.md"].url == "/elsewhere/moved/"
    plain = entries["_posts/2014-01-08-plain.md"]
    assert (plain.title, plain.slug, plain.post_id) == ("Plain Title", "plain", "2014-01-08-plain")
    assert named.title == "Name"  # Jekyll titleizes the file name's slug


def test_categories_from_folders_and_front_matter(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        {},
        {
            "reviews/_posts/2014-01-02-her.md": front(categories=["Films", "reviews"]),
            "a/b/_posts/2014-01-03-nested.md": front(categories="khmer rouge"),
            "_posts/sub/2014-01-04-in-sub.md": front(category="One Cat"),
            "my_posts/_posts/2014-01-05-prefix.md": front(),
        },
    )
    entries = entries_by_path(site)
    her = entries["reviews/_posts/2014-01-02-her.md"]
    assert her.categories == ["reviews", "Films"]
    assert her.url == "/reviews/films/2014/01/02/her.html"
    nested = entries["a/b/_posts/2014-01-03-nested.md"]
    assert nested.categories == ["a", "b", "khmer", "rouge"]
    assert nested.post_id == "a/b/2014-01-03-nested"
    in_sub = entries["_posts/sub/2014-01-04-in-sub.md"]
    assert (in_sub.categories, in_sub.post_id) == (["One Cat"], "sub/2014-01-04-in-sub")
    assert in_sub.url == "/one%20cat/2014/01/04/in-sub.html"
    # Jekyll cuts the path at the first `_posts` it finds, even inside a folder name.
    assert entries["my_posts/_posts/2014-01-05-prefix.md"].categories == ["my"]


def test_files_in_posts_without_a_date_are_not_output(tmp_path: Path) -> None:
    site = make_site(tmp_path, {}, {"_posts/undated.md": front(), "_posts/2014-01-01-x": front()})
    paths = [source.path for source in site.discover()]
    assert paths == []  # Jekyll does not even read them


def test_post_without_front_matter_is_still_a_post(tmp_path: Path) -> None:
    site = make_site(tmp_path, {}, {"_posts/2014-01-01-bare.md": "no front matter\n"})
    (entry,) = site.entries(NOW)
    assert (entry.kind, entry.status, entry.url) == (
        EntryKind.POST,
        Status.BUILT,
        "/2014/01/01/bare.html",
    )


# --- defaults ---------------------------------------------------------------------------------


def test_defaults_by_path_and_type(tmp_path: Path) -> None:
    config = {
        "collections": {"letters": {"output": True}},
        "defaults": [
            {"scope": {"path": ""}, "values": {"author": "everyone", "comments": True}},
            {"scope": {"path": "", "type": "posts"}, "values": {"layout": "review"}},
            {"scope": {"path": "_posts/2014"}, "values": {"layout": "old-review", "x": {"a": 1}}},
            {"scope": {"type": "pages"}, "values": {"layout": "page"}},
            {"scope": {"type": "letters"}, "values": {"layout": "letter"}},
            {"scope": {"type": "drafts"}, "values": {"layout": "never"}},
            {"scope": {"path": "_posts/*/deep"}, "values": {"globbed": True}},
        ],
    }
    site = make_site(
        tmp_path,
        config,
        {
            "_posts/2013-01-01-a.md": front(comments=False),
            "_posts/2014/2014-01-01-b.md": front(layout=None, x={"b": 2}),
            "_posts/2014/deep/2014-01-02-c.md": front(),
            "_drafts/d.md": front(),
            "about.md": front(),
            "_letters/dear.md": front(),
        },
    )
    entries = entries_by_path(site)
    a = entries["_posts/2013-01-01-a.md"].data
    assert a == {"author": "everyone", "comments": False, "layout": "review"}
    b = entries["_posts/2014/2014-01-01-b.md"].data
    assert b["layout"] == "old-review"  # a longer scope path wins; a null in the file keeps it
    assert b["x"] == {"a": 1, "b": 2}  # mappings merge
    assert entries["_posts/2014/deep/2014-01-02-c.md"].data["globbed"] is True
    # Drafts are documents of the `posts` collection: `type: drafts` never applies (Jekyll 4).
    assert entries["_drafts/d.md"].data["layout"] == "review"
    assert entries["about.md"].data == {"author": "everyone", "comments": True, "layout": "page"}
    assert entries["_letters/dear.md"].data["layout"] == "letter"


def test_defaults_can_set_permalinks_and_categories(tmp_path: Path) -> None:
    config = {
        "defaults": [
            {"scope": {"path": "reviews"}, "values": {"categories": ["from-defaults"]}},
            {"scope": {"path": "_posts/special"}, "values": {"permalink": "/special/:title/"}},
        ]
    }
    site = make_site(
        tmp_path,
        config,
        {
            "reviews/_posts/2014-01-02-her.md": front(categories=["own"]),
            "_posts/special/2014-01-03-x.md": front(),
        },
    )
    entries = entries_by_path(site)
    assert entries["reviews/_posts/2014-01-02-her.md"].categories == [
        "reviews",
        "from-defaults",
        "own",
    ]
    assert entries["_posts/special/2014-01-03-x.md"].url == "/special/x/"


# --- collections ---------------------------------------------------------------------------------


def test_collections_with_permalinks_and_without_output(tmp_path: Path) -> None:
    config = {
        "collections": {
            "letters": {"output": True, "permalink": "/letters/:year/:title/"},
            "notes": {"output": False},
            "films": {"output": True},
        }
    }
    site = make_site(
        tmp_path,
        config,
        {
            "_letters/2014-03-01-dear-sarith.md": front(),
            "_letters/attachment.pdf": b"%PDF",
            "_notes/private.md": front(),
            "_notes/scan.png": b"\x89PNG",
            "_films/sub/The Missing Picture.md": front(),
            "_undeclared/x.md": front(),
        },
    )
    entries = entries_by_path(site)
    letter = entries["_letters/2014-03-01-dear-sarith.md"]
    assert (letter.kind, letter.collection, letter.url) == (
        EntryKind.DOCUMENT,
        "letters",
        "/letters/2014/dear-sarith/",
    )
    assert letter.output_path == "letters/2014/dear-sarith/index.html"
    attachment = entries["_letters/attachment.pdf"]
    # Static files fill in only :collection, :path, :name and :title (empty); Jekyll leaves the
    # rest as written and drops the trailing slash before adding the extension.
    assert (attachment.kind, attachment.url) == (EntryKind.STATIC, "/letters/:year.pdf")
    note = entries["_notes/private.md"]
    assert (note.status, note.url) == (Status.NOT_OUTPUT, None)
    assert entries["_notes/scan.png"].status is Status.NOT_OUTPUT
    assert (
        entries["_films/sub/The Missing Picture.md"].url
        == "/films/sub/The%20Missing%20Picture.html"
    )
    assert "_undeclared/x.md" not in entries


def test_collections_dir(tmp_path: Path) -> None:
    config = {"collections_dir": "my", "collections": {"reviews": {"output": True}}}
    site = make_site(
        tmp_path,
        config,
        {
            "my/_posts/2014-01-01-inside.md": front(),
            "my/_reviews/r.md": front(),
            "_posts/2014-01-02-outside.md": front(),  # not read: posts live in collections_dir
        },
    )
    entries = entries_by_path(site)
    assert entries["my/_posts/2014-01-01-inside.md"].url == "/2014/01/01/inside.html"
    assert entries["my/_posts/2014-01-01-inside.md"].post_id == "2014-01-01-inside"
    assert entries["my/_reviews/r.md"].url == "/reviews/r.html"
    assert "_posts/2014-01-02-outside.md" not in entries


# --- pages and static files ------------------------------------------------------------------------


def test_pages(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        {"permalink": "pretty"},
        {
            "index.md": front(),
            "about.md": front(title="About"),
            "sub/index.md": front(),
            "sub/page.html": front(permalink="/elsewhere/"),
            "feed.xml": front(),
            "styles/site.css": front(),
            "no-front-matter.md": "just text\n",
            "broken.md": "---\ntitle: [unclosed\n---\n",
        },
    )
    entries = entries_by_path(site)
    assert entries["index.md"].url == "/"
    assert (entries["about.md"].url, entries["about.md"].title) == ("/about/", "About")
    assert entries["sub/index.md"].output_path == "sub/index.html"
    assert entries["sub/page.html"].url == "/elsewhere/"
    assert (entries["feed.xml"].url, entries["feed.xml"].output_path) == ("/feed.xml", "feed.xml")
    assert entries["styles/site.css"].url == "/styles/site.css"
    bare = entries["no-front-matter.md"]
    assert (bare.kind, bare.url) == (EntryKind.STATIC, "/no-front-matter.md")
    assert entries["broken.md"].kind is EntryKind.PAGE  # a first line `---` makes a page


def test_static_files(tmp_path: Path) -> None:
    config = {"defaults": [{"scope": {"path": "private"}, "values": {"published": False}}]}
    site = make_site(
        tmp_path,
        config,
        {
            "images/poster.jpg": b"\xff\xd8\xff",
            "files/a file.pdf": b"%PDF",
            "private/secret.pdf": b"%PDF",
            "CNAME": "example.org\n",
            ".htaccess": "Options -Indexes\n",
        },
    )
    entries = entries_by_path(site)
    poster = entries["images/poster.jpg"]
    assert (poster.kind, poster.status, poster.url) == (
        EntryKind.STATIC,
        Status.BUILT,
        "/images/poster.jpg",
    )
    assert entries["files/a file.pdf"].output_path == "files/a file.pdf"
    assert entries["private/secret.pdf"].status is Status.UNPUBLISHED
    assert entries["CNAME"].url_key == normalize_url("/CNAME")
    assert ".htaccess" in entries  # included by Jekyll's default `include:`


# --- publication: drafts, published: false, future -----------------------------------------------


def test_drafts(tmp_path: Path) -> None:
    files = {"_drafts/idea.md": front(), "_drafts/2014-05-01-dated-idea.md": front()}
    site = make_site(tmp_path, {}, files)
    when = datetime.datetime(2015, 6, 15, 12, 0, tzinfo=datetime.UTC).timestamp()
    os.utime(tmp_path / "_drafts/idea.md", (when, when))
    entries = entries_by_path(site)
    idea = entries["_drafts/idea.md"]
    assert (idea.kind, idea.status) == (EntryKind.DRAFT, Status.DRAFT)
    assert idea.url == "/2015/06/15/idea.html"  # a draft is dated by its modification time
    dated = entries["_drafts/2014-05-01-dated-idea.md"]
    assert (dated.url, dated.post_id) == ("/2014/05/01/dated-idea.html", "2014-05-01-dated-idea")
    shown = make_site(tmp_path, {"show_drafts": True}, {})
    assert {entry.status for entry in shown.entries(NOW)} == {Status.BUILT}


def test_published_false(tmp_path: Path) -> None:
    files = {
        "_posts/2014-01-01-hidden.md": front(published=False),
        "_posts/2014-01-02-string.md": front(published="false"),  # a string is not false
        "hidden-page.md": front(published=False),
        "quirk/page.md": front(),
    }
    config = {"defaults": [{"scope": {"path": "quirk"}, "values": {"published": False}}]}
    site = make_site(tmp_path, config, files)
    entries = entries_by_path(site)
    assert entries["_posts/2014-01-01-hidden.md"].status is Status.UNPUBLISHED
    assert entries["_posts/2014-01-01-hidden.md"].url == "/2014/01/01/hidden.html"
    assert entries["_posts/2014-01-02-string.md"].status is Status.BUILT
    assert entries["hidden-page.md"].status is Status.UNPUBLISHED
    # Jekyll's publisher reads a page's own front matter only: defaults do not hide pages.
    assert entries["quirk/page.md"].status is Status.BUILT
    shown = make_site(tmp_path, {**config, "unpublished": True}, {})
    assert {entry.status for entry in shown.entries(NOW)} == {Status.BUILT}


@pytest.mark.parametrize(("future", "status"), [(False, Status.FUTURE), (True, Status.BUILT)])
def test_future_posts(tmp_path: Path, future: bool, status: Status) -> None:
    config = {"future": future, "collections": {"letters": {"output": True}}}
    files = {
        "_posts/2020-06-02-tomorrow.md": front(),
        "_posts/2020-06-01-today.md": front(date="2020-06-01 12:00:00 +0000"),
        "_letters/later.md": front(date=datetime.date(2021, 1, 1)),
        "future-page.md": front(date=datetime.date(2030, 1, 1)),
    }
    entries = entries_by_path(make_site(tmp_path, config, files))
    assert entries["_posts/2020-06-02-tomorrow.md"].status is status
    assert entries["_posts/2020-06-02-tomorrow.md"].url == "/2020/06/02/tomorrow.html"
    assert entries["_posts/2020-06-01-today.md"].status is Status.BUILT  # not after now
    assert entries["_letters/later.md"].status is status
    assert entries["future-page.md"].status is Status.BUILT  # pages have no date in Jekyll


def test_time_zone_moves_dates(tmp_path: Path) -> None:
    files = {
        "_posts/2014-01-01-naive.md": front(date=datetime.datetime(2014, 1, 1, 2, 0)),
        "_posts/2014-01-02-quoted.md": front(date="2014-01-02 02:00:00"),
    }
    site = make_site(tmp_path, {"timezone": "America/New_York"}, files)
    entries = entries_by_path(site)
    # A YAML timestamp without an offset is UTC (Psych); a quoted one is local time (Time.parse).
    assert entries["_posts/2014-01-01-naive.md"].url == "/2013/12/31/naive.html"
    assert entries["_posts/2014-01-02-quoted.md"].url == "/2014/01/02/quoted.html"


def test_date_from_filename(tmp_path: Path) -> None:
    site = make_site(tmp_path, {}, {})
    assert site.date_from_filename("2014-03-01-amélie.md") == datetime.datetime(
        2014, 3, 1, tzinfo=datetime.UTC
    )
    assert site.date_from_filename("2014-02-30-x.md") == datetime.datetime(
        2014, 3, 2, tzinfo=datetime.UTC
    )
    assert site.date_from_filename("amélie.md") is None


# --- baseurl, URL keys, non-ASCII --------------------------------------------------------------------


def test_baseurl_and_url_keys(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        {"baseurl": "/blog", "permalink": "/content/:year/:i_month/:i_day/:title.html"},
        {"_posts/2013-09-13-the-act-of-killing.md": front(), "about.md": front()},
    )
    entries = entries_by_path(site)
    post = entries["_posts/2013-09-13-the-act-of-killing.md"]
    assert site.config.baseurl == "/blog"
    assert post.url == "/content/2013/9/13/the-act-of-killing.html"  # without baseurl
    for link in (
        "/content/2013/9/13/the-act-of-killing.html",
        "/blog/content/2013/9/13/the-act-of-killing.html",
        "/blog/content/2013/9/13/the-act-of-killing",
        "/content/2013/9/13/the-act-of-killing.html#comments",
    ):
        assert normalize_url(link, site.config.baseurl) == post.url_key
    about = entries["about.md"]
    assert about.url == "/about"  # a custom pattern without `/` or `:output_ext` at the end
    assert normalize_url("/blog/about.html", "/blog") == about.url_key


@pytest.mark.parametrize(
    ("name", "links"),
    [
        ("2014-03-01-amélie.md", ["/2014/03/01/amélie.html", "/2014/03/01/am%C3%A9lie.html"]),
        (
            "2014-03-02-静かな夜.md",
            ["/2014/03/02/静かな夜.html", "/2014/03/02/%E9%9D%99%E3%81%8B%E3%81%AA%E5%A4%9C"],
        ),
    ],
)
def test_non_ascii_titles_resolve(tmp_path: Path, name: str, links: list[str]) -> None:
    site = make_site(tmp_path, {}, {f"_posts/{name}": front()})
    (entry,) = site.entries(NOW)
    assert entry.post_id == name.removesuffix(".md")
    assert entry.output_path == links[0].lstrip("/")
    assert {normalize_url(link) for link in links} == {entry.url_key}


# --- configuration that cannot be read --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("permalink: [unclosed\n", "not valid YAML", 1),
        ("- a\n- list\n", "not a mapping", 0),
        ("just a string\n", "not a mapping", 0),
        ("exclude: node_modules\n", "should be a list", 0),
        ("title: x\npermalink: 5\n", "should be a string", 1),
        ("permalink: /:year/:nope/\n", ":nope", 0),
        ("collections: 3\n", "collections", 0),
        ("defaults:\n  - scope: {path: x}\n", "no `values`", 0),
    ],
)
def test_bad_config_gives_problems_not_crashes(
    tmp_path: Path, text: str, message: str, line: int
) -> None:
    site = make_site(tmp_path, text, {"_posts/2014-01-01-x.md": front(), "about.md": front()})
    assert any(message in problem.message for problem in site.problems), site.problems
    assert any(problem.line == line for problem in site.problems), site.problems
    assert len(site.entries(NOW)) == 2


def test_empty_and_missing_config_give_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path).permalink == "/:categories/:year/:month/:day/:title:output_ext"
    (tmp_path / "_config.yml").write_text("", "utf-8")
    config = load_config(tmp_path)
    assert (config.problems, config.permalink_style, config.baseurl) == ([], "date", "")
    assert set(DEFAULT_EXCLUDES) <= set(config.exclude)
    assert list(config.collections) == ["posts"]


def test_config_alias_bomb_and_oversize(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 12):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        bomb += (
            f"{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
        )
    bomb += "permalink: pretty\n"
    config = parse_config(bomb)
    assert config.permalink_style == "pretty"
    (tmp_path / "_config.yml").write_text("x: " + "y" * 1_100_000 + "\n", "utf-8")
    assert "not read" in load_config(tmp_path).problems[0].message


def test_config_fields(tmp_path: Path) -> None:
    config = parse_config(
        yaml.safe_dump(
            {
                "permalink": "ordinal",
                "baseurl": "/b",
                "future": True,
                "show_drafts": True,
                "unpublished": True,
                "exclude": ["x"],
                "include": ["_y"],
                "layouts_dir": "_lay",
                "markdown_ext": "md,txt",
                "collections": ["letters"],
                "letterhead": {"letter_layouts": ["review"]},
                "timezone": "Europe/Paris",
            }
        )
    )
    assert config.permalink == "/:categories/:year/:y_day/:title:output_ext"
    assert (config.future, config.show_drafts, config.unpublished) == (True, True, True)
    assert config.exclude[0] == "x" and config.include == ["_y"]
    assert (config.layouts_dir, config.markdown_ext) == ("_lay", [".md", ".txt"])
    assert config.collections["letters"].output is False
    assert config.collections["letters"].url_template == "/:collection/:path:output_ext"
    assert config.collections["posts"].permalink == config.permalink
    assert config.letterhead == {"letter_layouts": ["review"]}
    assert config.timezone == "Europe/Paris"


def test_layouts_and_authors(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        {},
        {
            "_layouts/review.html": "{{ content }}",
            "_layouts/sub/letter.html": "{{ content }}",
            "_layouts/.hidden.html": "x",
            "_data/authors.yml": "christopherr: {name: Christopher}\nsarah: {name: Sarah}\n",
        },
    )
    assert site.layouts == frozenset({"review", "sub/letter"})
    assert site.authors == ("christopherr", "sarah")
    (tmp_path / "_data/authors.yml").write_text("christopherr: [unclosed\n", "utf-8")
    broken = Site.open(tmp_path)
    assert broken.authors == () and broken.problems


# --- discovery and safety ----------------------------------------------------------------------


def test_discover_classifies_like_jekyll(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        {"exclude": ["private/"], "include": ["_headers"], "collections": {"letters": {}}},
        {
            "_posts/2014-01-01-a.md": front(),
            "reviews/_posts/2014-01-02-b.md": front(),
            "_drafts/c.md": front(),
            "_letters/d.md": front(),
            "about.md": front(),
            "image.png": b"\x89PNG",
            "unknown.ext": "---\n---\n",
            "unknown2.ext": "binary",
            "_headers": "x",
            "private/x.md": front(),
            "_site/index.html": front(),
            "_layouts/default.html": "x",
            ".git/config": "x",
            "node_modules/x.js": "x",
            "backup.md~": front(),
        },
    )
    kinds = {source.path: source.kind for source in site.discover()}
    assert kinds == {
        "_posts/2014-01-01-a.md": EntryKind.POST,
        "reviews/_posts/2014-01-02-b.md": EntryKind.POST,
        "_drafts/c.md": EntryKind.DRAFT,
        "_letters/d.md": EntryKind.DOCUMENT,
        "about.md": EntryKind.PAGE,
        "image.png": EntryKind.STATIC,
        "unknown.ext": EntryKind.PAGE,
        "unknown2.ext": EntryKind.STATIC,
        "_headers": EntryKind.STATIC,
    }
    for path, kind in kinds.items():
        source = site.classify(path)
        assert source is not None and (source.kind, source.excluded) == (kind, False), path
    excluded = site.classify("private/x.md")
    assert excluded is not None and excluded.excluded
    assert site.entry(excluded, {}, NOW).status is Status.NOT_OUTPUT
    for path in (
        "_site/index.html",
        "_layouts/default.html",
        ".git/config",
        "backup.md~",
        "x/../a",
    ):
        assert site.classify(path) is None


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_symlink_loops_and_links_out_of_the_site(tmp_path: Path) -> None:
    root = tmp_path / "site"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(front(), "utf-8")
    site = make_site(root, {}, {"a/page.md": front(), "_posts/2014-01-01-x.md": front()})
    (root / "a" / "loop").symlink_to(root / "a")
    (root / "a" / "up").symlink_to(root)
    (root / "out").symlink_to(outside)
    (root / "out-file.md").symlink_to(outside / "secret.md")
    (root / "_posts" / "loop").symlink_to(root / "_posts")
    (root / "inside-link.md").symlink_to(root / "a" / "page.md")
    (root / "dangling.md").symlink_to(root / "missing.md")
    paths = sorted(source.path for source in site.discover())
    assert paths == ["_posts/2014-01-01-x.md", "a/page.md", "inside-link.md"]
    assert site.classify("out/secret.md") is None
    assert site.classify("out-file.md") is None
    assert site.classify("dangling.md") is None
    inside = site.classify("inside-link.md")
    assert inside is not None and inside.kind is EntryKind.PAGE


def _real_file_resolved_whole(site: Site, path: str) -> tuple[str, int] | None:
    """What `Site.real_file` must answer, worked out the plain way: the whole path resolved,
    held to the site's real root, a regular file; as (real path, inode)."""
    try:
        real = os.path.realpath(os.path.join(site.root, path))
        if not real.startswith(os.path.realpath(site.root) + os.sep):
            return None
        info = os.stat(real)
    except (OSError, ValueError):
        return None
    return (real, info.st_ino) if info.st_mode & 0o170000 == 0o100000 else None


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_real_file_agrees_with_resolving_the_whole_path(tmp_path: Path) -> None:
    """`real_file` follows plain paths a part at a time from the real root; for every shape of
    path and link it must give what resolving the whole path gives."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(front(), "utf-8")
    (tmp_path / "alias").symlink_to(tmp_path / "site")  # the site opened through a link
    site = make_site(
        tmp_path / "site", {}, {"a/page.md": front(), "_posts/2014-01-01-x.md": front()}
    )
    site = Site.open(tmp_path / "alias")
    root = tmp_path / "site"
    (root / "a" / "loop").symlink_to(root / "a")
    (root / "a" / "up").symlink_to(root)
    (root / "out").symlink_to(outside)
    (root / "out-file.md").symlink_to(outside / "secret.md")
    (root / "inside-link.md").symlink_to(root / "a" / "page.md")
    (root / "relative-link.md").symlink_to(Path("a") / "page.md")
    (root / "dir-link").symlink_to(root / "_posts", target_is_directory=True)
    (root / "dangling.md").symlink_to(root / "missing.md")
    (root / "self.md").symlink_to(root / "self.md")
    (root / "fifo").mkdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo" / "pipe.md")
    paths = [
        "a/page.md",
        "_posts/2014-01-01-x.md",
        "a",
        "_posts",
        "a/loop/page.md",
        "a/loop/loop/page.md",
        "a/up/a/page.md",
        "a/up/out/secret.md",
        "out/secret.md",
        "out-file.md",
        "inside-link.md",
        "relative-link.md",
        "dir-link/2014-01-01-x.md",
        "dangling.md",
        "self.md",
        "fifo/pipe.md",
        "missing.md",
        "a/page.md/more",
        "a/../a/page.md",
        "./a/page.md",
        "a//page.md",
        "/a/page.md",
        "../site/a/page.md",
        "../outside/secret.md",
        "",
        ".",
        "a/page.md\x00",
        "a\\page.md",
        "_config.yml",
    ]
    for path in paths:
        found = site.real_file(path)
        answer = None if found is None else (found[0], found[1].st_ino)
        assert answer == _real_file_resolved_whole(site, path), path


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_unreadable_files_are_skipped(tmp_path: Path) -> None:
    site = make_site(tmp_path, {}, {"a.md": front(), "b.md": front()})
    (tmp_path / "b.md").chmod(0)
    try:
        assert [source.path for source in site.discover()] == ["a.md"]
    finally:
        (tmp_path / "b.md").chmod(0o644)


# --- front matter helper ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no front matter\n", None),
        ("", None),
        ("---\n---\nbody", {}),
        ("---\ntitle: x\n---\nbody", {"title": "x"}),
        ("---\r\ntitle: x\r\n---\r\nbody", {"title": "x"}),
        ("\ufeff---\ntitle: x\n---\n", {"title": "x"}),
        ("---\ntitle: x\n...\nbody", {"title": "x"}),
        ("---   \ntitle: x\n---\n", {"title": "x"}),
        ("---\ntitle: x\n", {}),  # unclosed: still a page for Jekyll, without data
        ("---\ntitle: [x\n---\n", {}),  # broken YAML
        ("---\n- a\n- b\n---\n", {}),  # not a mapping
        ("----\ntitle: x\n---\n", None),
        (" ---\ntitle: x\n---\n", None),
    ],
)
def test_read_front_matter(text: str, expected: dict[str, Any] | None) -> None:
    assert read_front_matter(text) == expected


def test_an_unsaved_file_is_classified_by_its_name_inside_the_site_only(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "_posts").mkdir(parents=True)
    (root / "_config.yml").write_text("title: t\n", encoding="utf-8")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "_posts" / "away").symlink_to(outside, target_is_directory=True)
    (root / "_posts" / "2020-01-02-a-folder.md").mkdir()
    site = Site.open(root)
    name = "_posts/2020-01-01-new.md"
    assert site.classify(name) is None  # not on disk
    source = site.classify(name, on_disk=False)
    assert source is not None and source.kind is EntryKind.POST and source.size == 0
    # Never where the real location is outside the site, nor over something that exists.
    assert site.classify("_posts/away/2020-01-01-new.md", on_disk=False) is None
    assert site.classify("_posts/2020-01-02-a-folder.md", on_disk=False) is None
    assert site.classify("../2020-01-01-new.md", on_disk=False) is None
