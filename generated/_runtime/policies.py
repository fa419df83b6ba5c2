# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""Policies: checks that run before a provider call and may refuse it.

A policy is any callable that takes the :class:`PolicyRequest` about to be
sent and raises :class:`~.errors.PolicyDeniedError` to refuse it; returning
normally allows it. Because policies see the provider request itself (for
Stripe, the params dict), a denial is decided on exactly what would have been
sent, and the provider is never called.

Built-in policies, configured per integration in the specs:

- :class:`AllowedCurrencies` - only listed currencies may be charged;
- :class:`MaxAmount` - a ceiling on ``amount`` per currency;
- :class:`TestModeGuard` - a live key is refused outside production.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from .errors import PolicyDeniedError

__all__ = [
    "AllowedCurrencies",
    "ApiKeyMode",
    "MaxAmount",
    "Policy",
    "PolicyRequest",
    "TestModeGuard",
    "run_policies",
]

ApiKeyMode = Literal["test", "live"]


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    """A provider call about to be made, as policies see it.

    ``api_key_mode`` is ``None`` when the mode of the credentials cannot be
    told; ``environment`` is the deployment environment the process runs in
    (``CONTRACTGEN_ENVIRONMENT``).
    """

    capability: str
    provider: str
    operation: str
    params: Mapping[str, object]
    api_key_mode: ApiKeyMode | None
    environment: str


class Policy(Protocol):
    """Raises :class:`PolicyDeniedError` to refuse a request."""

    def __call__(self, request: PolicyRequest, /) -> None: ...


def run_policies(policies: Iterable[Policy], request: PolicyRequest) -> None:
    """Run ``policies`` in order; the first denial propagates."""
    for policy in policies:
        policy(request)


def _deny(request: PolicyRequest, policy: str, reason: str) -> PolicyDeniedError:
    return PolicyDeniedError(
        f"policy {policy} denied {request.operation}: {reason}",
        capability=request.capability,
        provider=request.provider,
        policy=policy,
    )


class AllowedCurrencies:
    """Refuses a request whose ``currency`` is not in the allowed set.

    Currencies compare case-insensitively; a request without a currency is
    allowed, since there is nothing to charge in a wrong one.
    """

    name: ClassVar[str] = "allowed-currencies"

    def __init__(self, currencies: Iterable[str]) -> None:
        self.currencies = frozenset(currency.lower() for currency in currencies)
        if not self.currencies:
            raise ValueError("AllowedCurrencies needs at least one currency")

    def __call__(self, request: PolicyRequest, /) -> None:
        currency = request.params.get("currency")
        if currency is None:
            return
        if str(currency).lower() not in self.currencies:
            allowed = ", ".join(sorted(self.currencies))
            raise _deny(
                request,
                self.name,
                f"currency {str(currency).lower()!r} is not one of {allowed}",
            )

    def __repr__(self) -> str:
        return f"AllowedCurrencies({sorted(self.currencies)!r})"


class MaxAmount:
    """Refuses a request whose ``amount`` exceeds the limit for its currency.

    Limits are in the currency's smallest unit, as Stripe amounts are. A
    request without an amount, or in a currency with no limit, is allowed; an
    amount that is not a number is refused, since it cannot be checked.
    """

    name: ClassVar[str] = "max-amount"

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = {currency.lower(): limit for currency, limit in limits.items()}

    def __call__(self, request: PolicyRequest, /) -> None:
        amount = request.params.get("amount")
        currency = request.params.get("currency")
        if amount is None or currency is None:
            return
        limit = self.limits.get(str(currency).lower())
        if limit is None:
            return
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise _deny(request, self.name, "amount is not a number")
        if amount > limit:
            raise _deny(
                request,
                self.name,
                f"amount {amount} exceeds the limit of {limit} "
                f"{str(currency).lower()}",
            )

    def __repr__(self) -> str:
        return f"MaxAmount({self.limits!r})"


class TestModeGuard:
    """Refuses calls made with a live key unless the environment is production.

    This keeps development and CI runs from moving real money when a live
    key leaks into their configuration.
    """

    name: ClassVar[str] = "test-mode-guard"
    production: ClassVar[str] = "production"

    # Not a test case, whatever pytest's name matching thinks.
    __test__: ClassVar[bool] = False

    def __call__(self, request: PolicyRequest, /) -> None:
        if request.api_key_mode == "live" and request.environment != self.production:
            raise _deny(
                request,
                self.name,
                f"a live key is refused in environment {request.environment!r}; "
                f"live keys are used only in {self.production!r}",
            )

    def __repr__(self) -> str:
        return "TestModeGuard()"
