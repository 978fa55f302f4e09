"""Fixtures: a copy of the base site in a temporary folder, a generated site whose cold index
takes over a second, and a server driven over stdio."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_support import RecordingClient, capabilities, copy_site, initialize_params, server_config

# Enough reviews for a cold index to take over a second on the fastest machine this runs on
# (~0.2 ms of a core each, on two cores).
LONG_INDEX_REVIEWS = 10_000


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return copy_site(tmp_path / "site")


@pytest.fixture(scope="session")
def long_index_site(
    tmp_path_factory: pytest.TempPathFactory, generate_site: Callable[..., Any]
) -> Path:
    """A generated site of `LONG_INDEX_REVIEWS` reviews (give each test a cache folder of its
    own: an index read from the persistent one takes a fraction of a second)."""
    site = tmp_path_factory.mktemp("long-index") / "site"
    generate_site(site, reviews=LONG_INDEX_REVIEWS, seed=3)
    return site


@pytest_lsp.fixture(config=server_config())
async def client(lsp_client: RecordingClient, site: Path):
    """A UTF-16 editor with push diagnostics, the site indexed."""
    await lsp_client.initialize_session(initialize_params(site, capabilities()))
    await lsp_client.indexed()
    yield
    await lsp_client.shutdown_session()
