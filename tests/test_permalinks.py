"""Permalinks, slugs, escaping and URL keys, pinned as tables (the URLs are Jekyll 4.3.1's)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from letterhead.site.model import Site
from letterhead.site.permalinks import (
    STYLE_TO_PERMALINK,
    _canonical,
    _resolve_dots,
    add_permalink_suffix,
    escape_path,
    expand,
    expand_sequential,
    normalize_url,
    output_path_key,
    sanitize_url,
    slugify,
    unknown_placeholders,
    url_to_output_path,
)

CASES_FILE = Path(__file__).parent / "data" / "permalinks" / "cases.yml"
PERMALINK_CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text("utf-8"))
NOW = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['permalink']}|{case['file']}|{case['front_matter']}"


@pytest.mark.parametrize("case", PERMALINK_CASES, ids=_case_id)
def test_permalink_table(case: dict[str, Any], tmp_path: Path) -> None:
    config = {
        "permalink": case["permalink"],
        "timezone": "UTC",
        "collections": {
            "letters": {"output": True},
            "films": {"output": True, "permalink": "/films/:path/"},
        },
    }
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config), "utf-8")
    path = tmp_path / case["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    front = yaml.safe_dump(case["front_matter"], allow_unicode=True) if case["front_matter"] else ""
    path.write_text(f"---\n{front}---\nText.\n", "utf-8")
    site = Site.open(tmp_path)
    source = site.classify(case["file"])
    assert source is not None
    entry = site.read_entry(source, NOW)
    assert entry is not None
    assert entry.url == case["url"]
    if case.get("jekyll_stops"):
        assert entry.problems, "an unknown placeholder is reported"


# --- expand: the template engine on its own --------------------------------------------------

EXPAND_CASES = [
    (
        "/:year/:month/:day/:title:output_ext",
        {"year": "2014", "month": "03", "day": "01", "title": "amélie", "output_ext": ".html"},
        "/2014/03/01/am%C3%A9lie.html",
    ),
    ("/:categories/:title/", {"categories": "", "title": "x"}, "/x/"),
    (
        "/:categories/:title/",
        {"categories": "on video/reviews", "title": "x"},
        "/on%20video/reviews/x/",
    ),
    ("/:month_:day/", {"month": "03", "day": "09"}, "/03_09/"),
    ("/:title/", {"title": "a?b"}, "/a?b/"),  # Addressable reads `?` as a query: left as is
    ("/:title/", {"title": "a#b"}, "/a%23b/"),
    ("/:title/", {"title": "50%"}, "/50%25/"),
    ("/:title/", {"title": "C'est (très) bien!"}, "/C'est%20(tr%C3%A8s)%20bien!/"),
    ("/:unknown/:title/", {"title": "x"}, "/:unknown/x/"),
    ("/:Title/", {"title": "x"}, "/:Title/"),  # placeholders are lowercase only
    ("no-slash/:title", {"title": "x"}, "/no-slash/x"),
    ("/a/../b/./:title//", {"title": "x"}, "/a/b/x/"),
]


@pytest.mark.parametrize(("pattern", "placeholders", "expected"), EXPAND_CASES)
def test_expand(pattern: str, placeholders: dict[str, str], expected: str) -> None:
    assert expand(pattern, placeholders) == expected


@pytest.mark.parametrize(
    ("pattern", "placeholders", "expected"),
    [
        (
            "/:path/:basename:output_ext",
            {"path": "/sub", "basename": "about", "output_ext": ".html"},
            "/sub/about.html",
        ),
        ("/:path/", {"path": "", "basename": "index", "output_ext": ".html"}, "/"),
        (
            "/:path/:basename/",
            {"path": "/a b", "basename": "c", "output_ext": ".html"},
            "/a%20b/c/",
        ),
        ("/:title/:basename", {"path": "", "basename": "x", "output_ext": ""}, "/:title/x"),
        ("/:collection/:path", {"collection": None, "path": "/a"}, "/a"),  # None removes `/:key`
    ],
)
def test_expand_sequential(
    pattern: str, placeholders: dict[str, str | None], expected: str
) -> None:
    assert expand_sequential(pattern, placeholders) == expected


def test_unknown_placeholders_are_named() -> None:
    assert unknown_placeholders("/:year/:nope/:title_:also_no/") == ["nope", "also_no"]
    assert unknown_placeholders(STYLE_TO_PERMALINK["weekdate"]) == []
    for pattern in STYLE_TO_PERMALINK.values():
        assert unknown_placeholders(pattern) == []


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("date", "/:path/:basename:output_ext"),
        ("pretty", "/:path/:basename/"),
        ("ordinal", "/:path/:basename:output_ext"),
        ("none", "/:path/:basename:output_ext"),
        ("weekdate", "/:path/:basename"),
        ("/:year/:title/", "/:path/:basename/"),
        ("/:year/:title:output_ext", "/:path/:basename:output_ext"),
        ("/:year/:title.html", "/:path/:basename"),
    ],
)
def test_add_permalink_suffix(style: str, expected: str) -> None:
    assert add_permalink_suffix("/:path/:basename", style) == expected


# --- slugify ------------------------------------------------------------------------------------

SLUGIFY_CASES = [
    ("The _config.yml file", "default", False, "the-config-yml-file"),
    ("The _config.yml file", "pretty", False, "the-_config.yml-file"),
    ("The _config.yml file", "pretty", True, "The-_config.yml-file"),
    ("The _config.yml file", "ascii", False, "the-config-yml-file"),
    ("The _config.yml file", "latin", False, "the-config-yml-file"),
    ("The _config.yml file", "raw", False, "the-_config.yml-file"),
    ("The _config.yml file", "none", True, "The _config.yml file"),
    ("Amélie", "default", False, "amélie"),
    ("Amélie", "ascii", False, "am-lie"),
    ("Amélie", "latin", False, "amelie"),
    ("静かな夜", "default", False, "静かな夜"),
    ("静かな夜", "latin", False, ""),
    ("Mixed Case & Spaces!", "pretty", True, "Mixed-Case-&-Spaces!"),
    ("Mixed Case & Spaces!", "default", False, "mixed-case-spaces"),
    ("--lead and trail--", "default", False, "lead-and-trail"),
    ("--lead", "raw", False, "-lead"),  # only one hyphen is trimmed at each end
    ("Film №5 ½", "default", False, "film-5"),  # № and ½ are not letters or decimal digits
    ("Ｆｕｌｌ２", "default", False, "ｆｕｌｌ２"),
    ("Ça va? Oui.", "pretty", False, "ça-va-oui."),
]


@pytest.mark.parametrize(("text", "mode", "cased", "expected"), SLUGIFY_CASES)
def test_slugify(text: str, mode: str, cased: bool, expected: str) -> None:
    assert slugify(text, mode, cased) == expected


# --- escaping and sanitizing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain/path-1.html", "plain/path-1.html"),
        ("", ""),
        ("a b", "a%20b"),
        ("amélie", "am%C3%A9lie"),
        ("a&b!c=d@e:f+g,h;i'j(k)l*m~n_o", "a&b!c=d@e:f+g,h;i'j(k)l*m~n_o"),
        ('a"b<c>d[e]f{g}h|i\\j^k`l', "a%22b%3Cc%3Ed%5Be%5Df%7Bg%7Dh%7Ci%5Cj%5Ek%60l"),
        ("x#y#z", "x%23y%23z"),
    ],
)
def test_escape_path(value: str, expected: str) -> None:
    assert escape_path(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("a/b", "/a/b"),
        ("//a///b//", "/a/b/"),
        ("/a/../b", "/a/b"),
        ("/a./b", "/ab"),
        ("/./a", "/a"),
        ("/2014/1/30/a-film.html", "/2014/1/30/a-film.html"),  # already clean: unchanged
        ("/a/", "/a/"),
        ("/a.", "/a."),
    ],
)
def test_sanitize_url(url: str, expected: str) -> None:
    assert sanitize_url(url) == expected


# --- output paths and URL keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "output_ext", "expected"),
    [
        ("/about.html", ".html", "about.html"),
        ("/about", ".html", "about.html"),
        ("/about/", ".html", "about/index.html"),
        ("/", ".html", "index.html"),
        ("/feed/", ".xml", "feed/index.xml"),
        ("/api/data", ".json", "api/data.json"),
        ("/2014/03/01/am%C3%A9lie.html", ".html", "2014/03/01/amélie.html"),
        ("/on%20video/x.html", ".html", "on video/x.html"),
    ],
)
def test_url_to_output_path(url: str, output_ext: str, expected: str) -> None:
    assert url_to_output_path(url, output_ext) == expected


SAME_PAGE = [
    [
        "/a.html",
        "/a",
        "/a?x=1",
        "/a#top",
        "/a.html#top",
        "/blog/a.html",
        "https://example.org/blog/a",
    ],
    ["/a/", "/a/index.html", "/a/index", "/a/#x", "/blog/a/", "/a//", "/a/./", "/b/../a/"],
    ["/", "/index.html", "/index", "/blog", "/blog/", "/blog/index.html"],
    ["/2014/03/01/amélie.html", "/2014/03/01/am%C3%A9lie.html", "/2014/03/01/am%c3%a9lie"],
    ["/on video/x.html", "/on%20video/x"],
    ["/img/x.png", "/img/x.png?v=2", "/blog/img/x.png"],
]


@pytest.mark.parametrize("group", SAME_PAGE, ids=[group[0] for group in SAME_PAGE])
def test_normalize_url_equivalences(group: list[str]) -> None:
    keys = {normalize_url(url, "/blog", site_url="https://example.org") for url in group}
    assert len(keys) == 1 and None not in keys


def test_normalize_url_keeps_different_pages_apart() -> None:
    urls = ["/a.html", "/a/", "/a.htm", "/A.html", "/a.xml", "/b/a.html", "/img/x.png", "/img/x"]
    keys = [normalize_url(url) for url in urls]
    assert len(set(keys)) == len(urls)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/a.html",
        "https://example.org/",
        "mailto:someone@example.org",
        "tel:+123",
        "//cdn.example.org/x.js",
        "#fragment",
        "?query",
        "",
        "   ",
        "relative/path.html",
        "../up.html",
    ],
)
def test_normalize_url_rejects_non_site_urls(url: str) -> None:
    assert normalize_url(url) is None


def test_normalize_url_resolves_relative_paths_against_a_base() -> None:
    assert normalize_url("b.html", base="/dir/a.html") == "/dir/b"
    assert normalize_url("../b/", base="/dir/sub/") == "/dir/b/"
    assert normalize_url("../../../b.html", base="/a/") == "/b"  # never above the root


def test_baseurl_is_only_stripped_on_a_segment_boundary() -> None:
    assert normalize_url("/blogroll.html", "/blog") == "/blogroll"
    assert normalize_url("/blog/x.html", "blog/") == "/x"


@pytest.mark.parametrize(
    ("output_path", "url"),
    [
        ("about.html", "/about"),
        ("sub/index.html", "/sub/"),
        ("index.html", "/"),
        ("feed.xml", "/feed.xml"),
        ("LICENSE", "/LICENSE"),
        ("on video/x.html", "/on%20video/x.html"),
    ],
)
def test_output_path_key_matches_links(output_path: str, url: str) -> None:
    assert output_path_key(output_path) == normalize_url(url)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "b.html", "index", "index.html", ".", "..", "", "x~y", "%41", "-_"]),
        max_size=5,
    ),
    st.booleans(),
    st.sampled_from(["", "/blog", "/a"]),
)
def test_normalize_url_fast_path_agrees_with_the_general_one(
    segments: list[str], trailing: bool, baseurl: str
) -> None:
    """Plain paths skip decoding and dot resolution; the key must be what those would give."""
    url = "/" + "/".join(segments) + ("/" if trailing and segments else "")
    assume(not url.startswith("//"))  # protocol-relative: not a site path at all
    general = _resolve_dots(unquote(url))
    prefix = "/" + baseurl.strip("/") if baseurl.strip("/") else ""
    if prefix and (general == prefix or general.startswith(prefix + "/")):
        general = general[len(prefix) :] or "/"
    assert normalize_url(url, baseurl) == _canonical(general)
