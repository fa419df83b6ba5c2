# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""Run generated workflows on Temporal, with the in-process engine's semantics.

The Temporal target emits, under ``<package>.temporal``, one
``@workflow.defn`` class per workflow, one activity per capability and a
worker. Those modules stay small: this module holds what they share.

- :class:`TemporalRun` is the workflow side, the counterpart of
  :class:`~.workflow_engine.Run`. It routes between steps exactly as ``Run``
  does and builds the same :class:`~.workflow_engine.WorkflowResult`, but
  runs each step as an activity instead of calling the capability, keeps no
  journal (Temporal's event history is the journal) and does no I/O, so
  workflow code stays deterministic.
- :func:`call_step` is the activity side: it calls the capability with a
  :class:`~.context.CallContext`, enforces the step's timeout and turns a
  :class:`~.errors.CapabilityError` into an ``ApplicationError`` carrying the
  error's data, non-retryable when the step must not repeat it.
- :class:`TemporalSettings`, :func:`connect` and :func:`build_worker` set up
  the client and the worker, with temporalio's pydantic data converter so the
  generated models cross the boundary as they are.

Ids. A step's :class:`~.context.CallContext`, and so its idempotency key, is
built from the spec's ``workflowId``, the **Temporal workflow id** as the run
id, and the step id (with the visit number for a step visited again). The
Temporal run id is not used: it changes when an execution is reset or
retried, and a new key there could charge a card twice. The result's
``run_id`` is the Temporal workflow id too.

Retries. Each step's activity gets a Temporal retry policy with the step's
intervals and no attempt limit; the activity itself makes the error of the
step's last allowed attempt, and every non-retryable error, a non-retryable
``ApplicationError``. So a capability error is retried exactly as the
in-process engine retries it, while an attempt lost with its worker (noticed
through missed heartbeats) is simply run again: like a crashed in-process run
that is resumed, it is not a step failure. Such a lost attempt does count
towards the step's ``maxAttempts``.

Timeouts. The step's ``timeout`` bounds each attempt inside the activity and
fails it with :class:`~.errors.StepTimeoutError`, as in process. The
activity's ``start_to_close_timeout`` is that timeout plus a margin (or a long
default for a step without one), a backstop only.

Failures. A step that fails for good routes to its ``onFailure`` step with
the same :class:`~.workflow_engine.StepError` the in-process engine builds.
Anything else - an activity raising something that is not a capability
error, a bug in the workflow - fails the workflow execution instead of being
retried forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import (
    SandboxedWorkflowRunner,
    SandboxRestrictions,
)

from .context import CallContext
from .errors import CapabilityError, StepTimeoutError
from .journal import RunStatus
from .redaction import redact_text
from .workflow_engine import (
    LOGGER_NAME,
    RetryPolicy,
    StepError,
    StepsBase,
    TraceEntry,
    TraceOutcome,
    WorkflowInfo,
    WorkflowResult,
)

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_TASK_QUEUE",
    "HEARTBEAT_TIMEOUT",
    "StepCall",
    "StepDone",
    "TemporalRun",
    "TemporalSettings",
    "build_worker",
    "call_step",
    "connect",
    "retry_policy",
]

DEFAULT_ADDRESS: Final = "127.0.0.1:7233"
DEFAULT_TASK_QUEUE: Final = "contractgen"

# How soon Temporal notices an attempt whose worker is gone, and how often a
# running attempt says it is alive.
HEARTBEAT_TIMEOUT: Final = timedelta(seconds=5)
_HEARTBEAT_EVERY_S: Final = 1.0
# start_to_close_timeout of an attempt: the step's timeout plus this margin,
# so the activity's own timeout (a StepTimeoutError) fires first; or the
# default for a step without one.
_TIMEOUT_MARGIN: Final = timedelta(seconds=5)
_NO_TIMEOUT_BACKSTOP: Final = timedelta(hours=1)

# The ApplicationError type of anything an activity raises that is not a
# capability error; it fails the workflow execution.
_STEP_CRASHED: Final = "StepCrashedError"

_NO_RETRY: Final = RetryPolicy(max_attempts=1)
_NO_ERROR: Final = StepError()

logger = logging.getLogger(LOGGER_NAME)

Input = TypeVar("Input")
Output = TypeVar("Output")
Result = TypeVar("Result", bound=WorkflowResult)


class TemporalSettings(BaseSettings):
    """Where the worker and clients find Temporal, read from the environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    address: str = Field(default=DEFAULT_ADDRESS, validation_alias="TEMPORAL_ADDRESS")
    namespace: str = Field(default="default", validation_alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(
        default=DEFAULT_TASK_QUEUE, validation_alias="TEMPORAL_TASK_QUEUE"
    )


class StepCall(BaseModel, Generic[Input]):
    """What a step's activity gets: the ids, the step's limits and its input."""

    model_config = ConfigDict(frozen=True)

    workflow_id: str
    run_id: str
    step: str
    # The visit's key: the step id, or `step#n` for a later visit.
    key: str
    capability: str
    max_attempts: int = 1
    timeout: float | None = None
    inputs: Input


class StepDone(BaseModel, Generic[Output]):
    """What a step's activity returns: the output and the attempt it took."""

    model_config = ConfigDict(frozen=True)

    output: Output
    attempts: int


def retry_policy(retry: RetryPolicy | None) -> TemporalRetryPolicy:
    """The Temporal retry policy of a step with ``retry`` (or none).

    Unlimited attempts: the activity decides when a capability error is final
    (see the module docstring), so only lost attempts are retried past it.
    """
    policy = retry if retry is not None else _NO_RETRY
    return TemporalRetryPolicy(
        # Temporal reads zero as "its default"; a millisecond is as good as 0.
        initial_interval=timedelta(seconds=max(policy.initial_interval, 0.001)),
        backoff_coefficient=policy.backoff,
        maximum_interval=(
            timedelta(seconds=policy.max_interval)
            if policy.max_interval is not None
            else None
        ),
        maximum_attempts=0,
    )


def _start_to_close(timeout: float | None) -> timedelta:
    if timeout is None:
        return _NO_TIMEOUT_BACKSTOP
    return timedelta(seconds=timeout) + _TIMEOUT_MARGIN


async def call_step(
    call: StepCall[Input],
    capability: Callable[[Input, CallContext], Output],
) -> StepDone[Output]:
    """Run one attempt of a step's capability, inside its activity.

    ``capability`` is the synchronous capability function; it runs in a
    thread, so the activity keeps heartbeating while the provider answers.
    """
    attempt = activity.info().attempt
    context = CallContext(
        workflow_id=call.workflow_id,
        run_id=call.run_id,
        step_id=call.key,
        attempt=attempt,
    )
    beating = asyncio.create_task(_heartbeat())
    try:
        output = await _within(
            asyncio.to_thread(capability, call.inputs, context), call
        )
    except CapabilityError as err:
        err.with_step(call.step)
        final = not err.retryable or attempt >= call.max_attempts
        raise ApplicationError(
            err.message,
            {**err.to_dict(), "attempts": attempt},
            type=type(err).__name__,
            non_retryable=final,
        ) from None
    except Exception as err:
        # Not a step failure: the in-process engine lets it escape the run,
        # here it fails the execution. Only a redacted message leaves.
        raise ApplicationError(
            f"{type(err).__name__}: {redact_text(str(err))}",
            type=_STEP_CRASHED,
            non_retryable=True,
        ) from None
    finally:
        beating.cancel()
    return StepDone(output=output, attempts=attempt)


async def _within(work: Awaitable[Output], call: StepCall[Any]) -> Output:
    if call.timeout is None:
        return await work
    scope = asyncio.timeout(call.timeout)
    try:
        async with scope:
            return await work
    except TimeoutError:
        if scope.expired():
            raise StepTimeoutError(
                f"no answer within {call.timeout:g} s",
                capability=call.capability,
                timeout=call.timeout,
            ) from None
        raise


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(_HEARTBEAT_EVERY_S)


@dataclass(frozen=True, slots=True)
class _Finished:
    # How the last step ended: its error, or None, is what `next` routes on.
    error: StepError | None


def _capability_error_types() -> frozenset[str]:
    names: set[str] = set()
    pending: list[type[CapabilityError]] = [CapabilityError]
    while pending:
        kind = pending.pop()
        names.add(kind.__name__)
        pending += kind.__subclasses__()
    return frozenset(names)


class TemporalRun:
    """One run of one workflow inside a Temporal workflow execution.

    The generated ``@workflow.defn`` classes drive it as the in-process
    functions drive :class:`~.workflow_engine.Run`: :meth:`step`, then
    :meth:`next`, and :meth:`finish` at the end. It must be created inside
    the workflow's run method.
    """

    def __init__(self, info: WorkflowInfo) -> None:
        self.workflow = info
        self.run_id = workflow.info().workflow_id
        self._started = workflow.time()
        self._visits: dict[str, int] = {}
        self._trace: list[TraceEntry] = []
        self._last: _Finished | None = None
        self._routed: StepError | None = None
        self._first_error: StepError | None = None
        self._handled = False
        self._capability_errors = _capability_error_types()
        self._log("run_started", "run started")

    @property
    def error(self) -> StepError:
        """The error that routed the run to the current step, else an empty one."""
        return self._routed if self._routed is not None else _NO_ERROR

    async def step(
        self,
        step_id: str,
        capability: str,
        run_activity: Callable[[Any, StepCall[Input]], Awaitable[StepDone[Output]]],
        inputs: Input,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Output | None:
        """Run one step as an activity: its output, or ``None`` if it failed."""
        key = self._enter(step_id)
        call = StepCall(
            workflow_id=self.workflow.id,
            run_id=self.run_id,
            step=step_id,
            key=key,
            capability=capability,
            max_attempts=(retry or _NO_RETRY).max_attempts,
            timeout=timeout,
            inputs=inputs,
        )
        started = workflow.time()
        try:
            done = await workflow.execute_activity_method(
                run_activity,
                call,
                activity_id=key,
                start_to_close_timeout=_start_to_close(timeout),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=retry_policy(retry),
            )
        except ActivityError as err:
            error, attempts = self._step_error(err, step_id, capability)
            self._end(step_id, capability, error, attempts, started)
            return None
        self._end(step_id, capability, None, done.attempts, started)
        return done.output

    def next(self, on_success: str | None, on_failure: str | None) -> str | None:
        """The step to run after the last one, or ``None`` to end the run."""
        last = self._last
        if last is None:
            raise RuntimeError("TemporalRun.next() was called before any step ran")
        self._last = None
        if last.error is None:
            self._routed = None
            return on_success
        self._routed = last.error if on_failure is not None else None
        return on_failure

    def finish(self, result_type: type[Result], steps: StepsBase) -> Result:
        """The run's result, as :meth:`~.workflow_engine.Run.finish` builds it."""
        error = self._first_error
        status: RunStatus = "failed" if error is not None else "succeeded"
        self._log(
            "run_finished",
            f"run {status}",
            outcome=status,
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
        # The same visit keys as the in-process engine, so the same
        # idempotency keys for the same workflow id and run id.
        visit = self._visits.get(step_id, 0) + 1
        self._visits[step_id] = visit
        if self._routed is not None:
            self._handled = True
        return step_id if visit == 1 else f"{step_id}#{visit}"

    def _step_error(
        self, err: ActivityError, step_id: str, capability: str
    ) -> tuple[StepError, int]:
        """The step's error from a failed activity, or fail the execution."""
        cause = err.cause
        if (
            isinstance(cause, ApplicationError)
            and cause.type in self._capability_errors
            and cause.details
            and isinstance(cause.details[0], dict)
        ):
            data = dict(cause.details[0])
            attempts = int(data.pop("attempts", 1))
            return StepError.model_validate({**data, "step": step_id}), attempts
        raise ApplicationError(
            f"step {step_id} ({capability}) could not run: {cause or err}",
            type=_STEP_CRASHED,
            non_retryable=True,
        ) from err

    def _end(
        self,
        step_id: str,
        capability: str,
        error: StepError | None,
        attempts: int,
        started: float,
    ) -> None:
        self._last = _Finished(error)
        if error is not None and self._first_error is None:
            self._first_error = error
        outcome: TraceOutcome = "failed" if error is not None else "succeeded"
        duration_ms = round((workflow.time() - started) * 1000.0, 3)
        self._trace.append(
            TraceEntry(
                step=step_id,
                capability=capability,
                outcome=outcome,
                attempts=attempts,
                duration_ms=duration_ms,
            )
        )
        self._log(
            "step_finished",
            f"step {step_id} {outcome} after {attempts} attempt"
            f"{'' if attempts == 1 else 's'}",
            step_id=step_id,
            capability=capability,
            attempts=attempts,
            outcome=outcome,
            duration_ms=duration_ms,
            error_type=error.type if error is not None else None,
            error_code=error.code if error is not None else None,
        )

    def _log(self, event: str, message: str, **fields: Any) -> None:
        # A replayed workflow task repeats the code, not the log record.
        if workflow.unsafe.is_replaying() or not logger.isEnabledFor(logging.INFO):
            return
        record = {
            "event": event,
            "workflow_id": self.workflow.id,
            "version": self.workflow.version,
            "run_id": self.run_id,
            "engine": "temporal",
            **fields,
        }
        text = f"{self.workflow.id} {self.run_id}: {message}"
        logger.info(text, extra={"contractgen": record})


async def connect(settings: TemporalSettings | None = None) -> Client:
    """A Temporal client with the pydantic data converter, from settings."""
    settings = settings if settings is not None else TemporalSettings()
    return await Client.connect(
        settings.address,
        namespace=settings.namespace,
        data_converter=pydantic_data_converter,
    )


def build_worker(
    client: Client,
    *,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
    package: str,
) -> Worker:
    """A worker for ``workflows`` and ``activities`` on ``task_queue``.

    The generated ``package`` is passed through the workflow sandbox: its
    modules hold models and pure functions, and importing them once keeps
    pydantic's classes identical inside and outside workflows.
    """
    restrictions = SandboxRestrictions.default.with_passthrough_modules(package)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        workflow_runner=SandboxedWorkflowRunner(restrictions=restrictions),
    )
