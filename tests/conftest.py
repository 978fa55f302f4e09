"""Every test, and every server or command a test starts, keeps its persistent index in a
folder of the test session's own, never in the user's cache folder."""

from __future__ import annotations

import os
import tempfile

os.environ["LETTERHEAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="letterhead-cache-")
