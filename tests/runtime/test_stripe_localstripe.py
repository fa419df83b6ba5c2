"""The Stripe engine against a real API server (localstripe).

localstripe has no idempotency replay, so these tests check that calls go
through and errors come back mapped; key derivation is covered by unit tests.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import stripe
from stripe import RequestOptions, StripeClient

from generated._runtime import errors
from generated._runtime.context import CallContext
from generated._runtime.policies import AllowedCurrencies, TestModeGuard
from generated._runtime.stripe_calls import (
    StripeOperation,
    StripeSettings,
    acall,
    build_client,
    call,
    read,
)

CREATE_CUSTOMER = StripeOperation(
    capability="stripe-create-customer",
    operation="createCustomer",
    mutating=True,
    log_inputs=("email",),
    log_outputs=("id", "email"),
)
ATTACH_PAYMENT_METHOD = StripeOperation(
    capability="stripe-attach-payment-method",
    operation="attachPaymentMethod",
    mutating=True,
)
CREATE_PAYMENT_INTENT = StripeOperation(
    capability="stripe-create-payment-intent",
    operation="createPaymentIntent",
    mutating=True,
    log_inputs=("amount", "currency"),
    log_outputs=("id", "status", "client_secret"),
)


def _client(base: str, key: str = "sk_test_localstripe") -> StripeClient:
    return build_client(
        StripeSettings.model_validate(
            {
                "STRIPE_SECRET_KEY": key,
                "STRIPE_API_BASE": base,
                "STRIPE_MAX_NETWORK_RETRIES": 0,
            }
        )
    )


def test_create_customer_round_trip_is_logged_once(
    localstripe_url: str, call_records: list[logging.LogRecord]
) -> None:
    client = _client(localstripe_url)
    params: stripe.params.CustomerCreateParams = {"email": "jane.doe@example.com"}

    customer = call(
        CREATE_CUSTOMER,
        params,
        lambda c, options: c.v1.customers.create(params, options),
        client=client,
        context=CallContext(workflow_id="onboard", run_id="r1", step_id="customer"),
    )

    assert read(customer, "id") == customer.id
    assert customer.id.startswith("cus_")
    assert client.v1.customers.retrieve(customer.id).email == "jane.doe@example.com"
    [record] = call_records
    fields = record.contractgen  # type: ignore[attr-defined]
    assert fields["outcome"] == "succeeded"
    assert fields["outputs"] == {"id": customer.id, "email": "j***@example.com"}
    assert fields["idempotency_key"].startswith("cg-")


def test_declined_card_becomes_card_declined_error(localstripe_url: str) -> None:
    client = _client(localstripe_url)
    customer = client.v1.customers.create({"email": "decline@example.com"})
    card = client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {
                "number": "4000000000000002",
                "exp_month": 12,
                "exp_year": 2034,
                "cvc": "123",
            },
        }
    )

    def attach(c: StripeClient, options: RequestOptions) -> stripe.PaymentMethod:
        return c.v1.payment_methods.attach(card.id, {"customer": customer.id}, options)

    with pytest.raises(errors.CardDeclinedError) as declined:
        call(ATTACH_PAYMENT_METHOD, {"customer": customer.id}, attach, client=client)

    assert declined.value.code == "card_declined"
    assert declined.value.decline_code is None  # localstripe sends none
    assert declined.value.retryable is False
    assert isinstance(declined.value.__cause__, stripe.CardError)


def test_denied_payment_intent_is_never_created(localstripe_url: str) -> None:
    client = _client(localstripe_url)
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": 424242,
        "currency": "eur",
    }

    with pytest.raises(errors.PolicyDeniedError):
        call(
            CREATE_PAYMENT_INTENT,
            params,
            lambda c, options: c.v1.payment_intents.create(params, options),
            client=client,
            policies=[AllowedCurrencies(["usd"])],
        )

    created = client.v1.payment_intents.list({"limit": 100})
    assert all(intent.amount != 424242 for intent in created.data)


def test_live_key_never_reaches_stripe_outside_production(
    localstripe_url: str, call_records: list[logging.LogRecord]
) -> None:
    live = _client(localstripe_url, key="sk_live_localstripe")
    reached: list[object] = []

    with pytest.raises(errors.PolicyDeniedError):
        call(
            CREATE_CUSTOMER,
            {},
            lambda c, options: reached.append(c),
            client=live,
            policies=[TestModeGuard()],
            environment="development",
        )

    assert reached == []
    assert "sk_live_localstripe" not in repr([vars(r) for r in call_records])


# stripe-python 16.1 hands httpx its encoded body as ``data=``, which httpx
# 0.28+ deprecates; the warning is the SDK's, not ours.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
def test_async_payment_intent_round_trip(localstripe_url: str) -> None:
    http_client = stripe.HTTPXClient()
    client = StripeClient(
        "sk_test_localstripe",
        base_addresses={"api": localstripe_url},
        max_network_retries=0,
        http_client=http_client,
    )
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": 1500,
        "currency": "usd",
    }

    async def create(c: StripeClient, options: RequestOptions) -> stripe.PaymentIntent:
        return await c.v1.payment_intents.create_async(params, options)

    async def run() -> tuple[stripe.PaymentIntent, stripe.PaymentIntent]:
        try:
            intent = await acall(
                CREATE_PAYMENT_INTENT,
                params,
                create,
                client=client,
                policies=[AllowedCurrencies(["usd"])],
            )
            stored = await client.v1.payment_intents.retrieve_async(intent.id)
            return intent, stored
        finally:
            # The pool belongs to this event loop; close it before the loop
            # ends, or its sockets are reported as leaked.
            await http_client.close_async()

    intent, stored = asyncio.run(run())

    assert intent.id.startswith("pi_")
    assert intent.amount == 1500
    assert stored.id == intent.id
    assert stored.currency == "usd"
