"""Format generated sources with black, in-process, caching by content hash.

Black is the slowest step of generation, and most files are unchanged from
one run to the next. The cache maps a hash of (black's version, the source)
to the formatted text, one small file per entry, under the project's cache
folder (`.contractgen-cache/` unless configured; safe to delete at any time).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

import black
from black.mode import TargetVersion

__all__ = ["Formatter"]

_MODE = black.Mode(target_versions={TargetVersion.PY311})
_BLACK_VERSION = version("black")


class Formatter:
    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir / "format" if cache_dir else None
        self.hits = 0
        self.misses = 0

    def format(self, source: str) -> str:
        key = hashlib.sha256(f"{_BLACK_VERSION}\n{source}".encode()).hexdigest()
        cached = self._read(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        formatted = black.format_str(source, mode=_MODE)
        self._write(key, formatted)
        return formatted

    def _read(self, key: str) -> str | None:
        if self.cache_dir is None:
            return None
        try:
            return (self.cache_dir / key[:2] / key).read_text(encoding="utf-8")
        except OSError:
            return None

    def _write(self, key: str, formatted: str) -> None:
        if self.cache_dir is None:
            return
        folder = self.cache_dir / key[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed, so a reader never sees half an entry.
            fd, tmp = tempfile.mkstemp(dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(formatted)
            os.replace(tmp, folder / key)
        except OSError:
            pass  # a cache that cannot be written only costs speed
