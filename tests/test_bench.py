"""The benchmark's own code. Its measures of the machine: the issue's floor (bench/run.py
`FLOOR`) reads what it says it reads and parses what it says it parses, so that its time can
stand for the machine's speed; its stalls (`STALLS`) are counted from slices it did time. Its
tables: a series of requests keeps its largest request and which one it was, shown apart from
the p99s, which never show a first request's one-time work."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_modules import load

run = load("run")
generate = load("generate")
lsp = load("lsp")


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


def test_a_series_keeps_its_largest_request_and_which_it_was() -> None:
    result: dict[str, float] = {}
    times = [0.004] * 199
    times.insert(0, 0.150)  # a first request that builds a table
    times[60], times[120] = 0.007, 0.009

    lsp.record_series(result, "completion_link", times)

    assert result["completion_link_max_ms"] == pytest.approx(150)
    assert result["completion_link_max_at"] == 1
    assert result["completion_link_p99_ms"] == pytest.approx(7)  # the third largest of 200
    assert result["completion_link_p50_ms"] == pytest.approx(4)


def test_the_largest_requests_are_a_table_of_their_own() -> None:
    report = {
        "runs": 2,
        "sizes": {
            "1000": {"runs": [{"completion_link_max_ms": 7.5, "completion_link_max_at": 40}]},
            "20000": {
                "runs": [
                    {"completion_link_max_ms": 150.0, "completion_link_max_at": 1},
                    {"completion_link_max_ms": 120.0, "completion_link_max_at": 3},
                ]
            },
        },
    }

    header, rows = lsp.largest_rows(report)

    assert header == ["series", "1,000 reviews", "20,000 reviews", "which request, by run"]
    # Only the series measured: the median over runs, their range, and where each run's was.
    assert rows == [
        ["completion after `](/content/` (ms)", "7.5", "135 (120–150)", "1, 3 (at 20,000)"]
    ]
