# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""The errors a capability call can raise, as one small tree.

Provider SDK errors never escape a generated wrapper: each is mapped onto this
tree, so workflows route failures by kind and retryability without knowing
which provider they called::

    ContractError
     ├── SettingsError                a needed setting is missing or invalid
     └── CapabilityError              a capability call failed
          ├── CardDeclinedError        the card was declined (never retryable)
          ├── InvalidRequestError      the provider rejected the request
          ├── AuthenticationError      the credentials were refused
          ├── PermissionDeniedError    the credentials lack a permission
          ├── IdempotencyConflictError a key was reused with other parameters
          ├── PolicyDeniedError        a policy refused the call before it left
          ├── RateLimitedError         the provider asked us to slow down
          ├── ProviderUnavailableError connection failure or 5xx (retryable)
          ├── StepTimeoutError         a workflow step's attempt ran out of time
          │                            (retryable)
          └── ProviderError            anything else; retryable if the provider
                                       said so

Messages are redacted when the error is built, so neither ``str(err)`` nor
``err.to_dict()`` can carry a credential or a full e-mail address.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .redaction import redact_text

__all__ = [
    "AuthenticationError",
    "CapabilityError",
    "CardDeclinedError",
    "ContractError",
    "IdempotencyConflictError",
    "InvalidRequestError",
    "PermissionDeniedError",
    "PolicyDeniedError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "SettingsError",
    "StepTimeoutError",
    "StoreFileError",
]


class ContractError(Exception):
    """Base of every error raised by the generated package."""


class SettingsError(ContractError):
    """A setting the call needs is missing or invalid in the environment.

    The message names the variables; it never repeats their values. Every
    provider words it alike, through :mod:`.settings`.
    """


class StoreFileError(ContractError, RuntimeError):
    """A file given to a runtime store (the webhook store, the run journal)
    cannot be that store.

    It is a folder, not a SQLite database, another program's database or the
    other store's, or was written by a newer runtime; or SQLite cannot read
    it here, e.g. in a folder this process may not write. The message names
    the file and why; nothing in the file was changed.
    """


class CapabilityError(ContractError):
    """A capability call failed.

    ``step`` is the workflow step that made the call; it is ``None`` for calls
    made outside a workflow, and a workflow engine may set it afterwards with
    :meth:`with_step`.
    """

    # ``None`` lets the caller decide; subclasses whose retryability follows
    # from their kind fix it here, so a mapping cannot get it wrong.
    fixed_retryable: ClassVar[bool | None] = None

    capability: str
    provider: str
    message: str
    code: str | None
    retryable: bool
    request_id: str | None
    step: str | None

    def __init__(
        self,
        message: str,
        *,
        capability: str,
        provider: str,
        code: str | None = None,
        retryable: bool | None = None,
        request_id: str | None = None,
        step: str | None = None,
    ) -> None:
        fixed = type(self).fixed_retryable
        if fixed is not None and retryable is not None and retryable != fixed:
            raise ValueError(
                f"{type(self).__name__} is always "
                f"{'retryable' if fixed else 'non-retryable'}"
            )
        self.capability = capability
        self.provider = provider
        self.message = " ".join(redact_text(message).split())
        self.code = code
        self.retryable = fixed if fixed is not None else bool(retryable)
        self.request_id = request_id
        self.step = step
        super().__init__(self.message)

    def with_step(self, step: str | None) -> CapabilityError:
        """Record the workflow step that made the call; returns this error."""
        self.step = step
        return self

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data with stable keys, for workflow results.

        Always holds ``type``, ``capability``, ``step``, ``message``, ``code``,
        ``retryable`` and ``request_id``; subclasses may add their own keys.
        """
        return {
            "type": type(self).__name__,
            "capability": self.capability,
            "step": self.step,
            "message": self.message,
            "code": self.code,
            "retryable": self.retryable,
            "request_id": self.request_id,
        }

    def __str__(self) -> str:
        where = self.capability
        if self.step is not None:
            where = f"{where} (step {self.step})"
        code = f" [{self.code}]" if self.code is not None else ""
        return f"{where} failed{code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(capability={self.capability!r}, "
            f"code={self.code!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors defeat Exception's default pickling, and
        # errors cross process boundaries in durable workflow engines.
        return (_restore, (type(self), self.__dict__.copy()))


def _restore(cls: type[CapabilityError], state: dict[str, Any]) -> CapabilityError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (error.message,)
    return error


class CardDeclinedError(CapabilityError):
    """The card was declined; ``decline_code`` is the issuer's reason, if any."""

    fixed_retryable = False

    decline_code: str | None

    def __init__(
        self,
        message: str,
        *,
        capability: str,
        provider: str,
        code: str | None = None,
        decline_code: str | None = None,
        retryable: bool | None = None,
        request_id: str | None = None,
        step: str | None = None,
    ) -> None:
        super().__init__(
            message,
            capability=capability,
            provider=provider,
            code=code,
            retryable=retryable,
            request_id=request_id,
            step=step,
        )
        self.decline_code = decline_code

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "decline_code": self.decline_code}


class InvalidRequestError(CapabilityError):
    """The provider rejected the request as malformed or impossible."""

    fixed_retryable = False


class AuthenticationError(CapabilityError):
    """The provider refused the credentials."""

    fixed_retryable = False


class PermissionDeniedError(CapabilityError):
    """The credentials are valid but may not perform this operation."""

    fixed_retryable = False


class IdempotencyConflictError(CapabilityError):
    """An idempotency key was reused with different request parameters."""

    fixed_retryable = False


class RateLimitedError(CapabilityError):
    """The provider is rate limiting us; the call may succeed later."""

    fixed_retryable = True


class ProviderUnavailableError(CapabilityError):
    """The provider could not be reached or failed on its side (5xx)."""

    fixed_retryable = True


class PolicyDeniedError(CapabilityError):
    """A policy refused the call before anything was sent to the provider."""

    fixed_retryable = False

    policy: str

    def __init__(
        self,
        message: str,
        *,
        capability: str,
        provider: str,
        policy: str,
        code: str | None = "policy_denied",
        retryable: bool | None = None,
        request_id: str | None = None,
        step: str | None = None,
    ) -> None:
        super().__init__(
            message,
            capability=capability,
            provider=provider,
            code=code,
            retryable=retryable,
            request_id=request_id,
            step=step,
        )
        self.policy = policy

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "policy": self.policy}


class ProviderError(CapabilityError):
    """Any other provider failure; retryable only if the provider said so."""


class StepTimeoutError(CapabilityError):
    """A step's call took longer than the step's ``timeout`` allows.

    Raised by the engine, not by a provider, so ``provider`` is empty.
    """

    fixed_retryable = True

    timeout: float

    def __init__(
        self,
        message: str,
        *,
        capability: str,
        timeout: float,
        provider: str = "",
        code: str | None = "step_timeout",
        retryable: bool | None = None,
        request_id: str | None = None,
        step: str | None = None,
    ) -> None:
        super().__init__(
            message,
            capability=capability,
            provider=provider,
            code=code,
            retryable=retryable,
            request_id=request_id,
            step=step,
        )
        self.timeout = timeout

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "timeout": self.timeout}
