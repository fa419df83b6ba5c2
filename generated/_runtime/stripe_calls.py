# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""The Stripe execution engine behind the generated Stripe wrappers.

A generated wrapper validates its input, builds the Stripe params and hands
:func:`call` (or :func:`acall`) a small ``invoke`` function that calls the
official client. The engine does everything else, the same way for every
capability:

1. run the integration's policies on the params about to be sent; a denial
   raises :class:`~.errors.PolicyDeniedError` and Stripe is never called;
2. for operations that change state, attach an idempotency key (the explicit
   one, else the workflow step's, else a fresh one);
3. call Stripe, timing the call;
4. map any ``stripe.StripeError`` onto the runtime error tree, keeping
   Stripe's code, decline code and request id;
5. emit one log record through :mod:`.calllog`, whatever the outcome.

Steps 1, 3 and 5 are the course every provider's call takes
(:mod:`.provider_calls`); what is Stripe's own lives here: settings, the
client, idempotency keys, the error mapping, and which values of the params
and the response may be logged.

Settings come from the environment and ``.env``:

==============================  =========================================
``STRIPE_SECRET_KEY``           secret or restricted API key (required)
``STRIPE_PUBLISHABLE_KEY``      publishable key, for front ends
``STRIPE_WEBHOOK_SECRET``       signing secret of the webhook endpoint
``STRIPE_API_BASE``             API base address, e.g. a local fake
``STRIPE_MAX_NETWORK_RETRIES``  retries of failed network calls (default 2)
``CONTRACTGEN_ENVIRONMENT``     deployment environment (default development)
==============================  =========================================
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import stripe
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from stripe import RequestOptions, StripeClient, StripeError, StripeObject

from . import errors
from .context import CallContext
from .deployment import deployment_environment
from .idempotency import key_for
from .policies import ApiKeyMode, Policy
from .provider_calls import ProviderCall
from .settings import read_settings

__all__ = [
    "PROVIDER",
    "StripeOperation",
    "StripeSettings",
    "acall",
    "api_key_mode",
    "build_client",
    "call",
    "client_api_key_mode",
    "default_client",
    "default_settings",
    "load_settings",
    "map_stripe_error",
    "read",
]

PROVIDER = "stripe"

T = TypeVar("T")


class StripeSettings(BaseSettings):
    """Stripe credentials and client options, read from the environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
    )

    secret_key: SecretStr = Field(validation_alias="STRIPE_SECRET_KEY")
    publishable_key: str | None = Field(
        default=None, validation_alias="STRIPE_PUBLISHABLE_KEY"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, validation_alias="STRIPE_WEBHOOK_SECRET"
    )
    api_base: str | None = Field(default=None, validation_alias="STRIPE_API_BASE")
    max_network_retries: int = Field(
        default=2, ge=0, validation_alias="STRIPE_MAX_NETWORK_RETRIES"
    )


def build_client(settings: StripeSettings) -> StripeClient:
    """A Stripe client configured from ``settings``."""
    if settings.api_base:
        return StripeClient(
            settings.secret_key.get_secret_value(),
            base_addresses={"api": settings.api_base},
            max_network_retries=settings.max_network_retries,
        )
    return StripeClient(
        settings.secret_key.get_secret_value(),
        max_network_retries=settings.max_network_retries,
    )


def load_settings() -> StripeSettings:
    """Settings from the environment and `.env`, or a `SettingsError` naming
    the variables that are missing or invalid (never their values)."""
    return read_settings(StripeSettings)


@functools.cache
def default_settings() -> StripeSettings:
    """Settings read once from the environment, for wrappers given no client."""
    return load_settings()


@functools.cache
def default_client() -> StripeClient:
    """The client used by wrappers called without one, built once."""
    return build_client(default_settings())


def api_key_mode(api_key: str | None) -> ApiKeyMode | None:
    """Whether a Stripe key is a live or a test key; ``None`` if unknown."""
    if api_key is None:
        return None
    if api_key.startswith(("sk_live_", "rk_live_")):
        return "live"
    if api_key.startswith(("sk_test_", "rk_test_")):
        return "test"
    return None


def client_api_key_mode(client: StripeClient) -> ApiKeyMode | None:
    """The mode of the key a client was built with; ``None`` if unknown."""
    # stripe-python exposes no public accessor for the client's key, so read
    # the requestor's options defensively; a test pins this for the SDK
    # version in use, and an SDK change degrades to "unknown", not a crash.
    requestor = getattr(client, "_requestor", None)
    options = getattr(requestor, "_options", None)
    key = getattr(options, "api_key", None)
    return api_key_mode(key if isinstance(key, str) else None)


@dataclass(frozen=True, slots=True)
class StripeOperation:
    """What the engine needs to know about one capability's Stripe operation.

    ``log_inputs`` are paths into the Stripe params and ``log_outputs`` paths
    into the Stripe response (see :func:`read`) whose values may be logged;
    everything else stays out of the log.
    """

    capability: str
    operation: str
    mutating: bool
    log_inputs: tuple[str, ...] = ()
    log_outputs: tuple[str, ...] = ()


def read(obj: object, *paths: str) -> object:
    """Read a value from a Stripe response by dotted path.

    Segments name fields; integer segments index lists, so
    ``"items.data.0.current_period_end"`` reads the first subscription item.
    Paths are tried in order and the first present, non-``None`` value wins,
    which lets one binding cover several API versions' shapes. Returns
    ``None`` if no path leads to a value.
    """
    for path in paths:
        value = _read_path(obj, path)
        if value is not None:
            return value
    return None


# By name: stripe-python resolves `stripe.X` through the import machinery on
# every access, and this runs for every field of every response.
_MAPPINGS: Final = (StripeObject, Mapping)


def _read_path(obj: object, path: str) -> object:
    current = obj
    for segment in path.split("."):
        if isinstance(current, _MAPPINGS):
            if segment not in current:
                return None
            current = current[segment]
        elif isinstance(current, list | tuple) and segment.isdigit():
            index = int(segment)
            if index >= len(current):
                return None
            current = current[index]
        else:
            return None
    return current


def map_stripe_error(
    err: stripe.StripeError, *, capability: str, step: str | None = None
) -> errors.CapabilityError:
    """The runtime error for a Stripe error raised by ``capability``'s call."""
    common: dict[str, Any] = {
        "capability": capability,
        "provider": PROVIDER,
        "code": err.code,
        "request_id": err.request_id,
        "step": step,
    }
    message = err.user_message or type(err).__name__
    status = err.http_status or 0

    if isinstance(err, stripe.CardError):
        decline_code = err.error.decline_code if err.error is not None else None
        return errors.CardDeclinedError(message, decline_code=decline_code, **common)
    if isinstance(err, stripe.RateLimitError):
        return errors.RateLimitedError(message, **common)
    if isinstance(err, stripe.APIConnectionError):
        return errors.ProviderUnavailableError(message, **common)
    if isinstance(err, stripe.InvalidRequestError):
        return errors.InvalidRequestError(message, **common)
    if isinstance(err, stripe.AuthenticationError):
        return errors.AuthenticationError(message, **common)
    if isinstance(err, stripe.PermissionError):
        return errors.PermissionDeniedError(message, **common)
    if isinstance(err, stripe.IdempotencyError):
        return errors.IdempotencyConflictError(message, **common)
    if isinstance(err, stripe.APIError) and status >= 500:
        return errors.ProviderUnavailableError(message, **common)
    return errors.ProviderError(message, retryable=_should_retry(err), **common)


def _should_retry(err: stripe.StripeError) -> bool:
    # Stripe states retryability in the Stripe-Should-Retry response header;
    # without it we do not guess.
    for name, value in (err.headers or {}).items():
        if name.lower() == "stripe-should-retry":
            return value.strip().lower() == "true"
    return False


class _StripeCall(ProviderCall[T]):
    """One Stripe call: its params, read for the log, and Stripe's errors."""

    __slots__ = ("_operation", "_params")

    provider = PROVIDER

    def __init__(
        self,
        operation: StripeOperation,
        params: Mapping[str, object],
        context: CallContext | None,
    ) -> None:
        super().__init__(operation.capability, operation.operation, context)
        self._operation = operation
        self._params = params

    def prepare(
        self,
        *,
        client: StripeClient | None,
        idempotency_key: str | None,
        policies: Sequence[Policy],
        environment: str | None,
    ) -> tuple[StripeClient, RequestOptions]:
        """Resolve client and environment, run policies, build request options."""
        if environment is None:
            environment = deployment_environment()
        if client is None:
            client = default_client()

        self.check_policies(
            policies,
            self._params,
            api_key_mode=client_api_key_mode(client),
            environment=environment,
        )

        # Reads are naturally idempotent and Stripe ignores keys on them.
        if not self._operation.mutating:
            return client, {}
        self.idempotency_key = key_for(self.context, idempotency_key)
        return client, {"idempotency_key": self.idempotency_key}

    def map_error(self, err: Exception) -> Exception:
        if isinstance(err, StripeError):
            return map_stripe_error(err, capability=self.capability, step=self.step)
        return err

    def log_inputs(self) -> dict[str, object]:
        return {path: read(self._params, path) for path in self._operation.log_inputs}

    def log_outputs(self, result: T) -> dict[str, object]:
        return {path: read(result, path) for path in self._operation.log_outputs}

    def request_id(self, result: T) -> str | None:
        if isinstance(result, StripeObject) and result.last_response is not None:
            return result.last_response.request_id
        return None


def call(
    operation: StripeOperation,
    params: Mapping[str, object],
    invoke: Callable[[StripeClient, RequestOptions], T],
    *,
    client: StripeClient | None = None,
    idempotency_key: str | None = None,
    context: CallContext | None = None,
    policies: Sequence[Policy] = (),
    environment: str | None = None,
) -> T:
    """Run one Stripe capability call: policies, idempotency, errors, log.

    ``invoke`` receives the client and the request options and makes the
    actual SDK call with ``params``. ``environment`` defaults to
    ``CONTRACTGEN_ENVIRONMENT``. An idempotency key is sent only for mutating
    operations; an explicit key given for a read is ignored. Raises a
    :class:`~.errors.CapabilityError`; any other exception raised by
    ``invoke`` is logged and propagates unchanged.
    """
    stripe_call: _StripeCall[T] = _StripeCall(operation, params, context)
    sdk, options = stripe_call.prepare(
        client=client,
        idempotency_key=idempotency_key,
        policies=policies,
        environment=environment,
    )
    return stripe_call.invoke(lambda: invoke(sdk, options))


async def acall(
    operation: StripeOperation,
    params: Mapping[str, object],
    invoke: Callable[[StripeClient, RequestOptions], Awaitable[T]],
    *,
    client: StripeClient | None = None,
    idempotency_key: str | None = None,
    context: CallContext | None = None,
    policies: Sequence[Policy] = (),
    environment: str | None = None,
) -> T:
    """The asynchronous form of :func:`call`, for ``*_async`` SDK methods."""
    stripe_call: _StripeCall[T] = _StripeCall(operation, params, context)
    sdk, options = stripe_call.prepare(
        client=client,
        idempotency_key=idempotency_key,
        policies=policies,
        environment=environment,
    )
    return await stripe_call.ainvoke(lambda: invoke(sdk, options))
