"""The intermediate representation: what the templates print.

The checker turns validated specs into this tree, making every decision on
the way: Python names, type annotations, defaults as source text, provider
bindings, imports. Templates only walk it; they hold no logic beyond loops
and conditionals on flags set here.

    Package
    ├── capabilities: [Capability]          one module each
    │   ├── input, output: Model            pydantic models
    │   ├── models: [Model]                 nested object models, inner first
    │   └── call: StripeCall | EmailCall | TwilioCall | QdrantCall | None
    │                                       how the provider is invoked
    ├── workflows: [Workflow]               one module each
    │   └── input: Model, models: [Model]   its declared inputs, nested first
    └── integrations: {provider: Integration}

Every node that came from a spec keeps its `source`, the spec path shown in
the generated file's header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .webhooks import Webhooks

__all__ = [
    "Capability",
    "EmailCall",
    "Field",
    "Integration",
    "Model",
    "Package",
    "Param",
    "ProviderCall",
    "QdrantCall",
    "QdrantCollection",
    "Step",
    "StripeCall",
    "TwilioCall",
    "Workflow",
    "pystr",
]


def pystr(text: str) -> str:
    """A string literal for `text` as black prints it: double-quoted if that
    needs no more escapes than `repr`'s quotes.

    Anything black would still change is left to black, so this only saves
    black a second pass; it never changes the formatted bytes.
    """
    literal = repr(text)
    if literal[0] == "'" and '"' not in text:
        # repr chose single quotes only by default, so the body has no \'.
        return f'"{literal[1:-1]}"'
    return literal


@dataclass(frozen=True)
class Field:
    spec_name: str
    name: str
    annotation: str
    # Python source of the default value; None means the field is required.
    default: str | None
    description: str | None
    # Extra `Field(...)` keyword arguments as (name, Python source) pairs.
    constraints: tuple[tuple[str, str], ...] = ()

    @property
    def aliased(self) -> bool:
        return self.spec_name != self.name

    @property
    def assignment(self) -> str:
        """What follows the annotation: ` = default` or ` = Field(...)`, or ''."""
        arguments = self.field_arguments
        if not arguments:
            return ""
        if len(arguments) == 1 and self.default is not None:
            return f" = {self.default}"
        return f" = Field({', '.join(arguments)})"

    @property
    def field_arguments(self) -> list[str]:
        """The `Field(...)` arguments as Python source, one string each."""
        arguments = []
        if self.default is not None:
            arguments.append(f"default={self.default}")
        if self.aliased:
            # Not `alias=`: type checkers would then make the alias the
            # constructor's keyword, and generated code builds models by name.
            alias = pystr(self.spec_name)
            arguments += [f"validation_alias={alias}", f"serialization_alias={alias}"]
        if self.description is not None:
            arguments.append(f"description={pystr(self.description)}")
        arguments += [f"{key}={value}" for key, value in self.constraints]
        return arguments


@dataclass(frozen=True)
class Model:
    name: str
    doc: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Param:
    """One entry of a provider request built from the input model.

    `value` is Python source reading the input model (`inputs.customer_id`).
    An entry with a `guard` (the optional input's attribute) is sent only when
    that input is not None.
    """

    key: str
    value: str
    guard: str | None = None


@dataclass(frozen=True)
class StripeCall:
    """How a capability becomes a stripe-python `StripeClient` call."""

    service: str  # attribute path from the client, e.g. "v1.payment_intents"
    method: str  # e.g. "create"
    params_type: str  # TypedDict name in `stripe.params`
    resource_type: str  # the returned object's class in `stripe`
    path_args: tuple[str, ...]  # Python source of positional arguments
    params: tuple[Param, ...]
    # Output spec name → response paths to try in order.
    outputs: tuple[tuple[str, tuple[str, ...]], ...]
    mutating: bool


@dataclass(frozen=True)
class EmailCall:
    """A capability sent through the e-mail provider."""

    template_field: str | None  # attribute holding the template name


@dataclass(frozen=True)
class TwilioCall:
    """How a capability becomes a call on the official Twilio client."""

    resource: str  # the client's resource list, e.g. "messages"
    method: str  # "create" on the list, or e.g. "fetch" on one resource
    sid: str | None  # Python source of the selected resource's sid, if any
    params: tuple[Param, ...]  # keyword arguments; all text
    # Output spec name → attribute of the returned resource.
    outputs: tuple[tuple[str, str], ...]
    sender: str | None  # the keyword the runtime fills from TWILIO_FROM


@dataclass(frozen=True)
class QdrantCollection:
    """A collection declared in the `qdrant` integration spec."""

    name: str
    vector_size: int
    distance: str  # "Cosine", "Dot" or "Euclid"
    owner: str  # the payload field naming the point's owner


@dataclass(frozen=True)
class QdrantCall:
    """How a capability becomes a request to the Qdrant runtime."""

    operation: str  # "upsert", "search" or "delete"
    # The declared collections the capability may address, by name.
    collections: tuple[QdrantCollection, ...]
    params: tuple[Param, ...]  # attributes of the runtime's request
    # Output spec name → key of the runtime's result.
    outputs: tuple[tuple[str, str], ...]


ProviderCall = StripeCall | EmailCall | TwilioCall | QdrantCall


@dataclass(frozen=True)
class Capability:
    id: str
    provider: str
    operation: str | None
    source: str
    source_hash: str
    description: str | None
    module: str  # module name inside the provider package
    function: str
    input: Model
    output: Model
    models: tuple[Model, ...]
    call: ProviderCall | None
    log_inputs: tuple[str, ...] = ()
    log_outputs: tuple[str, ...] = ()
    typing_imports: tuple[str, ...] = ()

    @property
    def all_models(self) -> tuple[Model, ...]:
        return (*self.models, self.input, self.output)

    @property
    def typing_names(self) -> tuple[str, ...]:
        """Names the module imports from `typing`."""
        return tuple(n for n in self.typing_imports if n != "AwareDatetime")

    def typing_line(self, *extra: str) -> list[str]:
        names = sorted({*self.typing_names, *extra})
        return [f"from typing import {', '.join(names)}"] if names else []

    @property
    def pydantic_line(self) -> str:
        return f"from pydantic import {', '.join(self.pydantic_names)}"

    @property
    def pydantic_names(self) -> tuple[str, ...]:
        """Names the module imports from `pydantic`."""
        names = {"BaseModel", "ConfigDict"}
        fields = [f for model in self.all_models for f in model.fields]
        if any(f.assignment.startswith(" = Field(") for f in fields):
            names.add("Field")
        if "AwareDatetime" in self.typing_imports:
            names.add("AwareDatetime")
        return tuple(sorted(names))

    @property
    def provider_arguments(self) -> tuple[str, ...]:
        """How the `Capabilities` container passes its provider objects."""
        if self.provider == "stripe":
            return ("client=self.stripe", "policies=self.stripe_policies")
        if self.provider == "email":
            return ("sender=self.email",)
        if self.provider == "twilio":
            return ("client=self.twilio",)
        if self.provider == "qdrant":
            return ("store=self.qdrant",)
        return ()

    @property
    def idempotent(self) -> bool:
        return isinstance(self.call, StripeCall) and self.call.mutating

    @property
    def exports(self) -> tuple[str, ...]:
        names = [self.input.name, self.output.name]
        if self.provider == "custom":
            names.append(self.protocol)
        else:
            names += [self.function, f"{self.function}_async"]
        return tuple(names)

    @property
    def protocol(self) -> str:
        """For custom capabilities: the Protocol the application implements."""
        return self.input.name.removesuffix("Input") + "Implementation"


@dataclass(frozen=True)
class Integration:
    provider: str
    source: str
    source_hash: str
    # Built-in policies as (class name in the runtime, constructor arguments).
    policies: tuple[tuple[str, str], ...] = ()
    webhook_path: str | None = None
    webhook_events: tuple[str, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Step:
    """One workflow step, resolved: the call to make and where to go next."""

    id: str
    attribute: str  # the step's field on the workflow's Steps model
    capability: Capability
    # (input attribute, Python source of its value) for the capability input.
    arguments: tuple[tuple[str, str], ...]
    on_success: str | None
    on_failure: str | None
    retry: str | None  # Python source of a RetryPolicy, if any
    timeout: float | None
    description: str | None  # the spec's, shown above the step's code


@dataclass(frozen=True)
class Workflow:
    id: str
    version: str
    source: str
    source_hash: str
    module: str
    description: str | None
    input: Model
    steps: tuple[Step, ...]
    entry: str
    typing_imports: tuple[str, ...] = ()
    # Functions of the workflow engine the step inputs call (`ran`, ...).
    engine_functions: tuple[str, ...] = ()
    # The nested object models of declared inputs, inner first.
    models: tuple[Model, ...] = ()

    @property
    def function(self) -> str:
        return self.module

    @property
    def class_prefix(self) -> str:
        return self.input.name.removesuffix("Input")

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        unique = {step.capability.id: step.capability for step in self.steps}
        return tuple(unique[k] for k in sorted(unique))

    @property
    def uses_retry(self) -> bool:
        return any(step.retry for step in self.steps)


@dataclass
class Package:
    name: str
    generator_version: str
    # The folder relative paths in integration settings are read from.
    root: Path | None = None
    capabilities: list[Capability] = field(default_factory=list)
    workflows: list[Workflow] = field(default_factory=list)
    integrations: dict[str, Integration] = field(default_factory=dict)
    # The Stripe webhook endpoint, when the integration declares one.
    webhooks: Webhooks | None = None

    def by_provider(self) -> dict[str, list[Capability]]:
        grouped: dict[str, list[Capability]] = {}
        for capability in sorted(self.capabilities, key=lambda c: c.module):
            grouped.setdefault(capability.provider, []).append(capability)
        return dict(sorted(grouped.items()))
