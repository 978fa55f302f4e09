"""Random edits and requests against one real server: it never errors, never loses an edit,
and its diagnostics for the final text are `letterhead check`'s for the same text.

One server (and one site) serves every example of a test function: hypothesis drives a
synchronous test, and the client lives on its own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsp_support import (
    SERVER_COMMAND,
    RecordingClient,
    capabilities,
    copy_site,
    initialize_params,
    uri,
)
from lsprotocol import types

from letterhead.check import load_site

T = TypeVar("T")
RELATIVE = "_posts/2015-02-01-edited.md"
INITIAL = """---
title: "Edited — été 😀"
author: annaw
addressee: Rithy Panh
position: Director
tags: [Letters, cambodia, 映画]
---
_**Dear Rithy Panh**, Director,_

Voilà é 😀: [S21](/content/2014/5/2/s21.html), [gone][1] and {% post_url 2013-09-13-the-act-of-killing %}.

   [1]: /content/2013/9/31/the-act-of-killing.html

{% contentfor signature %}
**Yours,**

Anna
{% endcontentfor %}
"""
# Pieces an author types: structure that changes what the rules see, and wide characters.
PIECES = [
    "a",
    "Z",
    " ",
    "\n",
    "\r\n",
    "\t",
    "---\n",
    "tags: [",
    "]",
    ", ",
    "Letters",
    "letters",
    "khmer rogue",
    "title: ",
    "layout: nope\n",
    "[x][1]",
    "[y][2]",
    "](",
    "/content/2014/5/2/s21.html",
    "/content/2099/1/1/gone.html",
    "{% ",
    " %}",
    "{% endcontentfor %}",
    "{% contentfor signature %}",
    "_**Dear ",
    "**, ",
    "é",
    "e\u0301",
    "😀",
    "映画",
    "🎬",
    '"',
    ":",
    "#",
    "- ",
]
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def lsp_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each line's content, as the protocol splits lines."""
    starts, ends = [0], []
    for match in LINE_BREAK.finditer(text):
        ends.append(match.start())
        starts.append(match.end())
    ends.append(len(text))
    return list(zip(starts, ends, strict=True))


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def to_client(text: str, offset: int, encoding: str) -> types.Position:
    for line, (start, end) in enumerate(lsp_lines(text)):
        if start <= offset <= end:
            return types.Position(line=line, character=units(text[start:offset], encoding))
    raise AssertionError("offset outside the text")


def addressable(text: str, offset: int) -> int:
    """`offset`, moved off the middle of a "\\r\\n" (no position of the protocol names it)."""
    if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        return offset - 1
    return offset


def apply_reference(text: str, start: int, end: int, new_text: str) -> str:
    return text[:start] + new_text + text[end:]


class Session:
    """A client on a background event loop, and the site both the server and the oracle use."""

    def __init__(self, folder: Path, encoding: str) -> None:
        self.site = copy_site(folder / "site")
        (self.site / RELATIVE).write_text(INITIAL, encoding="utf-8")
        self.oracle = copy_site(folder / "oracle")
        self.encoding = encoding
        self.uri = uri(self.site / RELATIVE)
        self.version = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = RecordingClient.create()
        self.client.set_configuration({"diagnostics": {"debounceMs": 0}}, section="letterhead")
        self.run(self._start())

    async def _start(self) -> None:
        await self.client.start_io(*SERVER_COMMAND)
        result = await self.client.initialize_session(
            initialize_params(self.site, capabilities(encodings=[self.encoding]))
        )
        assert result.capabilities.position_encoding == self.encoding
        self.capabilities = result.capabilities
        await self.client.indexed()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def stop() -> None:
            await self.client.shutdown_session()
            await self.client.stop()

        try:
            self.run(stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)

    def expected(self, text: str) -> list[tuple[str, str, tuple[int, int, int, int]]]:
        """`letterhead check`'s findings for `text` as the file, in the client's units."""
        (self.oracle / RELATIVE).write_bytes(text.encode("utf-8"))
        loaded = load_site(self.oracle)
        findings = loaded.check_document(RELATIVE, loaded.documents[RELATIVE])
        lines = lsp_lines(text)
        result = []
        for finding in findings:
            corners = []
            for point in (finding.range.start, finding.range.end):
                start, end = lines[point.line]
                offset = min(start + point.character, end)
                corners.append(to_client(text, offset, self.encoding))
            range_ = (corners[0].line, corners[0].character, corners[1].line, corners[1].character)
            result.append((finding.code, finding.message, range_))
        return sorted(result)


@pytest.fixture(params=["utf-8", "utf-16", "utf-32"])
def session(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Session]:
    session = Session(tmp_path_factory.mktemp("edits"), request.param)
    yield session
    session.close()
    shutil.rmtree(session.site.parent, ignore_errors=True)


EDIT = st.tuples(
    st.floats(0, 1),  # where the edit starts, as a fraction of the text
    st.integers(0, 12),  # how many code points it replaces
    st.lists(st.sampled_from(PIECES), max_size=4).map("".join),
    st.sampled_from(["exact", "past-line-end", "past-document-end"]),
)
REQUEST = st.tuples(
    st.sampled_from(
        [
            "hover",
            "completion",
            "codeAction",
            "definition",
            "references",
            "documentSymbol",
            "foldingRange",
            "documentLink",
            "prepareRename",
            "rename",
            "workspaceSymbol",
        ]
    ),
    st.integers(0, 40),  # line (often past the end)
    st.integers(0, 200),  # character, in client units (sometimes inside a character)
)


async def send_request(session: Session, kind: str, line: int, character: int) -> Any:
    client = session.client
    document = types.TextDocumentIdentifier(uri=session.uri)
    position = types.Position(line=line, character=character)
    caps = session.capabilities
    if kind == "hover" and caps.hover_provider:
        return await client.text_document_hover_async(
            types.HoverParams(text_document=document, position=position)
        )
    if kind == "completion" and caps.completion_provider:
        return await client.text_document_completion_async(
            types.CompletionParams(text_document=document, position=position)
        )
    if kind == "codeAction" and caps.code_action_provider:
        return await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=document,
                range=types.Range(start=types.Position(line=0, character=0), end=position),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    if kind == "definition" and caps.definition_provider:
        return await client.text_document_definition_async(
            types.DefinitionParams(text_document=document, position=position)
        )
    if kind == "references" and caps.references_provider:
        return await client.text_document_references_async(
            types.ReferenceParams(
                text_document=document,
                position=position,
                context=types.ReferenceContext(include_declaration=True),
            )
        )
    if kind == "documentSymbol" and caps.document_symbol_provider:
        return await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=document)
        )
    if kind == "foldingRange" and caps.folding_range_provider:
        return await client.text_document_folding_range_async(
            types.FoldingRangeParams(text_document=document)
        )
    if kind == "documentLink" and caps.document_link_provider:
        return await client.text_document_document_link_async(
            types.DocumentLinkParams(text_document=document)
        )
    if kind == "prepareRename" and caps.rename_provider:
        return await client.text_document_prepare_rename_async(
            types.PrepareRenameParams(text_document=document, position=position)
        )
    if kind == "rename" and caps.rename_provider:
        return await client.text_document_rename_async(
            types.RenameParams(text_document=document, position=position, new_name="renamed 😀")
        )
    if kind == "workspaceSymbol" and caps.workspace_symbol_provider:
        return await client.workspace_symbol_async(
            types.WorkspaceSymbolParams(query="é😀"[: line % 3])
        )
    return None


async def run_example(
    session: Session, edits: list[tuple[float, int, str, str]], requests: list[tuple[str, int, int]]
) -> tuple[str, list[types.Diagnostic]]:
    client = session.client
    session.version += 1
    version = session.version
    client.open(session.uri, INITIAL, version=version)
    text = INITIAL
    for index, (fraction, length, new_text, style) in enumerate(edits):
        start = addressable(text, round(fraction * len(text)))
        end = addressable(text, min(len(text), start + length))
        start_position = to_client(text, start, session.encoding)
        end_position = to_client(text, end, session.encoding)
        if style == "past-line-end":
            # The same end, said as a column far past its line's end.
            _, line_end = lsp_lines(text)[end_position.line]
            end = line_end
            end_position = types.Position(
                line=end_position.line, character=end_position.character + 1000
            )
        elif style == "past-document-end":
            end = len(text)
            end_position = types.Position(line=len(lsp_lines(text)) + 3, character=7)
        text = apply_reference(text, start, end, new_text)
        session.version += 1
        client.change(
            session.uri,
            session.version,
            [(types.Range(start=start_position, end=end_position), new_text)],
        )
        if index < len(requests):
            await send_request(session, *requests[index])
    for request in requests[len(edits) :]:
        await send_request(session, *request)
    server_text = await client.server_text(session.uri)
    assert server_text == text, "the server's copy of the document differs from the client's"
    diagnostics = await client.diagnostics_for(session.uri, session.version)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=session.uri)
        )
    )
    return text, diagnostics


@given(
    edits=st.lists(EDIT, min_size=1, max_size=8),
    requests=st.lists(REQUEST, max_size=6),
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_random_edits_and_requests(
    session: Session, edits: list[tuple[float, int, str, str]], requests: list[tuple[str, int, int]]
) -> None:
    text, diagnostics = session.run(run_example(session, edits, requests))
    got = sorted(
        (
            str(d.code),
            d.message,
            (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character),
        )
        for d in diagnostics
    )
    assert got == session.expected(text)
    errors = [m.message for m in session.client.log_messages if m.type == types.MessageType.Error]
    assert not errors, errors[0]
    assert session.client.error is None
