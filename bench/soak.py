"""A long editing session against the real server: memory growth, latency drift, lost edits.

    python bench/soak.py [--ops 100000] [--site-size 10000] [--seed 1] [--window 10000]
                         [--json FILE] [--markdown FILE]

One `python -m letterhead serve` is spawned over stdio (with `bench/lsp.py`'s client) on a
generated site (`bench/run.py`'s `ensure_site`, cached under bench/out/), and once its index is
ready it is given `--ops` operations, one after another, drawn from a seeded random mix:

- typing and deleting characters in a body line of one of five open reviews (letters, spaces,
  punctuation, an accented letter and an emoji, so UTF-16 columns are exercised), and in its
  `tags: [...]` list (a new tag typed, then taken out again, so the site's taxonomy changes);
  each edit is a `didChange` and waits for the diagnostics of its version;
- completion (in the tags list, after a link's `](/`), hover (a tag, the salutation),
  documentSymbol, workspace/symbol (words of the titles), definition (a `post_url` tag or a
  link);
- didOpen of another review of the site (waiting for its diagnostics), and didClose of one
  (waiting for the empty publish), keeping at most eight of them open.

The typing grows a scratch area of a line to a bound and then shrinks it, so the documents keep
their size and memory growth is the server's own. At the end the server's copy of every open
document (the custom `letterhead/documentText` request) is compared with the client's.

Measured: the server's VmRSS once indexed, after every window of operations, and at the end
(growth must stay within 10%); VmHWM; each operation's time (to the answer's JSON reaching the
client, or to the publish of the edit's diagnostics), as p50 and p99 per kind for every window,
the first and last windows side by side (drift). The process exits 1 if memory grew more than
10%, an edit was lost, or an operation timed out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types

from letterhead.lsp.idle import IDLE_SECONDS

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from lsp import (  # noqa: E402
    BenchClient,
    PhaseTimeout,
    Plan,
    Review,
    machine,
    memory,
    percentile,
    pos,
    spawn,
    start_session,
    stop,
    utf16,
)
from run import ensure_site  # noqa: E402

WORKING_SET = 5  # reviews open and edited all session long
MAX_EXTRA_OPEN = 8  # other reviews opened and closed along the way
BODY_SCRATCH = 40  # characters typed into a body line before they are deleted again
TAG_SCRATCH = 14  # characters typed into the tags list
BODY_ALPHABET = "abcdefghijklmnopqrstuvwxyz     ,.é🎬"
TAG_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
OP_TIMEOUT = 30.0  # seconds an operation may take before it counts as timed out
MEMORY_GROWTH_LIMIT = 0.10
# Memory is read with the server at rest: quiet longer than it waits before giving freed pages back.
QUIET_SECONDS = IDLE_SECONDS + 1.0

# Operation kinds and their weights in the mix.
MIX: dict[str, int] = {
    "type-body": 24,
    "delete-body": 16,
    "type-tags": 8,
    "delete-tags": 6,
    "completion": 12,
    "hover": 10,
    "documentSymbol": 7,
    "workspace/symbol": 6,
    "definition": 6,
    "didOpen": 3,
    "didClose": 2,
}


@dataclass
class Scratch:
    """A region of one line the session types into: `line[start:start + len(text)]`."""

    line: int
    start: int  # code-point column where the region begins
    text: str = ""
    growing: bool = True
    limit: int = BODY_SCRATCH


@dataclass
class Working:
    """An open review as the client holds it."""

    review: Review
    lines: list[str]
    version: int = 1
    body: Scratch = field(default_factory=lambda: Scratch(0, 0))
    tags: Scratch | None = None
    link: types.Position | None = None  # where a definition is asked

    @property
    def uri(self) -> str:
        return self.review.uri

    def text(self) -> str:
        return "\n".join(self.lines)


def working(review: Review) -> Working:
    lines = list(review.lines)
    body_line = review.body_line()
    item = Working(review, lines, body=Scratch(body_line, len(lines[body_line])))
    if review.tags_line >= 0:
        tags_line = lines[review.tags_line]
        item.tags = Scratch(review.tags_line, tags_line.rindex("]"), limit=TAG_SCRATCH)
    for number, line in enumerate(lines):
        for needle, offset in (("{% post_url ", 13), ("](/", 3), ("][", 2)):
            column = line.find(needle)
            if column >= 0 and number > review.salutation_line:
                item.link = pos(number, utf16(line[: column + offset]))
                break
        if item.link is not None:
            break
    return item


def edit(
    item: Working, scratch: Scratch, rng: random.Random, alphabet: str
) -> tuple[types.Range, str]:
    """Type or delete one character inside `scratch`, updating the client's copy; the range
    replaced (UTF-16 columns) and the text put there."""
    line = item.lines[scratch.line]
    if scratch.growing and len(scratch.text) >= scratch.limit:
        scratch.growing = False
    elif not scratch.growing and not scratch.text:
        scratch.growing = True
    if scratch.growing:
        if scratch is item.tags and not scratch.text:
            character, at = ", ", 0  # a new tag starts with its separator
        else:
            character = rng.choice(alphabet)
            at = rng.randint(0, len(scratch.text))
        where = scratch.start + at
        start = end = pos(scratch.line, utf16(line[:where]))
        scratch.text = scratch.text[:at] + character + scratch.text[at:]
        item.lines[scratch.line] = line[:where] + character + line[where:]
    else:
        at = rng.randrange(len(scratch.text))
        where = scratch.start + at
        character = ""
        start = pos(scratch.line, utf16(line[:where]))
        end = pos(scratch.line, utf16(line[: where + 1]))
        scratch.text = scratch.text[:at] + scratch.text[at + 1 :]
        item.lines[scratch.line] = line[:where] + line[where + 1 :]
    return types.Range(start=start, end=end), character


# -- the session -------------------------------------------------------------------------------


class Session:
    def __init__(self, client: BenchClient, root: Path, seed: int) -> None:
        self.client = client
        self.root = root
        self.rng = random.Random(seed)
        self.times: dict[str, list[float]] = {}
        self.timeouts: list[str] = []
        posts = sorted(p.relative_to(root).as_posix() for p in (root / "_posts").glob("*.md"))
        self.pool = posts
        self.working: list[Working] = []
        self.extra: dict[str, Working] = {}
        words = sorted(
            {
                word
                for name in posts
                for word in Path(name).stem[11:].split("-")
                if len(word) >= 3 and word not in {"the", "and", "for", "with"}
            }
        )
        self.queries = [w if n % 3 else w[:3] for n, w in enumerate(words)]

    def note(self, kind: str, seconds: float) -> None:
        self.times.setdefault(kind, []).append(seconds)

    async def timed_request(self, kind: str, method: str, params: Any) -> Any:
        try:
            answer, seconds = await self.client.request(method, params, cap=OP_TIMEOUT)
        except PhaseTimeout as error:
            self.timeouts.append(f"{kind}: {error}")
            return None
        self.note(kind, seconds)
        return answer

    async def publish(
        self, kind: str, uri: str, version: int | None, send: Callable[[], None]
    ) -> None:
        waiter = self.client.expect_publish(uri, version)
        started = time.perf_counter()
        send()
        try:
            arrival = await self.client.wait(waiter, f"{kind} of {uri}", cap=OP_TIMEOUT)
        except PhaseTimeout as error:
            self.client.publish_waiters.pop((uri, version), None)
            self.timeouts.append(f"{kind}: {error}")
            return
        self.note(kind, arrival - started)

    async def open(self, relative: str, kind: str) -> Working:
        item = working(Review.read(self.root, relative))
        await self.publish(kind, item.uri, 1, lambda: self.client.open(item.review))
        return item

    async def start(self) -> None:
        candidates = [r for r in self.pool if Review.read(self.root, r).tags_line >= 0]
        for relative in self.rng.sample(candidates[:2000], WORKING_SET):
            self.working.append(await self.open(relative, "didOpen"))

    async def step(self) -> None:
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        item = self.rng.choice(self.working)
        document = types.TextDocumentIdentifier(uri=item.uri)
        if kind in ("type-body", "delete-body", "type-tags", "delete-tags"):
            scratch = item.body if kind.endswith("body") else item.tags
            if scratch is None:
                scratch = item.body
            alphabet = BODY_ALPHABET if scratch is item.body else TAG_ALPHABET
            if kind.startswith("delete") and scratch.text:
                scratch.growing = False
            elif kind.startswith("type") and len(scratch.text) < scratch.limit:
                scratch.growing = True
            range_, new_text = edit(item, scratch, self.rng, alphabet)
            item.version += 1
            version = item.version
            await self.publish(
                kind,
                item.uri,
                version,
                lambda: self.client.change(item.uri, version, range_, new_text),
            )
        elif kind == "completion":
            if item.tags is not None and self.rng.random() < 0.6:
                line = item.lines[item.tags.line]
                at = pos(item.tags.line, utf16(line[: item.tags.start + len(item.tags.text)]))
            else:
                at = item.link or pos(item.body.line, 0)
            await self.timed_request(
                kind,
                types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionParams(text_document=document, position=at),
            )
        elif kind == "hover":
            review = item.review
            if item.tags is not None and self.rng.random() < 0.5:
                at = pos(item.tags.line, item.lines[item.tags.line].index("[") + 2)
            else:
                at = pos(max(review.salutation_line, 0), 8)
            await self.timed_request(
                kind,
                types.TEXT_DOCUMENT_HOVER,
                types.HoverParams(text_document=document, position=at),
            )
        elif kind == "documentSymbol":
            await self.timed_request(
                kind,
                types.TEXT_DOCUMENT_DOCUMENT_SYMBOL,
                types.DocumentSymbolParams(text_document=document),
            )
        elif kind == "workspace/symbol":
            await self.timed_request(
                kind,
                types.WORKSPACE_SYMBOL,
                types.WorkspaceSymbolParams(query=self.rng.choice(self.queries)),
            )
        elif kind == "definition":
            at = item.link or pos(0, 0)
            await self.timed_request(
                kind,
                types.TEXT_DOCUMENT_DEFINITION,
                types.DefinitionParams(text_document=document, position=at),
            )
        elif kind == "didOpen" or (kind == "didClose" and not self.extra):
            if len(self.extra) >= MAX_EXTRA_OPEN:
                await self.close_one()
                return
            taken = {w.review.relative for w in self.working} | set(self.extra)
            relative = self.rng.choice(self.pool)
            if relative not in taken:
                self.extra[relative] = await self.open(relative, "didOpen")
        else:
            await self.close_one()

    async def close_one(self) -> None:
        relative = self.rng.choice(sorted(self.extra))
        item = self.extra.pop(relative)
        await self.publish("didClose", item.uri, None, lambda: self.client.close(item.review))

    async def lost_edits(self) -> list[str]:
        """The open documents whose text on the server differs from the client's."""
        lost = []
        for item in [*self.working, *self.extra.values()]:
            answer, _ = await self.client.request(
                "letterhead/documentText", {"uri": item.uri}, cap=OP_TIMEOUT
            )
            text = getattr(answer, "text", None)
            if text is None and isinstance(answer, dict):
                text = answer.get("text")
            if text != item.text():
                lost.append(item.review.relative)
        return lost


def summary(times: list[float]) -> dict[str, float]:
    return {
        "count": len(times),
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": percentile(times, 0.99) * 1000,
    }


async def soak(
    root: Path, ops: int, window: int, seed: int, log: Callable[[str], None]
) -> dict[str, Any]:
    client, spawned = await spawn(24 * 3600)
    result: dict[str, Any] = {"ops": ops, "window": window, "seed": seed, "windows": []}
    try:
        # `start_session` reads only the plan's root; the rest of a `Plan` is `lsp.py`'s own.
        plan = Plan(0, root, None, [], None, None, [])  # type: ignore[arg-type]
        await start_session(client, plan, spawned, result, log)
        await asyncio.sleep(QUIET_SECONDS)  # the index's aftermath: logs, freeze, a memory trim
        result["rss_start_mib"] = memory(client.pid)["VmRSS"]
        session = Session(client, root, seed)
        await session.start()
        started = time.perf_counter()
        for number in range(1, ops + 1):
            await session.step()
            if number % window == 0 or number == ops:
                rss = memory(client.pid)["VmRSS"]
                figures = {kind: summary(t) for kind, t in sorted(session.times.items()) if t}
                result["windows"].append({"ops": number, "rss_mib": rss, "kinds": figures})
                log(
                    f"  {number:>7,} ops in {time.perf_counter() - started:6.0f} s, "
                    f"VmRSS {rss:6.1f} MiB, {len(session.timeouts)} timeouts"
                )
                session.times = {}
        result["seconds"] = time.perf_counter() - started
        await asyncio.sleep(QUIET_SECONDS)
        end = memory(client.pid)
        result["rss_end_mib"] = end["VmRSS"]
        result["hwm_mib"] = end["VmHWM"]
        result["lost_edits"] = await session.lost_edits()
        result["timeouts"] = session.timeouts
        result["versions"] = sum(item.version for item in session.working)
    finally:
        await stop(client)
    result["stderr_tail"] = list(client.stderr)[-10:]
    return result


# -- the report --------------------------------------------------------------------------------


def growth(result: dict[str, Any]) -> float:
    return result["rss_end_mib"] / result["rss_start_mib"] - 1


def table(result: dict[str, Any]) -> list[str]:
    """Markdown rows: each kind's p50/p99 in the first and the last window."""
    first, last = result["windows"][0], result["windows"][-1]
    rows = [
        "| operation | count | first window p50 / p99 (ms) | last window p50 / p99 (ms) | "
        "p99 drift |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in MIX:
        a, b = first["kinds"].get(kind), last["kinds"].get(kind)
        if a is None or b is None:
            continue
        count = sum(w["kinds"].get(kind, {}).get("count", 0) for w in result["windows"])
        drift = b["p99_ms"] / a["p99_ms"] - 1 if a["p99_ms"] else 0.0
        rows.append(
            f"| {kind} | {count:,} | {a['p50_ms']:.1f} / {a['p99_ms']:.1f} | "
            f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f} | {drift:+.0%} |"
        )
    return rows


def markdown(result: dict[str, Any], info: dict[str, str], site: Path) -> str:
    windows = result["windows"]
    steady = windows[-1]["rss_mib"] / windows[0]["rss_mib"] - 1  # after the warm-up
    lines = [
        f"- {info['cpu']}, {info['cores']} cores, {info['system']}, Python {info['python']}; "
        f"{info['date']}; letterhead at {info['revision']}",
        f"- site: `{site.name}`, seed {result['seed']}; "
        f"{result['ops']:,} operations in {result['seconds']:.0f} s; windows of "
        f"{result['window']:,} operations",
        f"- index ready {result['index_ready_s']:.1f} s after spawn: {result['index_message']}",
        f"- VmRSS once indexed {result['rss_start_mib']:.1f} MiB, at the end "
        f"{result['rss_end_mib']:.1f} MiB: growth {growth(result):+.1%} (limit +10%); "
        f"VmHWM {result['hwm_mib']:.1f} MiB",
        "- VmRSS after each window (MiB): "
        + ", ".join(f"{w['rss_mib']:.1f}" for w in result["windows"])
        + f"; from the first window's end to the last's: {steady:+.1%}",
        f"- edits lost: {len(result['lost_edits'])}; operations timed out: "
        f"{len(result['timeouts'])}; didChange notifications: {result['versions'] - WORKING_SET:,}",
        "",
        *table(result),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--site-size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=int, default=None, help="ops per window (10,000)")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument("--markdown", type=Path, help="write the report's figures here")
    arguments = parser.parse_args()
    window = arguments.window or min(10_000, max(1, arguments.ops // 10))
    site = ensure_site(arguments.site_size, 1).resolve()
    info = machine()
    print(f"soak: {arguments.ops:,} operations on {site} ({info['cpu']}, {info['cores']} cores)")
    cache = tempfile.mkdtemp(prefix="letterhead-soak-")
    os.environ["LETTERHEAD_CACHE_DIR"] = cache  # a persistent index of this run's own
    try:
        result = asyncio.run(soak(site, arguments.ops, window, arguments.seed, print))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    result["machine"] = info
    report = markdown(result, info, site)
    print()
    print(report)
    if arguments.json:
        arguments.json.write_text(json.dumps(result, indent=1))
    if arguments.markdown:
        arguments.markdown.write_text(report)
    failed = growth(result) > MEMORY_GROWTH_LIMIT or result["lost_edits"] or result["timeouts"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
