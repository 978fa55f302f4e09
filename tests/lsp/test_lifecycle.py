"""The server's life: initialize, progress while indexing, log lines, registrations, shutdown."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsp_support import (
    RecordingClient,
    capabilities,
    copy_site,
    initialize_params,
    server_config,
    uri,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound


@pytest_lsp.fixture(config=server_config())
async def fresh(lsp_client: RecordingClient):
    """A client that has not initialized yet (each test does)."""
    yield
    await lsp_client.shutdown_session()


async def test_initialize_progress_and_log(fresh: RecordingClient, tmp_path: Path) -> None:
    site = copy_site(tmp_path / "site")
    result = await fresh.initialize_session(initialize_params(site, capabilities()))
    assert result.server_info is not None and result.server_info.name == "letterhead"
    caps = result.capabilities
    assert caps.position_encoding == "utf-16"
    assert isinstance(caps.text_document_sync, types.TextDocumentSyncOptions)
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    await fresh.indexed()

    # Work done progress: created, begun, ended with a summary.
    reports = await fresh.until(
        lambda: next(
            (r for r in fresh.progress_reports.values() if r and r[-1].kind == "end"), None
        ),
        "the end of the indexing progress",
    )
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert "Indexing" in reports[0].title
    assert "documents" in (reports[-1].message or "")

    messages = [m.message for m in fresh.log_messages]
    assert any("found 1 site(s)" in m and str(site.resolve()) in m for m in messages)
    indexed = next(m for m in messages if "letterhead: indexed" in m)
    assert "4 documents (4 reviews)" in indexed and " s" in indexed

    # Watched files registered dynamically, with globs for reviews, config and images.
    await fresh.until(lambda: fresh.registrations, "registrations")
    watched = next(
        r for r in fresh.registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    )
    globs = [w["globPattern"] for w in watched.register_options["watchers"]]
    assert any("md" in g and "yml" in g for g in globs)
    assert any("jpg" in g for g in globs)


async def test_workspace_folder_above_sites(fresh: RecordingClient, tmp_path: Path) -> None:
    """A workspace folder holding two sites indexes both."""
    copy_site(tmp_path / "blog")
    copy_site(tmp_path / "docs" / "site")
    await fresh.initialize_session(initialize_params(tmp_path, capabilities()))
    await fresh.indexed(2)
    found = next(m.message for m in fresh.log_messages if "found" in m.message)
    assert "found 2 site(s)" in found


async def test_encoding_negotiation(fresh: RecordingClient, tmp_path: Path) -> None:
    """UTF-8 is preferred even when a client lists UTF-32 first."""
    site = copy_site(tmp_path / "site")
    result = await fresh.initialize_session(
        initialize_params(site, capabilities(encodings=["utf-32", "utf-16", "utf-8"]))
    )
    assert result.capabilities.position_encoding == "utf-8"


async def test_no_capabilities_and_no_site(fresh: RecordingClient, tmp_path: Path) -> None:
    """A bare client, a folder without a site, a document outside any site: no error."""
    result = await fresh.initialize_session(initialize_params(tmp_path, types.ClientCapabilities()))
    assert result.capabilities.position_encoding == "utf-16"
    await fresh.until(
        lambda: any("no Jekyll site" in m.message for m in fresh.log_messages), "a log line"
    )
    loose = tmp_path / "notes.md"
    loose.write_text("# Notes\n", encoding="utf-8")
    fresh.open(uri(loose), loose.read_text(encoding="utf-8"))
    diagnostics = await fresh.diagnostics_for(uri(loose), 1)
    assert diagnostics == []
    hover = await fresh.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri(tmp_path / "never-opened.md")),
            position=types.Position(line=99, character=99),
        )
    )
    assert hover is None


async def test_answers_during_indexing_then_refreshes(
    fresh: RecordingClient, tmp_path: Path
) -> None:
    """A large site is indexed in the background: a request made meanwhile is answered, and the
    open review's diagnostics are refreshed once the index is ready (its link is alive)."""
    site = copy_site(tmp_path / "site")
    template = (site / "_posts" / "2014-05-02-s21.md").read_text(encoding="utf-8")
    for number in range(1500):
        day = f"2016-{1 + number % 12:02d}-{1 + number % 28:02d}"
        (site / "_posts" / f"{day}-generated-{number}.md").write_text(
            template.replace('"S21"', f'"Generated {number}"'), encoding="utf-8"
        )
    review = site / "_posts" / "2016-12-30-linker.md"
    text = template.replace("Another letter.", "See [one](/content/2016/1/1/generated-0.html).")
    review.write_text(text, encoding="utf-8")

    await fresh.initialize_session(initialize_params(site, capabilities()))
    fresh.open(uri(review), text)
    hover = await fresh.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri(review)),
            position=types.Position(line=11, character=3),
        )
    )
    assert hover is not None  # the salutation, known without the index
    early = not any("letterhead: indexed" in m.message for m in fresh.log_messages)
    await fresh.indexed()
    await fresh.until(
        lambda: (
            fresh.published.get(uri(review))
            and all(d.code != "LK001" for d in fresh.published[uri(review)][-1].diagnostics)
        ),
        "diagnostics without LK001",
    )
    if early:  # opened before the index was ready: first checked against what was known
        assert any(d.code == "LK001" for d in fresh.published[uri(review)][0].diagnostics)


async def test_tcp(tmp_path: Path) -> None:
    """`letterhead serve --tcp HOST:PORT` speaks the same protocol over a socket."""
    import asyncio
    import json
    import socket
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "letterhead",
        "serve",
        "--tcp",
        f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(200):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the server did not listen")

        def send(message: dict[str, object]) -> None:
            body = json.dumps(message).encode()
            writer.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

        async def receive(wanted_id: int) -> dict[str, object]:
            while True:
                length = 0
                while (line := await reader.readline()).strip():
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                message = json.loads(await reader.readexactly(length))
                if message.get("id") == wanted_id and "method" not in message:
                    return message

        site = copy_site(tmp_path / "site")
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": uri(site), "capabilities": {}},
            }
        )
        result = await asyncio.wait_for(receive(1), 30)
        assert result["result"]["serverInfo"]["name"] == "letterhead"  # type: ignore[index]
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        send({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
        await asyncio.wait_for(receive(2), 30)
        send({"jsonrpc": "2.0", "method": "exit", "params": None})
        writer.close()
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    stdout = await process.stdout.read() if process.stdout else b""
    assert stdout == b""  # never prints to stdout


async def test_workspace_folder_added(fresh: RecordingClient, tmp_path: Path) -> None:
    first = copy_site(tmp_path / "first")
    await fresh.initialize_session(initialize_params(first, capabilities()))
    await fresh.indexed()
    second = copy_site(tmp_path / "second")
    fresh.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=uri(second), name="second")], removed=[]
            )
        )
    )
    await fresh.indexed(2)
    symbols = await fresh.workspace_symbol_async(types.WorkspaceSymbolParams(query="S21"))
    assert symbols is not None
    assert {
        Path(s.location.uri).parts[-3] for s in symbols if isinstance(s.location, types.Location)
    } == {
        "first",
        "second",
    }


async def test_untitled_documents_and_bad_requests(client: RecordingClient) -> None:
    """An untitled buffer (no file, no site) and malformed requests: answers, never a crash."""
    untitled = "untitled:Untitled-1"
    client.open(untitled, "---\ntags: [x\n")
    assert await client.diagnostics_for(untitled, 1) == []
    completion = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=untitled),
            position=types.Position(line=1, character=8),
        )
    )
    assert completion is None
    client.change(untitled, 2, [(None, "changed")])
    assert await client.server_text(untitled) == "changed"

    with pytest.raises(JsonRpcMethodNotFound):
        await client.protocol.send_request_async("letterhead/noSuchMethod", {})
    # Malformed parameters, sent as raw JSON (the client would refuse to build them).
    client.protocol._send_data(
        {"jsonrpc": "2.0", "id": "malformed", "method": "textDocument/hover", "params": {"x": 1}}
    )
    # A change to a document that was never opened is ignored.
    client.change("file:///nowhere/never-opened.md", 2, [(None, "text")])
    assert await client.server_text(untitled) == "changed"  # still alive
    assert client.error is None


async def test_indexing_progress_reports_percentages(
    fresh: RecordingClient, tmp_path: Path
) -> None:
    site = copy_site(tmp_path / "site")
    review = (site / "_posts" / "2014-05-02-s21.md").read_text(encoding="utf-8")
    for number in range(800):
        (site / "_posts" / f"2010-01-01-filler-{number}.md").write_text(review, encoding="utf-8")
    await fresh.initialize_session(initialize_params(site, capabilities()))
    await fresh.indexed()
    reports = await fresh.until(
        lambda: next(
            (r for r in fresh.progress_reports.values() if r and r[-1].kind == "end"), None
        ),
        "the end of the indexing progress",
    )
    percentages = [
        r.percentage
        for r in reports
        if isinstance(r, types.WorkDoneProgressReport) and r.percentage
    ]
    assert percentages, "no percentage was reported while 800 files were indexed"
    assert percentages == sorted(percentages) and percentages[-1] <= 100
    assert any(
        "of" in (r.message or "") for r in reports if isinstance(r, types.WorkDoneProgressReport)
    )
