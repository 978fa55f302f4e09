"""The benchmark's measures of the machine: the issue's floor (bench/run.py `FLOOR`) reads what
it says it reads and parses what it says it parses, so that its time can stand for the machine's
speed; its stalls (`STALLS`) are counted from slices it did time."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


run = load("run")
generate = load("generate")


def test_floor_reads_every_review_and_parses_each_front_matter(tmp_path: Path) -> None:
    site = tmp_path / "site"
    generate.generate_site(site, reviews=30, seed=4)
    reviews = [*site.joinpath("_posts").rglob("*.md"), *site.joinpath("_drafts").rglob("*.md")]
    # Two that the C loader reads but that hold no mapping to count as parsed: no front matter
    # at all, and one that is a list.
    site.joinpath("_posts", "2020-01-01-no-front-matter.md").write_text("Dear reader,\n")
    site.joinpath("_drafts", "a-list.md").write_text("---\n- one\n- two\n---\nDear reader,\n")

    floor = run.measure_floor(site)

    assert floor["floor_reviews"] == len(reviews) + 2
    assert floor["floor_parsed"] == len(reviews)
    assert 0 < floor["floor_read_s"] <= floor["floor_yaml_s"]


def test_stalls_are_counted_from_the_slices_timed() -> None:
    stalls = run.measure_stalls(0.3)

    assert stalls["stall_slices"] >= 10
    assert 0 <= stalls["stalled"] < stalls["stall_slices"]
    assert 0 < stalls["stall_median_ms"] <= stalls["stall_p99_ms"] <= stalls["stall_max_ms"]
    assert stalls["stall_heap_mib"] > 100  # the heap the lookups go through is there
