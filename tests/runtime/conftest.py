"""Fixtures shared by the runtime tests.

The localstripe fixture lives in ``tests/fixtures`` so other suites can reuse
it; ``tests/conftest.py`` registers it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from generated._runtime import stripe_calls
from generated._runtime.calllog import LOGGER_NAME


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def call_records() -> Iterator[list[logging.LogRecord]]:
    """The records emitted on the call logger during the test."""
    logger = logging.getLogger(LOGGER_NAME)
    collector = _Collector()
    previous_level = logger.level
    logger.addHandler(collector)
    logger.setLevel(logging.DEBUG)
    try:
        yield collector.records
    finally:
        logger.removeHandler(collector)
        logger.setLevel(previous_level)


@pytest.fixture(autouse=True)
def _isolated_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    # Settings read the environment and ./.env: run each test in an empty
    # directory with no Stripe or contractgen variables, and forget the
    # cached default client before and after.
    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE",
        "STRIPE_MAX_NETWORK_RETRIES",
        "CONTRACTGEN_ENVIRONMENT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    stripe_calls.default_client.cache_clear()
    stripe_calls.default_settings.cache_clear()
    yield
    stripe_calls.default_client.cache_clear()
    stripe_calls.default_settings.cache_clear()
