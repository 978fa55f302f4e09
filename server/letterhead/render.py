"""Previews of a letter's parts: the salutation rendered from the site's Liquid template.

Templates come from the site's `_config.yml`, so they are untrusted: they are rendered by
python-liquid with no template loader (`include`/`render` cannot read files), bounded loops and
output, and any error falls back to a plain substitution instead of raising.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liquid import BoundTemplate, Environment

_MAX_OUTPUT = 4_000  # characters; a salutation is one line
_PAGE_VARIABLE = re.compile(r"\{\{-?\s*page\.(\w+)\s*(?:\|[^}]*)?-?\}\}")


@functools.cache
def _environment() -> Environment:
    """The bounded Liquid environment, made on first use: importing python-liquid (and the
    date library it imports) takes longer than loading the rest of the engine, and most runs
    render nothing. The language server calls `prepare` once its index is in use."""
    from liquid import Environment

    class BoundedEnvironment(Environment):
        """A Liquid environment that cannot loop, nest or write without bound."""

        loop_iteration_limit = 200
        local_namespace_limit = 10_000
        output_stream_limit = _MAX_OUTPUT
        context_depth_limit = 10

    return BoundedEnvironment()


def prepare() -> None:
    """Load the template engine now rather than at the first render."""
    _environment()


def prepared() -> bool:
    """Whether the template engine is loaded."""
    return _environment.cache_info().currsize > 0


def parse_template(source: str) -> BoundTemplate | None:
    """`source` as a template of the bounded environment, or None where Liquid refuses it."""
    from liquid.exceptions import LiquidError

    try:
        return _environment().from_string(source)
    except (LiquidError, RecursionError, ValueError, TypeError):
        return None


def render_template(template: BoundTemplate, **values: Any) -> str | None:
    """What `template` renders to with `values`, at most `_MAX_OUTPUT` characters; None where
    rendering fails."""
    from liquid.exceptions import LiquidError

    try:
        return str(template.render(**values))[:_MAX_OUTPUT]
    except (LiquidError, RecursionError, ValueError, TypeError, AttributeError):
        return None


_parse = functools.lru_cache(maxsize=32)(parse_template)


def render_salutation(template: str, data: Mapping[str, Any]) -> str:
    """The salutation `template` renders to for a page whose front matter is `data`.

    `data` is exposed as `page`, as Jekyll does: `{{ page.addressee }}`. Never raises.
    """
    page = {str(key): value for key, value in data.items()}
    parsed = _parse(template)
    rendered = render_template(parsed, page=page) if parsed is not None else None
    return rendered if rendered is not None else _substitute(template, page)


def template_keys(template: str) -> list[str]:
    """The front matter keys a template reads as `{{ page.key }}`, in order of first use."""
    keys: list[str] = []
    for match in _PAGE_VARIABLE.finditer(template):
        if match.group(1) not in keys:
            keys.append(match.group(1))
    return keys


def _substitute(template: str, page: Mapping[str, Any]) -> str:
    """A plain `{{ page.key }}` substitution for templates Liquid cannot render."""

    def value(match: re.Match[str]) -> str:
        found = page.get(match.group(1))
        return "" if found is None else str(found)

    return _PAGE_VARIABLE.sub(value, template)[:_MAX_OUTPUT]
