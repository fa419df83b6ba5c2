"""Workflow runs: routing, status, retries, timeouts, resume, async and logs.

``process_payment`` below is written exactly as the workflow compiler
generates one, against fake capabilities that record every call and fail as
each test scripts them:

    create-customer ──ok──▶ create-payment-intent ──ok──▶ send-payment-link
          │ fail                  │ fail (retry 3x, timeout)       (no onFailure)
          └──────────▶ notify-error ◀┘
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from generated._runtime import workflow_engine
from generated._runtime.context import CallContext
from generated._runtime.errors import (
    CapabilityError,
    CardDeclinedError,
    InvalidRequestError,
    PolicyDeniedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
)
from generated._runtime.idempotency import key_for
from generated._runtime.journal import Journal, MemoryJournal, SqliteJournal
from generated._runtime.workflow_engine import (
    ResumeConflictError,
    RetryPolicy,
    Run,
    StepError,
    StepsBase,
    WorkflowInfo,
    WorkflowResult,
    ran,
)

# --- the models and capabilities the workflow uses ------------------------


class ProcessPaymentInput(BaseModel):
    customer_email: str
    amount: int


class CreateCustomerInput(BaseModel):
    email: str


class CreateCustomerOutput(BaseModel):
    customer_id: str


class CreatePaymentIntentInput(BaseModel):
    amount: int
    customer_id: str


class CreatePaymentIntentOutput(BaseModel):
    payment_intent_id: str
    status: str


class SendEmailInput(BaseModel):
    to: str
    template: str
    data: dict[str, str] = {}


class SendEmailOutput(BaseModel):
    message_id: str


class Crash(Exception):
    """Stands for anything that is not a capability error: a bug, a kill."""


# A scripted behaviour that blocks the call until the test releases it.
HANG = "hang"

Script = CapabilityError | Crash | str


@dataclass
class Call:
    capability: str
    context: CallContext
    inputs: BaseModel

    @property
    def idempotency_key(self) -> str:
        return key_for(self.context)


@dataclass
class FakeCapabilities:
    """Capabilities that record each call and fail as a test scripts them.

    ``script[capability]`` lists what successive calls do: raise the error,
    or hang; once it is used up, calls succeed.
    """

    script: dict[str, list[Script]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def _call(self, capability: str, inputs: BaseModel, context: CallContext) -> None:
        self.calls.append(Call(capability, context, inputs))
        planned = self.script.get(capability)
        if not planned:
            return
        behaviour = planned.pop(0)
        if behaviour == HANG:
            self.release.wait(timeout=10)
        elif isinstance(behaviour, BaseException):
            raise behaviour

    async def _call_async(
        self, capability: str, inputs: BaseModel, context: CallContext
    ) -> None:
        planned = self.script.get(capability)
        if planned and planned[0] == HANG:
            planned.pop(0)
            self.calls.append(Call(capability, context, inputs))
            await asyncio.sleep(10)
        self._call(capability, inputs, context)

    def called(self, capability: str) -> list[Call]:
        return [call for call in self.calls if call.capability == capability]

    def create_customer(
        self, inputs: CreateCustomerInput, *, context: CallContext | None = None
    ) -> CreateCustomerOutput:
        assert context is not None
        self._call("stripe-create-customer", inputs, context)
        return CreateCustomerOutput(customer_id="cus_1")

    def create_payment_intent(
        self, inputs: CreatePaymentIntentInput, *, context: CallContext | None = None
    ) -> CreatePaymentIntentOutput:
        assert context is not None
        self._call("stripe-create-payment-intent", inputs, context)
        return CreatePaymentIntentOutput(payment_intent_id="pi_1", status="created")

    def send_email(
        self, inputs: SendEmailInput, *, context: CallContext | None = None
    ) -> SendEmailOutput:
        assert context is not None
        self._call("send-email", inputs, context)
        return SendEmailOutput(message_id=f"<{inputs.template}@test>")

    async def create_customer_async(
        self, inputs: CreateCustomerInput, *, context: CallContext | None = None
    ) -> CreateCustomerOutput:
        assert context is not None
        await self._call_async("stripe-create-customer", inputs, context)
        return CreateCustomerOutput(customer_id="cus_1")

    async def create_payment_intent_async(
        self, inputs: CreatePaymentIntentInput, *, context: CallContext | None = None
    ) -> CreatePaymentIntentOutput:
        assert context is not None
        await self._call_async("stripe-create-payment-intent", inputs, context)
        return CreatePaymentIntentOutput(payment_intent_id="pi_1", status="created")

    async def send_email_async(
        self, inputs: SendEmailInput, *, context: CallContext | None = None
    ) -> SendEmailOutput:
        assert context is not None
        await self._call_async("send-email", inputs, context)
        return SendEmailOutput(message_id=f"<{inputs.template}@test>")


# --- the workflow, in the generated shape ---------------------------------

WORKFLOW = WorkflowInfo(id="process-payment", version="1.0.0")


class ProcessPaymentSteps(StepsBase):
    create_customer: CreateCustomerOutput | None = None
    create_payment_intent: CreatePaymentIntentOutput | None = None
    send_payment_link: SendEmailOutput | None = None
    notify_error: SendEmailOutput | None = None


class ProcessPaymentResult(WorkflowResult):
    steps: ProcessPaymentSteps


def process_payment(
    inputs: ProcessPaymentInput,
    caps: FakeCapabilities,
    *,
    run_id: str | None = None,
    journal: Journal | None = None,
) -> ProcessPaymentResult:
    run = Run(WORKFLOW, inputs, run_id=run_id, journal=journal)
    steps = ProcessPaymentSteps()
    current: str | None = "create-customer"
    while current is not None:
        if current == "create-customer":
            steps.create_customer = run.step(
                "create-customer",
                "stripe-create-customer",
                CreateCustomerOutput,
                lambda context: caps.create_customer(
                    CreateCustomerInput(email=inputs.customer_email),
                    context=context,
                ),
            )
            current = run.next("create-payment-intent", "notify-error")
        elif current == "create-payment-intent":
            steps.create_payment_intent = run.step(
                "create-payment-intent",
                "stripe-create-payment-intent",
                CreatePaymentIntentOutput,
                lambda context: caps.create_payment_intent(
                    CreatePaymentIntentInput(
                        amount=inputs.amount,
                        customer_id=ran(steps.create_customer).customer_id,
                    ),
                    context=context,
                ),
                retry=RetryPolicy(
                    max_attempts=3, initial_interval=0.5, backoff=2.0, max_interval=0.75
                ),
                timeout=0.5,
            )
            current = run.next("send-payment-link", "notify-error")
        elif current == "send-payment-link":
            steps.send_payment_link = run.step(
                "send-payment-link",
                "send-email",
                SendEmailOutput,
                lambda context: caps.send_email(
                    SendEmailInput(
                        to=inputs.customer_email,
                        template="payment-link",
                        data={
                            "payment_intent": ran(
                                steps.create_payment_intent
                            ).payment_intent_id
                        },
                    ),
                    context=context,
                ),
            )
            current = run.next(None, None)
        elif current == "notify-error":
            steps.notify_error = run.step(
                "notify-error",
                "send-email",
                SendEmailOutput,
                lambda context: caps.send_email(
                    SendEmailInput(
                        to="admin@example.com",
                        template="payment-error",
                        data={"error": run.error.message},
                    ),
                    context=context,
                ),
            )
            current = run.next(None, None)
    return run.finish(ProcessPaymentResult, steps)


async def process_payment_async(
    inputs: ProcessPaymentInput,
    caps: FakeCapabilities,
    *,
    run_id: str | None = None,
    journal: Journal | None = None,
) -> ProcessPaymentResult:
    run = Run(WORKFLOW, inputs, run_id=run_id, journal=journal)
    steps = ProcessPaymentSteps()
    current: str | None = "create-customer"
    while current is not None:
        if current == "create-customer":
            steps.create_customer = await run.step_async(
                "create-customer",
                "stripe-create-customer",
                CreateCustomerOutput,
                lambda context: caps.create_customer_async(
                    CreateCustomerInput(email=inputs.customer_email),
                    context=context,
                ),
            )
            current = run.next("create-payment-intent", "notify-error")
        elif current == "create-payment-intent":
            steps.create_payment_intent = await run.step_async(
                "create-payment-intent",
                "stripe-create-payment-intent",
                CreatePaymentIntentOutput,
                lambda context: caps.create_payment_intent_async(
                    CreatePaymentIntentInput(
                        amount=inputs.amount,
                        customer_id=ran(steps.create_customer).customer_id,
                    ),
                    context=context,
                ),
                retry=RetryPolicy(
                    max_attempts=3, initial_interval=0.5, backoff=2.0, max_interval=0.75
                ),
                timeout=0.5,
            )
            current = run.next("send-payment-link", "notify-error")
        elif current == "send-payment-link":
            steps.send_payment_link = await run.step_async(
                "send-payment-link",
                "send-email",
                SendEmailOutput,
                lambda context: caps.send_email_async(
                    SendEmailInput(
                        to=inputs.customer_email,
                        template="payment-link",
                        data={
                            "payment_intent": ran(
                                steps.create_payment_intent
                            ).payment_intent_id
                        },
                    ),
                    context=context,
                ),
            )
            current = run.next(None, None)
        elif current == "notify-error":
            steps.notify_error = await run.step_async(
                "notify-error",
                "send-email",
                SendEmailOutput,
                lambda context: caps.send_email_async(
                    SendEmailInput(
                        to="admin@example.com",
                        template="payment-error",
                        data={"error": run.error.message},
                    ),
                    context=context,
                ),
            )
            current = run.next(None, None)
    return run.finish(ProcessPaymentResult, steps)


INPUTS = ProcessPaymentInput(customer_email="jane@example.com", amount=2000)


def declined() -> CardDeclinedError:
    return CardDeclinedError(
        "Your card has insufficient funds.",
        capability="stripe-create-payment-intent",
        provider="stripe",
        code="card_declined",
        decline_code="insufficient_funds",
        request_id="req_1",
    )


def unavailable(capability: str = "stripe-create-payment-intent") -> CapabilityError:
    return ProviderUnavailableError(
        "Stripe could not be reached", capability=capability, provider="stripe"
    )


def outcomes(result: WorkflowResult) -> list[tuple[str, str, int]]:
    return [(entry.step, entry.outcome, entry.attempts) for entry in result.trace]


# --- fixtures -------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The default journal is found through the environment and the working
    # directory; keep both inside the test.
    monkeypatch.delenv("CONTRACTGEN_JOURNAL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, recorded instead of slept."""
    waited: list[float] = []

    async def sleep_async(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(workflow_engine, "sleep", waited.append)
    monkeypatch.setattr(workflow_engine, "sleep_async", sleep_async)
    return waited


@pytest.fixture
def caps() -> Iterator[FakeCapabilities]:
    fake = FakeCapabilities()
    yield fake
    # Lets any call abandoned by a timeout finish before the test ends.
    fake.release.set()


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def run_records() -> Iterator[list[logging.LogRecord]]:
    """The records emitted on the workflow logger during the test."""
    collector = _Collector()
    previous = workflow_engine.logger.level
    workflow_engine.logger.addHandler(collector)
    workflow_engine.logger.setLevel(logging.DEBUG)
    try:
        yield collector.records
    finally:
        workflow_engine.logger.removeHandler(collector)
        workflow_engine.logger.setLevel(previous)


# --- success and routing --------------------------------------------------


def test_success_path_runs_each_step_once_and_returns_typed_outputs(
    caps: FakeCapabilities,
) -> None:
    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert result.status == "succeeded"
    assert result.error is None
    assert result.handled is False
    assert (result.workflow_id, result.version) == ("process-payment", "1.0.0")
    assert re.fullmatch(r"[0-9a-f]{32}", result.run_id)
    assert outcomes(result) == [
        ("create-customer", "succeeded", 1),
        ("create-payment-intent", "succeeded", 1),
        ("send-payment-link", "succeeded", 1),
    ]
    assert all(entry.duration_ms >= 0 for entry in result.trace)
    assert result.steps.create_customer == CreateCustomerOutput(customer_id="cus_1")
    assert ran(result.steps.create_payment_intent).payment_intent_id == "pi_1"
    assert result.steps.notify_error is None
    [intent] = caps.called("stripe-create-payment-intent")
    assert intent.inputs == CreatePaymentIntentInput(amount=2000, customer_id="cus_1")
    assert [call.context for call in caps.calls] == [
        CallContext("process-payment", result.run_id, "create-customer", 1),
        CallContext("process-payment", result.run_id, "create-payment-intent", 1),
        CallContext("process-payment", result.run_id, "send-payment-link", 1),
    ]


def test_a_failure_routes_to_on_failure_with_its_error_and_fails_the_run(
    caps: FakeCapabilities,
) -> None:
    caps.script["stripe-create-payment-intent"] = [declined()]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert result.status == "failed"
    assert result.handled is True
    assert result.error == StepError(
        type="CardDeclinedError",
        message="Your card has insufficient funds.",
        code="card_declined",
        decline_code="insufficient_funds",
        step="create-payment-intent",
        capability="stripe-create-payment-intent",
        retryable=False,
        request_id="req_1",
    )
    assert outcomes(result) == [
        ("create-customer", "succeeded", 1),
        ("create-payment-intent", "failed", 1),
        ("notify-error", "succeeded", 1),
    ]
    assert result.steps.create_payment_intent is None
    assert result.steps.send_payment_link is None
    assert result.steps.notify_error == SendEmailOutput(
        message_id="<payment-error@test>"
    )
    [notice] = caps.called("send-email")
    assert notice.inputs == SendEmailInput(
        to="admin@example.com",
        template="payment-error",
        data={"error": "Your card has insufficient funds."},
    )


def test_a_failure_with_no_on_failure_ends_the_run_failed(
    caps: FakeCapabilities,
) -> None:
    caps.script["send-email"] = [unavailable("send-email")]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert result.status == "failed"
    assert result.handled is False
    assert result.error is not None
    assert (result.error.type, result.error.step) == (
        "ProviderUnavailableError",
        "send-payment-link",
    )
    assert outcomes(result)[-1] == ("send-payment-link", "failed", 1)
    assert result.steps.notify_error is None
    assert len(caps.called("send-email")) == 1


def test_a_failing_failure_handler_keeps_the_first_error(
    caps: FakeCapabilities,
) -> None:
    caps.script["stripe-create-payment-intent"] = [declined()]
    caps.script["send-email"] = [unavailable("send-email")]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert result.status == "failed"
    assert result.handled is True
    assert result.error is not None
    assert result.error.step == "create-payment-intent"
    assert outcomes(result)[-1] == ("notify-error", "failed", 1)


def test_the_error_is_empty_where_no_failure_routed() -> None:
    run = Run(WORKFLOW, INPUTS, journal=MemoryJournal())

    assert run.error == StepError()
    assert run.error.message == ""
    assert run.error.type == ""


def test_the_error_reaches_only_the_step_the_failure_routed_to() -> None:
    run = Run(WORKFLOW, INPUTS, journal=MemoryJournal())
    seen: list[str] = []

    def fail(context: CallContext) -> SendEmailOutput:
        raise unavailable()

    def read_error(context: CallContext) -> SendEmailOutput:
        seen.append(run.error.message)
        return SendEmailOutput(message_id="m")

    run.step("charge", "stripe-create-payment-intent", SendEmailOutput, fail)
    assert run.next("after", "handler") == "handler"
    run.step("handler", "send-email", SendEmailOutput, read_error)
    assert run.next("after", None) == "after"
    run.step("after", "send-email", SendEmailOutput, read_error)

    assert seen == ["Stripe could not be reached", ""]


def test_next_before_any_step_is_a_programming_error() -> None:
    run = Run(WORKFLOW, INPUTS, journal=MemoryJournal())

    with pytest.raises(RuntimeError, match="before any step ran"):
        run.next("a", "b")


def test_ran_returns_an_output_and_refuses_none() -> None:
    output = CreateCustomerOutput(customer_id="cus_1")

    assert ran(output) is output
    with pytest.raises(RuntimeError, match="before its step succeeded"):
        ran(None)


# --- retries and timeouts -------------------------------------------------


def test_a_retryable_error_is_retried_with_the_same_idempotency_key(
    caps: FakeCapabilities, sleeps: list[float]
) -> None:
    caps.script["stripe-create-payment-intent"] = [
        RateLimitedError("slow down", capability="x", provider="stripe"),
        unavailable(),
    ]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert result.status == "succeeded"
    attempts = caps.called("stripe-create-payment-intent")
    assert [call.context.attempt for call in attempts] == [1, 2, 3]
    assert {call.context.step_id for call in attempts} == {"create-payment-intent"}
    assert len({call.idempotency_key for call in attempts}) == 1
    assert sleeps == [0.5, 0.75]
    assert outcomes(result)[1] == ("create-payment-intent", "succeeded", 3)


def test_retries_stop_at_max_attempts_and_the_failure_routes(
    caps: FakeCapabilities, sleeps: list[float]
) -> None:
    caps.script["stripe-create-payment-intent"] = [unavailable() for _ in range(5)]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert len(caps.called("stripe-create-payment-intent")) == 3
    assert sleeps == [0.5, 0.75]
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.retryable is True
    assert outcomes(result)[1:] == [
        ("create-payment-intent", "failed", 3),
        ("notify-error", "succeeded", 1),
    ]


@pytest.mark.parametrize(
    "error",
    [
        declined(),
        InvalidRequestError("bad amount", capability="x", provider="stripe"),
        PolicyDeniedError("too large", capability="x", provider="stripe", policy="p"),
        ProviderError("unknown", capability="x", provider="stripe", retryable=False),
    ],
    ids=lambda error: type(error).__name__,
)
def test_non_retryable_errors_are_never_retried(
    caps: FakeCapabilities, sleeps: list[float], error: CapabilityError
) -> None:
    caps.script["stripe-create-payment-intent"] = [error]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert len(caps.called("stripe-create-payment-intent")) == 1
    assert sleeps == []
    assert result.error is not None
    assert result.error.type == type(error).__name__


def test_a_step_without_a_retry_policy_is_called_once(
    caps: FakeCapabilities, sleeps: list[float]
) -> None:
    caps.script["stripe-create-customer"] = [unavailable("stripe-create-customer")]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert len(caps.called("stripe-create-customer")) == 1
    assert sleeps == []
    assert outcomes(result)[0] == ("create-customer", "failed", 1)


def test_a_timed_out_attempt_is_retried_with_the_same_key(
    caps: FakeCapabilities, sleeps: list[float]
) -> None:
    caps.script["stripe-create-payment-intent"] = [HANG]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert result.status == "succeeded"
    attempts = caps.called("stripe-create-payment-intent")
    assert [call.context.attempt for call in attempts] == [1, 2]
    assert attempts[0].idempotency_key == attempts[1].idempotency_key
    assert sleeps == [0.5]
    assert outcomes(result)[1] == ("create-payment-intent", "succeeded", 2)
    assert result.trace[1].duration_ms >= 500


def test_a_step_timing_out_on_every_attempt_fails_with_step_timeout_error(
    caps: FakeCapabilities,
) -> None:
    caps.script["stripe-create-payment-intent"] = [HANG, HANG, HANG]

    result = process_payment(INPUTS, caps, journal=MemoryJournal())

    assert result.status == "failed"
    assert result.error is not None
    assert result.error.type == "StepTimeoutError"
    assert result.error.code == "step_timeout"
    assert result.error.step == "create-payment-intent"
    assert result.error.retryable is True
    assert len(caps.called("stripe-create-payment-intent")) == 3
    [notice] = caps.called("send-email")
    assert notice.inputs == SendEmailInput(
        to="admin@example.com",
        template="payment-error",
        data={"error": "no answer within 0.5 s"},
    )


def test_retry_delays_grow_by_backoff_up_to_max_interval() -> None:
    policy = RetryPolicy(
        max_attempts=6, initial_interval=0.5, backoff=3.0, max_interval=5.0
    )

    assert [policy.delay(attempt) for attempt in range(1, 6)] == [
        0.5,
        1.5,
        4.5,
        5.0,
        5.0,
    ]
    assert RetryPolicy(initial_interval=1.0).delay(4) == 8.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts counts from 1"),
        ({"initial_interval": -1.0}, "initial_interval must not be negative"),
        ({"backoff": 0.5}, "backoff must be at least 1"),
        ({"max_interval": -1.0}, "max_interval must not be negative"),
    ],
)
def test_retry_policies_that_make_no_sense_are_refused(
    options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_a_step_timeout_must_be_positive() -> None:
    run = Run(WORKFLOW, INPUTS, journal=MemoryJournal())

    with pytest.raises(ValueError, match="must be positive"):
        run.step(
            "s",
            "c",
            SendEmailOutput,
            lambda context: SendEmailOutput(message_id="m"),
            timeout=0,
        )


# --- crashes and resume ---------------------------------------------------


def test_an_unexpected_exception_propagates_and_the_step_is_not_journaled(
    caps: FakeCapabilities, sleeps: list[float]
) -> None:
    journal = MemoryJournal()
    caps.script["stripe-create-payment-intent"] = [Crash("bug")]

    with pytest.raises(Crash, match="bug"):
        process_payment(INPUTS, caps, run_id="run-1", journal=journal)

    assert sleeps == []
    assert list(journal.load("process-payment", "run-1")) == ["create-customer"]
    assert journal.run_status("process-payment", "run-1") is None


def test_a_resumed_run_skips_finished_steps_and_calls_each_once_overall(
    caps: FakeCapabilities, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    caps.script["send-email"] = [Crash("killed after the payment intent")]

    with pytest.raises(Crash):
        process_payment(INPUTS, caps, run_id="run-1", journal=SqliteJournal(path))
    # A new journal object on the same file stands for a new process.
    result = process_payment(INPUTS, caps, run_id="run-1", journal=SqliteJournal(path))

    assert len(caps.called("stripe-create-customer")) == 1
    assert len(caps.called("stripe-create-payment-intent")) == 1
    emails = caps.called("send-email")
    assert len(emails) == 2
    assert emails[0].idempotency_key == emails[1].idempotency_key
    assert result.status == "succeeded"
    assert outcomes(result) == [
        ("create-customer", "resumed", 1),
        ("create-payment-intent", "resumed", 1),
        ("send-payment-link", "succeeded", 1),
    ]
    assert result.steps.create_customer == CreateCustomerOutput(customer_id="cus_1")
    assert result.steps.create_payment_intent == CreatePaymentIntentOutput(
        payment_intent_id="pi_1", status="created"
    )
    assert SqliteJournal(path).run_status("process-payment", "run-1") == "succeeded"


def test_a_resumed_run_replays_a_failure_and_routes_it_again(
    caps: FakeCapabilities,
) -> None:
    journal = MemoryJournal()
    caps.script["stripe-create-payment-intent"] = [declined()]
    caps.script["send-email"] = [Crash("killed in the failure handler")]

    with pytest.raises(Crash):
        process_payment(INPUTS, caps, run_id="run-1", journal=journal)
    result = process_payment(INPUTS, caps, run_id="run-1", journal=journal)

    assert len(caps.called("stripe-create-payment-intent")) == 1
    assert result.status == "failed"
    assert result.handled is True
    assert result.error is not None
    assert result.error.decline_code == "insufficient_funds"
    assert outcomes(result) == [
        ("create-customer", "resumed", 1),
        ("create-payment-intent", "resumed", 1),
        ("notify-error", "succeeded", 1),
    ]
    assert caps.called("send-email")[-1].inputs == SendEmailInput(
        to="admin@example.com",
        template="payment-error",
        data={"error": "Your card has insufficient funds."},
    )


def test_running_a_finished_run_again_calls_nothing(caps: FakeCapabilities) -> None:
    journal = MemoryJournal()
    first = process_payment(INPUTS, caps, run_id="run-1", journal=journal)
    calls = len(caps.calls)

    again = process_payment(INPUTS, caps, run_id="run-1", journal=journal)

    assert len(caps.calls) == calls == 3
    assert again.steps == first.steps
    assert again.status == first.status == "succeeded"
    assert {entry.outcome for entry in again.trace} == {"resumed"}


def test_a_run_id_reused_with_other_inputs_is_refused(
    caps: FakeCapabilities,
) -> None:
    journal = MemoryJournal()
    process_payment(INPUTS, caps, run_id="run-1", journal=journal)
    other = ProcessPaymentInput(customer_email="jane@example.com", amount=9999)

    with pytest.raises(ResumeConflictError, match="other inputs"):
        process_payment(other, caps, run_id="run-1", journal=journal)
    with pytest.raises(ResumeConflictError):
        Run(
            WorkflowInfo("process-payment", "2.0.0"),
            INPUTS,
            run_id="run-1",
            journal=journal,
        )
    assert len(caps.calls) == 3


def test_without_a_journal_the_default_is_sqlite_at_the_configured_path(
    caps: FakeCapabilities, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "runs" / "journal.db"
    monkeypatch.setenv("CONTRACTGEN_JOURNAL", str(path))
    caps.script["send-email"] = [Crash("killed")]

    with pytest.raises(Crash):
        process_payment(INPUTS, caps, run_id="run-1")
    process_payment(INPUTS, caps, run_id="run-1")

    assert path.is_file()
    assert len(caps.called("stripe-create-payment-intent")) == 1
    assert SqliteJournal(path).run_status("process-payment", "run-1") == "succeeded"


def test_the_default_journal_path_is_under_dot_contractgen(
    caps: FakeCapabilities, tmp_path: Path
) -> None:
    process_payment(INPUTS, caps, run_id="run-1")

    journal = SqliteJournal(tmp_path / ".contractgen" / "journal.sqlite3")
    assert journal.run_status("process-payment", "run-1") == "succeeded"


def test_each_visit_of_a_looping_step_is_its_own_call() -> None:
    journal = MemoryJournal()
    contexts: list[CallContext] = []

    def poll(context: CallContext) -> SendEmailOutput:
        contexts.append(context)
        return SendEmailOutput(message_id=f"m{len(contexts)}")

    for _ in range(2):
        run = Run(WORKFLOW, INPUTS, run_id="run-1", journal=journal)
        first = run.step("poll", "send-email", SendEmailOutput, poll)
        run.next("poll", None)
        second = run.step("poll", "send-email", SendEmailOutput, poll)

    assert [context.step_id for context in contexts] == ["poll", "poll#2"]
    assert key_for(contexts[0]) != key_for(contexts[1])
    assert (first, second) == (
        SendEmailOutput(message_id="m1"),
        SendEmailOutput(message_id="m2"),
    )


# --- async ----------------------------------------------------------------


def test_the_async_workflow_routes_retries_and_times_out_like_the_sync_one(
    caps: FakeCapabilities, sleeps: list[float]
) -> None:
    caps.script["stripe-create-payment-intent"] = [
        unavailable(),
        HANG,
        declined(),
    ]

    result = asyncio.run(process_payment_async(INPUTS, caps, journal=MemoryJournal()))

    attempts = caps.called("stripe-create-payment-intent")
    assert [call.context.attempt for call in attempts] == [1, 2, 3]
    assert len({call.idempotency_key for call in attempts}) == 1
    assert sleeps == [0.5, 0.75]
    assert result.status == "failed"
    assert result.handled is True
    assert result.error is not None
    assert result.error.type == "CardDeclinedError"
    assert outcomes(result) == [
        ("create-customer", "succeeded", 1),
        ("create-payment-intent", "failed", 3),
        ("notify-error", "succeeded", 1),
    ]
    assert ran(result.steps.notify_error).message_id == "<payment-error@test>"


def test_the_async_workflow_resumes_from_the_journal(
    caps: FakeCapabilities,
) -> None:
    journal = MemoryJournal()
    caps.script["send-email"] = [Crash("killed")]

    def run() -> Coroutine[Any, Any, ProcessPaymentResult]:
        return process_payment_async(INPUTS, caps, run_id="run-1", journal=journal)

    with pytest.raises(Crash):
        asyncio.run(run())
    result = asyncio.run(run())

    assert result.status == "succeeded"
    assert len(caps.called("stripe-create-payment-intent")) == 1
    assert [entry.outcome for entry in result.trace] == [
        "resumed",
        "resumed",
        "succeeded",
    ]


def test_an_async_timeout_error_raised_by_the_call_is_not_a_step_timeout() -> None:
    run = Run(WORKFLOW, INPUTS, journal=MemoryJournal())

    async def call(context: CallContext) -> SendEmailOutput:
        raise TimeoutError("socket timed out")

    with pytest.raises(TimeoutError, match="socket timed out"):
        asyncio.run(run.step_async("s", "send-email", SendEmailOutput, call, timeout=5))


# --- logging --------------------------------------------------------------


def test_every_record_carries_the_workflow_version_and_run_id(
    caps: FakeCapabilities, run_records: list[logging.LogRecord]
) -> None:
    caps.script["stripe-create-payment-intent"] = [unavailable(), declined()]

    result = process_payment(INPUTS, caps, run_id="run-7", journal=MemoryJournal())

    fields = [record.contractgen for record in run_records]  # type: ignore[attr-defined]
    assert {record.name for record in run_records} == {"contractgen.workflows"}
    assert {(f["workflow_id"], f["version"], f["run_id"]) for f in fields} == {
        ("process-payment", "1.0.0", "run-7")
    }
    assert [
        (f["event"], f["step_id"], f["attempt"] or f["attempts"]) for f in fields
    ] == [
        ("run_started", None, None),
        ("step_started", "create-customer", 1),
        ("step_finished", "create-customer", 1),
        ("step_started", "create-payment-intent", 1),
        ("step_retrying", "create-payment-intent", 1),
        ("step_started", "create-payment-intent", 2),
        ("step_finished", "create-payment-intent", 2),
        ("step_started", "notify-error", 1),
        ("step_finished", "notify-error", 1),
        ("run_finished", None, None),
    ]
    failed = fields[6]
    assert (failed["outcome"], failed["error_type"], failed["error_code"]) == (
        "failed",
        "CardDeclinedError",
        "card_declined",
    )
    assert fields[4]["retry_in_s"] == 0.5
    assert fields[-1]["outcome"] == result.status == "failed"
    assert run_records[-1].levelno == logging.WARNING
    assert run_records[-1].getMessage() == "process-payment run-7: run failed"
    assert run_records[6].getMessage() == (
        "process-payment run-7: step create-payment-intent failed after 2 attempts"
        " (CardDeclinedError card_declined)"
    )
    assert all("insufficient" not in record.getMessage() for record in run_records)


def test_a_resumed_run_says_so_in_its_log(
    caps: FakeCapabilities, run_records: list[logging.LogRecord]
) -> None:
    journal = MemoryJournal()
    process_payment(INPUTS, caps, run_id="run-1", journal=journal)
    run_records.clear()

    process_payment(INPUTS, caps, run_id="run-1", journal=journal)

    fields = [record.contractgen for record in run_records]  # type: ignore[attr-defined]
    assert fields[0]["event"] == "run_resumed"
    assert fields[0]["resumed_steps"] == 3
    assert run_records[0].getMessage() == (
        "process-payment run-1: run resumed with 3 finished steps"
    )
    assert [f["event"] for f in fields[1:]] == ["step_resumed"] * 3 + ["run_finished"]
