"""Python names for spec names, chosen once and in one place.

Spec field names are wire names: they may be Python keywords (`from`),
builtins (`type`), pydantic `BaseModel` attributes (`model_config`,
`schema`), or contain hyphens, leading digits and non-ASCII letters. The
generated attribute is always a plain ASCII snake_case identifier that
shadows nothing; the spec's name stays the field's alias.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

from pydantic import BaseModel

__all__ = [
    "WORKFLOW_MODULE_NAMES",
    "attribute_name",
    "class_name",
    "module_name",
    "snake_case",
    "workflow_name",
]

_RESERVED = (
    frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | frozenset(name for name in dir(builtins) if not name.startswith("_"))
    | frozenset(name for name in dir(BaseModel) if not name.startswith("_"))
    # Names the generated modules themselves bind at module or class level.
    | frozenset({"annotations", "Any", "BaseModel", "ConfigDict", "Field"})
)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def snake_case(text: str) -> str:
    """`customerId` → `customer_id`; `create-payment-intent` → `create_payment_intent`.

    Non-ASCII letters are transliterated (`délai` → `delai`) or dropped.
    """
    text = _ascii(text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text)
    return text.strip("_").lower()


def attribute_name(spec_name: str, position: int) -> str:
    """A safe attribute name for a field; `position` names fields with no letters."""
    name = snake_case(spec_name)
    if not name:
        return f"field_{position}"
    if name[0].isdigit():
        name = f"field_{name}"
    if name in _RESERVED:
        name = f"{name}_"
    return name


def class_name(*parts: str) -> str:
    """`("create-payment-intent", "input")` → `CreatePaymentIntentInput`."""
    words = [w for part in parts for w in snake_case(part).split("_") if w]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name or name[0].isdigit():
        name = f"Model{name}"
    return name


# Names a generated workflow module binds besides its own: a workflow named
# like one of them would shadow it.
WORKFLOW_MODULE_NAMES = frozenset(
    {"ran", "blank_if_none", "run", "steps", "current", "inputs", "caps", "WORKFLOW"}
)


def workflow_name(workflow_id: str) -> str:
    """The module and function name of a workflow."""
    name = snake_case(workflow_id)
    if name in _RESERVED or name in WORKFLOW_MODULE_NAMES:
        name = f"{name}_"
    return name


def module_name(capability_id: str, provider: str) -> str:
    """The module of a capability inside its provider's package.

    The provider prefix is dropped where the id repeats it, so
    `stripe-create-customer` becomes `generated.stripe.create_customer`.
    """
    prefix = f"{provider}-"
    trimmed = capability_id.removeprefix(prefix) if capability_id != prefix else ""
    name = snake_case(trimmed or capability_id)
    if keyword.iskeyword(name) or name in _RESERVED:
        name = f"{name}_"
    return name
