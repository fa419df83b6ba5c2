"""Built-in policies and the order they run in."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from generated._runtime.errors import PolicyDeniedError
from generated._runtime.policies import (
    AllowedCurrencies,
    ApiKeyMode,
    MaxAmount,
    Policy,
    PolicyRequest,
    TestModeGuard,
    run_policies,
)


def _request(
    params: Mapping[str, object],
    *,
    api_key_mode: ApiKeyMode | None = "test",
    environment: str = "development",
) -> PolicyRequest:
    return PolicyRequest(
        capability="stripe-create-payment-intent",
        provider="stripe",
        operation="createPaymentIntent",
        params=params,
        api_key_mode=api_key_mode,
        environment=environment,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"amount": 1000, "currency": "usd"},
        {"amount": 1000, "currency": "EUR"},
        {"email": "no currency here"},
    ],
)
def test_allowed_currencies_allows_listed_or_absent_currency(
    params: Mapping[str, object],
) -> None:
    AllowedCurrencies(["USD", "eur"])(_request(params))


def test_allowed_currencies_denies_other_currency() -> None:
    with pytest.raises(PolicyDeniedError) as denied:
        AllowedCurrencies(["usd", "eur"])(_request({"currency": "GBP"}))

    assert denied.value.policy == "allowed-currencies"
    assert denied.value.capability == "stripe-create-payment-intent"
    assert "'gbp' is not one of eur, usd" in denied.value.message


def test_allowed_currencies_needs_a_currency() -> None:
    with pytest.raises(ValueError, match="at least one currency"):
        AllowedCurrencies([])


@pytest.mark.parametrize(
    "params",
    [
        {"amount": 5000, "currency": "usd"},
        {"amount": 4999, "currency": "USD"},
        {"amount": 10**9, "currency": "jpy"},
        {"amount": 10**9},
        {"currency": "usd"},
    ],
)
def test_max_amount_allows_up_to_the_limit_or_unlimited_currency(
    params: Mapping[str, object],
) -> None:
    MaxAmount({"usd": 5000, "EUR": 100})(_request(params))


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"amount": 5001, "currency": "usd"}, "amount 5001 exceeds the limit of 5000"),
        ({"amount": 101, "currency": "eur"}, "amount 101 exceeds the limit of 100"),
        ({"amount": "lots", "currency": "usd"}, "amount is not a number"),
        ({"amount": True, "currency": "usd"}, "amount is not a number"),
    ],
)
def test_max_amount_denies_above_the_limit_or_uncheckable(
    params: Mapping[str, object], reason: str
) -> None:
    with pytest.raises(PolicyDeniedError, match=reason) as denied:
        MaxAmount({"usd": 5000, "EUR": 100})(_request(params))

    assert denied.value.policy == "max-amount"


@pytest.mark.parametrize(
    ("mode", "environment"),
    [
        ("test", "development"),
        ("test", "production"),
        (None, "development"),
        ("live", "production"),
    ],
)
def test_test_mode_guard_allows_test_keys_and_live_keys_in_production(
    mode: ApiKeyMode | None, environment: str
) -> None:
    TestModeGuard()(_request({}, api_key_mode=mode, environment=environment))


@pytest.mark.parametrize("environment", ["development", "staging", "Production"])
def test_test_mode_guard_denies_live_keys_outside_production(environment: str) -> None:
    with pytest.raises(PolicyDeniedError) as denied:
        TestModeGuard()(_request({}, api_key_mode="live", environment=environment))

    assert denied.value.policy == "test-mode-guard"
    assert f"environment {environment!r}" in denied.value.message
    assert "sk_" not in str(denied.value)


def test_run_policies_stops_at_the_first_denial() -> None:
    ran: list[str] = []

    def record(name: str) -> Policy:
        def policy(request: PolicyRequest, /) -> None:
            ran.append(name)

        return policy

    policies: list[Policy] = [
        record("first"),
        AllowedCurrencies(["usd"]),
        record("after-denial"),
    ]

    with pytest.raises(PolicyDeniedError, match="allowed-currencies"):
        run_policies(policies, _request({"currency": "eur"}))
    assert ran == ["first"]

    run_policies(policies, _request({"currency": "usd"}))
    assert ran == ["first", "first", "after-denial"]
