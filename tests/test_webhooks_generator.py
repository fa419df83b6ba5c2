"""The webhook block of the Stripe integration: checked, then generated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from generator.webhooks import STRIPE_EVENT_TYPES
from tests.support import Generated

STRIPE = """\
integration: stripe
webhook:
  path: /hooks/stripe
  events:
{events}
"""


def _spec(
    *events: str, integration: str = "stripe", store: str | None = None
) -> dict[str, str]:
    listed = "\n".join(f"    - {e}" for e in events) or "    []"
    text = STRIPE.format(events=listed).replace("stripe\n", f"{integration}\n", 1)
    if store is not None:
        text += f"  store: {store}\n"
    return {"integrations/stripe.yaml": text}


def test_a_misspelt_event_is_an_error_with_a_suggestion(
    generate: Callable[..., Generated],
) -> None:
    result = generate(_spec("payment_intent.succeded"), write=False)

    assert not result.ok
    report = result.diagnostics()
    assert "error[I001]: 'payment_intent.succeded' is not a Stripe event type" in report
    assert "payment_intent.succeeded" in report.split("hint", 1)[1]
    assert "specs/integrations/stripe.yaml:5:7" in report


def test_an_event_listed_twice_is_a_warning(
    generate: Callable[..., Generated],
) -> None:
    result = generate(_spec("charge.refunded", "charge.refunded"), write=False)

    assert result.ok
    assert "warning[I003]: event 'charge.refunded' is listed twice" in (
        result.diagnostics()
    )


def test_a_webhook_on_another_integration_is_not_generated(
    generate: Callable[..., Generated],
) -> None:
    result = generate(_spec("charge.refunded", integration="twilio"))

    assert result.ok
    assert "warning[I002]" in result.diagnostics()
    assert not (result.output / "webhooks").exists()


@pytest.mark.parametrize(
    ("store", "why"),
    [
        ('""', "webhook store '' is empty"),
        ("' '", "webhook store ' ' is empty"),
        ("/", "webhook store '/' ends with a path separator, so it names a folder"),
        ("data/", "webhook store 'data/' ends with a path separator"),
        ("'data\\'", "webhook store 'data\\' ends with a path separator"),
        (".", "webhook store '.' names a folder"),
        ("..", "webhook store '..' names a folder"),
        ("data/..", "webhook store 'data/..' names a folder"),
        ("x/./", "webhook store 'x/./' ends with a path separator"),
        ('"x\\0y"', "webhook store 'x\\0y' holds a NUL character"),
        ('"\\0"', "webhook store '\\0' holds a NUL character"),
    ],
)
def test_a_store_that_is_no_file_name_is_an_error_where_it_stands(
    generate: Callable[..., Generated], store: str, why: str
) -> None:
    result = generate(_spec("charge.refunded", store=store), write=False)

    assert not result.ok
    report = result.diagnostics()
    assert f"specs/integrations/stripe.yaml:6:10: error[I004]: {why}" in report
    assert "= hint: " in report


def test_a_folder_store_is_told_to_name_a_file_in_that_folder(
    generate: Callable[..., Generated],
) -> None:
    result = generate(_spec("charge.refunded", store="var/hooks/"), write=False)

    assert "hint: name a file in that folder, e.g. 'var/hooks/webhooks.sqlite3'" in (
        result.diagnostics()
    )


def test_an_empty_store_is_an_error_not_the_default(
    generate: Callable[..., Generated],
) -> None:
    result = generate(_spec("charge.refunded", store='""'), write=False)

    assert not result.ok
    assert "leave `store` out for .contractgen/webhooks.sqlite3" in (
        result.diagnostics()
    )


@pytest.mark.parametrize(
    "store", ["webhooks.sqlite3", "/var/lib/shop/hooks.db", "./data/.hooks", "..x"]
)
def test_a_store_that_names_a_file_is_generated_as_written(
    generate: Callable[..., Generated], store: str
) -> None:
    result = generate(_spec("charge.refunded", store=store))

    assert result.ok, result.diagnostics()
    default_store = result.module("webhooks.app").DEFAULT_STORE
    assert default_store == Path(store)


def test_events_without_a_typed_object_keep_their_fields(
    generate: Callable[..., Generated],
) -> None:
    result = generate(_spec("invoice.paid", "charge.refunded"))
    assert result.ok, result.diagnostics()
    events = result.module("webhooks.events")

    event = events.InvoicePaid.model_validate(
        {
            "id": "evt_1",
            "type": "invoice.paid",
            "created": 1,
            "data": {"object": {"id": "in_1", "object": "invoice", "total": 5}},
        }
    )

    assert event.data.object.id == "in_1"
    assert event.data.object.model_extra == {"total": 5}
    assert sorted(events.EVENT_MODELS) == ["charge.refunded", "invoice.paid"]
    router = result.module("webhooks.router").WebhookRouter()
    assert callable(router.on_invoice_paid) and callable(router.on_charge_refunded)
    assert result.module("webhooks.app").WEBHOOK_PATH == "/hooks/stripe"


def test_no_webhook_block_generates_no_webhooks_package(
    generate: Callable[..., Generated],
) -> None:
    result = generate({"integrations/stripe.yaml": "integration: stripe\n"})

    assert result.ok
    assert not (result.output / "webhooks").exists()


def test_the_catalog_knows_the_events_the_product_subscribes_to() -> None:
    assert STRIPE_EVENT_TYPES["payment_intent.payment_failed"] == "payment_intent"
    assert STRIPE_EVENT_TYPES["customer.subscription.updated"] == (
        "customer.subscription"
    )


@pytest.mark.parametrize(
    "store",
    [
        '"C:\\\\x\\\\hooks.sqlite3"',
        "~/hooks.sqlite3",  # not expanded: a folder named ~ (see the report)
        "' padded.sqlite3 '",
        "data/./hooks.sqlite3",
        "/".join(["d" * 200] * 20) + "/hooks.sqlite3",
    ],
)
def test_a_store_that_names_a_file_reaches_the_app_exactly(
    generate: Callable[..., Generated], store: str
) -> None:
    result = generate(_spec("charge.refunded", store=store))

    assert result.ok, result.diagnostics()
    default_store = result.module("webhooks.app").DEFAULT_STORE
    assert default_store == Path(yaml.safe_load(f"store: {store}")["store"])
