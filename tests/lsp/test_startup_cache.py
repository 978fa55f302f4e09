"""The protocol stack's generated code is kept in the cache folder and serves the next start.

A first server on an empty cache folder compiles what lsprotocol and cattrs generate and writes
it once its index is ready; a second server takes nearly all of it from the file (attrs writes one
class differently at every start, so "nearly"). With the cache off, nothing is written.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsp_support import RecordingClient, capabilities, copy_site, initialize_params, server_config

from letterhead.lsp import server


async def _generated_code(site: Path, cache: Path | None = None) -> dict[str, int]:
    """A whole session on `site`, to the end of the server's quiet work; what the server says
    of its generated code before it stops. With `cache`, the session also checks that the
    generated code is in `cache` before the server stops."""
    client = await server_config().start()
    assert isinstance(client, RecordingClient)
    try:
        await client.initialize_session(initialize_params(site, capabilities()))
        await client.indexed()
        # Counted once the server has done what a start does (the converter taught the common
        # messages, the quiet work after the index): counted while some of it was under way,
        # two sessions differed by 24 pieces.
        deadline = time.monotonic() + 30
        while True:
            stats = await client.server_stats()
            if stats.converterWarmed and stats.sitesPrepared >= 1:
                break
            assert time.monotonic() < deadline, "the server's start was never done"
            await asyncio.sleep(server.QUIET_SECONDS * 2)  # each question is a message
        if cache is not None:
            deadline = time.monotonic() + 30
            while not list(cache.glob("generated-code-*.marshal")):
                assert time.monotonic() < deadline, "the generated code was never written"
                await asyncio.sleep(0.2)
        return {"reused": stats.generatedCode.reused, "compiled": stats.generatedCode.compiled}
    finally:
        await client.shutdown_session()


async def test_a_second_start_compiles_almost_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "cache"))
    site = copy_site(tmp_path / "site")
    first = await _generated_code(site, cache=tmp_path / "cache")  # written once quiet
    assert first["compiled"] > 500, first
    kept = list((tmp_path / "cache").glob("generated-code-*.marshal"))
    assert len(kept) == 1, kept
    second = await _generated_code(site)
    assert second["reused"] > 500, second
    assert second["compiled"] * 20 < second["reused"], second


async def test_with_the_cache_off_nothing_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LETTERHEAD_CACHE", "off")
    site = copy_site(tmp_path / "site")
    first = await _generated_code(site)
    second = await _generated_code(site)
    # Each start compiles it all again (not an exact count: which message types a session
    # converts depends on timing, a progress report for so small a site may or may not go out).
    assert first["compiled"] > 500 and second["compiled"] > 500, (first, second)
    assert abs(second["compiled"] - first["compiled"]) <= 10, (first, second)
    assert not list((tmp_path / "cache").glob("generated-code-*"))
