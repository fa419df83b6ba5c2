"""The one structured record each capability call emits."""

from __future__ import annotations

import logging

from generated._runtime.calllog import log_call
from generated._runtime.context import CallContext
from generated._runtime.errors import CardDeclinedError

FIELDS = [
    "capability",
    "provider",
    "operation",
    "workflow_id",
    "run_id",
    "step_id",
    "attempt",
    "idempotency_key",
    "duration_ms",
    "outcome",
    "error_type",
    "error_code",
    "request_id",
    "inputs",
    "outputs",
]


def test_success_is_one_info_record_with_stable_fields(
    call_records: list[logging.LogRecord],
) -> None:
    log_call(
        capability="stripe-create-customer",
        provider="stripe",
        operation="createCustomer",
        outcome="succeeded",
        duration_ms=12.345,
        context=CallContext(
            workflow_id="onboard", run_id="run-1", step_id="customer", attempt=2
        ),
        idempotency_key="cg-abc",
        request_id="req_1",
        inputs={"email": "jane.doe@example.com"},
        outputs={"id": "cus_1"},
    )

    [record] = call_records
    assert record.name == "contractgen.calls"
    assert record.levelno == logging.INFO
    assert record.getMessage() == "stripe-create-customer succeeded in 12.3 ms"
    fields = record.contractgen  # type: ignore[attr-defined]
    assert list(fields) == FIELDS
    assert fields == {
        "capability": "stripe-create-customer",
        "provider": "stripe",
        "operation": "createCustomer",
        "workflow_id": "onboard",
        "run_id": "run-1",
        "step_id": "customer",
        "attempt": 2,
        "idempotency_key": "cg-abc",
        "duration_ms": 12.345,
        "outcome": "succeeded",
        "error_type": None,
        "error_code": None,
        "request_id": "req_1",
        "inputs": {"email": "j***@example.com"},
        "outputs": {"id": "cus_1"},
    }


def test_failure_is_a_warning_naming_error_type_and_code(
    call_records: list[logging.LogRecord],
) -> None:
    error = CardDeclinedError(
        "Your card was declined.",
        capability="stripe-attach-payment-method",
        provider="stripe",
        code="card_declined",
        request_id="req_from_error",
    )

    log_call(
        capability="stripe-attach-payment-method",
        provider="stripe",
        operation="attachPaymentMethod",
        outcome="failed",
        duration_ms=3.0,
        error=error,
    )

    [record] = call_records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "stripe-attach-payment-method failed in 3.0 ms "
        "(CardDeclinedError card_declined)"
    )
    fields = record.contractgen  # type: ignore[attr-defined]
    assert fields["error_type"] == "CardDeclinedError"
    assert fields["error_code"] == "card_declined"
    assert fields["request_id"] == "req_from_error"
    assert fields["workflow_id"] is None
    assert fields["attempt"] == 1


def test_denial_is_a_warning(call_records: list[logging.LogRecord]) -> None:
    log_call(
        capability="stripe-create-payment-intent",
        provider="stripe",
        operation="createPaymentIntent",
        outcome="denied",
        duration_ms=0.0,
    )

    [record] = call_records
    assert record.levelno == logging.WARNING
    assert record.contractgen["outcome"] == "denied"  # type: ignore[attr-defined]


def test_secret_inputs_and_outputs_are_dropped_even_if_passed(
    call_records: list[logging.LogRecord],
) -> None:
    log_call(
        capability="stripe-create-payment-intent",
        provider="stripe",
        operation="createPaymentIntent",
        outcome="succeeded",
        duration_ms=1.0,
        inputs={"api_key": "sk_test_abc123", "amount": 100},
        outputs={"client_secret": "pi_1_secret_2", "status": "succeeded"},
    )

    [record] = call_records
    assert record.contractgen["inputs"] == {"amount": 100}  # type: ignore[attr-defined]
    assert record.contractgen["outputs"] == {  # type: ignore[attr-defined]
        "status": "succeeded"
    }
