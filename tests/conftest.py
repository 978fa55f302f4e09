"""Every test, and every server or command a test starts, keeps its persistent index in a
folder of the test session's own, never in the user's cache folder; the folder is removed when
the session ends (a full run leaves ~80 MB of indexes there)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_CACHE_DIR = tempfile.mkdtemp(prefix="letterhead-cache-")
os.environ["LETTERHEAD_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)
