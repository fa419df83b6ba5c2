"""The Twilio execution engine behind the generated Twilio wrappers.

A generated wrapper validates its input (phone numbers are E.164 by then),
builds the keyword arguments of the twilio-python method and hands them to
:func:`call` (or :func:`acall`) with its :class:`TwilioOperation`. The
engine does everything else, the same way for every capability:

1. fill the sender from ``TWILIO_FROM`` when the capability leaves it unset;
2. run the policies on the keyword arguments about to be sent; a denial
   raises :class:`~.errors.PolicyDeniedError` and Twilio is never called;
3. call Twilio through :class:`TwilioClient`, timing the call;
4. map any Twilio exception onto the runtime error tree, keeping Twilio's
   numeric error code (as text) and the HTTP status;
5. emit one log record through :mod:`.calllog`, whatever the outcome, with
   phone numbers masked and message bodies left out.

Steps 2, 3 and 5 are the course every provider's call takes
(:mod:`.provider_calls`); the sender, the client, the error mapping and the
masking are Twilio's own and live here.

twilio-python ships no type information, so this module is the typed
boundary: generated code sees :class:`TwilioClient` and plain mappings,
never the library's untyped objects.

Settings come from the environment and ``.env``:

===========================  ============================================
``TWILIO_ACCOUNT_SID``       account SID, the API user name (required)
``TWILIO_AUTH_TOKEN``        auth token (required)
``TWILIO_FROM``              default sender, an E.164 number
``TWILIO_API_BASE``          API base address, e.g. a local test server
``TWILIO_TIMEOUT``           seconds to wait on Twilio (default 30)
``CONTRACTGEN_ENVIRONMENT``  deployment environment (default development)
===========================  ============================================
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import (  # type: ignore[import-untyped]
    TwilioHttpClient,
)
from twilio.request_validator import (  # type: ignore[import-untyped]
    RequestValidator,
)
from twilio.rest import Client  # type: ignore[import-untyped]

from . import errors
from .context import CallContext
from .deployment import deployment_environment
from .policies import Policy
from .provider_calls import ProviderCall
from .settings import read_settings

__all__ = [
    "E164_PATTERN",
    "PROVIDER",
    "TwilioClient",
    "TwilioOperation",
    "TwilioSettings",
    "acall",
    "build_client",
    "call",
    "default_client",
    "default_settings",
    "is_e164",
    "load_settings",
    "map_twilio_error",
    "mask_phone_numbers",
    "verify_status_callback",
]

PROVIDER = "twilio"

E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"

_E164 = re.compile(E164_PATTERN)

# A phone number inside free text (an error message, a logged value).
_PHONE_IN_TEXT = re.compile(r"\+[1-9][0-9]{5,14}\b")


def is_e164(value: str) -> bool:
    """Whether ``value`` is a phone number in E.164 form, e.g. ``+14155550100``."""
    return _E164.fullmatch(value) is not None


def _mask(match: re.Match[str]) -> str:
    number = match.group()
    # The country code's first digits and the last two tell records apart
    # without naming anyone.
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


def mask_phone_numbers(text: str) -> str:
    """Replace each E.164 phone number in ``text`` by its masked form."""
    return _PHONE_IN_TEXT.sub(_mask, text)


class TwilioSettings(BaseSettings):
    """Twilio credentials and client options, read from the environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    account_sid: str = Field(validation_alias="TWILIO_ACCOUNT_SID")
    auth_token: SecretStr = Field(validation_alias="TWILIO_AUTH_TOKEN")
    from_number: str | None = Field(default=None, validation_alias="TWILIO_FROM")
    api_base: str | None = Field(default=None, validation_alias="TWILIO_API_BASE")
    timeout: float = Field(default=30.0, gt=0, validation_alias="TWILIO_TIMEOUT")

    @field_validator("from_number")
    @classmethod
    def _from_is_e164(cls, value: str | None) -> str | None:
        if value is not None and not is_e164(value):
            raise ValueError("TWILIO_FROM must be an E.164 number, e.g. +14155550100")
        return value


class TwilioClient:
    """The official Twilio client behind a typed boundary.

    Build one with :func:`build_client`; it is safe to share between calls.
    ``from_number`` is the sender used when a capability names none.
    """

    def __init__(self, rest: Any, *, from_number: str | None = None) -> None:
        self._rest = rest
        self.from_number = from_number

    @property
    def account_sid(self) -> str:
        return str(self._rest.account_sid)

    def invoke(
        self,
        resource: str,
        method: str,
        sid: str | None,
        params: Mapping[str, str],
    ) -> dict[str, object]:
        """Call ``client.<resource>.<method>(**params)``, or on ``(sid)``.

        Returns the resource's public attributes; twilio-python has already
        turned its dates into datetimes and its counts into numbers.
        """
        target = getattr(self._rest, resource)
        if sid is not None:
            target = target(sid)
        instance = getattr(target, method)(**params)
        return {
            str(key): value
            for key, value in vars(instance).items()
            if not str(key).startswith("_")
        }


def build_client(settings: TwilioSettings) -> TwilioClient:
    """A Twilio client configured from ``settings``."""
    rest = Client(
        settings.account_sid,
        settings.auth_token.get_secret_value(),
        # Only the settings configure the client: not TWILIO_EDGE and the
        # other variables twilio-python would read from the environment.
        environment={},
        http_client=TwilioHttpClient(timeout=settings.timeout),
    )
    if settings.api_base:
        # Messages live on the `api` domain; its base address is public.
        rest.api.base_url = settings.api_base
    return TwilioClient(rest, from_number=settings.from_number)


def load_settings() -> TwilioSettings:
    """Settings from the environment and `.env`, or a `SettingsError` naming
    the variables that are missing or invalid (never their values)."""
    return read_settings(TwilioSettings)


@functools.cache
def default_settings() -> TwilioSettings:
    """Settings read once from the environment, for wrappers given no client."""
    return load_settings()


@functools.cache
def default_client() -> TwilioClient:
    """The client used by wrappers called without one, built once."""
    return build_client(default_settings())


def verify_status_callback(
    url: str,
    params: Mapping[str, str],
    signature: str | None,
    *,
    auth_token: str | SecretStr | None = None,
) -> bool:
    """Whether a status callback really comes from Twilio.

    ``url`` is the full address Twilio requested, query string included;
    ``params`` the form fields it posted; ``signature`` the
    ``X-Twilio-Signature`` header. The check uses twilio-python's own
    ``RequestValidator`` with the auth token (``TWILIO_AUTH_TOKEN`` unless
    given).
    """
    if not signature:
        return False
    if auth_token is None:
        auth_token = default_settings().auth_token
    token = (
        auth_token.get_secret_value()
        if isinstance(auth_token, SecretStr)
        else auth_token
    )
    validator = RequestValidator(token)
    return bool(validator.validate(url, dict(params), signature))


@dataclass(frozen=True, slots=True)
class TwilioOperation:
    """What the engine needs to know about one capability's Twilio call.

    ``log_inputs`` are keywords sent to Twilio and ``log_outputs`` attributes
    of the returned resource whose values may be logged; phone numbers among
    them are masked, and everything else stays out of the log.
    """

    capability: str
    operation: str
    resource: str
    method: str
    sender: str | None = None
    log_inputs: tuple[str, ...] = ()
    log_outputs: tuple[str, ...] = ()


def map_twilio_error(
    err: Exception, *, capability: str, step: str | None = None
) -> errors.CapabilityError:
    """The runtime error for a Twilio failure raised by ``capability``'s call."""
    status = 0
    code: str | None = None
    if isinstance(err, TwilioRestException | TwilioServiceException):
        status = int(err.status or 0)
        code = str(err.code) if err.code is not None else None
    message = mask_phone_numbers(_message(err))
    common: dict[str, Any] = {
        "capability": capability,
        "provider": PROVIDER,
        "code": code,
        "step": step,
    }

    if isinstance(err, requests.exceptions.RequestException):
        return errors.ProviderUnavailableError(message, **common)
    if status == 429:
        return errors.RateLimitedError(message, **common)
    if status >= 500:
        return errors.ProviderUnavailableError(message, **common)
    if status == 401:
        return errors.AuthenticationError(message, **common)
    if status == 403:
        return errors.PermissionDeniedError(message, **common)
    if 400 <= status < 500:
        return errors.InvalidRequestError(message, **common)
    return errors.ProviderError(message, retryable=False, **common)


def _message(err: Exception) -> str:
    if isinstance(err, TwilioRestException):
        return f"HTTP {err.status}: {err.msg}"
    if isinstance(err, TwilioServiceException):
        return f"HTTP {err.status}: {err.detail or err.title}"
    if isinstance(err, requests.exceptions.RequestException):
        return f"Twilio could not be reached ({type(err).__name__})"
    return str(err) or type(err).__name__


def _is_twilio_failure(err: Exception) -> bool:
    return isinstance(err, TwilioException | requests.exceptions.RequestException)


def _loggable(value: object) -> object:
    return mask_phone_numbers(value) if isinstance(value, str) else value


class _TwilioCall(ProviderCall[dict[str, object]]):
    """One Twilio call: the keywords it sends, and Twilio's errors."""

    __slots__ = ("_operation", "params")

    provider = PROVIDER

    def __init__(
        self,
        operation: TwilioOperation,
        params: Mapping[str, str],
        context: CallContext | None,
    ) -> None:
        super().__init__(operation.capability, operation.operation, context)
        self._operation = operation
        self.params = dict(params)

    def prepare(
        self,
        *,
        client: TwilioClient | None,
        policies: Sequence[Policy],
        environment: str | None,
    ) -> TwilioClient:
        """Resolve client, sender and environment, then run the policies.

        A missing sender is logged and raised from here, before any request
        exists.
        """
        if environment is None:
            environment = deployment_environment()
        if client is None:
            client = default_client()
        sender = self._operation.sender
        if sender is not None and sender not in self.params:
            if client.from_number is None:
                missing = errors.InvalidRequestError(
                    "no sender: set TWILIO_FROM or give the capability a 'from' input",
                    capability=self.capability,
                    provider=PROVIDER,
                    code="missing_sender",
                    step=self.step,
                )
                self.log_unsent(missing)
                raise missing
            self.params[sender] = client.from_number

        self.check_policies(
            policies, self.params, api_key_mode=None, environment=environment
        )
        return client

    def map_error(self, err: Exception) -> Exception:
        if _is_twilio_failure(err):
            return map_twilio_error(err, capability=self.capability, step=self.step)
        return err

    def log_inputs(self) -> dict[str, object]:
        names = self._operation.log_inputs
        return {name: _loggable(self.params.get(name)) for name in names}

    def log_outputs(self, result: dict[str, object]) -> dict[str, object]:
        names = self._operation.log_outputs
        return {name: _loggable(result.get(name)) for name in names}


def call(
    operation: TwilioOperation,
    params: Mapping[str, str],
    *,
    sid: str | None = None,
    client: TwilioClient | None = None,
    context: CallContext | None = None,
    policies: Sequence[Policy] = (),
    environment: str | None = None,
) -> dict[str, object]:
    """Run one Twilio capability call: sender, policies, errors, log.

    ``params`` are the keyword arguments of the twilio-python method; ``sid``
    selects one resource for methods such as ``fetch``. Returns the resource
    Twilio sent back as a mapping of its attributes. Raises a
    :class:`~.errors.CapabilityError`; any other exception is logged and
    propagates unchanged.
    """
    twilio_call = _TwilioCall(operation, params, context)
    sdk = twilio_call.prepare(client=client, policies=policies, environment=environment)
    return twilio_call.invoke(
        lambda: sdk.invoke(
            operation.resource, operation.method, sid, twilio_call.params
        )
    )


async def acall(
    operation: TwilioOperation,
    params: Mapping[str, str],
    *,
    sid: str | None = None,
    client: TwilioClient | None = None,
    context: CallContext | None = None,
    policies: Sequence[Policy] = (),
    environment: str | None = None,
) -> dict[str, object]:
    """The asynchronous form of :func:`call`.

    twilio-python's own async mode needs a second, aiohttp-based client; the
    blocking client in a worker thread keeps one client per application.
    """
    twilio_call = _TwilioCall(operation, params, context)
    sdk = twilio_call.prepare(client=client, policies=policies, environment=environment)
    return await twilio_call.ainvoke(
        lambda: asyncio.to_thread(
            sdk.invoke, operation.resource, operation.method, sid, twilio_call.params
        )
    )
