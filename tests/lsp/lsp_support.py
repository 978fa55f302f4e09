"""Helpers for the language server tests: a recording client, capabilities, sites on disk."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES

BASE_SITE = Path(__file__).parent.parent / "cases" / "base-site"
SERVER_COMMAND = [sys.executable, "-m", "letterhead", "serve"]
TIMEOUT = 15.0  # seconds: generous, a slow CI machine must not fail a correct server


class RecordingClient(LanguageClient):
    """pytest-lsp's client, also recording published versions and dynamic registrations."""

    poll_seconds = 0.005  # how often `until` looks

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.published: dict[str, list[types.PublishDiagnosticsParams]] = {}
        self.arrivals: list[types.PublishDiagnosticsParams] = []  # every publish, in order
        self.registrations: list[types.Registration] = []
        self.applied_edits: list[types.ApplyWorkspaceEditParams] = []

    @classmethod
    def create(cls) -> RecordingClient:
        client = cls(converter_factory=default_converter)
        for method, handler in DEFAULT_CLIENT_FEATURES.items():
            if method != types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
                client.feature(method)(handler)

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def publish(client: RecordingClient, params: types.PublishDiagnosticsParams) -> None:
            client.diagnostics[params.uri] = params.diagnostics
            client.published.setdefault(params.uri, []).append(params)
            client.arrivals.append(params)

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(client: RecordingClient, params: types.RegistrationParams) -> None:
            client.registrations.extend(params.registrations)

        return client

    # -- waiting without racing the server ----------------------------------------------------

    async def until(self, condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
        """Poll `condition` until it returns something truthy (robust where a notification may
        have arrived before a waiter could be set)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.error is not None:
                raise AssertionError(f"the client failed: {self.error}")
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(self.poll_seconds)

    async def server_stats(self) -> Any:
        """The server's `letterhead/serverStats`."""
        return await self.protocol.send_request_async("letterhead/serverStats", {})

    async def indexed(self, count: int = 1) -> None:
        """Wait until `count` sites have been indexed (the server logs each)."""
        await self.until(
            lambda: sum("letterhead: indexed" in m.message for m in self.log_messages) >= count,
            "the site to be indexed",
        )

    async def diagnostics_for(self, uri: str, version: int | None) -> list[types.Diagnostic]:
        """The diagnostics published for `uri` at `version` (the latest such)."""

        def latest() -> list[types.Diagnostic] | None:
            for params in reversed(self.published.get(uri, [])):
                if params.version == version:
                    return list(params.diagnostics) or [None]  # type: ignore[list-item]
            return None

        result = await self.until(latest, f"diagnostics for {uri} at version {version}")
        return [d for d in result if d is not None]

    def open(self, uri: str, text: str, version: int = 1, language: str = "markdown") -> None:
        self.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language, version=version, text=text
                )
            )
        )

    def change(
        self, uri: str, version: int, changes: Sequence[tuple[types.Range | None, str]]
    ) -> None:
        content: list[types.TextDocumentContentChangeEvent] = []
        for range_, text in changes:
            if range_ is None:
                content.append(types.TextDocumentContentChangeWholeDocument(text=text))
            else:
                content.append(types.TextDocumentContentChangePartial(range=range_, text=text))
        self.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=content,
            )
        )

    async def server_text(self, uri: str) -> str | None:
        result = await self.protocol.send_request_async("letterhead/documentText", {"uri": uri})
        return None if result is None else result.text


def server_config() -> ClientServerConfig:
    return ClientServerConfig(server_command=SERVER_COMMAND, client_factory=RecordingClient.create)


def copy_site(destination: Path) -> Path:
    shutil.copytree(BASE_SITE, destination)
    return destination


def uri(path: Path) -> str:
    return path.resolve().as_uri()


def capabilities(
    encodings: Sequence[str] | None = ("utf-16",),
    pull: bool = False,
    snippets: bool = True,
    markdown: bool = True,
    resolving: bool = False,
) -> types.ClientCapabilities:
    """An editor's capabilities: progress, configuration, watched files, edits with versions;
    `resolving`, a completion item's documentation asked for when it is shown and the list's
    item defaults taken, as VS Code does."""
    formats = (
        [types.MarkupKind.Markdown, types.MarkupKind.PlainText]
        if markdown
        else [types.MarkupKind.PlainText]
    )
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(
            position_encodings=list(encodings) if encodings is not None else None
        ),
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            configuration=True,
            workspace_folders=True,
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(
                dynamic_registration=True
            ),
            did_change_configuration=types.DidChangeConfigurationClientCapabilities(
                dynamic_registration=True
            ),
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
            diagnostics=types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
            if pull
            else None,
        ),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
            completion=types.CompletionClientCapabilities(
                completion_item=types.ClientCompletionItemOptions(
                    snippet_support=snippets,
                    documentation_format=formats,
                    resolve_support=types.ClientCompletionItemResolveOptions(
                        properties=["documentation", "detail", "additionalTextEdits"]
                    )
                    if resolving
                    else None,
                ),
                completion_list=types.CompletionListCapabilities(
                    item_defaults=["commitCharacters", "editRange", "insertTextFormat", "data"]
                )
                if resolving
                else None,
            ),
            hover=types.HoverClientCapabilities(content_format=formats),
            rename=types.RenameClientCapabilities(prepare_support=True),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
            diagnostic=types.DiagnosticClientCapabilities() if pull else None,
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(
                        value_set=[types.CodeActionKind.QuickFix, types.CodeActionKind.Refactor]
                    )
                ),
                data_support=True,
            ),
            document_symbol=types.DocumentSymbolClientCapabilities(
                hierarchical_document_symbol_support=True
            ),
            document_link=types.DocumentLinkClientCapabilities(tooltip_support=True),
        ),
    )


def initialize_params(
    folder: Path, client_capabilities: types.ClientCapabilities, settings: Any = None
) -> types.InitializeParams:
    return types.InitializeParams(
        capabilities=client_capabilities,
        client_info=types.ClientInfo(name="pytest-lsp", version="1"),
        workspace_folders=[types.WorkspaceFolder(uri=uri(folder), name=folder.name)],
        root_uri=uri(folder),
        initialization_options=settings,
    )


def position(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def lsp_range(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    return types.Range(start=position(*start), end=position(*end))


def as_tuple(range_: types.Range) -> tuple[int, int, int, int]:
    return (range_.start.line, range_.start.character, range_.end.line, range_.end.character)
