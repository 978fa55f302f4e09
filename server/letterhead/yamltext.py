"""Writing YAML text by hand for fixes, so edits keep the author's quotes, lists and comments."""

from __future__ import annotations

import re

# A plain scalar that is safe both in block context and inside a flow list `[a, b]`.
_SAFE_PLAIN = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^,\[\]{}#:]*(?<!\s)$")
_RESOLVES_TO_OTHER = re.compile(
    r"^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF"
    r"|[-+]?(?:\d[\d_]*)?\.?\d+(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|\d{4}-\d\d?-\d\d?.*)$"
)


def scalar(text: str, quote: str | None = None) -> str:
    """`text` as a YAML scalar: plain when that reads back as the same string, else quoted.

    `quote` ("'" or '"') forces that quoting style, to match what the author wrote.
    """
    if quote == "'":
        return "'" + text.replace("'", "''") + "'"
    if quote == '"' or not _SAFE_PLAIN.match(text) or _RESOLVES_TO_OTHER.match(text):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + escaped + '"'
    return text


def quote_of(written: str) -> str | None:
    """The quote character a scalar was written with, or None for a plain scalar."""
    if len(written) >= 2 and written[0] == written[-1] and written[0] in "'\"":
        return written[0]
    return None


def flow_list(items: list[str]) -> str:
    return "[" + ", ".join(scalar(item) for item in items) + "]"
