"""A rename's workspace edit is written as JSON a file at a time (`JsonAnswer`), never as one
tree of dicts for the whole answer (the server's memory peak on a site-wide rename): the bytes
must be the JSON pygls would write for the same edit, framed with the right Content-Length, in
both of the protocol's forms."""

from __future__ import annotations

import json

import pytest
from lsprotocol import types
from pygls.protocol import JsonRPCProtocol

from letterhead.lsp.server import JsonAnswer, LetterheadServer


class Captured:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        pass


def text_edits(number: int) -> list[types.TextEdit]:
    at = types.Range(types.Position(9, number), types.Position(9, number + 7))
    return [types.TextEdit(range=at, new_text="épistles 🎬"), types.TextEdit(range=at, new_text="")]


def versioned(files: int) -> types.WorkspaceEdit:
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=f"file:///site/_posts/2015-03-0{n % 9 + 1}-revue-{n}-é.md",
                    version=n if n % 2 else None,
                ),
                edits=list(text_edits(n)),
            )
            for n in range(files)
        ]
    )


def plain(files: int) -> types.WorkspaceEdit:
    return types.WorkspaceEdit(
        changes={
            f"file:///site/_posts/2015-03-01-revue-{n}.md": text_edits(n) for n in range(files)
        }
    )


def framed(data: bytes) -> object:
    header, _, body = data.partition(b"\r\n\r\n")
    length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert length == len(body)
    return json.loads(body)


@pytest.mark.parametrize("edit", [versioned(0), versioned(3), plain(0), plain(3)])
@pytest.mark.parametrize("msg_id", [7, "rename-1"])
def test_a_workspace_edit_is_written_as_pygls_writes_it(
    edit: types.WorkspaceEdit, msg_id: int | str
) -> None:
    server = LetterheadServer()
    protocol = server.protocol
    ours, theirs = Captured(), Captured()
    protocol.set_writer(ours)
    # In two parts, as the rename makes it a few files at a time.
    halves = (
        [
            types.WorkspaceEdit(document_changes=edit.document_changes[:1]),
            types.WorkspaceEdit(document_changes=edit.document_changes[1:]),
        ]
        if edit.document_changes is not None
        else [
            types.WorkspaceEdit(changes=dict(list((edit.changes or {}).items())[:1])),
            types.WorkspaceEdit(changes=dict(list((edit.changes or {}).items())[1:])),
        ]
    )
    pieces = [piece for half in halves for piece in server.json_pieces(half)]
    answer = JsonAnswer.workspace_edit(pieces, versioned=edit.document_changes is not None)
    protocol._send_response(msg_id, answer)
    protocol.set_writer(theirs)
    JsonRPCProtocol._send_response(protocol, msg_id, edit)
    assert framed(b"".join(ours.written)) == framed(b"".join(theirs.written))
