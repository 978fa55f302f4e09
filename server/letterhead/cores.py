"""How many processes a piece of work is worth, and the pipes between them."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from multiprocessing.connection import Connection

try:
    import fcntl
except ImportError:  # not on a POSIX system
    fcntl = None  # type: ignore[assignment]

# Below this many documents the cost of starting workers outweighs the gain.
MIN_DOCUMENTS_PER_WORKER = 400

# The buffer asked for a pipe that carries bulk data between processes (Linux allows 1 MiB to
# anyone by default, /proc/sys/fs/pipe-max-size). With the default 64 KiB, a worker sending
# records blocked for a quarter of its time: the parent reads on a thread that waits for the
# interpreter's lock once per 64 KiB while its main thread parses (20,000 reviews: the worker
# stood blocked 0.6-1.4 s of 2.5-3.3 s; with 1 MiB, 0.1 s).
PIPE_BYTES = 1 << 20


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def wide_pipe() -> tuple[Connection, Connection]:
    """A one-way pipe, (reading end, writing end), whose buffer holds `PIPE_BYTES` where the
    system allows it (else the system's default)."""
    reader, writer = multiprocessing.Pipe(duplex=False)
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if setting is not None:
        with contextlib.suppress(OSError):  # above the system's limit, or not a pipe
            fcntl.fcntl(writer.fileno(), setting, PIPE_BYTES)
    return reader, writer
