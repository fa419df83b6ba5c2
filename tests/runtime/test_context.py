"""The call context passed from a workflow step to a capability."""

from __future__ import annotations

import dataclasses

import pytest

from generated._runtime.context import CallContext


def test_context_is_frozen_and_attempts_start_at_one() -> None:
    context = CallContext(workflow_id="process-payment", run_id="run-1")

    assert context.step_id is None
    assert context.attempt == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.attempt = 2  # type: ignore[misc]


def test_attempt_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="attempt counts from 1"):
        CallContext(workflow_id="w", run_id="r", step_id="s", attempt=0)
