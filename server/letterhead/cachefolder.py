"""Where letterhead keeps what it caches, and whether it may (nothing else is imported here: the
generated-code cache needs this before the engine is imported)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_on() -> bool:
    """Whether letterhead may keep anything in the cache folder (`LETTERHEAD_CACHE=off`: no)."""
    return os.environ.get("LETTERHEAD_CACHE") != "off"


def cache_dir() -> Path:
    """The folder for cache files: `$LETTERHEAD_CACHE_DIR`, else the XDG cache folder."""
    configured = os.environ.get("LETTERHEAD_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG specification says a relative path is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "letterhead"
    return Path.home() / ".cache" / "letterhead"
