"""Idempotency keys for provider calls that change state.

A workflow step's key is derived from the workflow id, run id and step id, so
every retry of the step, and a restarted run resuming it, sends the same key
and the provider performs the operation at most once. Calls outside a workflow
get a fresh random key unless the caller supplies one.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from .context import CallContext

__all__ = ["KEY_PREFIX", "key_for", "new_key", "step_key"]

KEY_PREFIX = "cg-"

# Versioned so that a future change of derivation cannot collide with keys
# already sent by older generated code.
_STEP_KEY_DOMAIN = b"contractgen/step-key/v1\n"


def step_key(workflow_id: str, run_id: str, step_id: str) -> str:
    """The deterministic key of one workflow step in one run.

    The three ids are encoded as a JSON array before hashing: unlike joining
    with a separator, that encoding is unambiguous whatever characters the ids
    contain, so ``("a-b", "c")`` and ``("a", "b-c")`` never share a key.
    The result is ``cg-`` and 32 hex digits, well within Stripe's 255
    character limit.
    """
    encoded = json.dumps([workflow_id, run_id, step_id], ensure_ascii=False)
    digest = hashlib.sha256(_STEP_KEY_DOMAIN + encoded.encode("utf-8"))
    return KEY_PREFIX + digest.hexdigest()[:32]


def new_key() -> str:
    """A fresh random key, for a call that belongs to no workflow step."""
    return KEY_PREFIX + uuid.uuid4().hex


def key_for(context: CallContext | None, explicit: str | None = None) -> str:
    """The key to send with a call.

    An explicit key wins and is sent unchanged; otherwise a call made by a
    workflow step gets the step's key; otherwise a fresh random one.
    """
    if explicit is not None:
        if not explicit:
            raise ValueError("an explicit idempotency key must not be empty")
        return explicit
    if (
        context is not None
        and context.workflow_id is not None
        and context.run_id is not None
        and context.step_id is not None
    ):
        return step_key(context.workflow_id, context.run_id, context.step_id)
    return new_key()
