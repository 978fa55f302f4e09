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

__all__ = ["MAX_DEPTH", "MAX_EXPANDED_NODES", "YamlTooComplex", "safe_load", "safe_load_mapping"]

# Values after alias expansion, and nesting depth: far beyond any real configuration or data
# file, far below harm. Without anchors there is no expansion and only the depth is measured.
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 50


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
        problem = _Measure(aliased="&" in text).why_unsafe(root)
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
        measure = _Measure(aliased="&" in text)
        if not isinstance(root, yaml.MappingNode):
            problem = measure.why_unsafe(root)
            if problem is not None:
                raise YamlTooComplex(problem)
            return loader.construct_document(root), {}
        refused: dict[str, str] = {}
        kept = []
        for key_node, value_node in root.value:
            problem = measure.why_unsafe(key_node) or measure.why_unsafe(value_node)
            if problem is None:
                kept.append((key_node, value_node))
            else:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                refused[str(key)] = problem
        root.value = kept
        return loader.construct_document(root), refused
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


class _Measure:
    """Expanded size and height of YAML nodes, memoised across calls: each distinct node is
    visited once whatever the expansion, and a node met again on its own path is a cycle."""

    def __init__(self, aliased: bool) -> None:
        self.aliased = aliased
        self.sizes: dict[int, tuple[int, int]] = {}  # node id -> (values expanded, height)

    def why_unsafe(self, root: yaml.Node) -> str | None:
        """Why the graph under `root` is unsafe to construct and walk (None when it is fine)."""
        sizes = self.sizes
        on_path: set[int] = set()
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, finished = stack.pop()
            node_id = id(node)
            if finished:
                on_path.discard(node_id)
                measured = [sizes[id(child)] for child in _children(node)]
                total = 1 + sum(size for size, _ in measured)
                height = 1 + max((child_height for _, child_height in measured), default=0)
                if self.aliased and total > MAX_EXPANDED_NODES:
                    return (
                        f"it expands to more than {MAX_EXPANDED_NODES:,} values through YAML "
                        "aliases; it was not read"
                    )
                if height > MAX_DEPTH:
                    return f"it is nested more than {MAX_DEPTH} levels deep; it was not read"
                sizes[node_id] = (total, height)
                continue
            if node_id in sizes:
                continue
            on_path.add(node_id)
            stack.append((node, True))
            for child in _children(node):
                child_id = id(child)
                if child_id in on_path:
                    return "it holds a recursive YAML alias; it was not read"
                if child_id not in sizes:
                    stack.append((child, False))
        return None
