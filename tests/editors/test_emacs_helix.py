"""The Emacs (eglot) and Helix snippets of editors/README.md, taken from the README itself.

Emacs: the `elisp` block is loaded into a batch Emacs with Debian's eglot and markdown-mode,
which opens a review of a copy of `examples/site` (`emacs/observe.el`): eglot must connect,
Flymake must hold letterhead's TX001 over the word `Letters`, hover and completion must answer.
Helix is not packaged for the test machines: its `toml` block is parsed and its command is
started and must answer `initialize` as a language server.

Set LETTERHEAD_SKIP_EMACS=1 to skip Emacs; a missing `emacs` fails (`bash editors/setup.sh`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "editors" / "README.md"
HERE = Path(__file__).resolve().parent
REVIEW = "_posts/2014-03-14-under-the-skin.md"


def snippet(language: str) -> str:
    """The one fenced block of `language` under the README's section for that editor."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, f"expected one {language} block in {README}, found {len(blocks)}"
    return blocks[0]


def path_with_letterhead() -> dict[str, str]:
    """The environment with this virtualenv's `letterhead` first on PATH, as after `pip install`."""
    scripts = Path(sys.executable).parent
    assert (scripts / "letterhead").exists(), f"no letterhead script in {scripts}"
    return {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.skipif(
    os.environ.get("LETTERHEAD_SKIP_EMACS") == "1", reason="LETTERHEAD_SKIP_EMACS=1"
)
def test_emacs_eglot_snippet(tmp_path: Path) -> None:
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.fail(
            "no `emacs`: run `bash editors/setup.sh` (apt: emacs-nox elpa-eglot elpa-markdown-mode)"
        )
    site = tmp_path / "site"
    shutil.copytree(ROOT / "examples" / "site", site)
    init = tmp_path / "letterhead-snippet.el"
    init.write_text(snippet("elisp"), encoding="utf-8")
    out = tmp_path / "seen.json"
    env = {
        **path_with_letterhead(),
        "HOME": str(tmp_path / "home"),  # nothing of the user's init, nor eglot's files
        "LETTERHEAD_SNIPPET": str(init),
        "LETTERHEAD_REVIEW": str(site / REVIEW),
        "LETTERHEAD_OUT": str(out),
    }
    (tmp_path / "home").mkdir()
    done = subprocess.run(
        [emacs, "--batch", "-q", "-l", str(HERE / "emacs" / "observe.el")],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.exists(), f"Emacs wrote nothing (exit {done.returncode}):\n{done.stderr[-3000:]}"
    seen: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert not seen.get("errors"), f"{seen['errors']}\n{done.stderr[-3000:]}"
    assert not seen.get("timeout"), done.stderr[-3000:]
    assert seen["major-mode"] == "markdown-mode"
    assert Path(seen["project-root"]).resolve() == site.resolve()
    (tx001,) = [d for d in seen["diagnostics"] if "TX001" in d["text"]]
    assert tx001["text"].startswith("letterhead [TX001]: `Letters`")
    assert tx001["line"] == 15 and tx001["covers"] == "Letters"
    assert "_**Dear Scarlett Johansson**, The woman,_" in seen["hover"]
    assert "usa" in seen["completion"] and "uk" not in seen["completion"]


def test_helix_snippet() -> None:
    config = tomllib.loads(snippet("toml"))
    server = config["language-server"]["letterhead"]
    (markdown,) = [language for language in config["language"] if language["name"] == "markdown"]
    assert "letterhead" in markdown["language-servers"]
    assert "_config.yml" in markdown["roots"]
    assert server["config"] == {"diagnostics": {"debounceMs": 150}}
    # The command Helix would run is a language server that takes `config` as its options.
    command = [server["command"], *server["args"]]
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "processId": None,
            "rootUri": None,
            "capabilities": {},
            "initializationOptions": server["config"],
        },
    }
    exit_ = {"jsonrpc": "2.0", "method": "exit"}
    payload = b""
    for message in (initialize, exit_):
        body = json.dumps(message).encode()
        payload += f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    done = subprocess.run(
        command, input=payload, capture_output=True, timeout=60, env=path_with_letterhead()
    )
    header, _, body = done.stdout.partition(b"\r\n\r\n")
    assert header.startswith(b"Content-Length:"), done.stderr.decode()
    length = re.search(rb"Content-Length: *(\d+)", header)
    assert length, header
    answer = json.loads(body[: int(length.group(1))])
    assert answer["id"] == 1
    capabilities = answer["result"]["capabilities"]
    assert capabilities["completionProvider"] and capabilities["hoverProvider"]
    assert answer["result"]["serverInfo"]["name"] == "letterhead"
