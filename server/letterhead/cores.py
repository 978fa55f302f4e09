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


# Files are handed out in runs of this many (~15 ms of parsing a review each): short enough that
# the processes end within a run of each other, long enough that taking one costs nothing.
RUN = 64
# At most this many runs, so that all of them fit in a pipe's smallest buffer (one 4 KiB page:
# Linux shrinks a pipe to that when a user holds too many) and writing them never blocks.
_MOST_RUNS = 1024
_START = 4  # bytes of a run's start in the pipe


class Runs:
    """Runs of `count` files (positions `range(start, end)`) taken by processes forked after it,
    each taking the next run whenever it is ready for more: a process on a core that runs slower
    (another program on it; a machine whose cores are shared) takes fewer, and all end together.

    The runs wait in a pipe, each run's start a few bytes, written before any process reads: a
    read of a pipe hands each byte to exactly one reader, so no two processes take the same run,
    a process that dies cannot leave anything locked, and runs are taken in ascending order.
    """

    def __init__(self, count: int, size: int = RUN) -> None:
        self.count = count
        self.size = max(size, -(-count // _MOST_RUNS))
        self._reader, writer = os.pipe()
        try:
            starts = range(0, count, self.size)
            os.write(writer, b"".join(start.to_bytes(_START, "little") for start in starts))
        finally:
            os.close(writer)  # before any fork: a reader sees the end once every run is taken

    def __len__(self) -> int:
        return -(-self.count // self.size)

    def at(self, start: int) -> range:
        """The run that begins at `start`."""
        return range(start, min(start + self.size, self.count))

    def take(self) -> range | None:
        """The next run not yet taken by any process, None when every run has been."""
        if self._reader < 0:  # closed here, or every run seen taken
            return None
        data = os.read(self._reader, _START)
        if not data:
            self.close()
            return None
        return self.at(int.from_bytes(data, "little"))

    def close(self) -> None:
        if self._reader >= 0:
            os.close(self._reader)
            self._reader = -1
