"""Where a capability call comes from: the workflow run and step, if any.

A workflow passes a :class:`CallContext` to every capability it calls; the
runtime uses it to derive the step's idempotency key and to tag the call's log
record. Calls made directly by user code pass no context.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CallContext"]


@dataclass(frozen=True, slots=True)
class CallContext:
    """The workflow, run and step making a call, and which attempt this is.

    ``attempt`` counts from 1 and grows with each retry of the same step; the
    step's idempotency key does not depend on it, so retries are deduplicated
    by the provider.
    """

    workflow_id: str | None = None
    run_id: str | None = None
    step_id: str | None = None
    attempt: int = 1

    def __post_init__(self) -> None:
        if self.attempt < 1:
            raise ValueError(f"attempt counts from 1, got {self.attempt}")
