"""One wording for settings that are not set or invalid, whatever the provider.

Each provider's ``load_settings`` goes through ``read_settings``: the
parametrized tests run every provider's settings through the same wording,
and the others pin the parts of it no provider's settings reach today.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from generated._runtime import (
    email_calls,
    qdrant_calls,
    stripe_calls,
    twilio_calls,
    webhooks,
)
from generated._runtime.errors import SettingsError
from generated._runtime.settings import missing_setting, read_settings

# What a user may paste into the wrong variable: it must never be echoed.
LEAKED_KEY = "sk_live_51HxQ3pLeakedKey0000"


@dataclass(frozen=True)
class Provider:
    name: str
    load: Callable[[], BaseSettings]
    settings_class: type[BaseSettings]
    required: dict[str, str]


PROVIDERS = [
    Provider(
        "stripe",
        stripe_calls.load_settings,
        stripe_calls.StripeSettings,
        {"STRIPE_SECRET_KEY": "sk_test_valid"},
    ),
    Provider(
        "twilio",
        twilio_calls.load_settings,
        twilio_calls.TwilioSettings,
        {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "token"},
    ),
    Provider("email", email_calls.load_settings, email_calls.EmailSettings, {}),
    Provider("qdrant", qdrant_calls.load_settings, qdrant_calls.QdrantSettings, {}),
    Provider("webhooks", webhooks.load_settings, webhooks.WebhookSettings, {}),
]

# (provider, variable, value): a value the variable's field refuses.
INVALID = [
    ("stripe", "STRIPE_MAX_NETWORK_RETRIES", LEAKED_KEY),
    ("twilio", "TWILIO_FROM", LEAKED_KEY),
    ("twilio", "TWILIO_TIMEOUT", LEAKED_KEY),
    ("email", "SMTP_PORT", LEAKED_KEY),
    ("email", "SMTP_FROM", f"{LEAKED_KEY}\n@example.com"),
    ("qdrant", "QDRANT_TIMEOUT", LEAKED_KEY),
    ("webhooks", "CONTRACTGEN_WEBHOOK_PORT", LEAKED_KEY),
]

MISSING = [
    ("stripe", "STRIPE_SECRET_KEY"),
    ("twilio", "TWILIO_ACCOUNT_SID"),
    ("twilio", "TWILIO_AUTH_TOKEN"),
]


def _provider(name: str) -> Provider:
    return next(p for p in PROVIDERS if p.name == name)


def _variables(settings_class: type[BaseSettings]) -> list[str]:
    return [str(f.validation_alias) for f in settings_class.model_fields.values()]


def _environment(
    monkeypatch: pytest.MonkeyPatch, provider: Provider, **variables: str | None
) -> None:
    """The provider's required variables, changed by ``variables``, and no other."""
    for name in _variables(provider.settings_class):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**provider.required, **variables}.items():
        if value is not None:
            monkeypatch.setenv(name, value)


def _error(provider: Provider) -> str:
    with pytest.raises(SettingsError) as raised:
        provider.load()
    return str(raised.value)


def test_every_provider_is_covered() -> None:
    assert {p.name for p in PROVIDERS} == {name for name, _, _ in INVALID}


@pytest.mark.parametrize(("provider", "variable", "value"), INVALID)
def test_every_provider_words_an_invalid_variable_alike_and_hides_its_value(
    monkeypatch: pytest.MonkeyPatch, provider: str, variable: str, value: str
) -> None:
    _environment(monkeypatch, _provider(provider), **{variable: value})

    message = _error(_provider(provider))

    assert message == f"{variable} is invalid: fix it in the environment or in .env"
    assert LEAKED_KEY not in message


@pytest.mark.parametrize(("provider", "variable"), MISSING)
def test_every_provider_words_a_missing_variable_alike(
    monkeypatch: pytest.MonkeyPatch, provider: str, variable: str
) -> None:
    _environment(monkeypatch, _provider(provider), **{variable: None})

    message = _error(_provider(provider))

    assert message == f"{variable} is not set: set it in the environment or in .env"


def test_a_value_read_from_dotenv_is_not_repeated_either(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"STRIPE_SECRET_KEY=sk_test_valid\nSTRIPE_MAX_NETWORK_RETRIES={LEAKED_KEY}\n"
    )

    message = _error(_provider("stripe"))

    assert message == (
        "STRIPE_MAX_NETWORK_RETRIES is invalid: fix it in the environment or in .env"
    )


def test_missing_and_invalid_variables_are_each_named_for_what_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _environment(
        monkeypatch,
        _provider("twilio"),
        TWILIO_ACCOUNT_SID=None,
        TWILIO_AUTH_TOKEN=None,
        TWILIO_FROM=LEAKED_KEY,
        TWILIO_TIMEOUT="0",
    )

    assert _error(_provider("twilio")) == (
        "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set, and TWILIO_FROM "
        "and TWILIO_TIMEOUT are invalid: set or fix them in the environment or "
        "in .env"
    )


class _Elsewhere(BaseSettings):
    model_config = SettingsConfigDict(
        env_file="config/app.env", env_prefix="app_", extra="ignore"
    )

    token: SecretStr = Field(validation_alias="APP_TOKEN")
    retries: int = 1
    region: str = Field(
        default="eu", pattern="^[a-z]{2}$", validation_alias=AliasChoices("APP_AREA")
    )


def test_a_dotenv_file_other_than_the_default_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_RETRIES", LEAKED_KEY)

    with pytest.raises(SettingsError) as raised:
        read_settings(_Elsewhere)

    assert str(raised.value) == (
        "APP_TOKEN is not set, and APP_RETRIES is invalid: set or fix them in the "
        "environment or in config/app.env"
    )


def test_the_dotenv_files_named_are_those_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_AREA", LEAKED_KEY)
    monkeypatch.setenv("APP_TOKEN", "t")

    with pytest.raises(SettingsError) as none:
        read_settings(_Elsewhere, _env_file=None)
    with pytest.raises(SettingsError) as two:
        read_settings(_Elsewhere, _env_file=("base.env", Path("local.env")))

    assert str(none.value) == "APP_AREA is invalid: fix it in the environment"
    assert str(two.value) == (
        "APP_AREA is invalid: fix it in the environment or in base.env or in "
        "local.env"
    )


class _Paired(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    username: str | None = Field(default=None, validation_alias="PAIR_USERNAME")
    password: SecretStr | None = Field(default=None, validation_alias="PAIR_PASSWORD")

    @model_validator(mode="after")
    def _both_or_neither(self) -> _Paired:
        if (self.username is None) != (self.password is None):
            raise ValueError(f"username {self.username} needs a password")
        return self


def test_a_check_across_variables_is_worded_without_its_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAIR_USERNAME", LEAKED_KEY)

    with pytest.raises(SettingsError) as raised:
        read_settings(_Paired)

    assert str(raised.value) == (
        "the settings do not fit together: fix them in the environment or in .env"
    )


def test_a_variable_needed_by_a_call_is_worded_like_the_helper() -> None:
    needed = missing_setting(
        webhooks.WebhookSettings, "secret", to="the endpoint's signing secret"
    )
    elsewhere = missing_setting(_Elsewhere, "token")

    assert str(needed) == (
        "STRIPE_WEBHOOK_SECRET is not set: set it in the environment or in .env "
        "to the endpoint's signing secret"
    )
    assert str(elsewhere) == (
        "APP_TOKEN is not set: set it in the environment or in config/app.env"
    )


# --- values, files and names that the wording must survive --------------------------


_SECRETS = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
    max_size=60,
).map(lambda text: f"sk_live_{text}")


@settings(max_examples=40, deadline=None)
@given(secret=_SECRETS)
def test_no_invalid_value_is_repeated_not_even_in_the_traceback(secret: str) -> None:
    variable = "STRIPE_MAX_NETWORK_RETRIES"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRIPE_SECRET_KEY", "sk_test_valid")
        patch.setenv(variable, secret)
        with pytest.raises(SettingsError) as raised:
            stripe_calls.load_settings()

    told = "".join(traceback.format_exception(raised.value))
    assert str(raised.value) == (
        f"{variable} is invalid: fix it in the environment or in .env"
    )
    assert secret not in told and secret.strip() not in told


def test_a_long_multi_line_secret_in_dotenv_is_not_repeated(tmp_path: Path) -> None:
    secret = "sk_live_" + "ключ-🔑-" * 5000
    (tmp_path / ".env").write_text(
        f'STRIPE_SECRET_KEY=sk_test_valid\nSMTP_PORT="{secret}\n{secret}"\n',
        encoding="utf-8",
    )

    with pytest.raises(SettingsError) as raised:
        email_calls.load_settings()

    told = "".join(traceback.format_exception(raised.value))
    assert (
        str(raised.value)
        == "SMTP_PORT is invalid: fix it in the environment or in .env"
    )
    assert "ключ" not in told


def test_the_environment_wins_over_dotenv_and_only_its_value_is_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        f"STRIPE_SECRET_KEY=sk_test_valid\nSTRIPE_MAX_NETWORK_RETRIES={LEAKED_KEY}\n"
    )
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "3")

    assert stripe_calls.load_settings().max_network_retries == 3


def test_lower_case_variables_are_named_as_the_settings_spell_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(f"smtp_port={LEAKED_KEY}\n")
    monkeypatch.setenv("app_retries", LEAKED_KEY)
    monkeypatch.setenv("app_token", "t")

    with pytest.raises(SettingsError) as email:
        email_calls.load_settings()
    with pytest.raises(SettingsError) as elsewhere:
        read_settings(_Elsewhere)

    assert str(email.value).startswith("SMTP_PORT is invalid: ")
    assert str(elsewhere.value).startswith("APP_RETRIES is invalid: ")


class _Chosen(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    token: SecretStr = Field(validation_alias=AliasChoices("APP_TOKEN", "APP_KEY"))
    area: str = Field(
        default="eu",
        pattern="^[a-z]{2}$",
        validation_alias=AliasChoices("APP_AREA", "APP_REGION", "APP_ZONE"),
    )


def test_a_variable_with_alias_choices_is_named_by_every_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_REGION", LEAKED_KEY)  # the second choice is wrong

    with pytest.raises(SettingsError) as raised:
        read_settings(_Chosen)

    assert str(raised.value) == (
        "APP_TOKEN (or APP_KEY) is not set, and APP_AREA (or APP_REGION or "
        "APP_ZONE) is invalid: set or fix them in the environment or in .env"
    )
    assert str(missing_setting(_Chosen, "token")) == (
        "APP_TOKEN (or APP_KEY) is not set: set it in the environment or in .env"
    )


def test_a_dotenv_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"STRIPE_SECRET_KEY=sk_live_\xff\xfe_not_utf8\n")

    with pytest.raises(SettingsError) as raised:
        stripe_calls.load_settings()

    assert str(raised.value) == ".env is not UTF-8 text (at byte 26): save it as UTF-8"


def test_a_dotenv_that_is_a_folder_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()

    assert _error(_provider("stripe")) == (
        "STRIPE_SECRET_KEY is not set: set it in the environment or in .env"
    )
