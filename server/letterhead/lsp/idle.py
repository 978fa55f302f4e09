"""Giving freed memory back to the system once the server goes quiet.

A session's first operations leave holes in the C heap: the temporaries of indexing, the first
completion lists, dictionaries that grew and were rebuilt. glibc keeps freed pages for reuse, so
the server's resident size only ever climbs, by ~10% over a long session of a 10,000-review site
(`bench/soak.py`), without any of it being in use. `malloc_trim(0)` hands whole free pages back
(with `madvise`, from anywhere in the heap, not only its top); it takes a few milliseconds, so it
runs only after the server has been idle for a while, and only once per burst of work.

Where the C library has no `malloc_trim` (macOS, musl) nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from collections.abc import Callable

logger = logging.getLogger("letterhead.lsp")

IDLE_SECONDS = 2.0  # quiet time after the last message before memory is given back


def _find_malloc_trim() -> Callable[[int], int] | None:
    """The C library's `malloc_trim`, looked up among the symbols the interpreter already has
    loaded (`CDLL(None)`: the C library is one of them). `ctypes.util.find_library("c")` would
    run `ldconfig` in a child process to name the library first: ~4 ms of every start."""
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # no such symbol, or no `dlopen(NULL)` here
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


_malloc_trim = _find_malloc_trim()


def give_back() -> bool:
    """Return the C heap's free pages to the system; False where that cannot be done."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


class IdleTrim:
    """Calls `tidy`, then `give_back`, once the event loop has seen no `activity()` for
    `idle_seconds`: once per burst of work, never while idle. One timer at a time; activity only
    moves the deadline, so a keystroke costs a clock read."""

    def __init__(
        self, idle_seconds: float = IDLE_SECONDS, tidy: Callable[[], None] = lambda: None
    ) -> None:
        """`tidy` lets go of what the server holds for no use (its pages are given back)."""
        self.idle_seconds = idle_seconds
        self.tidy = tidy
        self.trims = 0  # how many times memory was given back (reported by serverStats)
        self._last = 0.0
        self._heard = 0.0  # see `heard`
        self._timer: asyncio.TimerHandle | None = None

    def activity(self) -> None:
        """Note work on the event loop's thread; a trim follows once it has been quiet."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a test calling a handler directly): nothing to schedule on
        self._last = loop.time()
        if self._timer is None:
            self._timer = loop.call_at(self._last + self.idle_seconds, self._check)

    def heard(self) -> None:
        """Note that bytes of a message have arrived (from the thread that reads them): a
        message is on its way to the event loop, which takes several turns to hand it over."""
        self._heard = time.monotonic()  # the event loop's clock (asyncio's `time`)

    @property
    def last(self) -> float:
        """When the last `activity()` or `heard()` was, by the event loop's clock (read from
        any thread)."""
        return max(self._last, self._heard)

    def quiet_for(self) -> float:
        """Seconds since the last `activity()` or `heard()` (the event loop's clock)."""
        return asyncio.get_running_loop().time() - self.last

    def _check(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        due = self._last + self.idle_seconds
        if loop.time() < due:  # something happened meanwhile: wait for the quiet again
            self._timer = loop.call_at(due, self._check)
            return
        try:
            self.tidy()
        except Exception as error:  # the memory is given back all the same
            logger.warning("could not tidy up before giving memory back: %s", error)
        if give_back():
            self.trims += 1

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
