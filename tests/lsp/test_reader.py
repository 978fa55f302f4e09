"""`MessageReader` in-process: whatever way the bytes are cut into reads, valid messages come
out whole and in order, and malformed ones are answered and skipped.

The reader is driven as the server drives it (`message`, or `serve_messages` over an event loop),
over a stream that returns the input in given chunks; the server-side behaviour (replies, resync over a
real pipe, the quiet period) is tested through the real server in `test_protocol_limits.py`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letterhead.lsp.reader import AsyncMessageReader, MessageReader, serve_messages


class Chunked(io.RawIOBase):
    """A stream handing out its bytes in the given sizes (then what is left, one read)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data = data
        self.sizes = list(sizes)

    def read1(self, size: int = -1) -> bytes:
        step = self.sizes.pop(0) if self.sizes else len(self.data)
        step = max(1, min(step, size if size > 0 else step))
        chunk, self.data = self.data[:step], self.data[step:]
        return chunk

    def fileno(self) -> int:
        raise OSError("no descriptor: read with read1")


def frame(body: bytes, length: int | None = None) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


def request(number: int, text: str = "") -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": number, "method": "letterhead/documentText", "params": {"t": text}}
    ).encode()


def bodies(data: bytes, sizes: list[int]) -> tuple[list[Any], list[dict[str, Any]]]:
    """The messages read from `data` (as JSON), and what the reader answered itself."""
    output = io.BytesIO()
    reader = MessageReader(Chunked(data, sizes), output)  # type: ignore[arg-type]
    found = []
    while (message := reader.message()) is not None:
        found.append(message)
    replies = []
    stream = io.BytesIO(output.getvalue())
    while line := stream.readline():
        length = int(line.split()[1])
        stream.readline()
        replies.append(json.loads(stream.read(length)))
    return found, replies


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
chunkings = st.lists(st.integers(min_value=1, max_value=64), max_size=200)


@settings(max_examples=150, deadline=None)
@given(st.lists(texts, min_size=1, max_size=6), chunkings)
def test_valid_messages_come_out_whole(texts: list[str], sizes: list[int]) -> None:
    """Text with anything in it (header look-alikes included: JSON escapes line breaks)."""
    texts = [*texts, "Content-Length: 3\r\n\r\n{}", "Content-Type: x\n"]
    data = b"".join(frame(request(n, t)) for n, t in enumerate(texts))
    found, replies = bodies(data, sizes)
    assert [m["params"]["t"] for m in found] == texts
    assert replies == []


JUNK = [
    b"hello\r\n",
    b"Content-Length: abc\r\n\r\n{}",
    b"Content-Type: x\r\n\r\n",
    frame(b"not json"),
    frame(b'{"jsonrpc": "2.0", "id": 1, "method": ', 100),  # too long: cut at the next header
    b"\x00\xff" * 10,
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(range(len(JUNK))), min_size=1, max_size=5), chunkings)
def test_junk_between_messages_is_answered_and_skipped(junk: list[int], sizes: list[int]) -> None:
    """Junk before each valid request: every request still comes out, and each run of junk got
    one Parse error (id null)."""
    data = b"".join(JUNK[kind] + frame(request(n)) for n, kind in enumerate(junk))
    found, replies = bodies(data, sizes)
    assert [m["id"] for m in found] == list(range(len(junk)))
    assert len(replies) == len(junk)
    assert all(r["id"] is None and r["error"]["code"] == -32700 for r in replies)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=300), chunkings)
def test_a_too_large_length_is_cut_at_the_next_header(excess: int, sizes: list[int]) -> None:
    """A valid request announced with too many bytes, then others: all come out."""
    first = request(0, "first")
    data = frame(first, len(first) + excess) + frame(request(1)) + frame(request(2, "x" * 500))
    found, replies = bodies(data, sizes)
    assert [m["id"] for m in found] == [0, 1, 2]
    assert replies == []


@settings(max_examples=50, deadline=None)
@given(st.lists(texts, min_size=1, max_size=4), chunkings)
def test_every_read_is_heard(texts: list[str], sizes: list[int]) -> None:
    """`heard` is told of each read with bytes in it (the server counts a message as activity
    from its first bytes, before the event loop has it), and of nothing else."""
    data = b"".join(frame(request(n, t)) for n, t in enumerate(texts))
    stream = Chunked(data, sizes)
    reads: list[int] = []
    original = stream.read1

    def read1(size: int = -1) -> bytes:
        chunk = original(size)
        reads.append(len(chunk))
        return chunk

    stream.read1 = read1  # type: ignore[method-assign]
    heard: list[None] = []
    reader = MessageReader(stream, io.BytesIO(), heard=lambda: heard.append(None))  # type: ignore[arg-type]
    while reader.message() is not None:
        pass
    assert len(heard) == sum(1 for size in reads if size) > 0


class CountingPool(ThreadPoolExecutor):
    """A thread pool that counts the work given to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(*args, **kwargs)


class Collected:
    """What `serve_messages` hands its protocol: each message, as plain JSON."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def structure_message(self, data: dict[str, Any]) -> Any:
        return data

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


class ReadsOnWorkers(Chunked):
    """A `Chunked` stream that notes every read made on the calling thread of the test (the
    event loop's), which must never read: a read there could block the server."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        super().__init__(data, sizes)
        self.loop_thread = threading.get_ident()
        self.reads_on_loop = 0

    def read1(self, size: int = -1) -> bytes:
        if threading.get_ident() == self.loop_thread:
            self.reads_on_loop += 1
        return super().read1(size)


def _no_error(error: Exception) -> None:
    raise AssertionError(f"a message could not be handled: {error}")


def read_with_loop(
    data: bytes,
    sizes: list[int],
    protocol: Collected | None = None,
    task_started: Callable[[], bool] | None = None,
) -> tuple[list[Any], int, ReadsOnWorkers]:
    """What the server's read loop hands `protocol` (by default, a `Collected`; the reader
    structures requests with it) from `data` cut into `sizes`, and how many reads went to a
    worker thread."""
    stream = ReadsOnWorkers(data, sizes)
    reader = MessageReader(stream, io.BytesIO(), protocol)  # type: ignore[arg-type]
    collected, pool = protocol or Collected(), CountingPool()
    try:
        read = serve_messages(
            threading.Event(), AsyncMessageReader(reader, pool, task_started), collected, _no_error
        )
        asyncio.run(asyncio.wait_for(read, 10))
    finally:
        pool.shutdown()
    return collected.messages, pool.submitted, stream


@settings(max_examples=40, deadline=None)
@given(st.lists(texts, min_size=1, max_size=6), chunkings)
def test_each_message_is_read_with_at_most_one_trip_to_a_thread(
    texts: list[str], sizes: list[int]
) -> None:
    """Under the server's read loop, the messages come out whole and in order; only a read that
    needs bytes not yet in goes to a worker thread (at most one a message, and one finding the
    end), and the event loop's thread never reads the stream itself."""
    data = b"".join(frame(request(n, t)) for n, t in enumerate(texts))
    messages, trips, stream = read_with_loop(data, sizes)
    assert [m["params"]["t"] for m in messages] == texts
    assert 2 <= trips <= len(texts) + 1
    assert stream.reads_on_loop == 0


class Counting(Collected):
    """A protocol that structures a message into a tuple, and counts how often it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.structured = 0

    def structure_message(self, data: dict[str, Any]) -> Any:
        self.structured += 1
        return ("structured", data)


def test_each_message_is_parsed_and_structured_once() -> None:
    """A request is structured by the reader (its parameters must fit before it is handled)
    and handed over as it is; a notification is structured by the loop; neither twice."""
    notification = json.dumps({"jsonrpc": "2.0", "method": "n", "params": {"t": "x"}}).encode()
    data = frame(request(1, "a")) + frame(notification) + frame(request(2, "b"))
    protocol = Counting()
    read_with_loop(data, [len(data)], protocol)
    assert [m[1].get("params", {}).get("t") for m in protocol.messages] == ["a", "x", "b"]
    assert all(m[0] == "structured" for m in protocol.messages)
    assert protocol.structured == 3


# Messages that arrived together: (their texts, how much more each announces than it has,
# how many trips to a worker thread).
TOGETHER = {
    "plain messages are framed on the loop's thread": (["a", "b", "c", "d"], [0, 0, 0, 0], 2),
    # Text that only looks like a header, inside a JSON string (no raw line break can be).
    "a header's name in a body": (["a", "Content-Length: 4", "c"], [0, 0, 0], 2),
    # The next message's header inside the body: the worker thread cuts the body there.
    "a body shorter than its length goes to the thread": (["a", "b", "c"], [0, 10, 0], 3),
}


@pytest.mark.parametrize(("texts", "excess", "trips"), TOGETHER.values(), ids=TOGETHER.keys())
def test_messages_that_arrived_together_are_handled_together(
    texts: list[str], excess: list[int], trips: int
) -> None:
    """All the bytes in one read: one trip frames the first message, the rest are framed on
    the event loop's thread between two messages (an editor applying a rename sends thousands
    at once) unless the thread's checks must decide, and one more trip finds the end."""
    data = b"".join(
        frame(body, len(body) + more)
        for body, more in zip((request(n, t) for n, t in enumerate(texts)), excess, strict=True)
    )
    messages, submitted, stream = read_with_loop(data, [len(data)])
    assert [m["params"]["t"] for m in messages] == texts
    assert submitted == trips
    assert stream.reads_on_loop == 0


def test_a_malformed_message_among_those_framed_at_once_is_answered_and_skipped() -> None:
    data = frame(request(1, "a")) + frame(b"{not json") + frame(request(2, "b"))
    output = io.BytesIO()
    stream = ReadsOnWorkers(data, [len(data)])
    reader = MessageReader(stream, output)  # type: ignore[arg-type]
    assert reader.message()["params"]["t"] == "a"  # the first read, all bytes in
    assert reader.frame_buffered()  # the bad one answered and dropped, the next framed
    assert reader.message()["params"]["t"] == "b"
    assert b"Parse error" in output.getvalue()
    assert not reader.frame_buffered()  # nothing left: the next read is the thread's


def test_what_has_arrived_is_read_in_one_go(tmp_path: Path) -> None:
    """From a descriptor, a read takes everything that has arrived (up to a bound), not one
    chunk: the loop then frames all of it without a trip to the thread for each chunk. A file
    stands for a pipe whose writer got ahead (every byte is there to read at once)."""
    messages = [frame(request(n, "x" * 4000)) for n in range(100)]  # ~400 KB, six chunks
    path = tmp_path / "input"
    path.write_bytes(b"".join(messages))
    heard: list[None] = []
    with path.open("rb", buffering=0) as stream:
        reader = MessageReader(stream, io.BytesIO(), heard=lambda: heard.append(None))  # type: ignore[arg-type]
        count = 0
        while reader.message() is not None:
            count += 1
    assert count == len(messages)
    assert len(heard) == 1


def test_a_message_waiting_is_seen_before_it_is_taken() -> None:
    """`waiting` (asked between two checks) sees a message in the pipe, one read and not yet
    framed, and one framed that the server has not taken; nothing once all are taken, nor at
    the end."""
    read_end, write_end = os.pipe()
    with open(read_end, "rb", buffering=0) as stream:
        reader = MessageReader(stream, io.BytesIO())
        assert not reader.waiting()
        os.write(write_end, frame(request(1, "a")))
        assert reader.waiting()  # in the pipe
        assert reader.peek(1.0) is not None
        assert reader.waiting()  # read, not framed yet
        assert reader.frame_buffered()
        assert reader.waiting()  # framed, not taken yet
        assert reader.message()["params"]["t"] == "a"
        assert not reader.waiting()
        os.close(write_end)
        assert reader.message() is None  # the end of input
        assert not reader.waiting()


class StartsTasks(Collected):
    """A protocol whose handlers of the messages in `tasks` start a task, as pygls starts a
    coroutine handler (its first step comes at the loop's next turn)."""

    def __init__(self, tasks: set[str]) -> None:
        super().__init__()
        self.tasks = tasks
        self.events: list[str] = []
        self.started = False

    def handle_message(self, message: Any) -> None:
        text = message["params"]["t"]
        self.events.append(f"handled {text}")
        if text in self.tasks:
            self.started = True
            asyncio.get_running_loop().call_soon(self.events.append, f"first step of {text}")

    def task_started(self) -> bool:
        started, self.started = self.started, False
        return started


def test_a_task_started_by_a_message_takes_its_first_step_before_the_next_message() -> None:
    """Messages that arrived together are handled one after the other without a turn of the
    event loop, except after one whose handler started a task: a rename notes there the state
    it starts from, so an edit sent after it must not be applied first."""
    texts = ["rename", "edit", "hover"]
    data = b"".join(frame(request(n, t)) for n, t in enumerate(texts))
    protocol = StartsTasks({"rename"})
    read_with_loop(data, [len(data)], protocol, protocol.task_started)
    assert protocol.events == [
        "handled rename",
        "first step of rename",
        "handled edit",
        "handled hover",
    ]
