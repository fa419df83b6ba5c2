"""The webhook endpoint behind the generated ``webhooks`` package.

A generated ``WebhookRouter`` holds one typed handler per subscribed event;
:class:`WebhookEndpoint` turns one HTTP delivery into a status and a body,
whatever web framework carries it. For each delivery it:

1. refuses a body over the size limit, before reading anything in it;
2. verifies the raw body against the ``Stripe-Signature`` header with
   stripe-python's own ``WebhookSignature.verify_header``, then refuses a
   signature timestamp too far in the past or the future;
3. parses the JSON and, for a subscribed type with a handler, validates it
   into the event's generated model;
4. claims the event id in the store (:mod:`.webhook_store`): a duplicate is
   answered 200 without running the handler again;
5. runs the handler; it returning records the event as handled (200), it
   raising releases the claim (500) so that Stripe's retry runs it again.
   A store that fails to claim or to record is answered 500 too.

A rejected delivery answers 400 and runs nothing; an event type the endpoint
is not subscribed to answers 200 and is ignored. Every delivery emits one
record on the ``contractgen.webhooks`` logger with stable fields under
``record.contractgen``:

    outcome, reason, status, event_id, event_type, object_id, duration_ms,
    error_type

No record holds the body, the signature or the secret.

Settings come from the environment and ``.env``:

=============================  ============================================
``STRIPE_WEBHOOK_SECRET``      signing secret of the endpoint (required)
``CONTRACTGEN_WEBHOOK_STORE``  SQLite file of the webhook store (default:
                               the spec's ``store``)
``CONTRACTGEN_WEBHOOK_PORT``   port ``python -m <package>.webhooks`` serves
                               on, on 127.0.0.1 (default 8000)
=============================  ============================================
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_core import from_json
from pydantic_settings import BaseSettings, SettingsConfigDict

# Imported by name: stripe-python resolves `stripe.X` lazily, through an import
# machinery lookup on every access.
from stripe import SignatureVerificationError, WebhookSignature

from .errors import SettingsError
from .settings import missing_setting, read_settings
from .webhook_store import WebhookStore

__all__ = [
    "LOGGER_NAME",
    "Delivery",
    "HandlerRegistry",
    "Outcome",
    "StripeEvent",
    "WebhookEndpoint",
    "WebhookResponse",
    "WebhookSettings",
    "load_settings",
    "logger",
]

LOGGER_NAME: Final = "contractgen.webhooks"

logger = logging.getLogger(LOGGER_NAME)

Outcome = Literal[
    "processed", "duplicate", "ignored", "unhandled", "rejected", "failed", "busy"
]

_STATUS: Final[dict[Outcome, int]] = {
    "processed": 200,
    "duplicate": 200,
    "ignored": 200,
    "unhandled": 200,
    "rejected": 400,
    "failed": 500,
    # Another delivery of the event is still running its handler; a non-2xx
    # answer makes Stripe deliver it again later, when that one has finished.
    "busy": 409,
}

# A failed handler is an error; other refusals are warnings.
_LEVEL: Final[dict[Outcome, int]] = {
    outcome: (
        logging.ERROR
        if outcome == "failed"
        else logging.WARNING if status >= 400 else logging.INFO
    )
    for outcome, status in _STATUS.items()
}

_DEFAULT_PORT: Final = 8000

# Secret, restricted and publishable API keys: never a webhook signing secret.
_API_KEY_PREFIXES: Final = ("sk_", "rk_", "pk_")

# The times an event's `created` may be: those `StripeEvent.created_at` can
# tell, all of which the store can keep (SQLite integers are 64 bits).
_CREATED_RANGE: Final = range(
    int(datetime.min.replace(tzinfo=UTC).timestamp()),
    int(datetime.max.replace(tzinfo=UTC).timestamp()),
)


class WebhookSettings(BaseSettings):
    """Webhook secret, store and port, read from the environment."""

    # No populate_by_name: it would let a field's own name (`port`, `store`)
    # be read from the environment too, where it may mean something else.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    secret: SecretStr | None = Field(
        default=None, validation_alias="STRIPE_WEBHOOK_SECRET"
    )
    store: Path | None = Field(
        default=None, validation_alias="CONTRACTGEN_WEBHOOK_STORE"
    )
    port: int = Field(
        default=_DEFAULT_PORT,
        ge=1,
        le=65535,
        validation_alias="CONTRACTGEN_WEBHOOK_PORT",
    )

    @field_validator("store", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def require_secret(self) -> str:
        """The signing secret, or a SettingsError saying it is not set, or
        that it holds an API key (the usual slip), which would refuse every
        delivery as badly signed."""
        if self.secret is None or not self.secret.get_secret_value().strip():
            raise missing_setting(
                type(self), "secret", to="the endpoint's signing secret (whsec_...)"
            )
        secret = self.secret.get_secret_value()
        if secret.startswith(_API_KEY_PREFIXES):
            raise SettingsError(
                "STRIPE_WEBHOOK_SECRET holds a Stripe API key, not the endpoint's "
                "signing secret (whsec_..., shown with the endpoint in Stripe's "
                "dashboard or by `stripe listen`)"
            )
        return secret


def load_settings() -> WebhookSettings:
    """Settings from the environment and `.env`, or a SettingsError naming
    the variables that are invalid (never their values)."""
    return read_settings(WebhookSettings)


class StripeEvent(BaseModel):
    """What every Stripe event carries; generated models add typed ``data``.

    ``is_stale`` tells a handler that an event about the same object, created
    later than this one, has already been applied: Stripe does not deliver in
    order, so a handler that overwrites state should skip a stale event.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Set by the endpoint after validation. A slot rather than a pydantic
    # private attribute, which would cost every event a Python-level
    # initialisation as long as its validation; unset until the endpoint
    # sets it, and not carried by copies.
    __slots__ = ("_last_applied",)

    id: str
    type: str
    created: int = Field(description="When the event was created, Unix seconds")
    livemode: bool = False
    api_version: str | None = None

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)

    @property
    def last_applied(self) -> int | None:
        """``created`` of the latest event applied to this event's object."""
        return getattr(self, "_last_applied", None)

    @property
    def is_stale(self) -> bool:
        """Whether a newer event about the same object was applied already."""
        last = self.last_applied
        return last is not None and last > self.created


E = TypeVar("E", bound=StripeEvent)


class _Route(NamedTuple):
    model: type[StripeEvent]
    handler: Callable[[Any], object]


class HandlerRegistry:
    """Handlers by event type; the generated router adds one typed method each."""

    def __init__(self) -> None:
        self._routes: dict[str, _Route] = {}

    def _register(
        self, event_type: str, model: type[E], handler: Callable[[E], object]
    ) -> None:
        if event_type in self._routes:
            raise ValueError(f"a handler for {event_type} is registered already")
        self._routes[event_type] = _Route(model, handler)

    def route(
        self, event_type: str
    ) -> tuple[type[StripeEvent], Callable[[Any], object]] | None:
        """The model and handler for an event type, if one is registered."""
        return self._routes.get(event_type)

    @property
    def event_types(self) -> frozenset[str]:
        """The event types that have a handler."""
        return frozenset(self._routes)


class WebhookResponse(NamedTuple):
    """What to answer: an HTTP status and a small JSON body."""

    status: int
    body: bytes


# The answer to each outcome without a reason, built once.
_ANSWERS: Final[dict[Outcome, WebhookResponse]] = {
    outcome: WebhookResponse(status, json.dumps({"outcome": outcome}).encode())
    for outcome, status in _STATUS.items()
}


class Delivery(NamedTuple):
    """What the endpoint learnt about one delivery, as logged."""

    outcome: Outcome
    reason: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    object_id: str | None = None
    # A handler's exception, logged with its traceback.
    error: BaseException | None = None


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _signature_header(headers: Mapping[str, str]) -> str | None:
    # Frameworks differ in how they case header names.
    value = headers.get("Stripe-Signature") or headers.get("stripe-signature")
    if value is not None:
        return value
    return next(
        (v for k, v in headers.items() if k.lower() == "stripe-signature"), None
    )


def _timestamp(header: str) -> int | None:
    """The header's one `t=` timestamp, read exactly as stripe-python reads it.

    Items are split on commas and not stripped, as stripe-python does, so the
    timestamp checked here is the one the signature was verified against. A
    header with several timestamps, or one that is not a plain ASCII number of
    sensible length, has none.
    """
    first, _, _ = header.partition(",")
    if first.startswith("t=") and ",t=" not in header:
        # The usual shape, `t=...,v1=...`: the first item is the only one.
        value = first[2:]
    else:
        values = [item[2:] for item in header.split(",") if item.startswith("t=")]
        if len(values) != 1:
            return None
        value = values[0]
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        return None
    return int(value)


class WebhookEndpoint:
    """A verified, de-duplicating webhook endpoint, independent of any framework.

    :meth:`handle` takes the raw body bytes and the request headers and
    returns the status and body to answer. It is synchronous and thread-safe;
    an async framework runs it in a worker thread.
    """

    def __init__(
        self,
        registry: HandlerRegistry,
        *,
        secret: str,
        store: WebhookStore,
        event_types: Collection[str],
        tolerance: int,
        max_body_bytes: int,
        # Short: each waiting duplicate holds a worker thread of the server,
        # and Stripe retries a 409 later anyway.
        busy_wait_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret.strip():
            raise ValueError("the webhook secret is empty")
        self._registry = registry
        self._secret = secret
        self._store = store
        self._event_types = frozenset(event_types)
        self._tolerance = tolerance
        self._max_body_bytes = max_body_bytes
        self._busy_wait_s = busy_wait_s
        self._clock = clock

    @property
    def store(self) -> WebhookStore:
        return self._store

    @property
    def max_body_bytes(self) -> int:
        return self._max_body_bytes

    def handle(self, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        """Verify, de-duplicate and dispatch one delivery."""
        started = time.perf_counter()
        delivery = self._deliver(body, headers)
        return self._answer(delivery, started)

    def too_large(self) -> WebhookResponse:
        """The answer to a body known to be over the limit before it is read."""
        return self._answer(Delivery("rejected", "body_too_large"), time.perf_counter())

    def _deliver(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        try:
            if len(body) > self._max_body_bytes:
                raise _Rejected("body_too_large")
            text = self._verify(body, _signature_header(headers))
            payload = self._parse(text)
        except _Rejected as rejected:
            return Delivery("rejected", rejected.reason)

        event_id, event_type = payload["id"], payload["type"]
        obj = payload.get("data", {}).get("object")
        object_id = obj.get("id") if isinstance(obj, dict) else None
        if not isinstance(object_id, str):
            object_id = None
        if event_type not in self._event_types:
            return Delivery("ignored", None, event_id, event_type, object_id)
        route = self._registry.route(event_type)
        if route is None:
            return Delivery("unhandled", None, event_id, event_type, object_id)
        model, handler = route
        try:
            event = model.model_validate(payload)
        except ValidationError as err:
            where = ",".join(sorted({_loc(e["loc"]) for e in err.errors()}))
            return Delivery(
                "rejected", f"invalid_event:{where}", event_id, event_type, object_id
            )
        return self._run(event, handler, object_id)

    def _verify(self, body: bytes, header: str | None) -> str:
        """The verified body, decoded once: stripe-python and the JSON parser
        both take the text rather than decode the bytes again."""
        if not header:
            raise _Rejected("missing_signature")
        # Stripe's header is ASCII; stripe-python compares signatures with
        # hmac.compare_digest, which raises TypeError on any other text.
        timestamp = _timestamp(header) if header.isascii() else None
        if timestamp is None:
            raise _Rejected("malformed_signature")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _Rejected("body_not_utf8") from None
        try:
            # The signature is over the UTF-8 text: stripe-python decodes a
            # bytes body exactly so, and takes a str as it is.
            WebhookSignature.verify_header(
                text, header, self._secret, tolerance=self._tolerance
            )
        except SignatureVerificationError:
            raise _Rejected(self._why_not_verified(text, header)) from None
        if timestamp > self._clock() + self._tolerance:
            raise _Rejected("future_timestamp")
        return text

    def _why_not_verified(self, body: str, header: str) -> str:
        # Verified without the age check, a failed signature must be too old.
        try:
            WebhookSignature.verify_header(body, header, self._secret)
        except SignatureVerificationError:
            return "bad_signature"
        return "expired_timestamp"

    def _parse(self, text: str) -> dict[str, Any]:
        # The text parsed is the text verified, less a byte order mark (which
        # JSON forbids but a body's bytes may begin with). pydantic-core's
        # parser reads standard JSON as the json module does, in a third of
        # the time, and refuses absurd nesting with a ValueError of its own.
        if text[:1] == "\ufeff":
            text = text[1:]
        try:
            payload = from_json(text)
        except ValueError:
            raise _Rejected("malformed_json") from None
        if not (
            isinstance(payload, dict)
            and isinstance(payload.get("id"), str)
            and payload["id"] != ""
            and isinstance(payload.get("type"), str)
            and type(payload.get("created")) is int
            and payload["created"] in _CREATED_RANGE
            and isinstance(payload.get("data", {}), dict)
        ):
            raise _Rejected("malformed_event")
        return payload

    def _run(
        self,
        event: StripeEvent,
        handler: Callable[[Any], object],
        object_id: str | None,
    ) -> Delivery:
        try:
            won = self._claim(event, object_id)
        except Exception as err:
            return Delivery(
                "failed", "store_failed", event.id, event.type, object_id, err
            )
        if isinstance(won, Delivery):
            return won

        token, last_applied = won
        if object_id is not None:
            object.__setattr__(event, "_last_applied", last_applied)
        try:
            handler(event)
        except Exception as err:
            self._store.release(event.id, token)
            return Delivery(
                "failed",
                "handler_raised",
                event.id,
                event.type,
                object_id,
                err,
            )
        except BaseException:
            # Interrupted, not failed: let go of the event for a later
            # delivery, and let the interruption through.
            self._store.release(event.id, token)
            raise
        try:
            completed = self._store.complete(event.id, token, object_id, event.created)
        except Exception as err:
            # Nothing says the handler ran: answer so that Stripe delivers the
            # event again, and make sure the claim is not left behind.
            with contextlib.suppress(Exception):
                self._store.release(event.id, token)
            return Delivery(
                "failed", "store_failed", event.id, event.type, object_id, err
            )
        if not completed:
            logger.warning(
                "webhook %s %s: the store no longer held this delivery's claim, "
                "so it recorded nothing",
                event.type,
                event.id,
            )
        return Delivery("processed", None, event.id, event.type, object_id)

    def _claim(
        self, event: StripeEvent, object_id: str | None
    ) -> tuple[str, int | None] | Delivery:
        """The token and last applied time of this delivery's claim on its
        event, or the answer to the delivery when it gets none."""
        claim = self._store.claim(event.id, event.type, object_id, event.created)
        deadline = pause = 0.0
        while claim.token is None:
            if claim.state == "done":
                return Delivery("duplicate", None, event.id, event.type, object_id)
            # Another delivery of this event is running its handler: wait for
            # it to finish (200) or fail (then this delivery runs it).
            if not deadline:
                deadline, pause = time.monotonic() + self._busy_wait_s, 0.005
            elif time.monotonic() >= deadline:
                return Delivery("busy", "in_progress", event.id, event.type, object_id)
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
            claim = self._store.claim(event.id, event.type, object_id, event.created)
        return claim.token, claim.last_applied

    def _answer(self, delivery: Delivery, started: float) -> WebhookResponse:
        outcome = delivery.outcome
        status, level = _STATUS[outcome], _LEVEL[outcome]
        # The record is built only for a logger that will take it.
        if logger.isEnabledFor(level):
            self._log(delivery, status, level, started)
        if not delivery.reason:
            return _ANSWERS[outcome]
        answer = {"outcome": outcome, "reason": delivery.reason}
        return WebhookResponse(status, json.dumps(answer).encode("utf-8"))

    @staticmethod
    def _log(delivery: Delivery, status: int, level: int, started: float) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        fields = {
            "outcome": delivery.outcome,
            "reason": delivery.reason,
            "status": status,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "object_id": delivery.object_id,
            "duration_ms": round(duration_ms, 3),
            "error_type": type(delivery.error).__name__ if delivery.error else None,
        }
        what = delivery.event_type or "delivery"
        message = f"webhook {what} {delivery.outcome}"
        if delivery.reason:
            message += f" ({delivery.reason})"
        logger.log(
            level, message, extra={"contractgen": fields}, exc_info=delivery.error
        )


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)
