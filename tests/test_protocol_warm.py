"""The converter warm-up passes every sample through pygls as a real message would go."""

from __future__ import annotations

import logging

import pytest
from lsprotocol import types

from letterhead.lsp import warm
from letterhead.lsp.server import create_server


def test_every_incoming_sample_becomes_its_own_message_type() -> None:
    protocol = create_server().protocol
    for method, message in warm._incoming():
        structured = protocol.structure_message(message)
        expected = types.METHOD_TO_TYPES[method][0]
        assert type(structured) is expected, method


def test_the_warm_up_runs_clean(caplog: pytest.LogCaptureFixture) -> None:
    protocol = create_server().protocol
    with caplog.at_level(logging.WARNING, logger="letterhead.lsp"):
        warm.warm_converter(protocol)
    assert caplog.records == []
    sent = [protocol._serialize_message(message) for message in warm._outgoing()]
    assert sent[0]["method"] == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
    assert sent[0]["params"]["diagnostics"][0]["code"] == "TX001"
