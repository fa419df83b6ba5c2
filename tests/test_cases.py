"""The edge cases every release must handle, one kind of trouble per test.

The spec files under tests/cases/ stand for whole kinds of input: awkward
field names, text that looks like code, defaults versus optional versus
nullable, and workflows with broken routing.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from tests.support import Generated, contractgen, example_with, write_specs

CASES = Path(__file__).parent / "cases"
Generate = Callable[..., Generated]


def _case(name: str) -> dict[str, str]:
    return {name: (CASES / name).read_text(encoding="utf-8")}


def test_awkward_names_import_cleanly_with_warnings_as_errors(
    generate: Generate,
) -> None:
    tree = generate(_case("names.yaml"))
    assert tree.ok, tree.diagnostics()
    # A fresh interpreter, so that no earlier import hides a warning.
    code = (
        "import warnings, sys; warnings.simplefilter('error'); "
        f"sys.path.insert(0, {str(tree.root)!r}); "
        f"import {tree.package}.custom.demo_awkward_names"
    )
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_awkward_names_become_safe_attributes(generate: Generate) -> None:
    module = generate(_case("names.yaml")).module("custom.demo_awkward_names")
    shadowable = set(dir(builtins)) | set(dir(BaseModel))
    for model in (module.DemoAwkwardNamesInput, module.DemoAwkwardNamesOutput):
        for attribute in model.model_fields:
            assert attribute.isidentifier() and attribute.isascii()
            assert not keyword.iskeyword(attribute)
            assert not keyword.issoftkeyword(attribute)
            assert attribute not in shadowable, attribute


def test_awkward_names_accept_and_emit_spec_names(generate: Generate) -> None:
    module = generate(_case("names.yaml")).module("custom.demo_awkward_names")
    model = module.DemoAwkwardNamesInput
    wire = {
        "email": "a@example.com",
        "from": "b@example.com",
        "class": "gold",
        "str": "s",
        "type": "t",
        "schema": {"k": 1},
        "json": "j",
        "model_config": "m",
        "copy": True,
    }
    by_spec_name = model.model_validate(wire)
    assert by_spec_name.model_dump() == wire
    assert by_spec_name.model_dump_json().startswith('{"email":"a@example.com","from"')

    by_python_name = model(
        email="a@example.com",
        from_="b@example.com",
        class_="gold",
        str_="s",
        type_="t",
        schema_={"k": 1},
        json_="j",
        model_config_="m",
        copy_=True,
    )
    assert by_python_name == by_spec_name

    output = module.DemoAwkwardNamesOutput.model_validate(
        {"customerId": "cus_1", "model_id": "m1", "validate": "v"}
    )
    assert output.model_dump() == {
        "customerId": "cus_1",
        "model_id": "m1",
        "validate": "v",
    }


def test_descriptions_stay_text(generate: Generate) -> None:
    tree = generate(_case("descriptions.yaml"))
    assert tree.ok, tree.diagnostics()
    for path in tree.output.rglob("*.py"):
        raw = path.read_bytes()
        assert b"\r" not in raw, path
        ast.parse(raw.decode("utf-8"), filename=str(path))

    module = tree.module("custom.demo_tricky_text")
    fields = module.DemoTrickyTextInput.model_fields
    assert fields["email"].description == 'Matches \\d+@\\w+ and ends with a quote"'
    assert fields["name"].description == (
        'Has """ inside, a {{ 7 * 7 }} and a ${input.email} that are not code'
    )
    assert fields["note"].description == "Montant en €, délai ≤ 30 jours — 日本語"
    output = module.DemoTrickyTextOutput.model_fields["customer_id"]
    assert output.description == "'''single''' and \"\"\"double\"\"\" quotes"
    source = (tree.output / "custom" / "demo_tricky_text.py").read_text("utf-8")
    assert "49" not in source  # the template expression was never evaluated
    assert "日本語" in source  # non-ASCII written as itself, in UTF-8


def test_default_is_not_optional_and_nullable_is_not_optional(
    generate: Generate,
) -> None:
    tree = generate(_case("defaults.yaml"))
    assert tree.ok, tree.diagnostics()
    module = tree.module("stripe.demo_defaults")
    model = module.DemoDefaultsInput
    fields = model.model_fields

    assert fields["currency"].annotation is str
    assert fields["currency"].default == "usd"
    with pytest.raises(ValidationError):
        model(amount=1, currency=None, description=None)

    assert fields["customer_id"].annotation == (str | None)
    assert fields["customer_id"].default is None
    assert not fields["customer_id"].is_required()

    assert fields["description"].annotation == (str | None)
    assert fields["description"].is_required()
    with pytest.raises(ValidationError, match="description"):
        model(amount=1)
    assert model(amount=1, description=None).description is None


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _generate_over_existing(
    tmp_path: Path, case: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Generate the example first, then again with a broken case added."""
    write_specs(tmp_path, example_with())
    first = contractgen("generate", "--specs", "specs", "--output", "out", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "specs" / case).write_text((CASES / case).read_text("utf-8"))
    return (
        contractgen("generate", "--specs", "specs", "--output", "out", cwd=tmp_path),
        tmp_path / "out",
    )


def test_unknown_step_is_one_diagnostic_with_a_suggestion(tmp_path: Path) -> None:
    write_specs(tmp_path, example_with())
    before = contractgen(
        "generate", "--specs", "specs", "--output", "out", cwd=tmp_path
    )
    assert before.returncode == 0, before.stderr
    snapshot = _snapshot(tmp_path / "out")
    (tmp_path / "specs" / "wf.yaml").write_text(
        (CASES / "wf-unknown-step.yaml").read_text("utf-8")
    )

    run = contractgen("generate", "--specs", "specs", "--output", "out", cwd=tmp_path)

    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if ": error[" in line]
    assert errors == [
        "specs/wf.yaml:8:16: error[W001]: unknown step 'create-paymnet-intent'"
    ]
    assert "did you mean 'create-payment-intent'?" in run.stderr
    assert _snapshot(tmp_path / "out") == snapshot


def test_step_output_read_before_it_ran_names_the_path(tmp_path: Path) -> None:
    write_specs(tmp_path, example_with(CASES / "wf-not-yet-run.yaml"))

    run = contractgen("generate", "--specs", "specs", "--output", "out", cwd=tmp_path)

    assert run.returncode == 2
    assert not (tmp_path / "out").exists()
    errors = [line for line in run.stderr.splitlines() if ": error[" in line]
    assert len(errors) == 1, run.stderr  # `${error.message}` beside it is fine
    (error,) = errors
    source = (CASES / "wf-not-yet-run.yaml").read_text("utf-8").splitlines()
    line = next(i for i, text in enumerate(source, 1) if "intent:" in text)
    assert error.startswith(f"specs/wf-not-yet-run.yaml:{line}:")
    assert "'create-payment-intent' has not succeeded on every path to " in error
    assert "'notify-error'" in error
    assert "create-customer (fails) → notify-error" in error


def test_malformed_seed_version_line_is_one_diagnostic(tmp_path: Path) -> None:
    write_specs(tmp_path, example_with())
    assert (
        contractgen(
            "generate", "--specs", "specs", "--output", "out", cwd=tmp_path
        ).returncode
        == 0
    )
    snapshot = _snapshot(tmp_path / "out")
    (tmp_path / "specs" / "seed.yaml").write_text(
        "workflowId: process-payment\nversion: '1.0.0'.0.0\nsteps: []\n"
    )

    run = contractgen("generate", "--specs", "specs", "--output", "out", cwd=tmp_path)

    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if ": error[" in line]
    assert len(errors) == 1
    assert errors[0].startswith("specs/seed.yaml:2:")
    assert "version: '1.0.0'.0.0" in run.stderr  # the source line is shown
    assert _snapshot(tmp_path / "out") == snapshot


def test_no_import_warnings_from_the_example(generate: Generate) -> None:
    tree = generate(example_with())
    assert tree.ok, tree.diagnostics()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tree.module("stripe")
