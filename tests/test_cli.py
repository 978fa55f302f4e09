"""The command line, run as a real process: formats, exit codes, --fix, tags, rules, explain."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from letterhead.cores import MIN_DOCUMENTS_PER_WORKER

BASE_SITE = Path(__file__).parent / "cases" / "base-site"
FLAWED = """---
title: "Flawed"
author: annaw
addressee: Rithy Panh
position: Director
imdb: tt0373890
stars: 4
tags: [Letters, cambodia, "Khmer Rouge"]   # a comment that must survive
categories:
  - reviews
---
_**Dear Rithy Panh**, Director,_

See [the killing][1] and [S21][2].

   [1]: /content/2013/9/31/the-act-of-killing.html
   [2]: /content/2014/5/2/s21.html

{% contentfor signature %}
**Yours,**

Anna
{% endcontentfor %}
"""


def run(
    *arguments: str, cwd: Path | None = None, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "letterhead", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **environment} if environment else None,
        timeout=120,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(BASE_SITE, root)
    (root / "_posts" / "2014-06-01-flawed.md").write_text(FLAWED, encoding="utf-8")
    return root


def test_clean_site_exits_zero(tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(BASE_SITE, root)
    result = run("check", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no findings" in result.stdout


def test_text_output_reads_like_a_compiler(site: Path) -> None:
    result = run("check", "_posts/2014-06-01-flawed.md", cwd=site)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith(
            "_posts/2014-06-01-flawed.md:16:9: warning LK001 no page of the site has the URL"
        )
        for line in lines
    ), result.stdout
    assert any(
        line.startswith("_posts/2014-06-01-flawed.md:8:8: warning TX001 `Letters`")
        for line in lines
    )


def test_json_report_has_the_documented_shape(site: Path) -> None:
    result = run("check", "--format", "json", str(site))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"version", "files", "findings"}
    assert report["version"] == 1
    assert report["files"] == 5
    dead = next(f for f in report["findings"] if f["code"] == "LK001")
    assert set(dead) == {"path", "code", "name", "severity", "message", "range", "fix"}
    assert dead["path"] == "_posts/2014-06-01-flawed.md"
    assert dead["name"] == "dead-internal-link"
    assert dead["severity"] == "warning"
    assert dead["range"] == {
        "start": {"line": 15, "character": 8},
        "end": {"line": 15, "character": 50},
    }
    assert dead["message"].endswith("did you mean /content/2013/9/13/the-act-of-killing.html?")
    assert dead["fix"]["edits"] == [
        {
            "path": "_posts/2014-06-01-flawed.md",
            "range": dead["range"],
            "new_text": "/content/2013/9/13/the-act-of-killing.html",
        }
    ]


def test_github_and_sarif_formats(site: Path) -> None:
    github = run("check", "--format", "github", str(site))
    assert (
        "::warning file=" in github.stdout and "title=LK001 dead-internal-link::" in github.stdout
    )
    sarif = json.loads(run("check", "--format", "sarif", str(site)).stdout)
    assert sarif["version"] == "2.1.0"
    driver = sarif["runs"][0]["tool"]["driver"]
    assert {"LK001", "TX001", "FM002"} <= {r["id"] for r in driver["rules"]}
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "LK001")
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 16


def test_fix_mends_and_keeps_the_yaml_as_written(site: Path) -> None:
    result = run("check", "--fix", str(site))
    fixed = (site / "_posts" / "2014-06-01-flawed.md").read_text(encoding="utf-8")
    assert 'tags: [letters, cambodia, "khmer rouge"]   # a comment that must survive\n' in fixed
    assert "[1]: /content/2013/9/13/the-act-of-killing.html" in fixed
    assert (
        fixed.replace(
            'letters, cambodia, "khmer rouge"', 'Letters, cambodia, "Khmer Rouge"'
        ).replace("2013/9/13", "2013/9/31")
        == FLAWED
    )
    assert result.returncode == 0, result.stdout


def test_fix_runs_until_no_fix_is_left(site: Path) -> None:
    """A fix can uncover another: the misspelt key is mended in one round, and only then is its
    value a category variant, mended in the next."""
    path = site / "_posts" / "2014-06-02-misspelt.md"
    path.write_text(
        FLAWED.replace("categories:\n  - reviews", "catgories:\n  - Reviews"), encoding="utf-8"
    )
    result = run("check", "--fix", str(site))
    assert "catgories" not in (fixed := path.read_text(encoding="utf-8"))
    assert "categories:\n  - reviews\n" in fixed
    rounds = [line for line in result.stderr.splitlines() if line.startswith("letterhead: fixed")]
    assert len(rounds) == 2, result.stderr


def test_fix_on_every_core_mends_what_one_core_mends(
    tmp_path: Path, generate_site: Callable[..., Any]
) -> None:
    """A site large enough for the check's workers: fixed on two cores and on one, the files and
    the report after the fixes are the same."""
    one, two = tmp_path / "one" / "site", tmp_path / "two" / "site"
    generate_site(one, reviews=2 * MIN_DOCUMENTS_PER_WORKER + 50, seed=5)
    shutil.copytree(one, two)
    serial = run("check", "--fix", "--jobs", "1", "site", cwd=one.parent)
    parallel = run("check", "--fix", "--jobs", "2", "site", cwd=two.parent)
    assert "letterhead: fixed" in serial.stderr, "the generator plants fixable mistakes"
    assert (parallel.stdout, parallel.stderr) == (serial.stdout, serial.stderr)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert all((one / f).read_bytes() == (two / f).read_bytes() for f in files)


def test_fix_keeps_crlf_and_bom(site: Path) -> None:
    path = site / "_posts" / "2014-06-01-flawed.md"
    path.write_bytes(b"\xef\xbb\xbf" + FLAWED.replace("\n", "\r\n").encode("utf-8"))
    run("check", "--fix", str(site))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"2013/9/13/the-act-of-killing" in raw


def test_usage_errors_exit_two(tmp_path: Path) -> None:
    assert run("check", str(tmp_path / "missing")).returncode == 2
    assert run("check", str(tmp_path)).returncode == 2  # no _config.yml anywhere above
    assert run("explain", "XX999").returncode == 2
    assert run("check", "--format", "yaml", str(tmp_path)).returncode == 2


def test_files_named_from_two_sites_are_each_checked_in_their_own(site: Path) -> None:
    """A site inside a folder of another is a site of its own: of the files named together,
    each is checked against the nearest site above it, and a folder named is one of them."""
    inner = site / "letters" / "inner"
    shutil.copytree(BASE_SITE, inner)
    (inner / "_posts" / "2014-06-01-flawed.md").write_text(FLAWED, encoding="utf-8")
    # The outer site takes the inner one's posts for its own (a category's `_posts`): only the
    # inner site's settings tell the two checks apart.
    config = inner / "_config.yml"
    config.write_text(config.read_text("utf-8") + "  rules: {LK001: error}\n", "utf-8")
    named = [
        "_posts/2014-06-01-flawed.md",
        "letters/inner/_posts/2014-06-01-flawed.md",
        "letters/inner/_posts",
        "_posts",
    ]
    result = run("check", *named, cwd=site)
    assert result.returncode == 1, result.stderr
    posts = len(list((BASE_SITE / "_posts").glob("*.md"))) + 1
    # Each site's reviews once, none in the other's.
    assert f"{2 * posts} files checked" in result.stdout, result.stdout
    dead = sorted(
        (line.split(":")[0], line.split()[1])
        for line in result.stdout.splitlines()
        if " LK001 " in line
    )
    assert dead == [(named[0], "warning"), (named[1], "error")], result.stdout


def test_rules_and_explain() -> None:
    listing = run("rules")
    assert listing.returncode == 0
    for code in ("FM001", "TX001", "TX101", "LK001", "LT001", "LQ001", "CF001"):
        assert code in listing.stdout
    by_code = run("explain", "LK001")
    by_name = run("explain", "dead-internal-link")
    assert by_code.stdout == by_name.stdout
    assert "post_url" in by_code.stdout


def test_tags_report_and_rename(site: Path) -> None:
    report = json.loads(run("tags", str(site), "--format", "json").stdout)
    names = {item["name"]: item["reviews"] for item in report["tags"]["names"]}
    assert names["letters"] == 4  # the unpublished review counts too: it is still in the repository
    assert [v["name"] for v in report["tags"]["variants"][0]] == ["letters", "Letters"]
    result = run("tags", str(site), "--rename", "cambodia", "Cambodia")
    assert result.returncode == 0, result.stderr
    assert "in 3 review(s)" in result.stdout
    flawed = (site / "_posts" / "2014-06-01-flawed.md").read_text(encoding="utf-8")
    assert "tags: [Letters, Cambodia, " in flawed
    after = json.loads(run("tags", str(site), "--format", "json").stdout)
    assert {item["name"] for item in after["tags"]["names"]} >= {"Cambodia"}
    assert "cambodia" not in {item["name"] for item in after["tags"]["names"]}
    # The report comes from the persistent index the runs before wrote (the renamed reviews
    # read again): the same as from the files alone.
    uncached = run("tags", str(site), "--format", "json", environment={"LETTERHEAD_CACHE": "off"})
    assert json.loads(uncached.stdout) == after


def test_check_does_not_import_the_protocol_stack(site: Path) -> None:
    probe = (
        "import sys\n"
        "from letterhead.cli import main\n"
        f"main(['check', {str(site)!r}])\n"
        "assert not any(m.split('.')[0] in ('pygls', 'lsprotocol') for m in sys.modules), 'imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert "imported" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
