"""What the Twilio binding decides at generation time.

Phone-number inputs get the E.164 pattern in the generated model, and a spec
that names an operation, input or output the catalog and twilio-python do
not have is a diagnostic with the valid names nearby, not a runtime 400.
"""

from __future__ import annotations

from collections.abc import Callable

from generator.bindings.twilio import CATALOG, E164_PATTERN
from generator.diagnostics import Diagnostic
from tests.support import Generated

Generate = Callable[..., Generated]

_SEND_SMS = """\
capabilityId: twilio-text
provider: {type: twilio, operation: sendSms}
inputs:
  to: {type: string}
  body: {type: string}
  from: {type: string, optional: true}
outputs:
  messageSid: {type: string}
  status: {type: string}
"""


def _only(tree: Generated, code: str) -> Diagnostic:
    [found] = [d for d in tree.build.diagnostics.items if d.code == code]
    return found


def _spec(text: str) -> dict[str, str]:
    return {"capabilities/twilio-text.yaml": text}


def test_phone_number_inputs_carry_the_e164_pattern(generate: Generate) -> None:
    tree = generate(_spec(_SEND_SMS))

    assert tree.ok, tree.diagnostics()
    model = tree.module("twilio.text").TextInput
    for name in ("to", "from_"):
        [pattern] = [
            m.pattern
            for m in model.model_fields[name].metadata
            if hasattr(m, "pattern")
        ]
        assert pattern == E164_PATTERN
    assert not any(hasattr(m, "pattern") for m in model.model_fields["body"].metadata)


def test_every_catalog_operation_generates(generate: Generate) -> None:
    specs = {
        "capabilities/twilio-send.yaml": _SEND_SMS.replace(
            "twilio-text", "twilio-send"
        ),
        "capabilities/twilio-fetch.yaml": (
            "capabilityId: twilio-fetch\n"
            "provider: {type: twilio, operation: getMessage}\n"
            "inputs: {messageSid: {type: string}}\n"
            "outputs: {status: {type: string}, to: {type: string, nullable: true}}\n"
        ),
    }

    tree = generate(specs)

    assert tree.ok, tree.diagnostics()
    assert set(CATALOG) == {"sendSms", "getMessage"}


def test_unknown_operation_suggests_the_closest(generate: Generate) -> None:
    tree = generate(_spec(_SEND_SMS.replace("sendSms", "sendSMS")), write=False)

    found = _only(tree, "C030")
    assert "unknown Twilio operation 'sendSMS'" in found.message
    assert found.hint == "did you mean 'sendSms'?"


def test_unknown_input_suggests_the_closest(generate: Generate) -> None:
    tree = generate(
        _spec(_SEND_SMS.replace("  body: {type: string}", "  bodyy: {type: string}")),
        write=False,
    )

    found = _only(tree, "C031")
    assert "no input 'bodyy'" in found.message
    assert found.hint == "did you mean 'body'?"
    assert "needs the input 'body'" in _only(tree, "C032").message


def test_unknown_output_suggests_the_closest(generate: Generate) -> None:
    tree = generate(
        _spec(
            _SEND_SMS.replace("  status: {type: string}", "  statuss: {type: string}")
        ),
        write=False,
    )

    found = _only(tree, "C033")
    assert "output 'statuss'" in found.message
    assert found.hint is not None and "'status'" in found.hint


def test_a_phone_number_must_be_text(generate: Generate) -> None:
    tree = generate(
        _spec(_SEND_SMS.replace("  to: {type: string}", "  to: {type: integer}")),
        write=False,
    )

    assert "declared integer" in _only(tree, "C034").message


def test_a_spec_binding_is_refused_for_twilio(generate: Generate) -> None:
    tree = generate(
        _spec(
            _SEND_SMS.replace(
                "provider: {type: twilio, operation: sendSms}",
                "provider: {type: twilio, operation: sendSms, binding: {method: x}}",
            )
        ),
        write=False,
    )

    assert _only(tree, "C035").hint == "remove `provider.binding`"
