"""E-mail templates: lookup by name, subjects, rendering rules, shipped templates.

Messages go to an outbox folder and are read back from the ``.eml`` file, so
each test sees exactly what would have been sent.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from generated._runtime import errors
from generated._runtime.email_calls import EmailOperation, OutboxSender, send

pytestmark = pytest.mark.usefixtures("email_environment")

SEND = EmailOperation(capability="send-email", log_inputs=("template",))
SHIPPED = Path(__file__).resolve().parents[2] / "email-templates"


def _outbox(tmp_path: Path, templates: Path) -> OutboxSender:
    return OutboxSender(
        directory=tmp_path / "outbox",
        from_address="shop@example.com",
        templates_dir=templates,
    )


def _only_message(sender: OutboxSender) -> EmailMessage:
    [path] = sender.directory.glob("*.eml")
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return cast(str, part.get_content())


def _html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return cast(str, part.get_content())


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    return folder


def _send(
    sender: OutboxSender,
    template: str,
    data: dict[str, object] | None = None,
    **inputs: object,
) -> dict[str, str]:
    return send(
        SEND,
        {"to": "jane@example.org", "template": template, "data": data, **inputs},
        sender=sender,
    )


def test_subject_line_is_rendered_and_left_out_of_the_body(
    tmp_path: Path, templates: Path
) -> None:
    (templates / "note.txt").write_text(
        "Subject: Order {{ order }} shipped\n\nYour order {{ order }} is on its way.\n"
    )
    sender = _outbox(tmp_path, templates)

    _send(sender, "note", {"order": "A-1"})

    message = _only_message(sender)
    assert message["Subject"] == "Order A-1 shipped"
    assert _text(message) == "Your order A-1 is on its way.\n"


def test_input_subject_wins_and_is_not_rendered(
    tmp_path: Path, templates: Path
) -> None:
    (templates / "note.txt").write_text("Subject: {{ missing_from_data }}\n\nBody\n")
    sender = _outbox(tmp_path, templates)

    _send(sender, "note", {}, subject="Your {{ order }}")

    message = _only_message(sender)
    assert message["Subject"] == "Your {{ order }}"
    assert _text(message) == "Body\n"


def test_without_any_subject_the_send_fails_clearly(
    tmp_path: Path, templates: Path
) -> None:
    (templates / "bare.txt").write_text("No subject line here.\n")
    sender = _outbox(tmp_path, templates)

    with pytest.raises(errors.InvalidRequestError) as raised:
        _send(sender, "bare")

    assert raised.value.code == "subject_missing"
    assert "bare.txt" in raised.value.message
    assert not sender.directory.exists()


def test_missing_template_names_the_template_and_the_folder(
    tmp_path: Path, templates: Path
) -> None:
    sender = _outbox(tmp_path, templates)

    with pytest.raises(errors.InvalidRequestError) as raised:
        _send(sender, "no-such-template")

    assert raised.value.code == "template_not_found"
    assert raised.value.retryable is False
    assert "'no-such-template'" in raised.value.message
    assert str(templates.resolve()) in raised.value.message
    assert not sender.directory.exists()


@pytest.mark.parametrize(
    "name",
    [
        "../secret",
        "../../etc/passwd",
        "sub/note",
        "/etc/passwd",
        "note.txt",
        "Note",
        "-note",
        "",
        "note\n",
        "note#subject",
    ],
)
def test_template_names_that_could_leave_the_folder_are_refused(
    tmp_path: Path, templates: Path, name: str
) -> None:
    # A real file outside the folder, and one inside it, that each name
    # could reach if it were used as a path.
    (tmp_path / "secret.txt").write_text("Subject: leaked\n\nsecret\n")
    (templates / "note.txt").write_text("Subject: note\n\nnote\n")
    (templates / "sub").mkdir()
    (templates / "sub" / "note.txt").write_text("Subject: sub\n\nsub\n")
    sender = _outbox(tmp_path, templates)

    with pytest.raises(errors.InvalidRequestError) as raised:
        _send(sender, name)

    assert raised.value.code == "invalid_template_name"
    assert not sender.directory.exists()


def test_a_value_missing_from_data_is_an_error_naming_it(
    tmp_path: Path, templates: Path
) -> None:
    (templates / "note.txt").write_text("Subject: Hi\n\nTotal: {{ total }}\n")
    sender = _outbox(tmp_path, templates)

    with pytest.raises(errors.InvalidRequestError) as raised:
        _send(sender, "note", {"other": 1})

    assert raised.value.code == "template_data_missing"
    assert "total" in raised.value.message
    assert not sender.directory.exists()


def test_syntax_errors_point_at_the_file_line(tmp_path: Path, templates: Path) -> None:
    # Line 4 of the file: the subject line and blank line are cut from the
    # body, yet errors keep the file's numbering.
    (templates / "note.txt").write_text("Subject: Hi\n\nfine\n{% if %}\n")
    sender = _outbox(tmp_path, templates)

    with pytest.raises(errors.InvalidRequestError) as raised:
        _send(sender, "note")

    assert raised.value.code == "template_syntax"
    assert "note.txt:4" in raised.value.message


def test_a_rendered_subject_with_a_line_break_is_refused(
    tmp_path: Path, templates: Path
) -> None:
    (templates / "note.txt").write_text("Subject: Hello {{ name }}\n\nBody\n")
    sender = _outbox(tmp_path, templates)

    with pytest.raises(errors.InvalidRequestError) as raised:
        _send(sender, "note", {"name": "Jane\r\nBcc: all@example.net"})

    assert raised.value.code == "header_injection"
    assert not sender.directory.exists()


def test_only_html_templates_are_autoescaped(tmp_path: Path, templates: Path) -> None:
    (templates / "note.txt").write_text("Subject: {{ v }}\n\ntext {{ v }}\n")
    (templates / "note.html").write_text("<p>{{ v }}</p>\n")
    sender = _outbox(tmp_path, templates)

    _send(sender, "note", {"v": "<b>&</b>"})

    message = _only_message(sender)
    assert message["Subject"] == "<b>&</b>"
    assert _text(message) == "text <b>&</b>\n"
    assert _html(message) == "<p>&lt;b&gt;&amp;&lt;/b&gt;</p>\n"


def test_a_changed_template_file_is_picked_up(tmp_path: Path, templates: Path) -> None:
    path = templates / "note.txt"
    path.write_text("Subject: one\n\none\n")
    sender = _outbox(tmp_path, templates)
    _send(sender, "note")
    for old in sender.directory.glob("*.eml"):
        old.unlink()

    path.write_text("Subject: two\n\ntwo, now longer\n")
    _send(sender, "note")

    assert _only_message(sender)["Subject"] == "two"


# The shipped templates, with the data the process-payment workflow sends.


def test_payment_link_shows_the_amount_in_units_and_the_link(
    tmp_path: Path,
) -> None:
    sender = _outbox(tmp_path, SHIPPED)

    _send(
        sender,
        "payment-link",
        {"clientSecret": "pi_123_secret_456", "amount": 12345},
    )

    message = _only_message(sender)
    assert message["Subject"] == "Complete your payment of 123.45 USD"
    text = _text(message)
    assert "123.45 USD" in text
    assert "payment_intent_client_secret=pi_123_secret_456" in text
    assert "{{" not in text and "{%" not in text
    html = _html(message)
    assert "<strong>123.45 USD</strong>" in html
    assert 'href="https://example.com/pay?payment_intent_client_secret=' in html


def test_payment_link_uses_optional_values_when_given(tmp_path: Path) -> None:
    sender = _outbox(tmp_path, SHIPPED)

    _send(
        sender,
        "payment-link",
        {
            "clientSecret": "pi_1_secret_2",
            "amount": 500,
            "currency": "eur",
            "name": "Ada",
            "paymentPageUrl": "https://shop.example/checkout",
        },
    )

    message = _only_message(sender)
    assert message["Subject"] == "Complete your payment of 5.00 EUR"
    assert _text(message).startswith("Hello Ada,\n")
    assert "https://shop.example/checkout?payment_intent_client_secret=" in (
        _html(message)
    )


def test_payment_error_works_with_and_without_the_intent(tmp_path: Path) -> None:
    without = _outbox(tmp_path / "a", SHIPPED)
    with_intent = _outbox(tmp_path / "b", SHIPPED)

    _send(without, "payment-error", {"error": "Your card was declined."})
    _send(
        with_intent,
        "payment-error",
        {"error": "Your card was declined.", "intent": "pi_9"},
    )

    first = _only_message(without)
    assert first["Subject"] == "A payment failed"
    assert "Error: Your card was declined.\n" in _text(first)
    assert "Payment intent" not in _text(first)
    second = _only_message(with_intent)
    assert second["Subject"] == "A payment failed (pi_9)"
    assert "Payment intent: pi_9\n" in _text(second)


def test_payment_succeeded_names_amount_and_reference(tmp_path: Path) -> None:
    sender = _outbox(tmp_path, SHIPPED)

    _send(sender, "payment-succeeded", {"amount": 1999, "paymentIntentId": "pi_77"})

    message = _only_message(sender)
    assert message["Subject"] == "Payment received: 19.99 USD"
    assert "Payment reference: pi_77\n" in _text(message)
