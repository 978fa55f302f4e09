"""Fixtures for the hostile corpus: large inputs made once per session, and each case's wall time
collected and printed at the end of the run (the worst first)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

_TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def timings() -> dict[str, float]:
    """Case name -> seconds `letterhead check` took; printed by the terminal summary below."""
    return _TIMINGS


@pytest.fixture(scope="session")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable[[], bytes]], Path]:
    """Large inputs written once per session: `blobs(key, make)` is the path of a file holding
    `make()`, made on first use and shared (hard-linked, or copied) by later users."""
    folder = tmp_path_factory.mktemp("blobs")
    made: dict[str, Path] = {}

    def blob(key: str, make: Callable[[], bytes]) -> Path:
        if key not in made:
            path = folder / f"{len(made)}.bin"
            path.write_bytes(make())
            made[key] = path
        return made[key]

    return blob


def place(blob: Path, target: Path) -> None:
    """Put a session blob at `target` without copying 50 MB when a hard link will do."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        os.link(blob, target)
    except OSError:
        shutil.copyfile(blob, target)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TIMINGS:
        return
    ranked = sorted(_TIMINGS.items(), key=lambda item: -item[1])
    terminalreporter.section("hostile corpus: wall time of `letterhead check` per case")
    for name, seconds in ranked:
        terminalreporter.write_line(f"{seconds:7.2f} s  {name}")
    worst_name, worst = ranked[0]
    terminalreporter.write_line(
        f"worst: {worst:.2f} s ({worst_name}); {len(ranked)} cases, "
        f"{sum(_TIMINGS.values()):.1f} s in all"
    )
