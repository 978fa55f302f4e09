"""The language server benchmark: the real server over stdio, driven as an editor would drive it.

    python bench/lsp.py [--sizes 1000 10000 20000] [--runs 1] [--timeout 600]
                        [--markdown FILE] [--json FILE]

For each size, a generated site (the same as `bench/run.py`'s, cached under bench/out/) is opened
by a fresh `python -m letterhead serve` for every run, and the client measures:

- spawn → `initialize` result, and spawn → index ready (the end of the indexing `$/progress`);
- didOpen → first published diagnostics for reviews with findings, the index ready;
- keystroke → fresh diagnostics: characters typed one at a time into the body, the debounce
  set to 0 (`letterhead.diagnostics.debounceMs`), each edit waiting for its publish;
- completion in `tags: [` and after `](/content/`, the documentation of an item shown
  (`completionItem/resolve`), hover on the salutation and on a tag;
- workspace symbol search over varied queries;
- the references to a review (the reviews linking to it) right after each of 20 edits of it;
- a new review, as an author starts a letter: a file not yet on disk opened (it comes first of
  the reviews newest first), then its first link completion and a symbol search, each closed
  before the next;
- rename of a tag used in about a tenth of the reviews (2,000 at 20,000), and of the most used
  tag: time to the WorkspaceEdit (never applied);
- the server's peak memory (`VmHWM` of its process at the end);
- on a second server, started on the persistent index the first wrote: spawn → index ready, a
  didOpen soon after, its peak memory; then, once it has built what it builds while the editor
  is quiet, the rename of the most used tag applied as VS Code applies a workspace edit (every
  file it names opened with its text from disk, then each changed by its edits, all sent at
  once: VS Code opens every file of a workspace edit before it edits any):
  the time from the first open to the diagnostics of the last file's new version, the server's
  CPU meanwhile, then the time and CPU until it is quiet again (its checks of the whole site
  after the burst can outlast those diagnostics), and its peak memory then; and a keystroke in
  another open review 1 s after the last of those messages was sent, and the time to its
  diagnostics.

A request's time runs from just before the client writes it to the moment the answer's JSON
reaches the client (before pygls turns it into lsprotocol objects, a cost of this Python
client and not of an editor); a notification's (diagnostics) likewise. A last pass with the
server's trace set to verbose reads the server's own timing of each handler from its log, to
tell the server's work from the transport's.

Each run is bounded by `--timeout` seconds; a phase that runs out of time is reported as such
and the rest of the run is skipped, keeping what was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from run import (  # noqa: E402
    OUT,
    STALL_FACTOR,
    compile_engine,
    ensure_site,
    measure_stalls,
    warm_page_cache,
)

SERVER_COMMAND = [sys.executable, "-m", "letterhead", "serve"]
# How long after a restart's index is ready its first didOpen is sent (`run_restart`).
EARLY_OPEN_SECONDS = 0.08
# When, after an applied rename's messages were all sent, the author types in another review.
KEYSTROKE_INTO_BURST_SECONDS = 1.0
PREPARED_POLL_SECONDS = 3.0  # see `until_prepared`
# After an applied rename, the server is quiet once it used less than `QUIET_CPU_SHARE` of a
# core over `QUIET_POLL_SECONDS` (asked for at most `QUIET_WAIT_SECONDS`): see `until_quiet`.
QUIET_POLL_SECONDS = 0.5
QUIET_CPU_SHARE = 0.05
QUIET_WAIT_SECONDS = 120.0
PREPARED_WAIT_SECONDS = 60.0
SETTINGS: dict[str, Any] = {"diagnostics": {"debounceMs": 0}}
VERBOSE_SETTINGS: dict[str, Any] = {
    "diagnostics": {"debounceMs": 0},
    "trace": {"server": "verbose"},
}
OPEN_SAMPLES = 20  # reviews with findings opened one after another
REQUEST_TIMEOUT = 60.0  # seconds for one request or one publish
RENAME_REPEATS = 3
NEW_REVIEWS = 20  # new reviews opened one after another, each closed before the next
ADDRESSEE = "addressee: "
_SITE_DEFINITION = re.compile(r" {0,3}\[([^\]]+)\]:[ \t]*(/\S+)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[([^\]]+)\]")
_INLINE_SITE_LINK = re.compile(r"\]\((/[^)\s]+)\)")
TYPED_VALUES = 200  # completions while typing addressees, one after each letter
REFERENCE_EDITS = 20  # edits of the main review, each followed by a references request
TYPED = (
    " And I must add that the photography is remarkable throughout, patient and unshowy, and "
    "that the editing gives every scene the time it needs before moving on to the next one, "
    "which few films dare to do these days."
)


# -- what is measured ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # "ms", "s", "MiB", "" (a count)
    budget: float | None = None  # SPEC section 9, at 20,000 reviews, in `unit`
    budget_label: str = ""


def percentiles(key: str, label: str, budget: float | None = None) -> tuple[Metric, Metric]:
    """The p50 and p99 of a series of requests in milliseconds, the budget (if any) the p99's."""
    return (
        Metric(f"{key}_p50_ms", f"{label} p50", "ms"),
        Metric(
            f"{key}_p99_ms",
            f"{label} p99",
            "ms",
            budget,
            f"p99 ≤ {budget:g} ms" if budget is not None else "",
        ),
    )


METRICS: tuple[Metric, ...] = (
    Metric("initialize_ms", "spawn → initialize result", "ms"),
    Metric("index_ready_s", "spawn → index ready (cold index)", "s", 1.5, "≤ 1.5 s"),
    Metric("restart_initialize_ms", "restart: spawn → initialize result", "ms"),
    Metric(
        "restart_index_ready_s",
        "restart: spawn → index ready (persistent index)",
        "s",
        0.4,
        "≤ 0.4 s",
    ),
    Metric("restart_peak_mib", "restart: server peak memory (VmHWM)", "MiB", 200, "≤ 200 MiB"),
    Metric(
        "restart_open_early_ms",
        f"restart: didOpen {EARLY_OPEN_SECONDS} s after ready → first diagnostics",
        "ms",
        20,
        "≤ 20 ms",
    ),
    Metric("open_first_ms", "didOpen → first diagnostics (first review)", "ms", 20, "≤ 20 ms"),
    Metric("open_p50_ms", "didOpen → first diagnostics, p50 of reviews", "ms", 20, "≤ 20 ms"),
    Metric("open_max_ms", "didOpen → first diagnostics, max of reviews", "ms", 20, "≤ 20 ms"),
    *percentiles("keystroke", "keystroke → diagnostics", 15),
    *percentiles("completion_tags", "completion in `tags: [`", 10),
    *percentiles("completion_link", "completion after `](/content/`", 10),
    *percentiles("completion_resolve", "completion: an item's documentation, when shown", 10),
    *percentiles("hover_salutation", "hover on the salutation", 10),
    *percentiles("hover_tag", "hover on a tag", 10),
    *percentiles("hover_link", "hover on a link to another review", 10),
    *percentiles("symbols", "workspace symbols", 50),
    *percentiles("completion_image", "completion in `image: `", 10),
    *percentiles("completion_value", "completion while typing an `addressee:`", 10),
    Metric("references_first_ms", "references to a review, the first request", "ms"),
    *percentiles("references_edited", "references to the review just edited"),
    *percentiles("new_link", "a new review: its first completion after `](/content/`", 10),
    *percentiles("new_symbols", "a new review: the next workspace symbol search", 50),
    Metric("rename_ms", "rename tag in ~10% of reviews → WorkspaceEdit", "ms", 1000, "≤ 1 s"),
    Metric("rename_reviews", "rename: reviews using the tag", ""),
    Metric("rename_files", "rename: files in the WorkspaceEdit", ""),
    Metric("rename_top_ms", "rename the most used tag → WorkspaceEdit", "ms"),
    Metric("rename_top_reviews", "rename: reviews using the most used tag", ""),
    Metric("references_tag_top_ms", "references to the most used tag", "ms"),
    Metric("references_tag_top_found", "references to the most used tag: locations", ""),
    Metric(
        "applied_rename_s",
        "restart: the most used tag's rename applied → the last file's diagnostics",
        "s",
    ),
    Metric("applied_rename_cpu_s", "restart: that rename applied, the server's CPU", "s"),
    Metric("applied_rename_files", "restart: that rename applied, files opened and edited", ""),
    Metric(
        "applied_rename_quiet_s",
        "restart: that rename applied → the server quiet again (its checks after the last "
        "file's diagnostics included)",
        "s",
    ),
    Metric(
        "applied_rename_quiet_cpu_s", "restart: that rename applied, the server's CPU to quiet", "s"
    ),
    Metric(
        "applied_rename_keystroke_ms",
        f"restart: a keystroke in another review {KEYSTROKE_INTO_BURST_SECONDS:.0f} s into that "
        "rename → its diagnostics",
        "ms",
    ),
    Metric(
        "restart_prepared_rss_mib",
        "restart: server memory once its quiet work is done (VmRSS)",
        "MiB",
    ),
    Metric(
        "applied_rename_peak_mib",
        "restart: that rename applied, server peak memory",
        "MiB",
        200,
        "≤ 200 MiB",
    ),
    Metric("rss_indexed_mib", "server memory after indexing (VmRSS)", "MiB"),
    Metric("hwm_indexed_mib", "server peak memory while indexing (VmHWM at index ready)", "MiB"),
    Metric("peak_mib", "server peak memory (VmHWM at the end)", "MiB", 200, "≤ 200 MiB"),
    # The server's own time in each handler (trace verbose), to tell work from transport.
    Metric("server_keystroke_p50_ms", "server: diagnostics of an edit p50", "ms"),
    Metric("server_completion_tags_p50_ms", "server: completion (tags) p50", "ms"),
    Metric("server_completion_link_p50_ms", "server: completion (links) p50", "ms"),
    Metric("server_hover_p50_ms", "server: hover p50", "ms"),
    Metric("server_symbols_p50_ms", "server: workspace symbols p50", "ms"),
    Metric("server_rename_ms", "server: rename handler (~10% tag)", "ms"),
)

# The largest single request of each series held to a budget: a request's first-time work (a
# table built on first use, say) lands on one request of its series, which a p99 of 200 (their
# third largest) never shows.
LARGEST: tuple[Metric, ...] = tuple(
    Metric(metric.key.removesuffix("_p99_ms") + "_max_ms", metric.label.removesuffix(" p99"), "ms")
    for metric in METRICS
    if metric.key.endswith("_p99_ms") and metric.budget is not None
)
METRIC_BY_KEY = {metric.key: metric for metric in METRICS}


def record_series(result: dict[str, Any], name: str, times: Sequence[float]) -> None:
    """A series of requests' times (seconds) as its p50, p99 and largest in milliseconds, and
    which request (from 1) the largest was."""
    result[f"{name}_p50_ms"] = statistics.median(times) * 1000
    result[f"{name}_p99_ms"] = percentile(times, 0.99) * 1000
    result[f"{name}_max_ms"] = max(times) * 1000
    result[f"{name}_max_at"] = times.index(max(times)) + 1


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: p99 of 200 samples is the 198th smallest, their third
    largest; p99 of 20 is the largest."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


# -- the sites, and what to do in them ------------------------------------------------------------


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


@dataclass
class Review:
    path: Path
    relative: str
    text: str
    lines: list[str]
    tags_line: int = -1  # the `tags: [` line, -1 if the tags are a block list
    image_line: int = -1  # the `image: ` line
    addressee_line: int = -1  # the `addressee: ` line
    salutation_line: int = -1

    @property
    def uri(self) -> str:
        return self.path.as_uri()

    @classmethod
    def read(cls, root: Path, relative: str) -> Review:
        path = (root / relative).resolve()
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        review = cls(path, relative, text, lines)
        for number, line in enumerate(lines):
            if review.tags_line < 0 and line.startswith("tags: ["):
                review.tags_line = number
            if review.image_line < 0 and line.startswith("image: "):
                review.image_line = number
            if review.addressee_line < 0 and line.startswith(ADDRESSEE):
                review.addressee_line = number
            if review.salutation_line < 0 and line.startswith("_**Dear "):
                review.salutation_line = number
                break
        return review

    def tag_columns(self) -> list[tuple[str, int]]:
        """Each tag of the flow list with the UTF-16 column of its first character."""
        if self.tags_line < 0:
            return []
        line = self.lines[self.tags_line]
        found = []
        for match in re.finditer(r'(?<=[\[,] )"?([^,\]"]+)|(?<=\[)"?([^,\]"]+)', line):
            name = match.group(1) or match.group(2)
            start = match.start(1) if match.group(1) else match.start(2)
            found.append((name, utf16(line[:start])))
        return found

    def addressee(self) -> str | None:
        """The front matter's `addressee:` value, as written."""
        if self.addressee_line < 0:
            return None
        return self.lines[self.addressee_line][len(ADDRESSEE) :]

    def internal_links(self) -> list[tuple[int, int]]:
        """(line, UTF-16 column) inside each link to a page of the site: the text of a reference
        link whose definition is a site URL, that URL in its definition, an inline link's URL."""
        definitions: dict[str, tuple[int, int]] = {}
        for number, line in enumerate(self.lines):
            match = _SITE_DEFINITION.match(line)
            if match is not None:
                definitions[match.group(1).casefold()] = (number, utf16(line[: match.start(2)]) + 1)
        found = []
        for number, line in enumerate(self.lines):
            for match in _REFERENCE_LINK.finditer(line):
                if match.group(2).casefold() in definitions:
                    found.append((number, utf16(line[: match.start(1)]) + 1))
            for match in _INLINE_SITE_LINK.finditer(line):
                found.append((number, utf16(line[: match.start(1)]) + 1))
        return found + list(definitions.values())

    def body_line(self) -> int:
        """The first line of prose after the salutation."""
        for number in range(self.salutation_line + 1, len(self.lines)):
            line = self.lines[number]
            if line.strip() and line[0].isalpha():
                return number
        return self.salutation_line + 1


@dataclass
class Plan:
    """What a run does at one size: the documents, positions and queries."""

    size: int
    root: Path
    main: Review
    samples: list[Review]
    rename: tuple[Review, str, int, int] | None  # review, tag, column, reviews using it
    rename_top: tuple[Review, str, int, int] | None
    queries: list[str]
    info: dict[str, Any] = field(default_factory=dict)


def site_facts(site: Path) -> dict[str, Any]:
    """Tag counts and findings per file, from the real command line (cached next to the site)."""
    cache = site.parent / f"{site.name}.lsp-facts.json"
    if cache.exists():
        cached: dict[str, Any] = json.loads(cache.read_text())
        return cached
    tags = json.loads(
        subprocess.run(
            [sys.executable, "-m", "letterhead", "tags", str(site), "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    report = json.loads(
        subprocess.run(
            [sys.executable, "-m", "letterhead", "check", str(site), "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    )
    findings: dict[str, list[str]] = {}
    for finding in report["findings"]:
        findings.setdefault(finding["path"], []).append(finding["code"])
    facts = {
        "tags": [(t["name"], t["reviews"]) for t in tags["tags"]["names"]],
        "findings": findings,
    }
    cache.write_text(json.dumps(facts))
    return facts


def find_tag_use(root: Path, tag: str, prefer: Review | None) -> tuple[Review, int] | None:
    """A review listing `tag` (this exact spelling) in a flow list, and the tag's column."""
    if prefer is not None:
        for name, column in prefer.tag_columns():
            if name == tag:
                return prefer, column
    needle = tag.lower()
    for path in sorted((root / "_posts").iterdir()):
        text = path.read_text(encoding="utf-8", errors="replace")
        head = text[:2000]
        if needle not in head.lower():
            continue
        review = Review.read(root, path.relative_to(root).as_posix())
        for name, column in review.tag_columns():
            if name == tag:
                return review, column
    return None


def make_plan(size: int, seed: int) -> Plan:
    root = ensure_site(size, seed).resolve()
    facts = site_facts(root)
    findings: dict[str, list[str]] = facts["findings"]
    preference = {"LK001": 0, "TX002": 1, "TX001": 2, "LK003": 3}
    with_findings = sorted(
        (p for p in findings if p.startswith("_posts/")),
        key=lambda p: (min(preference.get(c, 9) for c in findings[p]), p),
    )
    candidates = [Review.read(root, p) for p in with_findings[: OPEN_SAMPLES + 40]]
    usable = [r for r in candidates if r.tags_line >= 0 and r.salutation_line >= 0]
    main = usable[0] if usable else candidates[0]
    samples = [r for r in candidates if r is not main][:OPEN_SAMPLES]

    tags: list[tuple[str, int]] = [(str(name), int(count)) for name, count in facts["tags"]]
    reviews = sum(1 for _ in (root / "_posts").iterdir())
    wanted = reviews / 10
    rename = rename_top = None
    by_closeness = sorted(tags, key=lambda t: (abs(t[1] - wanted), t[0]))
    for tag, count in by_closeness[:10]:
        found = find_tag_use(root, tag, main)
        if found is not None:
            rename = (found[0], tag, found[1], count)
            break
    by_use = sorted(tags, key=lambda t: (-t[1], t[0]))
    for tag, count in by_use[:5]:
        found = find_tag_use(root, tag, main)
        if found is not None:
            rename_top = (found[0], tag, found[1], count)
            break

    rng = random.Random(seed)
    words = sorted(
        {
            word
            for name in os.listdir(root / "_posts")
            for word in name[11:].rsplit(".", 1)[0].split("-")
            if len(word) >= 3 and word not in {"the", "and", "for", "with"}
        }
    )
    queries = []
    for number in range(200):
        word = rng.choice(words)
        kind = number % 6
        if kind == 0:
            queries.append(word)
        elif kind == 1:
            queries.append(word[:3])
        elif kind == 2:
            queries.append(word[0])
        elif kind == 3:
            queries.append(f"{word} {rng.choice(words)}")
        elif kind == 4:
            queries.append(word.capitalize()[:5])
        else:
            queries.append(word[:-1] + "q")  # a near miss, likely matching little
    return Plan(
        size,
        root,
        main,
        samples,
        rename,
        rename_top,
        queries,
        {"reviews": reviews, "tags": len(tags)},
    )


# -- the client -----------------------------------------------------------------------------------


class TimingProtocol(LanguageServerProtocol):
    """pygls' protocol, noting when each message's JSON reached the client (before it is
    turned into lsprotocol objects)."""

    def __init__(self, *arguments: Any, **keywords: Any) -> None:
        super().__init__(*arguments, **keywords)
        self._started: float | None = None
        self.arrival = 0.0
        self.response_arrivals: dict[Any, float] = {}

    def structure_message(self, data: dict[str, Any]) -> Any:
        if self._started is None:
            self._started = time.perf_counter()
        try:
            return super().structure_message(data)
        except Exception:
            self._started = None
            raise

    def handle_message(self, message: Any) -> None:
        self.arrival = self._started if self._started is not None else time.perf_counter()
        self._started = None
        if getattr(message, "method", None) is None and getattr(message, "id", None) is not None:
            self.response_arrivals[message.id] = self.arrival
        super().handle_message(message)


class PhaseTimeout(Exception):
    pass


class BenchClient(LanguageClient):
    def __init__(self) -> None:
        super().__init__("letterhead-bench", "1", protocol_cls=TimingProtocol)
        self.logs: list[tuple[float, str]] = []
        self.progress_end: dict[str, tuple[float, str]] = {}
        self.publish_waiters: dict[tuple[str, int | None], asyncio.Future[float]] = {}
        self.settings: dict[str, Any] = SETTINGS
        self.stderr: deque[str] = deque(maxlen=40)
        self._ids = 0
        self.deadline = math.inf
        self.stderr_task: asyncio.Task[None] | None = None  # reads the server's stderr (`spawn`)

        @self.feature(types.WINDOW_LOG_MESSAGE)
        def log(client: BenchClient, params: types.LogMessageParams) -> None:
            client.logs.append((client.timing.arrival, params.message))

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def show(client: BenchClient, params: types.ShowMessageParams) -> None:
            client.logs.append((client.timing.arrival, params.message))

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(client: BenchClient, params: Any) -> None:
            return None

        @self.feature(types.PROGRESS)
        def progress(client: BenchClient, params: types.ProgressParams) -> None:
            value = params.value
            kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
            if kind == "end":
                message = (
                    value.get("message")
                    if isinstance(value, dict)
                    else getattr(value, "message", None)
                ) or ""
                client.progress_end[str(params.token)] = (client.timing.arrival, message)

        @self.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(client: BenchClient, params: Any) -> None:
            return None

        @self.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(client: BenchClient, params: types.ConfigurationParams) -> list[Any]:
            return [client.settings for _ in params.items]

        @self.feature(types.WORKSPACE_DIAGNOSTIC_REFRESH)
        def refresh(client: BenchClient, params: Any) -> None:
            return None

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def publish(client: BenchClient, params: types.PublishDiagnosticsParams) -> None:
            waiter = client.publish_waiters.pop((params.uri, params.version), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(client.timing.arrival)
                client.last_diagnostics = list(params.diagnostics)

        self.last_diagnostics: list[types.Diagnostic] = []

    @property
    def timing(self) -> TimingProtocol:
        protocol = self.protocol
        assert isinstance(protocol, TimingProtocol)
        return protocol

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server is not None else None

    def remaining(self, cap: float = REQUEST_TIMEOUT) -> float:
        left = self.deadline - time.perf_counter()
        if left <= 0:
            raise PhaseTimeout("the run's time ran out")
        return min(cap, left)

    async def request(self, method: str, params: Any, cap: float = REQUEST_TIMEOUT) -> Any:
        """Send a request; the result and its time in seconds (to the answer's arrival)."""
        self._ids += 1
        msg_id = f"bench-{self._ids}"
        started = time.perf_counter()
        future = self.protocol.send_request_async(method, params, msg_id=msg_id)
        limit = self.remaining(cap)
        # Not `wait_for`: cancelling the future would make pygls log an error at the late answer.
        done, _ = await asyncio.wait({future}, timeout=limit)
        if not done:
            raise PhaseTimeout(f"{method} took more than {limit:.0f} s")
        result = future.result()
        arrival = self.timing.response_arrivals.pop(msg_id, time.perf_counter())
        return result, arrival - started

    def expect_publish(self, uri: str, version: int | None) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.publish_waiters[(uri, version)] = future
        return future

    async def wait(
        self, future: asyncio.Future[float], what: str, cap: float = REQUEST_TIMEOUT
    ) -> float:
        try:
            return await asyncio.wait_for(future, self.remaining(cap))
        except TimeoutError as error:
            raise PhaseTimeout(f"timed out waiting for {what}") from error

    def open(self, review: Review, version: int = 1) -> None:
        self.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=review.uri, language_id="markdown", version=version, text=review.text
                )
            )
        )

    def close(self, review: Review) -> None:
        self.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=review.uri)
            )
        )

    def change(self, uri: str, version: int, range_: types.Range, text: str) -> None:
        self.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=range_, text=text)],
            )
        )


def capabilities() -> types.ClientCapabilities:
    """An editor's capabilities (VS Code's shape: UTF-16, push diagnostics, progress)."""
    markdown = [types.MarkupKind.Markdown, types.MarkupKind.PlainText]
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=["utf-16"]),
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            configuration=True,
            workspace_folders=True,
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(
                dynamic_registration=True
            ),
            did_change_configuration=types.DidChangeConfigurationClientCapabilities(
                dynamic_registration=True
            ),
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
            symbol=types.WorkspaceSymbolClientCapabilities(),
        ),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
            completion=types.CompletionClientCapabilities(
                completion_item=types.ClientCompletionItemOptions(
                    snippet_support=True,
                    documentation_format=markdown,
                    resolve_support=types.ClientCompletionItemResolveOptions(
                        properties=["documentation", "detail", "additionalTextEdits"]
                    ),
                ),
                completion_list=types.CompletionListCapabilities(
                    item_defaults=["commitCharacters", "editRange", "insertTextFormat", "data"]
                ),
            ),
            hover=types.HoverClientCapabilities(content_format=markdown),
            rename=types.RenameClientCapabilities(prepare_support=True),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
        ),
    )


def rename_params(target: tuple[Review, str, int, int]) -> types.RenameParams:
    """A rename of `target`'s tag (to `<tag> renamed`), asked where its review's tags use it."""
    review, tag, column, _ = target
    return types.RenameParams(
        text_document=types.TextDocumentIdentifier(uri=review.uri),
        position=pos(review.tags_line, column + 1),
        new_name=f"{tag} renamed",
    )


def cpu_seconds(pid: int | None) -> float:
    """The CPU time a process has used (user and system), in seconds."""
    if pid is None:
        return math.nan
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid: int | None) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB."""
    found: dict[str, float] = {}
    if pid is None:
        return found
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found


# -- one run ---------------------------------------------------------------------------------------


async def drain(stream: asyncio.StreamReader | None, into: deque[str]) -> None:
    if stream is None:
        return
    while line := await stream.readline():
        into.append(line.decode("utf-8", "replace").rstrip())


SERVER_TIME = re.compile(r"^letterhead: (\w+) in ([\d.]+) ms$")
CHECK_TIME = re.compile(r"^letterhead: .*: \d+ finding\(s\) in ([\d.]+) ms$")


async def run_once(plan: Plan, timeout: float, log: Callable[[str], None]) -> dict[str, Any]:
    """One fresh server on the plan's site; every figure measured before the time ran out."""
    warm_page_cache(plan.root, "letterhead.lsp.server")
    result: dict[str, Any] = {"notes": [], "load_before": os.getloadavg()[0]}
    client, spawned = await spawn(timeout)
    try:
        await measure(client, plan, spawned, result, log)
    except PhaseTimeout as error:
        result["notes"].append(f"stopped: {error}")
        log(f"    stopped: {error}")
    except Exception as error:  # a broken server must still leave a report
        result["notes"].append(f"failed: {type(error).__name__}: {error}")
        log(f"    failed: {type(error).__name__}: {error}")
        if client.stderr:
            log("    server stderr: " + " | ".join(list(client.stderr)[-5:]))
    finally:
        peak = memory(client.pid)
        if "VmHWM" in peak:
            result["peak_mib"] = peak["VmHWM"]
        await stop(client)
    result["load_after"] = os.getloadavg()[0]
    result["seconds"] = time.perf_counter() - spawned
    return result


async def run_restart(plan: Plan, timeout: float, log: Callable[[str], None]) -> dict[str, Any]:
    """A second server on the same site after `run_once`'s: it finds the persistent index the
    first one wrote, so it measures a restart."""
    warm_page_cache(plan.root, "letterhead.lsp.server")
    result: dict[str, Any] = {}
    client, spawned = await spawn(timeout)
    try:
        await start_session(client, plan, spawned, result, log, prefix="restart_")
        # A review opened while the server builds what first requests need (an editor
        # restoring its open files sends didOpen at once).
        await asyncio.sleep(EARLY_OPEN_SECONDS)
        if plan.samples:
            review = plan.samples[0]
            waiter = client.expect_publish(review.uri, 1)
            started = time.perf_counter()
            client.open(review)
            arrival = await client.wait(waiter, f"diagnostics of {review.relative}")
            result["restart_open_early_ms"] = (arrival - started) * 1000
        peak = memory(client.pid)
        if "VmHWM" in peak:
            result["restart_peak_mib"] = peak["VmHWM"]
        if plan.rename_top is not None:
            # As an editor applies a rename minutes into a session, not in the server's first
            # second: after the tables the server builds once it is quiet.
            await until_prepared(client, log)
            result["restart_prepared_rss_mib"] = memory(client.pid).get("VmRSS", math.nan)
            typing_in = plan.samples[1] if len(plan.samples) > 1 else None
            result.update(await apply_rename(client, plan.rename_top, log, typing_in))
    except Exception as error:  # a broken server must still leave a report
        log(f"    restart failed: {type(error).__name__}: {error}")
    finally:
        peak = memory(client.pid)
        if "VmHWM" in peak and "restart_peak_mib" not in result:
            result["restart_peak_mib"] = peak["VmHWM"]
        await stop(client)
    return result


async def until_prepared(client: BenchClient, log: Callable[[str], None]) -> None:
    """Wait until the server has built what it builds while the editor is quiet (serverStats'
    `sitesPrepared`). Each question is a message, after which it waits a second for quiet
    again: asked every `PREPARED_POLL_SECONDS`, at most `PREPARED_WAIT_SECONDS` in all."""
    deadline = time.monotonic() + PREPARED_WAIT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(PREPARED_POLL_SECONDS)
        stats, _ = await client.request("letterhead/serverStats", {})
        if getattr(stats, "sitesPrepared", 0) >= 1:
            return
    log(f"    the server's quiet work was not done after {PREPARED_WAIT_SECONDS:.0f} s")


async def apply_rename(
    client: BenchClient,
    target: tuple[Review, str, int, int],
    log: Callable[[str], None],
    typing_in: Review | None = None,
) -> dict[str, Any]:
    """The rename of `target`'s tag applied as VS Code applies a workspace edit: every file it
    names opened (its text from disk), then each changed by its edits (VS Code's bulk edit
    resolves every file's model before it applies any edit), all sent at once; then each
    file's diagnostics for its new version awaited. With `typing_in` (another review, open
    before the rename and left out of it), a keystroke in it `KEYSTROKE_INTO_BURST_SECONDS`
    after the last message was sent, and the time to its diagnostics."""
    review, tag = target[:2]
    waiter = client.expect_publish(review.uri, 1)
    client.open(review)
    await client.wait(waiter, f"diagnostics of {review.relative}")
    # The review the author goes on writing meanwhile, open before the rename.
    typed = typing_in if typing_in is not None and typing_in.uri != review.uri else None
    if typed is not None:
        waiter = client.expect_publish(typed.uri, 1)
        client.open(typed)
        await client.wait(waiter, f"diagnostics of {typed.relative}")
    answer, _ = await client.request(types.TEXT_DOCUMENT_RENAME, rename_params(target), cap=300)
    left_out = {r.uri for r in (review, typed) if r is not None}
    edits = [
        change
        for change in (answer.document_changes or ())
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri not in left_out
    ]
    cpu = cpu_seconds(client.pid)
    started = time.perf_counter()
    waiters = []
    for change in edits:  # VS Code's bulk edit opens every file before it edits any
        uri = change.text_document.uri
        text = Path(to_fs_path(uri) or "").read_text(encoding="utf-8")
        waiters.append((uri, client.expect_publish(uri, 2)))
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="markdown", version=1, text=text
                )
            )
        )
    for change in edits:
        last_first = sorted(
            change.edits,
            key=lambda e: (e.range.start.line, e.range.start.character),
            reverse=True,
        )
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=change.text_document.uri, version=2
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=e.range, text=e.new_text)
                    for e in last_first
                    if not isinstance(e, types.SnippetTextEdit)  # a rename sends none
                ],
            )
        )
    keystroke: dict[str, float] = {}
    if typed is not None:
        await asyncio.sleep(KEYSTROKE_INTO_BURST_SECONDS)
        line = typed.body_line()
        at = pos(line, utf16(typed.lines[line]))
        waiter = client.expect_publish(typed.uri, 2)
        sent = time.perf_counter()
        client.change(typed.uri, 2, types.Range(start=at, end=at), " ")
        arrival = await client.wait(waiter, f"diagnostics of {typed.relative}", cap=300)
        keystroke["applied_rename_keystroke_ms"] = (arrival - sent) * 1000
    last = started
    for uri, waiter in waiters:
        last = max(last, await client.wait(waiter, f"diagnostics of {uri}", cap=300))
    figures = {
        "applied_rename_s": last - started,
        "applied_rename_cpu_s": cpu_seconds(client.pid) - cpu,
        "applied_rename_files": len(edits),
        **keystroke,
    }
    quiet = await until_quiet(client.pid)
    if quiet is not None:
        figures["applied_rename_quiet_s"] = quiet[0] - started
        figures["applied_rename_quiet_cpu_s"] = quiet[1] - cpu
    figures["applied_rename_peak_mib"] = memory(client.pid).get("VmHWM", math.nan)
    log(
        f"    rename of {tag!r} applied to {len(edits)} files: {figures['applied_rename_s']:.1f} s, "
        f"{figures['applied_rename_cpu_s']:.1f} s of CPU, "
        f"{figures['applied_rename_peak_mib']:.0f} MiB; quiet after "
        f"{figures.get('applied_rename_quiet_s', math.nan):.1f} s, "
        f"{figures.get('applied_rename_quiet_cpu_s', math.nan):.1f} s of CPU"
    )
    return figures


async def until_quiet(pid: int | None) -> tuple[float, float] | None:
    """When the server went quiet (by `time.perf_counter`) and its CPU seconds then: the start
    of the first `QUIET_POLL_SECONDS` in which it used less than `QUIET_CPU_SHARE` of a core.
    A server's work can outlast the last diagnostics a client waits for (the site's checks
    once a burst of edits is over); None if it never went quiet within `QUIET_WAIT_SECONDS`."""
    deadline = time.perf_counter() + QUIET_WAIT_SECONDS
    when, used = time.perf_counter(), cpu_seconds(pid)
    if math.isnan(used):  # no such process, or no /proc to ask
        return None
    while when < deadline:
        await asyncio.sleep(QUIET_POLL_SECONDS)
        now, spent = time.perf_counter(), cpu_seconds(pid)
        if spent - used < QUIET_CPU_SHARE * (now - when):
            return when, used
        when, used = now, spent
    return None


async def spawn(timeout: float) -> tuple[BenchClient, float]:
    """A fresh server over stdio with a client whose phases must end within `timeout` seconds,
    its stderr kept (the last lines) for reports; and when it was spawned."""
    client = BenchClient()
    spawned = time.perf_counter()
    client.deadline = spawned + timeout
    await client.start_io(*SERVER_COMMAND)
    process = client._server
    client.stderr_task = asyncio.create_task(
        drain(process.stderr if process else None, client.stderr)
    )
    return client, spawned


async def stop(client: BenchClient) -> None:
    process = client._server
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.shutdown_async(None), 10)
        client.exit(None)
    if process is not None:
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()  # the server this run started, by its own handle
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 5)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.stop(), 5)
    if client.stderr_task is not None:
        client.stderr_task.cancel()


async def start_session(
    client: BenchClient,
    plan: Plan,
    spawned: float,
    result: dict[str, Any],
    log: Callable[[str], None],
    prefix: str = "",
) -> None:
    """Initialize, and wait for the index: spawn → initialize and spawn → index ready, and the
    memory then (keys prefixed with `prefix`, "restart_" for a restart)."""
    root_uri = plan.root.as_uri()
    params = types.InitializeParams(
        capabilities=capabilities(),
        client_info=types.ClientInfo(name="letterhead-bench", version="1"),
        workspace_folders=[types.WorkspaceFolder(uri=root_uri, name=plan.root.name)],
        root_uri=root_uri,
        initialization_options=SETTINGS,
    )
    before = time.perf_counter()
    _, seconds = await client.request(types.INITIALIZE, params, cap=60)
    result[prefix + "initialize_ms"] = (before + seconds - spawned) * 1000
    client.initialized(types.InitializedParams())

    # Index ready: the end of the indexing progress (or, without one, the "indexed" log line).
    async def indexed() -> tuple[float, str]:
        while True:
            for token, (when, message) in client.progress_end.items():
                if token.startswith("letterhead/index/"):
                    return when, message
            for when, message in client.logs:
                if message.startswith("letterhead: indexed"):
                    return when, message
            client.remaining(math.inf)
            await asyncio.sleep(0.005)

    when, message = await indexed()
    result[prefix + "index_ready_s"] = when - spawned
    result[prefix + "index_message"] = message
    indexed_memory = memory(client.pid)
    result[prefix + "rss_indexed_mib"] = indexed_memory.get("VmRSS", math.nan)
    result[prefix + "hwm_indexed_mib"] = indexed_memory.get("VmHWM", math.nan)
    log(f"    index ready in {when - spawned:.2f} s: {message}")


async def measure(
    client: BenchClient,
    plan: Plan,
    spawned: float,
    result: dict[str, Any],
    log: Callable[[str], None],
) -> None:
    await start_session(client, plan, spawned, result, log)
    await asyncio.sleep(0.2)  # let the server finish what follows the index (logs, gc freeze)

    # didOpen → first diagnostics, one review after another (each closed before the next).
    opened = []
    finding_counts = []
    for review in plan.samples:
        waiter = client.expect_publish(review.uri, 1)
        started = time.perf_counter()
        client.open(review)
        arrival = await client.wait(waiter, f"diagnostics of {review.relative}")
        opened.append(arrival - started)
        finding_counts.append(len(client.last_diagnostics))
        closed = client.expect_publish(review.uri, None)
        client.close(review)
        await client.wait(closed, f"the close of {review.relative}")
    if opened:
        result["open_first_ms"] = opened[0] * 1000
        result["open_p50_ms"] = statistics.median(opened) * 1000
        result["open_max_ms"] = max(opened) * 1000
        result["open_samples"] = len(opened)
        result["open_findings"] = sum(finding_counts)

    # The main review: typing a sentence into its body, one character per edit.
    main = plan.main
    version = 1
    waiter = client.expect_publish(main.uri, version)
    client.open(main, version)
    await client.wait(waiter, "the main review's diagnostics")
    result["main_review"] = main.relative
    result["main_findings"] = len(client.last_diagnostics)

    async def edit(start: types.Position, end: types.Position, text: str) -> float:
        """One change of the main review; the seconds until the diagnostics of its version."""
        nonlocal version
        version += 1
        waiter = client.expect_publish(main.uri, version)
        started = time.perf_counter()
        client.change(main.uri, version, types.Range(start, end), text)
        arrival = await client.wait(waiter, f"diagnostics of version {version}")
        return arrival - started

    line = main.body_line()
    column = utf16(main.lines[line])
    keystrokes: list[float] = []
    try:
        for character in TYPED[:200]:
            keystrokes.append(await edit(pos(line, column), pos(line, column), character))
            column += utf16(character)
    finally:  # what was measured is kept when time runs out
        if keystrokes:
            record_series(result, "keystroke", keystrokes)
            result["keystrokes"] = len(keystrokes)

    # Two unfinished links after the typed sentence, for link completion.
    links = ["Compare [this one](/content/", "And [that one](/content/2015/"]
    await edit(pos(line, column), pos(line, column), "".join("\n" + text for text in links))
    link_positions = [pos(line + 1 + i, utf16(text)) for i, text in enumerate(links)]

    document = types.TextDocumentIdentifier(uri=main.uri)
    tag_columns = main.tag_columns()
    tag_positions = [pos(main.tags_line, main.lines[main.tags_line].index("[") + 1)]
    for _, start in tag_columns:
        tag_positions.append(pos(main.tags_line, start))
        tag_positions.append(pos(main.tags_line, start + 2))

    async def series(
        method: str, make: Callable[[int], Any], count: int = 200, name: str | None = None
    ) -> list[Any]:
        """`count` requests one after another; their p50 and p99 recorded under `name`."""
        times: list[float] = []
        answers: list[Any] = []
        try:
            for number in range(count):
                answer, seconds = await client.request(method, make(number))
                times.append(seconds)
                answers.append(answer)
        finally:  # what was measured is kept when time runs out
            if name is not None and times:
                record(name, times)
        return answers

    def record(name: str, times: list[float]) -> None:
        record_series(result, name, times)

    def items(answer: Any) -> int:
        if answer is None:
            return 0
        return len(answer.items) if hasattr(answer, "items") else len(answer)

    async def completions(positions: list[types.Position], name: str) -> list[Any]:
        """200 completions at `positions` in turn, recorded under `name`; their answers."""
        answers = await series(
            types.TEXT_DOCUMENT_COMPLETION,
            lambda n: types.CompletionParams(
                text_document=document, position=positions[n % len(positions)]
            ),
            name=name,
        )
        result[f"{name}_items"] = statistics.mean(items(a) for a in answers)
        return answers

    shown = await completions(tag_positions, "completion_tags") if tag_columns else []
    shown += await completions(link_positions, "completion_link")
    # The documentation of the item an editor shows (the first, or one the author moves to
    # among the first ten), asked for as VS Code asks when the list shows it.
    documented = [a.items[n % min(10, len(a.items))] for n, a in enumerate(shown) if a and a.items]
    if documented:
        await series(
            types.COMPLETION_ITEM_RESOLVE,
            lambda n: documented[n % len(documented)],
            name="completion_resolve",
        )
    if main.image_line >= 0:
        # In the `image:` value: nothing typed yet, its first letter, and further in.
        value_at = len("image: ")
        await completions(
            [pos(main.image_line, value_at + n) for n in (0, 1, 4)], "completion_image"
        )

    # Typing a front matter value: the main review's addressee cleared, then the addressees of
    # other reviews typed in a letter at a time, each edit's diagnostics awaited, then a
    # completion at the end of the value; the review's own addressee put back afterwards.
    written = main.addressee()
    if written is not None:
        row, value_at = main.addressee_line, len(ADDRESSEE)
        names = [n for r in plan.samples if r is not main and (n := r.addressee())] or [written]

        async def set_value(old: str, new: str) -> None:
            await edit(pos(row, value_at), pos(row, value_at + utf16(old)), new)

        typing: list[float] = []
        value = written
        try:
            for name in itertools.cycle(names):
                await set_value(value, "")
                value = ""
                for character in name:
                    if len(typing) >= TYPED_VALUES:
                        break
                    await set_value(value, value + character)
                    value += character
                    _, seconds = await client.request(
                        types.TEXT_DOCUMENT_COMPLETION,
                        types.CompletionParams(
                            text_document=document, position=pos(row, value_at + utf16(value))
                        ),
                    )
                    typing.append(seconds)
                if len(typing) >= TYPED_VALUES:
                    break
        finally:  # what was measured is kept when time runs out
            if typing:
                record("completion_value", typing)
        await set_value(value, written)

    async def hovers(positions: list[types.Position], name: str) -> None:
        """200 hovers at `positions` in turn, recorded under `name`, and how many answered."""
        answers = await series(
            types.TEXT_DOCUMENT_HOVER,
            lambda n: types.HoverParams(
                text_document=document, position=positions[n % len(positions)]
            ),
            name=name,
        )
        result[f"{name}_answered"] = sum(a is not None for a in answers)

    salutation = main.lines[main.salutation_line]
    salutation_position = pos(
        main.salutation_line, utf16(salutation[: salutation.index("Dear") + 6])
    )
    await hovers([salutation_position], "hover_salutation")
    if tag_columns:
        await hovers([pos(main.tags_line, start + 1) for _, start in tag_columns], "hover_tag")
    # The main review's links to other reviews (below its body line, two lines further down
    # since the unfinished links were put in): each hover reads the linked review's excerpt.
    hover_links = [
        pos(row + (len(links) if row > line else 0), at) for row, at in main.internal_links()
    ]
    if hover_links:
        await hovers(hover_links, "hover_link")

    answers = await series(
        types.WORKSPACE_SYMBOL,
        lambda n: types.WorkspaceSymbolParams(query=plan.queries[n % len(plan.queries)]),
        count=len(plan.queries),
        name="symbols",
    )
    result["symbols_items"] = statistics.mean(items(a) for a in answers)
    log(
        f"    keystroke p99 {result['keystroke_p99_ms']:.1f} ms, completion p99 "
        f"{result.get('completion_tags_p99_ms', math.nan):.1f}/{result['completion_link_p99_ms']:.1f} ms, "
        f"symbols p99 {result['symbols_p99_ms']:.1f} ms"
    )

    # References to the main review (the reviews linking to it): the first request (which may
    # build the index's backlinks, unless the server was quiet long enough to build them),
    # then one right after each of some edits of the review: the backlinks must follow edits.
    references = types.ReferenceParams(
        text_document=document,
        position=pos(line, 2),
        context=types.ReferenceContext(include_declaration=False),
    )
    _, seconds = await client.request(types.TEXT_DOCUMENT_REFERENCES, references)
    result["references_first_ms"] = seconds * 1000
    after_edit: list[float] = []
    try:
        for _ in range(REFERENCE_EDITS):
            await edit(pos(line, 0), pos(line, 0), "A")
            _, seconds = await client.request(types.TEXT_DOCUMENT_REFERENCES, references)
            after_edit.append(seconds)
    finally:  # what was measured is kept when time runs out
        if after_edit:
            record("references_edited", after_edit)

    # New reviews: each puts a review first of the newest-first order the link completion and
    # symbol search answer from (and its close takes it out again).
    today = dt.date.today().isoformat()
    new_links: list[float] = []
    new_symbols: list[float] = []
    try:
        for number in range(NEW_REVIEWS):
            relative = f"_posts/{today}-a-new-letter-{number}.md"
            lines = [
                "---",
                f"title: A New Letter {number}",
                "layout: review",
                "tags: [letters]",
                "---",
                "_**Dear Reader,**_",
                "",
                "See [the other one](/content/",
            ]
            new = Review(plan.root / relative, relative, "\n".join(lines), lines)
            waiter = client.expect_publish(new.uri, 1)
            client.open(new)
            await client.wait(waiter, f"diagnostics of {relative}")
            _, seconds = await client.request(
                types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=new.uri),
                    position=pos(len(lines) - 1, utf16(lines[-1])),
                ),
            )
            new_links.append(seconds)
            _, seconds = await client.request(
                types.WORKSPACE_SYMBOL,
                types.WorkspaceSymbolParams(query=plan.queries[number % len(plan.queries)]),
            )
            new_symbols.append(seconds)
            closed = client.expect_publish(new.uri, None)
            client.close(new)
            await client.wait(closed, f"the close of {relative}")
    finally:  # what was measured is kept when time runs out
        if new_links:
            record("new_link", new_links)
        if new_symbols:
            record("new_symbols", new_symbols)

    # Renames: time to the WorkspaceEdit, never applied.
    opened_for_rename: set[str] = {main.uri}

    async def rename(target: tuple[Review, str, int, int], repeats: int) -> tuple[list[float], int]:
        review = target[0]
        if review.uri not in opened_for_rename:
            waiter = client.expect_publish(review.uri, 1)
            client.open(review)
            await client.wait(waiter, f"diagnostics of {review.relative}")
            opened_for_rename.add(review.uri)
        times, files = [], 0
        for _ in range(repeats):
            answer, seconds = await client.request(
                types.TEXT_DOCUMENT_RENAME, rename_params(target), cap=300
            )
            times.append(seconds)
            if answer is not None:
                files = len(answer.document_changes or ()) or len(answer.changes or {})
        return times, files

    if plan.rename is not None:
        times, files = await rename(plan.rename, RENAME_REPEATS)
        result["rename_ms"] = statistics.median(times) * 1000
        result["rename_all_ms"] = [t * 1000 for t in times]
        result["rename_tag"] = plan.rename[1]
        result["rename_reviews"] = plan.rename[3]
        result["rename_files"] = files
        log(
            f"    rename {plan.rename[1]!r} ({plan.rename[3]} reviews): {result['rename_ms']:.0f} ms"
        )
    if plan.rename_top is not None:
        times, files = await rename(plan.rename_top, 1)
        result["rename_top_ms"] = times[0] * 1000
        result["rename_top_tag"] = plan.rename_top[1]
        result["rename_top_reviews"] = plan.rename_top[3]
        result["rename_top_files"] = files
        log(
            f"    rename {plan.rename_top[1]!r} ({plan.rename_top[3]} reviews): "
            f"{result['rename_top_ms']:.0f} ms"
        )
        # The references to that tag: every review using it read, as by the rename.
        review, tag, column, _ = plan.rename_top
        answer, seconds = await client.request(
            types.TEXT_DOCUMENT_REFERENCES,
            types.ReferenceParams(
                text_document=types.TextDocumentIdentifier(uri=review.uri),
                position=pos(review.tags_line, column + 1),
                context=types.ReferenceContext(include_declaration=True),
            ),
            cap=300,
        )
        result["references_tag_top_ms"] = seconds * 1000
        result["references_tag_top_found"] = len(answer or ())
        log(f"    references to {tag!r}: {len(answer or ())} in {seconds * 1000:.0f} ms")

    # The server's own time per handler, from its log with the trace set to verbose.
    client.settings = VERBOSE_SETTINGS
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"letterhead": VERBOSE_SETTINGS})
    )
    await asyncio.sleep(0.1)

    def server_times(since: int, pattern: re.Pattern[str], name: str | None = None) -> list[float]:
        found = []
        for _, message in client.logs[since:]:
            match = pattern.match(message)
            if match and (name is None or match.group(1) == name):
                found.append(float(match.group(match.lastindex or 1)))
        return found

    mark = len(client.logs)
    for character in TYPED[:50]:
        await edit(pos(line, column), pos(line, column), character)
        column += utf16(character)
    if found := server_times(mark, CHECK_TIME):
        result["server_keystroke_p50_ms"] = statistics.median(found)

    async def server_series(key: str, name: str, method: str, make: Callable[[int], Any]) -> None:
        mark = len(client.logs)
        await series(method, make, count=50)
        await asyncio.sleep(0.05)
        if found := server_times(mark, SERVER_TIME, name):
            result[key] = statistics.median(found)

    if tag_columns:
        await server_series(
            "server_completion_tags_p50_ms",
            "completion",
            types.TEXT_DOCUMENT_COMPLETION,
            lambda n: types.CompletionParams(
                text_document=document, position=tag_positions[n % len(tag_positions)]
            ),
        )
    await server_series(
        "server_completion_link_p50_ms",
        "completion",
        types.TEXT_DOCUMENT_COMPLETION,
        lambda n: types.CompletionParams(
            text_document=document, position=link_positions[n % len(link_positions)]
        ),
    )
    await server_series(
        "server_hover_p50_ms",
        "hover",
        types.TEXT_DOCUMENT_HOVER,
        lambda n: types.HoverParams(text_document=document, position=salutation_position),
    )
    await server_series(
        "server_symbols_p50_ms",
        "workspace_symbols",
        types.WORKSPACE_SYMBOL,
        lambda n: types.WorkspaceSymbolParams(query=plan.queries[n % len(plan.queries)]),
    )
    if plan.rename is not None:
        mark = len(client.logs)
        await rename(plan.rename, 1)
        await asyncio.sleep(0.05)
        if found := server_times(mark, SERVER_TIME, "rename"):
            result["server_rename_ms"] = found[-1]


# -- all sizes -------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    revision = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        repo = HERE.parent
        revision = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "diff", "--quiet", "HEAD", "--", "server"])
        if dirty.returncode == 1:
            revision += " with uncommitted changes under server/"
    return {
        "revision": revision,
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": dt.date.today().isoformat(),
    }


def run_benchmark(
    sizes: Sequence[int],
    runs: int,
    seed: int = 1,
    timeout: float = 600.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every size, `runs` fresh servers each; the raw figures of every run."""
    report: dict[str, Any] = {"machine": machine(), "runs": runs, "seed": seed, "sizes": {}}
    for size in sizes:
        log(f"{size} reviews: preparing the site")
        plan = make_plan(size, seed)
        per_run = []
        for number in range(runs):
            log(f"  run {number + 1} of {runs}")
            # A persistent index of this run's own: the first server indexes cold, the second
            # restarts with what the first wrote.
            os.environ["LETTERHEAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="letterhead-bench-")
            try:
                figures = asyncio.run(run_once(plan, timeout, log))
                figures.update(asyncio.run(run_restart(plan, timeout, log)))
            finally:
                shutil.rmtree(os.environ.pop("LETTERHEAD_CACHE_DIR"), ignore_errors=True)
            per_run.append(figures)
        report["sizes"][str(size)] = {
            "plan": {"main": plan.main.relative, **plan.info},
            "runs": per_run,
            # In the same hour as the runs: how often the machine itself stalls.
            "stalls": measure_stalls(),
        }
    return report


def values(report: dict[str, Any], size: str, key: str) -> list[float]:
    found = []
    for run in report["sizes"][size]["runs"]:
        value = run.get(key)
        if isinstance(value, (int, float)) and not math.isnan(value):
            found.append(float(value))
    return found


def figure(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f}"
    if unit == "":
        return f"{value:,.0f}"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def cell(report: dict[str, Any], size: str, metric: Metric) -> str:
    found = values(report, size, metric.key)
    if not found:
        return "—"
    middle = figure(statistics.median(found), metric.unit)
    if len(found) == 1 or metric.unit == "":
        return middle
    return f"{middle} ({figure(min(found), metric.unit)}–{figure(max(found), metric.unit)})"


def verdict(value: float | None, budget: float | None) -> str:
    if value is None or budget is None:
        return ""
    if value <= budget:
        return "met"
    ratio = value / budget
    return f"missed by ×{ratio:.2f}" if ratio < 2 else f"missed by ×{ratio:.1f}"


def budget_size(report: dict[str, Any]) -> str | None:
    """The size the SPEC's budgets speak of (20,000), else the largest measured."""
    sizes = list(report["sizes"])
    if not sizes:
        return None
    return "20000" if "20000" in sizes else max(sizes, key=int)


def table_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    sizes = list(report["sizes"])
    at = budget_size(report)
    header = [
        "figure",
        *(f"{int(s):,} reviews" for s in sizes),
        "budget (SPEC §9)",
        f"at {int(at):,}" if at else "",
    ]
    rows = []
    for metric in METRICS:
        cells = [cell(report, size, metric) for size in sizes]
        if all(c == "—" for c in cells):
            continue
        unit = f" ({metric.unit})" if metric.unit else ""
        found = values(report, at, metric.key) if at else []
        rows.append(
            [
                metric.label + unit,
                *cells,
                metric.budget_label,
                verdict(statistics.median(found) if found else None, metric.budget),
            ]
        )
    return header, rows


def largest_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The largest request of each budgeted series, by size (median and min–max over runs),
    with which request of its series it was in each run."""
    sizes = list(report["sizes"])
    header = ["series", *(f"{int(s):,} reviews" for s in sizes), "which request, by run"]
    at = budget_size(report)
    rows = []
    for metric in LARGEST:
        cells = [cell(report, size, metric) for size in sizes]
        if all(c == "—" for c in cells):
            continue
        which = ""
        if at is not None:
            positions = values(report, at, metric.key.removesuffix("_ms") + "_at")
            if positions:
                listed = ", ".join(f"{int(p):,}" for p in positions)
                which = f"{listed} (at {int(at):,})"
        rows.append([f"{metric.label} (ms)", *cells, which])
    return header, rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]], right: Sequence[int] = ()) -> str:
    """A Markdown table; the columns in `right` (by default every one but the first) are
    aligned right."""
    right = right or range(1, len(header))
    escape = lambda text: text.replace("|", "\\|")  # noqa: E731
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def notes(report: dict[str, Any]) -> list[str]:
    found = []
    for size, data in report["sizes"].items():
        for number, run in enumerate(data["runs"], 1):
            for note in run.get("notes", []):
                found.append(f"{int(size):,} reviews, run {number}: {note}")
        first = data["runs"][0] if data["runs"] else {}
        if "rename_tag" in first:
            found.append(
                f"{int(size):,} reviews: renamed tag `{first['rename_tag']}` "
                f"({first['rename_reviews']:,} reviews, {first.get('rename_files', 0):,} files edited); "
                f"most used `{first.get('rename_top_tag', '?')}` ({first.get('rename_top_reviews', 0):,} reviews)"
            )
        if "stalls" in data:
            found.append(f"{int(size):,} reviews, after the runs: {stalls_line(data['stalls'])}")
    return found


def stalls_line(stalls: dict[str, float]) -> str:
    """`run.STALLS`'s figures in words: how often this machine stalls a piece of work that
    takes as long as a request, with no letterhead code running."""
    return (
        f"the machine's stalls (`run.STALLS`, no letterhead code: 1,000 lookups in a heap of "
        f"{stalls['stall_heap_mib']:.0f} MiB, timed again and again for "
        f"{stalls['stall_seconds']:.0f} s): {int(stalls['stalled']):,} of "
        f"{int(stalls['stall_slices']):,} slices took over {STALL_FACTOR}× their median of "
        f"{stalls['stall_median_ms']:.2f} ms, the largest {stalls['stall_max_ms']:.1f} ms; "
        "a request that meets one takes that much longer, and a p99 of 200 requests is their "
        "third largest"
    )


METHOD = """\
- Each server starts on a warm page cache (see Sites above). Each run has a cache folder of
  its own, so its first server starts with no generated code kept either.
- One fresh `python -m letterhead serve` per run, spawned by a pygls `LanguageClient` over
  stdio; the client offers what VS Code offers (UTF-16 positions, push diagnostics with
  versions, `$/progress`, `workspace/configuration`, a completion list's item defaults, an
  item's documentation asked for when the item is shown) and sets
  `letterhead.diagnostics.debounceMs` to 0 (initialization options and configuration).
- Times are taken in the client: from just before a message is written to the moment the
  answer's (or the publish's) JSON reaches the client, before pygls turns it into lsprotocol
  objects (a cost of this Python client, not of an editor).
- Index ready: the end of the server's indexing `$/progress`.
- didOpen: up to 20 reviews with findings (from `letterhead check`), opened one at a time from
  0.2 s after the index is ready, each closed before the next; "first" is the first didOpen of
  the session. The restart's server gets one more, 0.08 s after its index is ready, while it
  builds what first requests need (an editor restoring its open files sends didOpen at once).
- Keystroke: 200 one-character edits typing a sentence at the end of a body line; each edit
  waits for the diagnostics of its version before the next.
- Completion: 200 requests at positions in the `tags: [...]` flow list (after `[`, at and
  inside each tag), 200 after `[this one](/content/` and `[that one](/content/2015/`, and 200
  in the `image:` value (nothing typed, after its first letter, after its fourth); and 200
  while typing front matter values: the review's `addressee:` cleared, then the addressees of
  the didOpen reviews typed into it a letter at a time, each letter an edit whose diagnostics
  are awaited, then a completion at the end of the value (the review's own is put back after).
  An item's documentation, as an editor asks for it when it shows the item: 200
  `completionItem/resolve` of the first ten items of the tag and link answers in turn.
  Hover: 200 on the salutation's addressee, 200 on the tags, 200 on the review's links to
  other reviews (a reference link's text, its definition's URL; each hover reads the linked
  review's excerpt from its file). Workspace symbols: 200 queries
  drawn from the titles' words (whole words, prefixes, single letters, two words, near misses).
- References: the references to the main review (the reviews that link to it), once, then 20
  times a letter typed at the start of its body line and (its diagnostics in) the references
  again.
- A new review: 20 times, a review dated today and not on disk is opened (the newest review
  of the site while it is open: the lists the answers come from change their order), then
  the time of its first completion after `](/content/` and of one symbol search; it is closed
  before the next (which takes it out of the order again). p99 of 20 is the largest.
- Rename: the tag whose use is closest to a tenth of the reviews (2,000 at 20,000), three times
  (median), then the most used tag once; time to the WorkspaceEdit, which is never applied.
- Memory: `VmRSS` of the server process once indexed, `VmHWM` (peak resident) at the end.
- The restart's server, once its quiet work is done (`sitesPrepared` in `letterhead/serverStats`,
  asked every 3 s: an editor applies a rename minutes into a session, with every table built),
  gets the most used tag's rename applied as VS Code applies a workspace edit: every file it
  names opened with its text from disk, then each changed by its edits (VS Code opens every
  file of a workspace edit before it edits any), all sent at once; the time to the last
  file's diagnostics, the server's CPU meanwhile; the time and CPU until the server is quiet
  again (under 5% of a core over half a second: its checks of the whole site after a burst of
  edits can outlast the last diagnostics a client waits for); its peak memory then. Another
  review, opened before the rename and left out of it, gets a keystroke 1 s after the last
  message was sent (the author writing on meanwhile): the time to its diagnostics.
- The machine's stalls, after each size's runs (`run.STALLS`, in a fresh process, no letterhead
  code): the same thousand lookups in a heap about the server's size, timed for 10 s; the
  slices over four times their median are counted (a stall the guest sees no cause for: no
  page fault, no steal time).
- "server:" rows: a last pass with the trace set to verbose, reading the server's own timing of
  each handler from its log (the rest of a request's time is pygls' serialisation and the pipe).
- p99 is the nearest rank (of 200 requests the 198th, their third largest). The largest
  request of each budgeted series is shown apart, with which request of its series it was: a
  first request's one-time work lands there. Each run is bounded by `--timeout`; a phase that
  runs out of time ends the run, keeping what was measured.
"""


def machine_line(info: dict[str, str]) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['system']}, Python {info['python']}; "
        f"{info['date']}; letterhead at {info.get('revision', 'unknown')}"
    )


def load_line(report: dict[str, Any], keys: Sequence[str] = ("load_before", "load_after")) -> str:
    """The 1-minute load average around the runs (other work on the machine skews figures)."""
    found = [
        float(run[key])
        for data in report["sizes"].values()
        for run in data["runs"]
        for key in keys
        if key in run
    ]
    if not found:
        return ""
    return (
        f"1-minute load average at the start and end of each run (the benchmark's own "
        f"processes included): {min(found):.2f}–{max(found):.2f}."
    )


def markdown(report: dict[str, Any], heading: str = "##") -> str:
    """The language server section: machine, table (median and min–max over runs), notes."""
    header, rows = table_rows(report)
    parts = [
        f"{heading} Language server (`bench/lsp.py`)",
        "",
        f"Machine: {machine_line(report['machine'])}. {report['runs']} run(s) per size: the "
        f"median, and min–max over runs when there are several. {load_line(report)}",
        "",
        markdown_table(header, rows),
        "",
    ]
    header, rows = largest_rows(report)
    if rows:
        parts += [
            "The largest single request of each series held to a budget (its p99 above is the "
            "third largest of 200, the largest of 20): work a first request does once shows "
            "here, and in no p99 of 200.",
            "",
            markdown_table(header, rows),
            "",
        ]
    if extra := notes(report):
        parts += [*(f"- {note}" for note in extra), ""]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 20000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per run (default 600)"
    )
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown to this file")
    parser.add_argument("--json", type=Path, help="write every run's raw figures to this file")
    arguments = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    compile_engine()
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}", flush=True)
    report = run_benchmark(
        arguments.sizes,
        arguments.runs,
        arguments.seed,
        arguments.timeout,
        lambda m: print(m, flush=True),
    )
    header, rows = table_rows(report)
    print()
    print(text_table(header, rows))
    header, rows = largest_rows(report)
    if rows:
        print()
        print(text_table(header, rows))
    for note in notes(report):
        print("- " + note)
    if arguments.json:
        arguments.json.write_text(json.dumps(report, indent=1))
    if arguments.markdown:
        arguments.markdown.write_text(
            "# letterhead: language server benchmark\n\n"
            + markdown(report)
            + "\n### Method\n\n"
            + METHOD
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
