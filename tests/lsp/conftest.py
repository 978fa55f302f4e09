"""Fixtures: a copy of the base site in a temporary folder, and a server driven over stdio."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsp_support import RecordingClient, capabilities, copy_site, initialize_params, server_config


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return copy_site(tmp_path / "site")


@pytest_lsp.fixture(config=server_config())
async def client(lsp_client: RecordingClient, site: Path):
    """A UTF-16 editor with push diagnostics, the site indexed."""
    await lsp_client.initialize_session(initialize_params(site, capabilities()))
    await lsp_client.indexed()
    yield
    await lsp_client.shutdown_session()
