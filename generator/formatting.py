"""Format generated sources with black, in-process, caching by content hash.

Black is the slowest step of generation, and most files are unchanged from
one run to the next. The cache maps a hash of (black's version, the source)
to the formatted text, one small file per entry, under the project's cache
folder (`.contractgen-cache/` unless configured; safe to delete at any time).

What the cache does not hold is formatted in parallel when there is enough
of it to pay for starting worker processes (a cold build of a large tree);
black is deterministic, so the bytes do not depend on which process ran it.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import tempfile
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from pathlib import Path

import black
from black.mode import TargetVersion

__all__ = ["Formatter"]

_MODE = black.Mode(target_versions={TargetVersion.PY311})
_BLACK_VERSION = version("black")
# Below this much unformatted source, starting workers costs more than it saves.
_PARALLEL_MIN_BYTES = 256_000


def _format(source: str) -> str:
    return black.format_str(source, mode=_MODE)


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


class Formatter:
    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir / "format" if cache_dir else None
        self.hits = 0
        self.misses = 0

    def format(self, source: str) -> str:
        return self.format_all({"": source})[""]

    def format_all(self, sources: Mapping[str, str]) -> dict[str, str]:
        """Each source formatted, by the same key; cache first, then black."""
        formatted: dict[str, str] = {}
        missing: dict[str, tuple[str, str]] = {}  # name -> (cache key, source)
        for name, source in sources.items():
            key = hashlib.sha256(f"{_BLACK_VERSION}\n{source}".encode()).hexdigest()
            cached = self._read(key)
            if cached is None:
                missing[name] = (key, source)
            else:
                formatted[name] = cached
        self.hits += len(formatted)
        self.misses += len(missing)

        # Largest first, so no worker is left with a big file at the end.
        order = sorted(missing, key=lambda name: -len(missing[name][1]))
        texts = [missing[name][1] for name in order]
        workers = min(_workers(), len(texts))
        if workers > 1 and sum(map(len, texts)) >= _PARALLEL_MIN_BYTES:
            # spawn, not fork: a forked child of a threaded caller can deadlock.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = list(pool.map(_format, texts, chunksize=4))
        else:
            results = [_format(text) for text in texts]
        for name, result in zip(order, results, strict=True):
            self._write(missing[name][0], result)
            formatted[name] = result
        return {name: formatted[name] for name in sources}

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
