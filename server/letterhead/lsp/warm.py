"""Teaching the protocol's converter a session's common messages before the first one arrives.

pygls turns JSON into lsprotocol objects and back with cattrs, which writes (and compiles) the
function for each message type the first time that type is seen: a few milliseconds apiece, so
the first didOpen of a session took ~10 ms more than the next ones, and the first completion or
hover likewise. `warm_converter` passes one sample of each common message through the same
calls while the index is being built, when nobody waits on the event loop.

Adding a message type means adding a sample below.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from lsprotocol import types
from pygls.protocol import JsonRPCProtocol

logger = logging.getLogger("letterhead.lsp")

_URI = "file:///warm/_posts/2014-05-01-sample.md"
_POSITION = {"line": 3, "character": 7}
_RANGE = {"start": _POSITION, "end": {"line": 3, "character": 9}}
_DOCUMENT = {"uri": _URI}
_AT = {"textDocument": _DOCUMENT, "position": _POSITION}

# Messages from the client, as JSON: (method, params); an id makes it a request.
_INCOMING: tuple[tuple[str, dict[str, Any], bool], ...] = (
    (
        types.TEXT_DOCUMENT_DID_OPEN,
        {"textDocument": {"uri": _URI, "languageId": "markdown", "version": 1, "text": "x"}},
        False,
    ),
    (
        types.TEXT_DOCUMENT_DID_CHANGE,
        {
            "textDocument": {"uri": _URI, "version": 2},
            "contentChanges": [{"range": _RANGE, "text": "y"}, {"text": "whole"}],
        },
        False,
    ),
    (types.TEXT_DOCUMENT_DID_SAVE, {"textDocument": _DOCUMENT}, False),
    (types.TEXT_DOCUMENT_DID_CLOSE, {"textDocument": _DOCUMENT}, False),
    (
        types.TEXT_DOCUMENT_COMPLETION,
        {**_AT, "context": {"triggerKind": 2, "triggerCharacter": "["}},
        True,
    ),
    (types.TEXT_DOCUMENT_HOVER, _AT, True),
    (types.TEXT_DOCUMENT_DEFINITION, _AT, True),
    (types.TEXT_DOCUMENT_PREPARE_RENAME, _AT, True),
    (types.TEXT_DOCUMENT_RENAME, {**_AT, "newName": "z"}, True),
    (
        types.TEXT_DOCUMENT_REFERENCES,
        {**_AT, "context": {"includeDeclaration": True}},
        True,
    ),
    (types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, {"textDocument": _DOCUMENT}, True),
    (types.TEXT_DOCUMENT_DOCUMENT_LINK, {"textDocument": _DOCUMENT}, True),
    (
        types.TEXT_DOCUMENT_CODE_ACTION,
        {
            "textDocument": _DOCUMENT,
            "range": _RANGE,
            "context": {
                "diagnostics": [
                    {"range": _RANGE, "message": "m", "severity": 2, "code": "TX001", "data": {}}
                ]
            },
        },
        True,
    ),
    (types.WORKSPACE_SYMBOL, {"query": "q"}, True),
)


def _outgoing() -> list[Any]:
    """One sample of each message the server sends most: diagnostics and common answers."""
    range_ = types.Range(types.Position(3, 7), types.Position(3, 9))
    location = types.Location(_URI, range_)
    diagnostic = types.Diagnostic(
        range=range_,
        message="m",
        severity=types.DiagnosticSeverity.Warning,
        code="TX001",
        code_description=types.CodeDescription(href="https://example.invalid/TX001"),
        source="letterhead",
        tags=[types.DiagnosticTag.Unnecessary],
        related_information=[types.DiagnosticRelatedInformation(location, "r")],
        data={"fixes": []},
    )
    markup = types.MarkupContent(kind=types.MarkupKind.Markdown, value="v")
    item = types.CompletionItem(
        label="l",
        kind=types.CompletionItemKind.Value,
        detail="d",
        documentation=markup,
        sort_text="0",
        filter_text="l",
        text_edit=types.TextEdit(range_, "l"),
        label_details=types.CompletionItemLabelDetails(description="d"),
        command=types.Command("t", "editor.action.triggerSuggest"),
    )
    symbol = types.WorkspaceSymbol(name="n", kind=types.SymbolKind.File, location=location)
    return [
        types.PublishDiagnosticsNotification(
            params=types.PublishDiagnosticsParams(uri=_URI, diagnostics=[diagnostic], version=1)
        ),
        types.CompletionResponse(
            id=1, result=types.CompletionList(is_incomplete=True, items=[item])
        ),
        types.HoverResponse(id=1, result=types.Hover(contents=markup, range=range_)),
        types.WorkspaceSymbolResponse(id=1, result=[symbol]),
        types.DefinitionResponse(id=1, result=[location]),
        types.ReferencesResponse(id=1, result=[location]),
    ]


def _incoming() -> Iterator[tuple[str, dict[str, Any]]]:
    """Each sample from the client as the JSON-RPC message it arrives in, with its method."""
    for number, (method, params, request) in enumerate(_INCOMING):
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            message["id"] = number
        yield method, message


def warm_converter(protocol: JsonRPCProtocol) -> None:
    """Pass each sample through `protocol`'s own reading and writing; never raises."""
    try:
        for _, message in _incoming():
            protocol.structure_message(message)
        for outgoing in _outgoing():
            protocol._serialize_message(outgoing)
    except Exception as error:  # a sample lsprotocol no longer accepts: only a slower start
        logger.warning("warming the protocol's converter failed: %s", error)
