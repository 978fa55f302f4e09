"""Measuring a composed YAML node graph before it is constructed: alias bombs, cycles, depth.

Aliases make the graph PyYAML composes a DAG (or, with a recursive anchor, a cyclic graph) whose
expansion can be exponentially larger than the text. Constructing it is cheap (aliases become
shared references), but anything that later walks the values does the exponential work, so the
graph is measured first. Sizes are memoised per node: each distinct node is visited once whatever
the expansion, and a node met again on its own path is a cycle. Front matter and the site's own
YAML files (`site/yamldata`) share this one measure.
"""

from __future__ import annotations

import yaml

# Nesting beyond this is refused everywhere: far beyond real data, far below harm.
MAX_DEPTH = 50


def children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


class GraphMeasure:
    """Expanded size and height of YAML nodes, memoised across calls on one graph."""

    def __init__(self, aliased: bool, max_expanded: int) -> None:
        self.aliased = aliased  # without anchors nothing expands, and only the depth matters
        self.max_expanded = max_expanded
        self.sizes: dict[int, tuple[int, int]] = {}  # node id -> (values expanded, height)

    def why_unsafe(self, root: yaml.Node) -> str | None:
        """Why the graph under `root` is unsafe to construct and walk, as a predicate such as
        "holds a recursive YAML alias" (None when it is fine)."""
        if not self.aliased:
            return _too_deep(root)
        sizes = self.sizes
        on_path: set[int] = set()
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, finished = stack.pop()
            node_id = id(node)
            if finished:
                on_path.discard(node_id)
                measured = [sizes[id(child)] for child in children(node)]
                total = 1 + sum(size for size, _ in measured)
                height = 1 + max((child_height for _, child_height in measured), default=0)
                if self.aliased and total > self.max_expanded:
                    return f"expands to more than {self.max_expanded:,} values through YAML aliases"
                if height > MAX_DEPTH:
                    return f"is nested more than {MAX_DEPTH} levels deep"
                sizes[node_id] = (total, height)
                continue
            if node_id in sizes:
                continue
            on_path.add(node_id)
            stack.append((node, True))
            for child in children(node):
                child_id = id(child)
                if child_id in on_path:
                    return "holds a recursive YAML alias"
                if child_id not in sizes:
                    stack.append((child, False))
        return None


def _too_deep(root: yaml.Node) -> str | None:
    """Without aliases nothing expands and there is no cycle: only depth can do harm. This is
    the common case (every ordinary front matter), so it skips scalars and keeps no memo."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"is nested more than {MAX_DEPTH} levels deep"
        for child in children(node):
            if not isinstance(child, yaml.ScalarNode):
                stack.append((child, depth + 1))
    return None
