"""What the Stripe binding decides at generation time, and what the types enforce.

A binding's Stripe parameter types decide the generated field types (an
integer amount, an aware timestamp), and a binding that names a parameter or
operation stripe-python does not have is a diagnostic, not a runtime 400.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from stripe import Refund

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
