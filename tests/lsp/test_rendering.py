"""When the server imports the template engine (hover previews, the salutation fix): beside an
index that runs long enough to hide it, else once the index is ready and the editor pauses.

After ready, the import shares the interpreter with the editor's requests: a stream of link
completions two seconds after a cold index of 20,000 reviews took twice as long while it ran.
A cold index of thousands of reviews keeps every core busy for seconds, and hides it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsp_support import RecordingClient, capabilities, copy_site, initialize_params, server_config


async def _rendering_prepared(folder: Path) -> tuple[str | None, str | None]:
    """What the server says of the template engine the moment its index is ready, and once
    it has said it was imported (asked until then, 10 s)."""
    client = await server_config().start()
    assert isinstance(client, RecordingClient)
    try:
        await client.initialize_session(initialize_params(folder, capabilities()))
        await client.indexed()
        at_ready = (await client.server_stats()).renderingPrepared
        for _ in range(200):
            prepared = (await client.server_stats()).renderingPrepared
            if prepared is not None:
                return at_ready, prepared
            await asyncio.sleep(0.05)
        return at_ready, None
    finally:
        await client.shutdown_session()


async def test_a_long_index_has_the_template_engine_imported_beside_it(
    long_index_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path / "cache"))  # a cold index
    _, prepared = await _rendering_prepared(long_index_site)
    assert prepared == "beside the index"


async def test_a_short_index_leaves_it_until_the_index_is_ready(tmp_path: Path) -> None:
    at_ready, prepared = await _rendering_prepared(copy_site(tmp_path / "site"))
    assert at_ready is None  # not in the way of the first requests: the editor has to pause
    assert prepared == "after ready"
