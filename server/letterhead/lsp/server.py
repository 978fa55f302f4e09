"""`letterhead serve`: the language server's lifecycle, document sync, diagnostics and settings.

Handlers here only translate and schedule: the engine computes (through `workspace`), `convert`
maps positions and types. Feature requests (completion, hover, ...) are wired in `requests`.
Sites are indexed in a background thread while requests are answered from what is known; the
index is swapped in on the event loop, so the engine's objects are only ever used from one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import itertools
import json
import logging
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, cast

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import (
    FeatureNotificationError,
    JsonRpcContentModified,
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcRequestCancelled,
)
from pygls.feature_manager import is_thread_function
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import from_fs_path

from letterhead import __version__
from letterhead.check import CHECKED_SUFFIXES, LoadedSite, read_text
from letterhead.codecache import GeneratedCode
from letterhead.document import Document
from letterhead.features.catalog import catalog_lag, catalog_of, keep_up
from letterhead.features.completion import LIMIT as COMPLETION_LIMIT
from letterhead.features.markup import prepare_plain_text
from letterhead.index import SiteIndex, collector_paused
from letterhead.indexer import index_site_cached
from letterhead.lsp import convert
from letterhead.lsp.checks import Checks
from letterhead.lsp.headstart import HeadStart, workspace_folders
from letterhead.lsp.idle import IdleTrim
from letterhead.lsp.reader import AsyncMessageReader, MessageReader, serve_messages
from letterhead.lsp.warm import warm_converter
from letterhead.lsp.workspace import (
    CONFIG_FILE,
    Dependents,
    OpenDocument,
    SiteState,
    UserSettings,
    Workspace,
    find_sites,
    path_of,
)
from letterhead.positions import LineIndex, Range
from letterhead.render import prepare as prepare_templates
from letterhead.render import prepared as templates_loaded
from letterhead.rules import all_rules

logger = logging.getLogger("letterhead.lsp")

DOCUMENT_TEXT = "letterhead/documentText"  # custom request: the server's copy of a document
SERVER_STATS = "letterhead/serverStats"  # custom request: counts of what the server holds
CONFIG_SECTION = "letterhead"
WATCHED_GLOBS = (
    "**/*.{md,markdown,mkd,mkdn,mdown,html,htm,yml,yaml}",
    "**/*.{jpg,jpeg,png,gif,webp,avif,svg,pdf}",
)


# How many completion answers keep their document for `completionItem/resolve`.
KEPT_COMPLETIONS = 8
# The notifications of an editor's text, which come by the thousand when it applies a rename:
# their handlers are called straight from `LetterheadProtocol.handle_message`.
TEXT_NOTIFICATIONS = frozenset(
    (types.TEXT_DOCUMENT_DID_OPEN, types.TEXT_DOCUMENT_DID_CHANGE, types.TEXT_DOCUMENT_DID_CLOSE)
)


class JsonAnswer(str):
    """An answer already written as JSON, which `LetterheadProtocol` sends as it is: how a large
    answer is built a piece at a time instead of as one tree of objects."""

    @classmethod
    def workspace_edit(cls, pieces: list[str], versioned: bool) -> JsonAnswer:
        """A workspace edit from `LetterheadServer.json_pieces` of its parts, in order."""
        if versioned:
            return cls('{"documentChanges":[' + ",".join(pieces) + "]}")
        return cls('{"changes":{' + ",".join(pieces) + "}}")

    @classmethod
    def array(cls, pieces: list[str]) -> JsonAnswer:
        """A list from the JSON of its items, in order (`LetterheadServer.json_items`)."""
        return cls("[" + ",".join(pieces) + "]")


class LetterheadProtocol(LanguageServerProtocol):
    """pygls' protocol with UTF-8 preferred and text kept by letterhead itself; the other
    overrides below (messages out of turn, notification futures, answers already in JSON) say
    what they mend.

    pygls picks the client's first supported encoding (UTF-32 before UTF-8 if listed so) and keeps
    its own copy of open documents, split on more line breaks than the protocol knows and patched
    with positions that are not clamped as the protocol says. The server's `Workspace` keeps the
    text instead, patched by `convert.apply_change`.
    """

    _initialize_seen = False  # set when the `initialize` request arrives
    _task_started = False  # a handler was started as a task since `started_a_task` last asked

    def started_a_task(self) -> bool:
        """Whether a handler was started as a task (a coroutine) since the last call."""
        started, self._task_started = self._task_started, False
        return started

    def handle_message(self, message: Any) -> None:
        """pygls' dispatch, with the protocol's rules for messages out of turn.

        Before `initialize`, a request is answered ServerNotInitialized (-32002) and a
        notification other than `exit` dropped; after `shutdown`, a request other than `exit` is
        answered InvalidRequest (-32600). pygls runs the first and drops the second unanswered,
        which leaves the client waiting forever.
        """
        cast("LetterheadServer", self._server).idle.activity()
        method = getattr(message, "method", None)
        if isinstance(method, str) and method != types.EXIT:
            error: types.ResponseError | None = None
            if self._shutdown:
                error = types.ResponseError(code=-32600, message="the server is shutting down")
            elif method == types.INITIALIZE:
                self._initialize_seen = True
            elif not self._initialize_seen:
                error = types.ResponseError(
                    code=-32002, message="the server is not initialized yet"
                )
            if error is not None:
                if getattr(message, "id", None) is not None:  # a request, not a notification
                    self._send_response(message.id, error=error)
                return
            if (
                method in TEXT_NOTIFICATIONS
                and getattr(message, "id", None) is None
                and self._notify(method, message.params)
            ):
                return
        super().handle_message(message)

    def _notify(self, method: str, params: Any) -> bool:
        """Call a text notification's handler as pygls would, with less on the way; False if it
        is one pygls must run (a coroutine, or for a thread), never so in this server.

        pygls tells a request from a notification by `isinstance` against runtime-checkable
        protocols (~25 us a message), names each call with a fresh UUID, and runs the handler
        through the generator its `lsp_text_document__did_*` method is, a future for each of
        the two steps. An exception is reported as pygls reports it."""
        handler = self.fm.features.get(method)
        if handler is None:
            return True  # as `lsp_text_document__did_*` below: nothing to call
        if asyncio.iscoroutinefunction(handler) or is_thread_function(handler):
            return False
        try:
            handler(params)
        except Exception:
            error = JsonRpcInternalError.of(sys.exc_info())
            self._server._report_server_error(error, FeatureNotificationError)
        return True

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """pygls' handler execution, without its leak: for a notification whose handler is a
        generator or a coroutine (didOpen, didChange, didClose, ...), pygls 2.1 keeps the
        handler's future in `_request_futures` under a fresh id for ever, about 2 KiB per
        keystroke (the soak in `bench/soak.py` found it). The future is dropped once done, if it
        is still the one kept under its id (a request's is popped by pygls when it answers)."""
        if asyncio.iscoroutinefunction(handler):
            self._task_started = True  # see `started_a_task`
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            futures = self._request_futures

            def forget(done: Any, msg_id: Any = msg_id) -> None:
                # A cancelled one is left: pygls cancels while iterating over the futures (at
                # shutdown), and a concurrent future runs this callback right inside `cancel`.
                if not done.cancelled() and futures.get(msg_id) is done:
                    del futures[msg_id]

            future.add_done_callback(forget)

    def _send_response(
        self,
        msg_id: Any,
        result: Any | None = None,
        error: types.ResponseError | None = None,
    ) -> None:
        """pygls' answer, except one already written as JSON (`JsonAnswer`): pygls would turn a
        whole answer into one tree of dicts before writing it, ~14 MiB on top of the answer's
        own objects for a rename across 7,848 reviews, the server's memory peak.

        An answer counts as activity, as the request did: quiet is counted from the end of a
        long request (a rename of 2 s), not from its start."""
        cast("LetterheadServer", self._server).idle.activity()
        if error is not None or not isinstance(result, JsonAnswer):
            super()._send_response(msg_id, result, error)
            return
        self._result_types.pop(msg_id, None)
        if self.writer is None:
            return
        head = f'{{"jsonrpc":"2.0","id":{json.dumps(msg_id)},"result":'.encode()
        body = result.encode()  # ASCII: `json.dumps` escapes everything else
        if self._include_headers:
            length = len(head) + len(body) + 1
            self.writer.write(
                f"Content-Length: {length}\r\n"
                f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n".encode()
            )
        # In pieces rather than joined (one copy fewer); stdio and TCP (asyncio's StreamWriter)
        # write at once, in order.
        self.writer.write(head)
        self.writer.write(body)
        self.writer.write(b"}")

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            chosen = convert.choose_encoding(general.position_encodings)
            rest = [e for e in general.position_encodings if e != chosen]
            general.position_encodings = [chosen, *rest]
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(
        self, params: types.DidOpenTextDocumentParams
    ) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


class LetterheadServer(LanguageServer):
    """The pygls server with letterhead's state: the workspace, timers and client abilities."""

    def __init__(self) -> None:
        super().__init__(
            name="letterhead",
            version=__version__,
            protocol_cls=LetterheadProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.state = Workspace()
        self.folders: list[Path] = []
        self.client_name = "an unnamed client"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.initial_settings = UserSettings()  # from `initializationOptions`, under the client's
        self.checks = Checks(self._run_check, self._unchecked_in)
        self.last_open = -math.inf  # when the last document was opened (`did_open`)
        self.push_diagnostics = True
        self.refresh_diagnostics = False
        self._progress_tokens = 0
        self._indexing: dict[Path, asyncio.Task[None]] = {}
        self._index_threads: set[threading.Thread] = set()  # indexing, or to write the cache
        self._stopping = threading.Event()  # set by `shutdown`: write the cache now
        # Who keeps the switch interval short (`_interpreter_shared`): indexing threads running
        # Python now (not waiting for the editor to pause), and a token for each `_prepare`
        # taking its steps on the event loop's thread.
        self._busy: set[object] = set()
        self._preparing: asyncio.Future[None] | None = None  # `_prepare`, kept alive
        self._switching = threading.Lock()
        self._quiet_switch_interval = sys.getswitchinterval()
        self.rendering_prepared: str | None = None  # when it began (`_prepare_rendering`)
        # Gives freed memory back when the server goes quiet, once the catalogs let go of the
        # index records replaced since they last looked (`keep_up`).
        self.idle = IdleTrim(tidy=self._catch_up)
        # The protocol stack's compiled code, kept for the next start (`serve` installs it).
        self.generated_code = GeneratedCode(None)
        # The sites' listings begun before the protocol stack's import (`serve` hands it over),
        # and how many indexes took theirs from it.
        self.head_start = HeadStart()
        self.listed_early = 0
        self.warming: asyncio.Future[None] | None = None  # `_warm_once_indexed`, kept alive
        # The documents of the latest completion answers whose items' documentation is asked
        # for later (`completionItem/resolve`), by the answer's number (`remember_completion`).
        self.completions: dict[int, str] = {}
        self._completions_made = 0

    def serve_stdio(self, reader: MessageReader, stdout: BinaryIO) -> None:
        """Serve the client on `reader` and `stdout` until it is gone: pygls' `start_io`, with
        its reading of stdin replaced (`serve_messages`)."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))
        protocol = cast("LetterheadProtocol", self.protocol)
        try:
            asyncio.run(
                serve_messages(
                    self._stop_event,
                    AsyncMessageReader(reader, self.thread_pool, protocol.started_a_task),
                    protocol,
                    lambda error: self.report_server_error(error, JsonRpcException),
                    logging.getLogger("pygls.server"),  # where pygls' own loop logged
                )
            )
        except BrokenPipeError:
            logger.error("the connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    # -- what the client can do --------------------------------------------------------------

    def supports(self, field: str) -> bool:
        return bool(get_capability(self.client_capabilities, field, None))

    def offers(self, field: str, *values: str) -> bool:
        """Whether the client's capability at `field`, a list, holds every one of `values`."""
        listed = get_capability(self.client_capabilities, field, None)
        return isinstance(listed, (list, tuple)) and all(value in listed for value in values)

    def remember_completion(self, uri: str) -> int:
        """A number for a completion answer in the document at `uri`, by which its items ask
        for their documentation; the latest few are remembered (the editor asks about the list
        it shows, the latest)."""
        self._completions_made += 1
        self.completions[self._completions_made] = uri
        if len(self.completions) > KEPT_COMPLETIONS:
            del self.completions[next(iter(self.completions))]
        return self._completions_made

    def markdown(self, field: str) -> bool:
        return self.offers(field, types.MarkupKind.Markdown)

    # -- logging -----------------------------------------------------------------------------

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """A `window/logMessage` line for the client's output panel (never stdout)."""
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # the transport may be gone at shutdown
            logger.debug("could not log %r", message)

    def verbose(self) -> bool:
        return (
            self.state.settings.trace == "verbose"
            or self.protocol.trace == types.TraceValue.Verbose
        )

    def report_server_error(self, error: Exception, source: Any) -> None:
        # A failed request is already answered with an error; nothing becomes a pop-up. Logged
        # to stderr, and (through `ClientLogHandler`) to the client's log, unless it is an
        # outcome rather than a failure.
        if not isinstance(error, EXPECTED_ERRORS):
            logger.error("%s: %s", getattr(source, "__name__", source), error)

    def guarded(self, what: str, function: Callable[..., Any], *arguments: Any) -> Any:
        """Run engine work for a notification; an exception is logged, never raised."""
        try:
            return function(*arguments)
        except Exception:
            logger.exception("%s failed", what)  # `ClientLogHandler` tells the client too
            return None

    # -- documents -----------------------------------------------------------------------------

    def codec(self, document: OpenDocument) -> convert.TextCodec:
        """Positions of the document's current text in the negotiated encoding."""
        parsed = document.document
        if parsed is not None and parsed.text == document.text:
            return convert.TextCodec(parsed.lines, self.state.encoding)
        return convert.TextCodec.of(document.text, self.state.encoding)

    def codec_for(
        self, state: SiteState, relative: str, lines: LineIndex | None = None
    ) -> convert.TextCodec:
        """Positions of another file of the site, as the engine read it: on `lines` when the
        caller has the text it worked on (a site-wide answer reads thousands of files, more
        than the engine keeps the parses of), else the editor's text, the index's, or for files
        the index keeps no text of, such as layouts, the disk's."""
        if lines is not None:
            return convert.TextCodec(lines, self.state.encoding)
        if (document := self.state.open_at(state, relative)) is not None:
            return self.codec(document)
        indexed = state.loaded.document(relative, head_only=True)  # recent parses are kept
        if indexed is not None:
            return convert.TextCodec(indexed.lines, self.state.encoding)
        text, _ = read_text(state.root / relative, state.loaded.settings.max_file_bytes)
        return convert.TextCodec.of(text, self.state.encoding)

    def uri_for(self, state: SiteState, relative: str) -> str:
        # `os.path.join`, not `state.root / relative`: pathlib interns every part of a path it
        # parses, and a site-wide answer naming thousands of files would grow (and rebuild) the
        # interpreter's table of interned strings with their names.
        return (
            self.state.uri_of(state, relative)
            or from_fs_path(os.path.join(state.root, relative))
            or ""
        )

    def json_items(self, items: Iterable[Any]) -> list[str]:
        """The JSON of each of `items` (protocol objects), for `JsonAnswer.array`."""
        unstructure, dumps = self.protocol._converter.unstructure, json.dumps
        return [dumps(unstructure(item)) for item in items]

    def json_pieces(self, edit: types.WorkspaceEdit) -> list[str]:
        """The JSON of each file's change in `edit`, for `JsonAnswer.workspace_edit`."""
        unstructure, dumps = self.protocol._converter.unstructure, json.dumps
        if edit.document_changes is not None:
            return [dumps(unstructure(change)) for change in edit.document_changes]
        return [
            dumps(uri) + ":" + dumps(unstructure(edits))
            for uri, edits in (edit.changes or {}).items()
        ]

    def location(self, state: SiteState, relative: str, range_: Range) -> types.Location:
        codec = self.codec_for(state, relative)
        return types.Location(uri=self.uri_for(state, relative), range=codec.range(range_))

    def parse(self, document: OpenDocument) -> Document:
        """The document's parse; if its text changed, re-check what depends on it."""
        parsed, change = self.state.parsed(document)
        self.recheck_dependents(document, change)
        return parsed

    def up_to_date(self, document: OpenDocument) -> None:
        """Put the document's text in its site's index if it changed, and re-check what
        depends on it (without keeping its parse, unlike `parse`)."""
        self.recheck_dependents(document, self.state.up_to_date(document))
        if document.site is not None:
            keep_up(document.site.loaded.index)  # lets the records this edit replaced go

    def recheck_dependents(self, document: OpenDocument, change: Dependents) -> None:
        """Fresh diagnostics, after the debounce, for the open documents whose findings may
        change with `document` as `change` says: every one of its site for its tags and
        categories (their counts; `SITE_RECHECK_SECONDS` at the least), those linking to it for
        the rest."""
        state = document.site
        if state is None or not (change.taxonomy or change.target):
            return
        if not self.push_diagnostics:
            if self.refresh_diagnostics:
                self.request_refresh()
            return
        if change.taxonomy:
            self.checks.site(state.root, max(self._delay(None), SITE_RECHECK_SECONDS))
            return
        for other in self.state.linking_to(document, change):
            self.schedule_check(other)

    # -- diagnostics ---------------------------------------------------------------------------

    def diagnostics(self, document: OpenDocument) -> list[types.Diagnostic]:
        started = time.perf_counter()
        self.up_to_date(document)
        findings = self.state.findings(document)
        codec = self.codec(document)
        state = document.site

        def related(path: str, range_: Range) -> types.Location | None:
            if state is None:
                return None
            if path == document.relative:
                return types.Location(uri=document.uri, range=codec.range(range_))
            return self.location(state, path, range_)

        result = [convert.diagnostic(finding, codec, related) for finding in findings]
        if self.verbose():
            elapsed = (time.perf_counter() - started) * 1000
            self.log(
                f"letterhead: {document.relative or document.uri}: {len(result)} finding(s) "
                f"in {elapsed:.1f} ms",
                types.MessageType.Log,
            )
        return result

    def publish(self, document: OpenDocument) -> None:
        diagnostics = self.guarded("checking " + document.uri, self.diagnostics, document)
        if diagnostics is None:
            return
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=document.uri, version=document.version, diagnostics=diagnostics
            )
        )
        document.published = (self.state.stamp, document.version)

    def schedule_check(self, document: OpenDocument, delay_ms: int | None = None) -> None:
        """Re-check a document after `delay_ms` (None: the debounce); a newer request replaces
        an older one."""
        self.checks.document(document.uri, self._delay(delay_ms))

    def _delay(self, delay_ms: int | None) -> float:
        """`delay_ms` in seconds, the user's debounce for None."""
        return (self.state.settings.debounce_ms if delay_ms is None else delay_ms) / 1000

    def _unchecked_in(self, root: Hashable) -> list[str]:
        """The open documents of the site at `root` whose diagnostics were not published for
        their text as it is and the index as it is (`Checks.site`)."""
        state = self.state.sites.get(cast(Path, root))
        if state is None:
            return []
        fresh = self.state.stamp
        return [
            document.uri
            for document in self.state.open_in(state)
            if document.published != (fresh, document.version)
        ]

    def _run_check(self, uri: str) -> None:
        document = self.state.get(uri)
        if document is None:
            return
        if self.push_diagnostics:
            self.publish(document)
        else:
            self.guarded("checking " + uri, self.up_to_date, document)

    def recheck_open(self, state: SiteState | None = None, delay_ms: int | None = 0) -> None:
        """Fresh diagnostics for every open document (of one site): pushed, or a refresh asked."""
        sites = [state] if state is not None else list(self.state.sites.values())
        if self.push_diagnostics:
            for site in sites:
                self.checks.site(site.root, self._delay(delay_ms))
            if state is None:  # and the documents of no site (never any finding, but cleared)
                for document in self.state.documents.values():
                    if document.site is None:
                        self.schedule_check(document, delay_ms)
        elif self.refresh_diagnostics and self.state.documents:
            self.request_refresh()

    def request_refresh(self) -> None:
        try:
            self.workspace_diagnostic_refresh(None)
        except Exception as error:
            logger.warning("diagnostic refresh failed: %s", error)

    # -- sites ---------------------------------------------------------------------------------

    def start_indexing(self, state: SiteState) -> None:
        """Index (or re-index) a site in the background; requests are answered meanwhile."""
        previous = self._indexing.get(state.root)
        if previous is not None and not previous.done():
            previous.cancel()
        if state.generation:  # a listing begun early is for the site's first index only
            self.head_start.close(state.root)
        state.generation += 1
        state.indexing = True
        self._indexing[state.root] = asyncio.ensure_future(self._index(state, state.generation))

    async def _index(self, state: SiteState, generation: int) -> None:
        listed = self.head_start.take(state.root)  # before any `await`: see `start_indexing`
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[LoadedSite] = loop.create_future()
        progress: dict[str, str | None] = {"token": None}
        counts = {"reused": 0, "read": 0, "snapshot": 0}

        def report(done: int, total: int) -> None:
            token = progress["token"]
            if token is not None and total:
                percentage = min(99, done * 100 // total)
                self.work_done_progress.report(
                    token,
                    types.WorkDoneProgressReport(
                        message=f"{done:,} of {total:,} files", percentage=percentage
                    ),
                )

        def from_thread(done: int, total: int) -> None:
            loop.call_soon_threadsafe(report, done, total)

        def work() -> None:
            self._interpreter_shared(True)
            # The template engine hover previews and the salutation fix use, and for a client
            # that reads plain text the Markdown parser: their import takes 0.1-0.27 s of one
            # core. An index that runs for seconds (a cold one: every core busy parsing) hides
            # it; after ready it would share the interpreter with the first requests (a
            # stream of link completions 2 s after a cold index of 20,000 reviews took twice as
            # long for ~0.3 s). So it is imported beside an index still running after
            # `RENDERING_EARLY_SECONDS`, and otherwise once the index is ready (below).
            ready = threading.Event()
            early = threading.Thread(
                target=self._prepare_rendering,
                args=(ready, RENDERING_EARLY_SECONDS),
                name="letterhead-rendering",
                daemon=True,
            )
            early.start()
            try:
                try:
                    with collector_paused(freeze=True):  # the index is for keeps
                        indexed = index_site_cached(
                            state.root,
                            progress=from_thread,
                            meanwhile=warm_up_early,
                            started=listed,
                        )
                        warm_up(indexed.loaded)
                except BaseException as error:
                    loop.call_soon_threadsafe(_settle, future, None, error)
                    return
                finally:
                    ready.set()
                counts["reused"], counts["read"] = indexed.reused, indexed.read
                counts["snapshot"] = int(indexed.from_snapshot)
                self.listed_early += indexed.listed_early
                ready_at = loop.time()
                loop.call_soon_threadsafe(_settle, future, indexed.loaded, None)
                early.join()
                if not templates_loaded():
                    # Off the way to a ready index, and out of the way of the first messages
                    # after it (an editor restoring its open files opens them then): run at
                    # once, a review opened 0.08 s after a restart's ready shared the
                    # interpreter with the import and had its diagnostics after 56-76 ms
                    # instead of ~10 (1,000 reviews).
                    self._until_quiet(
                        loop.time, TEMPLATES_QUIET_SECONDS, TEMPLATES_LATEST_SECONDS, ready_at
                    )
                    self._prepare_rendering()
                # Written once the editor leaves the server quiet after ready (or at shutdown):
                # at 20,000 reviews the writing keeps both cores busy for most of a second, and
                # done at once it doubled the answer times of an editor's first requests. (An
                # editor waiting for the index sends nothing: quiet before ready is no sign.)
                self._until_quiet(loop.time, QUIET_SECONDS, PERSIST_LATEST_SECONDS, ready_at)
                if generation == state.generation:  # else the index that replaced it is written
                    try:
                        indexed.persist(at_once=self._stopping.is_set())
                    except Exception as error:  # the cache is a convenience; never fatal
                        logger.warning("could not write the persistent index: %s", error)
            finally:
                self._index_threads.discard(threading.current_thread())
                self._interpreter_shared(False)
                # The indexing's and the write's temporaries are freed: a trim follows.
                loop.call_soon_threadsafe(self.idle.activity)

        thread = threading.Thread(target=work, name="letterhead-index", daemon=True)
        self._index_threads.add(thread)
        thread.start()
        token = await self._begin_progress(f"Indexing {state.root.name}", str(state.root))
        progress["token"] = token
        try:
            loaded = await future
        except asyncio.CancelledError:
            self._end_progress(token, "cancelled")
            raise
        except Exception as error:
            state.indexing = False
            self._end_progress(token, "failed")
            self.log(f"letterhead: could not index {state.root}: {error}", types.MessageType.Error)
            return
        if generation != state.generation or self.state.sites.get(state.root) is not state:
            self._end_progress(token, "superseded")
            return
        seconds = time.perf_counter() - started
        reload = state.ready
        self.guarded("installing the index", self.state.install, state, loaded, seconds)
        keep_out_of_collections(reload)
        self.guarded("replaying file changes", self.state.replay_pending, state)
        reviews = loaded.index.review_count
        summary = (
            f"{len(loaded.index.documents)} documents ({reviews} reviews), "
            f"{len(loaded.index.tags.all())} tags, in {seconds:.2f} s "
            f"({counts['read']:,} files read, {counts['reused']:,} from the persistent index"
            + (", its snapshot)" if counts["snapshot"] else ")")
        )
        self._end_progress(token, summary)
        self.log(f"letterhead: indexed {state.root}: {summary}")
        self.recheck_open(state)
        self.idle.activity()  # the indexing's temporaries are gone: give their pages back
        # Once the open documents' checks have gone out, what the first completion would build.
        asyncio.get_running_loop().call_later(PRIME_SECONDS, self._prime, state, loaded)

    def _prepare_rendering(
        self, ready: threading.Event | None = None, unless_ready_within: float = 0.0
    ) -> None:
        """Import what renders previews and plain text (see `_index`), unless `ready` is set
        within `unless_ready_within` seconds."""
        if ready is not None and ready.wait(unless_ready_within):
            return
        self.rendering_prepared = "beside the index" if ready is not None else "after ready"
        try:
            prepare_templates()
        except Exception as error:  # then the first render loads it, or reports why
            logger.warning("could not load the template engine: %s", error)
        if not (
            self.markdown("text_document.hover.content_format")
            and self.markdown(COMPLETION_DOCUMENTATION)
        ):
            try:  # else a client's first plain-text answer loads the Markdown parser
                prepare_plain_text()
            except Exception as error:
                logger.warning("could not load the Markdown parser: %s", error)

    def _until_quiet(
        self, clock: Callable[[], float], quiet: float, latest: float, since: float = -math.inf
    ) -> None:
        """Block the calling thread (not the event loop's), an indexing thread, until no
        message has come or gone for `quiet` seconds (nor since `since`) by the event loop's
        `clock`, `latest` seconds have passed (a client that never pauses), or `shutdown` has
        begun; the thread counts as not running Python meanwhile (`_interpreter_shared`)."""
        self._interpreter_shared(False)
        try:
            deadline = clock() + latest
            while not self._stopping.is_set():
                now = clock()
                wait = min(max(self.idle.last, since) + quiet, deadline) - now
                if wait <= 0:
                    return
                self._stopping.wait(wait)
        finally:
            self._interpreter_shared(True)

    def _prime(self, state: SiteState, loaded: LoadedSite) -> None:
        if state.loaded is loaded:  # else indexed again meanwhile
            self._preparing = asyncio.ensure_future(self._prepare(state, loaded))

    async def _prepare(self, state: SiteState, loaded: LoadedSite) -> None:
        """Build before anyone waits on them what first requests would build at once, a step
        of a few milliseconds at a time, so that a request waits for a step at most:

        - at once, the catalog's records of every review (`Catalog.taking`; ~50 ms at 20,000
          reviews, which the index is ready without), then what the first completion in a tag
          list and the first check of a review with a tag of its own build
          (`Catalog.priming`, `Taxonomy.preparing`; ~0.15 s in all; built in one go, it held
          up the first didOpen after indexing by as much on a busy machine), a step at a time
          once `STEP_GAP_SECONDS` have passed since the last message arrived;
        - once neither a message nor the index has come for `QUIET_SECONDS`, one step
          at a time, the backlinks and dead-link near-miss tables (`SiteIndex.prepare`; 0.1-0.2
          s each at 20,000 reviews), then what a first symbol search or completion of a link,
          a `{% post_url`, a front matter value or an `image:` would build (`Catalog.searching`;
          10-30 ms each), never in the middle of a burst of requests; then the generated-code
          cache is written if it needs to be (`GeneratedCode.save`).

        What was built lives as long as the index: it is kept out of the collector's walks with
        it (a full collection walking the catalog's lists added 5-7 ms to every 30th request).
        A step that fails leaves the rest to be built on first use."""
        index = loaded.index
        catalog = catalog_of(index)  # brought up to date by its first steps
        # The taxonomies' first: the first check of a review with a tag needs them (TX002,
        # TX102), and an editor restoring its open files sends their didOpens at once, before
        # any completion (a review opened 0.08 s after a restart at 1,000 reviews built them
        # itself, 35 ms, when they came after the catalog's steps).
        primed = itertools.chain(
            index.tags.preparing(),  # for TX002
            index.categories.preparing(),  # for TX102
            catalog.taking(),
            catalog.priming(COMPLETION_LIMIT),
        )
        image_dirs = loaded.settings.image_dirs
        quietly = itertools.chain(index.prepare(), catalog.searching(image_dirs))
        loop = asyncio.get_running_loop()
        installed = loop.time()
        try:
            # These steps follow one another without a pause: the thread that reads messages
            # gets the interpreter's lock sooner with the busy switch interval (a didOpen 0.08 s
            # after a restart waited 16 ms for its bytes to be read, with the default 5 ms).
            # While messages come, the steps wait and the interval is the requests' own.
            holder = object()  # one per site: two sites may prepare at once
            try:
                while state.loaded is loaded:
                    wait = STEP_GAP_SECONDS - self.idle.quiet_for()
                    if wait > 0:  # a message is being handled: its answer or check goes first
                        self._interpreter_shared(False, holder)
                        await asyncio.sleep(wait)
                        continue
                    self._interpreter_shared(True, holder)
                    if next(primed, _DONE) is _DONE:
                        break
                    await asyncio.sleep(0)
                else:
                    return
            finally:
                self._interpreter_shared(False, holder)
            keep_out_of_collections(reload=False)
            while state.loaded is loaded:
                wait = QUIET_SECONDS - min(self.idle.quiet_for(), loop.time() - installed)
                if wait > 0:
                    await asyncio.sleep(wait)
                elif next(quietly, _DONE) is not _DONE:
                    await asyncio.sleep(0)
                elif index.prepared and catalog.searched(image_dirs):
                    keep_out_of_collections(reload=False)
                    # What starting and the first messages compiled, kept for the next start:
                    # written while quiet too (marshalling holds the interpreter ~5-10 ms).
                    self.generated_code.save()
                    state.prepared = loaded
                    return
                else:  # a change of the index dropped a table half-built: again, from there
                    quietly = itertools.chain(index.prepare(), catalog.searching(image_dirs))
        except Exception as error:
            logger.warning("could not prepare what first requests need: %s", error)

    def _catch_up(self) -> None:
        for state in list(self.state.sites.values()):
            keep_up(state.loaded.index, most_behind=1)

    def _interpreter_shared(self, busy: bool, holder: object | None = None) -> None:
        """Shorten the interpreter's switch interval while an indexing thread runs Python (it
        parses, then writes the persistent index), or the event loop's thread takes the steps of
        `_prepare` one after the other: a request would otherwise wait up to 5 ms for
        the lock several times over (the first didOpen after a cold index of 20,000 reviews:
        11-84 ms, against 6-35 ms with 0.5 ms). When no such thread runs, the default: in A/B
        runs 0.5 ms cost ~1 ms of the p50 of keystrokes and completions (switches for nothing).
        `holder` is who is busy: the calling thread, or a token of the caller's own."""
        holder = threading.current_thread() if holder is None else holder
        with self._switching:
            if busy:
                self._busy.add(holder)
            else:
                self._busy.discard(holder)
            quiet = not any(
                h.is_alive() if isinstance(h, threading.Thread) else True for h in self._busy
            )
            sys.setswitchinterval(self._quiet_switch_interval if quiet else BUSY_SWITCH_INTERVAL)

    async def _begin_progress(self, title: str, message: str) -> str | None:
        if not self.supports("window.work_done_progress"):
            return None
        self._progress_tokens += 1
        token = f"letterhead/index/{self._progress_tokens}"
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), timeout=5)
        except Exception as error:
            logger.warning("work done progress refused: %s", error)
            return None
        self.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=title, message=message, cancellable=False, percentage=0
            ),
        )
        return token

    def _end_progress(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    def indexing_now(self) -> list[asyncio.Task[None]]:
        """The indexes being built, one task a site."""
        return [task for task in self._indexing.values() if not task.done()]

    def open_sites(self, folders: Sequence[Path]) -> None:
        started = time.perf_counter()
        found: list[SiteState] = []
        for folder in folders:
            for root in self.guarded("looking for sites", find_sites, folder) or ():
                state, new = self.state.add_site(root)
                if new:
                    found.append(state)
        elapsed = (time.perf_counter() - started) * 1000
        if found:
            roots = ", ".join(str(s.root) for s in found)
            self.log(f"letterhead: found {len(found)} site(s) in {elapsed:.0f} ms: {roots}")
        elif folders:
            self.log(
                "letterhead: no Jekyll site (a folder with _config.yml) in "
                + ", ".join(str(f) for f in folders)
            )
        for state in found:
            self.start_indexing(state)
        # What was listed early for a site not indexed now (taken by the indexing otherwise).
        self.head_start.close_all_but({state.root for state in found})

    # -- settings ------------------------------------------------------------------------------

    async def pull_settings(self) -> None:
        if not self.supports("workspace.configuration"):
            return
        try:
            result = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(
                        items=[types.ConfigurationItem(section=CONFIG_SECTION)]
                    )
                ),
                timeout=5,
            )
        except Exception as error:
            logger.warning("workspace/configuration failed: %s", error)
            return
        self.apply_settings(result[0] if result else None)

    def apply_settings(self, value: Any) -> None:
        self.state.settings = UserSettings.from_json(value, self.initial_settings)
        settings = self.state.settings
        self.log(
            f"letterhead: settings: diagnostics debounce {settings.debounce_ms} ms, "
            f"trace {settings.trace}",
            types.MessageType.Log,
        )


def keep_out_of_collections(reload: bool) -> None:
    """Move everything alive now (above all, the index just installed) out of the cyclic garbage
    collector's reach. A site's index is a large, long-lived heap: a full collection walks all
    of it (~0.3 s for 2,000 reviews, seconds for 20,000), a pause an editor would feel. After a
    reload, the old index is collected first, so no garbage cycle of it stays frozen."""
    if reload:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


def warm_up_early(index: SiteIndex) -> None:
    """The part of `warm_up` that needs the index only (`index_site_cached`'s `meanwhile`): a
    restart does it while the site may still be being listed; a new index does it before the
    snapshot's child is forked. The completion catalog is not made here: the index is ready
    without it, and `_prepare` makes it in steps right after."""
    all_rules()


def warm_up(loaded: LoadedSite) -> None:
    """Do once, in the indexing thread, what the first check and completion would do lazily
    (import the rule families, build the feature catalog), so the first didOpen is fast."""
    warm_up_early(loaded.index)  # done already on most ways to an index: then nothing to do
    # Any one review will do: not the first of `checked_paths`, which sorts them all.
    path = next((p for p in loaded.index.documents if p.endswith(CHECKED_SUFFIXES)), None)
    document = loaded.document(path) if path is not None else None
    if path is not None and document is not None:
        loaded.check_document(path, document)


# Error answers that are outcomes, not failures: a request the client cancelled, a rename that an
# edit overtook (ContentModified tells the client to ask again).
EXPECTED_ERRORS = (JsonRpcContentModified, JsonRpcRequestCancelled)


class ExpectedOutcomes(logging.Filter):
    """Drops pygls' traceback for an error answer in `EXPECTED_ERRORS`."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, EXPECTED_ERRORS)


class ClientLogHandler(logging.Handler):
    """Errors logged anywhere in letterhead (a feature's guard, say) also reach the client's
    log, from whichever thread they happen on."""

    def __init__(self, server: LetterheadServer) -> None:
        super().__init__(logging.ERROR)
        self.server = server
        self.setFormatter(logging.Formatter("letterhead: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        loop = self.server.loop
        if loop is None or loop.is_closed():
            return
        try:
            message = self.format(record)
        except Exception:
            return
        if threading.current_thread() is threading.main_thread():
            self.server.log(message, types.MessageType.Error)
        else:
            loop.call_soon_threadsafe(self.server.log, message, types.MessageType.Error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


# -- handlers: lifecycle ---------------------------------------------------------------------


def initialize(ls: LetterheadServer, params: types.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    encoding = ls.workspace.position_encoding
    ls.state.encoding = str(getattr(encoding, "value", encoding) or convert.UTF16)
    info = params.client_info
    ls.client_name = f"{info.name} {info.version or ''}".strip() if info else "an unnamed client"
    ls.push_diagnostics = not ls.supports("text_document.diagnostic")
    ls.refresh_diagnostics = ls.supports("workspace.diagnostics.refresh_support")
    ls.folders = workspace_folders(
        (folder.uri for folder in params.workspace_folders or ()),
        params.root_uri,
        params.root_path,
    )
    if params.process_id:
        watch_client_process(params.process_id)
    if isinstance(params.initialization_options, dict):
        ls.initial_settings = UserSettings.from_json(params.initialization_options)
        ls.state.settings = ls.initial_settings


PARENT_POLL_SECONDS = 1.0  # how often the client's process is looked at
# How long the converter's warm-up waits for the first indexes (a restart at 20,000 reviews
# takes ~0.2 s from `initialized`, a first index seconds).
WARM_WAIT_SECONDS = 0.5


def _process_alive(pid: int) -> bool:
    """Whether process `pid` exists and has not exited (a zombie has exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no /proc (macOS): existing is all that can be known
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def watch_client_process(pid: int) -> None:
    """Exit once the client's process (the `processId` of `initialize`) is gone, as the protocol
    asks: a client killed while a child of it keeps the server's stdin open would otherwise leave
    the server running forever. A process not visible at initialize (a client in another PID
    namespace, a container) is not watched; nor on Windows, where `os.kill` is no probe."""
    if os.name != "posix" or not _process_alive(pid):
        logger.warning("the client's process %s is not visible; not watching it", pid)
        return

    def watch() -> None:
        while _process_alive(pid):
            time.sleep(PARENT_POLL_SECONDS)
        logger.warning("the client's process %s is gone; exiting", pid)
        os._exit(1)  # the server writes no user file, so nothing is lost

    threading.Thread(target=watch, name="letterhead-client-watch", daemon=True).start()


async def initialized(ls: LetterheadServer, params: types.InitializedParams) -> None:
    ls.log(
        f"letterhead {__version__} (Python {sys.version.split()[0]}) for {ls.client_name}: "
        f"positions in {ls.state.encoding}, "
        f"diagnostics {'pushed' if ls.push_diagnostics else 'pulled'}"
    )
    ls.open_sites(ls.folders)  # indexing starts at once, in the background
    ls.warming = asyncio.ensure_future(_warm_once_indexed(ls))
    await ls.pull_settings()
    await _register_dynamic(ls)


async def _warm_once_indexed(ls: LetterheadServer) -> None:
    """`warm_converter`, so that the first didOpen is not the slow one: once the first indexes
    are ready, or `WARM_WAIT_SECONDS` into them if they take longer. While a restart's index is
    unpickled, on a thread under the same interpreter lock, its ~10 ms were added to the
    restart; a first index of a large site takes seconds, and done after it the warm-up pushed
    back the steps that follow it (`_prepare`), which the first didOpen then waited on (6 -> 11
    ms at 20,000 reviews)."""
    indexing = ls.indexing_now()
    if indexing:
        await asyncio.wait(indexing, timeout=WARM_WAIT_SECONDS)
    warm_converter(ls.protocol)


async def _register_dynamic(ls: LetterheadServer) -> None:
    registrations: list[types.Registration] = []
    if ls.supports("workspace.did_change_watched_files.dynamic_registration"):
        watchers = [types.FileSystemWatcher(glob_pattern=glob) for glob in WATCHED_GLOBS]
        registrations.append(
            types.Registration(
                id="letterhead/watched-files",
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
            )
        )
    if ls.supports("workspace.did_change_configuration.dynamic_registration"):
        registrations.append(
            types.Registration(
                id="letterhead/configuration",
                method=types.WORKSPACE_DID_CHANGE_CONFIGURATION,
                register_options=types.DidChangeConfigurationRegistrationOptions(
                    section=CONFIG_SECTION
                ),
            )
        )
    if not registrations:
        return
    try:
        await asyncio.wait_for(
            ls.client_register_capability_async(
                types.RegistrationParams(registrations=registrations)
            ),
            timeout=5,
        )
    except Exception as error:
        ls.log(f"letterhead: the client refused registrations: {error}", types.MessageType.Warning)


def shutdown(ls: LetterheadServer, params: None) -> None:
    ls._stopping.set()  # a persistent index not written yet is written now
    ls.head_start.close_all_but(())  # a client that never sent `initialized`
    ls.idle.cancel()
    ls.checks.clear()
    for task in ls._indexing.values():
        task.cancel()
    # A persistent index being written is let finish (briefly), so that the next start has it.
    deadline = time.monotonic() + PERSIST_WAIT_SECONDS
    for thread in list(ls._index_threads):
        thread.join(max(0.0, deadline - time.monotonic()))
    ls.generated_code.save()  # and what later messages compiled


# How long `shutdown` waits for the persistent index to be written.
PERSIST_WAIT_SECONDS = 5.0
# A document opened this soon after another is checked after the debounce (`did_open`).
OPEN_BURST_SECONDS = 0.05
# The least wait before every open review of a site is checked again for a change of a tag's
# count, whatever the debounce: each change of a burst puts that check off again (an editor
# applying a rename opens and edits thousands of reviews, a message every millisecond or two),
# so it runs once the burst is over. With the debounce at 0 it ran a slice of checks between
# every two messages: a rename applied to 413 reviews took 22 s (400 in a test: 78,193 checks).
SITE_RECHECK_SECONDS = 0.1

# The persistent index is written once the server is quiet (`QUIET_SECONDS`), or at the latest
# this long after the index is ready, or at shutdown.
PERSIST_LATEST_SECONDS = 30.0
# The template engine is imported once no message has come or gone for this long since the
# index was ready (the didOpens of files an editor restores come within it), or at the latest
# this long after ready.
TEMPLATES_QUIET_SECONDS = 0.3
TEMPLATES_LATEST_SECONDS = 2.0
# An index still running this long after it began is taken to run on long enough to hide the
# template engine's import beside it (a restart from the persistent index of 20,000 reviews
# is ready within ~0.3 s of its start; a cold index of 1,000 reviews takes ~0.4 s).
RENDERING_EARLY_SECONDS = 0.5


# -- handlers: documents ---------------------------------------------------------------------


def did_open(ls: LetterheadServer, params: types.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    # An editor applying a rename opens thousands of reviews in a burst, each followed by its
    # edit: those opened within `OPEN_BURST_SECONDS` of the one before share what was found of
    # their folders (`Locations`), and wait for the debounce, which the edit's own check
    # replaces. A document opened on its own is looked up afresh, and checked at once.
    now = time.monotonic()
    burst, ls.last_open = now - ls.last_open < OPEN_BURST_SECONDS, now
    if not burst:
        ls.state.locations.forget()
    path = ls.state.locations.path_of(item.uri)
    document, new_site = ls.state.open(item.uri, item.text, item.version, path)
    if new_site is not None:
        ls.log(f"letterhead: {item.uri} belongs to the site at {new_site.root}")
        ls.start_indexing(new_site)
    if ls.push_diagnostics:
        ls.schedule_check(document, None if burst else 0)  # as a check of its own (`Checks`)
    else:
        ls.guarded("parsing " + item.uri, ls.parse, document)


def did_change(ls: LetterheadServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    document = ls.state.get(uri)
    if document is None:
        ls.log(
            f"letterhead: a change to {uri}, which is not open, was ignored",
            types.MessageType.Warning,
        )
        return
    text = document.text
    for change in params.content_changes:
        text = convert.apply_change(text, change, ls.state.encoding)
    ls.state.set_text(document, text, params.text_document.version)
    ls.schedule_check(document)


def did_close(ls: LetterheadServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.checks.forget(uri)
    closed = ls.guarded("closing " + uri, ls.state.close, uri)
    if ls.push_diagnostics:
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )
    if closed is not None:
        document, change = closed  # the index went back to the file on disk
        ls.recheck_dependents(document, change)


def did_save(ls: LetterheadServer, params: types.DidSaveTextDocumentParams) -> None:
    path = path_of(params.text_document.uri)
    if path is None:
        return
    state = ls.state.innermost(path)
    if state is None:
        return
    site_files = _site_files(state)
    relative = path.relative_to(state.root).as_posix() if state.root in path.parents else ""
    if relative == CONFIG_FILE or relative.split("/", 1)[0] in site_files:
        ls.log(f"letterhead: {relative} saved; reloading the site at {state.root}")
        ls.start_indexing(state)


def _site_files(state: SiteState) -> tuple[str, ...]:
    config = state.loaded.site.config
    return (config.layouts_dir.strip("/"), config.data_dir.strip("/"))


def did_change_watched_files(
    ls: LetterheadServer, params: types.DidChangeWatchedFilesParams
) -> None:
    # Folders and configurations may have come and gone: nothing found of them before is kept,
    # and what is found of the folders of this batch (an editor saving the reviews a rename
    # edited sends thousands of changes) is forgotten after it.
    ls.state.locations.forget()
    try:
        _files_changed(ls, params.changes)
    finally:
        ls.state.locations.forget()


def _files_changed(ls: LetterheadServer, changes: Sequence[types.FileEvent]) -> None:
    updated: set[Path] = set()
    reload: set[Path] = set()
    new_roots: list[Path] = []
    # A site that many files of come at once (a branch switched, a folder of reviews copied
    # in) is indexed again in the background, as for a change of its configuration, rather
    # than read a file at a time here, on the event loop, while requests wait (~0.2 ms a file,
    # and a deletion used to walk every path of the site).
    located = [
        (change, path, site)
        for change in changes
        if (path := ls.state.locations.path_of(change.uri)) is not None
        # A file open in the editor keeps the editor's text (an editor saving the reviews a
        # rename edited sends thousands of these): nothing to read, nor a reason to index again.
        and not (
            (site := ls.state.innermost(path)) is not None and ls.state.editor_keeps(site, path)
        )
    ]
    arriving = Counter(site.root for _, _, site in located if site is not None)
    batched = {root for root, count in arriving.items() if count > BATCH_REINDEX}
    for change, path, site in located:
        if site is not None and site.root in batched:
            continue
        deleted = change.type == types.FileChangeType.Deleted
        outcome = ls.guarded("reading " + change.uri, ls.state.file_changed, path, deleted)
        if outcome is None:
            continue
        state, action = outcome
        if state is None:
            if path.name == CONFIG_FILE and not deleted:
                new_roots.append(path.parent)
            continue
        if action == "reload":
            reload.add(state.root)
        elif action == "updated":
            updated.add(state.root)
    for root in batched:
        if (state := ls.state.sites.get(root)) is not None:
            ls.log(f"letterhead: {arriving[root]:,} files of {root} changed at once; indexing it")
            ls.start_indexing(state)
    for root in reload - batched:
        if (state := ls.state.sites.get(root)) is not None:
            ls.log(f"letterhead: the configuration of {root} changed; reloading the site")
            ls.start_indexing(state)
    for root in updated - reload - batched:
        if (state := ls.state.sites.get(root)) is not None:
            ls.recheck_open(state, None)
    if new_roots:
        ls.open_sites(new_roots)


def did_change_workspace_folders(
    ls: LetterheadServer, params: types.DidChangeWorkspaceFoldersParams
) -> None:
    ls.state.locations.forget()
    for folder in params.event.removed:
        if (path := path_of(folder.uri)) is not None:
            for state in ls.state.remove_sites_under(path):
                ls.log(f"letterhead: closed the site at {state.root}")
    added = [p for f in params.event.added if (p := path_of(f.uri)) is not None]
    ls.open_sites(added)


async def did_change_configuration(
    ls: LetterheadServer, params: types.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if isinstance(settings, dict) and isinstance(settings.get(CONFIG_SECTION), dict):
        ls.apply_settings(settings[CONFIG_SECTION])
    else:
        await ls.pull_settings()


# How long a pull waits for its site's index when the client cannot be asked to pull again.
PULL_WAIT_SECONDS = 30.0
# More files of one site than this in one batch of watched-file changes: index it again.
BATCH_REINDEX = 200


async def document_diagnostic(
    ls: LetterheadServer, params: types.DocumentDiagnosticParams
) -> types.DocumentDiagnosticReport:
    document = ls.state.get(params.text_document.uri)
    site = document.site if document is not None else None
    if site is not None and site.indexing and not ls.refresh_diagnostics:
        # Answering now would report links to reviews not yet indexed as dead, and a client
        # without refresh support (Neovim 0.11) would keep that answer until the next edit.
        task = ls._indexing.get(site.root)
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), PULL_WAIT_SECONDS)
        document = ls.state.get(params.text_document.uri)
    diagnostics = ls.diagnostics(document) if document is not None else []
    digest = hashlib.sha1(
        repr([(d.code, d.range, d.message, d.severity, d.data) for d in diagnostics]).encode()
    ).hexdigest()[:16]
    if params.previous_result_id == digest:
        return types.RelatedUnchangedDocumentDiagnosticReport(result_id=digest)
    return types.RelatedFullDocumentDiagnosticReport(items=diagnostics, result_id=digest)


def server_stats(ls: LetterheadServer, params: Any) -> dict[str, Any]:
    """Counts of what the server holds (for tests and the soak benchmark)."""
    return {
        "openDocuments": len(ls.state.documents),
        # Parses held of the editor's texts: by the open documents, and by their sites' indexes
        # (at most `KEPT_PARSES` of each, however many are open).
        "parsesKept": {
            "open": sum(1 for d in ls.state.documents.values() if d.document is not None),
            "sites": sum(len(site.loaded.documents) for site in ls.state.sites.values()),
        },
        # The editor's texts the sites' indexes hold (one per open file of a site).
        "editorTexts": sum(len(site.loaded.texts) for site in ls.state.sites.values()),
        "sites": len(ls.state.sites),
        # Handlers pygls still tracks; this request's own is one of them.
        "pendingHandlers": len(ls.protocol._request_futures),
        # How often freed memory was given back to the system after a burst of work.
        "memoryTrims": ls.idle.trims,
        # Changes of the sites' indexes their completion catalogs have yet to take in (`keep_up`).
        "catalogLag": sum(catalog_lag(site.loaded.index) for site in ls.state.sites.values()),
        # Sites whose index has its backlinks and near-miss tables built (`SiteIndex.prepare`).
        "indexesPrepared": sum(1 for site in ls.state.sites.values() if site.loaded.index.prepared),
        # Sites whose current index has everything the quiet steps build (`_prepare`).
        "sitesPrepared": sum(1 for site in ls.state.sites.values() if site.prepared is site.loaded),
        # The interpreter's thread switch interval: short only while an indexing thread works.
        "switchIntervalMs": sys.getswitchinterval() * 1000,
        # Sites whose first index took the listing begun before the protocol stack's import.
        "listedEarly": ls.listed_early,
        # When the template engine's import began: "beside the index" (a long one), "after
        # ready", or None (not yet).
        "renderingPrepared": ls.rendering_prepared,
        # Whether the protocol's converter was taught the common messages (once indexed).
        "converterWarmed": ls.warming is not None and ls.warming.done(),
        # The protocol stack's generated code: pieces taken from the cache, and compiled.
        "generatedCode": {
            "reused": ls.generated_code.hits,
            "compiled": ls.generated_code.compiled,
        },
    }


def document_text(ls: LetterheadServer, params: Any) -> dict[str, Any] | None:
    """The server's copy of an open document (for tests and debugging)."""
    uri = params.get("uri") if isinstance(params, dict) else getattr(params, "uri", None)
    document = ls.state.get(uri) if isinstance(uri, str) else None
    if document is None:
        return None
    return {"uri": document.uri, "version": document.version, "text": document.text}


# -- assembly --------------------------------------------------------------------------------


def create_server() -> LetterheadServer:
    """A server with every handler registered."""
    from letterhead.lsp import requests

    server = LetterheadServer()
    server.feature(types.INITIALIZE)(initialize)
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.SHUTDOWN)(shutdown)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))(did_save)
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(did_change_watched_files)
    server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)(did_change_workspace_folders)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
    server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier="letterhead", inter_file_dependencies=True, workspace_diagnostics=False
        ),
    )(document_diagnostic)
    server.feature(DOCUMENT_TEXT)(document_text)
    server.feature(SERVER_STATS)(server_stats)
    requests.register(server)
    return server


_DONE = object()  # what `next` gives for a finished step generator

# Where a client says which formats it renders completion documentation in.
COMPLETION_DOCUMENTATION = "text_document.completion.completion_item.documentation_format"
# ... which of an item's properties it asks for when it shows the item (`completionItem/resolve`).
COMPLETION_RESOLVE = "text_document.completion.completion_item.resolve_support.properties"
# ... which of a completion list's `itemDefaults` it takes.
COMPLETION_DEFAULTS = "text_document.completion.completion_list.item_defaults"

# How long the server must have had no message or answer (and its index) before it takes a step
# of its quiet-time work (`_prepare`) or writes the persistent index: an editor quiet for a
# second is idle. (A first 0.3 s, counted from messages only, also let the steps run right after
# a long request, a rename of 2 s, while the next requests came.)
QUIET_SECONDS = 1.0
# After an index is installed, how long before `_prime` (the open documents' checks go first).
PRIME_SECONDS = 0.05
# How long after a message arrived (`IdleTrim.heard`) or an answer went before `_prepare` takes
# its next step of what first requests would build. A message takes several turns of the event
# loop to be read and handled (its read goes through a worker thread, `AsyncMessageReader`), and
# a step of 4-20 ms taken at each turn held a didOpen sent 0.06 s after a cold index of 20,000
# reviews up for 80-120 ms.
STEP_GAP_SECONDS = 0.02
# The interpreter's thread switch interval while an indexing thread runs (the default is 5 ms).
BUSY_SWITCH_INTERVAL = 0.0005


def serve(
    tcp: str | None = None,
    generated_code: GeneratedCode | None = None,
    reader: MessageReader | None = None,
    head_start: HeadStart | None = None,
) -> int:
    """Run the language server on stdio, or on TCP (`HOST:PORT`) for debugging;
    `generated_code` is the cache installed before the protocol stack was imported, `reader`
    the reader of stdin made then and `head_start` the listings it began."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="letterhead: %(levelname)s %(message)s"
    )
    server = create_server()
    if generated_code is not None:
        server.generated_code = generated_code
    if head_start is not None:
        server.head_start = head_start
    logging.getLogger("letterhead").addHandler(ClientLogHandler(server))
    logging.getLogger("pygls.protocol.json_rpc").addFilter(ExpectedOutcomes())
    if tcp:
        host, _, port = tcp.rpartition(":")
        if not port.isdigit():
            print(f"letterhead: --tcp wants HOST:PORT, not {tcp!r}", file=sys.stderr)
            return 2
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    # stdout carries the protocol: anything else printed would corrupt it.
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    if reader is None:
        reader = MessageReader(stdin, stdout)
    reader.protocol, reader.heard = server.protocol, server.idle.heard
    server.checks.input_waiting = reader.waiting
    server.serve_stdio(reader, stdout)
    return 0
