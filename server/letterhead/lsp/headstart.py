"""The listing of the client's sites, begun before the protocol stack is imported.

A start of the server spends ~0.2 s importing pygls and lsprotocol on one core, while the
client's `initialize` request, which names the workspace folders, is already waiting on stdin.
Only then did indexing begin, with a listing of every file of the site (~0.2 s of `stat` at
20,000 reviews): on a restart, in a child while the snapshot was unpickled, which then waited for
it; on a first start, in the server's own process, before the parsing could begin.

`HeadStart.read` looks at the first message in the reader's buffer without taking it (pygls
reads it later as it would have), finds the sites of its workspace folders as `initialize` does,
and starts each one's listing in a child process (`indexer.start_listing`), on the core the
import leaves idle. The index of each site, begun at `initialized`, takes its listing from here.
Nothing here answers the client or acts on anything else the request says: a first message that
is not a readable `initialize` is only a start without a head start.

The module imports neither pygls nor lsprotocol (it runs before them); `workspace_folders` is
the server's own way to read the folders of `initialize`, as `workspace.path_of` is its way to
read a URI.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from letterhead.indexer import StartedListing, start_listing
from letterhead.lsp.reader import MessageReader
from letterhead.lsp.workspace import find_sites, path_of

logger = logging.getLogger("letterhead.lsp")

# How long the server waits for a client's first message before it imports the protocol stack
# without a head start. Clients write `initialize` as soon as they have spawned the server, which
# takes ~0.1 s to get here.
WAIT_SECONDS = 0.02


def workspace_folders(
    folder_uris: Iterable[str], root_uri: str | None, root_path: str | None
) -> list[Path]:
    """The folders `initialize` names: its workspace folders, else its root URI, else its root
    path (the last two are older clients' ways of naming one folder)."""
    folders = [path for uri in folder_uris if (path := path_of(uri)) is not None]
    if not folders and root_uri and (path := path_of(root_uri)) is not None:
        folders.append(path)
    if not folders and root_path:
        folders.append(Path(root_path).resolve())
    return folders


class HeadStart:
    """The listings started for the sites of the client's first message, by site root."""

    def __init__(self, started: dict[Path, StartedListing] | None = None) -> None:
        self.started = started if started is not None else {}

    @classmethod
    def read(cls, reader: MessageReader, wait: float = WAIT_SECONDS) -> HeadStart:
        """Start listing the sites that the `initialize` request waiting in `reader` names."""
        params = _initialize_params(reader.peek(wait))
        if params is None:
            return cls()
        try:
            folders = workspace_folders(
                _folder_uris(params), _text(params, "rootUri"), _text(params, "rootPath")
            )
            roots = {root for folder in folders for root in find_sites(folder)}
            return cls({root: start_listing(root) for root in sorted(roots)})
        except Exception as error:  # then the indexing lists as it would have
            logger.warning("could not start listing the sites early: %s", error)
            return cls()

    def take(self, root: Path) -> StartedListing | None:
        """The listing started for the site at `root`, once (None if there is none)."""
        return self.started.pop(root, None)

    def close(self, root: Path) -> None:
        """Stop the listing of the site at `root`, if nobody took it."""
        listing = self.started.pop(root, None)
        if listing is not None:
            listing.close()

    def close_all_but(self, roots: Collection[Path]) -> None:
        """Stop the listings nobody took, but those of `roots`."""
        for root in [root for root in self.started if root not in roots]:
            self.close(root)


def _initialize_params(body: bytes | None) -> dict[str, Any] | None:
    if body is None:
        return None
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("method") != "initialize":
        return None
    params = message.get("params")
    return params if isinstance(params, dict) else None


def _folder_uris(params: dict[str, Any]) -> Sequence[str]:
    folders = params.get("workspaceFolders")
    if not isinstance(folders, list):
        return ()
    return [
        uri
        for folder in folders
        if isinstance(folder, dict) and isinstance(uri := folder.get("uri"), str)
    ]


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return value if isinstance(value, str) else None
