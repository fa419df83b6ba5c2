"""The course every provider call takes, from its policies to its log record.

Each provider module (``stripe_calls``, ``email_calls``, ``twilio_calls``,
``qdrant_calls``) keeps what only it knows: its settings, how to build its
client, how to shape a request and read a response, and how its SDK's errors
map onto :mod:`.errors`. It puts that knowledge in a subclass of
:class:`ProviderCall`, makes one instance per call, and drives it through the
same steps:

1. a check of its own that fails before anything is sent (a bad input, a
   missing sender) is logged with :meth:`ProviderCall.log_unsent` and raised;
2. :meth:`ProviderCall.check_policies` runs the policies on the request about
   to be sent; a denial is tagged with the step, logged as ``denied`` and
   raised, and the provider is never called;
3. :meth:`ProviderCall.invoke` (or :meth:`ProviderCall.ainvoke`) calls the
   provider and times it. An exception goes through the provider's
   :meth:`ProviderCall.map_error`, is logged as ``failed`` and raised,
   chained to the original when the mapping replaced it; a mapping may
   replace it with a policy's denial, which is logged as ``denied``;
4. a result is logged as ``succeeded``, with the outputs the provider allows.

Whatever the outcome, a call emits exactly one record through
:mod:`.calllog`. Its inputs and outputs are read only when the logger would
keep the record, which keeps a call with logging off as cheap as the provider
call itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import ClassVar, Generic, TypeVar

from .calllog import Outcome, is_logged, log_call
from .context import CallContext
from .errors import PolicyDeniedError
from .policies import ApiKeyMode, Policy, PolicyRequest, run_policies

__all__ = ["ProviderCall"]

R = TypeVar("R")


class ProviderCall(Generic[R]):
    """One capability call to a provider; ``R`` is what the provider returns.

    A provider's subclass sets ``provider`` and overrides the hooks it needs:
    :meth:`map_error`, :meth:`log_inputs`, :meth:`log_outputs` and
    :meth:`request_id`. ``idempotency_key`` is logged in every record after
    the provider sets it; Stripe sets it once the policies allow the call.
    """

    __slots__ = ("_started", "capability", "context", "idempotency_key", "operation")

    provider: ClassVar[str]

    def __init__(
        self, capability: str, operation: str, context: CallContext | None
    ) -> None:
        self.capability = capability
        self.operation = operation
        self.context = context
        self.idempotency_key: str | None = None
        self._started: float | None = None

    @property
    def step(self) -> str | None:
        """The workflow step making the call, which its errors name."""
        return self.context.step_id if self.context else None

    def map_error(self, err: Exception) -> Exception:
        """The exception to raise for ``err``, raised by the provider call.

        ``err`` itself when it is not the provider's: it then propagates
        unchanged.
        """
        return err

    def log_inputs(self) -> Mapping[str, object]:
        """The request's values the capability spec allows in the log."""
        return {}

    def log_outputs(self, result: R) -> Mapping[str, object]:
        """The result's values the capability spec allows in the log."""
        return {}

    def request_id(self, result: R) -> str | None:
        """The provider's id of the request that returned ``result``."""
        return None

    def start_clock(self) -> None:
        """Time the call from now rather than from the provider call.

        For a provider whose work before sending (rendering a template, say)
        is part of what the call costs; a call logged before the clock starts
        has a duration of 0.
        """
        self._started = time.perf_counter()

    def policy_request(
        self,
        params: Mapping[str, object],
        *,
        api_key_mode: ApiKeyMode | None,
        environment: str,
    ) -> PolicyRequest:
        """What the policies see of this call, about to send ``params``."""
        return PolicyRequest(
            capability=self.capability,
            provider=self.provider,
            operation=self.operation,
            params=params,
            api_key_mode=api_key_mode,
            environment=environment,
        )

    def check_policies(
        self,
        policies: Iterable[Policy],
        params: Mapping[str, object],
        *,
        api_key_mode: ApiKeyMode | None,
        environment: str,
    ) -> None:
        """Run ``policies`` on ``params``; a denial is logged and raised."""
        request = self.policy_request(
            params, api_key_mode=api_key_mode, environment=environment
        )
        try:
            run_policies(policies, request)
        except PolicyDeniedError as denial:
            self.log_unsent(denial)
            raise

    def log_unsent(self, error: Exception) -> None:
        """Log the end of a call that never reached the provider.

        A policy's denial is tagged with the step and logged as ``denied``;
        anything else as ``failed``. The caller raises ``error``.
        """
        if isinstance(error, PolicyDeniedError):
            error.with_step(self.step)
            self._log_end("denied", error)
        else:
            self._log_end("failed", error)

    def invoke(self, send: Callable[[], R]) -> R:
        """Call the provider with ``send`` and log the outcome."""
        if self._started is None:
            self._started = time.perf_counter()
        try:
            result = send()
        except Exception as err:
            raised = self._failed(err)
            if raised is err:
                raise
            raise raised from err
        self._log_success(result)
        return result

    async def ainvoke(self, send: Callable[[], Awaitable[R]]) -> R:
        """The asynchronous form of :meth:`invoke`."""
        if self._started is None:
            self._started = time.perf_counter()
        try:
            result = await send()
        except Exception as err:
            raised = self._failed(err)
            if raised is err:
                raise
            raise raised from err
        self._log_success(result)
        return result

    def _failed(self, err: Exception) -> Exception:
        """Log a failed provider call; return the exception to raise."""
        raised = self.map_error(err)
        if raised is not err and isinstance(raised, PolicyDeniedError):
            raised.with_step(self.step)
            self._log_end("denied", raised)
        else:
            self._log_end("failed", raised)
        return raised

    def _log_success(self, result: R) -> None:
        duration_ms = self._elapsed_ms()
        if not is_logged("succeeded"):
            return
        log_call(
            capability=self.capability,
            provider=self.provider,
            operation=self.operation,
            outcome="succeeded",
            duration_ms=duration_ms,
            context=self.context,
            idempotency_key=self.idempotency_key,
            request_id=self.request_id(result),
            inputs=self.log_inputs(),
            outputs=self.log_outputs(result),
        )

    def _log_end(self, outcome: Outcome, error: Exception) -> None:
        duration_ms = self._elapsed_ms()
        if not is_logged(outcome):
            return
        log_call(
            capability=self.capability,
            provider=self.provider,
            operation=self.operation,
            outcome=outcome,
            duration_ms=duration_ms,
            context=self.context,
            idempotency_key=self.idempotency_key,
            error=error,
            inputs=self.log_inputs(),
        )

    def _elapsed_ms(self) -> float:
        started = self._started
        return 0.0 if started is None else (time.perf_counter() - started) * 1000.0
