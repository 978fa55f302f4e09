"""The language server under hostile input and protocol abuse (SPEC §10): never a crash, a hang or
a lost edit, whatever the client sends.

Three parts:

- the hostile corpus of `tests/hostile/hostile_cases.py` through one running server: each case a
  site of its own under one workspace folder, its hostile file opened with its (decoded) text;
  diagnostics arrive in bounded time, the command line's codes appear where they do not depend on
  the file's bytes, and hover and completion still answer;
- requests the protocol allows a client to get wrong: documents never opened or already closed,
  positions past the end, edits out of bounds, unknown methods, cancellation of a long request;
- the wire and the process: malformed JSON-RPC written as raw bytes, requests before `initialize`
  and after `shutdown`, and the client going away (end of input, a killed parent, a dead
  `processId` while its pipes stay open).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import pytest_lsp
from lsp_support import (
    BASE_SITE,
    SERVER_COMMAND,
    RecordingClient,
    capabilities,
    copy_site,
    initialize_params,
    lsp_range,
    position,
    server_config,
    uri,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from letterhead.document import decode

HOSTILE = Path(__file__).parent.parent / "hostile" / "hostile_cases.py"
RAW_TIMEOUT = 10.0  # seconds a raw-protocol answer may take
EXIT_TIMEOUT = 5.0  # seconds the server may take to exit once its client is gone


def _load_hostile_cases() -> ModuleType:
    """`hostile_cases` loaded by path (its folder is not on this package's import path)."""
    spec = importlib.util.spec_from_file_location("hostile_cases_for_lsp", HOSTILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


hostile = _load_hostile_cases()

# Cases the server is not given: their file does not fit in a text document an editor would open.
SKIPPED = {"a 50 MB review"}
# Codes the command line reports from a file's bytes or its size on disk, which a text document
# opened by an editor no longer has: FL001 (binary, undecodable, too large, unreadable) and TX001
# for a byte order mark (the editor decodes it away).
FROM_BYTES = {"FL001"}
BOM_CASES = {
    "UTF-16 with a byte order mark",
    "UTF-16 big-endian with a byte order mark",
    "a UTF-8 byte order mark",
}


# -- the hostile corpus through the server -------------------------------------------------------


def _bytes_of(content: Any) -> bytes:
    return content() if callable(content) else bytes(content)


def _editor_text(data: bytes) -> str:
    """The text an editor would send for a file: decoded as the engine decodes it, or, for what
    the engine calls binary, the bytes as UTF-8 with replacement characters (NULs included)."""
    text, problems = decode(data)
    if problems and not text:
        return data.decode("utf-8", errors="replace")
    return text


def _build_corpus(workspace: Path) -> list[tuple[Any, Path, str]]:
    """Every case but the skipped ones as a site under `workspace`: (case, target file, text)."""
    built: list[tuple[Any, Path, str]] = []
    for number, case in enumerate(hostile.CASES):
        if case.name in SKIPPED:
            continue
        site = workspace / f"case-{number:02d}"
        shutil.copytree(BASE_SITE, site, symlinks=True)
        contents = {path: _bytes_of(content) for path, content in case.files.items()}
        for relative, content in contents.items():
            (site / relative).parent.mkdir(parents=True, exist_ok=True)
            (site / relative).write_bytes(content)
        if case.setup is not None:
            case.setup(site)
        target = site / case.target
        original = contents.get(case.target)
        data = original if original is not None else target.read_bytes()
        built.append((case, target, _editor_text(data)))
    return built


def _expected_codes(case: Any) -> set[str]:
    """The command line's codes that the server must report on the open text as well."""
    if case.name in BOM_CASES:
        return set()
    return set(case.codes) - FROM_BYTES


@pytest_lsp.fixture(config=server_config())
async def corpus_client(
    lsp_client: RecordingClient, tmp_path: Path
) -> Any:  # an async generator fixture
    """A server on a workspace folder holding one site per hostile case."""
    workspace = tmp_path / "corpus"
    workspace.mkdir()
    lsp_client.corpus = _build_corpus(workspace)  # type: ignore[attr-defined]
    await lsp_client.initialize_session(initialize_params(workspace, capabilities()))
    yield
    await lsp_client.shutdown_session()


async def test_hostile_corpus_through_the_server(corpus_client: RecordingClient) -> None:
    """Each hostile file opened in the editor: diagnostics in bounded time with the expected
    codes, then hover and completion answer (null or a value, never an error)."""
    client = corpus_client
    corpus: list[tuple[Any, Path, str]] = client.corpus  # type: ignore[attr-defined]
    failures: list[str] = []
    for case, target, text in corpus:
        document = uri(target)
        started = time.monotonic()
        client.open(document, text, language="yaml" if target.suffix == ".yml" else "markdown")
        expected = _expected_codes(case)

        def settled(document: str = document, expected: set[str] = expected) -> bool:
            # The site may still be indexing when the file is opened (the fixture does not
            # wait), and a publish made then can be superseded by the one after the index is
            # installed: wait for one with the expected codes, within the case's budget.
            published = client.published.get(document)
            return bool(published) and expected <= {str(d.code) for d in published[-1].diagnostics}

        try:
            await client.until(
                settled, f"diagnostics for {case.name!r}", timeout=max(10.0, case.budget)
            )
        except AssertionError:
            if not client.published.get(document):
                failures.append(f"{case.name}: no diagnostics")
                continue
        published = client.published[document]
        seconds = time.monotonic() - started
        codes = {str(d.code) for d in published[-1].diagnostics}
        missing = expected - codes
        if missing:
            failures.append(f"{case.name}: missing {sorted(missing)}; got {sorted(codes)}")
        # What the command line must not report is about the file's bytes; for a file it calls
        # binary the editor's text (replacement characters) is another text altogether.
        unwanted = set() if case.undecodable else (set(case.absent) - FROM_BYTES) & codes
        if unwanted:
            failures.append(f"{case.name}: unexpected {sorted(unwanted)}")
        for line, character in ((0, 0), (1, 3), (5, 12), (10_000, 10_000)):
            identifier = types.TextDocumentIdentifier(uri=document)
            at = position(line, character)
            await client.text_document_hover_async(
                types.HoverParams(text_document=identifier, position=at)
            )
            await client.text_document_completion_async(
                types.CompletionParams(text_document=identifier, position=at)
            )
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=document)
            )
        )
        if seconds > max(10.0, case.budget):
            failures.append(f"{case.name}: diagnostics took {seconds:.1f} s")
    # Still alive after all of it: a request with an answer the server must compute.
    assert await client.server_text(uri(corpus[0][1])) is None  # closed, so unknown
    assert not failures, "\n".join(failures)


# -- requests a client gets wrong ------------------------------------------------------------------


def _review(site: Path) -> Path:
    return site / "_posts" / "2014-05-02-s21.md"


async def _ask_everything(
    client: RecordingClient, document: str, at: types.Position, pull: bool = True
) -> dict[str, Any]:
    """Every position-based request for `document` at `at`; the answers by name."""
    identifier = types.TextDocumentIdentifier(uri=document)
    whole = types.Range(start=position(0, 0), end=at)
    answers: dict[str, Any] = {
        "hover": await client.text_document_hover_async(
            types.HoverParams(text_document=identifier, position=at)
        ),
        "completion": await client.text_document_completion_async(
            types.CompletionParams(text_document=identifier, position=at)
        ),
        "definition": await client.text_document_definition_async(
            types.DefinitionParams(text_document=identifier, position=at)
        ),
        "references": await client.text_document_references_async(
            types.ReferenceParams(
                text_document=identifier,
                position=at,
                context=types.ReferenceContext(include_declaration=True),
            )
        ),
        "prepare rename": await client.text_document_prepare_rename_async(
            types.PrepareRenameParams(text_document=identifier, position=at)
        ),
        "rename": await client.text_document_rename_async(
            types.RenameParams(text_document=identifier, position=at, new_name="x")
        ),
        "symbols": await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=identifier)
        ),
        "code actions": await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=identifier,
                range=whole,
                context=types.CodeActionContext(diagnostics=[]),
            )
        ),
        "links": await client.text_document_document_link_async(
            types.DocumentLinkParams(text_document=identifier)
        ),
        "folding": await client.text_document_folding_range_async(
            types.FoldingRangeParams(text_document=identifier)
        ),
    }
    if pull:
        answers["diagnostic pull"] = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=identifier)
        )
    return answers


def _assert_nothing(answers: dict[str, Any], what: str) -> None:
    for name, answer in answers.items():
        if name == "diagnostic pull":
            assert isinstance(answer, types.RelatedFullDocumentDiagnosticReport), (what, answer)
            assert list(answer.items) == [], (what, answer)
        elif name == "completion":
            assert answer is None or list(answer.items) == [], (what, name, answer)
        else:
            assert answer is None or answer == [], (what, name, answer)


async def test_requests_for_documents_not_open(client: RecordingClient, site: Path) -> None:
    """Requests for a file of the site never opened, one opened and closed, and one that does
    not exist answer nothing, not an error."""
    review = _review(site)
    never = uri(site / "_posts" / "2013-09-13-the-act-of-killing.md")
    for at in (position(1, 3), position(9, 8), position(10_000, 10_000)):
        _assert_nothing(await _ask_everything(client, never, at), "never opened")
        missing = uri(site / "_posts" / "2099-01-01-missing.md")
        _assert_nothing(await _ask_everything(client, missing, at), "missing")

    text = review.read_text(encoding="utf-8")
    client.open(uri(review), text)
    await client.diagnostics_for(uri(review), 1)
    opened = await _ask_everything(client, uri(review), position(9, 8))
    assert opened["hover"] is not None  # a tag: the document is answered while open
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri(review))
        )
    )
    for at in (position(9, 8), position(10_000, 10_000)):
        _assert_nothing(await _ask_everything(client, uri(review), at), "closed")
    # Changes to a closed document are ignored, and it stays closed.
    client.change(uri(review), 2, [(lsp_range((0, 0), (0, 0)), "junk")])
    assert await client.server_text(uri(review)) is None
    assert review.read_text(encoding="utf-8") == text  # the server writes no file


async def test_positions_past_the_end(client: RecordingClient, site: Path) -> None:
    """Positions past the end of a line, of the document and far beyond are clamped: every
    request answers, and the document's text is untouched."""
    review = _review(site)
    text = review.read_text(encoding="utf-8") + "Emoji 🎞 and é\n"
    client.open(uri(review), text)
    await client.diagnostics_for(uri(review), 1)
    last = text.count("\n")
    for line, character in (
        (0, 10_000),
        (9, 500),
        (last - 1, 9),  # inside the emoji's surrogate pair in UTF-16
        (last, 0),
        (last, 1),
        (last + 1, 0),
        (10_000, 10_000),
        (2**31 - 1, 2**31 - 1),
    ):
        await _ask_everything(client, uri(review), position(line, character), pull=False)
    # A code action range that ends before it starts, and one past the end.
    for range_ in (lsp_range((5, 3), (1, 0)), lsp_range((10_000, 0), (20_000, 5))):
        await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri(review)),
                range=range_,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    assert await client.server_text(uri(review)) == text


def _clamped_offset(text: str, line: int, character: int) -> int:
    """What a client does with a position past the end (LSP: the end of the line, or of the
    document), for a text with `\\n` line ends and UTF-16 columns (ASCII here)."""
    lines = text.split("\n")
    if line >= len(lines):
        return len(text)
    start = sum(len(before) + 1 for before in lines[:line])
    return start + min(character, len(lines[line]))


def _client_apply(text: str, range_: types.Range, new: str) -> str:
    start = _clamped_offset(text, range_.start.line, range_.start.character)
    end = _clamped_offset(text, range_.end.line, range_.end.character)
    start, end = min(start, end), max(start, end)
    return text[:start] + new + text[end:]


async def test_changes_out_of_bounds_are_clamped(client: RecordingClient, site: Path) -> None:
    """didChange ranges past the end of a line or of the document are clamped (and a range that
    ends before it starts is taken in order): the server's text is the client's."""
    review = _review(site)
    text = review.read_text(encoding="utf-8")
    client.open(uri(review), text)
    await client.diagnostics_for(uri(review), 1)
    edits = [
        (lsp_range((0, 50), (0, 90)), " appended to the fence line"),
        (lsp_range((3, 1_000), (4, 0)), ""),  # joins lines 3 and 4 (from past the end)
        (lsp_range((500, 0), (600, 0)), "\nP.S. at the end"),
        (lsp_range((2, 5), (10_000, 10_000)), "\ncut to the end\n"),
        (lsp_range((1, 4), (1, 0)), "[reversed]"),
        (lsp_range((2**31 - 1, 2**31 - 1), (2**31 - 1, 2**31 - 1)), "!"),
    ]
    for version, (range_, new) in enumerate(edits, start=2):
        text = _client_apply(text, range_, new)
        client.change(uri(review), version, [(range_, new)])
        assert await client.server_text(uri(review)) == text, f"after edit {version}"
    diagnostics = await client.diagnostics_for(uri(review), len(edits) + 1)
    assert isinstance(diagnostics, list)
    # Several such changes in one notification, applied in order.
    batch = [(lsp_range((99, 0), (99, 0)), "A"), (lsp_range((0, 99), (99, 99)), "B")]
    for range_, new in batch:
        text = _client_apply(text, range_, new)
    client.change(uri(review), 50, batch)
    assert await client.server_text(uri(review)) == text


async def test_unknown_methods(client: RecordingClient, site: Path) -> None:
    """An unknown request is answered MethodNotFound (-32601); unknown notifications, `$/`
    ones included, are ignored; the server answers on."""
    from pygls.exceptions import JsonRpcMethodNotFound

    for method in ("letterhead/noSuchRequest", "textDocument/noSuchThing", "$/noSuchRequest"):
        with pytest.raises(JsonRpcMethodNotFound):
            await client.protocol.send_request_async(method, {"x": 1})
    client.protocol.notify("letterhead/noSuchNotification", {"x": 1})
    client.protocol.notify("$/noSuchNotification", None)
    review = _review(site)
    client.open(uri(review), review.read_text(encoding="utf-8"))
    await client.diagnostics_for(uri(review), 1)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri(review)), position=position(9, 8)
        )
    )
    assert hover is not None


# -- cancellation of a long request --------------------------------------------------------------

LARGE_SITE_REVIEWS = 1500


@pytest.fixture
def large_site(tmp_path: Path) -> Path:
    site = copy_site(tmp_path / "large")
    template = _review(site).read_text(encoding="utf-8")
    for number in range(LARGE_SITE_REVIEWS):
        day = f"2016-{1 + number % 12:02d}-{1 + number % 28:02d}"
        (site / "_posts" / f"{day}-generated-{number}.md").write_text(
            template.replace('"S21"', f'"Generated {number}"'), encoding="utf-8"
        )
    return site


@pytest_lsp.fixture(config=server_config())
async def large_client(lsp_client: RecordingClient, large_site: Path) -> Any:
    await lsp_client.initialize_session(initialize_params(large_site, capabilities()))
    await lsp_client.indexed()
    yield
    await lsp_client.shutdown_session()


async def test_cancel_a_long_rename(large_client: RecordingClient, large_site: Path) -> None:
    """A tag renamed across 1,500 reviews, cancelled at once. The handler runs on the event loop,
    so the cancel is read after it has finished: the rename is answered (or cancelled, if that
    changes) and the server stays responsive."""
    client = large_client
    review = _review(large_site)
    client.open(uri(review), review.read_text(encoding="utf-8"))
    await client.diagnostics_for(uri(review), 1)
    params = types.RenameParams(
        text_document=types.TextDocumentIdentifier(uri=uri(review)),
        position=position(9, 8),  # `letters` in the tags
        new_name="epistles",
    )
    future = client.protocol.send_request(types.TEXT_DOCUMENT_RENAME, params, msg_id="long")
    client.cancel_request(types.CancelParams(id="long"))
    try:
        edit = await asyncio.wait_for(asyncio.wrap_future(future), 30)
    except JsonRpcRequestCancelled:
        edit = None
    if edit is not None:  # answered: every review carrying the tag is edited
        changes = edit.document_changes if hasattr(edit, "document_changes") else None
        assert changes is None or len(changes) > LARGE_SITE_REVIEWS
    started = time.monotonic()
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri(review)), position=position(9, 8)
        )
    )
    assert hover is not None
    assert time.monotonic() - started < 5
    # A cancel for a request that is long answered, or was never made, is harmless.
    client.cancel_request(types.CancelParams(id="long"))
    client.cancel_request(types.CancelParams(id="never-sent"))
    assert await client.server_text(uri(review)) is not None


# -- the wire: a client with its own framing -------------------------------------------------------


class RawServer:
    """The server as a subprocess spoken to in raw bytes; messages read by a thread."""

    def __init__(self, command: list[str], stderr: Path) -> None:
        self._stderr = stderr.open("wb")
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.pending: list[dict[str, Any]] = []
        self._ids = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                assert length is not None, "a message without Content-Length"
                self.messages.put(json.loads(stream.read(length)))
        finally:
            self.messages.put(None)

    # -- writing -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    @staticmethod
    def frame(body: bytes, length: int | None = None) -> bytes:
        size = len(body) if length is None else length
        return f"Content-Length: {size}\r\n\r\n".encode("ascii") + body

    def send(self, message: dict[str, Any]) -> None:
        self.write(self.frame(json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")))

    def request(self, method: str, params: Any = None) -> int:
        self._ids += 1
        self.send({"id": self._ids, "method": method, "params": params})
        return self._ids

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"method": method, "params": params})

    # -- reading -------------------------------------------------------------------------------

    def response(self, msg_id: int, timeout: float = RAW_TIMEOUT) -> dict[str, Any]:
        """The response to request `msg_id`; requests from the server are answered null."""
        for index, message in enumerate(self.pending):
            if message.get("id") == msg_id and "method" not in message:
                return self.pending.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no response to request {msg_id} in {timeout} s")
            try:
                received = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if received is None:
                raise AssertionError(f"the server closed its output before answering {msg_id}")
            message = received
            if "method" in message and "id" in message:
                self.send({"id": message["id"], "result": None})
            elif message.get("id") == msg_id:
                return message
            elif "method" not in message:
                self.pending.append(message)

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        return self.response(self.request(method, params))

    def initialize(self, folder: Path) -> dict[str, Any]:
        answer = self.call(
            "initialize",
            {"processId": None, "rootUri": uri(folder), "capabilities": {}},
        )
        self.notify("initialized", {})
        return answer

    def alive(self) -> None:
        """The server answers a valid request (the custom documentText, null for no document)."""
        answer = self.call("letterhead/documentText", {"uri": "file:///nowhere.md"})
        assert answer.get("result") is None and "error" not in answer, answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=EXIT_TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[RawServer]:
    server = RawServer(SERVER_COMMAND, tmp_path / "stderr.log")
    yield server
    server.close()


def _hover(document: str) -> dict[str, Any]:
    return {"textDocument": {"uri": document}, "position": {"line": 0, "character": 0}}


def test_requests_before_initialize(raw: RawServer, site: Path) -> None:
    """Before `initialize` a request is answered ServerNotInitialized (-32002) and notifications
    are dropped; `initialize` then works as usual."""
    document = uri(_review(site))
    answer = raw.call("textDocument/hover", _hover(document))
    assert answer["error"]["code"] == -32002, answer
    answer = raw.call("shutdown")
    assert answer["error"]["code"] == -32002, answer
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": document, "languageId": "markdown", "version": 1, "text": "x"}},
    )
    result = raw.initialize(site)["result"]
    assert result["serverInfo"]["name"] == "letterhead"
    assert raw.call("letterhead/documentText", {"uri": document})["result"] is None  # dropped
    raw.alive()


def test_requests_after_shutdown(raw: RawServer, site: Path) -> None:
    """After `shutdown` a request is answered InvalidRequest (-32600); `exit` then ends the
    process with status 0."""
    raw.initialize(site)
    assert "error" not in raw.call("shutdown")
    for method, params in (
        ("textDocument/hover", _hover(uri(_review(site)))),
        ("letterhead/documentText", {"uri": "file:///x.md"}),
        ("shutdown", None),
        ("initialize", {"processId": None, "capabilities": {}}),
    ):
        answer = raw.call(method, params)
        assert answer.get("error", {}).get("code") == -32600, (method, answer)
    raw.notify("exit")
    assert raw.process.wait(timeout=EXIT_TIMEOUT) == 0


MALFORMED: list[tuple[str, bytes]] = [
    ("a Content-Length that is not a number", b"Content-Length: abc\r\n\r\n{}"),
    (
        "a Content-Length shorter than the body",
        RawServer.frame(b'{"jsonrpc": "2.0", "id": 900, "method": "shutdown"}', length=20),
    ),
    ("headers without a Content-Length", b"Content-Type: application/json\r\n\r\n"),
    ("a junk line instead of headers", b"hello server\r\n"),
    ("invalid JSON", RawServer.frame(b'{"jsonrpc": "2.0", "id": 901, "method": ')),
    ("invalid UTF-8", RawServer.frame(b'{"jsonrpc": "2.0", "method": "\xff\xfe"}')),
    ("a JSON array", RawServer.frame(b"[1, 2, 3]")),
    (
        "a batch of requests",
        RawServer.frame(b'[{"jsonrpc": "2.0", "id": 902, "method": "shutdown"}]'),
    ),
    ("a JSON number", RawServer.frame(b"42")),
    ("a JSON null", RawServer.frame(b"null")),
    ("an empty object", RawServer.frame(b"{}")),
    ("a request without a method", RawServer.frame(b'{"jsonrpc": "2.0", "id": 903}')),
    (
        "a request whose method is a number",
        RawServer.frame(b'{"jsonrpc": "2.0", "id": 904, "method": 5}'),
    ),
    (
        "a request of JSON-RPC 1.0",
        RawServer.frame(b'{"jsonrpc": "1.0", "id": 905, "method": "shutdown"}'),
    ),
    (
        "a request with ill-typed params",
        RawServer.frame(
            b'{"jsonrpc": "2.0", "id": 906, "method": "textDocument/hover", "params": [1]}'
        ),
    ),
    (
        "a notification with ill-typed params",
        RawServer.frame(b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": 7}'),
    ),
    (
        "a response to nothing",
        RawServer.frame(b'{"jsonrpc": "2.0", "id": "nobody-asked", "result": 1}'),
    ),
]


def test_malformed_json_rpc(raw: RawServer, site: Path) -> None:
    """Each malformed message (bad framing, invalid JSON, wrong shapes) is survived: the next
    valid request is answered."""
    raw.initialize(site)
    raw.alive()
    for name, data in MALFORMED:
        raw.write(data)
        try:
            raw.alive()
        except AssertionError as error:
            raise AssertionError(f"after {name}: {error}") from error
        assert raw.process.poll() is None, f"the server exited after {name}"
    # A well-typed request with the id of an ill-typed one is still answered.
    answer = raw.call("textDocument/hover", _hover(uri(_review(site))))
    assert "error" not in answer, answer


# -- the client going away -----------------------------------------------------------------------


def _gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie nobody reaped counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_gone(pid: int, timeout: float = EXIT_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


@pytest.mark.parametrize("initialized", [False, True])
def test_end_of_input_ends_the_server(raw: RawServer, site: Path, initialized: bool) -> None:
    """The client closes the server's stdin (it died, or forgot `exit`): the server exits."""
    if initialized:
        raw.initialize(site)
        raw.alive()
    assert raw.process.stdin is not None
    raw.process.stdin.close()
    try:
        raw.process.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError("the server outlived the end of its input") from None


WRAPPER = """
import subprocess, sys, time
server = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
body = b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}'
server.stdin.write(b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
server.stdin.flush()
server.stdout.readline()  # the answer's first header: the server is up
print(server.pid, flush=True)
time.sleep(600)
"""


def test_killed_parent_leaves_no_orphan(tmp_path: Path) -> None:
    """An editor (here a wrapper holding the server's pipes) killed with SIGKILL: the server
    sees the end of its input and exits within seconds, leaving no orphan."""
    wrapper = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, *SERVER_COMMAND],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert wrapper.stdout is not None
    try:
        line = wrapper.stdout.readline()
        assert line.strip().isdigit(), f"the wrapper did not start the server: {line!r}"
        pid = int(line)
        assert not _gone(pid)
        wrapper.send_signal(signal.SIGKILL)
        wrapper.wait(timeout=EXIT_TIMEOUT)
        if not _wait_gone(pid):
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("the server outlived its killed parent")
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait()
        wrapper.stdout.close()


KEPT_OPEN_WRAPPER = """
import json, os, subprocess, sys, time
read_end, write_end = os.pipe()
# A child of the client keeps the server's stdin open after the client dies (no end of input).
keeper = subprocess.Popen(["sleep", "600"], pass_fds=(write_end,))
output = open(sys.argv[1], "wb")
server = subprocess.Popen(sys.argv[2:], stdin=read_end, stdout=output, stderr=subprocess.DEVNULL)
params = {"processId": os.getpid(), "capabilities": {}}
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}).encode()
os.write(write_end, b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
while os.path.getsize(sys.argv[1]) == 0:  # the answer: the server is up
    time.sleep(0.02)
print(server.pid, keeper.pid, flush=True)
time.sleep(600)
"""


def test_server_exits_when_the_client_process_dies(tmp_path: Path) -> None:
    """The client (the `processId` of `initialize`) is killed while a child of it keeps the
    server's stdin open: the server notices the client is gone and exits within seconds."""
    wrapper = subprocess.Popen(
        [sys.executable, "-c", KEPT_OPEN_WRAPPER, str(tmp_path / "out"), *SERVER_COMMAND],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert wrapper.stdout is not None
    keeper = None
    try:
        line = wrapper.stdout.readline().split()
        assert len(line) == 2, f"the wrapper did not start the server: {line!r}"
        pid, keeper = int(line[0]), int(line[1])
        wrapper.send_signal(signal.SIGKILL)
        wrapper.wait(timeout=EXIT_TIMEOUT)
        if not _wait_gone(pid):
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("the server outlived its client's process")
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait()
        wrapper.stdout.close()
        if keeper is not None and not _gone(keeper):
            os.kill(keeper, signal.SIGKILL)
