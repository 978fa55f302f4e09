"""Every test, and every server or command a test starts, keeps its persistent index in a
folder of the test session's own, never in the user's cache folder; the folder is removed when
the session ends (a full run leaves ~80 MB of indexes there).

`generate_site` is the benchmark's generator of sites, for the tests that need a site of
hundreds or thousands of reviews."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_CACHE_DIR = tempfile.mkdtemp(prefix="letterhead-cache-")
os.environ["LETTERHEAD_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def generate_site() -> Callable[..., Any]:
    """`bench/generate.py`'s `generate_site(out, reviews=..., seed=...)`."""
    path = Path(__file__).resolve().parent.parent / "bench" / "generate.py"
    spec = importlib.util.spec_from_file_location("bench_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    generate: Callable[..., Any] = module.generate_site
    return generate
