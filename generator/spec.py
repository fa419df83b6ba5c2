"""The spec language, v1: the shape of capability, workflow and integration documents.

These pydantic models are the single definition of what a spec may say. The
checker validates each loaded document against them (turning pydantic's
errors into positioned diagnostics), and `contractgen schema` prints their
JSON Schema for editors. They describe shape only; meaning (does a step
exist, does a binding parameter exist) is checked later, in `checker` and
`workflows`.

Keys are written in the spec's camelCase; attributes are snake_case.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "ID_PATTERN",
    "BindingSpec",
    "CapabilitySpec",
    "FieldSpec",
    "IntegrationSpec",
    "ProviderSpec",
    "RetrySpec",
    "StepSpec",
    "WebhookSpec",
    "WorkflowSpec",
    "json_schema",
    "seconds",
]

# Capability, workflow and step ids become module and file names, so they are
# held to a character set that cannot leave the output folder or shadow a name.
ID_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]
# Field names are free text (they are the wire names); Python names are derived.
FieldName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]

FieldType = Literal[
    "string", "number", "integer", "boolean", "timestamp", "object", "array", "enum"
]
# An enum value is text or an integer. The value is kept as YAML read it, so
# that `fieldtypes` can report `yes` read as a boolean, or `2.0` as a float,
# instead of pydantic quietly turning them into `1` and `2`.
EnumValue = Annotated[
    Any, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]})
]
ProviderType = Literal["stripe", "email", "twilio", "qdrant", "custom"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(duration: float | str) -> float:
    """A duration (`30`, `"500ms"`, `"30s"`, `"5m"`, `"1h"`) in seconds."""
    if isinstance(duration, (int, float)):
        return float(duration)
    match = _DURATION.fullmatch(duration.strip())
    if match is None:
        raise ValueError(f"'{duration}' is not a duration such as 500ms, 30s or 5m")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _check_duration(value: float | str) -> float | str:
    if not (math.isfinite(seconds(value)) and seconds(value) > 0):
        raise ValueError("a duration must be a finite time greater than zero")
    return value


# A duration: seconds as a number, or text such as "500ms", "30s", "5m".
Duration = Annotated[
    float | str,
    AfterValidator(_check_duration),
    Field(json_schema_extra={"pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"}),
]


class _Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        # Only the camelCase keys are the language; `on_success` is a typo.
        validate_by_name=False,
        validate_by_alias=True,
        frozen=True,
    )


class FieldSpec(_Spec):
    """One input or output field of a capability, or one workflow input."""

    type: FieldType
    description: str | None = None
    optional: bool = False
    nullable: bool = False
    default: Any = None
    # For `object`: a nested model. Without it, a free-form mapping.
    properties: dict[FieldName, FieldSpec] | None = None
    # For `array`: the type of each element.
    items: FieldSpec | None = None
    # For `enum`: the allowed values, checked by `fieldtypes`.
    values: list[EnumValue] | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_items: int | None = Field(default=None, ge=0)
    max_items: int | None = Field(default=None, ge=0)

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


class BindingSpec(_Spec):
    """A spec's own binding, overriding or extending the provider's catalog."""

    method: str | None = None
    inputs: dict[FieldName, str] = {}
    outputs: dict[FieldName, str | list[str]] = {}
    mutating: bool | None = None


class ProviderSpec(_Spec):
    type: ProviderType
    operation: str | None = None
    binding: BindingSpec | None = None


class CapabilitySpec(_Spec):
    capability_id: Id
    version: str | None = None
    description: str | None = None
    renamed_from: Id | None = None
    provider: ProviderSpec
    inputs: dict[FieldName, FieldSpec] = {}
    outputs: dict[FieldName, FieldSpec] = {}


class RetrySpec(_Spec):
    max_attempts: int = Field(ge=1, le=100)
    initial_interval: Duration = 1.0
    backoff: float = Field(default=2.0, ge=1.0)
    max_interval: Duration | None = None


class StepSpec(_Spec):
    id: Id
    capability: Id
    description: str | None = None
    inputs: dict[FieldName, Any] = {}
    on_success: Id | None = None
    on_failure: Id | None = None
    retry: RetrySpec | None = None
    timeout: Duration | None = None


class WorkflowSpec(_Spec):
    workflow_id: Id
    version: str
    description: str | None = None
    renamed_from: Id | None = None
    entry: Id | None = None
    inputs: dict[FieldName, FieldSpec] | None = None
    steps: list[StepSpec] = Field(min_length=1)


class WebhookSpec(_Spec):
    path: str = Field(pattern=r"^/[A-Za-z0-9/_\-.]*$")
    events: list[str] = []
    tolerance: int = Field(default=300, ge=1, description="Signature age, seconds")
    max_body_bytes: int = Field(default=1_000_000, ge=1)
    store: str | None = None


class PolicySpec(_Spec):
    allowed_currencies: list[str] | None = None
    max_amount: dict[str, int] | None = None
    require_test_mode: bool = True


class IntegrationSpec(_Spec):
    integration: ProviderType
    description: str | None = None
    api_version: str | None = None
    webhook: WebhookSpec | None = None
    policies: PolicySpec | None = None
    # Provider-specific settings (templates folder, collections, ...), checked
    # by each provider's own rules.
    settings: dict[str, Any] = {}


_Document = Annotated[
    CapabilitySpec | WorkflowSpec | IntegrationSpec,
    Field(
        description="A contractgen spec document (capability, workflow, integration)"
    ),
]


def json_schema() -> str:
    """The JSON Schema of the spec language, for editors, as stable text."""
    schema = TypeAdapter(_Document).json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "contractgen spec (v1)"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
