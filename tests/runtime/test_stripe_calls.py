"""The Stripe engine's call sequence, with a stand-in for the SDK call.

These tests replace only ``invoke`` (the SDK call itself) so they can observe
what the engine sends and how it reacts; the real round trip is covered in
test_stripe_localstripe.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import pytest
import stripe
from stripe import RequestOptions, StripeClient

from generated._runtime import errors
from generated._runtime.context import CallContext
from generated._runtime.idempotency import step_key
from generated._runtime.policies import AllowedCurrencies, TestModeGuard
from generated._runtime.stripe_calls import StripeOperation, acall, call

CREATE_INTENT = StripeOperation(
    capability="stripe-create-payment-intent",
    operation="createPaymentIntent",
    mutating=True,
    log_inputs=("amount", "currency", "receipt_email"),
    log_outputs=("id", "status", "client_secret"),
)
RETRIEVE_INTENT = StripeOperation(
    capability="stripe-retrieve-payment-intent",
    operation="retrievePaymentIntent",
    mutating=False,
)
PARAMS: Mapping[str, object] = {
    "amount": 1000,
    "currency": "usd",
    "receipt_email": "jane.doe@example.com",
    "metadata": {"order": "A-1"},
}
STEP = CallContext(workflow_id="process-payment", run_id="run-7", step_id="charge")
TEST_CLIENT = StripeClient("sk_test_4eC39HqLyjWDarjtT1zdp7dc")
LIVE_CLIENT = StripeClient("sk_live_51H8abcDEF0123456789")


class Recorder:
    """Stands in for the SDK call and remembers what it was given."""

    def __init__(self, response: object = None, error: Exception | None = None):
        self.response = response
        self.error = error
        self.options: list[RequestOptions] = []
        self.clients: list[StripeClient] = []

    def __call__(self, client: StripeClient, options: RequestOptions) -> object:
        self.clients.append(client)
        self.options.append(options)
        if self.error is not None:
            raise self.error
        return self.response


def _intent() -> stripe.PaymentIntent:
    return stripe.PaymentIntent.construct_from(
        {
            "id": "pi_1",
            "object": "payment_intent",
            "status": "requires_payment_method",
            "client_secret": "pi_1_secret_abcdef",
        },
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    )


def test_mutating_call_sends_the_step_key_and_returns_the_response() -> None:
    invoke = Recorder(_intent())

    result = call(CREATE_INTENT, PARAMS, invoke, client=TEST_CLIENT, context=STEP)

    assert result is invoke.response
    assert invoke.clients == [TEST_CLIENT]
    assert invoke.options == [
        {"idempotency_key": step_key("process-payment", "run-7", "charge")}
    ]


def test_explicit_key_wins_over_the_step_key() -> None:
    invoke = Recorder(_intent())

    call(
        CREATE_INTENT,
        PARAMS,
        invoke,
        client=TEST_CLIENT,
        context=STEP,
        idempotency_key="order-A-1",
    )

    assert invoke.options == [{"idempotency_key": "order-A-1"}]


def test_reads_are_sent_without_a_key() -> None:
    invoke = Recorder(_intent())

    call(RETRIEVE_INTENT, {}, invoke, client=TEST_CLIENT, context=STEP)

    assert invoke.options == [{}]


def test_success_logs_allow_listed_redacted_fields(
    call_records: list[logging.LogRecord],
) -> None:
    call(CREATE_INTENT, PARAMS, Recorder(_intent()), client=TEST_CLIENT, context=STEP)

    [record] = call_records
    fields = record.contractgen  # type: ignore[attr-defined]
    assert record.levelno == logging.INFO
    assert fields["outcome"] == "succeeded"
    assert fields["idempotency_key"] == step_key("process-payment", "run-7", "charge")
    assert fields["step_id"] == "charge"
    assert fields["inputs"] == {
        "amount": 1000,
        "currency": "usd",
        "receipt_email": "j***@example.com",
    }
    assert fields["outputs"] == {"id": "pi_1", "status": "requires_payment_method"}
    assert fields["duration_ms"] >= 0


def test_success_logs_the_request_id_of_the_response(
    call_records: list[logging.LogRecord],
) -> None:
    response = stripe.StripeResponse(
        '{"id": "pi_1", "object": "payment_intent"}',
        200,
        {"request-id": "req_success"},
    )
    intent = stripe.PaymentIntent.construct_from(
        {"id": "pi_1", "object": "payment_intent"},
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        last_response=response,
    )

    call(CREATE_INTENT, PARAMS, Recorder(intent), client=TEST_CLIENT)

    [record] = call_records
    assert record.contractgen["request_id"] == "req_success"  # type: ignore[attr-defined]


def test_denied_call_never_reaches_stripe_and_is_logged_as_denied(
    call_records: list[logging.LogRecord],
) -> None:
    invoke = Recorder(_intent())

    with pytest.raises(errors.PolicyDeniedError) as denied:
        call(
            CREATE_INTENT,
            {**PARAMS, "currency": "eur"},
            invoke,
            client=TEST_CLIENT,
            context=STEP,
            policies=[AllowedCurrencies(["usd"])],
        )

    assert invoke.options == []
    assert denied.value.step == "charge"
    [record] = call_records
    assert record.levelno == logging.WARNING
    assert record.contractgen["outcome"] == "denied"  # type: ignore[attr-defined]
    assert record.contractgen["error_code"] == "policy_denied"  # type: ignore[attr-defined]


def test_live_key_is_denied_outside_production() -> None:
    invoke = Recorder(_intent())

    with pytest.raises(errors.PolicyDeniedError, match="test-mode-guard"):
        call(
            CREATE_INTENT,
            PARAMS,
            invoke,
            client=LIVE_CLIENT,
            policies=[TestModeGuard()],
            environment="development",
        )
    assert invoke.options == []

    call(
        CREATE_INTENT,
        PARAMS,
        invoke,
        client=LIVE_CLIENT,
        policies=[TestModeGuard()],
        environment="production",
    )
    assert len(invoke.options) == 1


def test_environment_defaults_to_contractgen_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoke = Recorder(_intent())

    with pytest.raises(errors.PolicyDeniedError, match="'development'"):
        call(
            CREATE_INTENT,
            PARAMS,
            invoke,
            client=LIVE_CLIENT,
            policies=[TestModeGuard()],
        )

    monkeypatch.setenv("CONTRACTGEN_ENVIRONMENT", "production")
    call(CREATE_INTENT, PARAMS, invoke, client=LIVE_CLIENT, policies=[TestModeGuard()])
    assert len(invoke.options) == 1


def test_stripe_errors_are_mapped_chained_and_logged(
    call_records: list[logging.LogRecord],
) -> None:
    cause = stripe.CardError(
        "Your card was declined.",
        None,
        "card_declined",
        http_status=402,
        json_body={"error": {"code": "card_declined", "decline_code": "lost_card"}},
        headers={"request-id": "req_decline"},
    )

    with pytest.raises(errors.CardDeclinedError) as raised:
        call(
            CREATE_INTENT,
            PARAMS,
            Recorder(error=cause),
            client=TEST_CLIENT,
            context=STEP,
        )

    assert raised.value.__cause__ is cause
    assert raised.value.decline_code == "lost_card"
    assert raised.value.step == "charge"
    [record] = call_records
    fields = record.contractgen  # type: ignore[attr-defined]
    assert record.levelno == logging.WARNING
    assert fields["outcome"] == "failed"
    assert fields["error_type"] == "CardDeclinedError"
    assert fields["error_code"] == "card_declined"
    assert fields["request_id"] == "req_decline"
    assert fields["outputs"] == {}


def test_other_exceptions_are_logged_and_propagate_unchanged(
    call_records: list[logging.LogRecord],
) -> None:
    bug = KeyError("items")

    with pytest.raises(KeyError) as raised:
        call(CREATE_INTENT, PARAMS, Recorder(error=bug), client=TEST_CLIENT)

    assert raised.value is bug
    [record] = call_records
    assert record.contractgen["error_type"] == "KeyError"  # type: ignore[attr-defined]


def test_no_secret_or_full_email_reaches_any_log_record(
    call_records: list[logging.LogRecord],
) -> None:
    secret_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
    leaky = StripeOperation(
        capability="stripe-create-payment-intent",
        operation="createPaymentIntent",
        mutating=True,
        # Deliberately over-broad allow-lists: redaction must still hold.
        log_inputs=("receipt_email", "metadata", "api_key"),
        log_outputs=("client_secret", "id"),
    )
    params = {
        **PARAMS,
        "api_key": secret_key,
        "metadata": {"note": f"key {secret_key}", "client_secret": "pi_9_secret_9"},
    }
    auth_error = stripe.AuthenticationError(
        f"Invalid API Key provided: {secret_key} for jane.doe@example.com"
    )

    call(leaky, params, Recorder(_intent()), client=TEST_CLIENT)
    with pytest.raises(errors.AuthenticationError):
        call(leaky, params, Recorder(error=auth_error), client=TEST_CLIENT)

    assert len(call_records) == 2
    for record in call_records:
        logged = f"{record.getMessage()} {vars(record)!r}"
        assert secret_key not in logged
        assert "pi_1_secret_abcdef" not in logged
        assert "pi_9_secret_9" not in logged
        assert "jane.doe@example.com" not in logged
    assert call_records[0].contractgen["inputs"]["receipt_email"] == (  # type: ignore[attr-defined]
        "j***@example.com"
    )


def test_acall_has_the_same_semantics() -> None:
    sent: list[RequestOptions] = []

    async def invoke(client: StripeClient, options: RequestOptions) -> str:
        sent.append(options)
        raise stripe.RateLimitError("Slow down.", http_status=429)

    async def denied(client: StripeClient, options: RequestOptions) -> str:
        raise AssertionError("a denied call must not reach Stripe")

    with pytest.raises(errors.RateLimitedError) as raised:
        asyncio.run(
            acall(CREATE_INTENT, PARAMS, invoke, client=TEST_CLIENT, context=STEP)
        )
    assert raised.value.retryable is True
    assert sent == [{"idempotency_key": step_key("process-payment", "run-7", "charge")}]

    with pytest.raises(errors.PolicyDeniedError):
        asyncio.run(
            acall(
                CREATE_INTENT,
                PARAMS,
                denied,
                client=TEST_CLIENT,
                policies=[AllowedCurrencies(["eur"])],
            )
        )


def test_acall_returns_the_awaited_response() -> None:
    async def invoke(client: StripeClient, options: RequestOptions) -> str:
        return "pi_async"

    assert asyncio.run(acall(CREATE_INTENT, PARAMS, invoke, client=TEST_CLIENT)) == (
        "pi_async"
    )
