"""Reading values out of Stripe responses by path."""

from __future__ import annotations

from typing import Any

import stripe

from generated._runtime.stripe_calls import read

# The same subscription in Stripe's current shape (API 2025-03-31 and later:
# billing periods live on the subscription items) and in the older one (on
# the subscription itself), recorded as Stripe returns them.
CURRENT_SHAPE: dict[str, Any] = {
    "id": "sub_current",
    "object": "subscription",
    "status": "trialing",
    "items": {
        "object": "list",
        "data": [
            {
                "id": "si_1",
                "object": "subscription_item",
                "current_period_end": 1767225600,
                "price": {"id": "price_1", "object": "price"},
            }
        ],
    },
}
OLDER_SHAPE: dict[str, Any] = {
    "id": "sub_older",
    "object": "subscription",
    "status": "active",
    "current_period_end": 1735689600,
    "items": {
        "object": "list",
        "data": [{"id": "si_2", "object": "subscription_item"}],
    },
}
PERIOD_END = ("items.data.0.current_period_end", "current_period_end")


def _subscription(values: dict[str, Any]) -> stripe.Subscription:
    return stripe.Subscription.construct_from(values, "sk_test_123")


def test_reads_nested_fields_and_list_items_of_stripe_objects() -> None:
    subscription = _subscription(CURRENT_SHAPE)

    assert read(subscription, "status") == "trialing"
    assert read(subscription, "items.data.0.price.id") == "price_1"


def test_first_present_path_wins_for_both_subscription_shapes() -> None:
    assert read(_subscription(CURRENT_SHAPE), *PERIOD_END) == 1767225600
    assert read(_subscription(OLDER_SHAPE), *PERIOD_END) == 1735689600


def test_none_values_fall_through_to_the_next_path() -> None:
    subscription = _subscription({**OLDER_SHAPE, "cancel_at": None})

    assert read(subscription, "cancel_at", "current_period_end") == 1735689600


def test_missing_paths_read_as_none() -> None:
    subscription = _subscription(CURRENT_SHAPE)

    assert read(subscription, "missing") is None
    assert read(subscription, "items.data.5.current_period_end") is None
    assert read(subscription, "items.data.first") is None
    assert read(subscription, "status.length") is None
    assert read(subscription) is None


def test_reads_plain_mappings_and_lists_too() -> None:
    params = {"items": [{"price": "price_1"}], "amount": 0}

    assert read(params, "items.0.price") == "price_1"
    assert read(params, "amount") == 0
