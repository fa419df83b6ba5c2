"""The whole-build cache: skip every stage when nothing the build reads changed.

A build is a pure function of its inputs: the generator's own code and
templates, the installed packages it uses (stripe-python's signatures, black,
pydantic, Jinja, PyYAML), the Python version, the settings, every spec file's
bytes and displayed path, and the listing of the e-mail templates folder a
spec names (diagnostic W043). The **key** is a SHA-256 of all of them; it
costs reading the spec files and the generator's sources, and no import of
the heavy stages.

The **entry** for a key is what the build produced that the command line
prints or writes: the rendered diagnostics (warnings; builds with errors are
never recorded), and every output file's size, modification time and
SHA-256 as written. When the key matches and the output folder still holds
exactly those files (same size and time, or failing that the same hash),
`generate` and `check` have nothing to do: they print what the build would
have printed and stop. Anything else (an edited spec, template or setting, a
new package version, a file in the output folder changed, added or deleted)
is a miss, and the full pipeline runs as if there were no entry.

Entries live under `<cache>/builds/`, one JSON file per output folder (so the
folder does not grow with every edit), written aside and renamed. Deleting
the cache folder is always safe.

This module is on the no-op path, so it imports only the standard library
and nothing of the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .config import Config

__all__ = [
    "Entry",
    "build_key",
    "discover",
    "lookup",
    "outside",
    "record",
    "templates_dir",
]

_FORMAT = 1
# A file modified this close to the moment its entry is written may change
# again within the file system's timestamp granularity: its time is not
# trusted, its hash is checked on the next run (which then trusts it).
_RACY_NS = 2_000_000_000


def templates_dir() -> Path:
    """The templates folder: inside an installed wheel, or beside the package."""
    here = Path(__file__).resolve().parent
    shipped = here / "templates"  # inside an installed wheel
    return shipped if shipped.is_dir() else here.parent / "templates"


def _spec_files(specs_dir: Path) -> list[tuple[str, Path, bool]]:
    """(relative path, path, is a link) of every spec file, sorted by the first.

    Spec files are the `*.yaml` and `*.yml` files (or links to files) in the
    folder and, recursively, its subfolders; links to folders are not
    followed (as `Path.rglob` does not).
    """
    found = []
    stack = [(specs_dir, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((folder / entry.name, f"{prefix}{entry.name}/"))
                    continue
                if not entry.name.endswith((".yaml", ".yml")) or not entry.is_file():
                    continue
                link = entry.is_symlink()
            except OSError:
                continue
            found.append((prefix + entry.name, folder / entry.name, link))
    found.sort(key=lambda item: item[0])
    return found


def discover(specs_dir: Path) -> list[Path]:
    """Every spec file under `specs_dir`, in an order independent of the OS."""
    return [path for _, path, _ in _spec_files(specs_dir)]


def outside(path: Path, specs_dir: Path) -> bool:
    """Whether a spec file is a link to a file outside the specs folder."""
    return not path.resolve().is_relative_to(specs_dir.resolve())


def display(path: Path, root: Path) -> str:
    """A path as diagnostics show it: relative to `root`, links not resolved."""
    # Absolute, not resolved: a link is shown by its own name, not its target.
    absolute, base = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return os.path.relpath(path, root).replace(os.sep, "/")


_GENERATOR_DIGEST: str | None = None


def _tree_files(folder: Path) -> list[tuple[str, Path]]:
    found = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in names:
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(parent, name)
            found.append((path.relative_to(folder).as_posix(), path))
    return sorted(found)


def _installed() -> list[str]:
    """The installed distributions (name and version), from one folder listing."""
    names: set[str] = set()
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        names.update(n for n in listing if n.endswith((".dist-info", ".egg-info")))
    return sorted(names)


def generator_digest() -> str:
    """A hash of the generator: its code, templates, Python and packages."""
    global _GENERATOR_DIGEST
    if _GENERATOR_DIGEST is None:
        digest = hashlib.sha256()
        digest.update(f"{_FORMAT}\0{__version__}\0{sys.version}\0".encode())
        digest.update("\0".join(_installed()).encode())
        here = Path(__file__).resolve().parent
        for label, folder in (("generator", here), ("templates", templates_dir())):
            for rel, path in _tree_files(folder):
                digest.update(f"\0{label}/{rel}\0".encode())
                digest.update(path.read_bytes())
        _GENERATOR_DIGEST = digest.hexdigest()
    return _GENERATOR_DIGEST


def build_key(config: Config, cwd: Path, extra: str = "") -> str | None:
    """The key of a build of `config` run in `cwd`, or None when it has none.

    `extra` is hashed too (tests use it to stand for a changed input).
    """
    if not config.specs.is_dir():
        return None
    digest = hashlib.sha256()
    settings = {
        "cwd": os.path.abspath(cwd),
        "root": os.path.abspath(config.root),
        "specs": os.path.abspath(config.specs),
        "output": os.path.abspath(config.output),
        "package": config.package,
        "temporal": config.temporal,
        "extra": extra,
    }
    digest.update(generator_digest().encode())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    # Folders are not links (they are not followed), so only a link can lead
    # outside; the displayed path is a function of cwd, specs and `rel`.
    for rel, path, link in _spec_files(config.specs):
        if link and outside(path, config.specs):
            digest.update(f"\0outside\0{rel}\0".encode())
            continue
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        digest.update(f"\0spec\0{rel}\0{len(raw)}\0".encode())
        digest.update(raw)
    return digest.hexdigest()


@dataclass
class Entry:
    """What a recorded build printed and wrote."""

    diagnostics: str | None
    files: dict[str, list[Any]]  # rel -> [size, mtime_ns or None, sha256]
    templates: list[Any] | None  # [folder, sorted *.txt file names] or None


def _entry_path(cache: Path, config: Config) -> Path:
    where = hashlib.sha256(os.path.abspath(config.output).encode()).hexdigest()
    return cache / "builds" / f"{where[:32]}.json"


def _listing(folder: str) -> list[str]:
    try:
        return sorted(p.name for p in Path(folder).glob("*.txt") if p.is_file())
    except OSError:
        return []


def _output_files(output: Path) -> dict[str, os.stat_result] | None:
    """Every file in the output folder, or None when it holds a link."""
    found: dict[str, os.stat_result] = {}
    stack = [(str(output), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return None
        for entry in entries:
            if entry.is_symlink():
                return None  # the slow path knows how the writer treats links
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    stack.append((entry.path, f"{prefix}{entry.name}/"))
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                found[prefix + entry.name] = info
    return found


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def lookup(
    cache: Path, config: Config, key: str, *, output: bool = True
) -> Entry | None:
    """The entry recorded for `key`, if the output folder still matches it."""
    path = _entry_path(cache, config)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    entry = Entry(data["diagnostics"], data["files"], data["templates"])
    if entry.templates is not None:
        folder, names = entry.templates
        if _listing(folder) != names:
            return None
    if not output:
        return entry
    found = _output_files(config.output)
    if found is None or found.keys() != entry.files.keys():
        return None
    verified = False
    for rel, (size, mtime, digest) in entry.files.items():
        info = found[rel]
        if info.st_size != size:
            return None
        if info.st_mtime_ns == mtime:
            continue
        if _sha256(config.output / rel) != digest:
            return None
        verified = True
    if verified:  # trust the times from now on
        _write(path, key, entry.diagnostics, entry.files, entry.templates, found)
    return entry


def record(
    cache: Path,
    config: Config,
    key: str,
    diagnostics: str | None,
    files: dict[str, str],
    templates: Path | None,
) -> None:
    """Remember a successful build whose files the output folder now holds."""
    found = _output_files(config.output)
    if found is None:
        return
    hashed = {}
    for rel, text in files.items():
        data = text.encode("utf-8")
        hashed[rel] = [len(data), None, hashlib.sha256(data).hexdigest()]
    if found.keys() != hashed.keys():
        return
    listing = None
    if templates is not None:
        folder = os.path.abspath(templates)
        listing = [folder, _listing(folder)]
    _write(_entry_path(cache, config), key, diagnostics, hashed, listing, found)


def _write(
    path: Path,
    key: str,
    diagnostics: str | None,
    files: dict[str, list[Any]],
    templates: list[Any] | None,
    found: dict[str, os.stat_result],
) -> None:
    now = time.time_ns()
    stamped = {}
    for rel, (size, _, digest) in files.items():
        info = found[rel]
        trusted = info.st_size == size and info.st_mtime_ns < now - _RACY_NS
        stamped[rel] = [size, info.st_mtime_ns if trusted else None, digest]
    data = {
        "key": key,
        "diagnostics": diagnostics,
        "files": stamped,
        "templates": templates,
    }
    import tempfile  # not on the no-op path

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs speed
