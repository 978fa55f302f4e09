"""Editors' texts packed while nothing uses them come back exactly, smaller once the packer has
its dictionary of the site's first texts."""

from __future__ import annotations

import threading
import zlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from letterhead.check import TextPacker

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_POSTS = ROOT / "examples" / "site" / "_posts"

# Any text an editor may send, lone surrogates included (JSON can carry them).
texts = st.text(st.characters(blacklist_categories=()), max_size=400)


@settings(max_examples=200)
@given(st.lists(texts, min_size=1, max_size=12))
def test_every_text_comes_back_as_it_was_packed(batch: list[str]) -> None:
    packer = TextPacker(dictionary_bytes=64)  # small: the later texts are packed against it
    packed = [packer.pack(text) for text in batch]
    assert [packer.unpack(data) for data in packed] == batch
    assert packer.unpack("not packed") == "not packed"


def test_reviews_of_a_site_pack_smaller_against_the_first_ones() -> None:
    reviews = [path.read_text(encoding="utf-8") for path in sorted(EXAMPLE_POSTS.glob("*.md"))]
    packer = TextPacker()
    packed = [packer.pack(review) for review in reviews]
    assert packer.dictionary is not None
    later = [i for i, data in enumerate(packed) if data[1] & 0x20]
    assert len(later) >= len(reviews) // 2, "the dictionary came too late to matter"
    alone = sum(len(zlib.compress(reviews[i].encode(), 1)) for i in later)
    assert sum(len(packed[i]) for i in later) < 0.9 * alone
    assert [packer.unpack(data) for data in packed] == reviews


def test_two_threads_packing_at_once_share_one_dictionary() -> None:
    reviews = [path.read_text(encoding="utf-8") for path in sorted(EXAMPLE_POSTS.glob("*.md"))]
    packer = TextPacker(dictionary_bytes=4_096)
    results: list[list[tuple[str, bytes]]] = [[], []]

    def pack(into: list[tuple[str, bytes]], order: list[str]) -> None:
        for _ in range(20):
            into.extend((review, packer.pack(review)) for review in order)

    threads = [
        threading.Thread(target=pack, args=(results[0], reviews)),
        threading.Thread(target=pack, args=(results[1], reviews[::-1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pairs = results[0] + results[1]
    assert all(packer.unpack(data) == review for review, data in pairs)
    dictionaries = {data[2:6] for _, data in pairs if data[1] & 0x20}
    assert len(dictionaries) == 1
