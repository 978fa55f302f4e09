"""The synthetic site generator (bench/generate.py): determinism, counts, and that every link,
author, tag and signature is right except for the mistakes it says it planted.

These checks are written independently of letterhead's engine, from the file names and texts
alone, so that the generator can be trusted as a source of truth for the engine's benchmarks.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench_modules import load

REPO = Path(__file__).resolve().parent.parent
GENERATOR = REPO / "bench" / "generate.py"
EXAMPLE = REPO / "examples" / "site"


generate = load("generate")

POST_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)\.md$")
DEFINITION = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(\S.*?)\s*$", re.M)
REFERENCE = re.compile(r"\[[^\]\n]+\]\[([^\]\n]+)\]")
INLINE_POST_URL = re.compile(r"\]\(\{% post_url (\S+) %\}\)")
IAL_ID = re.compile(r"^\{:#([A-Za-z][\w:-]*)\}$", re.M)
SIGNATURE = re.compile(r"\{% contentfor signature %\}.*?\{% endcontentfor %\}", re.S)


def digest(root: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        sha.update(path.relative_to(root).as_posix().encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def split(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    yaml_text, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(yaml_text), body


def url_from_name(name: str) -> str:
    match = POST_NAME.match(name)
    assert match, name
    year, month, day, slug = match.groups()
    return f"/content/{int(year)}/{int(month)}/{int(day)}/{slug}.html"


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().replace("-", " ").replace("_", " ").split())


def distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent transpositions)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


class Site:
    """A generated site read back from disk."""

    def __init__(self, result) -> None:  # type: ignore[no-untyped-def]
        self.result = result
        self.root: Path = result.root
        self.files: dict[str, str] = {}
        self.front: dict[str, dict] = {}
        self.body: dict[str, str] = {}
        for folder in ("_posts", "_drafts"):
            for path in sorted((self.root / folder).glob("*.md")):
                relative = f"{folder}/{path.name}"
                text = path.read_text(encoding="utf-8")
                self.files[relative] = text
                self.front[relative], self.body[relative] = split(text)
        self.published = {
            path
            for path, data in self.front.items()
            if path.startswith("_posts/") and data.get("published") is not False
        }
        self.urls = {url_from_name(path.split("/", 1)[1]): path for path in self.published}
        self.post_ids = {path[len("_posts/") : -len(".md")]: path for path in self.published}
        self.authors = yaml.safe_load((self.root / "_data" / "authors.yml").read_text("utf-8"))
        self.planted: dict[str, list] = {}
        for mistake in result.mistakes:
            self.planted.setdefault(mistake.code, []).append(mistake)

    def planted_paths(self, code: str) -> set[str]:
        return {m.path for m in self.planted.get(code, [])}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    out = tmp_path_factory.mktemp("generated") / "site"
    return Site(generate.generate_site(out, reviews=400, seed=5))


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    first = generate.generate_site(tmp_path / "a", reviews=60, seed=11)
    second = generate.generate_site(tmp_path / "b", reviews=60, seed=11)
    other = generate.generate_site(tmp_path / "c", reviews=60, seed=12)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert first.mistakes == second.mistakes
    assert first.tag_counts == second.tag_counts
    assert other.reviews == 60


def test_output_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    digests = []
    for hash_seed in ("0", "4242"):
        out = tmp_path / f"site-{hash_seed}"
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        command = [sys.executable, str(GENERATOR), str(out), "--reviews", "40", "--seed", "3"]
        subprocess.run(command, env=env, check=True, capture_output=True)
        digests.append(digest(out))
    assert digests[0] == digests[1]


def test_counts_match_the_files(site: Site) -> None:
    result = site.result
    posts = list((site.root / "_posts").glob("*.md"))
    drafts = list((site.root / "_drafts").glob("*.md"))
    assert result.reviews == 400 == len(posts) + len(drafts)
    assert result.posts == len(posts) and result.drafts == len(drafts)
    assert result.unpublished == sum(
        1 for p in posts if site.front[f"_posts/{p.name}"]["published"] is False
    )
    assert result.images == len(list((site.root / "images").glob("*.jpg")))
    assert result.urls == {path: url_from_name(path.split("/", 1)[1]) for path in site.published}
    assert result.authors == len(site.authors)
    assert sum(Counter(t for d in site.front.values() for t in tags_of(d)).values()) == sum(
        result.tag_counts.values()
    )
    for path in drafts:
        assert not POST_NAME.match(path.name), "drafts have no date in their names"
    sizes = [len(text.encode("utf-8")) for text in site.files.values()]
    assert 2_000 < sum(sizes) / len(sizes) < 4_500  # ~3 KB a review


def test_scaffold_is_shaped_like_the_example(site: Site) -> None:
    config = yaml.safe_load((site.root / "_config.yml").read_text("utf-8"))
    assert config["permalink"] == "/content/:year/:i_month/:i_day/:title.html"
    assert config["defaults"][0]["values"]["layout"] == "review"
    assert config["letterhead"] == {"letter_layouts": ["review"], "image_dirs": ["images"]}
    for layout in ("default.html", "review.html", "post.html"):
        assert (site.root / "_layouts" / layout).is_file()
    assert (site.root / "_plugins" / "contentfor.rb").is_file()
    image = next((site.root / "images").glob("*.jpg")).read_bytes()
    assert image[:2] == b"\xff\xd8" and image[-2:] == b"\xff\xd9" and len(image) < 400


def test_internal_links_point_to_generated_urls(site: Site) -> None:
    dead = {(m.path, m.line) for m in site.planted.get("LK001", [])}
    expected_dead = {m.path: m.expected for m in site.planted.get("LK001", [])}
    anchors = {
        path: set(IAL_ID.findall(site.body[path])) for path in site.published if path in site.body
    }
    seen_fragment = seen_post_url = 0
    for path, text in site.files.items():
        lines = text.split("\n")
        for match in DEFINITION.finditer(text):
            url = match.group(2)
            line = text.count("\n", 0, match.start()) + 1
            assert lines[line - 1].startswith("   [")
            assert "{%" not in url
            if url.startswith("http://www.imdb.com/title/"):
                assert url == f"http://www.imdb.com/title/{site.front[path]['imdb']}/"
                continue
            target, _, fragment = url.partition("#")
            if (path, line) in dead:
                assert target not in site.urls
                assert expected_dead[path] in site.urls
                continue
            assert target in site.urls, f"{path}:{line}: {url}"
            assert site.urls[target] != path, "a review never links to itself"
            if fragment:
                seen_fragment += 1
                assert fragment in anchors[site.urls[target]]
        for post_id in INLINE_POST_URL.findall(text):
            assert site.post_ids[post_id] != path
            seen_post_url += 1
    assert len(dead) == len(site.planted.get("LK001", [])) >= 1
    assert seen_post_url > 0 and seen_fragment > 0


def test_references_and_definitions_match(site: Site) -> None:
    undefined = site.planted_paths("LK003")
    for path, body in site.body.items():
        defined = {label for label, _ in DEFINITION.findall(body)}
        used = set(REFERENCE.findall(body))
        assert defined <= used, f"{path}: unused definitions {defined - used}"
        internal = [u for _, u in DEFINITION.findall(body) if not u.startswith("http")]
        assert 2 <= len(internal) + len(INLINE_POST_URL.findall(body)) <= 6
        if path in undefined:
            assert len(used - defined) == 1
        else:
            assert used == defined, path


def test_letters_are_addressed_signed_and_by_known_authors(site: Site) -> None:
    unknown = {m.path: m for m in site.planted.get("FM009", [])}
    unsigned = site.planted_paths("LT003")
    for path, data in site.front.items():
        body = site.body[path]
        first = body.split("\n\n", 1)[0]
        assert first == f"_**Dear {data['addressee']}**, {data['position']},_"
        assert isinstance(data["title"], str) and data["title"]
        assert re.fullmatch(r"tt\d{7}", data["imdb"])
        assert data["stars"] * 2 == int(data["stars"] * 2) and 0 <= data["stars"] <= 5
        assert isinstance(data["comments"], bool) and isinstance(data["published"], bool)
        assert data["categories"][0] == "reviews"
        assert (site.root / "images" / data["image"]).is_file()
        if path in unknown:
            assert data["author"] not in site.authors
            assert unknown[path].expected in site.authors
        else:
            assert data["author"] in site.authors
        signatures = SIGNATURE.findall(body)
        assert len(signatures) == (0 if path in unsigned else 1), path
        if signatures:
            handle = unknown[path].expected if path in unknown else data["author"]
            name = site.authors[handle]["name"].split(" ")[0]
            assert signatures[0][: -len("{% endcontentfor %}")].strip().endswith(name)


def tags_of(data: dict) -> list[str]:
    tags = data.get("tags") or []
    assert isinstance(tags, list)
    return [str(tag) for tag in tags]


def test_tags_are_zipf_shaped(tmp_path: Path) -> None:
    result = generate.generate_site(tmp_path / "s", reviews=1500, seed=2)
    counts = sorted(result.tag_counts.values(), reverse=True)
    assert result.vocabulary == 2000
    assert counts[0] > 0.3 * 1500  # a few tags are everywhere
    assert counts[0] > 5 * counts[20] > 0
    assert sum(1 for c in counts if c == 1) > 0.3 * len(counts)  # and a long tail used once


def test_tag_findings_are_exactly_the_planted_ones(site: Site) -> None:
    uses: dict[str, set[str]] = {}
    for path, data in site.front.items():
        tags = tags_of(data)
        assert len({fold(t) for t in tags}) == len(tags), f"{path}: duplicate tag"
        for tag in tags:
            uses.setdefault(tag, set()).add(path)
    by_fold: dict[str, Counter[str]] = {}
    for tag, users in uses.items():
        by_fold.setdefault(fold(tag), Counter())[tag] = len(users)

    variants = set()
    for spellings in by_fold.values():
        if len(spellings) > 1:
            canonical, _ = spellings.most_common(1)[0]
            variants |= {(path, tag) for tag in spellings if tag != canonical for path in uses[tag]}
    planted_variants = {(m.path, m.detail.rsplit("`", 2)[-2]) for m in site.planted["TX001"]}
    assert variants == planted_variants and variants

    near_misses = set()
    letters = {other: Counter(other) for other in by_fold}
    for tag, users in uses.items():
        if len(users) != 1:
            continue
        folded = fold(tag)
        if len(folded) < 4:
            continue
        limit = 1 if len(folded) < 8 else 2
        for other in by_fold:
            if other == folded or abs(len(other) - len(folded)) > limit:
                continue
            # Each edit changes the letter counts by at most one either way: a cheap lower bound.
            if sum((letters[folded] - letters[other]).values()) > limit:
                continue
            if re.sub(r"\d", "", other) == re.sub(r"\d", "", folded):
                continue  # `Oscars 2014` and `Oscars 2015` are different tags
            if distance(folded, other) <= limit:
                near_misses.add((next(iter(users)), tag))
    planted_typos = {(m.path, m.detail.rsplit("`", 2)[-2]) for m in site.planted["TX002"]}
    assert near_misses == planted_typos and near_misses
    for mistake in site.planted["TX002"]:
        typo = mistake.detail.rsplit("`", 2)[-2]
        assert distance(fold(typo), fold(mistake.expected)) == 1


def test_mistakes_have_lines_that_show_them(site: Site) -> None:
    assert {"TX001", "TX002", "LK001", "LK003", "FM009", "LT003"} <= set(site.planted)
    paths = [m.path for m in site.result.mistakes]
    for mistake in site.result.mistakes:
        lines = site.files[mistake.path].split("\n")
        line = lines[mistake.line - 1]
        if mistake.code in ("TX001", "TX002"):
            assert mistake.detail.rsplit("`", 2)[-2] in line
        elif mistake.code == "FM009":
            assert line.startswith("author: ")
        elif mistake.code == "LK003":
            assert re.search(r"\]\[\d+\]", line)
        elif mistake.code == "LK001":
            assert line.startswith("   [")
    # one planted mistake per review, and ~0.5% of reviews for the four non-tag kinds
    assert len(paths) == len(set(paths))
    assert all(len(site.planted[code]) == 1 for code in ("LK001", "LK003", "FM009", "LT003"))


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    manifest = tmp_path / "planted.json"
    assert (
        generate.main([str(out), "--reviews", "30", "--seed", "9", "--manifest", str(manifest)])
        == 0
    )
    assert '"reviews": 30' in capsys.readouterr().out
    assert '"mistakes"' in manifest.read_text("utf-8")
    # A generated site may be regenerated in place; any other folder is left alone.
    assert generate.main([str(out), "--reviews", "20", "--seed", "9"]) == 0
    assert (
        len(list((out / "_posts").glob("*.md"))) + len(list((out / "_drafts").glob("*.md"))) == 20
    )
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", "utf-8")
    assert generate.main([str(other), "--reviews", "5"]) == 2
    assert (other / "notes.txt").read_text("utf-8") == "keep me"


def test_tiny_jpeg_is_a_jpeg() -> None:
    for gray in (0, 1, 127, 128, 200, 255):
        data = generate.tiny_jpeg(gray)
        assert data.startswith(b"\xff\xd8\xff\xe0") and data.endswith(b"\xff\xd9")
        assert b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01" in data  # baseline, 8 bits, 1x1


@pytest.mark.jekyll
def test_jekyll_builds_a_generated_site(tmp_path: Path) -> None:
    if shutil.which("jekyll") is None:
        pytest.skip("jekyll is not installed")
    result = generate.generate_site(tmp_path / "site", reviews=40, seed=4)
    built = tmp_path / "built"
    run = subprocess.run(
        ["jekyll", "build", "-q", "--disable-disk-cache", "-s", str(result.root), "-d", str(built)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    for path, url in result.urls.items():
        page = built / url.lstrip("/")
        assert page.is_file(), (path, url)
    signed = next(p for p in result.urls if p not in {m.path for m in result.mistakes})
    html = (built / result.urls[signed].lstrip("/")).read_text("utf-8")
    assert 'class="signature"' in html and "{%" not in html


@pytest.mark.jekyll
def test_jekyll_builds_the_example_site(tmp_path: Path) -> None:
    if shutil.which("jekyll") is None:
        pytest.skip("jekyll is not installed")
    built = tmp_path / "built"
    run = subprocess.run(
        ["jekyll", "build", "-q", "--disable-disk-cache", "-s", str(EXAMPLE), "-d", str(built)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert not (built / "MISTAKES.md").exists() and not (built / "README.md").exists()
    assert (built / "content" / "2013" / "9" / "13" / "the-act-of-killing.html").is_file()
    assert not (built / "content" / "2015" / "7" / "24" / "amy.html").exists()  # unpublished
    page = (built / "content" / "2013" / "9" / "13" / "the-act-of-killing.html").read_text("utf-8")
    assert 'id="the-roof"' in page and 'class="signature"' in page
