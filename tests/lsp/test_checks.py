"""The schedule of open documents' checks (`letterhead.lsp.checks`), on a real event loop.

The checks recorded here stand for the server's (a check publishes a document's findings);
what is tested is when they run, in what order, and that the loop reads messages between two
slices of them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest

from letterhead.lsp import checks as checks_module
from letterhead.lsp.checks import Checks


class Recorder:
    """Checks that take `cost` seconds each, and the order they ran in."""

    def __init__(self, sites: dict[str, list[str]], cost: float = 0.0) -> None:
        self.sites = sites
        self.cost = cost
        self.ran: list[str] = []
        self.fail: set[str] = set()

    def check(self, uri: str) -> None:
        self.ran.append(uri)
        if self.cost:
            end = time.perf_counter() + self.cost
            while time.perf_counter() < end:
                pass
        if uri in self.fail:
            raise RuntimeError(f"the check of {uri} failed")

    def documents_of(self, site: object) -> list[str]:
        """The site's documents not checked yet (as the server's leaves out the fresh ones)."""
        return [uri for uri in self.sites.get(str(site), []) if uri not in self.ran]


async def settle(seconds: float = 0.4) -> None:
    await asyncio.sleep(seconds)


def make(recorder: Recorder) -> Checks:
    return Checks(recorder.check, recorder.documents_of)


async def test_a_later_call_replaces_an_earlier_one() -> None:
    """Typing: each edit pushes the check back. When the first edit's check would have been
    due (0.3 s after it), nothing has run; the last edit's check runs, once."""
    recorder = Recorder({})
    checks = make(recorder)
    for _ in range(5):  # at 0, 50, ..., 200 ms: due at 300, ..., 500 ms
        checks.document("a", 0.3)
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # 350 ms: the first edit's time has passed, the last's not
    assert recorder.ran == []
    await settle(0.5)
    assert recorder.ran == ["a"]


# What is asked (a document, or a whole site, and its delay), what has run 20 ms later, and
# what has run once everything is done. A site's check comes after every check due on its own,
# later ones included, and covers the site's documents not checked since (the server's
# `documents_of` leaves out those whose findings are fresh).
ORDER_CASES = {
    "documents run when due, in due order": (
        {},
        [("document", "late", 0.2), ("document", "soon", 0.1), ("document", "now", 0)],
        ["now"],
        ["now", "soon", "late"],
    ),
    "a site's check waits for the documents due on their own": (
        {"site": ["a", "b", "c", "d"]},
        [("site", "site", 0), ("document", "c", 0), ("document", "d", 0.1)],
        ["c"],
        ["c", "d", "a", "b"],
    ),
}


@pytest.mark.parametrize(
    ("sites", "asked", "soon", "finally_"), ORDER_CASES.values(), ids=ORDER_CASES.keys()
)
async def test_order(
    sites: dict[str, list[str]],
    asked: list[tuple[str, str, float]],
    soon: list[str],
    finally_: list[str],
) -> None:
    recorder = Recorder(sites)
    checks = make(recorder)
    for kind, name, delay in asked:
        (checks.document if kind == "document" else checks.site)(name, delay)
    await asyncio.sleep(0.02)
    assert recorder.ran == soon
    await settle()
    assert recorder.ran == finally_


async def test_a_burst_of_changes_checks_the_site_once_at_its_end() -> None:
    """An editor applying a rename: reviews opened and edited one after the other, each edit
    changing a tag's count (the site's check asked again). The site's documents are checked
    once, after the burst, not after each edit."""
    others = [f"other{n}" for n in range(50)]
    recorder = Recorder({"site": others})
    recorder.documents_of = lambda site: list(others)  # type: ignore[method-assign]
    checks = make(recorder)  # (every edit leaves every other review's findings stale)
    for n in range(20):
        checks.document(f"edited{n}", 0.1)
        checks.site("site", 0)
        await asyncio.sleep(0.004)
    await settle()
    assert sorted(recorder.ran) == sorted([f"edited{n}" for n in range(20)] + others)
    assert recorder.ran[-len(others) :] == others


async def test_site_checks_coalesce() -> None:
    recorder = Recorder({"site": ["a", "b"]})
    checks = make(recorder)
    for _ in range(50):  # a burst of changes to the site's tags
        checks.site("site", 0.02)
    await settle()
    assert recorder.ran == ["a", "b"]


async def test_forgotten_documents_are_not_checked() -> None:
    recorder = Recorder({"site": ["a", "b"]})
    checks = make(recorder)
    checks.document("x", 0)
    checks.forget("x")
    await settle()
    assert recorder.ran == []
    checks.clear()
    checks.document("y", 0.01)
    checks.site("site", 0.01)
    checks.clear()
    await settle()
    assert recorder.ran == []


async def test_the_loop_reads_messages_between_two_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thousand checks due at once run a slice at a time; a message arriving meanwhile (here
    a callback) is handled after the slice under way, long before the last check."""
    monkeypatch.setattr(checks_module, "SLICE_SECONDS", 0.01)
    uris = [f"u{n}" for n in range(1000)]
    recorder = Recorder({"site": uris}, cost=0.0005)  # 0.5 s of checks in all
    checks = make(recorder)
    checks.site("site", 0)
    answered: list[int] = []
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, lambda: answered.append(len(recorder.ran)))
    await asyncio.sleep(0.1)
    assert answered, "the message was not handled while the checks ran"
    assert answered[0] < 400, f"handled only after {answered[0]} checks"
    while len(recorder.ran) < len(uris):
        await asyncio.sleep(0.02)
    assert recorder.ran == uris


async def test_a_message_waiting_ends_the_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message that comes while a slice runs is read after the check under way, not at the
    slice's end: an editor applying a rename sends thousands of messages, and their reading must
    not wait for the checks they set off. Here a slice could run every check, and the message
    comes during the tenth."""
    monkeypatch.setattr(checks_module, "SLICE_SECONDS", 10.0)
    uris = [f"u{n}" for n in range(100)]
    recorder = Recorder({"site": uris}, cost=0.0005)
    loop = asyncio.get_running_loop()
    waiting = False
    handled: list[int] = []

    def read() -> None:  # the reader's message, handled by the loop
        nonlocal waiting
        handled.append(len(recorder.ran))
        waiting = False

    def check(uri: str) -> None:
        nonlocal waiting
        recorder.check(uri)
        if len(recorder.ran) == 10:  # the message arrives
            waiting = True
            loop.call_soon(read)

    checks = Checks(check, recorder.documents_of, input_waiting=lambda: waiting)
    checks.site("site", 0)
    while len(recorder.ran) < len(uris):
        await asyncio.sleep(0.01)
    assert handled == [10]
    assert recorder.ran == uris


async def test_checks_go_on_while_messages_keep_coming() -> None:
    """A client that never stops sending does not stop the checks: a slice runs one at least."""
    uris = [f"u{n}" for n in range(50)]
    recorder = Recorder({"site": uris})
    checks = Checks(recorder.check, recorder.documents_of, input_waiting=lambda: True)
    turns: list[int] = []
    loop = asyncio.get_running_loop()

    def turn() -> None:  # a message read at every turn of the loop
        turns.append(len(recorder.ran))
        if len(recorder.ran) < len(uris):
            loop.call_soon(turn)

    checks.site("site", 0)
    loop.call_soon(turn)
    await settle()
    assert recorder.ran == uris
    assert max(b - a for a, b in itertools.pairwise(turns)) <= 1


async def test_a_document_due_on_its_own_goes_before_the_rest_of_a_site_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review being typed in is not kept waiting behind a site's thousand checks."""
    monkeypatch.setattr(checks_module, "SLICE_SECONDS", 0.01)
    uris = [f"u{n}" for n in range(1000)]
    recorder = Recorder({"site": uris}, cost=0.0005)
    checks = make(recorder)
    checks.site("site", 0)
    await asyncio.sleep(0.03)
    checks.document("typed", 0)
    await asyncio.sleep(0.03)
    assert "typed" in recorder.ran
    assert recorder.ran.index("typed") < 300


async def test_the_last_document_due_goes_before_those_due_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thousand reviews due on their own (an editor applying a rename opened and edited
    them), then a keystroke in the review being written: its check comes next, not after the
    thousand; the others still run, all of them."""
    monkeypatch.setattr(checks_module, "SLICE_SECONDS", 0.01)
    uris = [f"u{n}" for n in range(1000)]
    recorder = Recorder({}, cost=0.0005)
    checks = make(recorder)
    for uri in uris:
        checks.document(uri, 0)
    await asyncio.sleep(0.03)
    checks.document("typed", 0)
    await asyncio.sleep(0.03)
    assert "typed" in recorder.ran
    assert recorder.ran.index("typed") < 300
    while len(recorder.ran) < len(uris) + 1:
        await asyncio.sleep(0.02)
    assert sorted(recorder.ran) == sorted([*uris, "typed"])


async def test_a_check_that_raises_does_not_stop_the_others() -> None:
    recorder = Recorder({"site": ["a", "b", "c"]})
    recorder.fail.add("a")
    checks = make(recorder)
    loop = asyncio.get_running_loop()
    errors: list[object] = []
    loop.set_exception_handler(lambda _, context: errors.append(context.get("exception")))
    checks.site("site", 0)
    await settle()
    assert recorder.ran == ["a", "b", "c"]
    assert len(errors) == 1


def test_nothing_runs_without_a_loop_running() -> None:
    """Scheduling needs the running loop (the server's), as a timer would."""
    recorder = Recorder({})
    checks: Checks = make(recorder)
    schedule: Callable[[], None] = lambda: checks.document("a", 0)  # noqa: E731
    with pytest.raises(RuntimeError):
        schedule()
