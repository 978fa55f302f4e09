"""File rule (FL): what the engine could not read of a file as written (bytes, size, parsing)."""

from __future__ import annotations

from collections.abc import Iterator

from letterhead.findings import Severity
from letterhead.rules import Context, Report, rule


@rule(
    "FL001",
    "unreadable-file",
    Severity.ERROR,
    "a file that cannot be read as written: binary, not UTF-8, too large, or unreadable",
)
def unreadable_file(ctx: Context) -> Iterator[Report]:
    """Catches a file the checker could not read as the text it should be.

    Jekyll reads reviews as UTF-8 text; a file with bytes that are not UTF-8, a binary file named
    `.md`, a file too large to be a review (over `max_file_bytes`, 2 MB by default), or one the
    checker may not open is either not checked at all or checked with the bad bytes read as
    U+FFFD. Every other rule is silent about what could not be read, so this one says so, at the
    first undecodable byte where there is one, else at the start of the file.

    Wrong (saved as Latin-1, so `é` is the single byte 0xE9):

        title: "Chère Agnès"

    Right (saved as UTF-8):

        title: "Chère Agnès"

    There is no automatic fix, and `letterhead check --fix` never rewrites such a file: re-save it
    as UTF-8, or move a file that is not a review out of `_posts/`. A site whose reviews really are
    larger can raise the limit with `letterhead: max_file_bytes:` in `_config.yml`.
    """
    for problem in ctx.document.problems:
        yield Report(problem.span, problem.message)
