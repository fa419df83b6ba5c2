"""The generated Stripe wrappers against responses in Stripe's current shape.

localstripe lacks what these tests need: it has no Prices, keeps the
subscription period on the subscription itself (Stripe API 2025-03-31 moved
it to `items.data[0]`), replays nothing by `Idempotency-Key`, and sends no
`decline_code` or request id. So a small HTTP server on 127.0.0.1, run in a
thread, answers with objects and errors written in Stripe's current JSON
shape, replays by `Idempotency-Key` the way Stripe does, and records every
request it receives.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import ValidationError
from stripe import StripeClient

from generated._runtime.context import CallContext
from generated._runtime.errors import IdempotencyConflictError
from generated._runtime.idempotency import step_key
from generated.stripe import (
    CreateCustomerInput,
    CreatePaymentIntentInput,
    CreateSubscriptionInput,
    create_customer,
    create_payment_intent,
    create_subscription,
)
from tests.support import Generated, example_with, generate_tree

PERIOD_START = 1_767_225_600  # 2026-01-01T00:00:00Z
PERIOD_END = 1_769_904_000  # 2026-02-01T00:00:00Z

EXTRA_SPECS = {
    "stripe-start-trial.yaml": """\
capabilityId: stripe-start-trial
provider: {type: stripe, operation: createSubscription}
inputs:
  customerId: {type: string}
  priceId: {type: string}
  trialEnd: {type: timestamp}
outputs:
  subscriptionId: {type: string}
  currentPeriodEnd: {type: timestamp}
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
}

Form = dict[str, str]
Reply = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    form: Form


@dataclass
class StripeStub:
    """Stripe's API as far as these tests need it, with Stripe's replay rules.

    A POST whose `Idempotency-Key` was seen before gets the first response
    again if its parameters are the same, and an `idempotency_error` if not.
    """

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    _replies: dict[str, tuple[Form, Reply]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> tuple[Reply, dict[str, str]]:
        with self._lock:
            self.requests.append(request)
            key = request.headers.get("idempotency-key")
            if request.method == "POST" and key in self._replies:
                form, reply = self._replies[key]
                if form != request.form:
                    return _idempotency_error(key), {}
                return reply, {"Idempotent-Replayed": "true"}
            reply = self._route(request)
            if request.method == "POST" and key is not None:
                self._replies[key] = (request.form, reply)
            return reply, {}

    def _route(self, request: Request) -> Reply:
        number = next(self._ids)
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts == ["v1", "customers"]:
            return self._create(_customer(f"cus_stub{number}", request.form))
        if request.method == "GET" and parts[:2] == ["v1", "customers"]:
            return 200, _customer(parts[2], {"email": "kept@example.com"})
        if request.method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create(_payment_intent(f"pi_stub{number}", request.form))
        if request.method == "POST" and parts == ["v1", "subscriptions"]:
            return self._create(_subscription(f"sub_stub{number}", request.form))
        if request.method == "POST" and parts[-1] == "confirm":
            return _insufficient_funds(parts[2])
        return 404, {"error": {"type": "invalid_request_error", "message": "?"}}

    def _create(self, obj: dict[str, Any]) -> Reply:
        self.created.append(obj)
        return 200, obj


def _customer(customer_id: str, form: Form) -> dict[str, Any]:
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": PERIOD_START,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": form.get("email"),
        "invoice_settings": {"default_payment_method": None, "footer": None},
        "livemode": False,
        "metadata": {},
        "name": form.get("name"),
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def _payment_intent(intent_id: str, form: Form) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": int(form["amount"]),
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": "automatic_async",
        "client_secret": f"{intent_id}_secret_stubstubstub",
        "confirmation_method": "automatic",
        "created": PERIOD_START,
        "currency": form["currency"],
        "customer": form.get("customer"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "payment_method": None,
        "payment_method_types": ["card"],
        "status": "requires_payment_method",
    }


def _subscription(subscription_id: str, form: Form) -> dict[str, Any]:
    """A subscription as API 2025-03-31 and later return it: no top-level period."""
    price = form["items[0][price]"]
    return {
        "id": subscription_id,
        "object": "subscription",
        "billing_cycle_anchor": PERIOD_END,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "collection_method": "charge_automatically",
        "created": PERIOD_START,
        "currency": "usd",
        "customer": form["customer"],
        "default_payment_method": None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_stub1",
                    "object": "subscription_item",
                    "created": PERIOD_START,
                    "current_period_end": PERIOD_END,
                    "current_period_start": PERIOD_START,
                    "metadata": {},
                    "price": {
                        "id": price,
                        "object": "price",
                        "active": True,
                        "currency": "usd",
                        "product": "prod_stub1",
                        "recurring": {
                            "interval": "month",
                            "interval_count": 1,
                            "usage_type": "licensed",
                        },
                        "type": "recurring",
                        "unit_amount": 1500,
                    },
                    "quantity": 1,
                    "subscription": subscription_id,
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "latest_invoice": "in_stub1",
        "livemode": False,
        "metadata": {},
        "start_date": PERIOD_START,
        "status": "trialing",
        "trial_end": PERIOD_END,
        "trial_start": PERIOD_START,
    }


def _insufficient_funds(intent_id: str) -> Reply:
    return 402, {
        "error": {
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "doc_url": "https://docs.stripe.com/error-codes/card-declined",
            "message": "Your card has insufficient funds.",
            "payment_intent": {
                "id": intent_id,
                "object": "payment_intent",
                "status": "requires_payment_method",
            },
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_stub",
            "type": "card_error",
        }
    }


def _idempotency_error(key: str) -> Reply:
    return 400, {
        "error": {
            "message": (
                "Keys for idempotent requests can only be used with the same "
                f"parameters they were first used with. Try using a key other "
                f"than '{key}' if you meant to execute a different request."
            ),
            "type": "idempotency_error",
        }
    }


def _handler(stub: StripeStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        request_ids = itertools.count(1)

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_DELETE(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            path, _, query = self.path.partition("?")
            request = Request(
                method=self.command,
                path=path,
                headers={k.lower(): v for k, v in self.headers.items()},
                form=dict(parse_qsl(body or query, keep_blank_values=True)),
            )
            (status, payload), extra = stub.handle(request)
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_stub{next(self.request_ids)}")
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def stub() -> Iterator[StripeStub]:
    stub = StripeStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def client(stub: StripeStub) -> StripeClient:
    return StripeClient(
        "sk_test_recorded", base_addresses={"api": stub.url}, max_network_retries=0
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    tree = generate_tree(
        tmp_path_factory.mktemp("recorded"), {**example_with(), **EXTRA_SPECS}
    )
    assert tree.ok, tree.diagnostics()
    return tree


@pytest.fixture(scope="module")
def wrappers(tree: Generated) -> ModuleType:
    return tree.module("stripe")


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("CONTRACTGEN_ENVIRONMENT", raising=False)
    monkeypatch.chdir(tmp_path)


def test_subscription_period_end_is_read_from_its_first_item(
    stub: StripeStub, client: StripeClient
) -> None:
    created = create_subscription(
        CreateSubscriptionInput(
            customer_id="cus_1", price_id="price_gold", trial_days=14
        ),
        client=client,
    )

    [request] = stub.requests
    assert (request.method, request.path) == ("POST", "/v1/subscriptions")
    assert request.form == {
        "customer": "cus_1",
        "items[0][price]": "price_gold",
        "trial_period_days": "14",
    }
    assert "current_period_end" not in stub.created[0]
    assert created.subscription_id == "sub_stub1"
    assert created.status == "trialing"
    assert created.current_period_end == datetime(2026, 2, 1, tzinfo=UTC)
    assert created.current_period_end.utcoffset() == timedelta(0)


def test_timestamp_input_is_sent_as_epoch_seconds(
    stub: StripeStub, client: StripeClient, wrappers: ModuleType
) -> None:
    paris_winter = timezone(timedelta(hours=1))

    started = wrappers.start_trial(
        wrappers.StartTrialInput(
            customer_id="cus_1",
            price_id="price_gold",
            trial_end=datetime(2026, 2, 1, 1, 0, tzinfo=paris_winter),
        ),
        client=client,
    )

    [request] = stub.requests
    assert request.form["trial_end"] == str(PERIOD_END)
    assert started.current_period_end == datetime.fromtimestamp(PERIOD_END, UTC)


def test_naive_timestamp_input_is_rejected_before_any_request(
    stub: StripeStub, wrappers: ModuleType
) -> None:
    with pytest.raises(ValidationError, match="timezone"):
        wrappers.StartTrialInput(
            customer_id="cus_1",
            price_id="price_gold",
            trial_end=datetime(2026, 2, 1),
        )

    assert stub.requests == []


def test_same_key_and_input_twice_creates_one_customer(
    stub: StripeStub, client: StripeClient
) -> None:
    inputs = CreateCustomerInput(email="ada@example.com")

    first = create_customer(inputs, client=client, idempotency_key="signup-ada-1")
    second = create_customer(inputs, client=client, idempotency_key="signup-ada-1")

    assert first.customer_id == second.customer_id
    assert len(stub.created) == 1
    assert [r.headers["idempotency-key"] for r in stub.requests] == [
        "signup-ada-1",
        "signup-ada-1",
    ]


def test_workflow_step_retry_sends_the_same_key(
    stub: StripeStub, client: StripeClient
) -> None:
    inputs = CreatePaymentIntentInput(amount=4200, customer_id="cus_1")

    def attempt(run_id: str, number: int) -> str:
        context = CallContext(
            workflow_id="process-payment",
            run_id=run_id,
            step_id="create-payment-intent",
            attempt=number,
        )
        made = create_payment_intent(inputs, client=client, context=context)
        payment_intent_id: str = made.payment_intent_id
        return payment_intent_id

    first = attempt("run-7", 1)
    retried = attempt("run-7", 2)
    other_run = attempt("run-8", 1)

    keys = [r.headers["idempotency-key"] for r in stub.requests]
    expected = step_key("process-payment", "run-7", "create-payment-intent")
    assert keys[:2] == [expected, expected]
    assert keys[2] == step_key("process-payment", "run-8", "create-payment-intent")
    assert keys[2] != expected
    assert first == retried != other_run
    assert len(stub.created) == 2


def test_calls_without_a_key_each_get_a_fresh_one(
    stub: StripeStub, client: StripeClient
) -> None:
    inputs = CreateCustomerInput(email="twice@example.com")

    first = create_customer(inputs, client=client)
    second = create_customer(inputs, client=client)

    keys = [r.headers["idempotency-key"] for r in stub.requests]
    assert all(key.startswith("cg-") for key in keys)
    assert keys[0] != keys[1]
    assert first.customer_id != second.customer_id


def test_same_key_with_other_input_is_an_idempotency_conflict(
    stub: StripeStub, client: StripeClient
) -> None:
    create_customer(
        CreateCustomerInput(email="one@example.com"),
        client=client,
        idempotency_key="signup-1",
    )

    with pytest.raises(IdempotencyConflictError) as conflict:
        create_customer(
            CreateCustomerInput(email="two@example.com"),
            client=client,
            idempotency_key="signup-1",
        )

    assert conflict.value.retryable is False
    assert conflict.value.request_id == "req_stub2"
    assert len(stub.created) == 1


def test_reads_send_no_idempotency_key(
    stub: StripeStub, client: StripeClient, wrappers: ModuleType
) -> None:
    read = wrappers.retrieve_customer(
        wrappers.RetrieveCustomerInput(customer_id="cus_42"),
        client=client,
        idempotency_key="ignored-for-reads",
    )

    [request] = stub.requests
    assert (request.method, request.path) == ("GET", "/v1/customers/cus_42")
    assert "idempotency-key" not in request.headers
    assert (read.customer_id, read.email) == ("cus_42", "kept@example.com")


def test_insufficient_funds_keeps_code_decline_code_and_request_id(
    stub: StripeStub, client: StripeClient, tree: Generated, wrappers: ModuleType
) -> None:
    errors = tree.module("_runtime.errors")
    context = CallContext(workflow_id="checkout", run_id="r1", step_id="confirm")

    with pytest.raises(errors.CardDeclinedError) as declined:
        wrappers.confirm_payment_intent(
            wrappers.ConfirmPaymentIntentInput(payment_intent_id="pi_9995"),
            client=client,
            context=context,
        )

    error = declined.value
    assert (error.code, error.decline_code) == ("card_declined", "insufficient_funds")
    assert error.request_id == "req_stub1"
    assert error.capability == "stripe-confirm-payment-intent"
    assert error.step == "confirm"
    assert error.retryable is False
    assert error.to_dict()["decline_code"] == "insufficient_funds"
    [request] = stub.requests
    assert request.path == "/v1/payment_intents/pi_9995/confirm"
