"""The `contractgen` command line.

    contractgen generate   write the generated package
    contractgen check      exit 0 if it is up to date, 1 if not, 2 on spec errors
    contractgen validate   report diagnostics only
    contractgen schema     print the JSON Schema of the spec language
    contractgen diff       classify spec changes against a git revision or
                           between two folders (see docs/compatibility.md)

Exit status 2 always means the specs have errors; nothing was written.
`diff` exits 1 when a change breaks callers without a version bump.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, manifest
from .config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from .pipeline import Build

__all__ = ["main"]

EXIT_OK, EXIT_DRIFT, EXIT_SPEC_ERROR = 0, 1, 2
# `compat.command.FORMATS`, here so that parsing arguments imports nothing of
# the pipeline (a test keeps the two equal): a no-op `generate` is a cache
# lookup, and should cost little more than starting Python.
DIFF_FORMATS = ("text", "markdown", "json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contractgen",
        description="Compile capability and workflow specs into typed Python.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("generate", "write the generated package"),
        ("check", "exit 1 if the generated package is not what the specs produce"),
        ("validate", "check the specs and print diagnostics, writing nothing"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--specs", help="folder of spec files")
        command.add_argument("--output", help="folder of the generated package")
        command.add_argument("--package", help="import name of the generated package")
        command.add_argument("--cache", help="cache folder")
        command.add_argument("--no-cache", action="store_true", help="do not cache")
        command.add_argument(
            "--temporal",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="also emit the workflows for Temporal (default: the setting)",
        )
        command.add_argument(
            "-q", "--quiet", action="store_true", help="print only problems"
        )
    commands.add_parser("schema", help="print the JSON Schema of the spec language")
    diff = commands.add_parser(
        "diff",
        help="classify spec changes as breaking or compatible",
        description="Compare the specs of a git revision (default: the merge "
        "base of HEAD with main) with the working tree, or two specs folders.",
    )
    diff.add_argument(
        "folders", nargs="*", metavar="DIR", help="OLD_DIR NEW_DIR: two specs folders"
    )
    diff.add_argument("--against", metavar="REV", help="git revision to compare with")
    diff.add_argument("--specs", help="folder of spec files (with --against)")
    diff.add_argument("--format", choices=DIFF_FORMATS, default="text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schema":
        from .spec import json_schema

        sys.stdout.write(json_schema())
        return EXIT_OK
    cwd = Path.cwd()
    if args.command == "diff":
        return _diff(args, cwd)
    try:
        config = load_config(
            cwd,
            specs=args.specs,
            output=args.output,
            package=args.package,
            cache=args.cache,
            no_cache=args.no_cache,
            temporal=args.temporal,
        )
    except ConfigError as err:
        print(f"contractgen: {err}", file=sys.stderr)
        return EXIT_SPEC_ERROR

    key = None
    if config.cache is not None:
        key = manifest.build_key(config, cwd)
        if key is not None:
            entry = manifest.lookup(
                config.cache, config, key, output=args.command != "validate"
            )
            if entry is not None:
                return _unchanged(entry, config, args.command, args.quiet)

    from .pipeline import build

    result = build(config, render=args.command != "validate", cwd=cwd)
    rendered = result.diagnostics.render(cwd) if result.diagnostics.items else None
    if rendered is not None:
        print(rendered, file=sys.stderr)
    if not result.ok:
        if args.command != "validate":
            print("contractgen: nothing was written", file=sys.stderr)
        return EXIT_SPEC_ERROR
    if args.command == "validate":
        return EXIT_OK
    if args.command == "check":
        status = _check(result, config, args.quiet)
    else:
        status = _generate(result, config, args.quiet)
    if status == EXIT_OK and key is not None and config.cache is not None:
        _record(config.cache, config, key, rendered, result)
    return status


def _unchanged(entry: manifest.Entry, config: Config, command: str, quiet: bool) -> int:
    """What `command` prints when the whole-build cache says nothing changed."""
    if entry.diagnostics is not None:
        print(entry.diagnostics, file=sys.stderr)
    if quiet or command == "validate":
        return EXIT_OK
    where = _shown(config.output)
    if command == "check":
        print(f"{where}: up to date")
    else:
        print(f"{where}: up to date ({len(entry.files)} files)")
    return EXIT_OK


def _record(
    cache: Path, config: Config, key: str, rendered: str | None, result: Build
) -> None:
    from .workflows import email_templates

    assert result.package is not None
    templates = email_templates(result.package)
    manifest.record(cache, config, key, rendered, result.files, templates)


def _diff(args: argparse.Namespace, cwd: Path) -> int:
    if args.folders and (len(args.folders) != 2 or args.against or args.specs):
        print(
            "contractgen: diff takes two folders (OLD_DIR NEW_DIR), or --against",
            file=sys.stderr,
        )
        return EXIT_SPEC_ERROR
    try:
        config = load_config(cwd, specs=args.specs)
    except ConfigError as err:
        print(f"contractgen: {err}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    from . import compat

    folders = None
    if args.folders:
        folders = (cwd / args.folders[0], cwd / args.folders[1])
    return compat.run(
        config, cwd, folders=folders, against=args.against, output_format=args.format
    )


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _generate(result: Build, config: Config, quiet: bool) -> int:
    from .writer import NotGeneratedError, write_tree

    try:
        changes = write_tree(result.files, config.output)
    except NotGeneratedError as err:
        print(f"contractgen: {err}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    if not quiet:
        where = _shown(config.output)
        if changes.empty:
            print(f"{where}: up to date ({len(result.files)} files)")
        else:
            print(f"{where}: {len(result.files)} files")
            print(changes.summary())
    return EXIT_OK


def _check(result: Build, config: Config, quiet: bool) -> int:
    from .writer import compare

    changes = compare(result.files, config.output, with_diffs=True)
    where = _shown(config.output)
    if changes.empty:
        if not quiet:
            print(f"{where}: up to date")
        return EXIT_OK
    print(f"{where} is out of date with the specs:")
    print(changes.summary())
    print("run `contractgen generate` (or `make generate`) and commit the result")
    return EXIT_DRIFT
