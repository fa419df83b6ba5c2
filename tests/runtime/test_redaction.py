"""Redaction of secrets and personal data."""

from __future__ import annotations

import pytest

from generated._runtime.redaction import (
    REDACTED,
    is_secret_name,
    mask_emails,
    redact,
    redact_text,
)


@pytest.mark.parametrize(
    "name",
    [
        "secret",
        "client_secret",
        "clientSecret",
        "CLIENT-SECRET",
        "api_key",
        "apiKey",
        "password",
        "access_token",
        "Stripe-Signature",
        "Authorization",
        "webhook_secret",
    ],
)
def test_secret_looking_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["email", "amount", "idempotency_key", "customer"])
def test_ordinary_names_are_kept(name: str) -> None:
    assert not is_secret_name(name)


def test_emails_keep_first_character_and_domain() -> None:
    assert mask_emails("to jane.doe+x@mail.example.com now") == (
        "to j***@mail.example.com now"
    )


@pytest.mark.parametrize(
    "credential",
    [
        "sk_live_51H8abcDEF0123456789",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "rk_live_51H8abcDEF0123",
        "rk_test_51H8abcDEF0123",
        "whsec_abcdef0123456789",
        "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "sk_test_****1234",
    ],
)
def test_credentials_in_text_are_redacted(credential: str) -> None:
    redacted = redact_text(f"Invalid key: {credential}.")

    assert credential not in redacted
    assert redacted == f"Invalid key: {REDACTED}."


def test_redact_drops_secret_keys_at_any_depth_and_masks_values() -> None:
    value = {
        "email": "jane.doe@example.com",
        "client_secret": "pi_123_secret_456",
        "metadata": {"order": "A-1", "apiKey": "anything", "note": "sk_test_abc123"},
        "tags": ["sk_live_zzz999", 3, None, True],
    }

    assert redact(value) == {
        "email": "j***@example.com",
        "metadata": {"order": "A-1", "note": REDACTED},
        "tags": [REDACTED, 3, None, True],
    }


def test_redact_logs_unknown_objects_by_their_redacted_text() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "key sk_test_abc123 of jane@example.com"

    assert redact(Opaque()) == f"key {REDACTED} of j***@example.com"
