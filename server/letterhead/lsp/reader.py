"""The server's stdin: base-protocol framing that survives a client's mistakes.

pygls reads a message as header lines up to a blank line, then exactly `Content-Length` bytes of
body, and hands the body to `json.loads`. Whatever goes wrong on the way is logged and dropped:
a client that sent invalid JSON, a batch, or a request with ill-typed parameters is never
answered and waits forever; a `Content-Length` larger than the body makes pygls wait for bytes
that belong to the next message, so the server falls silent.

`MessageReader` stands in for pygls' reader. It frames the raw bytes itself, checks each body,
and hands the server only well-formed JSON-RPC messages, parsed once (`serve_messages`, pygls'
read loop over them, hands each to pygls' protocol). What is not well formed is answered here, as
JSON-RPC says:

- bytes that are not a message (junk, a header block without a usable `Content-Length`, a body
  that is not JSON or not UTF-8): Parse error (-32700), id null, once per run of such bytes;
- JSON that is not a JSON-RPC 2.0 message (an array, a number, no `jsonrpc: "2.0"`, a method
  that is not a string, ...): Invalid Request (-32600), with the message's id when it has a
  usable one, else null;
- a request whose parameters do not fit its method (pygls cannot structure them): Invalid params
  (-32602) with its id. Notifications are never answered; a broken one is logged and dropped.

Resynchronising. A body's bytes are searched for the start of a header line, `Content-Length:`
or `Content-Type:` followed by a value and a raw line break with no double quote in between.
That can never occur inside valid JSON (outside a string it is no JSON token; inside one, the raw
line break is not allowed), so finding one inside a body means the body was shorter than its
`Content-Length` said: the body ends there and the next message starts. A body whose length was
too large and that nothing follows is found by waiting: after `QUIET_SECONDS` without new bytes,
the bytes received are tried as the whole body; if they parse, the client only miscounted and
the message is handled. A valid body can never be cut this way, since no proper prefix of a JSON
object followed by more than whitespace is itself valid JSON: a slow client only waits longer.

Replies are written to the server's output stream by the thread that frames the message (the
reading thread, or the event loop's for a message whose bytes had all arrived with an earlier
one: `MessageReader.frame_buffered`). A buffered binary stream is thread-safe (Python's `io`
documentation: its internal lock is held for a whole `write`), and pygls also writes each
message, headers and body, in one `write` call, so messages never interleave.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import select
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, BinaryIO, Protocol

logger = logging.getLogger("letterhead.lsp")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602

QUIET_SECONDS = 0.5  # how long an incomplete body may go without new bytes before it is tried
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # a body larger is skipped (and answered), never kept
MAX_HEADER_BYTES = 8192  # a header block longer than this is junk
CHUNK_BYTES = 1 << 16
FILL_BYTES = 1 << 20  # at most this much is read at once (`_read_on`)

# A complete header line inside a body: the next message's headers (see the module docstring).
_HEADER_IN_BODY = re.compile(
    rb"Content-Length:[ \t]*\d+[ \t]*\r?\n|Content-Type:[^\r\n\"]{0,256}\r?\n", re.IGNORECASE
)
# Where one may start. Searched for without the first letter and case-sensitively, which is ten
# times faster than a case-insensitive search over a large body; `_find_name` checks the rest.
_NAME_TAIL = re.compile(rb"ontent-(?:Length|Type|length|type):")
_PARTIAL_HEADER_IN_BODY = re.compile(
    rb"Content-Length:[ \t]*\d*[ \t]*\r?\Z|Content-Type:[^\r\n\"]{0,256}\r?\Z", re.IGNORECASE
)
_NAMES = (b"content-length:", b"content-type:")
_NAME_LONGEST = max(len(name) for name in _NAMES)

# Header lines as they start a message.
_HEADER_LINE = re.compile(rb"([A-Za-z0-9-]+)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?\n")
_PARTIAL_HEADER_LINE = re.compile(rb"[A-Za-z0-9-]*(?:[ \t]*:[^\r\n]*)?\r?\Z")


class Structurer(Protocol):
    """What is needed of pygls' protocol: turning a message's JSON into its typed form."""

    def structure_message(self, data: dict[str, Any]) -> Any: ...


class Handler(Structurer, Protocol):
    """What `serve_messages` needs of pygls' protocol: the typed form, and its handling."""

    def handle_message(self, message: Any) -> None: ...


class _EndOfInput(Exception):
    """The client closed the server's input."""


class AsyncMessageReader:
    """The event loop's side of a `MessageReader`, for `serve_messages`.

    pygls reads a message in three parts (its header line, the blank line, its body), and its
    own reader sends each part's read to a worker thread and waits for the result to come back
    to the event loop: three trips between threads a message, each needing the interpreter's
    lock. Here a message is one read on a worker thread, and a message whose bytes all came
    with an earlier one's is framed on the event loop's thread, with no trip at all
    (`MessageReader.frame_buffered`).
    """

    def __init__(
        self,
        reader: MessageReader,
        executor: Executor | None = None,
        task_started: Callable[[], bool] | None = None,
    ) -> None:
        """`task_started` says (once) whether the last message's handler was started as a
        task (a coroutine: a rename, the references): it then takes its first step before the
        next message is handled, as it did when every message came from a worker thread (a
        rename notes the state it starts from there, and answers ContentModified for an edit
        that came after it)."""
        self.reader = reader
        self.executor = executor
        self.task_started = task_started

    def message(self) -> Awaitable[Any]:
        """The next message (`MessageReader.message`); None at the end of input."""
        if self.task_started is not None and self.task_started():
            return self._after_a_turn()
        loop = asyncio.get_running_loop()
        if self.reader.buffered() or self.reader.frame_buffered():
            return _ready(loop, self.reader.message())
        return loop.run_in_executor(self.executor, self.reader.message)

    async def _after_a_turn(self) -> Any:
        await asyncio.sleep(0)  # one turn of the event loop: the task's first step
        return await self.message()


async def serve_messages(
    stop_event: threading.Event,
    reader: AsyncMessageReader,
    protocol: Handler,
    error_handler: Callable[[Exception], None],
    log: logging.Logger = logger,
) -> None:
    """pygls' `run_async` (its loop of reading and handling messages) over `reader`'s parsed
    messages. pygls parsed each body again, after the reader had parsed it to answer what is
    not well formed, and structured each request again, after the reader had to check its
    parameters: an editor applying a rename sends ~15,000 texts of a few kilobytes at once."""
    while not stop_event.is_set():
        message = await reader.message()
        if message is None:
            break
        try:
            if isinstance(message, dict):  # not a request: structured here
                message = protocol.structure_message(message)
            protocol.handle_message(message)
        except Exception as error:
            log.exception("Unable to handle message")
            error_handler(error)


def _ready(loop: asyncio.AbstractEventLoop, value: Any) -> asyncio.Future[Any]:
    """A future already holding `value` (awaiting it does not wait for the loop)."""
    future = loop.create_future()
    future.set_result(value)
    return future


class MessageReader:
    """The client's messages, only the well-formed ones, each parsed once (see the module)."""

    def __init__(
        self,
        stream: BinaryIO,
        output: BinaryIO | None = None,
        protocol: Structurer | None = None,
        quiet_seconds: float = QUIET_SECONDS,
        heard: Callable[[], None] | None = None,
    ) -> None:
        """`heard` is called (on the reading thread) whenever bytes arrive."""
        self.stream = stream
        self.heard = heard
        self.output = output
        self.protocol = protocol
        self.quiet_seconds = quiet_seconds
        self._buffer = bytearray()
        self._eof = False
        self._message: Any = None  # the message framed, not yet taken (`message`)
        self._in_junk = False  # inside a run of bad bytes already answered with a parse error
        try:
            self._fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None

    # -- what is read, one call at a time (`AsyncMessageReader`: on a worker thread when bytes
    # must be read, else on the event loop's) --------------------------------------------------

    def message(self) -> Any:
        """The next well-formed message, parsed: a request structured (`protocol`), anything
        else as its JSON object; None at the end of input."""
        if self._message is None:
            try:
                self._message = self._next_message()
            except _EndOfInput:
                return None
        message, self._message = self._message, None
        return message

    def buffered(self) -> bool:
        """Whether the next `message` returns at once (a message was framed)."""
        return self._message is not None

    def waiting(self) -> bool:
        """Whether a message has come that the server has not taken yet: framed, its bytes read
        and not yet framed, or still in the pipe. Asked on the event loop's thread while the
        reading thread may be at work: an answer a moment late only lets one more check run."""
        if self._message is not None or self._buffer:
            return True
        if self._fd is None or self._eof or os.name != "posix":
            return False
        try:
            return bool(select.select([self._fd], [], [], 0)[0])
        except (OSError, ValueError):  # closed meanwhile: the reading thread finds the end
            return False

    def frame_buffered(self) -> bool:
        """Frame the next message if all its bytes have arrived, without reading more: whether
        the next `message` now returns at once. Called on the event loop's thread, between
        two messages (the worker thread is not reading then), so that messages that arrived
        together are handled together: one trip to the worker thread each let a burst of
        notifications (an editor applying a rename to 7,847 reviews) be read no faster than
        the checks it set off ran, and a keystroke sent during it had its diagnostics 23-25 s
        later (see `letterhead.lsp.checks` for what it is since)."""
        while self._message is None:
            framed = self._complete_message()
            if framed is None:
                return False
            end, length = framed  # as `_headers` and `_body_of` take it, without looking again
            body = bytes(self._buffer[end : end + length])
            del self._buffer[: end + length]
            self._in_junk = False
            self._message = self._accepted(body)
        return True

    def _complete_message(self) -> tuple[int, int] | None:
        """Where the next message's header block ends and its length, if `_next_message` would
        take it from the buffer without reading (its header block well formed, all its body in,
        no header within the body that cuts it short nor any that the next bytes could
        complete); else None."""
        buffer = self._buffer
        parsed = self._header_block() if buffer[:1] not in (b"\r", b"\n") else None
        if parsed is None:
            return None
        end, length = parsed
        if length is None:
            return None  # junk: answered by the worker thread's `_headers`
        if len(buffer) < end + length or length > MAX_MESSAGE_BYTES:
            return None
        if self._header_within(end, end + length) != (None, None):
            return None  # the worker thread resynchronises, or waits for what comes next
        return end, length

    def peek(self, wait: float) -> bytes | None:
        """The body of the next message, without taking it (`message` frames it as ever),
        if its header block and all its bytes are in, or come within `wait` seconds; else None,
        as for input that does not start with a well-formed header block. Never answers."""
        deadline = time.monotonic() + wait
        while True:
            if self._message is None:
                parsed = self._header_block()
                if parsed is not None:
                    end, length = parsed
                    if length is None:
                        return None
                    if len(self._buffer) >= end + length:
                        return bytes(self._buffer[end : end + length])
            left = deadline - time.monotonic()
            if self._message is not None or left <= 0 or not self._fill(left):
                return None

    # -- messages ------------------------------------------------------------------------------

    def _next_message(self) -> Any:
        """The next well-formed message (`message`)."""
        while True:
            length = self._headers()
            body = self._body_of(length)
            if body is not None and (message := self._accepted(body)) is not None:
                return message

    def _headers(self) -> int:
        """Consume one header block; its `Content-Length`."""
        while True:
            while self._buffer.startswith(b"\r\n") or self._buffer.startswith(b"\n"):
                del self._buffer[: 2 if self._buffer[0] == 13 else 1]  # a stray line break
            parsed = self._header_block()
            if parsed is None:  # more bytes needed
                if not self._fill(None):
                    if self._buffer.strip():
                        self._junk(len(self._buffer), "the input ended inside a header")
                    raise _EndOfInput
                continue
            end, length = parsed
            if length is None:
                self._junk(end, "bytes that are not a message header")
                continue
            del self._buffer[:end]
            self._in_junk = False
            return length

    def _header_block(self) -> tuple[int, int | None] | None:
        """(where the block ends, its length or None if it is junk), or None for more bytes."""
        buffer, position, length = self._buffer, 0, None
        while True:
            if buffer.startswith(b"\r\n", position) or buffer.startswith(b"\n", position):
                end = position + (2 if buffer[position] == 13 else 1)
                return end, length
            match = _HEADER_LINE.match(buffer, position)
            if match is not None:
                if match.group(1).lower() == b"content-length":
                    value = match.group(2)
                    if not value.isdigit() or length is not None:
                        return match.end(), None
                    length = int(value)
                position = match.end()
                if position > MAX_HEADER_BYTES:
                    return position, None
                continue
            rest = bytes(buffer[position:])
            if (
                len(buffer) <= MAX_HEADER_BYTES
                and b"\n" not in rest
                and _PARTIAL_HEADER_LINE.fullmatch(rest)
            ):
                return None
            return max(position, 1), None

    def _junk(self, end: int, why: str) -> None:
        """Drop `buffer[:end]` and what follows up to the next header; answer once per run."""
        buffer = self._buffer
        cut = _find_name(buffer, end, len(buffer))
        if cut is None:
            cut = _name_cut(buffer, end, len(buffer))
        cut = len(buffer) if cut is None else cut
        logger.warning("skipped %d bytes of input: %s", cut, why)
        del buffer[:cut]
        self._complain(PARSE_ERROR, f"Parse error: {why}")

    def _complain(self, code: int, message: str) -> None:
        if not self._in_junk:
            self._in_junk = True
            self._reply(None, code, message)

    def _body_of(self, length: int) -> bytes | None:
        """The body of a message announced with `length` bytes: fewer if the next message's
        header comes first, or the input goes quiet after a complete JSON object. None: a body
        too large to keep, skipped."""
        keep = length <= MAX_MESSAGE_BYTES
        dropped = 0  # bytes of a body too large to keep, already let go
        scanned = 0  # where to look for a header next
        tried = -1  # the buffer's size when its bytes were last tried as a whole body
        buffer = self._buffer
        while True:
            limit = min(len(buffer), length - dropped)
            cut, waiting = self._header_within(scanned, limit)
            if cut is not None:
                logger.warning("a message announced %d bytes but had %d", length, dropped + cut)
                return self._take(cut, keep)
            if waiting is not None:
                scanned = waiting
            else:
                scanned = max(scanned, limit - _NAME_LONGEST)
                if dropped + len(buffer) >= length:
                    return self._take(length - dropped, keep)
            if not keep and scanned > CHUNK_BYTES:
                let_go = scanned - _NAME_LONGEST
                del buffer[:let_go]
                dropped += let_go
                scanned -= let_go
            got = self._fill(self.quiet_seconds if keep else None)
            if got is None:  # quiet: perhaps the length was too large and nothing follows
                if len(buffer) != tried:
                    tried = len(buffer)
                    if _complete_json(buffer):
                        logger.warning("a message announced %d bytes but had %d", length, tried)
                        return self._take(tried, keep)
                continue
            if not got:  # the input ended inside the body
                if keep and _complete_json(buffer):
                    return self._take(len(buffer), keep)
                if buffer.strip() or dropped:
                    self._junk(len(buffer), "the input ended inside a message")
                raise _EndOfInput

    def _header_within(self, start: int, limit: int) -> tuple[int | None, int | None]:
        """(where a complete header line starts before `limit`, or where one may start once more
        bytes arrive), searching from `start`."""
        buffer = self._buffer
        position = start
        end = min(len(buffer), limit + _NAME_LONGEST)
        while (found := _find_name(buffer, position, end)) is not None and found < limit:
            if _HEADER_IN_BODY.match(buffer, found):
                return found, None
            if _PARTIAL_HEADER_IN_BODY.match(buffer, found):
                return None, found
            position = found + 1
        return None, _name_cut(buffer, start, limit)

    def _take(self, size: int, keep: bool) -> bytes | None:
        body = bytes(self._buffer[:size]) if keep else None
        del self._buffer[:size]
        if body is None:
            logger.warning("skipped a message too large to keep")
            self._reply(None, INVALID_REQUEST, f"Invalid Request: over {MAX_MESSAGE_BYTES} bytes")
        return body

    def _accepted(self, body: bytes) -> Any:
        """The message the body holds, if the server should have it (a request structured, as
        its parameters must fit before it is handled); if not, the client is told why, and None.
        """
        try:
            message = json.loads(body)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
            logger.warning("a message that is not JSON: %s", error)
            self._complain(PARSE_ERROR, f"Parse error: {error}")
            return None
        if not isinstance(message, dict):
            logger.warning("a message that is not a JSON object")
            self._reply(None, INVALID_REQUEST, "Invalid Request: not a JSON object")
            return None
        raw_id = message.get("id")
        msg_id = raw_id if _is_id(raw_id) else None
        problem = _envelope_problem(message)
        if problem is not None:
            logger.warning("an invalid JSON-RPC message: %s", problem)
            self._reply(msg_id, INVALID_REQUEST, f"Invalid Request: {problem}")
            return None
        # Only requests are structured here: a notification with bad parameters gets no answer
        # anyway (`serve_messages` logs and drops it).
        if "method" in message and "id" in message and self.protocol is not None:
            try:
                return self.protocol.structure_message(message)
            except Exception as error:
                reason = error.__cause__ or error
                logger.warning("%s with parameters that do not fit: %s", message["method"], reason)
                method = message["method"]
                self._reply(msg_id, INVALID_PARAMS, f"Invalid params for {method}: {reason}")
                return None
        return message

    # -- bytes in and out ----------------------------------------------------------------------

    def _fill(self, timeout: float | None) -> bool | None:
        """Read what has arrived into the buffer: True, False at the end of input, or None if
        nothing came within `timeout` seconds."""
        if self._eof:
            return False
        if self._fd is not None:
            if timeout is not None and os.name == "posix":
                ready, _, _ = select.select([self._fd], [], [], timeout)
                if not ready:
                    return None
            chunk = os.read(self._fd, CHUNK_BYTES)
            if len(chunk) == CHUNK_BYTES and os.name == "posix":
                chunk = self._read_on(chunk)
        else:
            read1 = getattr(self.stream, "read1", None)
            chunk = read1(CHUNK_BYTES) if read1 is not None else self.stream.read(CHUNK_BYTES)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        if self.heard is not None:
            self.heard()
        return True

    def _read_on(self, chunk: bytes) -> bytes:
        """`chunk` and what else has arrived behind it, up to `FILL_BYTES`: a pipe holds
        64 KiB, and a client sending thousands of messages at once keeps it full."""
        assert self._fd is not None
        pieces = [chunk]
        size = len(chunk)
        while size < FILL_BYTES and select.select([self._fd], [], [], 0)[0]:
            piece = os.read(self._fd, CHUNK_BYTES)
            if not piece:
                break  # the end of input: the next read finds it
            pieces.append(piece)
            size += len(piece)
        return b"".join(pieces)

    def _reply(self, msg_id: int | str | None, code: int, message: str) -> None:
        if self.output is None:
            return
        answer = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        body = json.dumps(answer).encode("utf-8")
        try:
            self.output.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.output.flush()
        except (OSError, ValueError) as error:  # the client is gone
            logger.debug("could not answer a malformed message: %s", error)


def _find_name(buffer: bytearray, start: int, end: int) -> int | None:
    """Where the first `Content-Length:` or `Content-Type:` in `buffer[start:end]` begins."""
    position = start + 1
    while (found := _NAME_TAIL.search(buffer, position, end)) is not None:
        if buffer[found.start() - 1] in b"Cc":
            return found.start() - 1
        position = found.start() + 1
    return None


def _name_cut(buffer: bytearray, start: int, limit: int) -> int | None:
    """Where, from `start` and before `limit`, a header name begins that the end of the buffer
    cuts short (`Content-Le`), if anywhere."""
    for begin in range(max(start, len(buffer) - _NAME_LONGEST + 1), min(limit, len(buffer))):
        tail = bytes(buffer[begin:]).lower()
        if any(name.startswith(tail) for name in _NAMES):
            return begin
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _envelope_problem(message: dict[str, Any]) -> str | None:
    """What makes `message` no JSON-RPC 2.0 request, notification or response (None: nothing)."""
    if message.get("jsonrpc") != "2.0":
        return 'no "jsonrpc": "2.0"'
    if "id" in message and message["id"] is not None and not _is_id(message["id"]):
        return "an id must be a number or a string"
    if "method" in message:
        if not isinstance(message["method"], str):
            return "the method must be a string"
        params = message.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            return "params must be an object or an array"
        return None
    if "id" not in message:
        return "neither a method nor an id"
    if "result" not in message and "error" not in message:
        return "no method, and neither a result nor an error"
    return None


def _complete_json(data: bytearray) -> bool:
    """Whether `data` is one complete JSON object (cheaply ruled out unless it ends in `}`)."""
    if not data.rstrip().endswith(b"}"):
        return False
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True
