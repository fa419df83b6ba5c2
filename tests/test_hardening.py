"""Inputs found by trying to break the generator: each must get a diagnostic
or correct code, never a traceback, a clash or code that does not import."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support import Generated, contractgen, example_with, write_specs

Generate = Callable[..., Generated]


def _errors(tree: Generated) -> list[str]:
    return [d.code for d in tree.build.diagnostics.items if d.is_error]


def test_capabilities_of_different_providers_cannot_share_a_python_name(
    generate: Generate,
) -> None:
    specs = example_with()
    specs["clash.yaml"] = (
        "capabilityId: stripe-send-email\n"
        "provider: {type: stripe, operation: createCustomer}\n"
        "inputs: {email: {type: string}}\n"
        "---\n"
        "capabilityId: stripe-from-env\n"
        "provider: {type: stripe, operation: createCustomer}\n"
        "inputs: {email: {type: string}}\n"
    )
    tree = generate(specs)
    assert _errors(tree) == ["C002", "C002"]
    text = tree.diagnostics()
    assert "'SendEmailInput', which capability 'send-email' already defines" in text
    assert "'from_env', which the Capabilities container already defines" in text


def test_ids_differing_only_by_a_hyphen_are_a_clash(generate: Generate) -> None:
    tree = generate(
        {
            "a.yaml": "capabilityId: v2\nprovider: {type: custom}\n",
            "b.yaml": "capabilityId: v-2\nprovider: {type: custom}\n",
        }
    )
    assert _errors(tree) == ["C002"]


def test_workflow_ids_that_are_keywords_or_engine_names_get_safe_names(
    generate: Generate,
) -> None:
    specs = example_with()
    for workflow_id in ("class", "ran", "blank-if-none"):
        specs[f"{workflow_id}.yaml"] = (
            f"workflowId: {workflow_id}\nversion: '1'\nsteps:\n"
            "  - id: make\n    capability: stripe-create-customer\n"
            "    inputs: {email: '${input.email}'}\n"
        )
    tree = generate(specs)
    assert tree.ok, tree.diagnostics()
    assert tree.module("workflows.class_").class_.__name__ == "class_"
    assert tree.module("workflows.ran_").ran_.__name__ == "ran_"
    blank = tree.module("workflows.blank_if_none_")
    assert blank.blank_if_none_.__name__ == "blank_if_none_"


def test_inferred_inputs_whose_python_names_clash_are_reported(
    generate: Generate,
) -> None:
    specs = example_with()
    specs["wf.yaml"] = (
        "workflowId: pay\nversion: '1'\nsteps:\n"
        "  - id: make\n    capability: stripe-create-customer\n"
        "    inputs: {email: '${input.customerId}', name: '${input.customer_id}'}\n"
    )
    assert _errors(generate(specs)) == ["W044"]


def test_escaped_expression_is_plain_text(generate: Generate) -> None:
    specs = example_with()
    specs["wf.yaml"] = (
        "workflowId: pay\nversion: '1'\nsteps:\n"
        "  - id: make\n    capability: stripe-create-customer\n"
        "    inputs: {email: '${input.email}', name: 'Cost: $${input.x}'}\n"
    )
    tree = generate(specs)
    assert tree.ok, tree.diagnostics()
    source = (tree.output / "workflows" / "pay.py").read_text("utf-8")
    assert 'name="Cost: ${input.x}"' in source
    assert 'f"' not in source


def test_a_path_past_a_step_output_field_is_an_error(generate: Generate) -> None:
    specs = example_with()
    specs["wf.yaml"] = (
        "workflowId: pay\nversion: '1'\nsteps:\n"
        "  - id: make\n    capability: stripe-create-customer\n"
        "    inputs: {email: '${input.email}'}\n    onSuccess: again\n"
        "  - id: again\n    capability: stripe-create-customer\n"
        "    inputs: {email: '${steps.make.output.email.domain}'}\n"
    )
    assert _errors(generate(specs)) == ["W030"]


def test_lone_surrogates_and_empty_documents(generate: Generate) -> None:
    surrogate = 'description: "\\ud800"\n'  # a YAML escape for half a character
    tree = generate(
        {
            "a.yaml": "capabilityId: a\nprovider: {type: custom}\n" + surrogate,
            "b.yaml": "---\n",
        }
    )
    assert _errors(tree) == ["Y007"]


def test_links_to_files_outside_the_specs_folder_are_not_read(tmp_path: Path) -> None:
    write_specs(tmp_path, example_with())
    secret = tmp_path / "secret.txt"
    secret.write_text("capabilityId: leaked-secret-line\n")
    os.symlink(secret, tmp_path / "specs" / "linked.yaml")

    run = contractgen("validate", "--specs", "specs", cwd=tmp_path)

    assert run.returncode == 2
    assert "error[Y008]" in run.stderr
    assert "leaked-secret-line" not in run.stderr


def test_unknown_key_hints_come_from_the_keys_allowed_there(generate: Generate) -> None:
    tree = generate(
        {"a.yaml": "capabilityId: a\nprovider: {type: custom, integraton: x}\n"}
    )
    text = tree.diagnostics()
    assert "unknown key 'integraton'" in text
    assert "'integration'" not in text  # a key of another kind of document


def test_package_names_that_would_break_imports_are_refused(tmp_path: Path) -> None:
    write_specs(tmp_path, example_with())
    for name in ("class", "stripe"):
        run = contractgen(
            "generate", "--package", name, "--output", "out", cwd=tmp_path
        )
        assert run.returncode == 2, name
        assert "package name" in run.stderr
    assert not (tmp_path / "out").exists()


def test_integer_spec_amounts_in_workflow_literals_must_be_finite(
    generate: Generate,
) -> None:
    specs = example_with()
    specs["wf.yaml"] = (
        "workflowId: pay\nversion: '1'\nsteps:\n"
        "  - id: charge\n    capability: stripe-create-payment-intent\n"
        "    inputs: {amount: .inf}\n"
    )
    assert "W045" in _errors(generate(specs))


def test_a_syntax_error_at_the_end_of_a_file_is_a_diagnostic(
    generate: Generate,
) -> None:
    for text in ("capabilityId: [oops\n", 'capabilityId: "unterminated\n'):
        assert _errors(generate({"a.yaml": text})) == ["Y001"], text


def test_phone_numbers_must_be_ascii_digits(generate: Generate) -> None:
    tree = generate(example_with())
    assert tree.ok, tree.diagnostics()
    model = tree.module("twilio.send_sms").SendSmsInput
    model.model_validate({"to": "+14155550100", "body": "hi"})
    for spoofed in (
        "+1\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10",
        "+1\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660",
    ):
        with pytest.raises(ValidationError):
            model.model_validate({"to": spoofed, "body": "hi"})
