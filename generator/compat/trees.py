"""The two spec trees `contractgen diff` compares: from folders or from git.

A tree is loaded exactly as `contractgen validate` loads the specs folder
(the same loader, the same checks), so a tree with spec errors is reported
the same way and never compared. A git revision's specs folder is read with
`git archive` into a temporary folder; nothing in the working tree changes.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__, loader, manifest
from ..checker import CheckedSpecs, check, validate
from ..diagnostics import Diagnostics
from ..ir import Package

__all__ = ["GitError", "Tree", "load_tree", "merge_base", "revision_specs"]


class GitError(Exception):
    """git could not give the revision asked for."""


@dataclass
class Tree:
    specs: CheckedSpecs
    package: Package


def _display(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def load_tree(
    specs_dir: Path,
    diagnostics: Diagnostics,
    *,
    display_base: Path,
    package: str,
    root: Path | None,
) -> Tree:
    """Load and check every spec under `specs_dir`; problems go to `diagnostics`.

    File names are shown relative to `display_base`. `root` is the project
    folder that integration settings (the e-mail templates folder) are
    relative to; None skips the checks that need it.
    """
    documents = []
    if not specs_dir.is_dir():
        diagnostics.error(
            "S000",
            f"specs folder {_display(specs_dir, display_base)} does not exist",
            None,
        )
    else:
        for path in loader.discover(specs_dir):
            display = _display(path, display_base)
            if manifest.outside(path, specs_dir):
                diagnostics.error(
                    "Y008",
                    f"{display}: spec file is a link to a file outside the specs "
                    "folder",
                    None,
                    "copy the spec into the specs folder",
                )
                continue
            documents += loader.load_file(path, display, diagnostics)
    compiled = check(documents, diagnostics, package, __version__, root)
    # `check` has reported every problem; this second pass only collects the
    # valid documents by id, so its diagnostics repeat them and are dropped.
    return Tree(validate(documents, Diagnostics()), compiled)


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as err:
        raise GitError(f"cannot run git: {err}") from err
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {' '.join(args)}: {message}")
    return done.stdout


def merge_base(cwd: Path, branch: str = "main") -> str:
    """The commit where HEAD left `branch`: what a pull request is compared to."""
    return _git(["merge-base", "HEAD", branch], cwd).decode().strip()


def revision_specs(revision: str, specs_dir: Path, into: Path) -> Path:
    """Write the specs folder as it was at `revision` under `into`.

    Returns the folder that holds the old specs, at the same path relative to
    `into` as `specs_dir` has in the repository, so old and new spec files
    are shown under the same names. A revision without the folder gives an
    empty one: every spec is then new.
    """
    cwd = specs_dir if specs_dir.is_dir() else specs_dir.parent
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd).decode().strip())
    try:
        commit = _git(["rev-parse", "--verify", f"{revision}^{{commit}}"], cwd)
    except GitError as err:
        raise GitError(f"'{revision}' is not a commit in this repository") from err
    try:
        relative = specs_dir.resolve().relative_to(top.resolve()).as_posix()
    except ValueError as err:
        raise GitError(f"{specs_dir} is not inside the git repository {top}") from err
    target = into / relative
    target.mkdir(parents=True, exist_ok=True)
    sha = commit.decode().strip()
    if not _git(["ls-tree", "-d", sha, "--", relative], top).strip():
        return target
    archive = _git(["archive", "--format=tar", sha, "--", relative], top)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return target
