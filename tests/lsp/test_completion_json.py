"""The completion answer is written as JSON by the server itself (`requests.completion_item`);
it must be exactly what lsprotocol's own converter writes for the same `CompletionItem`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types
from pygls.protocol import default_converter

from letterhead.features.types import CompletionItem, CompletionKind
from letterhead.lsp.convert import markup
from letterhead.lsp.requests import _COMPLETION_KINDS, completion_item, insert_text
from letterhead.positions import Span

CONVERTER = default_converter()
RANGE = types.Range(types.Position(3, 7), types.Position(3, 11))
RANGE_JSON = {"start": {"line": 3, "character": 7}, "end": {"line": 3, "character": 11}}


def reference(
    item: CompletionItem,
    markdown: bool,
    snippets: bool,
    defaults: bool = False,
    data: object = None,
) -> object:
    """The item as lsprotocol objects, turned into JSON by pygls' converter; with `defaults`,
    as an item of a list whose `itemDefaults` hold its range and text format."""
    new_text, text_format = insert_text(item, snippets)
    return CONVERTER.unstructure(
        types.CompletionItem(
            label=item.label,
            kind=_COMPLETION_KINDS.get(item.kind, types.CompletionItemKind.Text),
            detail=item.detail or None,
            documentation=markup(item.documentation, markdown) if item.documentation else None,
            sort_text=item.sort_text or None,
            filter_text=item.filter_text or None,
            insert_text_format=None if defaults else text_format,
            text_edit=None if defaults else types.TextEdit(range=RANGE, new_text=new_text),
            text_edit_text=new_text if defaults and new_text != item.label else None,
            data=data,
        )
    )


text = st.text(max_size=12)
items = st.builds(
    CompletionItem,
    label=text,
    kind=st.sampled_from(list(CompletionKind)),
    insert_text=st.sampled_from(["noir", "${1:title}$0", "a, b", "é ✓ 🎬"]),
    replace_span=st.just(Span(0, 4)),
    detail=text,
    documentation=text,
    sort_text=text,
    filter_text=text,
    is_snippet=st.booleans(),
)


@given(item=items, markdown=st.booleans(), snippets=st.booleans())
def test_an_item_is_written_as_lsprotocol_writes_it(
    item: CompletionItem, markdown: bool, snippets: bool
) -> None:
    assert completion_item(item, RANGE_JSON, markdown, snippets) == reference(
        item, markdown, snippets
    )


@given(
    item=items,
    markdown=st.booleans(),
    snippets=st.booleans(),
    data=st.none() | st.tuples(st.integers(0, 10**6), text, text).map(list),
)
def test_an_item_under_the_lists_defaults_is_written_as_lsprotocol_writes_it(
    item: CompletionItem, markdown: bool, snippets: bool, data: list[object] | None
) -> None:
    written = completion_item(item, None, markdown, snippets, data)
    assert written == reference(item, markdown, snippets, defaults=True, data=data)


@pytest.mark.parametrize("kind", list(CompletionKind))
def test_every_kind_has_the_protocols_number(kind: CompletionKind) -> None:
    item = CompletionItem("x", kind, "x", Span(0, 1))
    assert completion_item(item, RANGE_JSON, True, True) == reference(item, True, True)
