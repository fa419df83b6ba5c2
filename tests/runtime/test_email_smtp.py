"""E-mail sent through a real SMTP server (aiosmtpd on 127.0.0.1) and read back."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from generated._runtime import errors
from generated._runtime.context import CallContext
from generated._runtime.email_calls import (
    EmailOperation,
    EmailSettings,
    SmtpSender,
    build_sender,
    send,
    send_async,
)

if TYPE_CHECKING:
    from tests.fixtures.smtp import SmtpServer, StartSmtpServer

pytestmark = pytest.mark.usefixtures("email_environment")

SEND = EmailOperation(
    capability="send-email",
    log_inputs=("template",),
    log_outputs=("messageId",),
)
FROM = "Shop <shop@example.com>"


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "welcome.txt").write_text(
        "Subject: Welcome, {{ name }}\n\nHello {{ name }}, you owe {{ amount }}.\n"
    )
    (folder / "welcome.html").write_text(
        "<p>Hello {{ name }}, you owe <b>{{ amount }}</b>.</p>\n"
    )
    return folder


def _sender(
    server: SmtpServer,
    templates: Path,
    *,
    username: str | None = None,
    password: str | None = None,
) -> SmtpSender:
    settings = EmailSettings.model_validate(
        {
            "SMTP_HOST": server.host,
            "SMTP_PORT": server.port,
            "SMTP_USERNAME": username,
            "SMTP_PASSWORD": password,
            "SMTP_FROM": FROM,
            "SMTP_STARTTLS": False,
            "SMTP_TIMEOUT": 5.0,
            "EMAIL_TEMPLATES_DIR": templates,
        }
    )
    sender = build_sender(settings)
    assert isinstance(sender, SmtpSender)
    return sender


def test_message_arrives_with_headers_text_and_html(
    smtp_server: SmtpServer, templates: Path
) -> None:
    result = send(
        SEND,
        {
            "to": "Jane Doe <jane.doe@example.org>",
            "template": "welcome",
            "subject": None,
            "data": {"name": "Jane", "amount": "12.00 USD"},
        },
        sender=_sender(smtp_server, templates),
    )

    [received] = smtp_server.messages
    message = received.message
    assert received.mail_from == "shop@example.com"
    assert received.rcpt_tos == ["jane.doe@example.org"]
    assert message["Subject"] == "Welcome, Jane"
    assert message["From"] == FROM
    assert message["To"] == "Jane Doe <jane.doe@example.org>"
    assert message["Date"] is not None
    assert message["Message-ID"] == result["messageId"]
    assert result["messageId"].startswith("<")
    assert result["messageId"].endswith("@example.com>")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content() == "Hello Jane, you owe 12.00 USD.\n"
    assert html.get_content() == "<p>Hello Jane, you owe <b>12.00 USD</b>.</p>\n"


def test_html_is_autoescaped_and_text_is_not(
    smtp_server: SmtpServer, templates: Path
) -> None:
    attack = '<script>alert("x")</script>'

    send(
        SEND,
        {
            "to": "jane@example.org",
            "template": "welcome",
            "data": {
                "name": attack,
                "amount": 1,
            },
        },
        sender=_sender(smtp_server, templates),
    )

    message = smtp_server.messages[0].message
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert attack in text.get_content()
    assert attack not in html.get_content()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html.get_content()
    assert message["Subject"] == f"Welcome, {attack}"


def test_text_only_template_sends_a_plain_message(
    smtp_server: SmtpServer, templates: Path
) -> None:
    (templates / "plain.txt").write_text("Just text for {{ name }}.\n")

    send(
        SEND,
        {
            "to": "jane@example.org",
            "template": "plain",
            "subject": "Hi there",
            "data": {"name": "Jane"},
        },
        sender=_sender(smtp_server, templates),
    )

    message = smtp_server.messages[0].message
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Just text for Jane.\n"
    assert message["Subject"] == "Hi there"


@pytest.mark.parametrize(
    "inputs",
    [
        {"to": "jane@example.org\r\nBcc: all@example.net", "template": "welcome"},
        {"to": "jane@example.org\nBcc: all@example.net", "template": "welcome"},
        {
            "to": "jane@example.org",
            "template": "welcome",
            "subject": "Hello\r\nBcc: all@example.net",
        },
        {
            "to": "jane@example.org",
            "template": "welcome",
            "subject": "Hello\u2028Bcc: all@example.net",
        },
    ],
    ids=["to-crlf", "to-lf", "subject-crlf", "subject-line-separator"],
)
def test_header_injection_is_refused_and_nothing_is_sent(
    smtp_server: SmtpServer, templates: Path, inputs: dict[str, object]
) -> None:
    data = {"name": "Jane", "amount": 1}

    with pytest.raises(errors.InvalidRequestError) as raised:
        send(SEND, {**inputs, "data": data}, sender=_sender(smtp_server, templates))

    assert raised.value.code == "header_injection"
    assert raised.value.retryable is False
    assert smtp_server.messages == []


def test_refused_recipient_is_a_non_retryable_invalid_request(
    smtp_server: SmtpServer, templates: Path
) -> None:
    smtp_server.refused.add("nobody@example.org")

    with pytest.raises(errors.InvalidRequestError) as raised:
        send(
            SEND,
            {
                "to": "nobody@example.org",
                "template": "welcome",
                "data": {"name": "N", "amount": 1},
            },
            sender=_sender(smtp_server, templates),
            context=CallContext(workflow_id="w", run_id="r", step_id="notify"),
        )

    error = raised.value
    assert error.code == "recipient_refused"
    assert error.retryable is False
    assert error.step == "notify"
    assert "550" in error.message
    assert "nobody@example.org" not in str(error)
    assert isinstance(error.__cause__, smtplib.SMTPRecipientsRefused)
    assert smtp_server.messages == []


def test_server_down_is_a_retryable_unavailable_error(
    templates: Path, closed_smtp_port: int
) -> None:
    sender = SmtpSender(
        host="127.0.0.1",
        port=closed_smtp_port,
        from_address=FROM,
        templates_dir=templates,
        starttls=False,
        timeout=5.0,
    )

    with pytest.raises(errors.ProviderUnavailableError) as raised:
        send(
            SEND,
            {
                "to": "jane@example.org",
                "template": "welcome",
                "data": {"name": "J", "amount": 1},
            },
            sender=sender,
        )

    assert raised.value.retryable is True
    assert raised.value.code == "connection_failed"
    assert raised.value.provider == "email"


class _Accounts:
    """An aiosmtpd authenticator that knows one user."""

    def __call__(
        self,
        server: object,
        session: object,
        envelope: object,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        valid = isinstance(auth_data, LoginPassword) and (
            auth_data.login,
            auth_data.password,
        ) == (b"mailer", b"right-password")
        return AuthResult(success=valid, handled=False)


@pytest.fixture
def auth_server(start_smtp_server: StartSmtpServer) -> SmtpServer:
    # aiosmtpd offers AUTH without TLS only when told to; the test server has
    # no certificate.
    return start_smtp_server(authenticator=_Accounts(), auth_require_tls=False)


def test_login_with_the_configured_credentials(
    auth_server: SmtpServer, templates: Path
) -> None:
    sender = _sender(
        auth_server, templates, username="mailer", password="right-password"
    )

    send(
        SEND,
        {
            "to": "jane@example.org",
            "template": "welcome",
            "data": {
                "name": "J",
                "amount": 1,
            },
        },
        sender=sender,
    )

    assert len(auth_server.messages) == 1


def test_refused_login_is_an_authentication_error(
    auth_server: SmtpServer, templates: Path
) -> None:
    sender = _sender(auth_server, templates, username="mailer", password="wrong")

    with pytest.raises(errors.AuthenticationError) as raised:
        send(
            SEND,
            {
                "to": "jane@example.org",
                "template": "welcome",
                "data": {
                    "name": "J",
                    "amount": 1,
                },
            },
            sender=sender,
        )

    assert raised.value.code == "authentication_failed"
    assert raised.value.retryable is False
    assert "wrong" not in str(raised.value)
    assert auth_server.messages == []


def test_send_async_delivers_through_the_server(
    smtp_server: SmtpServer, templates: Path
) -> None:
    result = asyncio.run(
        send_async(
            SEND,
            {
                "to": "jane@example.org",
                "template": "welcome",
                "data": {
                    "name": "Async",
                    "amount": 2,
                },
            },
            sender=_sender(smtp_server, templates),
        )
    )

    [received] = smtp_server.messages
    assert received.message["Message-ID"] == result["messageId"]
    assert received.message["Subject"] == "Welcome, Async"
