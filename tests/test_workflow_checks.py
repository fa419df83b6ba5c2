"""What the workflow checks say about a step, and the hints that come with it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from generator.diagnostics import Diagnostic
from tests.support import Generated, example_with

Generate = Callable[..., Generated]


def _one_step(email: str, capability: str = "stripe-create-customer") -> str:
    return (
        "workflowId: pay\nversion: '1'\nsteps:\n"
        f"  - id: make\n    capability: {capability}\n"
        f"    inputs: {{email: '{email}'}}\n"
    )


def _errors(tree: Generated) -> list[Diagnostic]:
    return [d for d in tree.build.diagnostics.items if d.is_error]


@pytest.mark.parametrize(
    ("expression", "hint"),
    [
        ("${inputs.email}", "did you mean '${input.email}'?"),
        ("${Input.email}", "did you mean '${input.email}'?"),
        ("${step.make.output.email}", "did you mean '${steps.make.output.email}'?"),
        ("${errors.message}", "did you mean '${error.message}'?"),
        ("${inputs}", "did you mean '${input.<name>}'?"),
        ("${INPUT.email}", "did you mean '${input.email}'?"),
        # A correction that would still be wrong gives the root's form.
        ("${inputs.a.b}", "did you mean '${input.<name>}'?"),
        ("${inputs.}", "did you mean '${input.<name>}'?"),
        ("${step.make}", "did you mean '${steps.<id>.output.<field>}'?"),
        ("${step.make.outputs.email}", "did you mean '${steps.<id>.output.<field>}'?"),
        ("${errors.message.x}", "did you mean '${error.<field>}'?"),
    ],
)
def test_a_misspelt_expression_root_is_corrected_in_the_hint(
    generate: Generate, expression: str, hint: str
) -> None:
    specs = {**example_with(), "wf.yaml": _one_step(expression)}

    (error,) = _errors(generate(specs, write=False))

    assert error.code == "W030"
    assert error.message == f"unknown expression '{expression}'"
    assert error.hint == hint


def test_an_unknown_expression_root_lists_the_roots_there_are(
    generate: Generate,
) -> None:
    specs = {**example_with(), "wf.yaml": _one_step("${env.HOME}")}

    (error,) = _errors(generate(specs, write=False))

    assert error.code == "W030"
    assert error.hint is not None
    assert error.hint.startswith("expressions start with input., steps. or error.")


def test_a_custom_capability_cannot_be_a_step_and_the_hint_names_the_ones_that_can(
    generate: Generate,
) -> None:
    specs = example_with()
    specs["score.yaml"] = (
        "capabilityId: score-lead\nprovider: {type: custom}\n"
        "inputs: {email: {type: string}}\n"
    )
    specs["wf.yaml"] = _one_step("${input.email}", capability="score-lead")

    (error,) = _errors(generate(specs, write=False))

    assert error.code == "W050"
    assert error.hint == "workflows call stripe, email, twilio and qdrant capabilities"
