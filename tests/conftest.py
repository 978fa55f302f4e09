"""Every test, and every server or command a test starts, keeps its persistent index in a
folder of the test session's own, never in the user's cache folder; the folder is removed when
the session ends (a full run leaves ~80 MB of indexes there).

`generate_site` is the benchmark's generator of sites, for the tests that need a site of
hundreds or thousands of reviews."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import pytest

from bench_modules import load as load_bench

_CACHE_DIR = tempfile.mkdtemp(prefix="letterhead-cache-")
os.environ["LETTERHEAD_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def generate_site() -> Callable[..., Any]:
    """`bench/generate.py`'s `generate_site(out, reviews=..., seed=...)`."""
    generate: Callable[..., Any] = load_bench("generate").generate_site
    return generate
