"""What the Stripe binding decides at generation time, and what the types enforce.

A binding's Stripe parameter types decide the generated field types (an
integer amount, an aware timestamp), and a binding that names a parameter or
operation stripe-python does not have is a diagnostic, not a runtime 400.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from stripe import Customer, Refund

from generated.stripe import (
    CreatePaymentIntentInput,
    CreateSubscriptionInput,
    CreateSubscriptionOutput,
)
from generator.diagnostics import Diagnostic, Level
from tests.support import Generated, example_with

Generate = Callable[..., Generated]


def _only(tree: Generated, code: str, about: str = "") -> Diagnostic:
    [found] = [
        d for d in tree.build.diagnostics.items if d.code == code and about in d.message
    ]
    return found


def test_number_amount_becomes_int_with_a_warning(generate: Generate) -> None:
    tree = generate(example_with(), write=False)

    warning = _only(tree, "C020", "'amount'")
    rendered = tree.diagnostics()

    assert tree.ok
    assert warning.level is Level.WARNING
    assert "input 'amount'" in warning.message
    assert warning.hint is not None and "`type: integer`" in warning.hint
    assert warning.span is not None
    assert warning.span.path == "specs/capabilities/stripe-create-payment-intent.yaml"
    assert (warning.span.line, warning.span.column) == (7, 11)
    assert "warning[C020]" in rendered and "    type: number" in rendered
    assert CreatePaymentIntentInput.model_fields["amount"].annotation is int


def test_integer_amount_needs_no_warning(generate: Generate) -> None:
    spec = (
        "capabilityId: stripe-charge\n"
        "provider: {type: stripe, operation: createPaymentIntent}\n"
        "inputs:\n"
        "  amount: {type: integer}\n"
        "  currency: {type: string}\n"
        "outputs:\n"
        "  paymentIntentId: {type: string}\n"
    )

    tree = generate({"charge.yaml": spec}, write=False)

    assert tree.ok, tree.diagnostics()
    assert tree.build.diagnostics.items == []


def test_fractional_amount_is_rejected_not_rounded() -> None:
    with pytest.raises(ValidationError, match="fractional part"):
        CreatePaymentIntentInput.model_validate({"amount": 19.99})

    assert CreatePaymentIntentInput(amount=1999).amount == 1999


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x % 1 != 0))
def test_no_fractional_amount_is_accepted(amount: float) -> None:
    with pytest.raises(ValidationError):
        CreatePaymentIntentInput.model_validate({"amount": amount})


@given(st.integers(min_value=1, max_value=99_999_999))
def test_whole_amounts_pass_unchanged(amount: int) -> None:
    assert CreatePaymentIntentInput(amount=amount).amount == amount


def test_number_trial_days_are_whole_days_too() -> None:
    with pytest.raises(ValidationError):
        CreateSubscriptionInput.model_validate(
            {"customerId": "cus_1", "priceId": "price_1", "trialDays": 1.5}
        )


def test_stripe_epoch_seconds_become_aware_utc_datetimes() -> None:
    output = CreateSubscriptionOutput.model_validate(
        {"subscriptionId": "sub_1", "status": "active", "currentPeriodEnd": 1769904000}
    )

    assert output.current_period_end == datetime(2026, 2, 1, tzinfo=UTC)
    assert output.current_period_end.utcoffset() == timedelta(0)


def test_naive_datetime_is_not_a_timestamp() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        CreateSubscriptionOutput.model_validate(
            {
                "subscriptionId": "sub_1",
                "status": "active",
                "currentPeriodEnd": datetime(2026, 2, 1),
            }
        )


def test_misspelt_binding_parameter_names_the_valid_ones(generate: Generate) -> None:
    spec = (
        "capabilityId: stripe-signup\n"
        "provider:\n"
        "  type: stripe\n"
        "  operation: createCustomer\n"
        "  binding:\n"
        "    inputs: {email: emial}\n"
        "inputs:\n"
        "  email: {type: string}\n"
        "outputs:\n"
        "  customerId: {type: string}\n"
    )

    tree = generate({"signup.yaml": spec})

    error = _only(tree, "C012")
    assert not tree.ok
    assert error.level is Level.ERROR
    assert "'emial'" in error.message and "CustomerCreateParams" in error.message
    assert error.hint == "did you mean 'email'?"
    assert error.span is not None and error.span.path == "specs/signup.yaml"
    assert "specs/signup.yaml:8:3: error[C012]" in tree.diagnostics()
    assert not tree.output.exists()


def test_misspelt_nested_parameter_is_checked_at_its_depth(generate: Generate) -> None:
    spec = (
        "capabilityId: stripe-subscribe\n"
        "provider:\n"
        "  type: stripe\n"
        "  operation: createSubscription\n"
        "  binding:\n"
        "    inputs: {priceId: 'items[0].prise'}\n"
        "inputs:\n"
        "  customerId: {type: string}\n"
        "  priceId: {type: string}\n"
        "outputs:\n"
        "  subscriptionId: {type: string}\n"
    )

    error = _only(generate({"subscribe.yaml": spec}, write=False), "C012")

    assert "'items.0.prise'" in error.message
    assert error.hint is not None and "'price'" in error.hint


def test_unknown_operation_suggests_the_closest(generate: Generate) -> None:
    spec = (
        "capabilityId: stripe-pay\n"
        "provider: {type: stripe, operation: createPaymentIntnet}\n"
        "inputs:\n"
        "  amount: {type: integer}\n"
        "outputs:\n"
        "  paymentIntentId: {type: string}\n"
    )

    tree = generate({"pay.yaml": spec}, write=False)

    error = _only(tree, "C010")
    assert not tree.ok
    assert "'createPaymentIntnet'" in error.message
    assert error.hint is not None
    assert error.hint.startswith("did you mean one of 'createPaymentIntent', ")
    assert error.span is not None and error.span.line == 2


def test_override_method_that_stripe_python_lacks_is_an_error(
    generate: Generate,
) -> None:
    spec = (
        "capabilityId: stripe-read-refund\n"
        "provider:\n"
        "  type: stripe\n"
        "  operation: retrieveRefund\n"
        "  binding: {method: v1.refunds.fetch, inputs: {refundId: '@refund'}}\n"
        "inputs:\n"
        "  refundId: {type: string}\n"
        "outputs:\n"
        "  status: {type: string}\n"
    )

    error = _only(generate({"refund.yaml": spec}, write=False), "C011")

    assert "'v1.refunds.fetch'" in error.message


def test_override_adds_an_operation_the_catalog_lacks(generate: Generate) -> None:
    spec = (
        "capabilityId: stripe-read-refund\n"
        "provider:\n"
        "  type: stripe\n"
        "  operation: retrieveRefund\n"
        "  binding:\n"
        "    method: v1.refunds.retrieve\n"
        "    inputs: {refundId: '@refund'}\n"
        "    outputs: {refundId: id, chargeId: charge}\n"
        "inputs:\n"
        "  refundId: {type: string}\n"
        "outputs:\n"
        "  refundId: {type: string}\n"
        "  chargeId: {type: string, nullable: true}\n"
        "  amount: {type: integer}\n"
    )

    calls: list[tuple[str, object, object]] = []

    class Refunds:
        def retrieve(self, refund: str, params: object, options: object) -> Refund:
            calls.append((refund, params, options))
            return Refund.construct_from(
                {"id": refund, "object": "refund", "charge": "ch_1", "amount": 500},
                "sk_test_unused",
            )

    tree = generate({"refund.yaml": spec})
    assert tree.ok, tree.diagnostics()
    module = tree.module("stripe.read_refund")

    read = module.read_refund(
        module.ReadRefundInput(refund_id="re_1"),
        client=SimpleNamespace(v1=SimpleNamespace(refunds=Refunds())),
        idempotency_key="not-for-reads",
    )

    assert module.OPERATION.mutating is False
    assert calls == [("re_1", {}, {})]
    assert (read.refund_id, read.charge_id, read.amount) == ("re_1", "ch_1", 500)


def _capability(operation: str, binding: str, inputs: str, output: str) -> str:
    return (
        "capabilityId: stripe-probe\n"
        "provider:\n"
        "  type: stripe\n"
        f"  operation: {operation}\n"
        f"  binding: {{inputs: {binding}}}\n"
        "inputs:\n"
        f"{inputs}"
        f"outputs:\n  {output}: {{type: string}}\n"
    )


_ADDRESS = _capability(
    "createCustomer",
    "{line1: address.line1, city: address.city}",
    "  email: {type: string}\n"
    "  line1: {type: string}\n"
    "  city: {type: string, optional: true}\n",
    "customerId",
)


def test_optional_nested_input_is_sent_beside_its_required_sibling(
    generate: Generate,
) -> None:
    tree = generate({"address.yaml": _ADDRESS})
    assert tree.ok, tree.diagnostics()
    module = tree.module("stripe.probe")
    sent: list[object] = []

    class Customers:
        def create(self, params: object, options: object) -> Customer:
            sent.append(params)
            return Customer.construct_from(
                {"id": "cus_1", "object": "customer"}, "sk_test_unused"
            )

    client = SimpleNamespace(v1=SimpleNamespace(customers=Customers()))
    for city in ("Paris", None):
        module.probe(
            module.ProbeInput(email="a@example.com", line1="1 Rue", city=city),
            client=client,
        )

    assert sent == [
        {"email": "a@example.com", "address": {"line1": "1 Rue", "city": "Paris"}},
        {"email": "a@example.com", "address": {"line1": "1 Rue"}},
    ]


def test_optional_nested_inputs_pass_mypy_strict(
    generate: Generate, tmp_path: Path
) -> None:
    """Each optional value is assigned as a whole object, which the TypedDicts
    accept even where Stripe also takes '' to unset the object."""
    subscription = _capability(
        "createSubscription",
        "{priceId: items.0.price, quantity: items.0.quantity, "
        "extraPriceId: items.1.price}",
        "  customerId: {type: string}\n"
        "  priceId: {type: string}\n"
        "  quantity: {type: integer, optional: true}\n"
        "  extraPriceId: {type: string}\n",
        "subscriptionId",
    ).replace("stripe-probe", "stripe-subscribe")
    tree = generate({"address.yaml": _ADDRESS, "subscribe.yaml": subscription})
    assert tree.ok, tree.diagnostics()

    assert tree.module("stripe.subscribe")._params(
        tree.module("stripe.subscribe").SubscribeInput(
            customer_id="cus_1", price_id="price_1", quantity=2, extra_price_id="p_2"
        )
    ) == {
        "customer": "cus_1",
        "items": [{"price": "price_1", "quantity": 2}, {"price": "p_2"}],
    }
    checked = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict"),
            *("--cache-dir", str(tmp_path / "mypy-cache")),
            *("-p", f"{tree.package}.stripe"),
        ],
        cwd=tree.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_two_optional_fields_of_one_object_are_an_error_not_a_loss(
    generate: Generate,
) -> None:
    spec = _capability(
        "createCustomer",
        "{city: address.city, state: address.state}",
        "  city: {type: string, optional: true}\n"
        "  state: {type: string, optional: true}\n",
        "customerId",
    )

    tree = generate({"address.yaml": spec}, write=False)

    error = _only(tree, "C016")
    assert not tree.ok
    assert "'city' and 'state'" in error.message and "'address'" in error.message
    assert error.span is not None and error.span.line == 8


def test_list_index_gap_is_an_error_with_the_index_to_use(
    generate: Generate,
) -> None:
    spec = _capability(
        "createSubscription",
        "{priceId: items.1.price}",
        "  customer: {type: string}\n  priceId: {type: string}\n",
        "subscriptionId",
    )

    tree = generate({"gap.yaml": spec}, write=False)

    error = _only(tree, "C012")
    assert not tree.ok
    assert error.message == (
        "input 'priceId' maps to 'items.1.price', but no input fills 'items.0'"
    )
    assert error.hint is not None and error.hint.endswith("map it to 'items.0.price'")
    assert error.span is not None and error.span.line == 8


def test_optional_list_element_before_another_is_an_error(
    generate: Generate,
) -> None:
    spec = _capability(
        "createSubscription",
        "{firstPrice: 'items[0].price', secondPrice: 'items[1].price'}",
        "  customer: {type: string}\n"
        "  firstPrice: {type: string, optional: true}\n"
        "  secondPrice: {type: string}\n",
        "subscriptionId",
    )

    error = _only(generate({"gap.yaml": spec}, write=False), "C012")

    assert "'items.0'" in error.message and "'items.1'" in error.message
    assert error.hint is not None and "'firstPrice'" in error.hint


def test_input_inside_another_inputs_parameter_names_both(
    generate: Generate,
) -> None:
    spec = _capability(
        "createSubscription",
        "{b: items.0.price}",
        "  customer: {type: string}\n"
        "  items: {type: array, items: {type: object}}\n"
        "  b: {type: string}\n",
        "subscriptionId",
    )

    tree = generate({"overlap.yaml": spec}, write=False)

    error = _only(tree, "C015")
    assert not tree.ok
    assert error.message == (
        "inputs 'items' and 'b' overlap: 'items.0.price' is part of 'items'"
    )


@pytest.mark.parametrize(
    ("operation", "binding", "target"),
    [
        ("createSubscription", "{b: customer}", "'customer'"),
        ("confirmPaymentIntent", "{b: '@intent'}", "the positional argument 'intent'"),
    ],
)
def test_two_inputs_on_one_parameter_name_both(
    generate: Generate, operation: str, binding: str, target: str
) -> None:
    first = "customer" if operation == "createSubscription" else "paymentIntentId"
    spec = _capability(
        operation,
        binding,
        f"  {first}: {{type: string}}\n  b: {{type: string, optional: true}}\n",
        "subscriptionId" if first == "customer" else "paymentIntentId",
    )

    tree = generate({"twice.yaml": spec}, write=False)

    error = _only(tree, "C015")
    assert not tree.ok
    assert error.message == f"inputs '{first}' and 'b' are both bound to {target}"


def test_object_input_for_a_structured_parameter_says_to_map_its_fields(
    generate: Generate,
) -> None:
    spec = _capability(
        "createCustomer",
        "{}",
        "  email: {type: string}\n  address: {type: object}\n",
        "customerId",
    )

    error = _only(generate({"address.yaml": spec}, write=False), "C021")

    assert "takes object" not in error.message
    assert "'address' is a structured object (CustomerCreateParamsAddress)" in (
        error.message
    )
    assert error.hint is not None
    assert "dotted paths" in error.hint and "address.city" in error.hint
