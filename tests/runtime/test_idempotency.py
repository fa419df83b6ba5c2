"""Idempotency keys: explicit keys, step keys, fresh keys."""

from __future__ import annotations

import re

import pytest

from generated._runtime.context import CallContext
from generated._runtime.idempotency import key_for, new_key, step_key

STEP = CallContext(workflow_id="process-payment", run_id="run-42", step_id="charge")


def test_explicit_key_is_sent_unchanged() -> None:
    assert key_for(STEP, "order-1234-charge") == "order-1234-charge"
    assert key_for(None, "order-1234-charge") == "order-1234-charge"


def test_empty_explicit_key_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        key_for(STEP, "")


def test_same_step_gets_the_same_key_on_every_attempt() -> None:
    retry = CallContext(
        workflow_id="process-payment", run_id="run-42", step_id="charge", attempt=3
    )

    assert (
        key_for(STEP)
        == key_for(retry)
        == step_key("process-payment", "run-42", "charge")
    )


def test_step_key_is_a_short_prefixed_hash() -> None:
    assert re.fullmatch(r"cg-[0-9a-f]{32}", key_for(STEP))


@pytest.mark.parametrize(
    "other",
    [
        ("process-payment", "run-42", "refund"),
        ("process-payment", "run-43", "charge"),
        ("process-refund", "run-42", "charge"),
    ],
)
def test_any_other_workflow_run_or_step_gets_another_key(
    other: tuple[str, str, str],
) -> None:
    assert step_key(*other) != key_for(STEP)


def test_ids_cannot_be_shifted_across_the_boundaries() -> None:
    assert step_key("a|b", "c", "d") != step_key("a", "b|c", "d")
    assert step_key("a-b", "c", "d") != step_key("a", "b-c", "d")
    assert step_key("a", "b\x1fc", "d") != step_key("a", "b", "c\x1fd")


@pytest.mark.parametrize(
    "context",
    [
        None,
        CallContext(),
        CallContext(workflow_id="process-payment", run_id="run-42"),
        CallContext(workflow_id="process-payment", step_id="charge"),
    ],
)
def test_calls_outside_a_workflow_step_get_a_fresh_key(
    context: CallContext | None,
) -> None:
    first, second = key_for(context), key_for(context)

    assert first != second
    assert re.fullmatch(r"cg-[0-9a-f]{32}", first)


def test_new_keys_differ() -> None:
    assert len({new_key() for _ in range(100)}) == 100
