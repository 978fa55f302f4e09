"""When the open documents are checked again, and how the checks share the event loop.

A document is checked at its own time (the debounce after an edit, at once when it is opened),
or with every open document of its site (after a change that any review's findings may depend
on: a tag's count, a configuration reloaded, an index installed). Both are kept as due times,
not as a timer each: an editor applying a site-wide rename opens, edits and closes thousands of
reviews in a burst, and a timer armed (and replaced) for every open document at every one of
those events made the burst's cost grow with the square of its size.

Due checks run a slice at a time (`SLICE_SECONDS`), the event loop reading messages between two
slices, so that a request never waits behind more than a slice of them. A slice also ends as
soon as a message is waiting to be read (`input_waiting`), after one check at least: a client
sending thousands of messages at once refills the server's pipe again and again, and a whole
slice run at each refill made the reading of the burst wait for the checks it set off.

The documents due on their own (the one being typed in) go before those due with their whole
site, and among them the last to come due goes first: while thousands of reviews opened by a
rename wait for their checks, a keystroke in the review being written does not wait behind
them once it is read. (A keystroke 2 s into the rename of 7,847 reviews applied, at 20,000
reviews, had its diagnostics 17.2 s later in the order checks came due, 14.3 s later in this
order; one 1 s into it, in the benchmark, 13.7-16.2 s later before slices gave way to
messages, 6.7-8.3 s after, 4.2-4.8 s once the text notifications skipped pygls' dispatch: what
is left is mostly the handling of the 15,694 messages sent before it.)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Hashable, Iterable

# Checks run back to back for at most this long before the event loop reads messages again.
SLICE_SECONDS = 0.02
_NEVER = float("inf")


class Checks:
    """Due checks of open documents (by URI) and of whole sites (by a key of the caller's)."""

    def __init__(
        self,
        check: Callable[[str], None],
        documents_of: Callable[[Hashable], Iterable[str]],
        loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.get_running_loop,
        input_waiting: Callable[[], bool] = lambda: False,
    ) -> None:
        """`input_waiting` says whether a message has come that the loop has not read yet
        (asked after each check; a slice ends when it says so)."""
        self._check = check  # checks one open document and publishes its findings
        self._documents_of = documents_of  # the URIs of a site's open documents, now
        self._loop = loop
        self.input_waiting = input_waiting
        self._due: dict[str, float] = {}  # URI -> when, on the loop's clock
        self._heap: list[tuple[float, int, str]] = []  # (when, order, URI); stale ones skipped
        self._order = itertools.count()
        self._sites: dict[Hashable, float] = {}  # site -> when all its open documents are due
        self._own: dict[str, None] = {}  # due now, on their own: first (a set, in order)
        self._with_site: dict[str, None] = {}  # due now, with their site: after the others
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = _NEVER
        self._busy = False  # a slice is running, or the next one is asked for

    def document(self, uri: str, delay: float) -> None:
        """Check the document at `uri` in `delay` seconds; a later call for it replaces this one
        (the debounce of an edit)."""
        self._own.pop(uri, None)  # due, not run yet: replaced too
        self._with_site.pop(uri, None)
        when = self._loop().time() + delay
        self._due[uri] = when
        heapq.heappush(self._heap, (when, next(self._order), uri))
        self._arm(when)

    def site(self, site: Hashable, delay: float) -> None:
        """Check every document of `site` open at the time in `delay` seconds, or once no
        document is due on its own, if later; a later call for the site replaces this one.

        Waiting for those: each of them may change what the whole site's checks find again (a
        tag's count), so while an editor applies a rename to thousands of reviews, every open
        review would be checked again after each of them; waiting, each is checked once."""
        when = self._loop().time() + delay
        self._sites[site] = when
        self._arm(when)

    def forget(self, uri: str) -> None:
        """No check for `uri` (closed); a whole site's check finds it gone."""
        self._due.pop(uri, None)
        self._own.pop(uri, None)
        self._with_site.pop(uri, None)

    def clear(self) -> None:
        """No check at all (the server is shutting down)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, _NEVER
        self._due.clear()
        self._heap.clear()
        self._sites.clear()
        self._own.clear()
        self._with_site.clear()

    # -- running -------------------------------------------------------------------------------

    def _arm(self, when: float) -> None:
        if when >= self._timer_at or self._busy:
            return  # the timer armed, or the slices running, will come to it
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop().call_at(when, self._fire)
        self._timer_at = when

    def _fire(self) -> None:
        self._timer, self._timer_at = None, _NEVER
        self._run()

    def _take_due(self) -> None:
        """Move what is due now to the queues of due checks."""
        now = self._loop().time()
        heap, due = self._heap, self._due
        while heap and heap[0][0] <= now:
            when, _, uri = heapq.heappop(heap)
            if due.get(uri) == when:  # else replaced by a later call, or forgotten
                del due[uri]
                self._with_site.pop(uri, None)
                self._own[uri] = None
        if due or self._own:
            return  # sites wait for the documents due on their own (see `site`)
        for site, when in list(self._sites.items()):
            if when <= now:
                del self._sites[site]
                for uri in self._documents_of(site):
                    self._with_site[uri] = None

    def _next_due(self) -> float:
        heap, due = self._heap, self._due
        while heap and due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)  # replaced by a later call, or forgotten
        if heap:  # sites wait for these (`_take_due`)
            return heap[0][0]
        return min(self._sites.values(), default=_NEVER)

    def _run(self) -> None:
        """Take what is due, run checks for a slice, then let the loop read messages and come
        back for the next slice, or arm the timer for what comes due next."""
        self._busy = True
        try:
            self._take_due()
            deadline = time.perf_counter() + SLICE_SECONDS
            while self._own or self._with_site:
                if self._own:  # the last due first: see the module's docstring
                    queue, uri = self._own, next(reversed(self._own))
                else:
                    queue, uri = self._with_site, next(iter(self._with_site))
                del queue[uri]
                self._check(uri)
                if time.perf_counter() >= deadline or self.input_waiting():
                    break
                self._take_due()
        finally:  # even past a check that raised: the others still run
            if self._own or self._with_site:
                self._loop().call_soon(self._run)
            else:
                self._busy = False
                if (when := self._next_due()) < _NEVER:
                    self._arm(when)
