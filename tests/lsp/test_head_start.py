"""The listing of the client's sites begun before the protocol stack is imported.

Through the real server over stdio, driven by a raw client that can write `initialize` before
the server has read anything (as editors do, right after spawning it) or later: the index is the
same either way, and `serverStats` tells whether its listing came from the head start. In
process: `MessageReader.peek` leaves every message to be read as before, and `HeadStart` starts
listings only for the sites an `initialize` names.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsp_support import copy_site, uri
from test_reader import Chunked, bodies, chunkings, frame, request, texts

from letterhead.indexer import index_site_cached
from letterhead.lsp.headstart import HeadStart
from letterhead.lsp.reader import MessageReader


def initialize(root_uri: str | None = None, folders: list[str] | None = None) -> bytes:
    capabilities = {"window": {"workDoneProgress": True}}  # the index's end is reported
    params: dict[str, Any] = {"processId": None, "rootUri": root_uri, "capabilities": capabilities}
    if folders is not None:
        params["workspaceFolders"] = [{"uri": f, "name": "f"} for f in folders]
    return json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    ).encode()


# -- the reader: a look at the first message takes nothing ---------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(texts, min_size=1, max_size=4), chunkings, st.integers(0, 3))
def test_a_peek_takes_nothing_from_what_pygls_reads(
    texts: list[str], sizes: list[int], junk: int
) -> None:
    """Whatever the chunks, a peek gives the first message's body when it is whole, and the
    messages read after it are those read without it (junk first: no body, answers as ever)."""
    data = b"x" * junk + b"".join(frame(request(n, t)) for n, t in enumerate(texts))
    expected = bodies(data, sizes)
    reader = MessageReader(Chunked(data, list(sizes)), None)  # type: ignore[arg-type]
    peeked = reader.peek(1.0)
    assert peeked == (None if junk else request(0, texts[0]))
    found = []
    while (message := reader.message()) is not None:
        found.append(message)
    assert found == expected[0]


def test_a_peek_waits_for_a_message_at_most_as_long_as_it_is_told() -> None:
    read_end, write_end = os.pipe()
    try:
        reader = MessageReader(os.fdopen(read_end, "rb", buffering=0), None)
        started = time.monotonic()
        assert reader.peek(0.05) is None  # nothing came
        assert 0.04 < time.monotonic() - started < 5
        whole = frame(request(7, "late"))
        os.write(write_end, whole[:10])
        threading.Timer(0.05, os.write, (write_end, whole[10:])).start()
        assert reader.peek(5.0) == request(7, "late")  # the rest came within the wait
        assert reader.message()["params"]["t"] == "late"
    finally:
        os.close(write_end)


# -- HeadStart in process -------------------------------------------------------------------------


def reader_of(message: bytes) -> MessageReader:
    return MessageReader(Chunked(message, []), None)  # type: ignore[arg-type]


@pytest.fixture
def two_sites(tmp_path: Path) -> Path:
    copy_site(tmp_path / "sites" / "one")
    copy_site(tmp_path / "sites" / "two")
    (tmp_path / "sites" / "notes").mkdir()
    return tmp_path / "sites"


def test_the_sites_an_initialize_names_are_listed(two_sites: Path) -> None:
    head_start = HeadStart.read(reader_of(frame(initialize(folders=[uri(two_sites)]))))
    try:
        assert sorted(head_start.started) == [
            (two_sites / "one").resolve(),
            (two_sites / "two").resolve(),
        ]
        root = (two_sites / "one").resolve()
        started = head_start.take(root)
        assert started is not None and head_start.take(root) is None  # taken once
        early, late = index_site_cached(root, started=started), index_site_cached(root)
        assert early.listed_early and not late.listed_early
        # The server holds the listing until its indexing thread ends (after the persistent
        # index is written): by then it must hold no file (40,004 at 20,000 reviews, ~16 MiB).
        assert started.listing._rows is None and started.listing._sources is None
        assert early.loaded.index.documents == late.loaded.index.documents
        assert early.loaded.index.statics == late.loaded.index.statics
    finally:
        head_start.close_all_but(())
    assert head_start.started == {}


@pytest.mark.parametrize(
    "first",
    [
        frame(request(1)),  # not an initialize
        frame(b"{not json"),
        b"Content-Type: x\r\n\r\n{}",  # no length
        frame(initialize("http://example.invalid/site")),  # not a file
        frame(b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": [1]}'),
    ],
)
def test_no_listing_without_an_initialize_naming_a_site(first: bytes, two_sites: Path) -> None:
    assert HeadStart.read(reader_of(first)).started == {}
    no_site = frame(initialize(uri(two_sites / "notes")))
    assert HeadStart.read(reader_of(no_site)).started == {}


# -- the real server --------------------------------------------------------------------------


class RawClient:
    """The server over its pipes; answers the server's requests with null."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "letterhead", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.buffer = b""

    def send(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(frame(body))
        self.process.stdin.flush()

    def messages(self) -> Iterator[dict[str, Any]]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()

        def read() -> bytes:
            if not select.select([fd], [], [], 60)[0]:
                pytest.fail("the server said nothing for a minute")
            return os.read(fd, 65536) or pytest.fail("the server closed its output")

        while True:
            while b"\r\n\r\n" not in self.buffer:
                self.buffer += read()
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            length = int(head.split(b"\r\n")[0].split(b":")[1])
            while len(self.buffer) < length:
                self.buffer += read()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            message = json.loads(body)
            if "method" in message and "id" in message:
                self.send(
                    json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": None}).encode()
                )
            yield message

    def answer(self, number: int) -> dict[str, Any]:
        return next(m for m in self.messages() if m.get("id") == number and "method" not in m)

    def indexed(self) -> str:
        """The summary that ends the indexing's progress."""
        for message in self.messages():
            value = message.get("params", {}).get("value", {}) if "method" in message else {}
            if message.get("method") == "$/progress" and value.get("kind") == "end":
                return str(value.get("message"))
        raise AssertionError("unreachable")

    def stop(self) -> None:
        self.send(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "shutdown"}).encode())
        self.answer(99)
        self.send(json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode())
        assert self.process.wait(30) == 0


def session(site: Path, env: dict[str, str], delay: float, first: bytes = b"") -> tuple[str, int]:
    """A server on `site`, `initialize` written `delay` seconds after the spawn (after `first`):
    the indexing's summary without its time, and `listedEarly`."""
    client = RawClient(env)
    try:
        if first:
            client.send(first)
        time.sleep(delay)
        client.send(initialize(uri(site)))
        client.answer(1)
        client.send(b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}')
        summary = client.indexed()
        client.send(
            b'{"jsonrpc": "2.0", "id": 2, "method": "letterhead/serverStats", "params": {}}'
        )
        stats = client.answer(2)["result"]
        client.stop()
    finally:
        if client.process.poll() is None:
            client.process.kill()
            client.process.wait()
    return summary.split(", in ")[0], stats["listedEarly"]


@pytest.mark.parametrize("cache", ["on", "off"])
def test_an_initialize_written_at_once_lists_the_site_early(
    tmp_path: Path, cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = copy_site(tmp_path / "site")
    env = {**os.environ, "LETTERHEAD_CACHE_DIR": str(tmp_path / "cache"), "LETTERHEAD_CACHE": cache}
    at_once = session(site, env, delay=0)  # a first index (cold)
    assert at_once[0].startswith("4 documents (4 reviews), ") and at_once[1] == 1
    again = session(site, env, delay=0)  # a restart, from the persistent index if it is on
    assert again == at_once
    late = session(site, env, delay=0.5)  # the protocol stack imported by then
    assert late == (at_once[0], 0)
    after_junk = session(site, env, delay=0, first=b"not a message")
    assert after_junk == (at_once[0], 0)
