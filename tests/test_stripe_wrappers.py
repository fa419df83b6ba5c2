"""The generated Stripe wrappers against a real Stripe-like server (localstripe).

Two packages are exercised: the committed `generated` package, and one compiled
here from the example capabilities plus a spec for every other operation in
the binding catalog, so that each catalogued operation is generated, passes
`mypy --strict` and, where localstripe implements it, is called for real.

localstripe declines the seed's failing test cards when they are attached to
a customer (real Stripe declines them at confirmation), has no Prices, so
`createSubscription` is tested in test_stripe_recorded.py, and no request ids.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import stripe
from stripe import StripeClient

from generated import Capabilities
from generated._runtime import stripe_calls
from generated.stripe import (
    CreateCustomerInput,
    CreatePaymentIntentInput,
    create_customer,
    create_customer_async,
    create_payment_intent,
)
from generator.bindings.stripe import CATALOG
from tests.support import Generated, example_with, generate_tree

SUCCEEDS = "4242424242424242"
INSUFFICIENT_FUNDS = "4000000000009995"
DECLINED = "4000000000000002"
EXP_YEAR = date.today().year + 3

# stripe-python 16.1 hands httpx its encoded body as `data=`, which httpx 0.28+
# deprecates; the warning is the SDK's, not the generated code's.
_IGNORE_SDK_HTTPX_WARNING = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>':DeprecationWarning"
)

# One capability per catalog operation the example specs do not cover.
# `stripe-charge-card` reuses createPaymentIntent with a payment method, since
# localstripe's confirm takes none; `stripe-retrieve-refund` is an operation
# the catalog lacks, bound by the spec itself.
CATALOG_SPECS = {
    "stripe-charge-card.yaml": """\
capabilityId: stripe-charge-card
provider: {type: stripe, operation: createPaymentIntent}
inputs:
  amount: {type: integer}
  currency: {type: string, default: usd}
  customerId: {type: string}
  paymentMethodId: {type: string}
  captureMethod: {type: string, optional: true}
outputs:
  paymentIntentId: {type: string}
  status: {type: string}
""",
    "stripe-capture-payment-intent.yaml": """\
capabilityId: stripe-capture-payment-intent
provider: {type: stripe, operation: capturePaymentIntent}
inputs:
  paymentIntentId: {type: string}
outputs:
  paymentIntentId: {type: string}
  status: {type: string}
""",
    "stripe-cancel-payment-intent.yaml": """\
capabilityId: stripe-cancel-payment-intent
provider: {type: stripe, operation: cancelPaymentIntent}
inputs:
  paymentIntentId: {type: string}
  reason: {type: string, optional: true}
outputs:
  paymentIntentId: {type: string}
  status: {type: string}
""",
    "stripe-retrieve-payment-intent.yaml": """\
capabilityId: stripe-retrieve-payment-intent
provider: {type: stripe, operation: retrievePaymentIntent}
inputs:
  paymentIntentId: {type: string}
outputs:
  paymentIntentId: {type: string}
  customerId: {type: string, nullable: true}
  amount: {type: integer}
  status: {type: string}
  created: {type: timestamp}
""",
    "stripe-retrieve-customer.yaml": """\
capabilityId: stripe-retrieve-customer
provider: {type: stripe, operation: retrieveCustomer}
inputs:
  customerId: {type: string}
outputs:
  customerId: {type: string}
  email: {type: string, nullable: true}
""",
    "stripe-cancel-subscription.yaml": """\
capabilityId: stripe-cancel-subscription
provider: {type: stripe, operation: cancelSubscription}
inputs:
  subscriptionId: {type: string}
outputs:
  subscriptionId: {type: string}
  status: {type: string}
  currentPeriodEnd: {type: timestamp}
""",
    "stripe-create-refund.yaml": """\
capabilityId: stripe-create-refund
provider: {type: stripe, operation: createRefund}
inputs:
  paymentIntentId: {type: string}
  amount: {type: integer, optional: true}
outputs:
  refundId: {type: string}
  paymentIntentId: {type: string}
  amount: {type: integer}
  status: {type: string}
""",
    "stripe-retrieve-refund.yaml": """\
capabilityId: stripe-retrieve-refund
provider:
  type: stripe
  operation: retrieveRefund
  binding:
    method: v1.refunds.retrieve
    inputs: {refundId: '@refund'}
    outputs: {refundId: id, paymentIntentId: payment_intent}
inputs:
  refundId: {type: string}
outputs:
  refundId: {type: string}
  paymentIntentId: {type: string, nullable: true}
  amount: {type: integer}
""",
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """The example capabilities plus one capability per other catalog operation."""
    tree = generate_tree(
        tmp_path_factory.mktemp("catalog"), {**example_with(), **CATALOG_SPECS}
    )
    assert tree.ok, tree.diagnostics()
    return tree


@pytest.fixture(scope="module")
def wrappers(catalog: Generated) -> ModuleType:
    return catalog.module("stripe")


@pytest.fixture(scope="module")
def errors(catalog: Generated) -> ModuleType:
    """The generated package's own runtime errors, raised by its wrappers."""
    return catalog.module("_runtime.errors")


@pytest.fixture
def client(localstripe_url: str) -> StripeClient:
    return StripeClient("sk_test_contractgen", base_addresses={"api": localstripe_url})


@pytest.fixture(autouse=True)
def _isolated_settings(isolated_settings: None) -> None:
    """Every test here starts with no provider settings (see tests/fixtures)."""
    yield
    stripe_calls.default_settings.cache_clear()
    stripe_calls.default_client.cache_clear()


def _card(wrappers: ModuleType, client: StripeClient, number: str) -> str:
    made = wrappers.create_payment_method(
        wrappers.CreatePaymentMethodInput(
            card_number=number, exp_month=12, exp_year=EXP_YEAR, cvc="123"
        ),
        client=client,
    )
    payment_method_id: str = made.payment_method_id
    return payment_method_id


def _customer_with_card(wrappers: ModuleType, client: StripeClient) -> tuple[str, str]:
    customer = wrappers.create_customer(
        wrappers.CreateCustomerInput(email="card.holder@example.com"), client=client
    )
    card = _card(wrappers, client, SUCCEEDS)
    wrappers.attach_payment_method(
        wrappers.AttachPaymentMethodInput(
            payment_method_id=card, customer_id=customer.customer_id
        ),
        client=client,
    )
    return customer.customer_id, card


def test_every_catalog_operation_is_generated(catalog: Generated) -> None:
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for path in sorted((catalog.output / "stripe").glob("*.py"))
    )
    for name in CATALOG:
        assert f'operation="{name}"' in sources, name
    assert 'operation="retrieveRefund"' in sources


def test_generated_catalog_passes_mypy_strict(
    catalog: Generated, tmp_path: Path
) -> None:
    """The Stripe wrappers, the runtime they import and the container type-check.

    The calls into stripe-python are checked against its TypedDict params.
    """
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "-p",
            f"{catalog.package}.stripe",
            "-m",
            f"{catalog.package}.capabilities",
        ],
        cwd=catalog.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("Success:"), checked.stdout


def test_committed_wrappers_create_customer_and_payment_intent(
    client: StripeClient,
) -> None:
    customer = create_customer(
        CreateCustomerInput(email="ada@example.com", name="Ada"), client=client
    )
    intent = create_payment_intent(
        CreatePaymentIntentInput(amount=1999, customer_id=customer.customer_id),
        client=client,
    )

    assert customer.customer_id.startswith("cus_")
    assert customer.email == "ada@example.com"
    assert intent.payment_intent_id.startswith("pi_")
    assert intent.client_secret.startswith(f"{intent.payment_intent_id}_secret_")
    assert intent.status == "requires_payment_method"
    stored = client.v1.payment_intents.retrieve(intent.payment_intent_id)
    assert (stored.amount, stored.currency) == (1999, "usd")
    assert stored.customer == customer.customer_id


def test_capabilities_container_uses_the_given_client(client: StripeClient) -> None:
    caps = Capabilities(stripe=client)

    customer = caps.create_customer(CreateCustomerInput(email="grace@example.com"))
    intent = caps.create_payment_intent(
        CreatePaymentIntentInput(amount=500, currency="eur")
    )

    assert caps.stripe is client
    assert client.v1.customers.retrieve(customer.customer_id).email == (
        "grace@example.com"
    )
    assert client.v1.payment_intents.retrieve(intent.payment_intent_id).currency == (
        "eur"
    )


def test_capabilities_from_env_reads_key_and_api_base(
    localstripe_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_from_env")
    monkeypatch.setenv("STRIPE_API_BASE", localstripe_url)

    customer = Capabilities.from_env().create_customer(
        CreateCustomerInput(email="env@example.com")
    )

    reader = StripeClient("sk_test_reader", base_addresses={"api": localstripe_url})
    assert reader.v1.customers.retrieve(customer.customer_id).email == (
        "env@example.com"
    )


def test_successful_card_is_charged_refunded_and_read_back(
    wrappers: ModuleType, client: StripeClient
) -> None:
    customer_id, card = _customer_with_card(wrappers, client)
    before = datetime.now(UTC).replace(microsecond=0)

    created = wrappers.charge_card(
        wrappers.ChargeCardInput(
            amount=2500, customer_id=customer_id, payment_method_id=card
        ),
        client=client,
    )
    confirmed = wrappers.confirm_payment_intent(
        wrappers.ConfirmPaymentIntentInput(payment_intent_id=created.payment_intent_id),
        client=client,
    )
    read = wrappers.retrieve_payment_intent(
        wrappers.RetrievePaymentIntentInput(
            payment_intent_id=created.payment_intent_id
        ),
        client=client,
    )
    refund = wrappers.create_refund(
        wrappers.CreateRefundInput(payment_intent_id=created.payment_intent_id),
        client=client,
    )
    refund_read = wrappers.retrieve_refund(
        wrappers.RetrieveRefundInput(refund_id=refund.refund_id), client=client
    )

    assert created.status == "requires_confirmation"
    assert confirmed.status == "succeeded"
    assert (read.status, read.amount, read.customer_id) == (
        "succeeded",
        2500,
        customer_id,
    )
    assert read.created.tzinfo is not None
    assert read.created.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= read.created <= datetime.now(UTC)
    assert refund.refund_id.startswith("re_")
    assert (refund.payment_intent_id, refund.amount, refund.status) == (
        created.payment_intent_id,
        2500,
        "succeeded",
    )
    assert (refund_read.refund_id, refund_read.amount) == (refund.refund_id, 2500)


def test_manual_capture_and_cancel(wrappers: ModuleType, client: StripeClient) -> None:
    customer_id, card = _customer_with_card(wrappers, client)

    def intent(capture_method: str | None) -> str:
        created = wrappers.charge_card(
            wrappers.ChargeCardInput(
                amount=1200,
                customer_id=customer_id,
                payment_method_id=card,
                capture_method=capture_method,
            ),
            client=client,
        )
        payment_intent_id: str = created.payment_intent_id
        return payment_intent_id

    held = intent("manual")
    authorised = wrappers.confirm_payment_intent(
        wrappers.ConfirmPaymentIntentInput(payment_intent_id=held), client=client
    )
    captured = wrappers.capture_payment_intent(
        wrappers.CapturePaymentIntentInput(payment_intent_id=held), client=client
    )
    abandoned = intent(None)
    canceled = wrappers.cancel_payment_intent(
        wrappers.CancelPaymentIntentInput(payment_intent_id=abandoned), client=client
    )

    assert authorised.status == "requires_capture"
    assert (captured.payment_intent_id, captured.status) == (held, "succeeded")
    assert (canceled.payment_intent_id, canceled.status) == (abandoned, "canceled")
    assert client.v1.payment_intents.retrieve(abandoned).status == "canceled"


def test_retrieve_customer(wrappers: ModuleType, client: StripeClient) -> None:
    made = wrappers.create_customer(
        wrappers.CreateCustomerInput(email="lin@example.com"), client=client
    )

    read = wrappers.retrieve_customer(
        wrappers.RetrieveCustomerInput(customer_id=made.customer_id), client=client
    )

    assert (read.customer_id, read.email) == (made.customer_id, "lin@example.com")


def test_cancel_subscription_reads_the_older_period_shape(
    wrappers: ModuleType, client: StripeClient
) -> None:
    """localstripe answers in the pre-2025-03-31 shape: the period end on top."""
    customer = client.v1.customers.create({"email": "sub@example.com"})
    plan = client.v1.plans.create(
        {
            "amount": 900,
            "currency": "usd",
            "interval": "month",
            "product": {"name": "Pro"},
        }
    )
    subscription = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"plan": plan.id}], "trial_period_days": 7}
    )
    period_end = subscription.to_dict()["current_period_end"]

    canceled = wrappers.cancel_subscription(
        wrappers.CancelSubscriptionInput(subscription_id=subscription.id),
        client=client,
    )

    assert (canceled.subscription_id, canceled.status) == (subscription.id, "canceled")
    assert canceled.current_period_end == datetime.fromtimestamp(period_end, UTC)
    assert canceled.current_period_end.utcoffset() == timedelta(0)


@pytest.mark.parametrize("number", [INSUFFICIENT_FUNDS, DECLINED])
def test_seed_decline_cards_raise_card_declined(
    wrappers: ModuleType, errors: ModuleType, client: StripeClient, number: str
) -> None:
    customer = wrappers.create_customer(
        wrappers.CreateCustomerInput(email="declined@example.com"), client=client
    )
    card = _card(wrappers, client, number)

    with pytest.raises(errors.CardDeclinedError) as declined:
        wrappers.attach_payment_method(
            wrappers.AttachPaymentMethodInput(
                payment_method_id=card, customer_id=customer.customer_id
            ),
            client=client,
        )

    assert declined.value.code == "card_declined"
    assert declined.value.capability == "stripe-attach-payment-method"
    assert declined.value.retryable is False
    assert isinstance(declined.value.__cause__, stripe.CardError)
    attached = client.v1.payment_methods.retrieve(card)
    assert attached.customer is None


@_IGNORE_SDK_HTTPX_WARNING
def test_async_wrappers_run_the_card_flow(
    catalog: Generated, wrappers: ModuleType, errors: ModuleType, localstripe_url: str
) -> None:
    http_client = stripe.HTTPXClient()
    client = StripeClient(
        "sk_test_contractgen",
        base_addresses={"api": localstripe_url},
        http_client=http_client,
    )
    caps = catalog.module().Capabilities(stripe=client)

    async def run() -> tuple[Any, Any, Any]:
        try:
            customer = await caps.create_customer_async(
                wrappers.CreateCustomerInput(email="async@example.com")
            )
            card = await caps.create_payment_method_async(
                wrappers.CreatePaymentMethodInput(
                    card_number=SUCCEEDS, exp_month=1, exp_year=EXP_YEAR, cvc="321"
                )
            )
            await caps.attach_payment_method_async(
                wrappers.AttachPaymentMethodInput(
                    payment_method_id=card.payment_method_id,
                    customer_id=customer.customer_id,
                )
            )
            created = await caps.charge_card_async(
                wrappers.ChargeCardInput(
                    amount=700,
                    customer_id=customer.customer_id,
                    payment_method_id=card.payment_method_id,
                )
            )
            confirmed = await caps.confirm_payment_intent_async(
                wrappers.ConfirmPaymentIntentInput(
                    payment_intent_id=created.payment_intent_id
                )
            )
            declined_card = await caps.create_payment_method_async(
                wrappers.CreatePaymentMethodInput(
                    card_number=DECLINED, exp_month=1, exp_year=EXP_YEAR, cvc="321"
                )
            )
            try:
                await caps.attach_payment_method_async(
                    wrappers.AttachPaymentMethodInput(
                        payment_method_id=declined_card.payment_method_id,
                        customer_id=customer.customer_id,
                    )
                )
            except errors.CardDeclinedError as error:
                declined = error
            else:
                declined = None
            return customer, confirmed, declined
        finally:
            # The connection pool belongs to this event loop; close it here,
            # or its sockets are reported as leaked when the loop ends.
            await http_client.close_async()

    customer, confirmed, declined = asyncio.run(run())

    assert customer.customer_id.startswith("cus_")
    assert confirmed.status == "succeeded"
    assert declined is not None and declined.code == "card_declined"


@_IGNORE_SDK_HTTPX_WARNING
def test_committed_async_wrapper_creates_customer(localstripe_url: str) -> None:
    http_client = stripe.HTTPXClient()
    client = StripeClient(
        "sk_test_contractgen",
        base_addresses={"api": localstripe_url},
        http_client=http_client,
    )

    async def run() -> str:
        try:
            made = await create_customer_async(
                CreateCustomerInput(email="loop@example.com"), client=client
            )
            customer_id: str = made.customer_id
            return customer_id
        finally:
            await http_client.close_async()

    customer_id = asyncio.run(run())

    reader = StripeClient("sk_test_reader", base_addresses={"api": localstripe_url})
    assert reader.v1.customers.retrieve(customer_id).email == "loop@example.com"
