"""Positions at the protocol edge: code points inside, UTF-8/16/32 units outside, clamped input.

Expected columns are computed here from the encoded text itself, independently of `convert`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from hypothesis import given, settings
from hypothesis import strategies as st
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

from letterhead.lsp import convert
from letterhead.positions import LineIndex, Position

# Accents, an astral-plane emoji, CJK and a combining mark (e + U+0301) before the findings.
WIDE = "Voilà 😀 映画 é (\U0001f3ac) ça"
REVIEW = f"""---
title: "Wide"
author: annaw
addressee: Rithy Panh
position: Director
tags: [{WIDE}, Letters]
---
_**Dear Rithy Panh**, Director,_

{WIDE} — see [gone](/content/2099/1/1/nothing.html) and 😀 [S21](/content/2014/5/2/s21.html).

{{% contentfor signature %}}
**Yours,**

Anna
{{% endcontentfor %}}
"""


def units(text: str, encoding: str) -> int:
    """How many `encoding` units `text` takes, from its encoded bytes."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def client_range(text: str, needle: str, encoding: str) -> tuple[int, int, int, int]:
    offset = text.index(needle)
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    start = units(text[line_start:offset], encoding)
    return (line, start, line, start + units(needle, encoding))


# -- the conversion functions -------------------------------------------------------------------


def test_choose_encoding() -> None:
    assert convert.choose_encoding(None) == "utf-16"
    assert convert.choose_encoding([]) == "utf-16"
    assert convert.choose_encoding(["utf-32", "utf-8"]) == "utf-8"
    assert convert.choose_encoding(["utf-32", "utf-16"]) == "utf-32"
    assert convert.choose_encoding(["utf-16", "utf-32"]) == "utf-16"
    assert convert.choose_encoding(["latin-1"]) == "utf-16"


LINE_TEXT = st.lists(
    st.sampled_from([*"ab é\u0301映画😀🎬\t\r\n\u2028\x0c", "\r\n"]), max_size=40
).map("".join)


@given(LINE_TEXT, st.sampled_from(convert.ENCODINGS))
@settings(max_examples=200, deadline=None)
def test_round_trip_every_position(text: str, encoding: str) -> None:
    lines = LineIndex(text)
    codec = convert.TextCodec(lines, encoding)
    for line in range(lines.line_count):
        content = lines.line_text(line)
        for column in range(len(content) + 1):
            outgoing = codec.position(Position(line, column))
            assert outgoing == types.Position(
                line=line, character=units(content[:column], encoding)
            )
            assert codec.to_position(outgoing) == Position(line, column)


@pytest.mark.parametrize("encoding", convert.ENCODINGS)
def test_clamping(encoding: str) -> None:
    codec = convert.TextCodec.of("a😀b\r\nsecond\n", encoding)
    assert codec.to_position(types.Position(line=0, character=999)) == Position(0, 3)
    assert codec.to_position(types.Position(line=1, character=999)) == Position(1, 6)
    assert codec.to_position(types.Position(line=2, character=5)) == Position(2, 0)
    assert codec.to_position(types.Position(line=99, character=5)) == Position(2, 0)
    assert codec.offset(types.Position(line=0, character=999)) == 3  # before "\r\n"
    reversed_range = types.Range(
        start=types.Position(line=1, character=2), end=types.Position(line=0, character=0)
    )
    assert codec.to_span(reversed_range).start == 0


@pytest.mark.parametrize("encoding", convert.ENCODINGS)
def test_apply_change_counts_units(encoding: str) -> None:
    text = "x😀y\nz"
    after_emoji = units("x😀", encoding)
    change = types.TextDocumentContentChangePartial(
        range=lsp_range((0, after_emoji), (0, after_emoji + 1)), text="Y"
    )
    assert convert.apply_change(text, change, encoding) == "x😀Y\nz"
    past_end = types.TextDocumentContentChangePartial(range=lsp_range((7, 0), (9, 9)), text="!")
    assert convert.apply_change(text, past_end, encoding) == "x😀y\nz!"


# -- through the protocol -------------------------------------------------------------------------


@pytest_lsp.fixture(config=server_config(), params=["utf-8", "utf-16", "utf-32"])
async def encoded(lsp_client: RecordingClient, site: Path, request: pytest.FixtureRequest):
    """An editor offering only one encoding (the parameter)."""
    result = await lsp_client.initialize_session(
        initialize_params(site, capabilities(encodings=[request.param]))
    )
    assert result.capabilities.position_encoding == request.param
    lsp_client.encoding = request.param  # type: ignore[attr-defined]
    await lsp_client.indexed()
    yield
    await lsp_client.shutdown_session()


async def test_diagnostic_ranges_on_wide_lines(encoded: RecordingClient, site: Path) -> None:
    client, encoding = encoded, encoded.encoding  # type: ignore[attr-defined]
    path = site / "_posts" / "2015-02-01-wide.md"
    path.write_text(REVIEW, encoding="utf-8")
    client.open(uri(path), REVIEW)
    diagnostics = await client.diagnostics_for(uri(path), 1)
    by_code = {str(d.code): as_tuple(d.range) for d in diagnostics}
    assert by_code["TX001"] == client_range(REVIEW, "Letters", encoding)
    assert by_code["LK001"] == client_range(REVIEW, "/content/2099/1/1/nothing.html", encoding)


async def test_edits_in_client_units(encoded: RecordingClient, site: Path) -> None:
    """Edits addressed in the client's units land where the client means them."""
    client, encoding = encoded, encoded.encoding  # type: ignore[attr-defined]
    path = site / "_posts" / "2015-02-01-wide.md"
    path.write_text(REVIEW, encoding="utf-8")
    client.open(uri(path), REVIEW)
    await client.diagnostics_for(uri(path), 1)

    # Replace the dead URL (after the emoji, CJK and combining mark) with a live one.
    line, start, _, end = client_range(REVIEW, "/content/2099/1/1/nothing.html", encoding)
    live = "/content/2013/9/13/the-act-of-killing.html"
    client.change(uri(path), 2, [(lsp_range((line, start), (line, end)), live)])
    expected = REVIEW.replace("/content/2099/1/1/nothing.html", live)
    assert await client.server_text(uri(path)) == expected
    diagnostics = await client.diagnostics_for(uri(path), 2)
    assert "LK001" not in {d.code for d in diagnostics}

    # Positions past the end of a line and of the document are clamped, as the protocol says.
    client.change(uri(path), 3, [(lsp_range((line, 10_000), (line, 10_000)), " 🎞")])
    client.change(uri(path), 4, [(lsp_range((10_000, 0), (10_000, 3)), "P.S. ✉")])
    lines = expected.split("\n")
    lines[line] += " 🎞"
    assert await client.server_text(uri(path)) == "\n".join(lines) + "P.S. ✉"
    await client.diagnostics_for(uri(path), 4)


async def test_site_wide_answers_in_client_units(encoded: RecordingClient, site: Path) -> None:
    """A site-wide rename's edits, and the references to a tag, are in the client's units, each
    on the text it was worked out on: the editor's for open reviews (one here with a line more
    than on disk, another asking), the disk's for the others."""
    client, encoding = encoded, encoded.encoding  # type: ignore[attr-defined]
    on_disk = REVIEW.replace(f"[{WIDE}, Letters]", f"[{WIDE}, rename-me]")
    editor_text = on_disk.replace("author: annaw\n", "author: annaw\nimdb: tt0000001\n")
    texts = {  # as the server should see them
        "2015-02-01-wide.md": editor_text,  # open, changed in the editor
        "2015-02-02-wider.md": on_disk.replace('"Wide"', '"Wider"'),  # on disk only
        "2015-02-03-widest.md": on_disk.replace('"Wide"', '"Widest"'),  # open, as on disk
    }
    paths = {name: site / "_posts" / name for name in texts}
    for name, path in paths.items():
        path.write_text(texts[name] if name != "2015-02-01-wide.md" else on_disk, "utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(uri=uri(path), type=types.FileChangeType.Created)
                for path in paths.values()
            ]
        )
    )
    for _ in range(100):  # until the index holds them
        query = types.WorkspaceSymbolParams(query="Widest")
        if await client.workspace_symbol_async(query):
            break
        await asyncio.sleep(0.05)
    for name in ("2015-02-01-wide.md", "2015-02-03-widest.md"):
        client.open(uri(paths[name]), texts[name])
        await client.diagnostics_for(uri(paths[name]), 1)
    asking = types.TextDocumentIdentifier(uri=uri(paths["2015-02-03-widest.md"]))
    line, start, _, _ = client_range(texts["2015-02-03-widest.md"], "rename-me", encoding)
    at = types.Position(line=line, character=start + 1)
    expected = {name: [client_range(text, "rename-me", encoding)] for name, text in texts.items()}

    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=asking, position=at, new_name="renamed ✓")
    )
    assert edit is not None and edit.document_changes is not None
    found = {
        Path(change.text_document.uri).name: [as_tuple(e.range) for e in change.edits]
        for change in edit.document_changes
        if isinstance(change, types.TextDocumentEdit)
    }
    assert found == expected
    context = types.ReferenceContext(include_declaration=True)
    used = await client.text_document_references_async(
        types.ReferenceParams(text_document=asking, position=at, context=context)
    )
    assert used is not None
    by_review: dict[str, list[tuple[int, int, int, int]]] = {}
    for location in used:
        by_review.setdefault(Path(location.uri).name, []).append(as_tuple(location.range))
    assert by_review == expected
