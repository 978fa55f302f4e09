"""The protocol stack's generated code, kept between runs (`letterhead.lsp.codecache`).

What the cache hands out must be exactly what `compile` would make, called where the library
called it (its `__future__` features included); a file that is torn, corrupt, foreign or
writable by others is never used; and a file is written only when enough was missing from it.
"""

from __future__ import annotations

import builtins
import marshal
import os
import stat
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letterhead.lsp import codecache
from letterhead.lsp.codecache import GeneratedCode

# (source, mode) as attrs and cattrs write them, and some they do not.
SOURCES = [
    ("def __init__(self, x: int, y: Missing = 1):\n    self.x = x\n    self.y = y\n", "exec"),
    ("def __repr__(self):\n    return f'P(x={self.x!r})'\n", "exec"),
    ("def f(a: 'A') -> Undefined:\n    return [i * 2 for i in a]\n", "exec"),
    ("x + 1", "eval"),
    ("print('hé ✓', end='')", "single"),
    ("class K:\n    z: Nope = 3\n", "exec"),
]


def _caller(future_annotations: bool) -> Callable[[Any, str, str], Any]:
    """A function that calls `compile_` as library code does, in a module with (or without)
    `from __future__ import annotations`."""
    header = "from __future__ import annotations\n" if future_annotations else ""
    namespace: dict[str, Any] = {}
    source = (
        header + "def call(compile_, source, mode):\n    return compile_(source, '<gen>', mode)\n"
    )
    exec(builtins.compile(source, "<library>", "exec", 0, True), namespace)
    return namespace["call"]  # type: ignore[no-any-return]


def _same(a: CodeType, b: CodeType) -> bool:
    """Equal code (instructions, constants, names, flags, positions) from the same file name."""
    return a == b and (a.co_filename, a.co_flags) == (b.co_filename, b.co_flags)


@pytest.mark.parametrize("future_annotations", [False, True])
@pytest.mark.parametrize(("source", "mode"), SOURCES)
def test_the_code_is_what_compile_makes_where_it_was_called(
    source: str, mode: str, future_annotations: bool, tmp_path: Path
) -> None:
    call = _caller(future_annotations)
    expected = call(builtins.compile, source, mode)
    first = GeneratedCode(tmp_path / "code.marshal")
    assert _same(call(first.compile, source, mode), expected)
    assert first.save()
    again = GeneratedCode(tmp_path / "code.marshal")
    reused = call(again.compile, source, mode)
    assert again.hits == 1 and again.compiled == 0
    assert _same(reused, expected)


def test_the_callers_future_features_are_part_of_the_key(tmp_path: Path) -> None:
    source = "def f(x: Undefined): pass\n"
    cache = GeneratedCode(tmp_path / "code.marshal")
    with_future = _caller(True)(cache.compile, source, "exec")
    without = _caller(False)(cache.compile, source, "exec")
    assert cache.compiled == 2
    exec(with_future, {})  # annotations kept as text: nothing to look up
    with pytest.raises(NameError):
        exec(without, {})


def test_explicit_flags_and_asts_pass_through(tmp_path: Path) -> None:
    import ast

    cache = GeneratedCode(tmp_path / "code.marshal")
    tree = cache.compile("x = 1", "<t>", "exec", ast.PyCF_ONLY_AST)
    assert isinstance(tree, ast.Module) and cache.compiled == 0
    code = cache.compile(tree, "<t>", "exec")
    assert isinstance(code, CodeType)
    assert _same(code, builtins.compile(tree, "<t>", "exec"))  # called from here, as it was


def _saved(tmp_path: Path, count: int = 20) -> Path:
    path = tmp_path / "code.marshal"
    cache = GeneratedCode(path)
    for number in range(count):
        cache.compile(f"def f{number}(): return {number}\n", f"<f{number}>", "exec")
    assert cache.save()
    return path


def test_a_written_file_serves_the_next_run_and_is_private(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = GeneratedCode(path)
    for number in range(20):
        namespace: dict[str, Any] = {}
        exec(
            again.compile(f"def f{number}(): return {number}\n", f"<f{number}>", "exec"), namespace
        )
        assert namespace[f"f{number}"]() == number
    assert (again.hits, again.compiled) == (20, 0)
    assert not again.save()  # nothing was missing: nothing is written


def test_a_few_misses_are_not_worth_a_write_and_many_are(tmp_path: Path) -> None:
    path = _saved(tmp_path, count=100)
    for fresh, written in ((1, False), (10, True)):
        cache = GeneratedCode(path)
        for number in range(100):
            cache.compile(f"def f{number}(): return {number}\n", f"<f{number}>", "exec")
        for number in range(fresh):
            cache.compile(f"def g{number}(): pass\n", f"<g{number}-{fresh}>", "exec")
        assert cache.save() is written, fresh


def _damaged(path: Path) -> dict[str, Callable[[bytes], bytes]]:
    def with_digest(payload: bytes) -> bytes:
        import hashlib

        digest = hashlib.blake2b(payload, digest_size=32).digest()
        return codecache._HEADER + digest + payload

    return {
        "empty": lambda blob: b"",
        "torn": lambda blob: blob[: len(blob) // 2],
        "one byte changed": lambda blob: blob[:-10] + bytes([blob[-10] ^ 1]) + blob[-9:],
        "another header": lambda blob: b"X" + blob[1:],
        "not a mapping": lambda blob: with_digest(marshal.dumps([1, 2, 3])),
        "not code": lambda blob: with_digest(marshal.dumps({b"k" * 20: "print('no')"})),
        "not marshal": lambda blob: with_digest(b"\xff\x00garbage"),
    }


@pytest.mark.parametrize("damage", list(_damaged(Path())))
def test_a_damaged_file_is_ignored_and_written_again(tmp_path: Path, damage: str) -> None:
    path = _saved(tmp_path)
    path.write_bytes(_damaged(path)[damage](path.read_bytes()))
    cache = GeneratedCode(path)
    assert cache.codes == {}
    namespace: dict[str, Any] = {}
    exec(cache.compile("def f1(): return 1\n", "<f1>", "exec"), namespace)
    assert namespace["f1"]() == 1
    assert cache.save()  # everything was missing: a good file replaces the damaged one
    assert len(GeneratedCode(path).codes) == 1


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="no file owners here")
def test_a_file_others_may_write_is_not_used(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    path.chmod(0o620)
    assert GeneratedCode(path).codes == {}
    path.chmod(0o600)
    assert len(GeneratedCode(path).codes) == 20


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_load_without_harm(blob: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "code.marshal"
        for content in (blob, codecache._HEADER + blob):
            path.write_bytes(content)
            path.chmod(0o600)
            assert GeneratedCode(path).codes == {}


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LETTERHEAD_CACHE_DIR", str(tmp_path))
    assert GeneratedCode.for_this_interpreter().path is not None
    monkeypatch.setenv("LETTERHEAD_CACHE", "off")
    cache = GeneratedCode.for_this_interpreter()
    cache.compile("x = 1", "<t>", "exec")
    assert cache.path is None and not cache.save()
    assert list(tmp_path.iterdir()) == []
