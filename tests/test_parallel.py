"""Checking on several cores gives exactly the findings of one core."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from letterhead.check import check_site, load_site
from letterhead.indexer import index_site
from letterhead.parallel import MIN_DOCUMENTS_PER_WORKER, check_paths

ROOT = Path(__file__).resolve().parent.parent


def generate(out: Path, reviews: int) -> None:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "bench" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate", module)
    spec.loader.exec_module(module)
    module.generate_site(out, reviews=reviews, seed=11)


def test_two_workers_find_what_one_process_finds(tmp_path: Path) -> None:
    site = tmp_path / "site"
    generate(site, 2 * MIN_DOCUMENTS_PER_WORKER + 50)
    loaded = load_site(site)
    serial = check_site(loaded, loaded.checked_paths())
    parallel, checked, _ = check_paths(site, [site], jobs=2)
    assert checked == loaded.checked_paths()
    assert serial, "the generator plants mistakes; the check found none"
    assert parallel == serial


def test_a_subset_of_paths_is_checked_alone(tmp_path: Path) -> None:
    site = tmp_path / "site"
    generate(site, 2 * MIN_DOCUMENTS_PER_WORKER + 50)
    posts = sorted((site / "_posts").glob("*.md"))[:3]
    findings, checked, _ = check_paths(site, posts, jobs=2)
    assert checked == sorted(p.relative_to(site).as_posix() for p in posts)
    assert {f.path for f in findings} <= set(checked)


def test_the_servers_index_on_two_cores_is_the_one_of_load_site(tmp_path: Path) -> None:
    """`indexer.index_site` (the language server's cold index) keeps no parsed document, and its
    index, built from records made in a forked worker and here, is the one `load_site` builds."""
    site = tmp_path / "site"
    generate(site, 2 * MIN_DOCUMENTS_PER_WORKER + 50)
    serial = load_site(site)
    indexed = index_site(site, jobs=2)
    assert indexed.documents == {}
    assert indexed.index.documents == serial.index.documents
    assert list(indexed.index.documents) == list(serial.index.documents)  # the same order
    assert indexed.index.statics == serial.index.statics
    assert dict(indexed.index.urls()) == dict(serial.index.urls())
    assert sorted(indexed.index.post_ids()) == sorted(serial.index.post_ids())
    assert indexed.index.tags.all() == serial.index.tags.all()
    # Findings computed from the kept index and parses read again from disk are the same.
    assert check_site(indexed) == check_site(serial)
