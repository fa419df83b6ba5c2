"""`contractgen diff`: load two spec trees, compare them, print the report.

    contractgen diff                     the working tree against the merge
                                         base of HEAD with main
    contractgen diff --against REV       the working tree against a revision
    contractgen diff OLD_DIR NEW_DIR     two specs folders

Exit status: 0 when nothing breaks, 1 when something breaks in a capability
or workflow whose `version` did not change (or in an integration, which has
none), 2 when either tree has spec errors or git cannot give the revision.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ..config import Config
from ..diagnostics import Diagnostics
from .compare import compare
from .report import Labels, json_report, markdown, text
from .trees import GitError, Tree, load_tree, merge_base, revision_specs

__all__ = ["EXIT_BREAKING", "EXIT_OK", "EXIT_SPEC_ERROR", "FORMATS", "run"]

EXIT_OK, EXIT_BREAKING, EXIT_SPEC_ERROR = 0, 1, 2
FORMATS = ("text", "markdown", "json")
MAIN_BRANCH = "main"


def run(
    config: Config,
    cwd: Path,
    *,
    folders: tuple[Path, Path] | None,
    against: str | None,
    output_format: str,
) -> int:
    """Run the command; the report goes to stdout, problems to stderr."""
    with tempfile.TemporaryDirectory(prefix="contractgen-diff-") as scratch:
        if folders is not None:
            old_dir, new_dir = folders
            labels = Labels(_shown(old_dir, cwd), _shown(new_dir, cwd))
            old_base = cwd
        else:
            try:
                revision = against or merge_base(cwd, MAIN_BRANCH)
                old_dir = revision_specs(revision, config.specs, Path(scratch))
            except GitError as err:
                print(f"contractgen: {err}", file=sys.stderr)
                return EXIT_SPEC_ERROR
            short = revision[:10] if against is None else revision
            name = f"{MAIN_BRANCH} (merge base {short})" if against is None else short
            labels = Labels(name, "working tree", f"{short}:")
            new_dir, old_base = config.specs, Path(scratch)

        # The old tree's e-mail templates are not extracted, so the checks
        # that read them run on the new tree only.
        old = _load(old_dir, old_base, config, None if folders is None else config.root)
        new = _load(new_dir, cwd, config, config.root)
        if old is None or new is None:
            where = labels.old if old is None else labels.new
            print(
                f"contractgen: {where} has spec errors; nothing compared",
                file=sys.stderr,
            )
            return EXIT_SPEC_ERROR

    comparison = compare(old.specs, new.specs, old.package, new.package)
    exit_code = EXIT_BREAKING if comparison.has_blocking else EXIT_OK
    if output_format == "json":
        sys.stdout.write(json_report(comparison, labels, exit_code))
    elif output_format == "markdown":
        sys.stdout.write(markdown(comparison, labels))
    else:
        sys.stdout.write(text(comparison, labels))
    return exit_code


def _load(
    specs_dir: Path, base: Path, config: Config, root: Path | None
) -> Tree | None:
    diagnostics = Diagnostics()
    tree = load_tree(
        specs_dir, diagnostics, display_base=base, package=config.package, root=root
    )
    # Warnings are `contractgen validate`'s business; only errors stop a diff.
    if diagnostics.has_errors:
        print(diagnostics.render(base), file=sys.stderr)
        return None
    return tree


def _shown(path: Path, cwd: Path) -> str:
    try:
        return path.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return str(path)
