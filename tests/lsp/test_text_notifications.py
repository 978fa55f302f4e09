"""The editor's text notifications (didOpen, didChange, didClose) are handled by the server's
protocol itself, not through pygls' dispatch (`LetterheadProtocol._notify`): handlers that stand
for the server's show that each is called with its parameters, that a handler that raises is
reported as pygls reports it and stops nothing, and that one pygls must run (a coroutine) is
left to pygls. The server's own handlers are tested through the real server elsewhere."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from lsprotocol import types

from letterhead.lsp.server import LetterheadProtocol, create_server

OPEN = types.DidOpenTextDocumentNotification(
    params=types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(
            uri="file:///site/_posts/a.md", language_id="markdown", version=1, text="Dear Ann,"
        )
    )
)


def protocol_with(method: str, handler: Any) -> LetterheadProtocol:
    server = create_server()
    protocol = server.protocol
    assert isinstance(protocol, LetterheadProtocol)
    protocol._initialize_seen = True  # as after `initialize`
    protocol.fm.features[method] = handler
    return protocol


def test_the_handler_is_called_with_the_parameters() -> None:
    called: list[Any] = []
    protocol = protocol_with(types.TEXT_DOCUMENT_DID_OPEN, called.append)
    protocol.handle_message(OPEN)
    assert called == [OPEN.params]


def test_a_handler_that_raises_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    def broken(params: types.DidOpenTextDocumentParams) -> None:
        raise ValueError("a handler's own failure")

    protocol = protocol_with(types.TEXT_DOCUMENT_DID_OPEN, broken)
    with caplog.at_level(logging.ERROR, logger="letterhead"):
        protocol.handle_message(OPEN)  # raises nothing
    assert any(
        "FeatureNotificationError" in r.getMessage() and "a handler's own failure" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]


def test_a_coroutine_handler_is_left_to_pygls() -> None:
    called: list[Any] = []

    async def handler(params: types.DidOpenTextDocumentParams) -> None:
        called.append(params)

    async def run() -> None:
        protocol = protocol_with(types.TEXT_DOCUMENT_DID_OPEN, handler)
        protocol.handle_message(OPEN)
        for _ in range(5):  # pygls runs it as a task
            await asyncio.sleep(0)

    asyncio.run(run())
    assert called == [OPEN.params]
