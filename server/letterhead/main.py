"""The program's entry point (`letterhead`, `python -m letterhead`): the generated-code cache
stood in for `dataclasses`' `exec` (`codecache`), then the command line, engine and all.

Only what the cache needs is imported before it is in place: a dataclass made before then is
compiled as usual, as are all of them when letterhead is imported as a library.
"""

from __future__ import annotations

from collections.abc import Sequence

from letterhead.codecache import ENGINE_LIBRARIES, GeneratedCode


def install_generated_code() -> GeneratedCode:
    """The user's generated-code cache, stood in for `exec` in `dataclasses`."""
    generated_code = GeneratedCode.for_this_interpreter()
    generated_code.install(ENGINE_LIBRARIES)
    return generated_code


def main(argv: Sequence[str] | None = None) -> int:
    generated_code = install_generated_code()
    from letterhead.cli import main as run  # the engine: its dataclasses made through the cache

    try:
        return run(argv, generated_code=generated_code)
    finally:
        generated_code.save()  # after a first run, or a new version's; else nothing is written
