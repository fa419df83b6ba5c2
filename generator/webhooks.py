"""Resolve an integration's `webhook` block into the webhook IR.

The checker calls :func:`resolve` once integrations are validated. For the
Stripe integration's webhook it checks every subscribed event name against
:data:`STRIPE_EVENT_TYPES`, Stripe's event types kept here as data, and
decides every name the templates print: the event model
(`payment_intent.succeeded` → `PaymentIntentSucceeded`), the typed model of
its `data.object`, whether it carries `previous_attributes`, and the router
method handlers register with (`on_payment_intent_succeeded`).

    Webhooks
    ├── path, tolerance, max_body_bytes, store     from the spec
    ├── events: [WebhookEvent]                     in the spec's order
    └── object_models                              the object models to print

Objects without a model of their own here arrive as `StripeObject`: their id
typed, everything else kept as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .diagnostics import Diagnostics, did_you_mean
from .loader import Document
from .spec import IntegrationSpec

__all__ = [
    "DEFAULT_STORE",
    "STRIPE_EVENT_TYPES",
    "WebhookEvent",
    "Webhooks",
    "resolve",
]

# Where the webhook store lives when the spec names no `store`.
DEFAULT_STORE = ".contractgen/webhooks.sqlite3"
# The generated app may run on Windows, where a backslash separates folders too.
_SEPARATORS = "/\\"

# Object type (the prefix of an event type) → the generated model of its
# `data.object`. Only these get typed fields; see `templates/webhooks_events`.
_OBJECT_MODELS = {
    "payment_intent": "PaymentIntent",
    "customer.subscription": "Subscription",
}
_GENERIC_OBJECT = "StripeObject"
# Models the events module defines alongside an object model.
_HELPER_MODELS = {
    "PaymentIntent": ("PaymentError",),
    "Subscription": ("SubscriptionItem", "SubscriptionItems"),
}

# Stripe's event types (API 2025-03-31), by the object they carry. Kept as
# data so that a misspelt name is caught at generation time with a hint.
_STRIPE_EVENTS: dict[str, tuple[str, ...]] = {
    "account": ("updated", "application.authorized", "application.deauthorized"),
    "balance": ("available",),
    "charge": (
        "captured",
        "expired",
        "failed",
        "pending",
        "refunded",
        "succeeded",
        "updated",
        "dispute.closed",
        "dispute.created",
        "dispute.funds_reinstated",
        "dispute.funds_withdrawn",
        "dispute.updated",
        "refund.updated",
    ),
    "checkout.session": (
        "async_payment_failed",
        "async_payment_succeeded",
        "completed",
        "expired",
    ),
    "coupon": ("created", "deleted", "updated"),
    "customer": (
        "created",
        "deleted",
        "updated",
        "discount.created",
        "discount.deleted",
        "discount.updated",
        "source.created",
        "source.deleted",
        "source.expiring",
        "source.updated",
        "tax_id.created",
        "tax_id.deleted",
        "tax_id.updated",
    ),
    "customer.subscription": (
        "created",
        "deleted",
        "paused",
        "pending_update_applied",
        "pending_update_expired",
        "resumed",
        "trial_will_end",
        "updated",
    ),
    "invoice": (
        "created",
        "deleted",
        "finalization_failed",
        "finalized",
        "marked_uncollectible",
        "overdue",
        "paid",
        "payment_action_required",
        "payment_failed",
        "payment_succeeded",
        "sent",
        "upcoming",
        "updated",
        "voided",
        "will_be_due",
    ),
    "invoiceitem": ("created", "deleted"),
    "mandate": ("updated",),
    "payment_intent": (
        "amount_capturable_updated",
        "canceled",
        "created",
        "partially_funded",
        "payment_failed",
        "processing",
        "requires_action",
        "succeeded",
    ),
    "payment_link": ("created", "updated"),
    "payment_method": ("attached", "automatically_updated", "detached", "updated"),
    "payout": ("canceled", "created", "failed", "paid", "updated"),
    "plan": ("created", "deleted", "updated"),
    "price": ("created", "deleted", "updated"),
    "product": ("created", "deleted", "updated"),
    "promotion_code": ("created", "updated"),
    "refund": ("created", "failed", "updated"),
    "setup_intent": (
        "canceled",
        "created",
        "requires_action",
        "setup_failed",
        "succeeded",
    ),
    "subscription_schedule": (
        "aborted",
        "canceled",
        "completed",
        "created",
        "expiring",
        "released",
        "updated",
    ),
    "tax_rate": ("created", "updated"),
    "transfer": ("created", "reversed", "updated"),
}

# Every Stripe event type this version knows → the object type it carries.
STRIPE_EVENT_TYPES: dict[str, str] = {
    f"{obj}.{action}": obj
    for obj, actions in _STRIPE_EVENTS.items()
    for action in actions
}


@dataclass(frozen=True)
class WebhookEvent:
    """One subscribed event type and the names generated for it."""

    type: str  # as Stripe sends it: payment_intent.succeeded
    model: str  # the event model: PaymentIntentSucceeded
    data_model: str  # the model of `data`: PaymentIntentEventData
    object_model: str  # the model of `data.object`: PaymentIntent
    registration: str  # the router method: on_payment_intent_succeeded
    previous_attributes: bool  # whether `data` has `previous_attributes`


@dataclass(frozen=True)
class Webhooks:
    """The webhook endpoint of one integration, resolved."""

    provider: str
    source: str
    source_hash: str
    path: str
    tolerance: int
    max_body_bytes: int
    store: str
    events: tuple[WebhookEvent, ...]

    @property
    def object_models(self) -> tuple[str, ...]:
        return tuple(sorted({e.object_model for e in self.events}))

    @property
    def data_models(self) -> tuple[tuple[str, str, bool], ...]:
        """(data model, object model, has previous_attributes), each once."""
        unique = {
            (e.data_model, e.object_model, e.previous_attributes) for e in self.events
        }
        return tuple(sorted(unique))

    @property
    def events_exports(self) -> tuple[str, ...]:
        """Every name the generated `events` module defines."""
        names = ["EVENT_MODELS", *self.object_models]
        names += (
            _HELPER_MODELS.get("PaymentIntent", ())
            if self._has("PaymentIntent")
            else ()
        )
        names += (
            _HELPER_MODELS.get("Subscription", ()) if self._has("Subscription") else ()
        )
        names += [data_model for data_model, _, _ in self.data_models]
        names += [e.model for e in self.events]
        return tuple(names)

    @property
    def standard_imports(self) -> list[str]:
        """Standard-library imports of the `events` module."""
        lines = []
        if self._has("Subscription"):
            lines.append("from datetime import datetime")
        typing = []
        if self._has("PaymentIntent", "Subscription") or any(
            e.previous_attributes for e in self.events
        ):
            typing.append("Any")
        if self.events:
            typing.append("Literal")
        if typing:
            lines.append(f"from typing import {', '.join(typing)}")
        return lines

    @property
    def third_party_imports(self) -> list[str]:
        """pydantic imports of the `events` module."""
        if not self.events:
            return []
        names = ["BaseModel", "ConfigDict"]
        if self._has("PaymentIntent", "Subscription") or any(
            e.previous_attributes for e in self.events
        ):
            names.append("Field")
        if self._has("PaymentIntent", "Subscription"):
            names.append("field_validator")
        if self._has("Subscription"):
            names.append("model_validator")
        return [f"from pydantic import {', '.join(names)}"]

    def _has(self, *object_models: str) -> bool:
        return any(m in self.object_models for m in object_models)


def resolve(
    spec: IntegrationSpec,
    document: Document,
    source_hash: str,
    diagnostics: Diagnostics,
) -> Webhooks | None:
    """The integration's webhook endpoint, or None if it declares none.

    Unknown and repeated event names are reported, and left out."""
    webhook = spec.webhook
    if webhook is None:
        return None
    if spec.integration != "stripe":
        diagnostics.warning(
            "I002",
            f"the webhook of the '{spec.integration}' integration is not "
            "generated: contractgen generates Stripe webhooks only",
            document.key_span(("webhook",)),
            None,
        )
        return None
    events: list[WebhookEvent] = []
    seen: set[str] = set()
    for index, name in enumerate(webhook.events):
        at = ("webhook", "events", index)
        if name in seen:
            diagnostics.warning(
                "I003",
                f"event '{name}' is listed twice",
                document.span(at),
                "remove the second entry",
            )
            continue
        seen.add(name)
        object_type = STRIPE_EVENT_TYPES.get(name)
        if object_type is None:
            diagnostics.error(
                "I001",
                f"'{name}' is not a Stripe event type",
                document.span(at),
                did_you_mean(name, sorted(STRIPE_EVENT_TYPES))
                or "see https://docs.stripe.com/api/events/types",
            )
            continue
        events.append(_event(name, object_type))
    _check_store(webhook.store, document, diagnostics)
    return Webhooks(
        provider=spec.integration,
        source=document.path,
        source_hash=source_hash,
        path=webhook.path,
        tolerance=webhook.tolerance,
        max_body_bytes=webhook.max_body_bytes,
        store=DEFAULT_STORE if webhook.store is None else webhook.store,
        events=tuple(events),
    )


def _check_store(
    store: str | None, document: Document, diagnostics: Diagnostics
) -> None:
    """Report a `store` that cannot name the webhook store's SQLite file.

    The generated endpoint would start with it and then answer every delivery
    500 (a folder), quietly use the default store (an empty text), or not
    start (a NUL character)."""
    if store is None:
        return
    folder = store.rstrip(_SEPARATORS)
    last = re.split(f"[{re.escape(_SEPARATORS)}]", store)[-1]
    if not store.strip():
        message = f"webhook store '{store}' is empty"
        hint = (
            "name the store's SQLite file, or leave `store` out for " f"{DEFAULT_STORE}"
        )
    elif "\0" in store:
        shown = store.replace("\0", "\\0")
        message = f"webhook store '{shown}' holds a NUL character"
        hint = "no file name can hold one: remove it"
    elif last in ("", ".", ".."):
        why = "ends with a path separator, so it " if not last else ""
        message = (
            f"webhook store '{store}' {why}names a folder, not the store's "
            "SQLite file"
        )
        hint = f"name a file in that folder, e.g. '{folder}/webhooks.sqlite3'"
    else:
        return
    diagnostics.error("I004", message, document.span(("webhook", "store")), hint)


def _event(name: str, object_type: str) -> WebhookEvent:
    words = name.replace(".", "_").split("_")
    model = "".join(word.capitalize() for word in words)
    object_model = _OBJECT_MODELS.get(object_type, _GENERIC_OBJECT)
    # Stripe sends the changed fields' old values on `*.updated` events only.
    previous = name.endswith(".updated")
    data_model = object_model + ("UpdateData" if previous else "EventData")
    return WebhookEvent(
        type=name,
        model=model,
        data_model=data_model,
        object_model=object_model,
        registration=f"on_{'_'.join(words)}",
        previous_attributes=previous,
    )
