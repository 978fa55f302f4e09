"""Editor features as pure functions over the engine; the protocol layer (`lsp/`) converts them.

Each module answers one kind of editor question for a document of a loaded site:
`completion.complete`, `hover.hover`, `actions.code_actions`, `navigation` (`definition`,
`references`, `prepare_rename`, `rename`), `symbols` (`document_symbols`, `workspace_symbols`),
`links.document_links` and `folding.folding_ranges`. Their answers are the plain types of
`features.types`: spans (code-point offsets) in the current document, `Location`s (path and
code-point range) elsewhere. No module here imports pygls or lsprotocol, none raises (a bug is
logged and answered with "nothing"), and none does work proportional to the site per keystroke:
site-wide lists live in `catalog`, cached on the index and refreshed incrementally.
"""
