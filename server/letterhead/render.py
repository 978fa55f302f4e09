"""Previews of a letter's parts: the salutation rendered from the site's Liquid template.

Templates come from the site's `_config.yml`, so they are untrusted: they are rendered by
python-liquid with no template loader (`include`/`render` cannot read files), bounded loops and
output, and any error falls back to a plain substitution instead of raising.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError

_MAX_OUTPUT = 4_000  # characters; a salutation is one line


class _BoundedEnvironment(Environment):
    """A Liquid environment that cannot loop, nest or write without bound."""

    loop_iteration_limit = 200
    local_namespace_limit = 10_000
    output_stream_limit = _MAX_OUTPUT
    context_depth_limit = 10


_ENVIRONMENT = _BoundedEnvironment()
_PAGE_VARIABLE = re.compile(r"\{\{-?\s*page\.(\w+)\s*(?:\|[^}]*)?-?\}\}")


@functools.lru_cache(maxsize=32)
def _parse(template: str) -> BoundTemplate | None:
    try:
        return _ENVIRONMENT.from_string(template)
    except (LiquidError, RecursionError, ValueError, TypeError):
        return None


def render_salutation(template: str, data: Mapping[str, Any]) -> str:
    """The salutation `template` renders to for a page whose front matter is `data`.

    `data` is exposed as `page`, as Jekyll does: `{{ page.addressee }}`. Never raises.
    """
    page = {str(key): value for key, value in data.items()}
    parsed = _parse(template)
    if parsed is not None:
        try:
            return str(parsed.render(page=page))[:_MAX_OUTPUT]
        except (LiquidError, RecursionError, ValueError, TypeError, AttributeError):
            pass
    return _substitute(template, page)


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
