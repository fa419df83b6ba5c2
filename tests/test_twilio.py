"""The generated Twilio wrappers against a local server speaking Twilio's API.

The server answers on 127.0.0.1 in the JSON shape Twilio documents for the
Message resource and its errors, and records every request, so each test
asserts the exact request Twilio would receive: method, path, form fields
and basic auth. The official client is pointed at it with TWILIO_API_BASE.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pydantic
import pytest
from twilio.request_validator import RequestValidator

from generated import Capabilities
from generated._runtime import errors, twilio_calls
from generated._runtime.policies import PolicyRequest
from generated.twilio import (
    GetMessageInput,
    SendSmsInput,
    get_message,
    send_sms,
    send_sms_async,
)

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tw-auth-token-7f3a9c"
MESSAGE_SID = "SM" + "fedcba9876543210" * 2
FROM = "+15017122661"
TO = "+15558675310"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class FakeTwilio:
    """What the local server received, and what it answers next."""

    base: str = ""
    requests: list[Received] = field(default_factory=list)
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def last(self) -> Received:
        return self.requests[-1]


def _message(**overrides: Any) -> dict[str, Any]:
    """A Message resource as Twilio's API documents it."""
    resource: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": "Your code is 1234",
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
        "date_sent": None,
        "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": FROM,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": MESSAGE_SID,
        "status": "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
            f"{MESSAGE_SID}/Media.json"
        },
        "to": TO,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json",
    }
    resource.update(overrides)
    return resource


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    state = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            state.requests.append(
                Received(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    form=parse_qs(body),
                )
            )
            status, payload = (
                state.replies.pop(0) if state.replies else (201, _message())
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output to the assertions

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def twilio_env(
    fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FakeTwilio]:
    """Settings for the local server, with nothing leaking in from the shell."""
    monkeypatch.chdir(tmp_path)  # no .env
    for name in ("TWILIO_EDGE", "TWILIO_REGION", "CONTRACTGEN_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_FROM", FROM)
    monkeypatch.setenv("TWILIO_API_BASE", fake_twilio.base)
    twilio_calls.default_settings.cache_clear()
    twilio_calls.default_client.cache_clear()
    yield fake_twilio
    twilio_calls.default_settings.cache_clear()
    twilio_calls.default_client.cache_clear()


def _basic_auth(received: Received) -> tuple[str, str]:
    scheme, _, encoded = received.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password


def test_send_sms_posts_the_request_twilio_documents(twilio_env: FakeTwilio) -> None:
    output = send_sms(SendSmsInput(to=TO, body="Your code is 1234"))

    received = twilio_env.last
    assert (received.method, received.path) == ("POST", MESSAGES_PATH)
    assert received.form == {"To": [TO], "From": [FROM], "Body": ["Your code is 1234"]}
    assert _basic_auth(received) == (ACCOUNT_SID, AUTH_TOKEN)
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert output.message_sid == MESSAGE_SID
    assert output.status == "queued"
    assert output.error_code is None


def test_send_sms_from_input_overrides_twilio_from(twilio_env: FakeTwilio) -> None:
    send_sms(
        SendSmsInput.model_validate(
            {
                "to": TO,
                "body": "hi",
                "from": "+442071838750",
                "statusCallback": "https://example.com/twilio/status",
            }
        )
    )

    assert twilio_env.last.form == {
        "To": [TO],
        "From": ["+442071838750"],
        "Body": ["hi"],
        "StatusCallback": ["https://example.com/twilio/status"],
    }


def test_send_sms_without_any_sender_fails_before_a_request(
    twilio_env: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWILIO_FROM")
    twilio_calls.default_settings.cache_clear()
    twilio_calls.default_client.cache_clear()

    with pytest.raises(errors.InvalidRequestError) as raised:
        send_sms(SendSmsInput(to=TO, body="hi"))

    assert raised.value.code == "missing_sender"
    assert twilio_env.requests == []


def test_get_message_fetches_the_message_by_sid(twilio_env: FakeTwilio) -> None:
    twilio_env.replies.append(
        (
            200,
            _message(
                status="undelivered",
                error_code=30003,
                error_message="Unreachable destination handset",
                date_sent="Thu, 24 Aug 2023 05:01:47 +0000",
            ),
        )
    )

    output = get_message(GetMessageInput(message_sid=MESSAGE_SID))

    received = twilio_env.last
    assert received.method == "GET"
    assert received.path == (
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json"
    )
    assert _basic_auth(received) == (ACCOUNT_SID, AUTH_TOKEN)
    assert output.status == "undelivered"
    assert output.error_code == 30003
    assert output.error_message == "Unreachable destination handset"
    assert output.date_sent == datetime(2023, 8, 24, 5, 1, 47, tzinfo=UTC)


def test_invalid_to_is_an_invalid_request_keeping_twilios_code(
    twilio_env: FakeTwilio,
) -> None:
    twilio_env.replies.append(
        (
            400,
            {
                "code": 21211,
                "message": f"The 'To' number {TO} is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            },
        )
    )

    with pytest.raises(errors.InvalidRequestError) as raised:
        send_sms(SendSmsInput(to=TO, body="hi"))

    error = raised.value
    assert error.code == "21211"
    assert error.provider == "twilio"
    assert error.retryable is False
    assert "HTTP 400" in error.message
    assert TO not in error.message  # the number is masked, even in errors


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, errors.AuthenticationError),
        (429, errors.RateLimitedError),
        (503, errors.ProviderUnavailableError),
    ],
)
def test_http_statuses_map_onto_the_error_tree(
    twilio_env: FakeTwilio, status: int, expected: type[errors.CapabilityError]
) -> None:
    twilio_env.replies.append(
        (status, {"code": 20000 + status, "message": "no", "status": status})
    )

    with pytest.raises(expected) as raised:
        send_sms(SendSmsInput(to=TO, body="hi"))

    assert raised.value.code == str(20000 + status)


def test_unreachable_twilio_is_provider_unavailable(
    twilio_env: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_API_BASE", "http://127.0.0.1:9")  # discard port
    twilio_calls.default_settings.cache_clear()
    twilio_calls.default_client.cache_clear()

    with pytest.raises(errors.ProviderUnavailableError) as raised:
        send_sms(SendSmsInput(to=TO, body="hi"))

    assert raised.value.retryable is True


@pytest.mark.parametrize("number", ["5558675310", "+05558675310", "+1 555 867"])
def test_non_e164_numbers_are_rejected_before_any_request(
    twilio_env: FakeTwilio, number: str
) -> None:
    with pytest.raises(pydantic.ValidationError):
        SendSmsInput(to=number, body="hi")
    with pytest.raises(pydantic.ValidationError):
        SendSmsInput.model_validate({"to": TO, "body": "hi", "from": number})

    assert twilio_env.requests == []


def test_policies_run_before_the_call_and_see_the_sender(
    twilio_env: FakeTwilio,
) -> None:
    seen: list[PolicyRequest] = []

    def deny(request: PolicyRequest, /) -> None:
        seen.append(request)
        raise errors.PolicyDeniedError(
            "no texts today",
            capability=request.capability,
            provider=request.provider,
            policy="deny-all",
        )

    with pytest.raises(errors.PolicyDeniedError):
        send_sms(SendSmsInput(to=TO, body="hi"), policies=[deny])

    assert twilio_env.requests == []
    assert seen[0].params["from_"] == FROM


def test_async_wrapper_and_container_send_the_same_request(
    twilio_env: FakeTwilio,
) -> None:
    asyncio.run(send_sms_async(SendSmsInput(to=TO, body="async")))
    Capabilities.from_env().send_sms(SendSmsInput(to=TO, body="container"))

    bodies = [r.form["Body"] for r in twilio_env.requests]
    assert bodies == [["async"], ["container"]]
    assert {r.path for r in twilio_env.requests} == {MESSAGES_PATH}


def test_one_log_record_per_call_with_numbers_masked_and_no_token(
    twilio_env: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # twilio-python's own request log too

    send_sms(SendSmsInput(to=TO, body="secret body text"))
    twilio_env.replies.append(
        (400, {"code": 21211, "message": f"bad number {TO}", "status": 400})
    )
    with pytest.raises(errors.InvalidRequestError):
        send_sms(SendSmsInput(to=TO, body="secret body text"))

    records = [r.__dict__ for r in caplog.records if r.name == "contractgen.calls"]
    assert [r["contractgen"]["outcome"] for r in records] == ["succeeded", "failed"]
    succeeded, failed = (r["contractgen"] for r in records)
    assert succeeded["provider"] == "twilio"
    assert succeeded["inputs"] == {"to": "+15*******10", "from_": "+15*******61"}
    assert succeeded["outputs"] == {
        "sid": MESSAGE_SID,
        "status": "queued",
        "error_code": None,
    }
    assert failed["error_code"] == "21211"
    everything = caplog.text + "".join(
        json.dumps(r.__dict__, default=str) for r in caplog.records
    )
    assert AUTH_TOKEN not in everything
    assert TO not in everything
    assert "secret body text" not in everything


def _signed(url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(AUTH_TOKEN).compute_signature(url, params))


def test_status_callback_signature_verifies(twilio_env: FakeTwilio) -> None:
    url = "https://example.com/twilio/status?tenant=7"
    params = {"MessageSid": MESSAGE_SID, "MessageStatus": "delivered"}

    assert twilio_calls.verify_status_callback(url, params, _signed(url, params))


def test_tampered_status_callback_fails_verification(twilio_env: FakeTwilio) -> None:
    url = "https://example.com/twilio/status"
    params = {"MessageSid": MESSAGE_SID, "MessageStatus": "delivered"}
    signature = _signed(url, params)

    tampered = {**params, "MessageStatus": "failed"}
    assert not twilio_calls.verify_status_callback(url, tampered, signature)
    assert not twilio_calls.verify_status_callback(url + "?x=1", params, signature)
    assert not twilio_calls.verify_status_callback(url, params, None)
    assert not twilio_calls.verify_status_callback(
        url, params, signature, auth_token="another-token"
    )


def test_settings_are_read_only_from_their_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("AUTH_TOKEN", AUTH_TOKEN)

    with pytest.raises(pydantic.ValidationError):
        twilio_calls.TwilioSettings()


def test_missing_settings_name_the_variables_not_the_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_FROM", "not-a-number")

    with pytest.raises(errors.SettingsError) as raised:
        twilio_calls.load_settings()

    assert str(raised.value) == (
        "TWILIO_ACCOUNT_SID is not set, and TWILIO_FROM is invalid: set or fix "
        "them in the environment or in .env"
    )
    assert "not-a-number" not in str(raised.value)
    assert AUTH_TOKEN not in str(raised.value)


def test_settings_reject_a_non_e164_default_sender(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_FROM", "5017122661")

    with pytest.raises(pydantic.ValidationError, match=r"E\.164"):
        twilio_calls.TwilioSettings()
