"""The site's own YAML files (`_config.yml`, data files) loaded safely and in bounded time.

Only PyYAML's safe C loader is used, and the composed node graph is measured before anything is
constructed: aliases can make a few lines expand to billions of values (or to a cycle), and deep
nesting makes every recursive walk downstream fail. Constructing such a graph is cheap (aliases
become shared references), but anything that later walks the values (defaults merged into every
review, tags flattened, values rendered) would do the exponential work, so it is refused here:
a data file as a whole (`YamlTooComplex`, a `yaml.YAMLError`), `_config.yml` one top-level key at
a time, so that one bad key does not take the site's permalink and defaults with it.
"""

from __future__ import annotations

from typing import Any

import yaml

from letterhead.yamlsafe import MAX_DEPTH, GraphMeasure

__all__ = ["MAX_DEPTH", "MAX_EXPANDED_NODES", "YamlTooComplex", "safe_load", "safe_load_mapping"]

# Values after alias expansion, and nesting depth: far beyond any real configuration or data
# file, far below harm. Without anchors there is no expansion and only the depth is measured.
MAX_EXPANDED_NODES = 100_000


class YamlTooComplex(yaml.YAMLError):
    """The YAML is valid but too large or too deep once aliases are expanded; not constructed."""


def safe_load(text: str) -> Any:
    """`yaml.safe_load` with the C loader, refusing alias bombs, recursive aliases and deep
    nesting before construction. Raises `yaml.YAMLError` (`YamlTooComplex` for those)."""
    loader = yaml.CSafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        problem = _why_unsafe(GraphMeasure("&" in text, MAX_EXPANDED_NODES), root)
        if problem is not None:
            raise YamlTooComplex(problem)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def safe_load_mapping(text: str) -> tuple[Any, dict[str, str]]:
    """Like `safe_load`, but when the document is a mapping a value too complex to read refuses
    only its own key: the data without those keys, and each refused key with the reason."""
    loader = yaml.CSafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        measure = GraphMeasure("&" in text, MAX_EXPANDED_NODES)
        if not isinstance(root, yaml.MappingNode):
            problem = _why_unsafe(measure, root)
            if problem is not None:
                raise YamlTooComplex(problem)
            return loader.construct_document(root), {}
        refused: dict[str, str] = {}
        kept = []
        for key_node, value_node in root.value:
            problem = _why_unsafe(measure, key_node) or _why_unsafe(measure, value_node)
            if problem is None:
                kept.append((key_node, value_node))
            else:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                refused[str(key)] = problem
        root.value = kept
        return loader.construct_document(root), refused
    finally:
        loader.dispose()


def _why_unsafe(measure: GraphMeasure, node: yaml.Node) -> str | None:
    reason = measure.why_unsafe(node)
    return None if reason is None else f"it {reason}; it was not read"
