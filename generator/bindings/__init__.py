"""Provider bindings: how a capability becomes a call on a provider's client.

Each provider keeps its catalog as data in a module of its own
(`bindings/stripe.py`, `bindings/twilio.py`, `bindings/qdrant.py`).
`resolve` picks the provider's resolver for a capability; providers without
one (e-mail, custom) need no binding here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..diagnostics import Diagnostics
from ..loader import Document
from ..spec import CapabilitySpec
from . import qdrant, stripe, twilio

if TYPE_CHECKING:
    from ..checker import CheckedSpecs

__all__ = ["resolve"]


def resolve(
    spec: CapabilitySpec,
    document: Document,
    specs: CheckedSpecs,
    diagnostics: Diagnostics,
) -> stripe.StripeBinding | twilio.TwilioBinding | qdrant.QdrantBinding | None:
    if spec.provider.type == "stripe":
        return stripe.resolve(spec, document, diagnostics)
    if spec.provider.type == "twilio":
        return twilio.resolve(spec, document, diagnostics)
    if spec.provider.type == "qdrant":
        return qdrant.resolve(spec, document, specs, diagnostics)
    return None
