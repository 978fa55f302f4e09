"""Generated code, kept between runs as Python keeps bytecode.

Two kinds of class are written as source and compiled as they are made, at every start:
lsprotocol defines some 570 message classes with attrs, which writes each one's `__init__`,
`__repr__`, `__eq__`... (about 0.1 s of `compile` before the server can read a message, a
quarter of the protocol stack's import; cattrs does the same, less, the first time it converts
each message type), and the engine's own 43 dataclasses have `dataclasses` do the same through
`exec` (~11 ms of every command's start, a tenth of importing the engine: of a pre-commit hook's
whole run on a site of 1,000 reviews, a twelfth).

What `compile` returns depends only on the source, the file name it is given, the mode, the
compiler flags (with the `__future__` features the calling code inherits) and the interpreter;
`exec` of source compiles it so too, as `<string>`. So `GeneratedCode` stands in for `compile`
in attrs and cattrs, and for `exec` in `dataclasses` (their module-level names, which shadow the
built-ins), and keeps each result under a digest of exactly those inputs, in one file of the
user's cache folder per interpreter version, in `marshal` form (what a .pyc holds). The code
loaded is the code a fresh `compile` would make; nothing about it is guessed. The command line
stands in for `dataclasses`' `exec` before it imports the engine (`letterhead.main`), and `serve`
for attrs' and cattrs' `compile` before it imports the protocol stack.

The file is trusted as a .pyc is, and no further: it is read only if this user owns it and no one
else may write it (the cache folder is made private), and only if its digest matches (a torn or
corrupt file is ignored and written again). `LETTERHEAD_CACHE=off` turns it off, as it does the
persistent index.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import importlib.util
import logging
import marshal
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import CodeType
from typing import Any

from letterhead.cachefolder import cache_dir, cache_on

logger = logging.getLogger(__name__)

# The modules whose generated code is kept, with the built-in each calls by its global name.
ENGINE_LIBRARIES = (("dataclasses", "exec"),)
PROTOCOL_LIBRARIES = (
    ("attr._make", "compile"),
    ("cattrs.gen", "compile"),
    ("cattrs.gen.typeddicts", "compile"),
)

# The compiler flags that are `__future__` features: what code passes on to `compile` it calls.
_FUTURES = importlib.import_module("__future__")  # the module (`import` would read as a feature)
_FUTURE_FLAGS = 0
for _name in _FUTURES.all_feature_names:
    _FUTURE_FLAGS |= getattr(_FUTURES, _name).compiler_flag

_HEADER = b"letterhead generated code 1\n"
_DIGEST_SIZE = 32
# Bounds: a run of the server compiles ~800 pieces (~1 MiB); a file far beyond is not ours.
_MAX_ENTRIES = 4_096
_MAX_BYTES = 16 << 20
# Rewritten only when at least this share of a run's pieces were missing: attrs writes one class
# of cattrs differently at every start (a set's order), which is not worth a write each time.
_REWRITE_SHARE = 0.05


class GeneratedCode:
    """`compile` for generated source, answered from a file of earlier results when it can."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.codes: dict[bytes, CodeType] = self._load() if path is not None else {}
        self.used: set[bytes] = set()
        self.hits = 0
        self.misses = 0  # since the last write
        self.compiled = 0  # in all

    @classmethod
    def for_this_interpreter(cls) -> GeneratedCode:
        """The cache in the user's cache folder (none with `LETTERHEAD_CACHE=off`)."""
        if not cache_on():
            return cls(None)
        tag = sys.implementation.cache_tag or sys.implementation.name
        magic = importlib.util.MAGIC_NUMBER.hex()
        return cls(cache_dir() / f"generated-code-{tag}-{magic}.marshal")

    def install(self, libraries: Iterable[tuple[str, str]]) -> None:
        """Stand in for `compile` or `exec` in each of `libraries` (module, built-in name),
        importing it; one that is missing is left out."""
        for module_name, builtin in libraries:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            setattr(module, builtin, self.compile if builtin == "compile" else self.exec)

    def exec(
        self,
        source: Any,
        globals: dict[str, Any] | None = None,
        locals: Any = None,
        /,
    ) -> None:
        """What `builtins.exec` does with these arguments, called where this was called, its
        source compiled as `exec` compiles it (`<string>`, the caller's `__future__` features)."""
        caller = sys._getframe(1)
        if globals is None:  # the caller's namespaces, as `exec` would take them
            globals = caller.f_globals
            if locals is None:
                locals = caller.f_locals
        if isinstance(source, str):
            flags = caller.f_code.co_flags & _FUTURE_FLAGS
            source = self.compile(source, "<string>", "exec", flags, True)
        builtins.exec(source, globals, locals)

    def compile(
        self,
        source: Any,
        filename: Any,
        mode: str,
        flags: int = 0,
        dont_inherit: bool = False,
        optimize: int = -1,
    ) -> CodeType:
        """What `builtins.compile` returns for these arguments, called where this was called."""
        if not dont_inherit:  # the caller's `__future__` features, as `compile` would inherit
            flags |= sys._getframe(1).f_code.co_flags & _FUTURE_FLAGS
        if not isinstance(source, str) or not isinstance(filename, str):
            return builtins.compile(source, filename, mode, flags, True, optimize)
        key = _key(source, filename, mode, flags, optimize)
        self.used.add(key)
        code = self.codes.get(key)
        if code is not None:
            self.hits += 1
            return code
        code = builtins.compile(source, filename, mode, flags, True, optimize)
        if isinstance(code, CodeType):  # not an AST (`PyCF_ONLY_AST` in `flags`)
            self.misses += 1
            self.compiled += 1
            if len(self.codes) < _MAX_ENTRIES:
                self.codes[key] = code
        return code

    def save(self) -> bool:
        """Write the file if enough was missing from it; False when nothing was written."""
        if self.path is None or not self.misses:
            return False
        if self.misses < _REWRITE_SHARE * len(self.used):
            return False
        codes = self.codes
        if len(codes) >= _MAX_ENTRIES:  # full of what other versions made: keep this run's
            codes = {key: code for key, code in codes.items() if key in self.used}
        payload = marshal.dumps(codes)
        if len(payload) > _MAX_BYTES:
            return False
        digest = hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=".generated-", suffix=".tmp"
            )
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(_HEADER + digest + payload)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            logger.info("could not keep the generated code in %s: %s", self.path, error)
            return False
        self.misses = 0
        return True

    def _load(self) -> dict[bytes, CodeType]:
        assert self.path is not None
        try:
            with open(self.path, "rb") as handle:
                status = os.fstat(handle.fileno())
                if not _trusted(status):
                    logger.warning("not using %s: it is writable by others", self.path)
                    return {}
                if status.st_size > len(_HEADER) + _DIGEST_SIZE + _MAX_BYTES:
                    return {}
                blob = handle.read()
        except OSError:
            return {}  # none yet, or unreadable: compiled as usual
        start = len(_HEADER) + _DIGEST_SIZE
        digest, payload = blob[len(_HEADER) : start], blob[start:]
        if (
            not blob.startswith(_HEADER)
            or digest != hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest()
        ):
            return {}  # torn, corrupt or foreign: written again after this run
        try:
            codes = marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            return {}
        if not isinstance(codes, dict) or not all(
            isinstance(key, bytes) and isinstance(code, CodeType) for key, code in codes.items()
        ):
            return {}
        return codes


def _key(source: str, filename: str, mode: str, flags: int, optimize: int) -> bytes:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{mode}\0{flags}\0{optimize}\0{len(filename)}\0".encode())
    digest.update(filename.encode("utf-8", "surrogatepass"))
    digest.update(source.encode("utf-8", "surrogatepass"))
    return digest.digest()


def _trusted(status: os.stat_result) -> bool:
    """Whether a file with this status may hold code to run: this user's, and no one else's to
    write (where the system has owners; elsewhere the cache folder's own protection holds)."""
    if not hasattr(os, "getuid"):
        return True
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
