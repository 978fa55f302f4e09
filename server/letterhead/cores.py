"""How many processes a piece of work is worth."""

from __future__ import annotations

import os

# Below this many documents the cost of starting workers outweighs the gain.
MIN_DOCUMENTS_PER_WORKER = 400


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
