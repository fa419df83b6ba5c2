"""Every Stripe error becomes the matching runtime error."""

from __future__ import annotations

import pytest
import stripe

from generated._runtime import errors
from generated._runtime.stripe_calls import map_stripe_error

HEADERS = {"request-id": "req_abc123"}


def _map(err: stripe.StripeError) -> errors.CapabilityError:
    return map_stripe_error(err, capability="stripe-create-payment-intent")


def test_card_error_keeps_code_and_decline_code() -> None:
    body = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        }
    }
    err = stripe.CardError(
        "Your card has insufficient funds.",
        None,
        "card_declined",
        http_status=402,
        json_body=body,
        headers=HEADERS,
    )

    mapped = _map(err)

    assert type(mapped) is errors.CardDeclinedError
    assert mapped.code == "card_declined"
    assert mapped.decline_code == "insufficient_funds"
    assert mapped.retryable is False
    assert mapped.request_id == "req_abc123"
    assert mapped.message == "Your card has insufficient funds."
    assert mapped.capability == "stripe-create-payment-intent"
    assert mapped.provider == "stripe"


def test_card_error_without_error_body_has_no_decline_code() -> None:
    mapped = _map(stripe.CardError("Declined.", None, "card_declined"))

    assert type(mapped) is errors.CardDeclinedError
    assert mapped.decline_code is None
    assert mapped.request_id is None


@pytest.mark.parametrize(
    ("err", "expected", "retryable"),
    [
        (
            stripe.RateLimitError("Too many requests.", http_status=429),
            errors.RateLimitedError,
            True,
        ),
        (
            stripe.APIConnectionError("Could not connect."),
            errors.ProviderUnavailableError,
            True,
        ),
        (
            stripe.InvalidRequestError(
                "No such customer.", "customer", http_status=404
            ),
            errors.InvalidRequestError,
            False,
        ),
        (
            stripe.AuthenticationError("Invalid API Key.", http_status=401),
            errors.AuthenticationError,
            False,
        ),
        (
            stripe.PermissionError("Not allowed.", http_status=403),
            errors.PermissionDeniedError,
            False,
        ),
        (
            stripe.IdempotencyError("Keys reused.", http_status=400),
            errors.IdempotencyConflictError,
            False,
        ),
        (
            stripe.APIError("Internal error.", http_status=500),
            errors.ProviderUnavailableError,
            True,
        ),
        (
            stripe.APIError("Bad gateway.", http_status=502),
            errors.ProviderUnavailableError,
            True,
        ),
        (
            stripe.APIError("Odd response.", http_status=200),
            errors.ProviderError,
            False,
        ),
        (stripe.StripeError("Unknown."), errors.ProviderError, False),
    ],
)
def test_each_stripe_error_maps_to_its_kind(
    err: stripe.StripeError, expected: type[errors.CapabilityError], retryable: bool
) -> None:
    mapped = _map(err)

    assert type(mapped) is expected
    assert mapped.retryable is retryable


def test_code_and_request_id_are_kept() -> None:
    err = stripe.InvalidRequestError(
        "No such customer: 'cus_x'",
        "customer",
        "resource_missing",
        http_status=404,
        headers=HEADERS,
    )

    mapped = _map(err)

    assert mapped.code == "resource_missing"
    assert mapped.request_id == "req_abc123"
    assert mapped.message == "No such customer: 'cus_x'"


@pytest.mark.parametrize(("header", "retryable"), [("true", True), ("false", False)])
def test_other_errors_are_retryable_only_if_stripe_says_so(
    header: str, retryable: bool
) -> None:
    err = stripe.StripeError(
        "Conflict.", http_status=409, headers={"Stripe-Should-Retry": header}
    )

    mapped = _map(err)

    assert type(mapped) is errors.ProviderError
    assert mapped.retryable is retryable


def test_step_is_recorded_when_known() -> None:
    mapped = map_stripe_error(
        stripe.RateLimitError("Slow down."), capability="c", step="charge"
    )

    assert mapped.step == "charge"
