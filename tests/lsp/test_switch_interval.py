"""Who keeps the interpreter's switch interval short: each busy holder counts once, and the
interval is the default again only once none is left (two sites preparing at once each hold
it, and the first to finish must not give it back for the other)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from letterhead.lsp.server import BUSY_SWITCH_INTERVAL, LetterheadServer


@pytest.fixture
def server() -> Iterator[LetterheadServer]:
    default = sys.getswitchinterval()
    yield LetterheadServer()
    sys.setswitchinterval(default)


def test_the_interval_is_short_while_any_holder_is_busy(server: LetterheadServer) -> None:
    default = sys.getswitchinterval()
    first, second = object(), object()
    server._interpreter_shared(True, first)
    server._interpreter_shared(True, second)
    assert sys.getswitchinterval() == pytest.approx(BUSY_SWITCH_INTERVAL)
    server._interpreter_shared(False, first)
    assert sys.getswitchinterval() == pytest.approx(BUSY_SWITCH_INTERVAL)
    server._interpreter_shared(False, second)
    assert sys.getswitchinterval() == pytest.approx(default)


def test_a_thread_that_ended_busy_no_longer_counts(server: LetterheadServer) -> None:
    default = sys.getswitchinterval()
    thread = threading.Thread(target=server._interpreter_shared, args=(True,))
    thread.start()
    thread.join()
    assert sys.getswitchinterval() == pytest.approx(BUSY_SWITCH_INTERVAL)
    holder = object()
    server._interpreter_shared(True, holder)
    server._interpreter_shared(False, holder)  # the next change looks again: the thread is gone
    assert sys.getswitchinterval() == pytest.approx(default)
