"""Policies and log redaction, through the committed generated Stripe wrappers.

The wrappers talk to localstripe through stripe-python's own HTTP client,
wrapped to record every request it sends, so "Stripe is never called" is
measured rather than inferred from what the server holds afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import stripe
from stripe import StripeClient

from generated import Capabilities
from generated._runtime import stripe_calls
from generated._runtime.calllog import LOGGER_NAME
from generated._runtime.errors import InvalidRequestError, PolicyDeniedError
from generated._runtime.policies import PolicyRequest
from generated.stripe import (
    CreateCustomerInput,
    CreatePaymentIntentInput,
    create_customer,
    create_payment_intent,
)
from generated.stripe._integration import POLICIES

SECRET_KEY = "sk_test_51GuardsAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
LIVE_KEY = "sk_live_51GuardsAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


class RecordingHTTPClient(stripe.RequestsClient):
    """stripe-python's default HTTP client, keeping each request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        self.sent.append((method, url))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def http() -> Iterator[RecordingHTTPClient]:
    http = RecordingHTTPClient()
    yield http
    http.close()


def _client(url: str, http: RecordingHTTPClient, key: str = SECRET_KEY) -> StripeClient:
    return StripeClient(
        key, base_addresses={"api": url}, http_client=http, max_network_retries=0
    )


@pytest.fixture
def client(localstripe_url: str, http: RecordingHTTPClient) -> StripeClient:
    return _client(localstripe_url, http)


@pytest.fixture(autouse=True)
def _isolated_settings(isolated_settings: None) -> None:
    """Every test here starts with no provider settings (see tests/fixtures)."""
    yield
    stripe_calls.default_settings.cache_clear()
    stripe_calls.default_client.cache_clear()


def test_integration_spec_policies_are_compiled_in() -> None:
    assert [type(policy).__name__ for policy in POLICIES] == [
        "TestModeGuard",
        "AllowedCurrencies",
        "MaxAmount",
    ]


def test_disallowed_currency_never_reaches_stripe(
    client: StripeClient, http: RecordingHTTPClient
) -> None:
    with pytest.raises(PolicyDeniedError) as denied:
        create_payment_intent(
            CreatePaymentIntentInput(amount=1000, currency="JPY"), client=client
        )

    assert denied.value.policy == "allowed-currencies"
    assert denied.value.code == "policy_denied"
    assert denied.value.retryable is False
    assert "'jpy'" in denied.value.message
    assert http.sent == []


def test_amount_over_the_maximum_never_reaches_stripe(
    client: StripeClient, http: RecordingHTTPClient
) -> None:
    with pytest.raises(PolicyDeniedError) as denied:
        create_payment_intent(CreatePaymentIntentInput(amount=1_000_001), client=client)

    assert denied.value.policy == "max-amount"
    assert http.sent == []


def test_amount_at_the_maximum_is_sent(
    client: StripeClient, http: RecordingHTTPClient, localstripe_url: str
) -> None:
    intent = create_payment_intent(
        CreatePaymentIntentInput(amount=1_000_000, currency="gbp"), client=client
    )

    [(method, url)] = http.sent
    assert (method, url) == ("post", f"{localstripe_url}/v1/payment_intents")
    assert client.v1.payment_intents.retrieve(intent.payment_intent_id).amount == (
        1_000_000
    )


def test_live_key_is_refused_outside_production(
    localstripe_url: str, http: RecordingHTTPClient
) -> None:
    live = _client(localstripe_url, http, key=LIVE_KEY)

    with pytest.raises(PolicyDeniedError) as denied:
        Capabilities(stripe=live).create_customer(
            CreateCustomerInput(email="live@example.com")
        )

    assert denied.value.policy == "test-mode-guard"
    assert "'development'" in denied.value.message
    assert LIVE_KEY not in str(denied.value)
    assert http.sent == []


def test_live_key_is_used_in_production(
    localstripe_url: str, http: RecordingHTTPClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRACTGEN_ENVIRONMENT", "production")
    live = _client(localstripe_url, http, key=LIVE_KEY)

    customer = create_customer(
        CreateCustomerInput(email="live@example.com"), client=live
    )

    assert customer.customer_id.startswith("cus_")
    assert len(http.sent) == 1


def test_application_policy_runs_after_the_builtin_ones(
    client: StripeClient, http: RecordingHTTPClient
) -> None:
    def require_order_id(request: PolicyRequest) -> None:
        metadata = request.params.get("metadata")
        if not isinstance(metadata, Mapping) or "order_id" not in metadata:
            raise PolicyDeniedError(
                "payments must name their order",
                capability=request.capability,
                provider=request.provider,
                policy="order-id",
            )

    caps = Capabilities(stripe=client, stripe_policies=(*POLICIES, require_order_id))

    with pytest.raises(PolicyDeniedError) as denied:
        caps.create_payment_intent(CreatePaymentIntentInput(amount=100))
    assert denied.value.policy == "order-id"
    assert http.sent == []

    caps.create_payment_intent(
        CreatePaymentIntentInput(amount=100, metadata={"order_id": "o-1"})
    )
    assert len(http.sent) == 1
    with pytest.raises(PolicyDeniedError) as builtin_first:
        caps.create_payment_intent(CreatePaymentIntentInput(amount=100, currency="chf"))
    assert builtin_first.value.policy == "allowed-currencies"


def test_denied_call_is_logged_once_as_denied(
    client: StripeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)

    with pytest.raises(PolicyDeniedError):
        create_payment_intent(
            CreatePaymentIntentInput(amount=1000, currency="jpy"), client=client
        )

    [record] = caplog.records
    fields = record.contractgen  # type: ignore[attr-defined]
    assert record.levelno == logging.WARNING
    assert fields["outcome"] == "denied"
    assert fields["error_type"] == "PolicyDeniedError"
    assert fields["error_code"] == "policy_denied"
    assert fields["inputs"] == {
        "amount": 1000,
        "currency": "jpy",
        "customer": None,
        "payment_method": None,
    }


def test_logs_never_hold_the_key_client_secret_or_email(
    client: StripeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An e-mail passed by mistake as an allow-listed id is logged masked."""
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    email = "ada.lovelace@example.com"

    customer = create_customer(
        CreateCustomerInput(email=email, name="Ada Lovelace"), client=client
    )
    intent = create_payment_intent(
        CreatePaymentIntentInput(amount=1999, customer_id=customer.customer_id),
        client=client,
    )
    with pytest.raises(InvalidRequestError):
        create_payment_intent(
            CreatePaymentIntentInput(amount=1999, customer_id=email), client=client
        )

    made, paid, failed = (r.contractgen for r in caplog.records)  # type: ignore[attr-defined]
    assert [made["outcome"], paid["outcome"], failed["outcome"]] == [
        "succeeded",
        "succeeded",
        "failed",
    ]
    assert made["outputs"] == {"id": customer.customer_id}
    assert paid["outputs"] == {
        "id": intent.payment_intent_id,
        "status": "requires_payment_method",
    }
    assert paid["idempotency_key"].startswith("cg-")
    assert failed["inputs"]["customer"] == "a***@example.com"
    logged = caplog.text + "\n".join(repr(vars(r)) for r in caplog.records)
    for secret in (SECRET_KEY, intent.client_secret, email, "Lovelace"):
        assert secret not in logged, secret
