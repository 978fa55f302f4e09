"""Every feature through the protocol: completion, hover, code actions, definition, references,
rename, symbols, links and folding, with ranges in the client's units."""

from __future__ import annotations

from pathlib import Path

import pytest_lsp
from lsp_support import (
    RecordingClient,
    as_tuple,
    capabilities,
    initialize_params,
    position,
    server_config,
    uri,
)
from lsprotocol import types

from letterhead.lsp.requests import snippet_as_text

REVIEW = """---
title: "Wide Letter"
author: annaw
addressee: Rithy Panh
position: Director
imdb: tt0373890
tags: [😀 émoji, Letters, cambodia, do]
---
_**Dear Rithy Panh**, Director,_

See [the killing][1] and [S21](/content/2014/5/2/s21.html).

## A heading

   [1]: /content/2013/9/13/the-act-of-killing.html

{% contentfor signature %}
**Yours,**

Anna
{% endcontentfor %}
"""
RELATIVE = "_posts/2015-02-01-wide.md"
TAGS_LINE = 6


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def column(text: str, line: int, needle: str, after: bool = False) -> int:
    """The UTF-16 column of `needle` on `line` (or of the end of it)."""
    content = text.split("\n")[line]
    index = content.index(needle) + (len(needle) if after else 0)
    return utf16(content[:index])


def doc(path: Path) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri(path))


async def open_review(client: RecordingClient, site: Path, text: str = REVIEW) -> Path:
    path = site / RELATIVE
    path.write_text(text, encoding="utf-8")
    client.open(uri(path), text)
    await client.diagnostics_for(uri(path), 1)
    return path


async def test_completion_of_tags_in_flow_list(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    end_of_do = column(REVIEW, TAGS_LINE, "do]")
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(path), position=position(TAGS_LINE, end_of_do + 2))
    )
    assert result is not None
    labels = [item.label for item in result.items]
    assert "documentary" in labels
    assert "cambodia" not in labels  # already in the list
    item = next(i for i in result.items if i.label == "documentary")
    assert isinstance(item.text_edit, types.TextEdit)
    # The typed "do" is replaced; the emoji before it counts two UTF-16 units.
    assert as_tuple(item.text_edit.range) == (TAGS_LINE, end_of_do, TAGS_LINE, end_of_do + 2)
    assert item.text_edit.new_text == "documentary"
    assert "3" in (item.detail or "")  # used in three reviews


async def test_hover_as_plain_text(fresh_plain: RecordingClient, site: Path) -> None:
    """A client that renders no Markdown is sent what a reader of it would see: the salutation
    without its emphasis marks, a title with Markdown punctuation without escapes."""
    client = fresh_plain
    awkward = site / "_posts" / "2014-08-02-awkward.md"
    awkward.write_text('---\ntitle: "*Batteries* not_included"\n---\nText.\n', encoding="utf-8")
    client.workspace_did_change_watched_files(  # read before the review below is opened
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri(awkward), type=types.FileChangeType.Created)]
        )
    )
    text = REVIEW + "\nSee {% post_url 2014-08-02-awkward %}.\n"
    path = await open_review(client, site, text)
    salutation = await client.text_document_hover_async(
        types.HoverParams(text_document=doc(path), position=position(8, 8))
    )
    assert salutation is not None and isinstance(salutation.contents, types.MarkupContent)
    assert salutation.contents.kind == types.MarkupKind.PlainText
    assert "Dear Rithy Panh" in salutation.contents.value
    assert "**" not in salutation.contents.value
    line = text.split("\n").index("See {% post_url 2014-08-02-awkward %}.")
    link = await client.text_document_hover_async(
        types.HoverParams(text_document=doc(path), position=position(line, 20))
    )
    assert link is not None and isinstance(link.contents, types.MarkupContent)
    assert link.contents.value.startswith("*Batteries* not_included — 2014-08-02"), link.contents


async def test_completion_without_snippet_support(fresh_plain: RecordingClient, site: Path) -> None:
    """An empty review offers a new letter; as plain text to a client without snippets."""
    client = fresh_plain
    path = site / "_posts" / "2015-06-01-new.md"
    path.write_text("", encoding="utf-8")
    client.open(uri(path), "")
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(path), position=position(0, 0))
    )
    assert result is not None and result.items
    letter = result.items[0]
    assert letter.insert_text_format in (None, types.InsertTextFormat.PlainText)
    assert isinstance(letter.text_edit, types.TextEdit)
    assert "$0" not in letter.text_edit.new_text and "${" not in letter.text_edit.new_text
    assert letter.text_edit.new_text.startswith("---")


async def test_hover_on_salutation(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc(path), position=position(8, 8))
    )
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert "Dear Rithy Panh" in hover.contents.value
    assert hover.range is not None and as_tuple(hover.range)[0] == 8


async def test_hover_past_the_end_is_not_an_error(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    for line, character in ((999, 0), (3, 999), (6, 10_000)):
        await client.text_document_hover_async(
            types.HoverParams(text_document=doc(path), position=position(line, character))
        )


async def test_quick_fix_for_tag_variant(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    diagnostic = next(d for d in client.diagnostics[uri(path)] if d.code == "TX001")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(path),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    assert actions is not None
    fix = next(a for a in actions if isinstance(a, types.CodeAction) and a.kind == "quickfix")
    assert fix.diagnostics is not None and fix.diagnostics[0] == diagnostic
    assert fix.is_preferred
    assert fix.edit is not None and fix.edit.document_changes
    change = fix.edit.document_changes[0]
    assert isinstance(change, types.TextDocumentEdit)
    assert change.text_document.uri == uri(path) and change.text_document.version == 1
    edit = change.edits[0]
    assert as_tuple(edit.range) == as_tuple(diagnostic.range)
    assert (
        as_tuple(edit.range)[1] == column(REVIEW, TAGS_LINE, "Letters")  # after the emoji
        and edit.new_text == "letters"
    )

    only = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(path),
            range=diagnostic.range,
            context=types.CodeActionContext(
                diagnostics=[diagnostic], only=[types.CodeActionKind.RefactorRewrite]
            ),
        )
    )
    assert only is not None and all(
        isinstance(a, types.CodeAction) and a.kind == "refactor.rewrite" for a in only
    )


async def test_definition(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    label = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=doc(path), position=position(10, column(REVIEW, 10, "[1]") + 1)
        )
    )
    assert isinstance(label, list) and label[0].uri == uri(path)
    assert label[0].range.start.line == 14

    url = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=doc(path), position=position(10, column(REVIEW, 10, "/content") + 3)
        )
    )
    assert isinstance(url, list)
    assert url[0].uri == uri(site / "_posts" / "2014-05-02-s21.md")


async def test_references_of_a_tag(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    result = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc(path),
            position=position(TAGS_LINE, column(REVIEW, TAGS_LINE, "cambodia") + 2),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert result is not None
    files = {Path(location.uri).name for location in result}
    assert files == {
        "2015-02-01-wide.md",
        "2014-03-07-the-missing-picture.md",
        "2014-05-02-s21.md",
    }
    mine = next(loc for loc in result if loc.uri == uri(path))
    start = column(REVIEW, TAGS_LINE, "cambodia")
    assert as_tuple(mine.range) == (TAGS_LINE, start, TAGS_LINE, start + len("cambodia"))


async def test_backlinks(client: RecordingClient, site: Path) -> None:
    """On a review's title: the reviews that link to it."""
    await open_review(client, site)
    target = site / "_posts" / "2013-09-13-the-act-of-killing.md"
    client.open(uri(target), target.read_text(encoding="utf-8"))
    await client.diagnostics_for(uri(target), 1)
    result = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc(target),
            position=position(12, 3),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert result is not None
    names = {Path(location.uri).name for location in result}
    assert {"2015-02-01-wide.md", "2014-03-07-the-missing-picture.md"} <= names


async def test_rename_tag_across_the_site(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    at = position(TAGS_LINE, column(REVIEW, TAGS_LINE, "cambodia") + 1)
    prepared = await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(text_document=doc(path), position=at)
    )
    assert isinstance(prepared, types.PrepareRenamePlaceholder)
    assert prepared.placeholder == "cambodia"
    start = column(REVIEW, TAGS_LINE, "cambodia")
    assert as_tuple(prepared.range) == (TAGS_LINE, start, TAGS_LINE, start + len("cambodia"))

    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=doc(path), position=at, new_name="Cambodge")
    )
    assert edit is not None and edit.document_changes
    changes = {
        Path(c.text_document.uri).name: c
        for c in edit.document_changes
        if isinstance(c, types.TextDocumentEdit)
    }
    assert set(changes) == {
        "2015-02-01-wide.md",
        "2014-03-07-the-missing-picture.md",
        "2014-05-02-s21.md",
    }
    assert changes["2015-02-01-wide.md"].text_document.version == 1  # open: versioned
    assert changes["2014-05-02-s21.md"].text_document.version is None  # on disk only
    mine = changes["2015-02-01-wide.md"].edits[0]
    assert mine.new_text == "Cambodge" and as_tuple(mine.range)[1] == start
    for change in changes.values():
        assert all(e.new_text == "Cambodge" for e in change.edits)

    nothing = await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(text_document=doc(path), position=position(1, 2))
    )
    assert nothing is None


async def test_document_symbols(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc(path))
    )
    assert symbols is not None
    assert all(isinstance(s, types.DocumentSymbol) for s in symbols)
    names = [s.name for s in symbols]
    assert any("Dear" in name or "Rithy" in name for name in names)
    assert any("A heading" in name for name in names)
    front = symbols[0]
    assert isinstance(front, types.DocumentSymbol) and front.range.start.line == 0
    keys = [child.name for child in front.children or ()]
    assert "tags" in keys and "title" in keys


async def test_workspace_symbols(client: RecordingClient) -> None:
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="missing"))
    assert symbols is not None
    names = [s.name for s in symbols]
    assert names and names[0] == "The Missing Picture"
    first = symbols[0]
    assert isinstance(first.location, types.Location)
    assert first.location.uri.endswith("2014-03-07-the-missing-picture.md")


async def test_document_links(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    links = await client.text_document_document_link_async(
        types.DocumentLinkParams(text_document=doc(path))
    )
    assert links is not None
    targets = {link.target for link in links}
    assert uri(site / "_posts" / "2014-05-02-s21.md") in targets
    assert uri(site / "_posts" / "2013-09-13-the-act-of-killing.md") in targets
    assert any(t and t.startswith("https://") and "tt0373890" in t for t in targets)
    s21 = next(link for link in links if link.target == uri(site / "_posts" / "2014-05-02-s21.md"))
    assert as_tuple(s21.range) == (
        10,
        column(REVIEW, 10, "/content/2014"),
        10,
        column(REVIEW, 10, ".html)", after=False) + len(".html"),
    )


async def test_folding_ranges(client: RecordingClient, site: Path) -> None:
    path = await open_review(client, site)
    ranges = await client.text_document_folding_range_async(
        types.FoldingRangeParams(text_document=doc(path))
    )
    assert ranges is not None
    spans = {(r.start_line, r.end_line) for r in ranges}
    lines = REVIEW.split("\n")
    signature = lines.index("{% contentfor signature %}")
    assert (0, 7) in spans
    assert (signature, lines.index("{% endcontentfor %}")) in spans


# -- a client without snippets or Markdown ----------------------------------------------------


@pytest_lsp.fixture(config=server_config())
async def fresh_plain(lsp_client: RecordingClient, site: Path):
    await lsp_client.initialize_session(
        initialize_params(site, capabilities(snippets=False, markdown=False))
    )
    await lsp_client.indexed()
    yield
    await lsp_client.shutdown_session()


def test_snippet_as_text() -> None:
    assert snippet_as_text("a: ${1|x,y|}\nb: ${2:one ${3:two}} \\$ $0") == "a: x\nb: one two $ "


# -- a client that asks for an item's documentation when it shows it ---------------------------


@pytest_lsp.fixture(config=server_config())
async def fresh_resolving(lsp_client: RecordingClient, site: Path):
    await lsp_client.initialize_session(initialize_params(site, capabilities(resolving=True)))
    await lsp_client.indexed()
    yield
    await lsp_client.shutdown_session()


async def test_completion_documentation_written_when_asked(
    fresh_resolving: RecordingClient, site: Path
) -> None:
    """VS Code takes the list's range as a default and asks for the documentation of the item
    it shows: the items come without either, and `completionItem/resolve` writes it."""
    client = fresh_resolving
    path = await open_review(client, site)
    end_of_do = column(REVIEW, TAGS_LINE, "do]")
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(path), position=position(TAGS_LINE, end_of_do + 2))
    )
    assert isinstance(result, types.CompletionList) and result.item_defaults is not None
    edit_range = result.item_defaults.edit_range
    assert isinstance(edit_range, types.Range)
    assert as_tuple(edit_range) == (TAGS_LINE, end_of_do, TAGS_LINE, end_of_do + 2)
    assert result.item_defaults.insert_text_format == types.InsertTextFormat.PlainText
    item = next(i for i in result.items if i.label == "documentary")
    assert item.text_edit is None and item.text_edit_text is None  # the label is the text
    assert item.documentation is None and item.data is not None
    resolved = await client.completion_item_resolve_async(item)
    assert isinstance(resolved.documentation, types.MarkupContent)
    assert resolved.documentation.kind == types.MarkupKind.Markdown
    assert resolved.documentation.value.startswith("Tag used in 3 reviews; last in “")

    line = REVIEW.split("\n").index("See [the killing][1] and [S21](/content/2014/5/2/s21.html).")
    links = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=doc(path), position=position(line, column(REVIEW, line, "](/", True))
        )
    )
    assert isinstance(links, types.CompletionList) and links.items
    first = links.items[0]
    assert first.documentation is None and first.text_edit_text is not None
    assert first.text_edit_text.startswith("/")  # the URL, where the label is the title
    resolved = await client.completion_item_resolve_async(first)
    assert isinstance(resolved.documentation, types.MarkupContent)
    assert f"**{first.label}**" in resolved.documentation.value
    assert "`_posts/" in resolved.documentation.value


async def test_completion_items_the_server_never_gave_come_back_as_they_were(
    fresh_resolving: RecordingClient, site: Path
) -> None:
    client = fresh_resolving
    await open_review(client, site)
    for data in ([10**6, "tags", "documentary"], [1, "tags"], {"uri": "x"}, "x", [1, 2, 3], None):
        item = types.CompletionItem(label="documentary", data=data)
        resolved = await client.completion_item_resolve_async(item)
        assert resolved.label == "documentary" and resolved.documentation is None, data
