"""The generated webhook endpoint, served by uvicorn on 127.0.0.1, over real HTTP.

localstripe delivers real signed events for what it implements: payment
intents that succeed or fail, subscriptions created and deleted. Everything
else is signed here exactly as Stripe signs it (`t=<time>,v1=<HMAC-SHA256 of
"<time>.<body>">`, via stripe-python's own `generate_signature_header`), with
bodies in Stripe's current shape: `customer.subscription.updated` (localstripe
never sends it), duplicates, out-of-order delivery, bad signatures and a load
test.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
import uvicorn
from starlette.applications import Starlette
from stripe import StripeClient

from generated._runtime.webhook_store import (
    MemoryWebhookStore,
    SqliteWebhookStore,
    WebhookStore,
)
from generated._runtime.webhooks import LOGGER_NAME, StripeEvent, WebhookSettings
from generated.webhooks import (
    WEBHOOK_PATH,
    CustomerSubscriptionCreated,
    CustomerSubscriptionDeleted,
    CustomerSubscriptionUpdated,
    PaymentIntentPaymentFailed,
    PaymentIntentSucceeded,
    WebhookRouter,
    create_app,
)
from generated.webhooks.app import MAX_BODY_BYTES, TOLERANCE_S
from tests.support import ROOT

HOST = "127.0.0.1"
SECRET = "whsec_contractgen_test"

SUCCEEDS = "4242424242424242"
# Stripe's test card that attaches but whose charges are declined; localstripe
# declines the other decline cards when they are attached, before any charge.
DECLINED_ON_CHARGE = "4000000000000341"

# stripe-python 16.1 hands httpx its encoded body as `data=`, which httpx 0.28+
# deprecates; the warning is the SDK's, not the generated code's.
_IGNORE_SDK_HTTPX_WARNING = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>':DeprecationWarning"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Recorder:
    """Handlers that remember what they received, safe across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[StripeEvent] = []
        self.stale: dict[str, bool] = {}
        self.calls: Counter[str] = Counter()
        self.fail_next: set[str] = set()

    def record(self, event: StripeEvent) -> None:
        with self.lock:
            self.calls[event.id] += 1
            if event.id in self.fail_next:
                self.fail_next.discard(event.id)
                raise RuntimeError("the handler's database is down")
            self.events.append(event)
            self.stale[event.id] = event.is_stale

    def of_type(self, event_type: str) -> list[StripeEvent]:
        with self.lock:
            return [e for e in self.events if e.type == event_type]

    def router(self) -> WebhookRouter:
        router = WebhookRouter()

        @router.on_payment_intent_succeeded
        def succeeded(event: PaymentIntentSucceeded) -> None:
            self.record(event)

        @router.on_payment_intent_payment_failed
        def failed(event: PaymentIntentPaymentFailed) -> None:
            self.record(event)

        @router.on_customer_subscription_created
        def created(event: CustomerSubscriptionCreated) -> None:
            self.record(event)

        @router.on_customer_subscription_updated
        def updated(event: CustomerSubscriptionUpdated) -> None:
            self.record(event)

        @router.on_customer_subscription_deleted
        def deleted(event: CustomerSubscriptionDeleted) -> None:
            self.record(event)

        return router


class Served:
    """An ASGI app under uvicorn in a background thread, on a free port."""

    def __init__(self, app: Starlette) -> None:
        self.port = _free_port()
        config = uvicorn.Config(
            app,
            host=HOST,
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="none",
            # Room for the load test's senders without the kernel's backlog
            # turning a burst into refused connections.
            backlog=256,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{WEBHOOK_PATH}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def settings(tmp_path: Path) -> WebhookSettings:
    return WebhookSettings.model_validate(
        {
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "CONTRACTGEN_WEBHOOK_STORE": str(tmp_path / "webhooks.sqlite3"),
        }
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def store(settings: WebhookSettings) -> SqliteWebhookStore:
    assert settings.store is not None
    return SqliteWebhookStore(settings.store)


@pytest.fixture
def served(
    recorder: Recorder, settings: WebhookSettings, store: WebhookStore
) -> Iterator[Served]:
    with Served(create_app(recorder.router(), settings=settings, store=store)) as s:
        yield s


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def signed(
    body: bytes, *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode("utf-8"), secret, timestamp
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def event_body(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
    previous: dict[str, Any] | None = None,
) -> bytes:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    event = {
        "id": event_id or f"evt_{random.getrandbits(64):016x}",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": data,
    }
    return json.dumps(event).encode("utf-8")


def subscription(
    subscription_id: str = "sub_1", *, status: str = "active", period_end: int = 0
) -> dict[str, Any]:
    """A subscription in the current shape: the period on its items."""
    return {
        "id": subscription_id,
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "metadata": {"plan": "pro"},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "current_period_start": period_end - 2_592_000,
                    "current_period_end": period_end,
                }
            ],
        },
    }


def payment_intent(intent_id: str = "pi_1") -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": 2000,
        "currency": "usd",
        "status": "succeeded",
        "customer": "cus_1",
        "metadata": {"order": "42"},
    }


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for webhook deliveries")
        time.sleep(0.05)


# --- localstripe: real signed deliveries ------------------------------------


@pytest.fixture
def stripe_client(localstripe_url: str) -> StripeClient:
    return StripeClient(
        "sk_test_contractgen",
        base_addresses={"api": localstripe_url},
        max_network_retries=0,
    )


@pytest.fixture
def localstripe_webhook(
    localstripe_url: str, served: Served, http: httpx.Client
) -> Iterator[None]:
    """localstripe told, through its config endpoint, to deliver to `served`."""
    hook = f"{localstripe_url}/_config/webhooks/contractgen-{served.port}"
    events = [
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "customer.subscription.created",
        "customer.subscription.deleted",
    ]
    http.post(hook, json={"url": served.url, "secret": SECRET, "events": events})
    yield
    # localstripe has no way to remove a webhook: subscribe it to nothing.
    http.post(hook, json={"url": served.url, "secret": SECRET, "events": []})


def card(number: str) -> Any:
    details = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    return {"type": "card", "card": details}


@_IGNORE_SDK_HTTPX_WARNING
@pytest.mark.usefixtures("localstripe_webhook")
def test_localstripe_payment_intents_reach_their_typed_handlers(
    stripe_client: StripeClient, recorder: Recorder
) -> None:
    # The localstripe server is shared by the session: earlier tests' intents
    # may still be announced late, so this test follows its own by a tag.
    tag = uuid.uuid4().hex
    paid = stripe_client.v1.payment_methods.create(card(SUCCEEDS))
    declined = stripe_client.v1.payment_methods.create(card(DECLINED_ON_CHARGE))
    ok = stripe_client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "usd",
            "payment_method": paid.id,
            "confirm": True,
            "metadata": {"order": "o-1", "test": tag},
        }
    )
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.create(
            {
                "amount": 1200,
                "currency": "eur",
                "payment_method": declined.id,
                "confirm": True,
                "metadata": {"test": tag},
            }
        )

    def mine(event_type: str) -> list[Any]:
        return [
            e
            for e in recorder.of_type(event_type)
            if e.data.object.metadata.get("test") == tag
        ]

    wait_for(
        lambda: bool(mine("payment_intent.succeeded"))
        and bool(mine("payment_intent.payment_failed"))
    )
    [success] = mine("payment_intent.succeeded")
    [failure] = mine("payment_intent.payment_failed")
    assert isinstance(success, PaymentIntentSucceeded)
    assert isinstance(failure, PaymentIntentPaymentFailed)
    intent = success.data.object
    assert (intent.id, intent.amount, intent.currency) == (ok.id, 2500, "usd")
    assert intent.status == "succeeded"
    assert intent.metadata == {"order": "o-1", "test": tag}
    assert (failure.data.object.amount, failure.data.object.currency) == (1200, "eur")
    error = failure.data.object.last_payment_error
    assert error is not None and error.code == "card_declined"


@_IGNORE_SDK_HTTPX_WARNING
@pytest.mark.usefixtures("localstripe_webhook")
def test_localstripe_subscription_created_and_deleted_reach_their_handlers(
    stripe_client: StripeClient, recorder: Recorder
) -> None:
    customer = stripe_client.v1.customers.create({"email": "hooks@example.com"})
    plan = stripe_client.v1.plans.create(
        {
            "amount": 900,
            "currency": "usd",
            "interval": "month",
            "product": {"name": "Pro"},
        }
    )
    made = stripe_client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"plan": plan.id}], "trial_period_days": 7}
    )
    stripe_client.v1.subscriptions.cancel(made.id)

    # Other tests' subscriptions may be announced late on the shared server.
    def mine(event_type: str) -> list[Any]:
        return [e for e in recorder.of_type(event_type) if e.data.object.id == made.id]

    wait_for(
        lambda: bool(mine("customer.subscription.created"))
        and bool(mine("customer.subscription.deleted"))
    )
    [created] = mine("customer.subscription.created")
    [deleted] = mine("customer.subscription.deleted")
    assert isinstance(created, CustomerSubscriptionCreated)
    assert isinstance(deleted, CustomerSubscriptionDeleted)
    assert created.data.object.id == deleted.data.object.id == made.id
    assert created.data.object.customer == customer.id
    assert deleted.data.object.status == "canceled"
    # localstripe sends the older shape: the period end on the subscription.
    period_end = made.to_dict()["current_period_end"]
    assert created.data.object.current_period_end is not None
    assert created.data.object.current_period_end.timestamp() == period_end


# --- self-signed deliveries ---------------------------------------------------


def test_subscription_updated_is_typed_with_previous_attributes(
    served: Served, http: httpx.Client, recorder: Recorder
) -> None:
    body = event_body(
        "customer.subscription.updated",
        subscription(status="past_due", period_end=1_780_000_000),
        previous={"status": "active"},
    )

    answer = http.post(served.url, content=body, headers=signed(body))

    assert answer.status_code == 200
    assert answer.json() == {"outcome": "processed"}
    [event] = recorder.events
    assert isinstance(event, CustomerSubscriptionUpdated)
    assert event.data.previous_attributes == {"status": "active"}
    assert event.data.object.status == "past_due"
    # The current shape: the period end read from the first item.
    assert event.data.object.current_period_end is not None
    assert event.data.object.current_period_end.timestamp() == 1_780_000_000


def test_twenty_concurrent_copies_of_one_event_run_the_handler_once(
    served: Served, recorder: Recorder, store: SqliteWebhookStore
) -> None:
    body = event_body("payment_intent.succeeded", payment_intent(), event_id="evt_dup")
    headers = signed(body)

    def send(_: int) -> int:
        with httpx.Client(timeout=30) as client:
            return client.post(served.url, content=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(send, range(20)))

    assert statuses == [200] * 20
    assert recorder.calls["evt_dup"] == 1
    assert store.status("evt_dup") == "done"


def test_an_event_older_than_the_last_applied_one_is_stale(
    served: Served, http: httpx.Client, recorder: Recorder
) -> None:
    now = int(time.time())
    updated = event_body(
        "customer.subscription.updated",
        subscription("sub_order"),
        event_id="evt_updated",
        created=now,
        previous={"status": "trialing"},
    )
    created = event_body(
        "customer.subscription.created",
        subscription("sub_order", status="trialing"),
        event_id="evt_created",
        created=now - 5,
    )

    for body in (updated, created):  # the update arrives first
        assert http.post(served.url, content=body, headers=signed(body)).is_success

    assert recorder.stale == {"evt_updated": False, "evt_created": True}


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-(TOLERANCE_S + 1), "expired_timestamp"), (TOLERANCE_S + 60, "future_timestamp")],
)
def test_a_signature_outside_the_tolerance_is_refused(
    served: Served, http: httpx.Client, recorder: Recorder, offset: int, reason: str
) -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    headers = signed(body, timestamp=int(time.time()) + offset)

    answer = http.post(served.url, content=body, headers=headers)

    assert (answer.status_code, answer.json()["reason"]) == (400, reason)
    assert recorder.calls == Counter()


def _tampered(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body.replace(b"2000", b"1"), signed(body)


def _wrong_secret(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, secret="whsec_someone_else")


def _unsigned(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"Content-Type": "application/json"}


def _garbled_header(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"Stripe-Signature": "v1=abc"}


def _not_json(body: bytes) -> tuple[bytes, dict[str, str]]:
    return b"{not json", signed(b"{not json")


def _not_an_event(body: bytes) -> tuple[bytes, dict[str, str]]:
    return b"[1, 2]", signed(b"[1, 2]")


def _non_ascii_timestamp(body: bytes) -> tuple[bytes, dict[str, Any]]:
    # "²" counts as a digit for str.isdigit, but int() refuses it.
    return body, {"Stripe-Signature": "t=\u00b2,v1=00".encode("latin-1")}


def _endless_timestamp(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"Stripe-Signature": "t=" + "9" * 5000 + ",v1=00"}


def _two_timestamps(body: bytes) -> tuple[bytes, dict[str, str]]:
    # A signature over a future time, behind an earlier ` t=` that a reader
    # stripping spaces would check instead of the one stripe-python verifies.
    now = int(time.time())
    header = signed(body, timestamp=now + 1000)["Stripe-Signature"]
    return body, {"Stripe-Signature": f"x, t={now},{header}"}


def _deeply_nested(body: bytes) -> tuple[bytes, dict[str, str]]:
    nested = b"[" * 100_000 + b"]" * 100_000
    return nested, signed(nested)


def _oversized(body: bytes) -> tuple[bytes, dict[str, str]]:
    padded = body[:-1] + b', "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    return padded, signed(padded)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_tampered, "bad_signature"),
        (_wrong_secret, "bad_signature"),
        (_unsigned, "missing_signature"),
        (_garbled_header, "malformed_signature"),
        (_non_ascii_timestamp, "malformed_signature"),
        (_endless_timestamp, "malformed_signature"),
        (_two_timestamps, "future_timestamp"),
        (_deeply_nested, "malformed_json"),
        (_not_json, "malformed_json"),
        (_not_an_event, "malformed_event"),
        (_oversized, "body_too_large"),
    ],
)
def test_a_delivery_that_fails_verification_is_refused_and_runs_nothing(
    served: Served,
    http: httpx.Client,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[bytes], tuple[bytes, dict[str, str]]],
    reason: str,
) -> None:
    body, headers = make(event_body("payment_intent.succeeded", payment_intent()))

    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        answer = http.post(served.url, content=body, headers=headers)

    assert (answer.status_code, answer.json()["reason"]) == (400, reason)
    assert recorder.calls == Counter()
    [record] = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert record.contractgen["reason"] == reason  # type: ignore[attr-defined]
    logged = record.getMessage() + json.dumps(record.contractgen)  # type: ignore[attr-defined]
    assert "pi_1" not in logged and "order" not in logged
    assert "v1=" not in logged and SECRET not in logged


def test_a_validly_signed_unknown_event_type_is_acknowledged_and_ignored(
    served: Served,
    http: httpx.Client,
    recorder: Recorder,
    store: SqliteWebhookStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = event_body("invoice.paid", {"id": "in_1"}, event_id="evt_invoice")

    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        answer = http.post(served.url, content=body, headers=signed(body))

    assert (answer.status_code, answer.json()) == (200, {"outcome": "ignored"})
    assert recorder.calls == Counter()
    assert store.status("evt_invoice") is None
    [record] = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert record.contractgen["event_type"] == "invoice.paid"  # type: ignore[attr-defined]


def test_a_body_behind_a_utf8_bom_is_parsed_as_its_bytes_always_were(
    served: Served, http: httpx.Client, recorder: Recorder
) -> None:
    # The endpoint parses the decoded text, except where json.loads would
    # read the bytes differently: a BOM is skipped there, not refused.
    body = b"\xef\xbb\xbf" + event_body(
        "payment_intent.succeeded", payment_intent(), event_id="evt_bom"
    )

    answer = http.post(served.url, content=body, headers=signed(body))

    assert (answer.status_code, answer.json()) == (200, {"outcome": "processed"})
    assert recorder.calls == Counter({"evt_bom": 1})


def test_a_handler_that_raises_answers_500_and_the_retry_runs_it_again(
    served: Served,
    http: httpx.Client,
    recorder: Recorder,
    store: SqliteWebhookStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = event_body("payment_intent.succeeded", payment_intent(), event_id="evt_r")
    recorder.fail_next.add("evt_r")

    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        first = http.post(served.url, content=body, headers=signed(body))
    assert first.status_code == 500
    assert store.status("evt_r") is None
    assert any(r.exc_info for r in caplog.records if r.name == LOGGER_NAME)

    retry = http.post(served.url, content=body, headers=signed(body))

    assert (retry.status_code, recorder.calls["evt_r"]) == (200, 2)
    assert [e.id for e in recorder.events] == ["evt_r"]
    assert store.status("evt_r") == "done"


# --- load ----------------------------------------------------------------------

LOAD_DELIVERIES = 2_000
LOAD_SENDERS = 16
LOAD_DUPLICATE_SHARE = 0.10


def test_load_every_unique_event_is_handled_exactly_once(
    served: Served, recorder: Recorder, store: SqliteWebhookStore
) -> None:
    """2,000 deliveries from 16 senders, 10% of them repeats of earlier events."""
    shuffle = random.Random(6)
    unique = int(LOAD_DELIVERIES * (1 - LOAD_DUPLICATE_SHARE))
    bodies = [
        event_body(
            "payment_intent.succeeded", payment_intent(f"pi_{n}"), event_id=f"evt_{n}"
        )
        for n in range(unique)
    ]
    deliveries = bodies + shuffle.choices(bodies, k=LOAD_DELIVERIES - unique)
    shuffle.shuffle(deliveries)
    lanes = [deliveries[i::LOAD_SENDERS] for i in range(LOAD_SENDERS)]

    def sender(lane: list[bytes]) -> Counter[int]:
        statuses: Counter[int] = Counter()
        with httpx.Client(timeout=30) as client:
            for body in lane:
                answer = client.post(served.url, content=body, headers=signed(body))
                statuses[answer.status_code] += 1
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=LOAD_SENDERS) as pool:
        totals = sum(pool.map(sender, lanes), Counter[int]())
    elapsed = time.monotonic() - started

    assert totals == Counter({200: LOAD_DELIVERIES})
    expected = {f"evt_{n}" for n in range(unique)}
    assert set(recorder.calls) == expected
    assert set(recorder.calls.values()) == {1}
    assert store.done_event_ids() == expected
    assert elapsed < 120, f"{LOAD_DELIVERIES} deliveries took {elapsed:.1f} s"


# --- python -m <package>.webhooks ----------------------------------------------


def test_python_m_webhooks_serves_the_router_on_the_configured_port(
    tmp_path: Path, http: httpx.Client
) -> None:
    (tmp_path / "hooks.py").write_text(
        "from pathlib import Path\n"
        "from generated.webhooks import PaymentIntentSucceeded, WebhookRouter\n"
        "router = WebhookRouter()\n"
        "@router.on_payment_intent_succeeded\n"
        "def paid(event: PaymentIntentSucceeded) -> None:\n"
        "    Path('handled.txt').write_text(event.data.object.id)\n",
        encoding="utf-8",
    )
    port = _free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "CONTRACTGEN_WEBHOOK_PORT": str(port),
        "CONTRACTGEN_WEBHOOK_STORE": str(tmp_path / "store.sqlite3"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "generated.webhooks", "hooks:router"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        body = event_body("payment_intent.succeeded", payment_intent("pi_main"))
        url = f"http://{HOST}:{port}{WEBHOOK_PATH}"
        deadline = time.monotonic() + 15
        while True:
            try:
                answer = http.post(url, content=body, headers=signed(body))
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        assert answer.status_code == 200
        assert (tmp_path / "handled.txt").read_text() == "pi_main"
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stderr is not None
        server.stderr.close()


def test_python_m_webhooks_without_a_secret_says_what_to_set(tmp_path: Path) -> None:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("STRIPE_WEBHOOK")
    }
    environment["PYTHONPATH"] = str(ROOT)
    (tmp_path / "hooks.py").write_text(
        "from generated.webhooks import WebhookRouter\nrouter = WebhookRouter()\n"
    )
    environment["PYTHONPATH"] += os.pathsep + str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "generated.webhooks", "hooks:router"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "STRIPE_WEBHOOK_SECRET is not set" in done.stderr


def test_a_memory_store_serves_too(
    recorder: Recorder, settings: WebhookSettings, http: httpx.Client
) -> None:
    app = create_app(recorder.router(), settings=settings, store=MemoryWebhookStore())
    body = event_body("payment_intent.succeeded", payment_intent(), event_id="evt_m")
    with Served(app) as served:
        answers = [
            http.post(served.url, content=body, headers=signed(body)).json()
            for _ in range(2)
        ]
    assert answers == [{"outcome": "processed"}, {"outcome": "duplicate"}]


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("store is a folder", "is a folder, not a webhook store file"),
        ("store is another program's", "it holds other tables (users)"),
        ("store is not SQLite", "is not a SQLite database"),
        ("secret is an API key", "holds a Stripe API key"),
        ("no such router", "module 'hooks' has no attribute 'routr'"),
        ("router of another type", "hooks:settings is a dict, not a WebhookRouter"),
    ],
)
def test_python_m_webhooks_refuses_a_wrong_setting_before_serving(
    case: str,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from generated.webhooks.__main__ import main

    (tmp_path / "hooks.py").write_text(
        "from generated.webhooks import WebhookRouter\n"
        "router = WebhookRouter()\n"
        "settings = {}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "hooks", raising=False)
    store = tmp_path / "store.sqlite3"
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("CONTRACTGEN_WEBHOOK_STORE", str(store))
    reference = "hooks:router"
    if case == "store is a folder":
        store.mkdir()
    elif case == "store is another program's":
        database = sqlite3.connect(store)
        database.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        database.close()
    elif case == "store is not SQLite":
        store.write_text("not a database, but long enough to have a header" * 4)
    elif case == "secret is an API key":
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "sk_test_" + "x" * 24)
    elif case == "no such router":
        reference = "hooks:routr"
    else:
        reference = "hooks:settings"
    before = store.read_bytes() if store.is_file() else None

    assert main([reference]) == 2

    error = capsys.readouterr().err
    assert says in error
    assert "sk_test_" not in error
    if before is not None:  # a file that is not a store is left as it was
        assert store.read_bytes() == before
