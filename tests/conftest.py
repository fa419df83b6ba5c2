"""Fixtures for the whole suite: real servers, and generating into a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import Generated, generate_tree

pytest_plugins = [
    "tests.fixtures.localstripe",
    "tests.fixtures.settings",
    "tests.fixtures.smtp",
    "tests.fixtures.temporal",
    "tests.fixtures.workflows",
]


@pytest.fixture
def generate(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Generated]:
    """`generate({"x.yaml": text})` compiles specs into an importable temp package."""

    def run(specs: dict[str, str] | Path, **options: bool) -> Generated:
        return generate_tree(tmp_path_factory.mktemp("gen"), specs, **options)

    return run
