"""Formatting faster must not change a byte: parallel, serial and cached agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator import formatting, pipeline
from generator.config import load_config
from tests.support import EXAMPLE_SPECS, ROOT, write_specs


def _rendered_sources(tmp_path: Path) -> dict[str, str]:
    write_specs(tmp_path, EXAMPLE_SPECS)
    shutil.copytree(ROOT / "email-templates", tmp_path / "email-templates")
    config = load_config(tmp_path, specs="specs", output="out", no_cache=True)
    build = pipeline.build(config, cwd=tmp_path)
    assert build.ok, build.diagnostics.render(tmp_path)
    # Unformat a little, so black has work to do in both modes.
    return {
        rel: text.replace("    ", "  ")
        for rel, text in build.files.items()
        if rel.endswith(".py") and not rel.startswith("_runtime/")
    }


def test_parallel_and_serial_formatting_produce_identical_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = _rendered_sources(tmp_path)

    monkeypatch.setattr(formatting, "_PARALLEL_MIN_BYTES", 10**12)
    serial = formatting.Formatter(None).format_all(sources)
    monkeypatch.setattr(formatting, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(formatting, "_workers", lambda: 2)
    parallel = formatting.Formatter(None).format_all(sources)

    assert list(parallel) == list(sources)
    assert parallel == serial


def test_cache_hits_return_what_black_returned(tmp_path: Path) -> None:
    sources = _rendered_sources(tmp_path)
    cache = tmp_path / "cache"

    cold = formatting.Formatter(cache)
    first = cold.format_all(sources)
    warm = formatting.Formatter(cache)
    second = warm.format_all(sources)

    assert second == first
    assert (cold.misses, warm.hits, warm.misses) == (len(sources), len(sources), 0)
