"""A restart reads the persistent index and re-reads only the files that changed meanwhile.

Two servers run one after the other on the same site (with the test session's cache folder, see
tests/conftest.py). Between them a review's tags are edited on disk, a review is deleted and one
is added, outside any editor. The second server must read exactly those files, and answer as if
it had indexed everything afresh: the new tag is offered, the deleted review's URL is dead, the
new review's URL is alive. A cache file that is garbage must cost a full index, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from pathlib import Path

import pytest
from lsp_support import (
    RecordingClient,
    capabilities,
    copy_site,
    initialize_params,
    server_config,
    uri,
)
from lsprotocol import types

from letterhead.cache import cache_path

LINKS = """---
title: Links
layout: review
author: annaw
addressee: Nobody
position: Reader
tags: [letters]
---
_**Dear Nobody**, Reader,_

See [the deleted one]({% post_url 2014-05-02-s21 %}) and
[the new one]({% post_url 2016-02-02-new-arrival %}).
"""

NEW_ARRIVAL = """---
title: New Arrival
layout: review
author: annaw
addressee: Someone
position: Director
tags: [letters, arrivals-from-disk]
---
_**Dear Someone**, Director,_

A new letter.
"""


async def _session(site: Path) -> tuple[RecordingClient, str]:
    """A server on `site`, indexed; returns the client and the server's indexing summary."""
    client = await server_config().start()
    assert isinstance(client, RecordingClient)
    await client.initialize_session(initialize_params(site, capabilities()))
    await client.indexed()
    summary = next(m.message for m in client.log_messages if "letterhead: indexed" in m.message)
    return client, summary


def _counts(summary: str) -> tuple[int, int]:
    match = re.search(
        r"\(([\d,]+) files read, ([\d,]+) from the persistent index(, its snapshot)?\)", summary
    )
    assert match is not None, summary
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


async def _tags_offered(client: RecordingClient, path: Path, text: str) -> set[str]:
    line = text.splitlines().index("tags: [letters]")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri(path), "markdown", 1, text),
        )
    )
    result = await client.text_document_completion_async(
        types.CompletionParams(
            types.TextDocumentIdentifier(uri(path)), types.Position(line, len("tags: ["))
        )
    )
    items = result.items if isinstance(result, types.CompletionList) else (result or [])
    return {item.label for item in items}


async def test_a_restart_reads_only_the_files_that_changed(tmp_path: Path) -> None:
    site = copy_site(tmp_path / "site")
    links = site / "_posts" / "2016-01-01-links.md"
    links.write_text(LINKS, encoding="utf-8")

    first, summary = await _session(site)
    await first.shutdown_session()
    read, reused = _counts(summary)
    assert reused == 0 and read > 0, summary

    # Changed outside any editor while no server ran.
    review = site / "_posts" / "2013-09-13-the-act-of-killing.md"
    text = review.read_text(encoding="utf-8")
    review.write_text(text.replace("tags: [", "tags: [edited-on-disk, ", 1), encoding="utf-8")
    (site / "_posts" / "2014-05-02-s21.md").unlink()
    (site / "_posts" / "2016-02-02-new-arrival.md").write_text(NEW_ARRIVAL, encoding="utf-8")

    second, summary = await _session(site)
    try:
        read_again, reused = _counts(summary)
        assert read_again == 2, summary  # the edited review and the new one
        assert reused == read - 2, summary  # all the others: neither the edited nor the deleted
        offered = await _tags_offered(second, links, LINKS)
        assert {"edited-on-disk", "arrivals-from-disk"} <= offered, offered
        diagnostics = await second.until(
            lambda: second.diagnostics.get(uri(links)), "diagnostics of the links review"
        )
        dead = [d for d in diagnostics if d.code == "LK002" or d.code == "LK001"]
        lines = {d.range.start.line for d in dead}
        deleted_line = LINKS.splitlines().index(next(x for x in LINKS.splitlines() if "s21" in x))
        assert lines == {deleted_line}, [(d.code, d.message) for d in dead]
    finally:
        await second.shutdown_session()


async def test_a_garbage_cache_file_costs_a_full_index_and_nothing_else(tmp_path: Path) -> None:
    from letterhead.cache import cache_path

    site = copy_site(tmp_path / "site")
    first, summary = await _session(site)
    await first.shutdown_session()
    read, _ = _counts(summary)
    path = cache_path(site)
    assert path.exists()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"\x00not a database\xff" * 1000)

    second, summary = await _session(site)
    await second.shutdown_session()
    assert _counts(summary) == (read, 0), summary

    third, summary = await _session(site)  # and the rebuilt cache serves the next start
    await third.shutdown_session()
    assert _counts(summary) == (0, read), summary


def _snapshot_written(site: Path) -> bool:
    path = cache_path(site)
    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            return db.execute("SELECT count(*) FROM snapshot").fetchone()[0] == 1
    except sqlite3.Error:  # not made yet, or being written
        return False


@pytest.fixture
def own_cache_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the test site, with an empty cache folder of its own."""
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "cache"))
    return copy_site(tmp_path / "site")


@pytest.mark.parametrize("long_index", [False, True])
async def test_the_persistent_index_waits_for_the_editor_to_pause(
    own_cache_site: Path, long_index_site: Path, long_index: bool
) -> None:
    # Written at once, it slowed an editor's first requests; written only at shutdown, a
    # server killed instead would leave none. An index that takes over a second leaves the
    # editor silent all along (it waits for the index): that is no pause.
    site = long_index_site if long_index else own_cache_site
    client, _ = await _session(site)
    try:
        for _ in range(12):  # a request every 0.2 s, for twice the pause the server waits for
            await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="s"))
            await asyncio.sleep(0.2)
        assert not _snapshot_written(site)
        deadline = time.monotonic() + 30
        while not _snapshot_written(site):
            assert time.monotonic() < deadline, "the persistent index was never written"
            await asyncio.sleep(0.2)
    finally:
        await client.shutdown_session()


async def test_index_threads_waiting_to_write_leave_the_interpreter_at_its_pace(
    own_cache_site: Path,
) -> None:
    # While a thread indexes, the switch interval is short; two indexes waiting for a pause (the
    # first one superseded by a change of _config.yml) must not keep it so.
    site = own_cache_site
    client, _ = await _session(site)
    try:
        config = site / "_config.yml"
        config.write_text(config.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=uri(config), type=types.FileChangeType.Changed)]
            )
        )
        await client.indexed(2)
        intervals = []
        for _ in range(15):  # every 0.2 s: never the pause the writes wait for
            stats = await client.protocol.send_request_async("letterhead/serverStats", {})
            intervals.append(stats.switchIntervalMs)
            if stats.switchIntervalMs == 5.0:  # CPython's own
                break
            await asyncio.sleep(0.2)
        assert intervals[-1] == 5.0, intervals
        assert not _snapshot_written(site)  # both still wait
    finally:
        await client.shutdown_session()
