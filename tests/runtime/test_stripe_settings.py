"""Stripe settings, client construction and key modes."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from stripe import StripeClient

from generated._runtime.stripe_calls import (
    StripeSettings,
    api_key_mode,
    build_client,
    client_api_key_mode,
    default_client,
)


def test_settings_read_the_documented_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_env")
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_test_env")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_env")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420")
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "5")

    settings = StripeSettings()  # type: ignore[call-arg]

    assert settings.secret_key.get_secret_value() == "sk_test_env"
    assert settings.publishable_key == "pk_test_env"
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "whsec_env"
    assert settings.api_base == "http://127.0.0.1:8420"
    assert settings.max_network_retries == 5
    assert "sk_test_env" not in repr(settings)


def test_settings_defaults_and_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("STRIPE_SECRET_KEY=sk_test_dotenv\nOTHER=1\n")

    settings = StripeSettings()  # type: ignore[call-arg]

    assert settings.secret_key.get_secret_value() == "sk_test_dotenv"
    assert settings.publishable_key is None
    assert settings.webhook_secret is None
    assert settings.api_base is None
    assert settings.max_network_retries == 2


def test_secret_key_is_required() -> None:
    with pytest.raises(pydantic.ValidationError, match="STRIPE_SECRET_KEY"):
        StripeSettings()  # type: ignore[call-arg]


def test_build_client_uses_base_address_and_retries() -> None:
    settings = StripeSettings.model_validate(
        {
            "STRIPE_SECRET_KEY": "sk_test_abc",
            "STRIPE_API_BASE": "http://127.0.0.1:8420",
            "STRIPE_MAX_NETWORK_RETRIES": 0,
        }
    )

    client = build_client(settings)

    options = client._requestor._options  # pinned private state, see below
    assert options.base_addresses["api"] == "http://127.0.0.1:8420"
    assert options.max_network_retries == 0
    assert client_api_key_mode(client) == "test"


def test_default_client_is_built_once_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_env")

    client = default_client()

    assert default_client() is client
    assert client_api_key_mode(client) == "live"


@pytest.mark.parametrize(
    ("key", "mode"),
    [
        ("sk_live_abc", "live"),
        ("rk_live_abc", "live"),
        ("sk_test_abc", "test"),
        ("rk_test_abc", "test"),
        ("pk_live_abc", None),
        ("", None),
        (None, None),
    ],
)
def test_api_key_mode(key: str | None, mode: str | None) -> None:
    assert api_key_mode(key) == mode


def test_client_key_mode_reads_the_key_of_a_real_client() -> None:
    # stripe-python has no public accessor for a client's key: this pins the
    # private attribute client_api_key_mode relies on for the installed SDK.
    assert client_api_key_mode(StripeClient("sk_live_abc")) == "live"
    assert client_api_key_mode(StripeClient("sk_test_abc")) == "test"


def test_only_the_documented_variable_names_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A field's own name (`secret_key`, `api_base`) is not a setting: a shell
    # that happens to export API_BASE must not redirect payments.
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_abc")
    monkeypatch.setenv("API_BASE", "http://attacker.invalid")
    monkeypatch.setenv("SECRET_KEY", "sk_test_other")
    settings = StripeSettings()  # type: ignore[call-arg]
    assert settings.api_base is None
    assert settings.secret_key.get_secret_value() == "sk_test_abc"
