"""The Temporal target, run for real: a Temporal dev server, an in-process
worker, Stripe calls to localstripe and e-mails to aiosmtpd, all on 127.0.0.1
and started by the suite.

The conformance test runs every example case on both engines and compares
the results; the others pin what only Temporal adds: retries as Temporal
retries with the step's idempotency key, a worker lost mid-run, and an
activity crash failing the execution instead of retrying forever.

localstripe ignores idempotency keys, so the payment intents counted here
are the calls the engine repeated, not what Stripe would deduplicate.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import stripe
from pydantic import BaseModel
from stripe import StripeClient
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from generated import Capabilities
from generated._runtime import workflow_engine
from generated._runtime.email_calls import EmailSettings, build_sender
from generated._runtime.idempotency import step_key
from generated._runtime.journal import MemoryJournal
from generated._runtime.workflow_engine import WorkflowResult
from generated.stripe import (
    CreatePaymentMethodInput,
)
from generated.temporal import ChargeSavedCardWorkflow, ProcessPaymentWorkflow
from generated.temporal.worker import create_worker
from generated.workflows.charge_saved_card import (
    ChargeSavedCardInput,
    ChargeSavedCardResult,
    charge_saved_card,
)
from generated.workflows.process_payment import (
    ProcessPaymentInput,
    ProcessPaymentResult,
    process_payment,
)
from tests import support
from tests.support import ROOT

if TYPE_CHECKING:
    from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.usefixtures("email_environment")

SUCCEEDS = "4242424242424242"
INSUFFICIENT_FUNDS = "4000000000009995"
DECLINED = "4000000000000002"

T = TypeVar("T")

# Values that differ between any two runs: Stripe object ids and client
# secrets, and e-mail Message-IDs.
_STRIPE_ID = re.compile(r"\b[a-z]{2,5}_[A-Za-z0-9]{6,}(?:_secret_[A-Za-z0-9]+)?\b")
_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No settings from the shell or ./.env, and in-process retries that do
    not wait."""
    for name in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "CONTRACTGEN_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONTRACTGEN_JOURNAL", str(tmp_path / "default-journal"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(workflow_engine, "sleep", lambda seconds: None)
    yield


def _on_temporal(
    address: str,
    caps: Capabilities,
    body: Callable[[Client, str], Awaitable[T]],
) -> T:
    """``body(client, task_queue)`` with a worker for ``caps`` running."""

    async def main() -> T:
        temporal = await Client.connect(address, data_converter=pydantic_data_converter)
        task_queue = f"test-{uuid.uuid4().hex}"
        async with create_worker(temporal, caps, task_queue=task_queue):
            return await body(temporal, task_queue)

    return asyncio.run(main())


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
    listed = client.v1.payment_intents.list({"limit": 100})
    return [
        intent.id
        for intent in listed.auto_paging_iter()
        if intent.customer == customer_id
    ]


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return _MESSAGE_ID.sub("<message-id>", _STRIPE_ID.sub("<stripe-id>", value))
    return value


def _comparable(result: WorkflowResult) -> Any:
    """The result without what differs between any two runs: run ids,
    durations, provider request ids, and the ids of the objects created."""
    data = result.model_dump(mode="json", exclude={"run_id"})
    for entry in data["trace"]:
        del entry["duration_ms"]
    if data["error"] is not None:
        data["error"]["request_id"] = None
    return _scrub(data)


CASES = [
    "process-payment succeeds",
    "process-payment routes a policy denial to notify-error",
    "charge-saved-card with 4242424242424242",
    "charge-saved-card with 4000000000009995",
    "charge-saved-card with 4000000000000002",
]


def _case(name: str, caps: Capabilities) -> tuple[Any, BaseModel, Any, Any]:
    """(in-process function, inputs, Temporal run method, result type)."""
    if name.startswith("process-payment"):
        amount = 2_000_000 if "denial" in name else 1999
        inputs: BaseModel = ProcessPaymentInput(
            customer_email="ada@example.com", customer_name="Ada", amount=amount
        )
        return process_payment, inputs, ProcessPaymentWorkflow.run, ProcessPaymentResult
    inputs = ChargeSavedCardInput(
        customer_email="card.holder@example.com",
        payment_method_id=_card(caps, name.rsplit(" ", 1)[1]),
        amount=2500,
    )
    return charge_saved_card, inputs, ChargeSavedCardWorkflow.run, ChargeSavedCardResult


@pytest.mark.parametrize("name", CASES)
def test_both_engines_give_equal_results(
    name: str, caps: Capabilities, temporal_address: str
) -> None:
    function, inputs, run, result_type = _case(name, caps)

    in_process = function(inputs, caps, journal=MemoryJournal())

    async def body(temporal: Client, task_queue: str) -> Any:
        return await temporal.execute_workflow(
            run, inputs, id=f"conformance-{uuid.uuid4().hex}", task_queue=task_queue
        )

    on_temporal = _on_temporal(temporal_address, caps, body)

    assert isinstance(on_temporal, result_type)
    assert _comparable(on_temporal) == _comparable(in_process)
    assert [e.outcome for e in in_process.trace] == [
        e.outcome for e in on_temporal.trace
    ]


class FlakyHttpClient(stripe.RequestsClient):
    """Answers the first payment intent creation with a 500, unsent, and
    records the Idempotency-Key of every creation."""

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


def test_a_transient_error_is_retried_by_temporal_with_the_step_key(
    localstripe_url: str, email_settings: EmailSettings, temporal_address: str
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
    workflow_id = f"flaky-{uuid.uuid4().hex}"

    async def body(temporal: Client, task_queue: str) -> ChargeSavedCardResult:
        return await temporal.execute_workflow(
            ChargeSavedCardWorkflow.run,
            ChargeSavedCardInput(
                customer_email="dee@example.com", payment_method_id=card, amount=900
            ),
            id=workflow_id,
            task_queue=task_queue,
        )

    result = _on_temporal(temporal_address, caps, body)

    assert result.status == "succeeded"
    assert result.run_id == workflow_id
    assert [entry.attempts for entry in result.trace] == [1, 1, 2, 1, 1]
    # The run id of the key is the Temporal workflow id.
    expected = step_key("charge-saved-card", workflow_id, "create-payment-intent")
    assert http.keys == [expected, expected]
    customer = result.steps.create_customer
    assert customer is not None
    assert len(_intents_of(client, customer.customer_id)) == 1


class CountingCapabilities(support.CountingCapabilities):
    """Counts the Stripe calls it gets; e-mails may be held up or crash."""

    def __init__(self, *, send: str = "normally", **options: Any) -> None:
        super().__init__(**options)
        self.send = send
        self.sending = threading.Event()
        self.released = threading.Event()

    def before_send_email(self) -> None:
        if self.send == "never":
            # A worker that hangs here until it is gone; nothing is sent.
            self.sending.set()
            self.released.wait(30)
            raise RuntimeError("this worker is gone")
        if self.send == "crash":
            raise RuntimeError("a bug in the e-mail code")


def test_a_worker_killed_mid_run_is_replaced_and_one_intent_is_created(
    client: StripeClient,
    email_settings: EmailSettings,
    smtp_server: SmtpServer,
    temporal_address: str,
) -> None:
    dying = CountingCapabilities(
        send="never", stripe=client, email=build_sender(email_settings)
    )
    fresh = CountingCapabilities(stripe=client, email=build_sender(email_settings))
    inputs = ProcessPaymentInput(customer_email="cy@example.com", amount=1500)

    async def main() -> ProcessPaymentResult:
        temporal = await Client.connect(
            temporal_address, data_converter=pydantic_data_converter
        )
        task_queue = f"test-{uuid.uuid4().hex}"
        first = create_worker(temporal, dying, task_queue=task_queue)
        running = asyncio.create_task(first.run())
        handle = await temporal.start_workflow(
            ProcessPaymentWorkflow.run,
            inputs,
            id=f"killed-{uuid.uuid4().hex}",
            task_queue=task_queue,
        )
        # The intent is created and the worker is inside send-payment-link.
        assert await asyncio.to_thread(dying.sending.wait, 20)
        await first.shutdown()
        await running
        dying.released.set()
        async with create_worker(temporal, fresh, task_queue=task_queue):
            return await handle.result()

    result = asyncio.run(main())

    assert dying.calls == {
        "create_customer": 1,
        "create_payment_intent": 1,
        "send_email": 1,
    }
    assert fresh.calls == {"send_email": 1}
    assert result.status == "succeeded"
    assert [(e.step, e.outcome) for e in result.trace] == [
        ("create-customer", "succeeded"),
        ("create-payment-intent", "succeeded"),
        ("send-payment-link", "succeeded"),
    ]
    customer = result.steps.create_customer
    intent = result.steps.create_payment_intent
    assert customer is not None and intent is not None
    assert _intents_of(client, customer.customer_id) == [intent.payment_intent_id]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["cy@example.com"]


def test_an_activity_crash_fails_the_execution_instead_of_retrying(
    client: StripeClient, email_settings: EmailSettings, temporal_address: str
) -> None:
    caps = CountingCapabilities(
        send="crash", stripe=client, email=build_sender(email_settings)
    )

    async def body(temporal: Client, task_queue: str) -> BaseException:
        with pytest.raises(WorkflowFailureError) as failed:
            await temporal.execute_workflow(
                ProcessPaymentWorkflow.run,
                ProcessPaymentInput(customer_email="eve@example.com", amount=100),
                id=f"crash-{uuid.uuid4().hex}",
                task_queue=task_queue,
            )
        return failed.value.cause

    cause = _on_temporal(temporal_address, caps, body)

    assert isinstance(cause, ApplicationError)
    assert cause.type == "StepCrashedError"
    assert "send-payment-link" in cause.message
    assert caps.calls["send_email"] == 1


def test_the_worker_entry_point_runs_a_workflow_and_stops_on_sigterm(
    localstripe_url: str,
    smtp_server: SmtpServer,
    temporal_address: str,
    tmp_path: Path,
) -> None:
    task_queue = f"test-{uuid.uuid4().hex}"
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "STRIPE_SECRET_KEY": "sk_test_contractgen",
        "STRIPE_API_BASE": localstripe_url,
        "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_STARTTLS": "false",
        "EMAIL_TEMPLATES_DIR": str(ROOT / "email-templates"),
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "generated.temporal.worker"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    async def main() -> ProcessPaymentResult:
        temporal = await Client.connect(
            temporal_address, data_converter=pydantic_data_converter
        )
        return await temporal.execute_workflow(
            ProcessPaymentWorkflow.run,
            ProcessPaymentInput(customer_email="gus@example.com", amount=700),
            id=f"entry-point-{uuid.uuid4().hex}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )

    try:
        result = asyncio.run(main())
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=20)

    assert result.status == "succeeded"
    assert worker.returncode == 0, errors.decode(errors="replace")
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["gus@example.com"]
