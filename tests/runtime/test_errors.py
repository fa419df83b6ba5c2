"""The runtime error tree: retryability, messages, plain-data form."""

from __future__ import annotations

import pickle

import pytest

from generated._runtime import errors
from generated._runtime.errors import (
    CapabilityError,
    CardDeclinedError,
    PolicyDeniedError,
    ProviderError,
)

NON_RETRYABLE = [
    errors.CardDeclinedError,
    errors.InvalidRequestError,
    errors.AuthenticationError,
    errors.PermissionDeniedError,
    errors.IdempotencyConflictError,
]
RETRYABLE = [errors.RateLimitedError, errors.ProviderUnavailableError]


def _error(cls: type[CapabilityError], **kwargs: object) -> CapabilityError:
    return cls(
        "Something went wrong.",
        capability="stripe-create-customer",
        provider="stripe",
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("cls", [*NON_RETRYABLE, *RETRYABLE, ProviderError])
def test_every_error_is_a_capability_error_and_a_contract_error(
    cls: type[CapabilityError],
) -> None:
    error = _error(cls)

    assert isinstance(error, CapabilityError)
    assert isinstance(error, errors.ContractError)
    assert error.capability == "stripe-create-customer"
    assert error.provider == "stripe"


@pytest.mark.parametrize("cls", NON_RETRYABLE)
def test_non_retryable_kinds_are_never_retryable(cls: type[CapabilityError]) -> None:
    assert _error(cls).retryable is False
    with pytest.raises(ValueError, match="non-retryable"):
        _error(cls, retryable=True)


@pytest.mark.parametrize("cls", RETRYABLE)
def test_retryable_kinds_are_always_retryable(cls: type[CapabilityError]) -> None:
    assert _error(cls).retryable is True
    with pytest.raises(ValueError, match="always retryable"):
        _error(cls, retryable=False)


def test_policy_denial_is_not_retryable_and_names_its_policy() -> None:
    error = PolicyDeniedError(
        "policy max-amount denied createPaymentIntent: too much",
        capability="stripe-create-payment-intent",
        provider="stripe",
        policy="max-amount",
    )

    assert error.retryable is False
    assert error.policy == "max-amount"
    assert error.code == "policy_denied"
    assert error.to_dict()["policy"] == "max-amount"


@pytest.mark.parametrize("retryable", [True, False])
def test_provider_error_is_retryable_only_when_told(retryable: bool) -> None:
    assert _error(ProviderError).retryable is False
    assert _error(ProviderError, retryable=retryable).retryable is retryable


def test_str_is_one_line_naming_capability_step_and_code() -> None:
    error = CardDeclinedError(
        "Your card was declined.\nTry another card.",
        capability="stripe-attach-payment-method",
        provider="stripe",
        code="card_declined",
    )

    assert str(error) == (
        "stripe-attach-payment-method failed [card_declined]: "
        "Your card was declined. Try another card."
    )
    assert str(error.with_step("attach")) == (
        "stripe-attach-payment-method (step attach) failed [card_declined]: "
        "Your card was declined. Try another card."
    )


def test_messages_are_redacted_when_the_error_is_built() -> None:
    error = errors.AuthenticationError(
        "Invalid API Key provided: sk_test_4eC39HqLyjWDarjtT1zdp7dc "
        "for jane.doe@example.com",
        capability="stripe-create-customer",
        provider="stripe",
    )

    rendered = f"{error} {error!r} {error.to_dict()} {error.args}"
    assert "sk_test_4eC39HqLyjWDarjtT1zdp7dc" not in rendered
    assert "jane.doe@example.com" not in rendered
    assert "[redacted]" in str(error)
    assert "j***@example.com" in str(error)


def test_to_dict_has_stable_keys_for_workflow_results() -> None:
    error = CardDeclinedError(
        "Your card has insufficient funds.",
        capability="stripe-create-payment-intent",
        provider="stripe",
        code="card_declined",
        decline_code="insufficient_funds",
        request_id="req_123",
    ).with_step("charge")

    assert error.to_dict() == {
        "type": "CardDeclinedError",
        "capability": "stripe-create-payment-intent",
        "step": "charge",
        "message": "Your card has insufficient funds.",
        "code": "card_declined",
        "retryable": False,
        "request_id": "req_123",
        "decline_code": "insufficient_funds",
    }
    assert list(_error(ProviderError).to_dict()) == [
        "type",
        "capability",
        "step",
        "message",
        "code",
        "retryable",
        "request_id",
    ]


def test_with_step_sets_the_step_and_returns_the_same_error() -> None:
    error = _error(ProviderError)

    assert error.step is None
    assert error.with_step("charge") is error
    assert error.step == "charge"


def test_errors_survive_pickling_with_all_their_fields() -> None:
    error = CardDeclinedError(
        "Declined.",
        capability="stripe-create-payment-intent",
        provider="stripe",
        code="card_declined",
        decline_code="do_not_honor",
        request_id="req_9",
        step="charge",
    )

    restored = pickle.loads(pickle.dumps(error))

    assert type(restored) is CardDeclinedError
    assert restored.to_dict() == error.to_dict()
    assert str(restored) == str(error)
