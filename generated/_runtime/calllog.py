# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""One structured log record per capability call.

Every call, whether it succeeded, failed or was denied by a policy, emits
exactly one record on the ``contractgen.calls`` logger. The message is a short
sentence for people (``stripe-create-customer succeeded in 12.3 ms``); the
machine-readable fields sit under ``record.contractgen`` with stable names:

    capability, provider, operation, workflow_id, run_id, step_id, attempt,
    idempotency_key, duration_ms, outcome, error_type, error_code,
    request_id, inputs, outputs

``inputs`` and ``outputs`` hold only the names the capability spec allows,
and even those are redacted, so a secret or a full e-mail address never
reaches a handler.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Literal

from .context import CallContext
from .errors import CapabilityError
from .redaction import redact

__all__ = ["LOGGER_NAME", "Outcome", "is_logged", "log_call", "logger"]

LOGGER_NAME: Final = "contractgen.calls"

logger = logging.getLogger(LOGGER_NAME)

Outcome = Literal["succeeded", "failed", "denied"]


def is_logged(outcome: Outcome) -> bool:
    """Whether the record of a call with ``outcome`` would be kept.

    A caller that must work to gather a record's inputs and outputs asks
    first, and skips that work when the record would be dropped.
    """
    return logger.isEnabledFor(_level(outcome))


def _level(outcome: Outcome) -> int:
    return logging.INFO if outcome == "succeeded" else logging.WARNING


def log_call(
    *,
    capability: str,
    provider: str,
    operation: str,
    outcome: Outcome,
    duration_ms: float,
    context: CallContext | None = None,
    idempotency_key: str | None = None,
    request_id: str | None = None,
    error: BaseException | None = None,
    inputs: Mapping[str, object] | None = None,
    outputs: Mapping[str, object] | None = None,
) -> None:
    """Emit the record of one capability call.

    ``inputs`` and ``outputs`` must already be cut down to the allow-listed
    names; they are redacted here. The provider request id is taken from
    ``error`` when it is a :class:`CapabilityError` that carries one.
    """
    level = _level(outcome)
    if not logger.isEnabledFor(level):
        return  # the record would be dropped; build nothing
    error_type = type(error).__name__ if error is not None else None
    error_code = None
    if isinstance(error, CapabilityError):
        error_code = error.code
        request_id = error.request_id or request_id

    fields: dict[str, Any] = {
        "capability": capability,
        "provider": provider,
        "operation": operation,
        "workflow_id": context.workflow_id if context else None,
        "run_id": context.run_id if context else None,
        "step_id": context.step_id if context else None,
        "attempt": context.attempt if context else 1,
        "idempotency_key": idempotency_key,
        "duration_ms": round(duration_ms, 3),
        "outcome": outcome,
        "error_type": error_type,
        "error_code": error_code,
        "request_id": request_id,
        "inputs": redact(dict(inputs or {})),
        "outputs": redact(dict(outputs or {})),
    }

    message = f"{capability} {outcome} in {duration_ms:.1f} ms"
    if error_type is not None:
        detail = error_type if error_code is None else f"{error_type} {error_code}"
        message = f"{message} ({detail})"
    logger.log(level, message, extra={"contractgen": fields})
