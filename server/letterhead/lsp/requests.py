"""Feature requests: the engine's `letterhead.features` wired to the protocol.

Each handler finds the open document and its site, asks the engine with code-point offsets and
converts the answer with `convert` (through the server's codecs). A request for a document that
is not open, or not in a site, answers "nothing" rather than an error; positions past the end of
a line or of the document are clamped by the codec.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException

from letterhead.document import Document
from letterhead.features import actions as action_feature
from letterhead.features import completion as completion_feature
from letterhead.features import folding as folding_feature
from letterhead.features import hover as hover_feature
from letterhead.features import links as links_feature
from letterhead.features import navigation
from letterhead.features import symbols as symbols_feature
from letterhead.features.guard import LOGGER as FEATURE_LOGGER
from letterhead.features.types import (
    Action,
    ActionKind,
    CompletionItem,
    CompletionKind,
    Explanation,
    Location,
    Symbol,
    SymbolKind,
)
from letterhead.findings import Finding, TextEdit
from letterhead.lsp import convert
from letterhead.lsp.server import (
    COMPLETION_DEFAULTS,
    COMPLETION_DOCUMENTATION,
    COMPLETION_RESOLVE,
    JsonAnswer,
)
from letterhead.lsp.workspace import OpenDocument, SiteState
from letterhead.positions import Position, Range, Span

if TYPE_CHECKING:
    from letterhead.lsp.server import LetterheadServer

R = TypeVar("R")
_FILE_START = Range(Position(0, 0), Position(0, 0))
TRIGGER_CHARACTERS = ["[", "(", ":", " ", "-", "/", "{", "%", ","]
COMPLETION_LIMIT = completion_feature.LIMIT


@dataclass(slots=True)
class Request:
    """An open document of a site, parsed and indexed, with its codec."""

    document: OpenDocument
    state: SiteState
    relative: str
    parsed: Document
    codec: convert.TextCodec

    def offset(self, position: types.Position) -> int:
        return self.codec.offset(position)


def request_for(ls: LetterheadServer, uri: str, site_wide: bool = False) -> Request | None:
    """The request's document, parsed; `site_wide` also brings the site's other open documents
    up to date (for answers that read them: references, rename)."""
    document = ls.state.get(uri)
    if document is None or document.site is None or document.relative is None:
        return None
    if site_wide:
        for other in ls.state.open_in(document.site):
            ls.up_to_date(other)
    parsed = ls.parse(document)
    return Request(document, document.site, document.relative, parsed, ls.codec(document))


# -- edits ---------------------------------------------------------------------------------


_VERSIONED_EDITS = "workspace.workspace_edit.document_changes"


def workspace_edit(
    ls: LetterheadServer,
    state: SiteState,
    edits_by_path: dict[str, list[TextEdit]],
) -> types.WorkspaceEdit:
    """One workspace edit; with versioned `documentChanges` when the client supports them.
    Positions are converted on the lines the edits carry, else on each file's text found again
    (`codec_for`)."""
    versioned = ls.supports(_VERSIONED_EDITS)
    document_changes: list[types.TextDocumentEdit] = []
    changes: dict[str, list[types.TextEdit]] = {}
    for path, edits in sorted(edits_by_path.items()):
        codec = ls.codec_for(state, path, edits[0].lines if edits else None)
        uri = ls.uri_for(state, path)
        converted = [
            types.TextEdit(range=codec.range(edit.range), new_text=edit.new_text) for edit in edits
        ]
        if versioned:
            open_document = ls.state.get(uri)
            version = open_document.version if open_document is not None else None
            document_changes.append(
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=version
                    ),
                    edits=list(converted),
                )
            )
        else:
            changes[uri] = converted
    if versioned:
        return types.WorkspaceEdit(document_changes=list(document_changes))
    return types.WorkspaceEdit(changes=changes)


def locations(
    ls: LetterheadServer, request: Request, found: list[Location]
) -> list[types.Location]:
    result = []
    codecs: dict[str, convert.TextCodec] = {request.relative: request.codec}
    for location in found:
        uri = request.document.uri if location.path == request.relative else None
        uri = uri or ls.uri_for(request.state, location.path)
        if location.range == _FILE_START:  # the same in every encoding: no need to read the file
            result.append(types.Location(uri=uri, range=convert.start_of_file()))
            continue
        codec = codecs.get(location.path)
        if codec is None:
            codec = ls.codec_for(request.state, location.path, location.lines)
            codecs[location.path] = codec
        result.append(types.Location(uri=uri, range=codec.range(location.range)))
    return result


# -- completion ------------------------------------------------------------------------------

_COMPLETION_KINDS = {
    CompletionKind.KEY: types.CompletionItemKind.Property,
    CompletionKind.VALUE: types.CompletionItemKind.Value,
    CompletionKind.TAG: types.CompletionItemKind.Keyword,
    CompletionKind.CATEGORY: types.CompletionItemKind.EnumMember,
    CompletionKind.LAYOUT: types.CompletionItemKind.Class,
    CompletionKind.AUTHOR: types.CompletionItemKind.Constant,
    CompletionKind.IMAGE: types.CompletionItemKind.File,
    CompletionKind.URL: types.CompletionItemKind.Reference,
    CompletionKind.POST_ID: types.CompletionItemKind.Reference,
    CompletionKind.LABEL: types.CompletionItemKind.Reference,
    CompletionKind.LIQUID_TAG: types.CompletionItemKind.Function,
    CompletionKind.SNIPPET: types.CompletionItemKind.Snippet,
}
_TAB_STOP = re.compile(r"\$(\d+)|\$\{(\d+)\}|\$\{(\d+)([:|])")


def snippet_as_text(snippet: str) -> str:
    """A snippet's text as a client without snippet support should insert it: tab stops
    removed, placeholders replaced by their text, choices by their first option."""
    text, _ = _snippet_text(snippet, 0, nested=False)
    return text


def _snippet_text(snippet: str, index: int, nested: bool) -> tuple[str, int]:
    """The plain text from `index` up to the end (or the `}` closing a placeholder)."""
    out: list[str] = []
    while index < len(snippet):
        char = snippet[index]
        if char == "\\" and index + 1 < len(snippet) and snippet[index + 1] in "$}\\,|":
            out.append(snippet[index + 1])
            index += 2
            continue
        if nested and char == "}":
            return "".join(out), index + 1
        match = _TAB_STOP.match(snippet, index) if char == "$" else None
        if match is None:
            out.append(char)
            index += 1
            continue
        index = match.end()
        if match.group(4) == ":":
            inner, index = _snippet_text(snippet, index, nested=True)
            out.append(inner)
        elif match.group(4) == "|":
            end = snippet.find("|}", index)
            end = len(snippet) if end < 0 else end
            options = re.split(r"(?<!\\),", snippet[index:end])
            out.append(options[0].replace("\\,", ",").replace("\\|", "|"))
            index = end + 2
    return "".join(out), index


def insert_text(item: CompletionItem, snippets: bool) -> tuple[str, types.InsertTextFormat]:
    """What the item inserts and its format: a snippet as plain text for a client without them."""
    if not item.is_snippet:
        return item.insert_text, types.InsertTextFormat.PlainText
    if snippets:
        return item.insert_text, types.InsertTextFormat.Snippet
    return snippet_as_text(item.insert_text), types.InsertTextFormat.PlainText


def completion_item(
    item: CompletionItem,
    range_: dict[str, Any] | None,
    markdown: bool,
    snippets: bool,
    data: list[Any] | None = None,
) -> dict[str, Any]:
    """One item as the protocol's JSON (a `CompletionItem`, fields without a value left out),
    replacing `range_` (its `replace_span`, converted once for all the items); with `range_`
    None, the range and the text's format are the list's `itemDefaults`, and the item says only
    what it inserts, if that is not its label."""
    new_text, text_format = insert_text(item, snippets)
    answer: dict[str, Any] = {
        "label": item.label,
        "kind": _COMPLETION_KINDS.get(item.kind, types.CompletionItemKind.Text).value,
    }
    if item.detail:
        answer["detail"] = item.detail
    if item.documentation:
        kind, value = convert.markup_parts(item.documentation, markdown)
        answer["documentation"] = {"kind": kind.value, "value": value}
    if item.sort_text:
        answer["sortText"] = item.sort_text
    if item.filter_text:
        answer["filterText"] = item.filter_text
    if range_ is None:
        if new_text != item.label:
            answer["textEditText"] = new_text
    else:
        answer["insertTextFormat"] = text_format.value
        answer["textEdit"] = {"range": range_, "newText": new_text}
    if data is not None:
        answer["data"] = data
    return answer


def completion(ls: LetterheadServer, params: types.CompletionParams) -> JsonAnswer | None:
    """The completion list, written as JSON here: a hundred items made as lsprotocol objects
    and then turned into JSON by pygls' converter took twice as long as the completion itself.

    A client that asks for an item's documentation when it shows it (`completionItem/resolve`,
    as VS Code does) gets the items whose documentation costs most without it, and `data` that
    says how to write it: `[answer number, topic, subject]` (see `resolve_completion`)."""
    uri = params.text_document.uri
    request = request_for(ls, uri)
    if request is None:
        return None
    later = ls.offers(COMPLETION_RESOLVE, "documentation")
    result = completion_feature.complete(
        request.state.loaded,
        request.relative,
        request.parsed,
        request.offset(params.position),
        COMPLETION_LIMIT,
        explained=not later,
    )
    number = ls.remember_completion(uri) if later else 0
    markdown = ls.markdown(COMPLETION_DOCUMENTATION)
    snippets = ls.supports("text_document.completion.completion_item.snippet_support")
    answer: dict[str, Any] = {"isIncomplete": result.incomplete}
    shared = _shared_defaults(ls, result.items, snippets)
    if shared is not None:
        span, text_format = shared
        range_json = convert.range_json(request.codec.span(span))
        answer["itemDefaults"] = {"editRange": range_json, "insertTextFormat": text_format.value}
    ranges: dict[tuple[int, int], dict[str, Any]] = {}
    items = []
    for item in result.items:
        range_ = None
        if shared is None:
            key = (item.replace_span.start, item.replace_span.end)
            range_ = ranges.get(key)
            if range_ is None:
                range_ = ranges[key] = convert.range_json(request.codec.span(item.replace_span))
        explanation = item.explanation if later else None
        data = None if explanation is None else [number, explanation.topic, explanation.subject]
        items.append(completion_item(item, range_, markdown, snippets, data))
    answer["items"] = items
    return JsonAnswer(json.dumps(answer))


def _shared_defaults(
    ls: LetterheadServer, items: list[CompletionItem], snippets: bool
) -> tuple[Span, types.InsertTextFormat] | None:
    """The range and text format every item has, when the client takes them as the list's
    `itemDefaults` (each item's `textEdit` then goes: ~40% of a hundred tags' JSON); else None."""
    if not items:
        return None
    if not ls.offers(COMPLETION_DEFAULTS, "editRange", "insertTextFormat"):
        return None
    span, snippet = items[0].replace_span, items[0].is_snippet and snippets
    for item in items:
        if item.replace_span != span or (item.is_snippet and snippets) is not snippet:
            return None
    return span, types.InsertTextFormat.Snippet if snippet else types.InsertTextFormat.PlainText


def resolve_completion(ls: LetterheadServer, item: types.CompletionItem) -> types.CompletionItem:
    """The item with the documentation `completion` left out, written now; anything else (an
    item of an answer long gone, `data` a client made up) comes back as it was."""
    data = item.data
    if not (
        isinstance(data, list)
        and len(data) == 3
        and type(data[0]) is int
        and all(isinstance(part, str) for part in data[1:])
    ):
        return item
    uri = ls.completions.get(data[0])
    request = request_for(ls, uri) if uri is not None else None
    if request is None:
        return item
    explanation = Explanation(data[1], data[2])
    text = completion_feature.explain(request.state.loaded, request.relative, explanation)
    if text:
        item.documentation = convert.markup(text, ls.markdown(COMPLETION_DOCUMENTATION))
    return item


# -- hover -------------------------------------------------------------------------------------


def hover(ls: LetterheadServer, params: types.HoverParams) -> types.Hover | None:
    request = request_for(ls, params.text_document.uri)
    if request is None:
        return None
    result = hover_feature.hover(
        request.state.loaded, request.relative, request.parsed, request.offset(params.position)
    )
    if result is None:
        return None
    return types.Hover(
        contents=convert.markup(result.markdown, ls.markdown("text_document.hover.content_format")),
        range=request.codec.span(result.span),
    )


# -- code actions ------------------------------------------------------------------------------

_ACTION_KINDS = {
    ActionKind.QUICKFIX: types.CodeActionKind.QuickFix,
    ActionKind.REFACTOR: types.CodeActionKind.RefactorRewrite,
    ActionKind.SOURCE: types.CodeActionKind.Source,
}


def _wanted(kind: str, only: Any) -> bool:
    if not only:
        return True
    return any(kind == wanted or kind.startswith(f"{wanted}.") for wanted in only)


def code_actions(
    ls: LetterheadServer, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    request = request_for(ls, params.text_document.uri)
    if request is None:
        return None
    findings = ls.state.findings(request.document)
    span = request.codec.to_span(params.range)
    answer = action_feature.code_actions(
        request.state.loaded, request.relative, request.parsed, span, findings
    )
    result: list[types.CodeAction] = []
    for action in answer:
        kind = _ACTION_KINDS.get(action.kind, types.CodeActionKind.Empty)
        if not _wanted(kind, params.context.only):
            continue
        result.append(_code_action(ls, request, action, kind, params.context.diagnostics))
    return result


def _code_action(
    ls: LetterheadServer,
    request: Request,
    action: Action,
    kind: str,
    context: Any,
) -> types.CodeAction:
    diagnostics = None
    if action.finding is not None:
        diagnostics = [_matching_diagnostic(action.finding, request, context)]
    return types.CodeAction(
        title=action.title,
        kind=kind,
        diagnostics=diagnostics,
        is_preferred=action.preferred or None,
        edit=workspace_edit(ls, request.state, action.edits),
    )


def _matching_diagnostic(finding: Finding, request: Request, context: Any) -> types.Diagnostic:
    """The client's own diagnostic for `finding` (same code and range), else a fresh one."""
    range_ = request.codec.range(finding.range)
    for diagnostic in context or ():
        if diagnostic.code == finding.code and diagnostic.range == range_:
            return diagnostic
    return convert.diagnostic(finding, request.codec)


# -- navigation --------------------------------------------------------------------------------


def definition(ls: LetterheadServer, params: types.DefinitionParams) -> list[types.Location] | None:
    request = request_for(ls, params.text_document.uri)
    if request is None:
        return None
    found = navigation.definition(
        request.state.loaded, request.relative, request.parsed, request.offset(params.position)
    )
    return locations(ls, request, found) or None


async def references(ls: LetterheadServer, params: types.ReferenceParams) -> JsonAnswer | None:
    """The uses of a tag or category, or the links to a review, across the site; a label's uses
    in the review. The reviews concerned are read and parsed (from disk unless open), thousands
    for a common tag (1 s at 20,000 reviews for one used by 7,848), so the answer is worked out
    `in_steps`, as a rename's is."""
    request = request_for(ls, params.text_document.uri, site_wide=True)
    if request is None:
        return None

    def steps() -> Iterator[list[Location]]:
        return navigation.reference_steps(
            request.state.loaded,
            request.relative,
            request.parsed,
            request.offset(params.position),
            params.context.include_declaration,
        )

    def pieces_of(batch: list[list[Location]]) -> list[str]:
        found = [location for step in batch for location in step]
        return ls.json_items(locations(ls, request, found))

    pieces = await in_steps(ls, request.state, "references", steps, pieces_of)
    return None if pieces is None else JsonAnswer.array(pieces)


def prepare_rename(
    ls: LetterheadServer, params: types.PrepareRenameParams
) -> types.PrepareRenamePlaceholder | None:
    request = request_for(ls, params.text_document.uri)
    if request is None:
        return None
    found = navigation.prepare_rename(
        request.state.loaded, request.relative, request.parsed, request.offset(params.position)
    )
    if found is None:
        return None
    span, placeholder = found
    return types.PrepareRenamePlaceholder(range=request.codec.span(span), placeholder=placeholder)


# Documents read between two returns to the event loop in a site-wide request (rename,
# references).
SITE_WIDE_STEP = 20

S = TypeVar("S")


async def in_steps(
    ls: LetterheadServer,
    state: SiteState,
    what: str,
    steps: Callable[[], Iterable[S] | None],
    pieces_of: Callable[[list[S]], list[str]],
) -> list[str] | None:
    """The JSON pieces of a site-wide answer whose `steps()` each read a document: `pieces_of`
    turns each batch of `SITE_WIDE_STEP` steps into JSON, with a return to the event loop after
    it, where a `$/cancelRequest` is read and cancels this task (pygls answers RequestCancelled)
    and other requests are answered. If a document or the index changes meanwhile, what is
    worked out would be stale: the answer is ContentModified. None when `steps()` is (nothing
    to answer there), and for a failure (logged, as `features.guard` does).

    Written as JSON a batch at a time, an answer about thousands of reviews is never held whole
    as objects."""
    started = time.perf_counter()
    before = _site_snapshot(ls, state)
    pieces: list[str] = []
    try:
        steps_made = steps()
        if steps_made is None:
            return None
        batch: list[S] = []
        for count, step in enumerate(steps_made, 1):
            batch.append(step)
            if count % SITE_WIDE_STEP == 0:
                pieces += pieces_of(batch)
                batch = []
                await asyncio.sleep(0)
                if _site_snapshot(ls, state) != before:
                    raise JsonRpcContentModified(f"the site changed during the {what}")
        pieces += pieces_of(batch)
    except JsonRpcException:
        raise
    except Exception:
        FEATURE_LOGGER.exception("%s failed", what)
        return None
    if ls.verbose():
        elapsed = (time.perf_counter() - started) * 1000
        ls.log(f"letterhead: {what} in {elapsed:.1f} ms", types.MessageType.Log)  # as `timed`
    return pieces


async def rename(ls: LetterheadServer, params: types.RenameParams) -> JsonAnswer | None:
    """A rename, site-wide for a tag or category: each review that uses it is read and parsed
    (from disk unless open), so the edits are worked out `in_steps`, each file's change as JSON
    in path order."""
    request = request_for(ls, params.text_document.uri, site_wide=True)
    if request is None:
        return None
    state = request.state

    def steps() -> Iterator[tuple[str, list[TextEdit]]] | None:
        return navigation.rename_steps(
            state.loaded,
            request.relative,
            request.parsed,
            request.offset(params.position),
            params.new_name,
        )

    def pieces_of(batch: list[tuple[str, list[TextEdit]]]) -> list[str]:
        return ls.json_pieces(workspace_edit(ls, state, {path: e for path, e in batch if e}))

    pieces = await in_steps(ls, state, "rename", steps, pieces_of)
    if pieces is None:
        return None
    return JsonAnswer.workspace_edit(pieces, ls.supports(_VERSIONED_EDITS))


def _site_snapshot(ls: LetterheadServer, state: SiteState) -> tuple[Any, ...]:
    """What must not change while a site-wide answer is worked out: the index and the open
    documents."""
    return (id(state.loaded), state.generation, ls.state.stamp, ls.state.edits)


# -- symbols, links, folding ---------------------------------------------------------------------

_SYMBOL_KINDS = {
    SymbolKind.FRONT_MATTER: types.SymbolKind.Namespace,
    SymbolKind.KEY: types.SymbolKind.Property,
    SymbolKind.SALUTATION: types.SymbolKind.String,
    SymbolKind.HEADING: types.SymbolKind.String,
    SymbolKind.SIGNATURE: types.SymbolKind.Event,
    SymbolKind.REVIEW: types.SymbolKind.File,
}


def _document_symbol(symbol: Symbol, codec: convert.TextCodec) -> types.DocumentSymbol:
    range_ = codec.span(symbol.span)
    selection = codec.span(symbol.selection_span)
    if not (range_.start <= selection.start and selection.end <= range_.end):
        selection = range_  # the protocol wants the selection inside the range
    return types.DocumentSymbol(
        name=symbol.name or "(untitled)",
        kind=_SYMBOL_KINDS.get(symbol.kind, types.SymbolKind.String),
        range=range_,
        selection_range=selection,
        detail=symbol.detail or None,
        children=[_document_symbol(child, codec) for child in symbol.children] or None,
    )


def _flat_symbols(
    symbols: list[Symbol], codec: convert.TextCodec, uri: str, container: str | None = None
) -> list[types.SymbolInformation]:
    result = []
    for symbol in symbols:
        result.append(
            types.SymbolInformation(
                name=symbol.name or "(untitled)",
                kind=_SYMBOL_KINDS.get(symbol.kind, types.SymbolKind.String),
                location=types.Location(uri=uri, range=codec.span(symbol.span)),
                container_name=container,
            )
        )
        result.extend(_flat_symbols(symbol.children, codec, uri, symbol.name))
    return result


def document_symbols(
    ls: LetterheadServer, params: types.DocumentSymbolParams
) -> list[types.DocumentSymbol] | list[types.SymbolInformation] | None:
    request = request_for(ls, params.text_document.uri)
    if request is None:
        return None
    found = symbols_feature.document_symbols(request.parsed, request.state.loaded.settings)
    if ls.supports("text_document.document_symbol.hierarchical_document_symbol_support"):
        return [_document_symbol(symbol, request.codec) for symbol in found]
    return _flat_symbols(found, request.codec, request.document.uri)


WORKSPACE_SYMBOL_LIMIT = 100


def workspace_symbols(
    ls: LetterheadServer, params: types.WorkspaceSymbolParams
) -> list[types.WorkspaceSymbol]:
    result: list[types.WorkspaceSymbol] = []
    for state in list(ls.state.sites.values()):
        found, _ = symbols_feature.workspace_symbols(
            state.loaded, params.query, WORKSPACE_SYMBOL_LIMIT
        )
        for symbol in found:
            result.append(
                types.WorkspaceSymbol(
                    name=symbol.name,
                    kind=_SYMBOL_KINDS.get(symbol.kind, types.SymbolKind.File),
                    location=types.Location(
                        uri=ls.uri_for(state, symbol.path),
                        range=types.Range(
                            start=types.Position(line=symbol.range.start.line, character=0),
                            end=types.Position(line=symbol.range.end.line, character=0),
                        ),
                    ),
                    container_name=symbol.detail or None,
                )
            )
    return result[:WORKSPACE_SYMBOL_LIMIT]


def document_links(
    ls: LetterheadServer, params: types.DocumentLinkParams
) -> list[types.DocumentLink] | None:
    request = request_for(ls, params.text_document.uri)
    if request is None:
        return None
    tooltips = ls.supports("text_document.document_link.tooltip_support")
    result = []
    for link in links_feature.document_links(
        request.state.loaded, request.relative, request.parsed
    ):
        target = link.target if link.is_url else ls.uri_for(request.state, link.target)
        result.append(
            types.DocumentLink(
                range=request.codec.span(link.span),
                target=target,
                tooltip=(link.tooltip or None) if tooltips else None,
            )
        )
    return result


def folding_ranges(
    ls: LetterheadServer, params: types.FoldingRangeParams
) -> list[types.FoldingRange] | None:
    document = ls.state.get(params.text_document.uri)
    if document is None:
        return None
    return [
        types.FoldingRange(start_line=start, end_line=end, kind=types.FoldingRangeKind.Region)
        for start, end in folding_feature.folding_ranges(ls.parse(document))
    ]


# -- registration ------------------------------------------------------------------------------


def timed(handler: Callable[[LetterheadServer, Any], R]) -> Callable[[LetterheadServer, Any], R]:
    """`handler`, logging its time to the client when the trace setting is verbose."""
    name = handler.__name__

    @functools.wraps(handler)
    def measured(ls: LetterheadServer, params: Any) -> R:
        if not ls.verbose():
            return handler(ls, params)
        started = time.perf_counter()
        result = handler(ls, params)
        elapsed = (time.perf_counter() - started) * 1000
        ls.log(f"letterhead: {name} in {elapsed:.1f} ms", types.MessageType.Log)
        return result

    return measured


def register(server: LetterheadServer) -> None:
    """Register every feature handler on `server`."""
    server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS, resolve_provider=True),
    )(timed(completion))
    server.feature(types.COMPLETION_ITEM_RESOLVE)(timed(resolve_completion))
    server.feature(types.TEXT_DOCUMENT_HOVER)(timed(hover))
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[
                types.CodeActionKind.QuickFix,
                types.CodeActionKind.RefactorRewrite,
                types.CodeActionKind.Source,
            ]
        ),
    )(timed(code_actions))
    server.feature(types.TEXT_DOCUMENT_DEFINITION)(timed(definition))
    server.feature(types.TEXT_DOCUMENT_REFERENCES)(references)  # async, cancellable; timed
    server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)(timed(prepare_rename))
    server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))(
        rename  # async, cancellable; times itself
    )
    server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)(timed(document_symbols))
    server.feature(types.WORKSPACE_SYMBOL)(timed(workspace_symbols))
    server.feature(
        types.TEXT_DOCUMENT_DOCUMENT_LINK, types.DocumentLinkOptions(resolve_provider=False)
    )(timed(document_links))
    server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)(timed(folding_ranges))
