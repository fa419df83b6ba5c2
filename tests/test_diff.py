"""`contractgen diff`: every compatibility rule, the exit codes, the formats,
and git revisions.

`CASES` is the rule table: each row is an old and a new specs folder, the
rule the change must be reported under, and how that rule classifies it for
the Python surface and for the wire. The classifications are written out
here rather than read from `generator.compat.rules`, so that a rule that
changes its meaning fails a test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.compat import RULES, Comparison, compare
from generator.compat.trees import load_tree
from generator.diagnostics import Diagnostics
from tests.support import EXAMPLE_SPECS, ROOT, contractgen

Files = dict[str, str]


def capability(
    inputs: Files | None = None,
    outputs: Files | None = None,
    *,
    capability_id: str = "place-order",
    head: str = "",
) -> Files:
    """A custom capability; fields are name → flow mapping."""
    inputs = {"sku": "{type: string}"} if inputs is None else inputs
    outputs = {"orderId": "{type: string}"} if outputs is None else outputs
    lines = [f"capabilityId: {capability_id}", "version: '1.0.0'"]
    lines += head.splitlines() or ["provider: {type: custom}"]
    for section, fields in (("inputs", inputs), ("outputs", outputs)):
        if fields:
            lines.append(f"{section}:")
            lines += [f"  {name}: {spec}" for name, spec in fields.items()]
    return {f"{capability_id}.yaml": "\n".join(lines) + "\n"}


def stripe_capability(
    binding: str = "", operation: str = "createPaymentIntent"
) -> Files:
    head = f"provider:\n  type: stripe\n  operation: {operation}\n{binding}"
    return capability(
        {
            "amount": "{type: integer}",
            "currency": "{type: string}",
            "description": "{type: string, optional: true}",
        },
        {"paymentIntentId": "{type: string}", "clientSecret": "{type: string}"},
        capability_id="stripe-pay",
        head=head.rstrip("\n"),
    )


RETRIEVE_CUSTOMER_FIELDS = (
    {"customerId": "{type: string}"},
    {"customerId": "{type: string}"},
)
RETRIEVE_CUSTOMER = capability(
    *RETRIEVE_CUSTOMER_FIELDS,
    capability_id="stripe-get-customer",
    head="provider: {type: stripe, operation: retrieveCustomer}",
)

EMAIL = {
    "send-email.yaml": """\
capabilityId: send-email
provider: {type: email, operation: send}
inputs:
  to: {type: string}
  template: {type: string}
outputs:
  messageId: {type: string}
""",
    "send-alert.yaml": """\
capabilityId: send-alert
provider: {type: email, operation: send}
inputs:
  to: {type: string}
  template: {type: string}
outputs:
  messageId: {type: string}
""",
}


def step(
    step_id: str,
    *,
    capability: str = "send-email",
    template: str = "welcome",
    routes: str = "",
) -> str:
    """One step; `routes` are flow-mapping entries, e.g. `onFailure: second`."""
    return (
        f"  - {{id: {step_id}, capability: {capability}, "
        f'inputs: {{to: "${{input.email}}", template: {template}}}'
        + (f", {routes}" if routes else "")
        + "}\n"
    )


BASE_STEPS = (step("first", routes="onFailure: second"), step("second"))


def workflow(
    *steps: str,
    inputs: str = "  email: {type: string}\n",
    workflow_id: str = "notify",
    head: str = "",
) -> Files:
    """A workflow of e-mail steps; by default `first`, then `second` on failure."""
    text = f"workflowId: {workflow_id}\nversion: '1.0.0'\n{head}"
    if inputs:
        text += "inputs:\n" + inputs
    text += "steps:\n" + "".join(steps or BASE_STEPS)
    return {**EMAIL, f"{workflow_id}.yaml": text}


def integration(webhook: str = "", policies: str = "") -> Files:
    text = "integration: stripe\n"
    if webhook:
        text += f"webhook:\n  path: /webhooks/stripe\n  events: [{webhook}]\n"
    if policies:
        text += f"policies:\n  allowedCurrencies: [{policies}]\n"
    return {"stripe.yaml": text}


B, W, C = "breaking", "warning", "compatible"
SUCCEEDED, CANCELED = "payment_intent.succeeded", "payment_intent.canceled"

# (rule, python, wire, old tree, new tree, other rules the same edit implies)
CASES: list[tuple[str, str, str, Files, Files, set[str]]] = [
    ("capability-added", C, C, {}, capability(), set()),
    ("capability-removed", B, B, capability(), {}, set()),
    (
        "capability-renamed",
        B,
        C,
        capability(capability_id="order"),
        capability(head="renamedFrom: order\nprovider: {type: custom}"),
        set(),
    ),
    ("workflow-added", C, C, EMAIL, workflow(), set()),
    ("workflow-removed", B, B, workflow(), EMAIL, set()),
    (
        "workflow-renamed",
        B,
        C,
        workflow(workflow_id="tell"),
        workflow(head="renamedFrom: tell\n"),
        set(),
    ),
    ("integration-added", C, C, {}, integration(), set()),
    ("integration-removed", C, B, integration(), {}, set()),
    (
        "input-added-required",
        B,
        B,
        capability(),
        capability({"sku": "{type: string}", "qty": "{type: integer}"}),
        set(),
    ),
    (
        "input-added-optional",
        C,
        C,
        capability(),
        capability({"sku": "{type: string}", "note": "{type: string, optional: true}"}),
        set(),
    ),
    ("input-removed", B, B, capability(), capability({}), set()),
    (
        "output-added",
        C,
        C,
        capability(),
        capability(outputs={"orderId": "{type: string}", "total": "{type: number}"}),
        set(),
    ),
    ("output-removed", B, B, capability(), capability(outputs={}), set()),
    (
        "input-became-required",
        B,
        B,
        capability({"sku": "{type: string, optional: true}"}),
        capability(),
        set(),
    ),
    (
        "input-became-optional",
        C,
        C,
        capability(),
        capability({"sku": "{type: string, default: abc}"}),
        set(),
    ),
    (
        "output-became-optional",
        B,
        B,
        capability(),
        capability(outputs={"orderId": "{type: string, optional: true}"}),
        set(),
    ),
    (
        "output-became-required",
        C,
        C,
        capability(outputs={"orderId": "{type: string, optional: true}"}),
        capability(),
        set(),
    ),
    (
        "input-became-nullable",
        C,
        C,
        capability(),
        capability({"sku": "{type: string, nullable: true}"}),
        set(),
    ),
    (
        "input-became-non-nullable",
        B,
        B,
        capability({"sku": "{type: string, nullable: true}"}),
        capability(),
        set(),
    ),
    (
        "output-became-nullable",
        B,
        B,
        capability(),
        capability(outputs={"orderId": "{type: string, nullable: true}"}),
        set(),
    ),
    (
        "output-became-non-nullable",
        C,
        C,
        capability(outputs={"orderId": "{type: string, nullable: true}"}),
        capability(),
        set(),
    ),
    (
        "input-type-widened",
        C,
        C,
        capability({"qty": "{type: integer}"}),
        capability({"qty": "{type: number}"}),
        set(),
    ),
    (
        "input-type-narrowed",
        B,
        B,
        capability({"qty": "{type: number}"}),
        capability({"qty": "{type: integer}"}),
        set(),
    ),
    (
        "input-type-changed",
        B,
        B,
        capability({"qty": "{type: string}"}),
        capability({"qty": "{type: integer}"}),
        set(),
    ),
    (
        "output-type-widened",
        B,
        B,
        capability(outputs={"total": "{type: integer}"}),
        capability(outputs={"total": "{type: number}"}),
        set(),
    ),
    (
        "output-type-narrowed",
        C,
        C,
        capability(outputs={"total": "{type: number}"}),
        capability(outputs={"total": "{type: integer}"}),
        set(),
    ),
    (
        "output-type-changed",
        B,
        B,
        capability(outputs={"total": "{type: integer}"}),
        capability(outputs={"total": "{type: boolean}"}),
        set(),
    ),
    (
        "input-default-changed",
        C,
        B,
        capability({"currency": "{type: string, default: usd}"}),
        capability({"currency": "{type: string, default: eur}"}),
        set(),
    ),
    (
        "output-default-changed",
        C,
        W,
        capability(outputs={"state": "{type: string, default: open}"}),
        capability(outputs={"state": "{type: string, default: new}"}),
        set(),
    ),
    (
        "input-enum-value-added",
        C,
        C,
        capability({"speed": "{type: enum, values: [standard]}"}),
        capability({"speed": "{type: enum, values: [standard, express]}"}),
        set(),
    ),
    (
        "input-enum-value-removed",
        B,
        B,
        capability({"speed": "{type: enum, values: [standard, express]}"}),
        capability({"speed": "{type: enum, values: [standard]}"}),
        set(),
    ),
    (
        "output-enum-value-added",
        W,
        W,
        capability(outputs={"state": "{type: enum, values: [open]}"}),
        capability(outputs={"state": "{type: enum, values: [open, paid]}"}),
        set(),
    ),
    (
        "output-enum-value-removed",
        C,
        C,
        capability(outputs={"state": "{type: enum, values: [open, paid]}"}),
        capability(outputs={"state": "{type: enum, values: [open]}"}),
        set(),
    ),
    (
        "input-constraint-changed",
        W,
        W,
        capability({"qty": "{type: integer, minimum: 1}"}),
        capability({"qty": "{type: integer, minimum: 2}"}),
        set(),
    ),
    (
        "output-constraint-changed",
        W,
        W,
        capability(outputs={"code": "{type: string}"}),
        capability(outputs={"code": "{type: string, maxLength: 8}"}),
        set(),
    ),
    (
        "binding-operation-changed",
        C,
        B,
        stripe_capability(),
        stripe_capability(
            "  binding:\n    method: v1.payment_intents.create\n"
            "    outputs: {paymentIntentId: id}\n",
            operation="openPaymentIntent",
        ),
        set(),
    ),
    (
        "binding-method-changed",
        C,
        B,
        RETRIEVE_CUSTOMER,
        capability(
            *RETRIEVE_CUSTOMER_FIELDS,
            capability_id="stripe-get-customer",
            head="provider:\n  type: stripe\n  operation: retrieveCustomer\n"
            "  binding: {method: v1.customers.delete}",
        ),
        set(),
    ),
    (
        "binding-input-changed",
        C,
        B,
        stripe_capability(),
        stripe_capability(
            "  binding:\n    inputs: {description: statement_descriptor}\n"
        ),
        set(),
    ),
    (
        "binding-output-changed",
        C,
        B,
        stripe_capability(),
        stripe_capability(
            "  binding:\n    outputs: {clientSecret: [client_secret, id]}\n"
        ),
        set(),
    ),
    (
        "step-added",
        C,
        C,
        workflow(),
        workflow(
            BASE_STEPS[0],
            step("second", routes="onSuccess: third"),
            step("third"),
        ),
        {"step-transition-changed"},
    ),
    (
        "step-removed",
        B,
        B,
        workflow(),
        workflow(step("first")),
        {"step-transition-changed"},
    ),
    (
        "step-capability-changed",
        B,
        B,
        workflow(),
        workflow(BASE_STEPS[0], step("second", capability="send-alert")),
        set(),
    ),
    (
        "step-transition-changed",
        C,
        W,
        workflow(
            step("first", routes="onSuccess: second, onFailure: third"),
            step("second"),
            step("third"),
        ),
        workflow(
            step("first", routes="onSuccess: third, onFailure: second"),
            step("second"),
            step("third"),
        ),
        set(),
    ),
    (
        "workflow-entry-changed",
        C,
        W,
        workflow(),
        workflow(
            step("first"),
            step("second", routes="onSuccess: first"),
            head="entry: second\n",
        ),
        {"step-transition-changed"},
    ),
    (
        "step-inputs-changed",
        C,
        W,
        workflow(),
        workflow(BASE_STEPS[0], step("second", template="failed")),
        set(),
    ),
    (
        "step-retry-changed",
        C,
        C,
        workflow(),
        workflow(BASE_STEPS[0], step("second", routes="timeout: 30s")),
        set(),
    ),
    (
        "webhook-event-added",
        C,
        C,
        integration(SUCCEEDED),
        integration(f"{SUCCEEDED}, {CANCELED}"),
        set(),
    ),
    (
        "webhook-event-removed",
        C,
        B,
        integration(f"{SUCCEEDED}, {CANCELED}"),
        integration(SUCCEEDED),
        set(),
    ),
    (
        "webhook-path-changed",
        C,
        B,
        integration(SUCCEEDED),
        {
            "stripe.yaml": integration(SUCCEEDED)["stripe.yaml"].replace(
                "/stripe", "/pay"
            )
        },
        set(),
    ),
    (
        "policy-changed",
        C,
        W,
        integration(policies="usd"),
        integration(policies="usd, eur"),
        set(),
    ),
]


def _write(folder: Path, files: Files) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _compare(tmp_path: Path, old: Files, new: Files) -> Comparison:
    trees = []
    for side, files in (("old", old), ("new", new)):
        diagnostics = Diagnostics()
        tree = load_tree(
            _write(tmp_path / side, files),
            diagnostics,
            display_base=tmp_path,
            package="pkg",
            root=None,
        )
        assert not diagnostics.has_errors, diagnostics.render(tmp_path)
        trees.append(tree)
    return compare(trees[0].specs, trees[1].specs, trees[0].package, trees[1].package)


@pytest.mark.parametrize(
    ("rule_id", "python", "wire", "old", "new", "also"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_each_rule_classifies_its_change(
    tmp_path: Path,
    rule_id: str,
    python: str,
    wire: str,
    old: Files,
    new: Files,
    also: set[str],
) -> None:
    comparison = _compare(tmp_path, old, new)

    found = {c.rule.id for c in comparison.changes}
    assert found == {rule_id} | also, [c.message for c in comparison.changes]
    change = next(c for c in comparison.changes if c.rule.id == rule_id)
    assert (change.rule.python.value, change.rule.wire.value) == (python, wire)
    assert change.span is not None
    tree = "old" if change.in_old else "new"
    assert change.span.path.startswith(f"{tree}/"), change.span


def test_the_rule_table_covers_every_rule() -> None:
    assert sorted({case[0] for case in CASES}) == sorted(RULES)


def test_every_rule_is_documented_with_an_example() -> None:
    text = (ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8")
    documented = re.findall(r"^### `([a-z-]+)`$", text, flags=re.MULTILINE)
    assert documented == sorted(documented, key=list(RULES).index)
    assert set(documented) == set(RULES)
    for section in text.split("\n### `")[1:]:
        assert "```yaml" in section, section.splitlines()[0]


def test_nothing_changed_is_nothing_reported(tmp_path: Path) -> None:
    comparison = _compare(tmp_path, workflow(), workflow())
    assert comparison.changes == []


def test_a_nested_property_change_names_its_path(tmp_path: Path) -> None:
    old = capability({"ship": "{type: object, properties: {zip: {type: string}}}"})
    new = capability(
        {"ship": "{type: object, properties: {zip: {type: string, nullable: true}}}"}
    )
    (change,) = _compare(tmp_path, old, new).changes
    assert change.rule.id == "input-became-nullable"
    assert change.subject == "inputs.ship.zip"


def test_an_undeclared_workflow_input_is_compared_as_inferred(tmp_path: Path) -> None:
    old = workflow(inputs="")
    new = workflow(
        BASE_STEPS[0], step("second", template='"${input.template}"'), inputs=""
    )

    rules = {c.rule.id: c for c in _compare(tmp_path, old, new).changes}

    assert set(rules) == {"input-added-required", "step-inputs-changed"}
    added = rules["input-added-required"]
    assert added.subject == "inputs.template"
    # Declared nowhere, so it is shown where it is first used.
    assert added.span is not None
    assert added.span.line == _line_of(tmp_path / "new" / "notify.yaml", "  - {id: sec")


def _renamed_email(new_id: str) -> Files:
    """send-email as `new_id`, renamed from it; the same fields."""
    text = EMAIL["send-email.yaml"].replace(
        "capabilityId: send-email\n",
        f"capabilityId: {new_id}\nrenamedFrom: send-email\n",
    )
    assert text != EMAIL["send-email.yaml"]
    return {f"{new_id}.yaml": text}


def test_a_step_following_its_capabilitys_rename_is_not_a_step_change(
    tmp_path: Path,
) -> None:
    new = workflow(
        step("first", capability="send-mail", routes="onFailure: second"),
        step("second", capability="send-mail"),
    )
    del new["send-email.yaml"]
    new.update(_renamed_email("send-mail"))

    changes = _compare(tmp_path, workflow(), new).changes

    # The rename is reported once, on the capability; the steps call it still.
    assert [(c.rule.id, c.spec_id) for c in changes] == [
        ("capability-renamed", "send-mail")
    ]


def test_a_step_moved_to_another_capability_during_a_rename_still_breaks(
    tmp_path: Path,
) -> None:
    new = workflow(
        step("first", capability="send-mail", routes="onFailure: second"),
        step("second", capability="send-alert"),
    )
    del new["send-email.yaml"]
    new.update(_renamed_email("send-mail"))

    changes = _compare(tmp_path, workflow(), new).changes

    assert [(c.rule.id, c.subject) for c in changes] == [
        ("capability-renamed", ""),
        ("step-capability-changed", "steps.second"),
    ]
    assert "calls 'send-alert' instead of 'send-email'" in changes[1].message


def test_two_specs_renamed_from_one_are_one_rename_and_one_addition(
    tmp_path: Path,
) -> None:
    old = capability(capability_id="order")
    new = {
        **capability(
            capability_id="place-order-b",
            head="renamedFrom: order\nprovider: {type: custom}",
        ),
        **capability(
            capability_id="place-order-a",
            head="renamedFrom: order\nprovider: {type: custom}",
        ),
    }

    changes = _compare(tmp_path, old, new).changes

    # The first by id is the rename; an old spec has one successor.
    assert [(c.rule.id, c.spec_id) for c in changes] == [
        ("capability-renamed", "place-order-a"),
        ("capability-added", "place-order-b"),
    ]
    assert changes[0].message == "capability 'order' renamed to 'place-order-a'"
    assert "already followed by 'place-order-a'" in changes[1].message


# -- the command --------------------------------------------------------------


def _copy_specs(tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of the example specs, in a project with their e-mail templates."""
    shutil.copytree(ROOT / "email-templates", tmp_path / "email-templates")
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(EXAMPLE_SPECS, old)
    shutil.copytree(EXAMPLE_SPECS, new)
    return old, new


PAYMENT_INTENT = "capabilities/stripe-create-payment-intent.yaml"


def _edit_payment_intent(specs: Path, version: str | None = None) -> None:
    """customerId becomes required; an optional description is added."""
    path = specs / PAYMENT_INTENT
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "  customerId:\n    type: string\n    optional: true\n",
        "  customerId:\n    type: string\n",
    )
    text = text.replace(
        "outputs:\n", "  description:\n    type: string\n    optional: true\noutputs:\n"
    )
    if version is not None:
        text = text.replace("provider:", f"version: '{version}'\nprovider:", 1)
    path.write_text(text, encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(needle))


def test_example_specs_required_customer_breaks_and_description_does_not(
    tmp_path: Path,
) -> None:
    _, new = _copy_specs(tmp_path)
    _edit_payment_intent(new)

    done = contractgen("diff", "old", "new", cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    spec = new / PAYMENT_INTENT
    customer = _line_of(spec, "  customerId:")
    description = _line_of(spec, "  description:")
    assert (
        f"new/{PAYMENT_INTENT}:{customer}:3: breaking[input-became-required]: "
        "capability 'stripe-create-payment-intent': input 'customerId' became "
        "required"
    ) in done.stdout
    assert (
        f"new/{PAYMENT_INTENT}:{description}:3: compatible[input-added-optional]: "
        "capability 'stripe-create-payment-intent': input 'description' added"
    ) in done.stdout


def test_a_version_bump_lets_a_breaking_change_pass(tmp_path: Path) -> None:
    _, new = _copy_specs(tmp_path)
    _edit_payment_intent(new, version="2.0.0")

    done = contractgen("diff", "old", "new", "--format", "json", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["exitCode"] == 0
    assert report["summary"] == {
        "blocking": 0,
        "breaking": 1,
        "compatible": 1,
        "warning": 0,
    }
    assert report["versions"] == [
        {
            "bumped": True,
            "id": "stripe-create-payment-intent",
            "kind": "capability",
            "new": "2.0.0",
            "old": None,
        }
    ]
    breaking = report["changes"][0]
    assert breaking == {
        "blocking": False,
        "id": "stripe-create-payment-intent",
        "kind": "capability",
        "level": "breaking",
        "location": {
            "column": 3,
            "file": f"new/{PAYMENT_INTENT}",
            "line": _line_of(new / PAYMENT_INTENT, "  customerId:"),
            "tree": "new",
        },
        "message": "input 'customerId' became required",
        "python": "breaking",
        "rule": "input-became-required",
        "subject": "inputs.customerId",
        "wire": "breaking",
    }


def test_markdown_is_a_table_for_a_pull_request(tmp_path: Path) -> None:
    _, new = _copy_specs(tmp_path)
    _edit_payment_intent(new)

    done = contractgen("diff", "old", "new", "--format", "markdown", cwd=tmp_path)

    assert done.stdout.startswith("### Contract changes: old → new\n")
    assert "| level | spec | change | rule | python | wire | where |" in done.stdout
    assert "| **breaking** | capability `stripe-create-payment-intent` |" in done.stdout
    assert "is still version" not in done.stdout  # it has no version at all
    assert "has breaking changes and no version" in done.stdout


def test_spec_errors_in_either_tree_exit_2(tmp_path: Path) -> None:
    _, new = _copy_specs(tmp_path)
    (new / "capabilities" / "broken.yaml").write_text("capabilityId: Bad_Id\n")

    done = contractgen("diff", "old", "new", cwd=tmp_path)

    assert done.returncode == 2
    assert "error[S005]" in done.stderr
    assert done.stdout == ""


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_against_a_revision_compares_the_working_tree(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE_SPECS, tmp_path / "specs")
    shutil.copytree(ROOT / "email-templates", tmp_path / "email-templates")
    (tmp_path / "pyproject.toml").write_text('[tool.contractgen]\nspecs = "specs"\n')
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "specs")
    _git(tmp_path, "checkout", "-q", "-b", "feature")
    (tmp_path / "specs" / "integrations" / "email.yaml").unlink()
    _edit_payment_intent(tmp_path / "specs")

    done = contractgen("diff", cwd=tmp_path)

    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("contract changes from main (merge base ")
    assert f"specs/{PAYMENT_INTENT}:" in done.stdout
    # A removal points at the old file in git's `rev:path` notation.
    removed = re.search(
        r"^(\w+):specs/integrations/email.yaml:1:1: ", done.stdout, re.M
    )
    assert removed is not None, done.stdout

    unknown = contractgen("diff", "--against", "no-such-rev", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "'no-such-rev' is not a commit" in unknown.stderr
