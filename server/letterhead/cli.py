"""The command line: `letterhead check | tags | rules | explain | serve`.

`check`, `tags`, `rules` and `explain` run the engine alone; only `serve` imports the protocol
stack, so a pre-commit hook starts fast. Exit codes: 0 clean, 1 findings at or above the failing
severity, 2 a usage or internal error.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from letterhead import __version__
from letterhead.check import LoadedSite, RealPaths, SiteDocuments, find_site_root, read_bounded
from letterhead.codecache import GeneratedCode
from letterhead.document import decode
from letterhead.findings import Finding, Severity, TextEdit
from letterhead.fixes import apply_edits, plan_fixes
from letterhead.indexer import CachedIndex, index_site_cached
from letterhead.parallel import check_paths
from letterhead.refactor import TAXONOMY_KEYS, rename_taxonomy
from letterhead.report import FORMATS, RENDERERS, Located
from letterhead.rules import all_rules, find_rule
from letterhead.settings import Settings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
MAX_FIX_ROUNDS = 4  # fixes can uncover more fixes (a renamed key, then its value)


class UsageError(Exception):
    """A problem with how the command was called; printed without a traceback, exit 2."""


def main(argv: Sequence[str] | None = None, generated_code: GeneratedCode | None = None) -> int:
    """Run one command. `generated_code` is the cache `letterhead.main` put in place for the
    engine's dataclasses, which `serve` puts in place for the protocol stack too (None: called
    as a library, `serve` opens the cache itself)."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    arguments.generated_code = generated_code
    if not getattr(arguments, "command", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        result: int = arguments.handler(arguments)
        return result
    except UsageError as error:
        print(f"letterhead: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_CLEAN


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="letterhead",
        description="Check a Jekyll site of film reviews written as letters, or serve it to an editor.",
    )
    parser.add_argument("--version", action="version", version=f"letterhead {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="check a site, or some of its files")
    check.add_argument("paths", nargs="*", type=Path, default=[Path(".")], metavar="PATH")
    check.add_argument("--format", choices=FORMATS, default="text")
    check.add_argument(
        "--fix", action="store_true", help="apply safe fixes, then report what is left"
    )
    check.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="processes to use (default: one per core; large sites only)",
    )
    check.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        default=None,
        help="the lowest severity that makes the exit code 1 (default: the site's `fail_on`, else warning)",
    )
    check.set_defaults(handler=_check)

    tags = commands.add_parser(
        "tags", help="the taxonomy report: every tag and category, and variants"
    )
    tags.add_argument("site", nargs="?", type=Path, default=Path("."), metavar="SITE")
    tags.add_argument(
        "--rename", nargs=2, metavar=("OLD", "NEW"), help="rename a tag across the site"
    )
    tags.add_argument("--kind", choices=TAXONOMY_KEYS, default="tags", help="what --rename renames")
    tags.add_argument("--format", choices=("text", "json"), default="text")
    tags.set_defaults(handler=_tags)

    rules = commands.add_parser("rules", help="list every rule")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(handler=_rules)

    explain = commands.add_parser("explain", help="a rule's documentation")
    explain.add_argument(
        "rule", metavar="CODE", help="a rule code (LK001) or name (dead-internal-link)"
    )
    explain.set_defaults(handler=_explain)

    serve = commands.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead, for debugging")
    serve.add_argument(
        "--stdio", action="store_true", help="use standard input and output (the default)"
    )
    serve.set_defaults(handler=_serve)
    return parser


# -- check ------------------------------------------------------------------------------------


def _sites_for(paths: Sequence[Path]) -> dict[Path, list[Path]]:
    sites: dict[Path, list[Path]] = {}
    real = RealPaths()  # a pre-commit run over every file names thousands in one folder
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        root = real.site_root(real.real_path(os.fspath(path)))
        if root is None:
            raise UsageError(f"{path}: not inside a Jekyll site (no _config.yml in it or above it)")
        sites.setdefault(root, []).append(path)
    return sites


def _display_path(root: Path, relative: str) -> str:
    absolute = root / relative
    try:
        return os.path.relpath(absolute)
    except ValueError:
        return str(absolute)


def _check(arguments: argparse.Namespace) -> int:
    sites = _sites_for(arguments.paths)
    located: list[Located] = []
    files = 0
    fail_on: Severity | None = Severity.parse(arguments.fail_on) if arguments.fail_on else None
    failing = False
    for root, paths in sites.items():
        if arguments.fix:
            findings, wanted, settings = _fix_and_check(root, paths, arguments.jobs)
        else:
            findings, wanted, settings = check_paths(root, paths, arguments.jobs)
        files += len(wanted)
        threshold = fail_on or settings.fail_on
        failing = failing or any(f.severity.rank >= threshold.rank for f in findings)
        located.extend(Located(f, _display_path(root, f.path)) for f in findings)
    print(printable(RENDERERS[arguments.format](located, files)))
    return EXIT_FINDINGS if failing else EXIT_CLEAN


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with lone surrogates as U+FFFD: a file name that is not UTF-8 reaches Python with
    its bytes as surrogates, which no UTF-8 report can hold (printing them would raise, or
    write bytes a JSON reader rejects)."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _fix_and_check(
    root: Path, paths: Sequence[Path], jobs: int | None
) -> tuple[list[Finding], list[str], Settings]:
    """`check_paths` once the safe fixes are written, round after round until a round has none
    left to write (or `MAX_FIX_ROUNDS` have written): a fix can uncover another (a renamed key,
    then its value). Each round is a check as `check` makes it, on every core, reading again
    from disk what the fixes changed."""
    findings, wanted, settings = check_paths(root, paths, jobs)
    for _ in range(MAX_FIX_ROUNDS):
        plan = plan_fixes(findings)
        written = sum(
            write_edits(root / path, edits, settings.max_file_bytes)
            for path, edits in plan.edits_by_path.items()
        )
        if written == 0:
            break
        print(
            f"letterhead: fixed {plan.findings_fixed} finding(s) in {written} file(s)",
            file=sys.stderr,
        )
        findings, wanted, settings = check_paths(root, paths, jobs)
    return findings, wanted, settings


def write_edits(path: Path, edits: Sequence[TextEdit], max_bytes: int) -> bool:
    """Apply text edits to one file, keeping its encoding, byte-order mark and line ends."""
    try:
        raw = read_bounded(path, max_bytes)
    except OSError:
        return False
    if isinstance(raw, int):
        return False  # over the size limit: never checked, never rewritten
    text, problems = decode(raw)
    if problems:
        return False  # never rewrite a file we could not read exactly
    new_text, applied = apply_edits(text, edits)
    if applied == 0 or new_text == text:
        return False
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # the same byte order mark and order
        order = "utf-16-le" if raw.startswith(b"\xff\xfe") else "utf-16-be"
        encoded = raw[:2] + new_text.lstrip("\ufeff").encode(order)
    else:
        encoded = new_text.encode("utf-8")
        if raw.startswith(b"\xef\xbb\xbf") and not new_text.startswith("\ufeff"):
            encoded = b"\xef\xbb\xbf" + encoded
    temporary = path.with_name(f".{path.name}.letterhead-tmp")
    temporary.write_bytes(encoded)
    os.replace(temporary, path)
    return True


# -- tags -------------------------------------------------------------------------------------


def _index_one_site(path: Path) -> CachedIndex:
    """The index of the site holding `path`, through its persistent index (the files changed
    since are read again; with none yet, all of them, on every core). No review's parse is
    kept: the taxonomy is the index's, and a rename reads the front matter of its reviews."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    root = find_site_root(path)
    if root is None:
        raise UsageError(f"{path}: not inside a Jekyll site (no _config.yml in it or above it)")
    return index_site_cached(root)


def _tags(arguments: argparse.Namespace) -> int:
    indexed = _index_one_site(arguments.site)
    loaded = indexed.loaded
    if arguments.rename:
        indexed.persist(at_once=True)  # what was read, before the rename changes it again
        return _rename(loaded, arguments.kind, *arguments.rename)
    kinds = (("tags", loaded.index.tags), ("categories", loaded.index.categories))
    if arguments.format == "json":
        report = {
            key: {
                "names": [{"name": s.text, "reviews": s.count} for s in taxonomy.all()],
                "variants": [
                    [{"name": s.text, "reviews": s.count} for s in group]
                    for group in taxonomy.clusters()
                ],
            }
            for key, taxonomy in kinds
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for key, taxonomy in kinds:
            names = taxonomy.all()
            print(f"{key} ({len(names)}):")
            for spelling in names:
                print(f"  {spelling.count:>6}  {spelling.text}")
            clusters = taxonomy.clusters()
            if clusters:
                print(f"{key} written more than one way ({len(clusters)}):")
                for canonical, *others in clusters:
                    spelled = ", ".join(f"`{o.text}` ({o.count})" for o in others)
                    print(f"  `{canonical.text}` ({canonical.count}) — also {spelled}")
            print()
    sys.stdout.flush()  # the report is out before the persistent index is written
    indexed.persist(at_once=True)
    return EXIT_CLEAN


def _rename(loaded: LoadedSite, key: str, old: str, new: str) -> int:
    taxonomy = loaded.index.tags if key == "tags" else loaded.index.categories
    users = taxonomy.users(old)
    if not users:
        raise UsageError(f"no review uses the {key[:-1] if key == 'tags' else 'category'} `{old}`")
    documents = SiteDocuments(loaded, head_only=True)  # each review read as it is renamed
    edits = rename_taxonomy(documents, set(users), key, old, new)
    changed = sum(
        write_edits(loaded.root / path, file_edits, loaded.settings.max_file_bytes)
        for path, file_edits in edits.items()
    )
    print(f"renamed `{old}` to `{new}` in {changed} review(s)")
    return EXIT_CLEAN


# -- rules and explain ------------------------------------------------------------------------


def _rules(arguments: argparse.Namespace) -> int:
    rules = all_rules()
    if arguments.format == "json":
        print(
            json.dumps(
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "severity": r.severity.value,
                        "summary": r.summary,
                        "fixable": r.fixable,
                    }
                    for r in rules
                ],
                indent=2,
            )
        )
        return EXIT_CLEAN
    for r in rules:
        fix = " (fix)" if r.fixable else ""
        print(f"{r.code}  {r.name:<28} {r.severity.value:<8} {r.summary}{fix}")
    return EXIT_CLEAN


def _explain(arguments: argparse.Namespace) -> int:
    found = find_rule(arguments.rule)
    if found is None:
        codes = ", ".join(r.code for r in all_rules())
        raise UsageError(f"no rule is called `{arguments.rule}`; rules: {codes}")
    print(f"{found.code} {found.name} (default severity: {found.severity.value})")
    print()
    print(found.summary[0].upper() + found.summary[1:] + ".")
    print()
    print(textwrap.dedent(found.documentation))
    return EXIT_CLEAN


# -- serve ------------------------------------------------------------------------------------


def _serve(arguments: argparse.Namespace) -> int:
    from letterhead.codecache import PROTOCOL_LIBRARIES
    from letterhead.lsp.headstart import HeadStart
    from letterhead.lsp.reader import MessageReader

    reader = head_start = None
    if not arguments.tcp:
        # The sites of the client's `initialize`, waiting on stdin, listed on another core
        # while this one imports the protocol stack.
        reader = MessageReader(sys.stdin.buffer, sys.stdout.buffer)
        head_start = HeadStart.read(reader)
    # The engine's modules live as long as the server: out of the cyclic collector's walks while
    # the protocol stack makes its ~570 classes (each full collection then walked them again).
    gc.freeze()
    # Before the protocol stack's import, which compiles most of what the cache keeps.
    generated_code = arguments.generated_code or GeneratedCode.for_this_interpreter()
    generated_code.install(PROTOCOL_LIBRARIES)
    from letterhead.lsp.server import serve  # the protocol stack, imported only here

    return serve(
        tcp=arguments.tcp, generated_code=generated_code, reader=reader, head_start=head_start
    )
