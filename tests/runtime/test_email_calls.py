"""The e-mail engine: settings, outbox mode, checks, policies, error mapping, logs.

Delivery over SMTP is covered against a real server in test_email_smtp.py;
here messages go to the outbox folder, which is real file I/O, or to a
sender that raises, to see how the engine reacts.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pydantic
import pytest

from generated._runtime import email_calls, errors
from generated._runtime.calllog import LOGGER_NAME
from generated._runtime.context import CallContext
from generated._runtime.email_calls import (
    EmailOperation,
    EmailSettings,
    OutboxSender,
    SmtpSender,
    build_sender,
    map_delivery_error,
    send,
)
from generated._runtime.policies import PolicyRequest

pytestmark = pytest.mark.usefixtures("email_environment")

SEND = EmailOperation(
    capability="send-email",
    log_inputs=("template",),
    log_outputs=("messageId",),
)
STEP = CallContext(workflow_id="process-payment", run_id="run-7", step_id="notify")
ADDRESS = "jane.doe@example.org"
DATA = {"clientSecret": "pi_3Ab_secret_Zx9", "orderNote": "deliver-to-back-door"}


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "email-templates"
    folder.mkdir()
    (folder / "note.txt").write_text(
        "Subject: About {{ orderNote }}\n\n{{ orderNote }} {{ clientSecret }}\n"
    )
    return folder


@pytest.fixture
def outbox(tmp_path: Path, templates: Path) -> OutboxSender:
    return OutboxSender(
        directory=tmp_path / "outbox",
        from_address="shop@example.com",
        templates_dir=templates,
    )


def _inputs(**changes: object) -> dict[str, object]:
    return {"to": ADDRESS, "template": "note", "subject": None, "data": DATA, **changes}


def _eml_files(sender: OutboxSender) -> list[Path]:
    if not sender.directory.exists():
        return []
    return sorted(sender.directory.iterdir())


class _Raising:
    """A sender whose delivery fails with a given exception."""

    def __init__(self, error: Exception, templates: Path) -> None:
        self.error = error
        self.from_address = "shop@example.com"
        self.templates_dir = templates

    def send(self, message: EmailMessage, /) -> None:
        raise self.error


# Settings and senders.


def test_settings_read_the_documented_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("SMTP_PORT", "2525")
    monkeypatch.setenv("SMTP_USERNAME", "mailer")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-password")
    monkeypatch.setenv("SMTP_FROM", "Shop <shop@example.com>")
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_TIMEOUT", "2.5")
    monkeypatch.setenv("EMAIL_TEMPLATES_DIR", "mail/templates")
    monkeypatch.setenv("EMAIL_OUTBOX_DIR", "mail/outbox")

    settings = EmailSettings()
    sender = build_sender(settings)

    assert sender == SmtpSender(
        host="mail.example.com",
        port=2525,
        from_address="Shop <shop@example.com>",
        templates_dir=Path("mail/templates"),
        username="mailer",
        password=settings.password,
        starttls=False,
        timeout=2.5,
    )
    assert settings.password is not None
    assert settings.password.get_secret_value() == "hunter2-password"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in repr(sender)


def test_without_a_host_settings_choose_the_outbox(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SMTP_HOST=\nEMAIL_OUTBOX_DIR=mails\nOTHER=1\n")

    settings = EmailSettings()

    assert settings.host is None
    assert settings.port == 587
    assert settings.starttls is True
    assert settings.from_address == "no-reply@localhost"
    assert build_sender(settings) == OutboxSender(
        directory=Path("mails"),
        from_address="no-reply@localhost",
        templates_dir=Path("email-templates"),
    )


@pytest.mark.parametrize(
    "from_address", ["not-an-address", "a@b.com\r\nBcc: c@d.com", "a@b.com, c@d.com"]
)
def test_an_unusable_from_address_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, from_address: str
) -> None:
    monkeypatch.setenv("SMTP_FROM", from_address)

    with pytest.raises(pydantic.ValidationError, match="SMTP_FROM"):
        EmailSettings()


def test_wrappers_without_a_sender_use_the_settings_outbox(
    tmp_path: Path, templates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_TEMPLATES_DIR", str(templates))

    result = send(SEND, _inputs())

    [path] = (tmp_path / ".outbox").glob("*.eml")
    assert email_calls.default_sender() is email_calls.default_sender()
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Message-ID"] == result["messageId"]


# Outbox mode.


def test_outbox_writes_one_parseable_eml_named_by_time_and_message_id(
    outbox: OutboxSender,
) -> None:
    result = send(SEND, _inputs(), sender=outbox)

    [path] = _eml_files(outbox)
    assert path.suffix == ".eml"
    stamp, digest = path.stem.split("-")
    assert stamp.endswith("Z") and len(stamp) == len("20250101T120000123456Z")
    assert len(digest) == 16
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Message-ID"] == result["messageId"]
    assert message["To"] == ADDRESS
    assert message["From"] == "shop@example.com"
    assert message["Subject"] == "About deliver-to-back-door"
    assert message.get_content() == "deliver-to-back-door pi_3Ab_secret_Zx9\n"


def test_each_send_gets_its_own_file_and_message_id(outbox: OutboxSender) -> None:
    first = send(SEND, _inputs(), sender=outbox)
    second = send(SEND, _inputs(), sender=outbox)

    assert first["messageId"] != second["messageId"]
    assert len(_eml_files(outbox)) == 2


def test_an_outbox_that_cannot_be_written_is_a_retryable_error(
    tmp_path: Path, templates: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    sender = OutboxSender(
        directory=blocker / "outbox",
        from_address="shop@example.com",
        templates_dir=templates,
    )

    with pytest.raises(errors.ProviderUnavailableError) as raised:
        send(SEND, _inputs(), sender=sender)

    assert raised.value.retryable is True


# Input checks.


@pytest.mark.parametrize(
    "to",
    [
        "jane",
        "jane@",
        "@example.org",
        "jane@@example.org",
        "jane doe@example.org",
        "jane@example.org, all@example.net",
        "jane@example.org all@example.net",
        '"jane doe"@example.org',
        "jane\x00@example.org",
        "",
    ],
)
def test_recipients_that_are_not_one_address_are_refused(
    outbox: OutboxSender, to: str
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        send(SEND, _inputs(to=to), sender=outbox)

    assert raised.value.code == "invalid_recipient"
    assert _eml_files(outbox) == []


def test_a_display_name_is_kept_and_the_address_checked(outbox: OutboxSender) -> None:
    send(SEND, _inputs(to="Jane Doe <jane.doe@example.org>"), sender=outbox)

    [path] = _eml_files(outbox)
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "Jane Doe <jane.doe@example.org>"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to": ADDRESS + "\nBcc: all@example.net"}, "recipient"),
        ({"to": ADDRESS + "\rBcc: all@example.net"}, "recipient"),
        ({"subject": "Hi\nBcc: all@example.net"}, "subject"),
        ({"subject": "Hi\x85Bcc: all@example.net"}, "subject"),
    ],
)
def test_header_injection_is_refused_before_policies_and_delivery(
    outbox: OutboxSender, changes: dict[str, object], field: str
) -> None:
    seen: list[PolicyRequest] = []

    with pytest.raises(errors.InvalidRequestError) as raised:
        send(SEND, _inputs(**changes), sender=outbox, policies=[seen.append])

    assert raised.value.code == "header_injection"
    assert field in raised.value.message
    assert seen == []
    assert _eml_files(outbox) == []


# Policies.


def test_policies_see_the_address_and_template_before_anything_is_sent(
    outbox: OutboxSender,
) -> None:
    seen: list[PolicyRequest] = []

    send(
        SEND,
        _inputs(to=f"Jane <{ADDRESS}>"),
        sender=outbox,
        policies=[seen.append],
        environment="staging",
    )

    assert seen == [
        PolicyRequest(
            capability="send-email",
            provider="email",
            operation="send",
            params={"to": ADDRESS, "template": "note"},
            api_key_mode=None,
            environment="staging",
        )
    ]


def test_environment_defaults_to_the_contractgen_variable(
    outbox: OutboxSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRACTGEN_ENVIRONMENT", "production")
    seen: list[PolicyRequest] = []

    send(SEND, _inputs(), sender=outbox, policies=[seen.append])

    assert [request.environment for request in seen] == ["production"]


def test_a_denial_sends_nothing_and_is_logged_as_denied(
    outbox: OutboxSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)

    def internal_only(request: PolicyRequest, /) -> None:
        if not str(request.params["to"]).endswith("@shop.example"):
            raise errors.PolicyDeniedError(
                "external recipients are refused",
                capability=request.capability,
                provider=request.provider,
                policy="internal-only",
            )

    with pytest.raises(errors.PolicyDeniedError) as raised:
        send(SEND, _inputs(), sender=outbox, context=STEP, policies=[internal_only])

    assert raised.value.step == "notify"
    assert _eml_files(outbox) == []
    [record] = caplog.records
    assert record.contractgen["outcome"] == "denied"  # type: ignore[attr-defined]


# Error mapping.


def _refused(code: int) -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused({ADDRESS: (code, b"5.1.1 no such user")})


@pytest.mark.parametrize(
    ("error", "kind", "code", "retryable"),
    [
        (_refused(550), errors.InvalidRequestError, "recipient_refused", False),
        (_refused(450), errors.ProviderUnavailableError, "recipient_deferred", True),
        (
            smtplib.SMTPDataError(554, b"5.7.1 spam"),
            errors.InvalidRequestError,
            "message_refused",
            False,
        ),
        (
            smtplib.SMTPDataError(451, b"4.3.0 try later"),
            errors.ProviderUnavailableError,
            "server_busy",
            True,
        ),
        (
            smtplib.SMTPSenderRefused(553, b"not yours", "shop@example.com"),
            errors.PermissionDeniedError,
            "sender_refused",
            False,
        ),
        (
            smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"),
            errors.AuthenticationError,
            "authentication_failed",
            False,
        ),
        (
            smtplib.SMTPConnectError(421, b"too busy"),
            errors.ProviderUnavailableError,
            "server_busy",
            True,
        ),
        (
            smtplib.SMTPHeloError(501, b"bad helo"),
            errors.ProviderError,
            "smtp_error",
            False,
        ),
        (
            smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
            errors.ProviderUnavailableError,
            "connection_lost",
            True,
        ),
        (
            smtplib.SMTPNotSupportedError("STARTTLS extension not supported"),
            errors.ProviderError,
            "smtp_not_supported",
            False,
        ),
        (
            ssl.SSLCertVerificationError("certificate verify failed"),
            errors.ProviderError,
            "tls_failed",
            False,
        ),
        (
            TimeoutError("timed out"),
            errors.ProviderUnavailableError,
            "timeout",
            True,
        ),
        (
            ConnectionRefusedError(111, "Connection refused"),
            errors.ProviderUnavailableError,
            "connection_failed",
            True,
        ),
        (
            socket.gaierror(-2, "Name or service not known"),
            errors.ProviderUnavailableError,
            "connection_failed",
            True,
        ),
    ],
)
def test_delivery_errors_map_onto_the_error_tree(
    error: Exception,
    kind: type[errors.CapabilityError],
    code: str,
    retryable: bool,
) -> None:
    mapped = map_delivery_error(error, capability="send-email", step="notify")

    assert type(mapped) is kind
    assert isinstance(mapped, errors.CapabilityError)
    assert mapped.code == code
    assert mapped.retryable is retryable
    assert mapped.step == "notify"
    assert mapped.provider == "email"
    assert ADDRESS not in str(mapped)


def test_an_unknown_sender_error_is_logged_and_propagates_unchanged(
    templates: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    bug = RuntimeError("bug in a custom sender")

    with pytest.raises(RuntimeError) as raised:
        send(SEND, _inputs(), sender=_Raising(bug, templates))

    assert raised.value is bug
    [record] = caplog.records
    assert record.contractgen["outcome"] == "failed"  # type: ignore[attr-defined]
    assert record.contractgen["error_type"] == "RuntimeError"  # type: ignore[attr-defined]


# Logging.


def test_success_logs_one_record_without_address_body_or_data(
    outbox: OutboxSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    send(SEND, _inputs(subject="Private subject line"), sender=outbox, context=STEP)

    [record] = [r for r in caplog.records if r.name == LOGGER_NAME]
    fields = record.contractgen  # type: ignore[attr-defined]
    assert fields["capability"] == "send-email"
    assert fields["provider"] == "email"
    assert fields["operation"] == "send"
    assert fields["outcome"] == "succeeded"
    assert fields["step_id"] == "notify"
    assert fields["inputs"] == {"template": "note"}
    assert set(fields["outputs"]) == {"messageId"}
    everything = caplog.text + repr(fields)
    for private in (ADDRESS, "Private subject line", *DATA.values()):
        assert private not in everything


def test_an_allow_listed_recipient_is_logged_masked(
    outbox: OutboxSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    operation = EmailOperation(capability="send-email", log_inputs=("to", "template"))

    send(operation, _inputs(), sender=outbox)

    [record] = caplog.records
    fields = record.contractgen  # type: ignore[attr-defined]
    assert fields["inputs"] == {"to": "j***@example.org", "template": "note"}
    assert ADDRESS not in caplog.text


def test_a_failure_logs_the_error_but_no_address(
    templates: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    sender = _Raising(_refused(550), templates)

    with pytest.raises(errors.InvalidRequestError):
        send(SEND, _inputs(), sender=sender, context=STEP)

    [record] = caplog.records
    fields = record.contractgen  # type: ignore[attr-defined]
    assert record.levelno == logging.WARNING
    assert fields["outcome"] == "failed"
    assert fields["error_type"] == "InvalidRequestError"
    assert fields["error_code"] == "recipient_refused"
    assert fields["outputs"] == {}
    for private in (ADDRESS, *DATA.values()):
        assert private not in caplog.text + repr(fields)


def test_an_invalid_input_is_logged_once_as_failed(
    outbox: OutboxSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)

    with pytest.raises(errors.InvalidRequestError):
        send(SEND, _inputs(template="../x"), sender=outbox)

    [record] = caplog.records
    assert record.contractgen["error_code"] == "invalid_template_name"  # type: ignore[attr-defined]


def test_only_the_documented_variable_names_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # HOST and USERNAME are common shell variables; they are not SMTP settings.
    monkeypatch.setenv("HOST", "mail.attacker.invalid")
    monkeypatch.setenv("USERNAME", "someone")
    settings = EmailSettings()
    assert settings.host is None
    assert settings.username is None
