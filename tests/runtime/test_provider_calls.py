"""The course every provider call takes, with a stand-in provider.

``EchoCall`` knows no SDK: it maps ``ConnectionError`` and refuses a
``PermissionError`` in a policy's name, so each outcome of the shared course
can be driven directly. The provider modules' own tests cover their parts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import pytest

from generated._runtime import errors
from generated._runtime.context import CallContext
from generated._runtime.policies import PolicyRequest
from generated._runtime.provider_calls import ProviderCall

STEP = CallContext(workflow_id="onboard", run_id="run-3", step_id="greet")


class EchoCall(ProviderCall[dict[str, object]]):
    """A provider that returns what it is given; it counts its log reads."""

    provider = "echo"

    def __init__(self, params: Mapping[str, object], context: CallContext | None):
        super().__init__("echo-say", "say", context)
        self.params = params
        self.reads = 0

    def map_error(self, err: Exception) -> Exception:
        if isinstance(err, ConnectionError):
            return errors.ProviderUnavailableError(
                "echo is down",
                capability=self.capability,
                provider=self.provider,
                code="down",
                step=self.step,
            )
        if isinstance(err, PermissionError):
            return errors.PolicyDeniedError(
                "echo refuses",
                capability=self.capability,
                provider=self.provider,
                policy="echo-owner",
            )
        return err

    def log_inputs(self) -> dict[str, object]:
        self.reads += 1
        return {"text": self.params.get("text")}

    def log_outputs(self, result: dict[str, object]) -> dict[str, object]:
        self.reads += 1
        return {"echo": result.get("echo")}

    def request_id(self, result: dict[str, object]) -> str | None:
        return "req_echo"


def _raise(err: Exception) -> dict[str, object]:
    raise err


def _deny(request: PolicyRequest, /) -> None:
    raise errors.PolicyDeniedError(
        f"no {request.operation} in {request.environment}",
        capability=request.capability,
        provider=request.provider,
        policy="quiet",
    )


def _fields(record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = record.contractgen  # type: ignore[attr-defined]
    return fields


def test_success_is_one_info_record_with_the_providers_fields(
    call_records: list[logging.LogRecord],
) -> None:
    call = EchoCall({"text": "hi"}, STEP)
    call.idempotency_key = "cg-1"

    assert call.invoke(lambda: {"echo": "hi"}) == {"echo": "hi"}

    [record] = call_records
    assert record.levelno == logging.INFO
    fields = _fields(record)
    assert fields["capability"] == "echo-say"
    assert fields["provider"] == "echo"
    assert fields["operation"] == "say"
    assert fields["step_id"] == "greet"
    assert fields["outcome"] == "succeeded"
    assert fields["idempotency_key"] == "cg-1"
    assert fields["request_id"] == "req_echo"
    assert fields["inputs"] == {"text": "hi"}
    assert fields["outputs"] == {"echo": "hi"}
    assert isinstance(fields["duration_ms"], float) and fields["duration_ms"] >= 0


def test_a_mapped_failure_is_raised_chained_and_logged_once(
    call_records: list[logging.LogRecord],
) -> None:
    cause = ConnectionError("refused")

    with pytest.raises(errors.ProviderUnavailableError) as raised:
        EchoCall({"text": "hi"}, STEP).invoke(lambda: _raise(cause))

    assert raised.value.__cause__ is cause
    assert raised.value.step == "greet"
    [record] = call_records
    assert record.levelno == logging.WARNING
    fields = _fields(record)
    assert fields["outcome"] == "failed"
    assert fields["error_type"] == "ProviderUnavailableError"
    assert fields["error_code"] == "down"
    assert fields["outputs"] == {}


def test_an_unexpected_exception_propagates_unchanged_and_is_logged_once(
    call_records: list[logging.LogRecord],
) -> None:
    bug = KeyError("echo")

    with pytest.raises(KeyError) as raised:
        EchoCall({"text": "hi"}, None).invoke(lambda: _raise(bug))

    assert raised.value is bug
    assert raised.value.__cause__ is None
    [record] = call_records
    assert _fields(record)["outcome"] == "failed"
    assert _fields(record)["error_type"] == "KeyError"


def test_a_failure_mapped_to_a_denial_is_logged_as_denied_with_its_step(
    call_records: list[logging.LogRecord],
) -> None:
    with pytest.raises(errors.PolicyDeniedError) as raised:
        EchoCall({"text": "hi"}, STEP).invoke(lambda: _raise(PermissionError()))

    assert raised.value.step == "greet"
    [record] = call_records
    assert _fields(record)["outcome"] == "denied"
    assert _fields(record)["error_code"] == "policy_denied"


def test_a_policy_denial_stops_the_call_before_the_provider(
    call_records: list[logging.LogRecord],
) -> None:
    call = EchoCall({"text": "hi"}, STEP)

    with pytest.raises(errors.PolicyDeniedError) as raised:
        call.check_policies(
            [_deny], call.params, api_key_mode=None, environment="staging"
        )

    assert str(raised.value) == (
        "echo-say (step greet) failed [policy_denied]: no say in staging"
    )
    [record] = call_records
    fields = _fields(record)
    assert (fields["outcome"], fields["duration_ms"]) == ("denied", 0.0)
    assert fields["idempotency_key"] is None
    assert fields["inputs"] == {"text": "hi"}


def test_a_check_failing_before_sending_is_logged_as_failed(
    call_records: list[logging.LogRecord],
) -> None:
    invalid = errors.InvalidRequestError(
        "no text", capability="echo-say", provider="echo", code="no_text"
    )

    EchoCall({}, None).log_unsent(invalid)

    [record] = call_records
    assert _fields(record)["outcome"] == "failed"
    assert _fields(record)["error_code"] == "no_text"


def test_the_clock_runs_from_start_clock_when_the_provider_starts_it(
    call_records: list[logging.LogRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter([10.0, 10.25])
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))
    call = EchoCall({"text": "hi"}, None)
    call.start_clock()

    call.log_unsent(ValueError("bad template"))

    assert _fields(call_records[0])["duration_ms"] == 250.0


def test_nothing_is_read_for_a_record_the_logger_drops(
    call_records: list[logging.LogRecord],
) -> None:
    logging.getLogger("contractgen.calls").setLevel(logging.ERROR)
    call = EchoCall({"text": "hi"}, None)

    call.invoke(lambda: {"echo": "hi"})
    with pytest.raises(errors.ProviderUnavailableError):
        call.invoke(lambda: _raise(ConnectionError()))

    assert (call.reads, call_records) == (0, [])


def test_ainvoke_has_the_same_outcomes(
    call_records: list[logging.LogRecord],
) -> None:
    async def echo() -> dict[str, object]:
        return {"echo": "hi"}

    async def down() -> dict[str, object]:
        raise ConnectionError("refused")

    assert asyncio.run(EchoCall({"text": "hi"}, None).ainvoke(echo)) == {"echo": "hi"}
    with pytest.raises(errors.ProviderUnavailableError) as raised:
        asyncio.run(EchoCall({"text": "hi"}, None).ainvoke(down))

    assert isinstance(raised.value.__cause__, ConnectionError)
    assert [_fields(r)["outcome"] for r in call_records] == ["succeeded", "failed"]
