"""Write a synthetic spec tree for the benchmark: N capabilities, N/10 workflows.

    python -m bench.corpus --count 500 --out /tmp/specs-500

The tree is deterministic for a given N (one seeded random generator), and
valid: `contractgen validate` accepts it. Capabilities mix providers: Stripe
operations from the binding catalog with inputs the catalog maps, e-mail
sends, and custom capabilities with nested objects, arrays and enums. Each
has 4 to 12 fields (inputs and outputs together). Workflows chain 5 to 10
steps of Stripe and e-mail capabilities, wiring each step's inputs from
earlier steps' outputs or from the workflow's declared inputs, with an
e-mail step as the failure handler.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Capability", "write_corpus"]


@dataclass
class Capability:
    """What a workflow step needs to know about a generated capability."""

    id: str
    provider: str
    required: dict[str, dict[str, Any]]  # input name -> field spec
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _f(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, **extra}


_CAPTURE = ["automatic", "manual"]
_REFUND_REASONS = ["duplicate", "fraudulent", "requested_by_customer"]
_CANCEL_REASONS = [*_REFUND_REASONS, "abandoned"]

# Stripe operations from the catalog: required inputs, optional extras the
# operation's params accept under their snake_case names, and outputs.
_STRIPE: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "createPaymentIntent": {
        "required": {"amount": _f("integer", minimum=1), "currency": _f("string")},
        "optional": {
            "customerId": _f("string"),
            "description": _f("string", maxLength=1000),
            "receiptEmail": _f("string"),
            "statementDescriptorSuffix": _f("string", maxLength=22),
            "captureMethod": _f("enum", values=_CAPTURE),
            "metadata": _f("object"),
            "paymentMethodId": _f("string"),
        },
        "outputs": {
            "paymentIntentId": _f("string"),
            "status": _f("string"),
            "clientSecret": _f("string", nullable=True),
            "amount": _f("integer"),
            "currency": _f("string"),
        },
    },
    "createCustomer": {
        "required": {"email": _f("string")},
        "optional": {
            "name": _f("string"),
            "phone": _f("string"),
            "description": _f("string"),
            "metadata": _f("object"),
        },
        "outputs": {
            "customerId": _f("string"),
            "email": _f("string", nullable=True),
            "name": _f("string", nullable=True),
            "created": _f("timestamp"),
        },
    },
    "createRefund": {
        "required": {"paymentIntentId": _f("string")},
        "optional": {
            "amount": _f("integer", minimum=1),
            "reason": _f("enum", values=_REFUND_REASONS),
            "metadata": _f("object"),
        },
        "outputs": {
            "refundId": _f("string"),
            "status": _f("string", nullable=True),
            "amount": _f("integer"),
            "currency": _f("string"),
        },
    },
    "cancelPaymentIntent": {
        "required": {"paymentIntentId": _f("string")},
        "optional": {"reason": _f("enum", values=_CANCEL_REASONS)},
        "outputs": {
            "paymentIntentId": _f("string"),
            "status": _f("string"),
            "amount": _f("integer"),
            "currency": _f("string"),
        },
    },
    "createSubscription": {
        "required": {"customerId": _f("string"), "priceId": _f("string")},
        "optional": {
            "trialDays": _f("integer", minimum=0),
            "description": _f("string"),
            "metadata": _f("object"),
        },
        "outputs": {
            "subscriptionId": _f("string"),
            "status": _f("string"),
            "currentPeriodEnd": _f("timestamp"),
            "customerId": _f("string"),
        },
    },
    "retrieveCustomer": {
        "required": {"customerId": _f("string")},
        "optional": {},
        "outputs": {
            "customerId": _f("string"),
            "email": _f("string", nullable=True),
            "name": _f("string", nullable=True),
            "phone": _f("string", nullable=True),
            "created": _f("timestamp"),
        },
    },
}

_ADDRESS = _f(
    "object",
    description="Where the parcel goes.",
    properties={
        "line1": _f("string", minLength=1),
        "line2": _f("string", optional=True),
        "city": _f("string"),
        "postalCode": _f("string", maxLength=16),
        "country": _f("enum", values=["GB", "FR", "DE", "US"]),
    },
)
_LINE = _f(
    "object",
    properties={
        "sku": _f("string", pattern="^[A-Z0-9-]+$"),
        "quantity": _f("integer", minimum=1),
        "unit": _f("enum", values=["piece", "kg", "litre"]),
    },
)
# Fields a custom capability draws from: scalars, enums, nested objects,
# arrays of objects.
_CUSTOM_FIELDS: dict[str, dict[str, Any]] = {
    "orderId": _f("string", description="The order's id."),
    "sku": _f("string", pattern="^[A-Z0-9-]+$"),
    "quantity": _f("integer", minimum=1, maximum=1000),
    "priceCents": _f("integer", minimum=0),
    "weight": _f("number", exclusiveMinimum=0),
    "isGift": _f("boolean", default=False),
    "note": _f("string", optional=True, maxLength=500),
    "priority": _f("enum", values=["low", "normal", "high"], default="normal"),
    "tags": _f("array", items=_f("string"), maxItems=20, optional=True),
    "placedAt": _f("timestamp"),
    "shipping": _ADDRESS,
    "lines": _f("array", items=_LINE, minItems=1),
    "gift": _f(
        "object",
        optional=True,
        properties={
            "message": _f("string", maxLength=200),
            "wrapping": _f("enum", values=["none", "paper", "box"]),
            "recipient": _f(
                "object",
                properties={"name": _f("string"), "address": _ADDRESS},
            ),
        },
    ),
    "status": _f("enum", values=["pending", "packed", "shipped", "delivered"]),
    "trackingUrl": _f("string", nullable=True),
    "attempts": _f("integer", minimum=0),
}

_TEMPLATES = ["payment-link", "payment-error", "payment-succeeded"]
_WORDS = ["order", "parcel", "invoice", "refund", "ledger"]
_WORDS += ["batch", "stock", "route", "quote", "audit"]


def _words(rng: random.Random, n: int) -> str:
    return "-".join(rng.choice(_WORDS) for _ in range(n))


def _stripe(rng: random.Random, index: int) -> tuple[dict[str, Any], Capability]:
    operation = rng.choice(sorted(_STRIPE))
    shape = _STRIPE[operation]
    inputs = dict(shape["required"])
    extras = sorted(shape["optional"])
    rng.shuffle(extras)
    outputs = dict(shape["outputs"])
    room = min(len(extras), 12 - len(inputs) - len(outputs))
    for name in extras[: rng.randint(0, room)]:
        inputs[name] = {**shape["optional"][name], "optional": True}
    capability_id = f"stripe-{_words(rng, 2)}-{index}"
    spec = {
        "capabilityId": capability_id,
        "description": f"Stripe {operation}, variant {index}.",
        "provider": {"type": "stripe", "operation": operation},
        "inputs": inputs,
        "outputs": outputs,
    }
    return spec, Capability(capability_id, "stripe", shape["required"], outputs)


def _email(rng: random.Random, index: int) -> tuple[dict[str, Any], Capability]:
    inputs: dict[str, Any] = {
        "to": _f("string", description="The recipient's address."),
        "template": _f("string"),
        "subject": _f("string", optional=True),
        "data": _f("object", optional=True),
    }
    outputs = {"messageId": _f("string")}
    capability_id = f"email-{_words(rng, 1)}-{index}"
    spec = {
        "capabilityId": capability_id,
        "description": f"Send an e-mail, variant {index}.",
        "provider": {"type": "email", "operation": "send"},
        "inputs": inputs,
        "outputs": outputs,
    }
    required = {"to": inputs["to"], "template": inputs["template"]}
    return spec, Capability(capability_id, "email", required, outputs)


def _custom(rng: random.Random, index: int) -> tuple[dict[str, Any], Capability]:
    names = sorted(_CUSTOM_FIELDS)
    count = rng.randint(4, 12)
    chosen = rng.sample(names, count)
    split = rng.randint(max(1, count - 6), count - 1)
    inputs = {n: _CUSTOM_FIELDS[n] for n in chosen[:split]}
    outputs = {n: _CUSTOM_FIELDS[n] for n in chosen[split:]}
    capability_id = f"custom-{_words(rng, 2)}-{index}"
    spec = {
        "capabilityId": capability_id,
        "description": f"An application capability, variant {index}.",
        "provider": {"type": "custom"},
        "inputs": inputs,
        "outputs": outputs,
    }
    return spec, Capability(capability_id, "custom", {}, outputs)


def _workflow(
    rng: random.Random,
    index: int,
    stripe: list[Capability],
    email: list[Capability],
) -> dict[str, Any]:
    count = rng.randint(5, 10)
    chain = [rng.choice(stripe) for _ in range(count - 2)] + [rng.choice(email)]
    notify = rng.choice(email)
    declared: dict[str, dict[str, Any]] = {"customerEmail": _f("string")}
    produced: dict[str, tuple[str, dict[str, Any]]] = {}
    steps: list[dict[str, Any]] = []
    for position, capability in enumerate(chain):
        step_id = f"step-{position + 1}"
        inputs: dict[str, Any] = {}
        for name, spec in capability.required.items():
            kind = spec["type"]
            earlier = produced.get(name)
            if capability.provider == "email":
                inputs = {
                    "to": "${input.customerEmail}",
                    "template": rng.choice(_TEMPLATES),
                    "data": {"step": step_id, "workflow": f"run {index}"},
                }
                break
            if (
                earlier is not None
                and earlier[1]["type"] == kind
                and not earlier[1].get("nullable")
            ):
                inputs[name] = f"${{steps.{earlier[0]}.output.{name}}}"
                continue
            declared.setdefault(name, {k: v for k, v in spec.items()})
            inputs[name] = f"${{input.{name}}}"
        step: dict[str, Any] = {
            "id": step_id,
            "capability": capability.id,
            "inputs": inputs,
            "onFailure": "notify-error",
        }
        if position + 1 < len(chain):
            step["onSuccess"] = f"step-{position + 2}"
        if capability.provider == "stripe" and rng.random() < 0.5:
            step["retry"] = {"maxAttempts": 3, "initialInterval": "500ms"}
            step["timeout"] = "30s"
        steps.append(step)
        for name, spec in capability.outputs.items():
            produced[name] = (step_id, spec)
    steps.append(
        {
            "id": "notify-error",
            "capability": notify.id,
            "inputs": {
                "to": "admin@example.com",
                "template": "payment-error",
                "data": {"error": "${error.message}", "step": "${error.step}"},
            },
        }
    )
    return {
        "workflowId": f"flow-{_words(rng, 1)}-{index}",
        "version": "1.0.0",
        "description": f"A synthetic workflow of {count} steps.",
        "inputs": declared,
        "steps": steps,
    }


_STRIPE_INTEGRATION = {
    "integration": "stripe",
    "description": "Stripe for the benchmark corpus.",
    "policies": {
        "allowedCurrencies": ["usd", "eur", "gbp"],
        "maxAmount": {"usd": 1000000, "eur": 1000000, "gbp": 1000000},
        "requireTestMode": True,
    },
}


def write_corpus(out: Path, count: int, seed: int = 8) -> None:
    """Write `count` capabilities and `count // 10` workflows under `out`."""
    rng = random.Random(seed)
    stripe: list[Capability] = []
    email: list[Capability] = []
    documents: dict[str, dict[str, Any]] = {
        "integrations/stripe.yaml": _STRIPE_INTEGRATION
    }
    makers = [_stripe] * 4 + [_email] * 2 + [_custom] * 4
    for index in range(count):
        # The first two are one of each provider workflows need.
        maker = (_stripe, _email)[index] if index < 2 else rng.choice(makers)
        spec, capability = maker(rng, index)
        documents[f"capabilities/{capability.id}.yaml"] = spec
        {"stripe": stripe, "email": email}.get(capability.provider, []).append(
            capability
        )
    for index in range(count // 10):
        spec = _workflow(rng, index, stripe, email)
        documents[f"workflows/{spec['workflowId']}.yaml"] = spec

    for rel, data in documents.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    write_corpus(args.out, args.count, args.seed)


if __name__ == "__main__":
    main()
