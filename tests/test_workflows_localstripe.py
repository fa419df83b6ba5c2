"""The committed workflows, run for real: Stripe calls go to localstripe and
e-mails to an aiosmtpd server, both on 127.0.0.1 and started by the suite.

localstripe declines the seed's failing test cards when they are attached to
a customer (real Stripe declines them at confirmation), so a decline fails
`attach-payment-method` here. It ignores idempotency keys, so the tests that
count payment intents show what the engine repeats, not what Stripe dedups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import stripe
from stripe import StripeClient

from generated import Capabilities
from generated._runtime import workflow_engine
from generated._runtime.email_calls import EmailSettings, build_sender
from generated._runtime.idempotency import step_key
from generated._runtime.journal import MemoryJournal, SqliteJournal
from generated._runtime.workflow_engine import WorkflowResult
from generated.stripe import (
    CreatePaymentMethodInput,
)
from generated.workflows.charge_saved_card import (
    ChargeSavedCardInput,
    charge_saved_card,
)
from generated.workflows.process_payment import (
    ProcessPaymentInput,
    process_payment,
    process_payment_async,
)
from tests.support import CountingCapabilities

if TYPE_CHECKING:
    from tests.fixtures.smtp import ReceivedMessage, SmtpServer

pytestmark = pytest.mark.usefixtures("email_environment")

SUCCEEDS = "4242424242424242"
INSUFFICIENT_FUNDS = "4000000000009995"
DECLINED = "4000000000000002"

ADMIN = "admin@example.com"

PROCESS_PAYMENT_STEPS = [
    "create-customer",
    "create-payment-intent",
    "send-payment-link",
]
CHARGE_STEPS = [
    "create-customer",
    "attach-payment-method",
    "create-payment-intent",
    "confirm-payment-intent",
    "send-receipt",
]

# stripe-python 16.1 hands httpx its encoded body as `data=`, which httpx 0.28+
# deprecates; the warning is the SDK's, not the generated code's.
_IGNORE_SDK_HTTPX_WARNING = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>':DeprecationWarning"
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[float]]:
    """No settings from the shell or ./.env, and retries that do not wait.

    Yields the waits the engine asked for between attempts.
    """
    for name in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "CONTRACTGEN_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONTRACTGEN_JOURNAL", str(tmp_path / "default-journal"))
    monkeypatch.chdir(tmp_path)
    waits: list[float] = []
    monkeypatch.setattr(workflow_engine, "sleep", waits.append)
    yield waits


def _card(caps: Capabilities, number: str) -> str:
    made = caps.create_payment_method(
        CreatePaymentMethodInput(
            card_number=number,
            exp_month=12,
            exp_year=date.today().year + 3,
            cvc="123",
        )
    )
    return made.payment_method_id


def _intents_of(client: StripeClient, customer_id: str) -> list[str]:
    """Ids of the payment intents the server holds for a customer.

    localstripe lists no filter, so the filtering happens here.
    """
    listed = client.v1.payment_intents.list({"limit": 100})
    return [
        intent.id
        for intent in listed.auto_paging_iter()
        if intent.customer == customer_id
    ]


def _messages_to(server: SmtpServer, address: str) -> list[ReceivedMessage]:
    return [m for m in server.messages if m.rcpt_tos == [address]]


def _body(received: ReceivedMessage) -> str:
    part = received.message.get_body(preferencelist=("plain",))
    assert part is not None
    text: str = part.get_content()
    return text


def _steps(result: WorkflowResult) -> list[tuple[str, str]]:
    return [(entry.step, entry.outcome) for entry in result.trace]


def test_process_payment_succeeds_and_emails_the_client_secret(
    caps: Capabilities, client: StripeClient, smtp_server: SmtpServer
) -> None:
    result = process_payment(
        ProcessPaymentInput(
            customer_email="ada@example.com", customer_name="Ada", amount=1999
        ),
        caps,
        journal=MemoryJournal(),
    )

    assert result.status == "succeeded"
    assert (result.error, result.handled) == (None, False)
    assert _steps(result) == [(step, "succeeded") for step in PROCESS_PAYMENT_STEPS]
    customer = result.steps.create_customer
    intent = result.steps.create_payment_intent
    assert customer is not None and intent is not None
    assert result.steps.notify_error is None
    assert _intents_of(client, customer.customer_id) == [intent.payment_intent_id]
    stored = client.v1.payment_intents.retrieve(intent.payment_intent_id)
    assert (stored.amount, stored.currency) == (1999, "usd")
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["ada@example.com"]
    assert f"payment_intent_client_secret={intent.client_secret}\n" in _body(received)
    sent = result.steps.send_payment_link
    assert sent is not None and received.message["Message-ID"] == sent.message_id


def test_process_payment_failure_is_routed_to_notify_error_with_the_message(
    caps: Capabilities, client: StripeClient, smtp_server: SmtpServer
) -> None:
    # Over the integration's maxAmount: the policy denies the call before
    # Stripe sees it, and a denial is never retried.
    result = process_payment(
        ProcessPaymentInput(customer_email="bob@example.com", amount=2_000_000),
        caps,
        journal=MemoryJournal(),
    )

    assert result.status == "failed"
    assert result.handled is True
    assert _steps(result) == [
        ("create-customer", "succeeded"),
        ("create-payment-intent", "failed"),
        ("notify-error", "succeeded"),
    ]
    assert result.trace[1].attempts == 1
    error = result.error
    assert error is not None
    assert (error.type, error.code, error.step) == (
        "PolicyDeniedError",
        "policy_denied",
        "create-payment-intent",
    )
    assert "2000000" in error.message
    assert result.steps.create_payment_intent is None
    assert result.steps.send_payment_link is None
    assert result.steps.notify_error is not None
    customer = result.steps.create_customer
    assert customer is not None
    assert _intents_of(client, customer.customer_id) == []
    assert _messages_to(smtp_server, "bob@example.com") == []
    [alert] = _messages_to(smtp_server, ADMIN)
    assert f"Error: {error.message}\n" in _body(alert)


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        (SUCCEEDS, "succeeded", None),
        (INSUFFICIENT_FUNDS, "failed", "card_declined"),
        (DECLINED, "failed", "card_declined"),
    ],
)
def test_charge_saved_card_with_the_seed_test_cards(
    caps: Capabilities,
    client: StripeClient,
    smtp_server: SmtpServer,
    number: str,
    status: str,
    code: str | None,
) -> None:
    card = _card(caps, number)

    result = charge_saved_card(
        ChargeSavedCardInput(
            customer_email="card.holder@example.com",
            payment_method_id=card,
            amount=2500,
        ),
        caps,
        journal=MemoryJournal(),
    )

    assert result.status == status
    customer = result.steps.create_customer
    assert customer is not None
    intents = _intents_of(client, customer.customer_id)
    if code is None:
        assert result.error is None and result.handled is False
        assert _steps(result) == [(step, "succeeded") for step in CHARGE_STEPS]
        confirmed = result.steps.confirm_payment_intent
        assert confirmed is not None and confirmed.status == "succeeded"
        assert intents == [confirmed.payment_intent_id]
        stored = client.v1.payment_intents.retrieve(confirmed.payment_intent_id)
        assert (stored.status, stored.amount, stored.payment_method) == (
            "succeeded",
            2500,
            card,
        )
        [receipt] = smtp_server.messages
        assert receipt.rcpt_tos == ["card.holder@example.com"]
        assert receipt.message["Subject"] == "Payment received: 25.00 USD"
        assert f"Payment reference: {confirmed.payment_intent_id}\n" in _body(receipt)
    else:
        error = result.error
        assert error is not None
        assert (error.type, error.code, error.step) == (
            "CardDeclinedError",
            code,
            "attach-payment-method",
        )
        assert result.handled is True
        assert _steps(result) == [
            ("create-customer", "succeeded"),
            ("attach-payment-method", "failed"),
            ("notify-error", "succeeded"),
        ]
        # A decline is final: the step's retry block does not repeat it.
        assert result.trace[1].attempts == 1
        assert intents == []
        [alert] = smtp_server.messages
        assert alert.rcpt_tos == [ADMIN]
        body = _body(alert)
        assert f"Error: {error.message}\n" in body
        assert f"Code: {code}\n" in body
        assert "Failed step: attach-payment-method\n" in body


class CrashingCapabilities(CountingCapabilities):
    """Counts the calls it gets; its first e-mail crashes the process."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.crashes_left = 1

    def before_send_email(self) -> None:
        if self.crashes_left:
            self.crashes_left -= 1
            raise RuntimeError("the process died")


def test_crash_after_the_payment_intent_then_resume_creates_one_intent(
    client: StripeClient,
    email_settings: EmailSettings,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    caps = CrashingCapabilities(stripe=client, email=build_sender(email_settings))
    journal_path = tmp_path / "journal.sqlite3"
    inputs = ProcessPaymentInput(customer_email="cy@example.com", amount=1500)

    with pytest.raises(RuntimeError, match="the process died"):
        process_payment(
            inputs, caps, run_id="run-crash", journal=SqliteJournal(journal_path)
        )
    crashed = dict(caps.calls)
    # A new journal object on the same file, as a restarted process would open.
    result = process_payment(
        inputs, caps, run_id="run-crash", journal=SqliteJournal(journal_path)
    )

    assert crashed == {
        "create_customer": 1,
        "create_payment_intent": 1,
        "send_email": 1,
    }
    assert caps.calls == {
        "create_customer": 1,
        "create_payment_intent": 1,
        "send_email": 2,
    }
    assert result.status == "succeeded"
    assert _steps(result) == [
        ("create-customer", "resumed"),
        ("create-payment-intent", "resumed"),
        ("send-payment-link", "succeeded"),
    ]
    customer = result.steps.create_customer
    intent = result.steps.create_payment_intent
    assert customer is not None and intent is not None
    assert _intents_of(client, customer.customer_id) == [intent.payment_intent_id]
    [received] = smtp_server.messages
    assert f"payment_intent_client_secret={intent.client_secret}\n" in _body(received)
    assert SqliteJournal(journal_path).run_status("process-payment", "run-crash") == (
        "succeeded"
    )


class FlakyHttpClient(stripe.RequestsClient):
    """Answers the first payment intent creation with a 500, unsent.

    Records the Idempotency-Key header of every creation it sees.
    """

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str | None] = []

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        if method.lower() == "post" and url.endswith("/v1/payment_intents"):
            self.keys.append((headers or {}).get("Idempotency-Key"))
            if len(self.keys) == 1:
                body = '{"error": {"type": "api_error", "message": "try again"}}'
                return body, 500, {}
        return super().request(method, url, headers, post_data)


def test_transient_error_is_retried_with_the_same_idempotency_key(
    localstripe_url: str,
    email_settings: EmailSettings,
    smtp_server: SmtpServer,
    _isolated: list[float],
) -> None:
    http = FlakyHttpClient()
    client = StripeClient(
        "sk_test_contractgen",
        base_addresses={"api": localstripe_url},
        http_client=http,
        max_network_retries=0,
    )
    caps = Capabilities(stripe=client, email=build_sender(email_settings))
    card = _card(caps, SUCCEEDS)

    result = charge_saved_card(
        ChargeSavedCardInput(
            customer_email="dee@example.com", payment_method_id=card, amount=900
        ),
        caps,
        run_id="run-flaky",
        journal=MemoryJournal(),
    )

    assert result.status == "succeeded"
    assert [entry.attempts for entry in result.trace] == [1, 1, 2, 1, 1]
    assert _isolated == [0.5]
    expected = step_key("charge-saved-card", "run-flaky", "create-payment-intent")
    assert http.keys == [expected, expected]
    customer = result.steps.create_customer
    assert customer is not None
    assert len(_intents_of(client, customer.customer_id)) == 1


def test_workflow_logs_carry_workflow_id_version_and_run_id(
    caps: Capabilities, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=workflow_engine.LOGGER_NAME)

    result = process_payment(
        ProcessPaymentInput(customer_email="eve@example.com", amount=100),
        caps,
        run_id="run-logged",
        journal=MemoryJournal(),
    )

    records = [r for r in caplog.records if r.name == workflow_engine.LOGGER_NAME]
    fields = [r.contractgen for r in records]  # type: ignore[attr-defined]
    assert result.status == "succeeded"
    assert {(f["workflow_id"], f["version"], f["run_id"]) for f in fields} == {
        ("process-payment", "1.0.0", "run-logged")
    }
    events = [(f["event"], f["step_id"]) for f in fields]
    assert events[0] == ("run_started", None)
    assert events[-1] == ("run_finished", None)
    for step in PROCESS_PAYMENT_STEPS:
        assert ("step_started", step) in events
        assert ("step_finished", step) in events


@_IGNORE_SDK_HTTPX_WARNING
def test_async_entry_point_runs_process_payment(
    localstripe_url: str, email_settings: EmailSettings, smtp_server: SmtpServer
) -> None:
    http = stripe.HTTPXClient()
    client = StripeClient(
        "sk_test_contractgen",
        base_addresses={"api": localstripe_url},
        http_client=http,
        max_network_retries=0,
    )
    caps = Capabilities(stripe=client, email=build_sender(email_settings))

    async def run() -> Any:
        try:
            return await process_payment_async(
                ProcessPaymentInput(customer_email="fay@example.com", amount=4200),
                caps,
                journal=MemoryJournal(),
            )
        finally:
            # The pool belongs to this event loop; close it before the loop ends.
            await http.close_async()

    result = asyncio.run(run())

    assert result.status == "succeeded"
    assert _steps(result) == [(step, "succeeded") for step in PROCESS_PAYMENT_STEPS]
    intent = result.steps.create_payment_intent
    assert intent is not None
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["fay@example.com"]
    assert f"payment_intent_client_secret={intent.client_secret}\n" in _body(received)
