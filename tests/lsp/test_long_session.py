"""A long session leaves nothing behind per message.

pygls 2.1 keeps the future of every notification handled by a generator or a coroutine (every
didOpen, didChange and didClose) for ever; the server drops them once done. After hundreds of
edits, opens and closes, the server must track no more handlers than the one answering.
(`bench/soak.py` measures the memory of a 100,000-operation session; this is its quick check.)
"""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path

import pytest
from lsp_support import RecordingClient, uri
from lsprotocol import types

from letterhead.lsp import idle, server

REVIEW = "_posts/2014-05-02-s21.md"


async def stats(client: RecordingClient) -> dict[str, int]:
    result = await client.protocol.send_request_async("letterhead/serverStats", {})
    return {
        "open": result.openDocuments,
        "pending": result.pendingHandlers,
        "trims": result.memoryTrims,
        "prepared": result.indexesPrepared,
        "all prepared": result.sitesPrepared,
        "catalog lag": result.catalogLag,
    }


async def test_notifications_leave_no_handler_behind(client: RecordingClient, site: Path) -> None:
    path = site / REVIEW
    text = path.read_text(encoding="utf-8")
    address = uri(path)
    client.open(address, text)
    version = 1
    line = len(text.splitlines()) - 1
    for round_ in range(300):
        version += 1
        at = types.Position(line, 0)
        client.change(address, version, [(types.Range(at, at), "x" if round_ % 2 == 0 else "")])
    for number in range(50):  # open and close other files, as an editor does
        other = site / "_posts" / f"2016-01-{number % 28 + 1:02d}-extra-{number}.md"
        client.open(uri(other), "---\ntitle: Extra\n---\nBody.\n")
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri(other)))
        )
    assert await client.server_text(address) is not None  # every notification handled by now
    counts = await stats(client)
    assert counts["open"] == 1
    assert counts["pending"] <= 1, counts  # the stats request's own handler, if any


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="only glibc is known to have malloc_trim"
)
def test_glibc_gives_memory_back() -> None:
    """Else the test below would be skipped, not failed, were `malloc_trim` no longer found."""
    assert idle.give_back()


@pytest.mark.skipif(not idle.give_back(), reason="this C library cannot give memory back")
async def test_memory_is_given_back_once_the_server_is_quiet(
    client: RecordingClient, site: Path
) -> None:
    path = site / REVIEW
    address = uri(path)
    client.open(address, path.read_text(encoding="utf-8"))
    assert await client.server_text(address) is not None
    # Quiet, the server first writes the persistent index, which is work too.
    await asyncio.sleep(server.QUIET_SECONDS + idle.IDLE_SECONDS + 1.0)
    quiet = (await stats(client))["trims"]
    assert quiet >= 1  # after indexing, the didOpen and the writing
    await asyncio.sleep(idle.IDLE_SECONDS + 1.0)
    # The stats request was work too: one more trim after it, and only one.
    assert (await stats(client))["trims"] == quiet + 1
    # Not before the server has been quiet for a while: the last request was just now.
    await asyncio.sleep(idle.IDLE_SECONDS / 2)
    assert (await stats(client))["trims"] == quiet + 1


async def test_memory_is_given_back_even_when_tidying_up_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the server lets go of before it gives memory back (`tidy`: the completion catalogs
    catching up) may fail; the memory is given back all the same, and the next quiet tidies
    again."""
    given: list[int] = []
    monkeypatch.setattr(idle, "give_back", lambda: given.append(1) or True)
    tidied: list[int] = []

    def tidy() -> None:
        tidied.append(1)
        raise RuntimeError("a catalog that cannot catch up")

    trim = idle.IdleTrim(idle_seconds=0.01, tidy=tidy)
    for _ in range(2):
        trim.activity()
        await asyncio.sleep(0.1)
    assert (len(tidied), len(given), trim.trims) == (2, 2, 2)


async def test_the_index_tables_are_built_once_the_server_is_quiet(
    client: RecordingClient, site: Path
) -> None:
    """Backlinks and the near-miss tables of dead-link suggestions are built in slices while
    the editor is quiet, not by the first request that needs one."""
    path = site / REVIEW
    address = uri(path)
    client.open(address, path.read_text(encoding="utf-8"))
    assert await client.server_text(address) is not None
    assert (await stats(client))["all prepared"] == 0  # not quiet for a second since ready
    for _ in range(20):
        # Each stats request is a message, after which the server waits for quiet again.
        await asyncio.sleep(server.QUIET_SECONDS * 2)
        if (await stats(client))["all prepared"] == 1:
            break
    counts = await stats(client)
    assert counts["prepared"] == 1 and counts["all prepared"] == 1, counts


async def test_the_catalog_catches_up_with_edits_once_the_server_is_quiet(
    client: RecordingClient, site: Path
) -> None:
    """The completion catalog holds the index records it last saw until something reads it:
    once the server is quiet it catches up, so that those the edits replaced are let go."""
    path = site / REVIEW
    address = uri(path)
    text = path.read_text(encoding="utf-8")
    client.open(address, text)
    for _ in range(20):  # the quiet work first: it reads the catalog too
        await asyncio.sleep(server.QUIET_SECONDS * 2)
        if (await stats(client))["all prepared"] == 1:
            break
    line = text.splitlines().index("---", 1) + 1  # the body's first line
    for version in range(2, 5):  # each edit's diagnostics awaited: each is indexed
        at = types.Position(line, 0)
        heading = f"## Part {version}\n\n"  # a change the index keeps (a heading's id)
        client.change(address, version, [(types.Range(at, at), heading)])
        await client.diagnostics_for(address, version)
    assert (await stats(client))["catalog lag"] > 0  # no request read it since
    await asyncio.sleep(idle.IDLE_SECONDS + 1.0)
    assert (await stats(client))["catalog lag"] == 0
