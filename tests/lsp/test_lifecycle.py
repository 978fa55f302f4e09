"""The server's life: initialize, progress while indexing, log lines, registrations, shutdown."""

from __future__ import annotations

from pathlib import Path

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
