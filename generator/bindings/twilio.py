"""The Twilio binding catalog, and its check against twilio-python's classes.

A binding says how a capability operation becomes a call on the official
client: which resource list (`client.messages`), which method (`create` on
the list, or `fetch` on one resource selected by its sid), which capability
input feeds which keyword argument, and which attribute of the returned
resource each output is read from. The catalog below is data.

At generation time every keyword is checked against the signature of the
twilio-python method it is passed to (read from the installed library, never
from a network call), and every output against the attributes of the
resource class. Inputs that carry phone numbers get an E.164 pattern in the
generated model, so a malformed number never leaves the process.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostics, did_you_mean
from ..ir import Model, Param, TwilioCall
from ..loader import Document
from ..spec import CapabilitySpec, FieldSpec

__all__ = ["CATALOG", "E164_PATTERN", "Operation", "TwilioBinding", "resolve"]

# One plus sign, a country code that does not start with 0, at most 15 digits.
E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"


@dataclass(frozen=True)
class Resource:
    """Where a Twilio resource lives in twilio-python."""

    attribute: str  # on the client: "messages"
    module: str
    list_class: str
    context_class: str
    instance_class: str


_MESSAGES = Resource(
    attribute="messages",
    module="twilio.rest.api.v2010.account.message",
    list_class="MessageList",
    context_class="MessageContext",
    instance_class="MessageInstance",
)

# What a message capability may read back, by output name. Outputs not named
# here are read from the attribute of their snake_case name.
_MESSAGE_OUTPUTS = {
    "messageSid": "sid",
    "from": "from_",
}


@dataclass(frozen=True)
class Operation:
    resource: Resource
    method: str  # "create" on the list, or a method of one resource's context
    # The input selecting one resource (`client.messages(sid)`), if any.
    sid_input: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)  # name → keyword
    required: tuple[str, ...] = ()
    phone_inputs: frozenset[str] = frozenset()
    outputs: Mapping[str, str] = field(default_factory=dict)
    # The keyword filled from TWILIO_FROM when the capability leaves it unset.
    sender: str | None = None


CATALOG: dict[str, Operation] = {
    "sendSms": Operation(
        _MESSAGES,
        "create",
        inputs={
            "to": "to",
            "body": "body",
            "from": "from_",
            "statusCallback": "status_callback",
        },
        required=("to", "body"),
        phone_inputs=frozenset({"to", "from"}),
        outputs=_MESSAGE_OUTPUTS,
        sender="from_",
    ),
    "getMessage": Operation(
        _MESSAGES,
        "fetch",
        sid_input="messageSid",
        required=("messageSid",),
        outputs=_MESSAGE_OUTPUTS,
    ),
}

# Outputs that say what happened without saying who it happened to.
_LOGGABLE_OUTPUTS = {"status", "errorCode", "numSegments"}


@dataclass
class TwilioBinding:
    """A resolved binding for one capability, ready to become a `TwilioCall`."""

    operation: Operation
    params: list[tuple[str, str]]  # (input spec name, keyword)
    outputs: dict[str, str]  # output spec name → resource attribute
    # The capability's inputs, with the E.164 pattern on phone-number inputs.
    input_fields: dict[str, FieldSpec]
    # Annotation overrides, as Stripe's binding has; Twilio's inputs need none.
    input_annotations: dict[str, str] = field(default_factory=dict)

    @property
    def log_inputs(self) -> tuple[str, ...]:
        """Keywords the runtime may log: phone numbers, which it masks."""
        phones = self.operation.phone_inputs
        return tuple(keyword for name, keyword in self.params if name in phones)

    @property
    def log_outputs(self) -> tuple[str, ...]:
        return tuple(
            attribute
            for name, attribute in self.outputs.items()
            if name in _LOGGABLE_OUTPUTS or name.endswith("Sid")
        )

    def call(self, inputs: Model, outputs: Model) -> TwilioCall:
        attr = {f.spec_name: f.name for f in inputs.fields}
        required = {
            f.spec_name for f in inputs.fields if not f.annotation.endswith("| None")
        }
        sid_input = self.operation.sid_input
        return TwilioCall(
            resource=self.operation.resource.attribute,
            method=self.operation.method,
            sid=f"inputs.{attr[sid_input]}" if sid_input else None,
            params=tuple(
                Param(
                    keyword,
                    f"inputs.{attr[name]}",
                    guard=None if name in required else f"inputs.{attr[name]}",
                )
                for name, keyword in self.params
            ),
            outputs=tuple(
                (f.spec_name, self.outputs[f.spec_name]) for f in outputs.fields
            ),
            sender=self.operation.sender,
        )


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


def _class(resource: Resource, name: str) -> Any:
    return getattr(importlib.import_module(resource.module), name)


def _keywords(operation: Operation) -> list[str]:
    """The keyword arguments twilio-python's method accepts."""
    owner = (
        operation.resource.list_class
        if operation.sid_input is None
        else operation.resource.context_class
    )
    method = getattr(_class(operation.resource, owner), operation.method)
    return [
        p.name
        for p in inspect.signature(method).parameters.values()
        if p.name != "self"
    ]


@functools.cache
def _attributes(resource: Resource) -> frozenset[str]:
    """The public attributes of the resource class, read from an empty one."""
    instance_class = _class(resource, resource.instance_class)
    # An instance built offline from an empty payload sets every attribute
    # to None; nothing is sent anywhere.
    instance = instance_class(None, {}, account_sid="AC0")
    return frozenset(k for k in vars(instance) if not k.startswith("_"))


def resolve(
    spec: CapabilitySpec, document: Document, diagnostics: Diagnostics
) -> TwilioBinding | None:
    """Resolve and check the binding of one Twilio capability."""
    name = spec.provider.operation
    operation = CATALOG.get(name or "")
    if operation is None:
        diagnostics.error(
            "C030",
            (
                f"unknown Twilio operation '{name}'"
                if name is not None
                else "a Twilio capability needs `provider.operation`"
            ),
            document.span(("provider", "operation") if name else ("provider",)),
            did_you_mean(name or "", list(CATALOG))
            or f"Twilio operations: {', '.join(CATALOG)}",
        )
        return None
    if spec.provider.binding is not None:
        diagnostics.error(
            "C035",
            "Twilio capabilities take their binding from the catalog; "
            "`provider.binding` is not supported for them",
            document.key_span(("provider", "binding")),
            "remove `provider.binding`",
        )
        return None

    sound = True
    keywords = _keywords(operation)
    known = [*operation.inputs, *([operation.sid_input] if operation.sid_input else [])]
    params: list[tuple[str, str]] = []
    fields: dict[str, FieldSpec] = {}
    for name, field_spec in spec.inputs.items():
        at = ("inputs", name)
        fields[name] = field_spec
        if name == operation.sid_input:
            sound &= _check_string(name, field_spec, document, diagnostics)
            continue
        keyword = operation.inputs.get(name)
        if keyword is None or keyword not in keywords:
            diagnostics.error(
                "C031",
                f"Twilio's {spec.provider.operation} has no input '{name}'",
                document.key_span(at),
                did_you_mean(name, known)
                or f"its inputs: {', '.join(known) or 'none'}",
            )
            sound = False
            continue
        sound &= _check_string(name, field_spec, document, diagnostics)
        if name in operation.phone_inputs and field_spec.pattern is None:
            fields[name] = field_spec.model_copy(update={"pattern": E164_PATTERN})
        params.append((name, keyword))
    for name in operation.required:
        declared = spec.inputs.get(name)
        if declared is None or (declared.optional and not declared.has_default):
            diagnostics.error(
                "C032",
                f"Twilio's {spec.provider.operation} needs the input '{name}'",
                document.span(("inputs",) if "inputs" in document.data else ()),
                f"declare a required string input '{name}'",
            )
            sound = False

    attributes = _attributes(operation.resource)
    outputs: dict[str, str] = {}
    for name in spec.outputs:
        attribute = operation.outputs.get(name) or _snake(name)
        if attribute not in attributes:
            candidates = sorted(
                {_camel(a) for a in attributes} | set(operation.outputs)
            )
            diagnostics.error(
                "C033",
                f"output '{name}' is read from '{attribute}', which Twilio's "
                f"{operation.resource.instance_class} does not have",
                document.key_span(("outputs", name)),
                did_you_mean(name, candidates)
                or f"readable outputs: {', '.join(candidates)}",
            )
            sound = False
            continue
        outputs[name] = attribute
    if not sound:
        return None
    return TwilioBinding(operation, params, outputs, fields)


def _check_string(
    name: str, field_spec: FieldSpec, document: Document, diagnostics: Diagnostics
) -> bool:
    if field_spec.type == "string":
        return True
    diagnostics.error(
        "C034",
        f"input '{name}' is declared {field_spec.type}, but Twilio takes it as " "text",
        document.span(("inputs", name, "type")),
        "declare it `type: string`",
    )
    return False
