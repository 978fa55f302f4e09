"""The language server: the protocol edge of letterhead (pygls 2 and lsprotocol).

`server` wires the handlers, `workspace` holds the server's state (sites, open documents,
debounced checks) and `convert` is the one place engine positions and types become protocol
types and back. The engine (`letterhead.*` outside this package) never imports this package.
"""
