"""Diagnostics through the protocol: pushed on open and change, pulled, kept true by file events,
configuration, and re-checks of the open reviews that depend on an edited one."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsp_support import (
    RecordingClient,
    as_tuple,
    capabilities,
    initialize_params,
    lsp_range,
    server_config,
    uri,
)
from lsprotocol import types

from letterhead.lsp.server import BATCH_REINDEX

FLAWED = """---
title: "Flawed"
author: annaw
addressee: Rithy Panh
position: Director
tags: [Letters, cambodia]
---
_**Dear Rithy Panh**, Director,_

See [S21](/content/2014/5/2/s21.html) and [the new one](/content/2015/3/1/new-review.html).

{% contentfor signature %}
**Yours,**

Anna
{% endcontentfor %}
"""

NEW_REVIEW = """---
title: "New Review"
author: annaw
addressee: Someone
position: Director
tags: [letters]
---
_**Dear Someone**, Director,_

Hello.

{% contentfor signature %}
**Yours,**

Anna
{% endcontentfor %}
"""

DEAD_URL = "/content/2015/3/1/new-review.html"


def where(text: str, needle: str, occurrence: int = 0) -> tuple[int, int, int, int]:
    """The (line, start, line, end) code-point range of `needle` in `text` (ASCII lines here)."""
    offset = -1
    for _ in range(occurrence + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return (line, column, line, column + len(needle))


def codes(diagnostics: list[types.Diagnostic]) -> dict[str, tuple[int, int, int, int]]:
    return {str(d.code): as_tuple(d.range) for d in diagnostics}


def write_review(site: Path, name: str, text: str) -> Path:
    path = site / "_posts" / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_open_publishes_codes_and_exact_ranges(client: RecordingClient, site: Path) -> None:
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    diagnostics = await client.diagnostics_for(uri(path), 1)
    found = codes(diagnostics)
    assert found["TX001"] == where(FLAWED, "Letters")
    assert found["LK001"] == where(FLAWED, DEAD_URL)
    tx001 = next(d for d in diagnostics if d.code == "TX001")
    assert tx001.source == "letterhead"
    assert tx001.severity == types.DiagnosticSeverity.Warning
    assert "letters" in tx001.message
    assert tx001.data["name"] == "tag-variant"
    assert tx001.data["fix"]["edits"][0]["newText"] == "letters"


async def test_change_is_debounced_and_rechecked(client: RecordingClient, site: Path) -> None:
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    await client.diagnostics_for(uri(path), 1)

    # Two quick edits: only the last version needs diagnostics.
    line, start, _, _ = where(FLAWED, "Letters")
    client.change(uri(path), 2, [(lsp_range((line, start), (line, start + 1)), "l")])
    client.change(uri(path), 3, [(lsp_range((9, 0), (9, 0)), "An [undefined][nowhere] link. ")])
    diagnostics = await client.diagnostics_for(uri(path), 3)
    found = codes(diagnostics)
    assert "TX001" not in found
    edited = FLAWED.replace("Letters", "letters").replace(
        "See [S21]", "An [undefined][nowhere] link. See [S21]"
    )
    assert found["LK003"] == where(edited, "nowhere")
    assert found["LK001"] == where(edited, DEAD_URL)
    assert await client.server_text(uri(path)) == edited


async def test_whole_document_change(client: RecordingClient, site: Path) -> None:
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    await client.diagnostics_for(uri(path), 1)
    client.change(uri(path), 2, [(None, NEW_REVIEW)])
    assert await client.diagnostics_for(uri(path), 2) == []


async def test_watched_file_added_makes_dead_link_alive(
    client: RecordingClient, site: Path
) -> None:
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    assert "LK001" in codes(await client.diagnostics_for(uri(path), 1))
    count = len(client.published[uri(path)])

    added = write_review(site, "2015-03-01-new-review.md", NEW_REVIEW)
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri(added), type=types.FileChangeType.Created)]
        )
    )
    await client.until(lambda: len(client.published[uri(path)]) > count, "a re-check")
    assert "LK001" not in codes(client.published[uri(path)][-1].diagnostics)

    # Deleted again: the link is dead again.
    count = len(client.published[uri(path)])
    added.unlink()
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri(added), type=types.FileChangeType.Deleted)]
        )
    )
    await client.until(lambda: len(client.published[uri(path)]) > count, "a re-check")
    assert "LK001" in codes(client.published[uri(path)][-1].diagnostics)


async def test_a_large_batch_of_watched_files_indexes_the_site_again(
    client: RecordingClient, site: Path
) -> None:
    """More files of a site than `BATCH_REINDEX` in one batch (a branch switched): the site is
    indexed again in the background, and the open review sees what came, then what went."""
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    assert "LK001" in codes(await client.diagnostics_for(uri(path), 1))
    batch = [write_review(site, "2015-03-01-new-review.md", NEW_REVIEW)] + [
        write_review(site, f"2016-01-01-batch-{n}.md", NEW_REVIEW) for n in range(BATCH_REINDEX)
    ]
    for change, indexes in ((types.FileChangeType.Created, 2), (types.FileChangeType.Deleted, 3)):
        if change == types.FileChangeType.Deleted:
            for added in batch:
                added.unlink()
        count = len(client.published[uri(path)])
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=uri(added), type=change) for added in batch]
            )
        )
        await client.indexed(indexes)
        await client.until(
            lambda count=count: len(client.published[uri(path)]) > count, "a re-check"
        )
        dead = "LK001" in codes(client.published[uri(path)][-1].diagnostics)
        assert dead == (change == types.FileChangeType.Deleted)
    said = [m.message for m in client.log_messages if "changed at once" in m.message]
    assert len(said) == 2 and f"{len(batch):,} files of" in said[0]


async def test_config_edit_reloads_the_site(client: RecordingClient, site: Path) -> None:
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    assert "LK001" in codes(await client.diagnostics_for(uri(path), 1))
    config = site / "_config.yml"
    config.write_text(
        config.read_text(encoding="utf-8") + "  rules:\n    LK001: off\n", encoding="utf-8"
    )
    count = len(client.published[uri(path)])
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri(config), type=types.FileChangeType.Changed)]
        )
    )
    await client.indexed(2)
    await client.until(lambda: len(client.published[uri(path)]) > count, "a re-check")
    found = codes(client.published[uri(path)][-1].diagnostics)
    assert "LK001" not in found and "TX001" in found


async def test_dependents_are_rechecked(client: RecordingClient, site: Path) -> None:
    """Publishing the review a letter links to clears its LK002; a tag another open review
    starts using clears a near-miss (TX002)."""
    target_text = NEW_REVIEW.replace("tags: [letters]", "published: false\ntags: [letters]")
    target = write_review(site, "2015-03-01-new-review.md", target_text)
    linker_text = FLAWED.replace("[Letters, cambodia]", "[letters, khmer rogue]")
    linker = write_review(site, "2015-02-01-flawed.md", linker_text)
    client.open(uri(target), target_text)
    await client.diagnostics_for(uri(target), 1)
    client.open(uri(linker), linker_text)
    found = codes(await client.diagnostics_for(uri(linker), 1))
    assert found["LK002"] == where(linker_text, DEAD_URL)
    assert found["TX002"] == where(linker_text, "khmer rogue")

    count = len(client.published[uri(linker)])
    line = where(target_text, "published: false")[0]
    client.change(uri(target), 2, [(lsp_range((line, 11), (line, 16)), "true")])
    await client.until(lambda: len(client.published[uri(linker)]) > count, "a re-check")
    assert "LK002" not in codes(client.published[uri(linker)][-1].diagnostics)

    count = len(client.published[uri(linker)])
    line, _, _, end = where(target_text, "[letters]", 0)
    client.change(uri(target), 3, [(lsp_range((line, end - 1), (line, end - 1)), ", khmer rogue")])
    await client.until(lambda: len(client.published[uri(linker)]) > count, "a re-check")
    assert "TX002" not in codes(client.published[uri(linker)][-1].diagnostics)


async def test_close_clears_diagnostics(client: RecordingClient, site: Path) -> None:
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    assert await client.diagnostics_for(uri(path), 1)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri(path)))
    )
    await client.until(lambda: not client.published[uri(path)][-1].diagnostics, "cleared")


async def test_an_unsaved_new_review_is_checked_and_indexed(
    client: RecordingClient, site: Path
) -> None:
    """A review the editor created but never saved: checked like a saved one, and in the index
    while it is open (a link to it is alive), out of it once closed without saving."""
    unsaved = site / "_posts" / "2015-02-01-unsaved.md"
    linking = write_review(
        site,
        "2015-02-02-linking.md",
        NEW_REVIEW.replace("Hello.", "[That](/content/2015/2/1/unsaved.html)."),
    )
    client.open(uri(linking), linking.read_text(encoding="utf-8"))
    assert "LK001" in codes(await client.diagnostics_for(uri(linking), 1))
    client.open(uri(unsaved), FLAWED)
    found = codes(await client.diagnostics_for(uri(unsaved), 1))
    assert found["TX001"] == where(FLAWED, "Letters")
    assert found["LK001"] == where(FLAWED, DEAD_URL)
    assert not unsaved.exists()
    await client.until(
        lambda: not client.published[uri(linking)][-1].diagnostics, "the link to come alive"
    )
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri(unsaved))
        )
    )
    await client.until(
        lambda: "LK001" in codes(client.published[uri(linking)][-1].diagnostics),
        "the link to be dead again",
    )


@pytest.mark.parametrize("saved", [True, False], ids=["saved", "unsaved"])
async def test_a_closed_review_is_indexed_as_its_file_says(
    client: RecordingClient, site: Path, saved: bool
) -> None:
    """A review retitled in the editor is indexed under its new title while open; closed, the
    index says what its file says: the new title once saved (kept, not read again), the old one
    when the change was never saved."""
    path = write_review(
        site, "2015-02-01-retitled.md", NEW_REVIEW.replace("New Review", "Old Title")
    )
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri(path), type=types.FileChangeType.Created)]
        )
    )
    client.open(uri(path), path.read_text(encoding="utf-8"))
    await client.diagnostics_for(uri(path), 1)
    retitled = path.read_text(encoding="utf-8").replace("Old Title", "New Title")
    client.change(uri(path), 2, [(None, retitled)])
    await client.diagnostics_for(uri(path), 2)

    async def titled(title: str) -> bool:
        found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=title))
        return any(symbol.name == title for symbol in found or [])

    assert await titled("New Title") and not await titled("Old Title")
    if saved:
        path.write_text(retitled, encoding="utf-8")
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri(path)))
    )
    await client.until(lambda: not client.published[uri(path)][-1].diagnostics, "cleared")
    assert await titled("New Title") is saved
    assert await titled("Old Title") is not saved


# -- configuration ----------------------------------------------------------------------------


@pytest_lsp.fixture(config=server_config())
async def configured(lsp_client: RecordingClient, site: Path):
    """A client whose `letterhead` settings set a long debounce."""
    lsp_client.set_configuration({"diagnostics": {"debounceMs": 2000}}, section="letterhead")
    await lsp_client.initialize_session(initialize_params(site, capabilities()))
    await lsp_client.indexed()
    yield
    await lsp_client.shutdown_session()


async def test_configuration_pulled_and_changed(configured: RecordingClient, site: Path) -> None:
    client = configured
    await client.until(
        lambda: any("debounce 2000 ms" in m.message for m in client.log_messages), "settings"
    )
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    await client.diagnostics_for(uri(path), 1)

    client.set_configuration({"diagnostics": {"debounceMs": 0}}, section="letterhead")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await client.until(
        lambda: any("debounce 0 ms" in m.message for m in client.log_messages), "new settings"
    )
    client.change(uri(path), 2, [(None, NEW_REVIEW)])
    assert await client.diagnostics_for(uri(path), 2) == []

    # Settings pushed in the notification itself are used as they are.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"letterhead": {"diagnostics": {"debounceMs": 5}}}
        )
    )
    await client.until(
        lambda: any("debounce 5 ms" in m.message for m in client.log_messages), "pushed settings"
    )


# -- pull diagnostics -------------------------------------------------------------------------


@pytest_lsp.fixture(config=server_config())
async def puller(lsp_client: RecordingClient, site: Path):
    """A client with `textDocument/diagnostic` (and refresh) support."""
    await lsp_client.initialize_session(initialize_params(site, capabilities(pull=True)))
    await lsp_client.indexed()
    yield
    await lsp_client.shutdown_session()


async def pull(
    client: RecordingClient, path: Path, previous: str | None = None
) -> types.DocumentDiagnosticReport:
    return await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=uri(path)), previous_result_id=previous
        )
    )


async def test_pull_diagnostics(puller: RecordingClient, site: Path) -> None:
    client = puller
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    report = await pull(client, path)
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    assert codes(list(report.items))["TX001"] == where(FLAWED, "Letters")
    assert report.result_id

    same = await pull(client, path, report.result_id)
    assert isinstance(same, types.RelatedUnchangedDocumentDiagnosticReport)

    line, start, _, _ = where(FLAWED, "Letters")
    client.change(uri(path), 2, [(lsp_range((line, start), (line, start + 1)), "l")])
    changed = await pull(client, path, report.result_id)
    assert isinstance(changed, types.RelatedFullDocumentDiagnosticReport)
    assert "TX001" not in codes(list(changed.items))

    # A file event changes what open documents depend on: the server asks for a refresh.
    added = write_review(site, "2015-03-01-new-review.md", NEW_REVIEW)
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri(added), type=types.FileChangeType.Created)]
        )
    )
    await client.until(lambda: client.diagnostic_refresh_count > 0, "a diagnostic refresh")
    assert "LK001" not in codes(list((await pull(client, path)).items))
    assert uri(path) not in client.published  # never pushed to a client that pulls

    # A document never opened: an empty report, no error.
    empty = await pull(client, site / "_posts" / "2099-01-01-nothing.md")
    assert list(empty.items) == []


async def test_saving_the_config_reloads_the_site(client: RecordingClient, site: Path) -> None:
    """For a client without file watching, saving `_config.yml` in the editor reloads too."""
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    assert "TX001" in codes(await client.diagnostics_for(uri(path), 1))
    config = site / "_config.yml"
    text = config.read_text(encoding="utf-8") + "  rules:\n    TX: off\n"
    client.open(uri(config), config.read_text(encoding="utf-8"), language="yaml")
    client.change(uri(config), 2, [(None, text)])
    config.write_text(text, encoding="utf-8")
    count = len(client.published[uri(path)])
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri(config)))
    )
    await client.indexed(2)
    await client.until(lambda: len(client.published[uri(path)]) > count, "a re-check")
    assert "TX001" not in codes(client.published[uri(path)][-1].diagnostics)


async def test_config_findings_on_the_open_config(client: RecordingClient, site: Path) -> None:
    """`_config.yml` open in the editor shows its CF001 findings, refreshed on save."""
    config = site / "_config.yml"
    text = config.read_text(encoding="utf-8")
    client.open(uri(config), text, language="yaml")
    assert await client.diagnostics_for(uri(config), 1) == []
    broken = text + "  bogus_setting: 1\n"
    config.write_text(broken, encoding="utf-8")
    client.change(uri(config), 2, [(None, broken)])
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri(config)))
    )
    await client.indexed(2)
    await client.until(
        lambda: any(d.code == "CF001" for d in client.published[uri(config)][-1].diagnostics),
        "CF001 on the configuration",
    )
    finding = next(d for d in client.published[uri(config)][-1].diagnostics if d.code == "CF001")
    assert as_tuple(finding.range)[:2] == where(broken, "bogus_setting")[:2]


async def test_watched_folder_created_and_deleted(client: RecordingClient, site: Path) -> None:
    """A folder added or removed outside the editor (a git checkout) comes as one event."""
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    assert "LK001" in codes(await client.diagnostics_for(uri(path), 1))

    folder = site / "_posts" / "2015"
    folder.mkdir()
    (folder / "2015-03-01-new-review.md").write_text(NEW_REVIEW, encoding="utf-8")
    count = len(client.published[uri(path)])
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri(folder), type=types.FileChangeType.Created)]
        )
    )
    await client.until(lambda: len(client.published[uri(path)]) > count, "a re-check")
    assert "LK001" not in codes(client.published[uri(path)][-1].diagnostics)

    (folder / "2015-03-01-new-review.md").unlink()
    folder.rmdir()
    count = len(client.published[uri(path)])
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri(folder), type=types.FileChangeType.Deleted)]
        )
    )
    await client.until(lambda: len(client.published[uri(path)]) > count, "a re-check")
    assert "LK001" in codes(client.published[uri(path)][-1].diagnostics)


@pytest_lsp.fixture(config=server_config())
async def early_puller(lsp_client: RecordingClient, site: Path):
    """Neovim 0.11's capabilities: it pulls diagnostics but cannot be asked to pull again.

    The site gets many extra reviews so that indexing is still running when the first pull
    arrives; the fixture does not wait for the index.
    """
    filler = NEW_REVIEW.replace("New Review", "Filler")
    for number in range(1500):
        write_review(site, f"2011-01-01-filler-{number}.md", filler)
    write_review(site, "2015-03-01-new-review.md", NEW_REVIEW)
    await lsp_client.initialize_session(
        initialize_params(site, pytest_lsp.client_capabilities("neovim@v0.11"))
    )
    yield
    await lsp_client.shutdown_session()


async def test_a_pull_during_indexing_waits_for_the_index(
    early_puller: RecordingClient, site: Path
) -> None:
    client = early_puller
    path = write_review(site, "2015-02-01-flawed.md", FLAWED)
    client.open(uri(path), FLAWED)
    report = await pull(client, path)
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    found = codes(list(report.items))
    assert "LK001" not in found, "a link to a review not yet indexed was reported dead"
    assert found["TX001"] == where(FLAWED, "Letters")
