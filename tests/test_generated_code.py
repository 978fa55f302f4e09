"""Generated code, kept between runs (`letterhead.codecache`).

What the cache hands out must be exactly what `compile` would make, called where the library
called it (its `__future__` features included), and its `exec` must do what `exec` does; a file
that is torn, corrupt, foreign or writable by others is never used; a file is written only when
enough was missing from it; and a real start of the command line takes the engine's dataclasses
from it.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letterhead import codecache
from letterhead.codecache import GeneratedCode

# (source, mode) as attrs and cattrs write them, and some they do not.
SOURCES = [
    ("def __init__(self, x: int, y: Missing = 1):\n    self.x = x\n    self.y = y\n", "exec"),
    ("def __repr__(self):\n    return f'P(x={self.x!r})'\n", "exec"),
    ("def f(a: 'A') -> Undefined:\n    return [i * 2 for i in a]\n", "exec"),
    ("x + 1", "eval"),
    ("print('hé ✓', end='')", "single"),
    ("class K:\n    z: Nope = 3\n", "exec"),
]


# Source as `dataclasses` hands it to `exec` (a function that makes the method), and some more;
# `Missing` is a global of the namespace they run in.
EXEC_SOURCES = [
    "def __create_fn__(_type_x, MISSING):\n"
    " def __init__(self, x: _type_x = MISSING) -> None:\n"
    "  self.x = x\n"
    " return __init__\n",
    "def f(a: 'A', b: Missing = None) -> Missing:\n    return [i * 2 for i in a]\n",
    "class K:\n    z: Missing = 3\n    def m(self) -> Missing:\n        return 'hé ✓'\n",
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


def _exec_caller(future_annotations: bool) -> Callable[..., dict[str, Any]]:
    """A function that calls `exec_` as `dataclasses` does (source, globals, a namespace to
    fill), in a module with (or without) `from __future__ import annotations`."""
    header = "from __future__ import annotations\n" if future_annotations else ""
    namespace: dict[str, Any] = {}
    source = header + (
        "def call(exec_, source):\n"
        "    namespace = {}\n"
        "    exec_(source, {'Missing': object}, namespace)\n"
        "    return namespace\n"
    )
    exec(builtins.compile(source, "<library>", "exec", 0, True), namespace)
    return namespace["call"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("future_annotations", [False, True])
@pytest.mark.parametrize("source", EXEC_SOURCES)
def test_exec_runs_what_exec_compiles_where_it_was_called(
    source: str, future_annotations: bool, tmp_path: Path
) -> None:
    call = _exec_caller(future_annotations)
    expected = call(builtins.exec, source)
    first = GeneratedCode(tmp_path / "code.marshal")
    made = call(first.exec, source)
    assert first.save() and first.compiled == 1
    again = GeneratedCode(tmp_path / "code.marshal")
    reused = call(again.exec, source)
    assert again.hits == 1 and again.compiled == 0
    for namespace in (made, reused):
        assert namespace.keys() == expected.keys()
        for name, value in expected.items():
            ours = namespace[name]
            if isinstance(value, type):  # a class: its annotations, and its methods below
                assert ours.__annotations__ == value.__annotations__, name
                ours, value = ours.m, value.m
            assert _same(ours.__code__, value.__code__), name
            assert ours.__annotations__ == value.__annotations__, name


def test_exec_without_namespaces_runs_in_the_callers(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"seen": []}
    library = "def call(exec_):\n    exec_('seen.append(__name__)')\n"
    exec(builtins.compile(library, "<library>", "exec", 0, True), namespace)
    namespace["__name__"] = "library"
    namespace["call"](GeneratedCode(tmp_path / "code.marshal").exec)
    assert namespace["seen"] == ["library"]


@pytest.fixture
def dataclasses_through(tmp_path: Path) -> Iterator[Callable[[], GeneratedCode]]:
    """Install a fresh cache (on one file) in `dataclasses` as the command line does; the
    module's own `exec` is put back after the test."""
    installed: list[GeneratedCode] = []

    def install() -> GeneratedCode:
        cache = GeneratedCode(tmp_path / "code.marshal")
        cache.install(codecache.ENGINE_LIBRARIES)
        installed.append(cache)
        return cache

    yield install
    vars(dataclasses).pop("exec", None)  # the built-in again


def _point_class() -> type:
    @dataclasses.dataclass(frozen=True, slots=True, order=True)
    class Point:
        x: int
        y: int = 0
        tags: list[str] = dataclasses.field(default_factory=list)

    return Point


def test_a_dataclass_made_through_the_cache_is_the_same_class(
    dataclasses_through: Callable[[], GeneratedCode],
) -> None:
    plain = _point_class()
    first = dataclasses_through()
    cached = _point_class()
    assert first.compiled > 5 and first.save()
    again = dataclasses_through()
    reused = _point_class()
    assert again.compiled == 0 and again.hits == first.compiled
    for point in (cached, reused):
        for method in ("__init__", "__repr__", "__eq__", "__lt__", "__hash__", "__setattr__"):
            assert _same(getattr(point, method).__code__, getattr(plain, method).__code__)
        one = point(1, tags=["a"])
        assert (repr(one), one == point(1, 0, ["a"]), one < point(2)) == (
            "_point_class.<locals>.Point(x=1, y=0, tags=['a'])",
            True,
            True,
        )
        with pytest.raises(dataclasses.FrozenInstanceError):
            one.x = 2  # type: ignore[misc]


_START = """
from letterhead.main import install_generated_code
cache = install_generated_code()
import letterhead.cli  # the engine, as a start of the command line imports it
cache.save()
print(cache.hits, cache.compiled)
"""


def test_a_second_start_takes_the_engines_dataclasses_from_the_file(tmp_path: Path) -> None:
    environment = {**os.environ, "LETTERHEAD_CACHE_DIR": str(tmp_path)}
    counts = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-c", _START],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=True,
        )
        counts.append(tuple(int(n) for n in result.stdout.split()))
    (_, compiled), (hits, compiled_again) = counts
    assert compiled > 100, counts  # every method of the engine's dataclasses, ~170
    assert compiled_again == 0 and hits >= compiled, counts
    assert len(list(tmp_path.glob("generated-code-*.marshal"))) == 1


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
