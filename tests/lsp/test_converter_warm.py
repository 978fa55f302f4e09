"""The server teaches the protocol's converter the common messages once its first index is ready.

Done while a restart's index is unpickled, the warm-up took the interpreter's lock from it; done
never, a session's first didOpen, completion and hover each pay for it. The order is what the
benchmark measures; here, that it happens, with a site and without one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsp_support import RecordingClient, capabilities, copy_site, initialize_params, server_config


async def _warmed(folder: Path, has_site: bool) -> bool:
    """Whether the server on `folder` says its converter is warm, asked until it does (10 s)."""
    client = await server_config().start()
    assert isinstance(client, RecordingClient)
    try:
        await client.initialize_session(initialize_params(folder, capabilities()))
        if has_site:
            await client.indexed()
        for _ in range(200):
            if (await client.server_stats()).converterWarmed:
                return True
            await asyncio.sleep(0.05)
        return False
    finally:
        await client.shutdown_session()


async def test_the_converter_is_warmed_once_the_site_is_indexed(tmp_path: Path) -> None:
    assert await _warmed(copy_site(tmp_path / "site"), has_site=True)


async def test_the_converter_is_warmed_without_a_site(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.md").write_text("# nothing Jekyll here\n", encoding="utf-8")
    assert await _warmed(folder, has_site=False)
