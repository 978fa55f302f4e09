"""What a reader sees of Markdown: the oracle for workspace text kept as written in hovers
and completion documentation."""

from __future__ import annotations

import html.parser

from markdown_it import MarkdownIt


class _ShownText(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def shown(markdown: str) -> str:
    """What a reader sees of `markdown`: markdown-it renders it (with strikethrough, as VS Code
    does), the tags dropped, the entities read."""
    reader = _ShownText()
    reader.feed(MarkdownIt("commonmark").enable("strikethrough").render(markdown))
    reader.close()
    return "".join(reader.parts)
