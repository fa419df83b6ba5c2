"""The engine behind the generated workflow functions.

A generated workflow is a plain loop over its steps. It creates a :class:`Run`,
calls :meth:`Run.step` (or :meth:`Run.step_async`) for the current step,
asks :meth:`Run.next` where to go, and ends with :meth:`Run.finish`. The
engine holds everything the steps share, so the generated code only says
which capability each step calls and with what:

- **Calls.** A step calls its capability with a :class:`~.context.CallContext`
  naming the workflow, the run and the step, and counting the attempt. The
  capability's idempotency key is derived from the first three alone, so it
  is the same for every attempt of the step and for a resumed run.
- **Retries.** With a :class:`RetryPolicy`, a step whose call raises a
  retryable :class:`~.errors.CapabilityError` is called again, up to
  ``max_attempts`` calls in all, waiting ``initial_interval`` seconds before
  the second, then ``backoff`` times longer before each next one, never more
  than ``max_interval``. Card declines, invalid requests, policy denials and
  every other non-retryable error fail the step at once.
- **Timeouts.** With a ``timeout``, an attempt that takes longer than that
  many seconds fails with :class:`StepTimeoutError`, which is retryable. A
  synchronous call runs in a worker thread that is abandoned, not stopped;
  an asynchronous one is cancelled. Either way the provider may still
  complete the abandoned request, which is why a retry sends the same key.
- **Routing.** A step that succeeds goes to its ``onSuccess`` step; one that
  fails for good goes to its ``onFailure`` step. A missing target ends the
  run. Within the step an ``onFailure`` leads to, :attr:`Run.error` is the
  error that led there; anywhere else it is an empty :class:`StepError`.
- **Status.** A run is ``failed`` if any of its steps failed, even when a
  failure handler then succeeded; :attr:`WorkflowResult.error` is the first
  such error and :attr:`WorkflowResult.handled` says whether a step reached
  through ``onFailure`` ran.
- **Exceptions.** Anything a capability raises that is not a
  :class:`~.errors.CapabilityError` - a bug, ``KeyboardInterrupt`` - is not a
  step failure: it propagates out of the workflow and the step is not
  journaled, so a resumed run calls it again.
- **Resume.** Every step that finishes, succeeded or failed, is recorded in
  the run's :mod:`.journal` before the run moves on. Calling the workflow
  again with the same ``run_id`` replays recorded steps - their outputs, or
  their failures and the routing that followed - without calling their
  capabilities, and calls only the steps that never finished. A run resumes
  only with the workflow version and inputs it started with; anything else
  raises :class:`ResumeConflictError`. A step the run visits more than once
  is journaled, and keyed, per visit.

Every run logs on the ``contractgen.workflows`` logger: run started (or
resumed) and finished, and each step's start, retries and outcome. The
message is a sentence for people; the fields sit under ``record.contractgen``
with stable names:

    event, workflow_id, version, run_id, step_id, capability, attempt,
    attempts, outcome, duration_ms, retry_in_s, error_type, error_code,
    resumed_steps

Inputs, outputs and error messages are never logged here; the capability's
own call record says what its allow-list permits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from .context import CallContext
from .errors import CapabilityError, ContractError, StepTimeoutError
from .journal import Journal, JournalEntry, RunStatus, default_journal

__all__ = [
    "LOGGER_NAME",
    "ResumeConflictError",
    "RetryPolicy",
    "Run",
    "StepError",
    "StepTimeoutError",
    "StepsBase",
    "TraceEntry",
    "TraceOutcome",
    "WorkflowInfo",
    "WorkflowResult",
    "blank_if_none",
    "logger",
    "ran",
    "sleep",
    "sleep_async",
]

LOGGER_NAME: Final = "contractgen.workflows"

logger = logging.getLogger(LOGGER_NAME)

T = TypeVar("T")
Output = TypeVar("Output", bound=BaseModel)
Result = TypeVar("Result", bound="WorkflowResult")

TraceOutcome = Literal["succeeded", "failed", "resumed"]

# How the engine waits between attempts. Module attributes, looked up at each
# wait, so tests can replace them without slowing down.
sleep: Callable[[float], None] = time.sleep
sleep_async: Callable[[float], Awaitable[None]] = asyncio.sleep

# Versioned so that a future change of what the fingerprint covers refuses to
# resume runs journaled by older code rather than resuming them wrongly.
_FINGERPRINT_DOMAIN: Final = b"contractgen/run-fingerprint/v1\n"


class ResumeConflictError(ContractError):
    """A run id was reused with other inputs or another workflow version."""


@dataclass(frozen=True, slots=True)
class WorkflowInfo:
    """The identity of a workflow: its spec's ``workflowId`` and ``version``."""

    id: str
    version: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and how patiently, a step retries retryable errors.

    ``max_attempts`` counts every call, the first included. The wait before
    attempt ``n + 1`` is ``initial_interval * backoff ** (n - 1)`` seconds,
    capped at ``max_interval`` when that is set.
    """

    max_attempts: int = 3
    initial_interval: float = 1.0
    backoff: float = 2.0
    max_interval: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts counts from 1, got {self.max_attempts}")
        if self.initial_interval < 0:
            raise ValueError(
                f"initial_interval must not be negative, got {self.initial_interval}"
            )
        if self.backoff < 1:
            raise ValueError(f"backoff must be at least 1, got {self.backoff}")
        if self.max_interval is not None and self.max_interval < 0:
            raise ValueError(
                f"max_interval must not be negative, got {self.max_interval}"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after attempt ``attempt`` failed, before the next."""
        delay = self.initial_interval * self.backoff ** (attempt - 1)
        if self.max_interval is not None:
            delay = min(delay, self.max_interval)
        return delay


_NO_RETRY: Final = RetryPolicy(max_attempts=1)


class StepError(BaseModel):
    """A step's failure as plain data: what workflows route on and report.

    An empty one (``type`` and ``message`` empty) stands for "no error", so
    generated code can read ``run.error.message`` in any step.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: str = ""
    message: str = ""
    code: str | None = None
    decline_code: str | None = None
    step: str | None = None
    capability: str | None = None
    retryable: bool = False
    request_id: str | None = None

    @classmethod
    def from_error(cls, error: CapabilityError) -> StepError:
        """The data of ``error``; keys a subclass adds beyond these are dropped."""
        return cls.model_validate(error.to_dict())


_NO_ERROR: Final = StepError()


class TraceEntry(BaseModel):
    """One step as the run took it.

    ``resumed`` means the outcome was replayed from the journal; ``attempts``
    is then the journaled count and ``duration_ms`` is zero.
    """

    model_config = ConfigDict(frozen=True)

    step: str
    capability: str
    outcome: TraceOutcome
    attempts: int
    duration_ms: float


class StepsBase(BaseModel):
    """Base of a workflow's step outputs: one optional field per step."""

    model_config = ConfigDict(extra="forbid")


class WorkflowResult(BaseModel):
    """Base of a workflow's typed result; subclasses narrow ``steps``."""

    model_config = ConfigDict(frozen=True)

    workflow_id: str
    version: str
    run_id: str
    status: RunStatus
    error: StepError | None
    handled: bool
    trace: list[TraceEntry]
    steps: StepsBase


def ran(output: T | None) -> T:
    """The output of a step that must have succeeded to get here.

    The workflow compiler only reads an output where every path has run its
    step, so ``None`` here is a bug in the compiler, not in the workflow.
    """
    if output is None:
        raise RuntimeError(
            "a step output was read before its step succeeded; "
            "the workflow compiler should have rejected this workflow"
        )
    return output


def blank_if_none(value: object) -> str:
    """The text an expression writes into a step's text: none for ``None``.

    In ``"Hello ${input.name}!"`` an absent name writes ``"Hello !"``, as null
    does in most template languages, rather than Python's ``"Hello None!"``.
    The workflow compiler wraps only the expressions whose type allows
    ``None``; any other value is formatted as an f-string formats it.
    """
    return "" if value is None else format(value)


@dataclass(frozen=True, slots=True)
class _Finished:
    # How the last step ended: its error, or None, is what `next` routes on.
    error: StepError | None


class Run:
    """One run of one workflow: its ids, journal, routing state and trace.

    ``run_id`` defaults to a fresh random id; pass the id of an earlier run to
    resume it. ``journal`` defaults to :func:`~.journal.default_journal`.
    A run is driven by one caller at a time; it is not thread-safe.
    """

    def __init__(
        self,
        workflow: WorkflowInfo,
        inputs: BaseModel,
        *,
        run_id: str | None = None,
        journal: Journal | None = None,
    ) -> None:
        if run_id is not None and not run_id:
            raise ValueError("run_id must not be empty")
        self.workflow = workflow
        self.run_id = run_id if run_id is not None else uuid.uuid4().hex
        self.journal = journal if journal is not None else default_journal()
        self._fingerprint = _fingerprint(workflow, inputs)
        self._started = time.perf_counter()
        self._visits: dict[str, int] = {}
        self._trace: list[TraceEntry] = []
        self._last: _Finished | None = None
        self._routed: StepError | None = None
        self._first_error: StepError | None = None
        self._handled = False

        self._journaled = self.journal.load(workflow.id, self.run_id)
        for entry in self._journaled.values():
            if entry.fingerprint != self._fingerprint:
                raise ResumeConflictError(
                    f"run {self.run_id!r} of workflow {workflow.id!r} was started "
                    "with other inputs or another workflow version; "
                    "resume it with those, or start a new run id"
                )

        if self._journaled:
            self._log(
                "run_resumed",
                f"run resumed with {len(self._journaled)} finished steps",
                resumed_steps=len(self._journaled),
            )
        else:
            self._log("run_started", "run started")

    @property
    def error(self) -> StepError:
        """The error that routed the run to the current step, else an empty one."""
        return self._routed if self._routed is not None else _NO_ERROR

    def step(
        self,
        step_id: str,
        capability: str,
        output_type: type[Output],
        call: Callable[[CallContext], Output],
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Output | None:
        """Run one step: its output, or ``None`` if it failed for good.

        A step the journal holds is replayed, not called. ``call`` is called
        with the attempt's context and must return the step's output.
        """
        _check_timeout(timeout)
        key = self._enter(step_id)
        entry = self._journaled.get(key)
        if entry is not None:
            return self._replay(step_id, entry, output_type)

        policy = retry if retry is not None else _NO_RETRY
        started = time.perf_counter()
        attempt = 1
        while True:
            context = self._context(key, attempt)
            self._log_attempt(step_id, capability, attempt)
            try:
                output = _call_with_timeout(call, context, timeout, capability, key)
            except CapabilityError as err:
                delay = self._retry_delay(step_id, capability, err, policy, attempt)
                if delay is None:
                    self._failed(step_id, key, capability, err, attempt, started)
                    return None
                sleep(delay)
                attempt += 1
                continue
            return self._succeeded(step_id, key, capability, output, attempt, started)

    async def step_async(
        self,
        step_id: str,
        capability: str,
        output_type: type[Output],
        call: Callable[[CallContext], Awaitable[Output]],
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Output | None:
        """The asynchronous form of :meth:`step`, for ``*_async`` capabilities."""
        _check_timeout(timeout)
        key = self._enter(step_id)
        entry = self._journaled.get(key)
        if entry is not None:
            return self._replay(step_id, entry, output_type)

        policy = retry if retry is not None else _NO_RETRY
        started = time.perf_counter()
        attempt = 1
        while True:
            context = self._context(key, attempt)
            self._log_attempt(step_id, capability, attempt)
            try:
                output = await _await_with_timeout(
                    call(context), timeout, capability, key
                )
            except CapabilityError as err:
                delay = self._retry_delay(step_id, capability, err, policy, attempt)
                if delay is None:
                    self._failed(step_id, key, capability, err, attempt, started)
                    return None
                await sleep_async(delay)
                attempt += 1
                continue
            return self._succeeded(step_id, key, capability, output, attempt, started)

    def next(self, on_success: str | None, on_failure: str | None) -> str | None:
        """The step to run after the last one, or ``None`` to end the run."""
        last = self._last
        if last is None:
            raise RuntimeError("Run.next() was called before any step ran")
        self._last = None
        if last.error is None:
            self._routed = None
            return on_success
        self._routed = last.error if on_failure is not None else None
        return on_failure

    def finish(self, result_type: type[Result], steps: StepsBase) -> Result:
        """The run's result; records the run as finished in the journal."""
        status: RunStatus = "failed" if self._first_error is not None else "succeeded"
        self.journal.finish_run(self.workflow.id, self.run_id, status=status)
        error = self._first_error
        self._log(
            "run_finished",
            f"run {status}",
            level=logging.INFO if status == "succeeded" else logging.WARNING,
            outcome=status,
            duration_ms=_elapsed_ms(self._started),
            error_type=error.type if error is not None else None,
            error_code=error.code if error is not None else None,
        )
        return result_type(
            workflow_id=self.workflow.id,
            version=self.workflow.version,
            run_id=self.run_id,
            status=status,
            error=error,
            handled=self._handled,
            trace=list(self._trace),
            steps=steps,
        )

    def _enter(self, step_id: str) -> str:
        """Start a visit to a step; returns the visit's journal key.

        The first visit is keyed by the step id alone, so its idempotency key
        is the step's key; later visits of a looping step get their own.
        """
        visit = self._visits.get(step_id, 0) + 1
        self._visits[step_id] = visit
        if self._routed is not None:
            self._handled = True
        return step_id if visit == 1 else f"{step_id}#{visit}"

    def _context(self, key: str, attempt: int) -> CallContext:
        return CallContext(
            workflow_id=self.workflow.id,
            run_id=self.run_id,
            step_id=key,
            attempt=attempt,
        )

    def _replay(
        self, step_id: str, entry: JournalEntry, output_type: type[Output]
    ) -> Output | None:
        output = None
        error = None
        if entry.error is not None:
            error = StepError.model_validate(entry.error)
        else:
            output = output_type.model_validate(entry.output)
        self._end(step_id, entry.capability, error, "resumed", entry.attempts, 0.0)
        self._log(
            "step_resumed",
            f"step {step_id} {entry.outcome} earlier; replayed from the journal",
            step_id=step_id,
            capability=entry.capability,
            attempts=entry.attempts,
            outcome=entry.outcome,
            error_type=error.type if error is not None else None,
            error_code=error.code if error is not None else None,
        )
        return output

    def _retry_delay(
        self,
        step_id: str,
        capability: str,
        err: CapabilityError,
        policy: RetryPolicy,
        attempt: int,
    ) -> float | None:
        """Seconds to wait before retrying, or ``None`` if the step failed."""
        if not err.retryable or attempt >= policy.max_attempts:
            return None
        delay = policy.delay(attempt)
        self._log(
            "step_retrying",
            f"step {step_id} attempt {attempt} failed ({type(err).__name__}); "
            f"retrying in {delay:g} s",
            level=logging.WARNING,
            step_id=step_id,
            capability=capability,
            attempt=attempt,
            retry_in_s=delay,
            error_type=type(err).__name__,
            error_code=err.code,
        )
        return delay

    def _succeeded(
        self,
        step_id: str,
        key: str,
        capability: str,
        output: Output,
        attempts: int,
        started: float,
    ) -> Output:
        self.journal.record_success(
            self.workflow.id,
            self.run_id,
            key,
            capability=capability,
            fingerprint=self._fingerprint,
            attempts=attempts,
            output=output.model_dump(mode="json"),
        )
        duration_ms = _elapsed_ms(started)
        self._end(step_id, capability, None, "succeeded", attempts, duration_ms)
        self._log(
            "step_finished",
            f"step {step_id} succeeded in {duration_ms:.1f} ms",
            step_id=step_id,
            capability=capability,
            attempts=attempts,
            outcome="succeeded",
            duration_ms=duration_ms,
        )
        return output

    def _failed(
        self,
        step_id: str,
        key: str,
        capability: str,
        err: CapabilityError,
        attempts: int,
        started: float,
    ) -> None:
        # The wrapper named the step by its visit key; routing and results
        # speak of the step itself.
        err.with_step(step_id)
        self.journal.record_failure(
            self.workflow.id,
            self.run_id,
            key,
            capability=capability,
            fingerprint=self._fingerprint,
            attempts=attempts,
            error=err.to_dict(),
        )
        duration_ms = _elapsed_ms(started)
        error = StepError.from_error(err)
        self._end(step_id, capability, error, "failed", attempts, duration_ms)
        detail = error.type if error.code is None else f"{error.type} {error.code}"
        self._log(
            "step_finished",
            f"step {step_id} failed after {attempts} attempt"
            f"{'' if attempts == 1 else 's'} ({detail})",
            level=logging.WARNING,
            step_id=step_id,
            capability=capability,
            attempts=attempts,
            outcome="failed",
            duration_ms=duration_ms,
            error_type=error.type,
            error_code=error.code,
        )

    def _end(
        self,
        step_id: str,
        capability: str,
        error: StepError | None,
        outcome: TraceOutcome,
        attempts: int,
        duration_ms: float,
    ) -> None:
        self._last = _Finished(error)
        if error is not None and self._first_error is None:
            self._first_error = error
        self._trace.append(
            TraceEntry(
                step=step_id,
                capability=capability,
                outcome=outcome,
                attempts=attempts,
                duration_ms=round(duration_ms, 3),
            )
        )

    def _log_attempt(self, step_id: str, capability: str, attempt: int) -> None:
        self._log(
            "step_started",
            f"step {step_id} started (attempt {attempt})",
            level=logging.DEBUG,
            step_id=step_id,
            capability=capability,
            attempt=attempt,
        )

    def _log(
        self,
        event: str,
        message: str,
        *,
        level: int = logging.INFO,
        step_id: str | None = None,
        capability: str | None = None,
        attempt: int | None = None,
        attempts: int | None = None,
        outcome: str | None = None,
        duration_ms: float | None = None,
        retry_in_s: float | None = None,
        error_type: str | None = None,
        error_code: str | None = None,
        resumed_steps: int | None = None,
    ) -> None:
        if not logger.isEnabledFor(level):
            return
        fields: dict[str, Any] = {
            "event": event,
            "workflow_id": self.workflow.id,
            "version": self.workflow.version,
            "run_id": self.run_id,
            "step_id": step_id,
            "capability": capability,
            "attempt": attempt,
            "attempts": attempts,
            "outcome": outcome,
            "duration_ms": round(duration_ms, 3) if duration_ms is not None else None,
            "retry_in_s": retry_in_s,
            "error_type": error_type,
            "error_code": error_code,
            "resumed_steps": resumed_steps,
        }
        text = f"{self.workflow.id} {self.run_id}: {message}"
        logger.log(level, text, extra={"contractgen": fields})


def _fingerprint(workflow: WorkflowInfo, inputs: BaseModel) -> str:
    encoded = json.dumps(
        [workflow.id, workflow.version, inputs.model_dump(mode="json")],
        ensure_ascii=False,
        sort_keys=True,
    )
    digest = hashlib.sha256(_FINGERPRINT_DOMAIN + encoded.encode("utf-8"))
    return digest.hexdigest()[:32]


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and not timeout > 0:
        raise ValueError(f"a step timeout must be positive, got {timeout}")


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _timed_out(capability: str, timeout: float) -> StepTimeoutError:
    return StepTimeoutError(
        f"no answer within {timeout:g} s", capability=capability, timeout=timeout
    )


def _call_with_timeout(
    call: Callable[[CallContext], T],
    context: CallContext,
    timeout: float | None,
    capability: str,
    key: str,
) -> T:
    """``call(context)``, given up on after ``timeout`` seconds.

    Without a timeout the call runs in the caller's thread. With one it runs
    in a daemon thread, carrying the caller's context variables, so a call
    that never returns neither blocks the run nor keeps the process alive.
    """
    if timeout is None:
        return call(context)

    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def work() -> None:
        # BaseException too: whatever the call raises belongs to the caller.
        try:
            future.set_result(call(context))
        except BaseException as err:
            future.set_exception(err)

    variables = contextvars.copy_context()
    worker = threading.Thread(
        target=variables.run,
        args=(work,),
        name=f"contractgen-step-{key}",
        daemon=True,
    )
    worker.start()
    done, _ = concurrent.futures.wait([future], timeout=timeout)
    if not done:
        raise _timed_out(capability, timeout)
    return future.result()


async def _await_with_timeout(
    awaitable: Awaitable[T], timeout: float | None, capability: str, key: str
) -> T:
    if timeout is None:
        return await awaitable
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            return await awaitable
    except TimeoutError:
        # Only our own deadline is a step timeout; a TimeoutError raised by
        # the call itself is not a CapabilityError and propagates as it is.
        if scope.expired():
            raise _timed_out(capability, timeout) from None
        raise
