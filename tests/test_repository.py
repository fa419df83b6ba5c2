"""This repository's own example: the committed generated/ is what specs/ produce.

The runtime tests import `generated._runtime`, the copy of templates/runtime/;
this check is what makes them test the templates.
"""

from __future__ import annotations

from tests.support import ROOT, contractgen


def test_committed_generated_package_is_up_to_date() -> None:
    run = contractgen("check", cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


def test_example_imports_as_the_readme_says() -> None:
    from generated.stripe import (  # noqa: F401
        CreateCustomerInput,
        CreatePaymentIntentInput,
        CreatePaymentIntentOutput,
        CreateSubscriptionInput,
    )
    from generated.workflows.process_payment import (  # noqa: F401
        ProcessPaymentInput,
        process_payment,
    )

    inputs = ProcessPaymentInput.model_validate(
        {"customerEmail": "ada@example.com", "amount": 1999}
    )
    assert inputs.customer_name is None
    assert inputs.model_dump() == {
        "amount": 1999,
        "customerEmail": "ada@example.com",
        "customerName": None,
    }
