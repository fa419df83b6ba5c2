"""The deployment environment, read once for every provider's policies.

Each test runs in an empty folder with no provider settings from the shell
(``isolated_settings``), so the ``.env`` written here is the only one read.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient
from stripe import StripeClient

from generated._runtime import (
    deployment,
    email_calls,
    errors,
    qdrant_calls,
    stripe_calls,
    twilio_calls,
)
from generated._runtime.policies import Policy, PolicyRequest
from generated.email import SendEmailInput, send_email
from generated.qdrant import StoreSnippetInput, store_snippet
from generated.stripe import CreateCustomerInput, create_customer
from generated.twilio import SendSmsInput, send_sms

PHONE = "+15017122661"
ADDRESS = "ada@example.com"
VECTOR_SIZE = 384  # the `knowledge` collection's vectorSize in specs/


def test_deployment_environment_follows_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = deployment.deployment_environment
    assert seen() == "development"
    dotenv = tmp_path / ".env"
    dotenv.write_text("CONTRACTGEN_ENVIRONMENT=staging\n")
    assert seen() == "staging"
    dotenv.write_text("CONTRACTGEN_ENVIRONMENT=production\n")
    assert seen() == "production"
    monkeypatch.setenv("CONTRACTGEN_ENVIRONMENT", "ci")
    assert seen() == "ci"
    monkeypatch.delenv("CONTRACTGEN_ENVIRONMENT")
    monkeypatch.setenv("contractgen_environment", "lower")  # matched in any case
    assert seen() == "lower"
    monkeypatch.delenv("contractgen_environment")
    dotenv.unlink()
    assert seen() == "development"
    other = tmp_path / "other"
    other.mkdir()
    (other / ".env").write_text("CONTRACTGEN_ENVIRONMENT=elsewhere\n")
    monkeypatch.chdir(other)
    assert seen() == "elsewhere"


def test_deployment_environment_needs_no_provider_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "CONTRACTGEN_ENVIRONMENT=staging\nSTRIPE_MAX_NETWORK_RETRIES=many\n"
    )

    assert deployment.deployment_environment() == "staging"


# One call of each provider through its generated wrapper, with a client the
# caller built or with the provider's default one. The policy given refuses
# the call, so nothing is ever sent.
Caller = Callable[[Policy, bool, Path], None]


def _stripe(policy: Policy, given: bool, tmp_path: Path) -> None:
    client = StripeClient("sk_test_deployment") if given else None
    create_customer(
        CreateCustomerInput(email=ADDRESS), client=client, policies=[policy]
    )


def _email(policy: Policy, given: bool, tmp_path: Path) -> None:
    sender = email_calls.OutboxSender(
        directory=tmp_path / "outbox",
        from_address="no-reply@localhost",
        templates_dir=tmp_path,
    )
    send_email(
        SendEmailInput(to=ADDRESS, template="note"),
        sender=sender if given else None,
        policies=[policy],
    )


def _twilio(policy: Policy, given: bool, tmp_path: Path) -> None:
    client = twilio_calls.TwilioClient(None, from_number=PHONE) if given else None
    send_sms(SendSmsInput(to=PHONE, body="hi"), client=client, policies=[policy])


def _qdrant(policy: Policy, given: bool, tmp_path: Path) -> None:
    store = (
        qdrant_calls.QdrantStore(QdrantClient(":memory:"), local=True)
        if given
        else None
    )
    try:
        store_snippet(
            StoreSnippetInput(
                id_=str(uuid.UUID(int=1)),
                vector=[0.1] * VECTOR_SIZE,
                owner="acme",
                payload={"tenant": "acme"},
            ),
            store=store,
            policies=[policy],
        )
    finally:
        if store is not None:
            store.close()


@pytest.fixture
def provider_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """Settings for every provider's default client, built afresh by the test."""
    for name in ("SMTP_HOST", "QDRANT_URL", "TWILIO_FROM", "TWILIO_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_deployment")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tw-deployment-token")
    monkeypatch.setenv("TWILIO_FROM", PHONE)
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.setenv("EMAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    _clear_defaults()
    yield
    if qdrant_calls.default_store.cache_info().currsize:
        qdrant_calls.default_store().close()
    _clear_defaults()


def _clear_defaults() -> None:
    for cached in (
        stripe_calls.default_settings,
        stripe_calls.default_client,
        email_calls.default_sender,
        twilio_calls.default_settings,
        twilio_calls.default_client,
        qdrant_calls.default_settings,
        qdrant_calls.default_store,
    ):
        cached.cache_clear()


@pytest.mark.usefixtures("provider_defaults")
@pytest.mark.parametrize("given", [True, False], ids=["caller-built", "default"])
@pytest.mark.parametrize(
    "call",
    [_stripe, _email, _twilio, _qdrant],
    ids=["stripe", "email", "twilio", "qdrant"],
)
def test_each_provider_sees_a_changed_environment_on_its_next_call(
    call: Caller,
    given: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def refuse(request: PolicyRequest, /) -> None:
        seen.append(request.environment)
        raise errors.PolicyDeniedError(
            "noted",
            capability=request.capability,
            provider=request.provider,
            policy="note-environment",
        )

    def call_once() -> None:
        with pytest.raises(errors.PolicyDeniedError, match="noted"):
            call(refuse, given, tmp_path)

    call_once()
    (tmp_path / ".env").write_text("CONTRACTGEN_ENVIRONMENT=staging\n")
    call_once()
    monkeypatch.setenv("CONTRACTGEN_ENVIRONMENT", "production")
    call_once()

    assert seen == ["development", "staging", "production"]


# --- what the kept value may not outlive -------------------------------------------


class _Coarse:
    """A stat result whose times are whole seconds, as ext3 or HFS+ keep them."""

    def __init__(self, info: os.stat_result) -> None:
        self._info = info

    def __getattr__(self, name: str) -> object:
        value = getattr(self._info, name)
        if name in ("st_mtime_ns", "st_ctime_ns"):
            return value // 1_000_000_000 * 1_000_000_000
        return value


def test_a_dotenv_rewritten_within_the_same_second_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_stat = os.stat

    def coarse_stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        info = real_stat(path, *args, **kwargs)
        return _Coarse(info) if os.fspath(path) == ".env" else info

    monkeypatch.setattr(os, "stat", coarse_stat)
    dotenv = tmp_path / ".env"
    seen = []
    for environment in ("staging", "testing", "staging"):  # one size
        dotenv.write_text(f"CONTRACTGEN_ENVIRONMENT={environment}\n")
        seen.append(deployment.deployment_environment())

    assert seen == ["staging", "testing", "staging"]


@pytest.mark.parametrize("before", ["ci", None], ids=["set", "unset"])
def test_a_change_made_while_the_settings_are_read_is_not_kept(
    monkeypatch: pytest.MonkeyPatch, before: str | None
) -> None:
    if before is not None:
        monkeypatch.setenv("CONTRACTGEN_ENVIRONMENT", before)
    read = deployment._DeploymentSettings

    def read_while_another_thread_sets_and_resets(**values: Any) -> Any:
        os.environ["CONTRACTGEN_ENVIRONMENT"] = "meanwhile"
        try:
            return read(**values)
        finally:
            if before is None:
                del os.environ["CONTRACTGEN_ENVIRONMENT"]
            else:
                os.environ["CONTRACTGEN_ENVIRONMENT"] = before

    with monkeypatch.context() as racing:
        racing.setattr(
            deployment, "_DeploymentSettings", read_while_another_thread_sets_and_resets
        )
        deployment.deployment_environment()

    assert deployment.deployment_environment() == (before or "development")


def test_threads_see_the_last_value_another_thread_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTRACTGEN_ENVIRONMENT", "first")
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often, to meet mid-call
    stop = threading.Event()
    failures: list[BaseException] = []

    def call_until_stopped() -> None:
        while not stop.is_set():
            try:
                deployment.deployment_environment()
            except BaseException as err:  # reported below
                failures.append(err)
                return

    callers = [threading.Thread(target=call_until_stopped) for _ in range(4)]
    try:
        for caller in callers:
            caller.start()
        for n in range(400):
            os.environ["CONTRACTGEN_ENVIRONMENT"] = f"value-{n % 7}"
            os.environ["CONTRACTGEN_ENVIRONMENT"] = "last"
    finally:
        stop.set()
        for caller in callers:
            caller.join()
        sys.setswitchinterval(switching)

    assert failures == []
    assert deployment.deployment_environment() == "last"


def test_a_dotenv_replaced_by_a_rename_or_a_link_is_seen(tmp_path: Path) -> None:
    seen = deployment.deployment_environment
    (tmp_path / "staging.env").write_text("CONTRACTGEN_ENVIRONMENT=staging\n")
    (tmp_path / "testing.env").write_text("CONTRACTGEN_ENVIRONMENT=testing\n")
    os.link(tmp_path / "staging.env", tmp_path / "staged")

    os.replace(tmp_path / "staged", tmp_path / ".env")
    first = seen()
    (tmp_path / ".env").unlink()
    (tmp_path / ".env").symlink_to(tmp_path / "testing.env")
    second = seen()
    (tmp_path / ".env").unlink()
    third = seen()

    assert (first, second, third) == ("staging", "testing", "development")
