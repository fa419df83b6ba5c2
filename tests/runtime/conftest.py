"""Fixtures shared by the runtime tests.

The localstripe fixture lives in ``tests/fixtures`` so other suites can reuse
it; ``tests/conftest.py`` registers it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

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
def _isolated_settings(isolated_settings: None) -> None:
    """Every test here starts with no provider settings (see tests/fixtures)."""
    yield
    stripe_calls.default_client.cache_clear()
    stripe_calls.default_settings.cache_clear()
