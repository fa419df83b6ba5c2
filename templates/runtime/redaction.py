"""Redaction of secrets and personal data before anything is logged.

Every value that leaves a capability call through a log record or an error
message passes through here first:

- keys whose names look secret (``client_secret``, ``apiKey``, ``password``...)
  are dropped, with their whole value;
- text that looks like a Stripe credential (``sk_live_...``, ``sk_test_...``,
  ``rk_...``, ``whsec_...``) or a client secret (``pi_..._secret_...``) is
  replaced by ``[redacted]``;
- e-mail addresses keep their first character and their domain
  (``j***@example.com``), enough to tell records apart without naming anyone.

Redaction is a safety net under the allow-lists in the capability specs, not
a replacement for them: free text can hold personal data no pattern finds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = [
    "REDACTED",
    "SECRET_NAME_MARKERS",
    "is_secret_name",
    "mask_emails",
    "redact",
    "redact_text",
]

REDACTED: Final = "[redacted]"

SECRET_NAME_MARKERS: Final = (
    "secret",
    "client_secret",
    "api_key",
    "password",
    "token",
    "signature",
    "authorization",
)

# Names are compared without separators so that ``clientSecret``,
# ``client-secret`` and ``CLIENT_SECRET`` are all caught by one marker.
_SEPARATORS = re.compile(r"[_\-\s]")
_MARKERS = tuple(_SEPARATORS.sub("", marker) for marker in SECRET_NAME_MARKERS)

# Stripe credentials: secret and restricted keys in either mode, webhook
# signing secrets, and the client secrets of intents and sessions.
_CREDENTIAL = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z*]+"
    r"|\bwhsec_[0-9A-Za-z]+"
    r"|\b[a-z]+_[0-9A-Za-z]+_secret_[0-9A-Za-z]+"
)

_EMAIL = re.compile(r"\b([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.\w+)")


def is_secret_name(name: str) -> bool:
    """Whether a field called ``name`` must never be logged, whatever it holds."""
    normalised = _SEPARATORS.sub("", name).lower()
    return any(marker in normalised for marker in _MARKERS)


def mask_emails(text: str) -> str:
    """Replace each e-mail address in ``text`` by its masked form."""
    return _EMAIL.sub(r"\1***@\2", text)


def redact_text(text: str) -> str:
    """Redact credentials and mask e-mail addresses inside free text."""
    return mask_emails(_CREDENTIAL.sub(REDACTED, text))


def redact(value: object) -> object:
    """Return a copy of ``value`` that is safe to log.

    Mappings lose their secret-named keys, sequences are redacted item by item,
    strings are redacted as text. Numbers, booleans and ``None`` pass through;
    any other object is logged by its redacted ``str()`` so that an unknown
    type cannot carry a secret past this function.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            str(key): redact(item)
            for key, item in value.items()
            if not is_secret_name(str(key))
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    return redact_text(str(value))
