"""Check loaded documents and resolve them into the IR.

This is the pipeline's second stage. It validates each document against the
spec language (`spec.py`), reports every problem as a positioned diagnostic,
and resolves what is valid into `ir.Package`: Python names, annotations,
provider bindings. Workflow graphs and expressions are checked by
`workflows.py`, which this module calls once all capabilities are known.

It never raises on bad input; callers look at `Diagnostics.has_errors`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from . import bindings, names, webhooks
from .bindings.twilio import TwilioBinding
from .diagnostics import Diagnostics, did_you_mean
from .fieldtypes import ModelBuilder, python_literal
from .ir import (
    Capability,
    EmailCall,
    Integration,
    Package,
    ProviderCall,
    StripeCall,
)
from .loader import Document, NodePath
from .spec import (
    CapabilitySpec,
    FieldSpec,
    IntegrationSpec,
    PolicySpec,
    WorkflowSpec,
)

__all__ = ["CheckedSpecs", "check"]

_SPEC_TYPES: dict[str, type[BaseModel]] = {
    "capability": CapabilitySpec,
    "workflow": WorkflowSpec,
    "integration": IntegrationSpec,
}


def _known_keys() -> list[str]:
    """Every key the spec language knows, for "did you mean" hints."""
    keys: set[str] = set()
    seen: set[type[BaseModel]] = set()
    stack: list[type[BaseModel]] = [*_SPEC_TYPES.values()]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            keys.add(info.alias or name)
            stack.extend(_models_in(info.annotation))
    return sorted(keys)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


_KNOWN_KEYS = _known_keys()


@dataclass
class CheckedSpecs:
    """Valid spec documents by id, each with the document it came from."""

    capabilities: dict[str, tuple[CapabilitySpec, Document]]
    workflows: dict[str, tuple[WorkflowSpec, Document]]
    integrations: dict[str, tuple[IntegrationSpec, Document]]
    # Ids of capability documents that failed validation: already reported,
    # so a workflow naming one is not told the capability does not exist.
    broken: set[str] = field(default_factory=set)


def document_hash(document: Document) -> str:
    """A hash of one document's content, independent of formatting and siblings."""
    canonical = json.dumps(document.data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check(
    documents: Sequence[Document],
    diagnostics: Diagnostics,
    package_name: str,
    generator_version: str,
    root: Path | None = None,
) -> Package:
    specs = validate(documents, diagnostics)
    package = Package(package_name, generator_version, root)
    for provider, (integration, document) in sorted(specs.integrations.items()):
        package.integrations[provider] = _integration(integration, document)
        resolved = webhooks.resolve(
            integration, document, document_hash(document), diagnostics
        )
        if resolved is not None:
            package.webhooks = resolved
        if provider == "qdrant":
            bindings.qdrant.check_integration(integration, document, diagnostics)
    # Every name a capability adds to a shared namespace (its provider's
    # package, the Capabilities container) must be its own.
    owners: dict[str, str] = dict.fromkeys(
        _CONTAINER_NAMES, "the Capabilities container"
    )
    for capability_id, (spec, document) in sorted(specs.capabilities.items()):
        capability = _capability(spec, document, specs, diagnostics)
        if capability is None:
            continue
        shared = [
            f"module {capability.provider}.{capability.module}",
            *capability.exports,
        ]
        clash = next((name for name in shared if name in owners), None)
        if clash is not None:
            diagnostics.error(
                "C002",
                f"capability '{capability_id}' would define {_shown(clash)}, which "
                f"{_owner(owners[clash])} already defines",
                document.span(("capabilityId",)),
                "rename one of them",
            )
            continue
        owners.update(dict.fromkeys(shared, capability_id))
        package.capabilities.append(capability)

    from . import workflows  # workflows depend on the capability IR built above

    package.workflows = workflows.check_all(specs, package, diagnostics)
    return package


# Attributes of the generated Capabilities container besides the capabilities.
_CONTAINER_NAMES = (
    "from_env",
    "stripe",
    "email",
    "twilio",
    "qdrant",
    "stripe_policies",
)


def _shown(name: str) -> str:
    """`module 'stripe.x'` for a module, `'Name'` for any other name."""
    module = name.removeprefix("module ")
    return f"module '{module}'" if module != name else f"'{name}'"


def _owner(owner: str) -> str:
    return owner if owner.startswith("the ") else f"capability '{owner}'"


def validate(documents: Sequence[Document], diagnostics: Diagnostics) -> CheckedSpecs:
    """Validate every document's shape and collect them by id."""
    checked = CheckedSpecs({}, {}, {})
    for document in documents:
        kind = document.kind
        if kind is None:
            _unknown_kind(document, diagnostics)
            continue
        try:
            spec = _SPEC_TYPES[kind].model_validate(document.data, by_alias=True)
        except ValidationError as err:
            _report_validation(err, document, _SPEC_TYPES[kind], diagnostics)
            if kind == "capability":
                checked.broken.add(str(document.data.get("capabilityId")))
            continue
        if isinstance(spec, CapabilitySpec):
            _register(
                checked.capabilities,
                spec.capability_id,
                spec,
                document,
                "capability",
                "capabilityId",
                diagnostics,
            )
        elif isinstance(spec, WorkflowSpec):
            _register(
                checked.workflows,
                spec.workflow_id,
                spec,
                document,
                "workflow",
                "workflowId",
                diagnostics,
            )
        elif isinstance(spec, IntegrationSpec):
            _register(
                checked.integrations,
                spec.integration,
                spec,
                document,
                "integration",
                "integration",
                diagnostics,
            )
    return checked


def _register(
    table: dict[str, Any],
    key: str,
    spec: BaseModel,
    document: Document,
    kind: str,
    id_key: str,
    diagnostics: Diagnostics,
) -> None:
    if key in table:
        first = table[key][1]
        diagnostics.error(
            "S020",
            f"{kind} '{key}' is defined twice (first at {first.span((id_key,))})",
            document.span((id_key,)),
            f"each {kind} id must be unique across specs/",
        )
        return
    table[key] = (spec, document)


def _unknown_kind(document: Document, diagnostics: Diagnostics) -> None:
    keys = list(document.data) if isinstance(document.data, dict) else []
    hint = None
    for key in keys:
        hint = did_you_mean(key, ["capabilityId", "workflowId", "integration"])
        if hint:
            break
    diagnostics.error(
        "S001",
        "a spec document must start with `capabilityId`, `workflowId` or "
        "`integration`",
        document.span(()),
        hint,
    )


def _keys_at(model: type[BaseModel], at: NodePath) -> list[str]:
    """The keys the spec language allows in the mapping at `at`."""
    current: type[BaseModel] | None = model
    for part in at:
        if current is None or isinstance(part, int):
            continue  # list indexes and dict-of-fields levels keep the model
        info = next(
            (f for n, f in current.model_fields.items() if (f.alias or n) == part),
            None,
        )
        if info is None:
            # A name in a mapping of fields (`inputs: {email: ...}`); the only
            # free-form mappings that reject keys hold FieldSpecs.
            current = FieldSpec
            continue
        found = _models_in(info.annotation)
        current = found[0] if found else None
    if current is None:
        return _KNOWN_KEYS
    return sorted(f.alias or n for n, f in current.model_fields.items())


def _report_validation(
    err: ValidationError,
    document: Document,
    model: type[BaseModel],
    diagnostics: Diagnostics,
) -> None:
    seen: set[NodePath] = set()
    for error in err.errors(include_url=False):
        at = _data_path(document.data, error["loc"])
        kind = error["type"]
        if at in seen and kind != "missing":
            continue  # a union reports one problem once per alternative
        seen.add(at)
        key = str(at[-1]) if at else "document"
        if kind == "extra_forbidden":
            diagnostics.error(
                "S002",
                f"unknown key '{key}'",
                document.key_span(at),
                did_you_mean(key, _keys_at(model, at[:-1]))
                or f"allowed here: {', '.join(_keys_at(model, at[:-1]))}",
            )
        elif kind == "missing":
            missing = str(error["loc"][-1])
            diagnostics.error(
                "S003",
                f"missing required key '{missing}'",
                document.key_span(at) if at else document.span(()),
                None,
            )
        elif kind == "literal_error":
            value = error.get("input")
            expected = (error.get("ctx") or {}).get("expected", "")
            choices = [
                c.strip(" '") for c in str(expected).replace(" or ", ",").split(",")
            ]
            diagnostics.error(
                "S004",
                f"'{value}' is not a valid {key}; expected one of "
                + ", ".join(c for c in choices if c),
                document.span(at),
                did_you_mean(str(value), choices),
            )
        elif kind == "string_pattern_mismatch" and key in (
            "capabilityId",
            "workflowId",
            "id",
            "capability",
            "onSuccess",
            "onFailure",
            "entry",
            "renamedFrom",
        ):
            diagnostics.error(
                "S005",
                f"'{error.get('input')}' is not a valid id",
                document.span(at),
                "ids are lowercase letters and digits in words joined by single "
                "hyphens, starting with a letter, e.g. 'create-payment-intent'",
            )
        else:
            diagnostics.error(
                "S006", f"invalid {key}: {error['msg']}", document.span(at), None
            )


def _data_path(data: Any, loc: tuple[int | str, ...]) -> NodePath:
    """The part of a pydantic error location that names real document nodes."""
    at: list[str | int] = []
    node: Any = data
    for part in loc:
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_mapping or in_list:
            node = node[part]
            at.append(part)
        elif (
            isinstance(node, dict) and isinstance(part, str) and len(at) == len(loc) - 1
        ):
            at.append(part)  # an unknown or missing key: keep its name
        # other parts are pydantic's union tags ('float', 'str'): skip them
    return tuple(at)


def _integration(spec: IntegrationSpec, document: Document) -> Integration:
    webhook = spec.webhook
    return Integration(
        provider=spec.integration,
        source=document.path,
        source_hash=document_hash(document),
        policies=builtin_policies(spec.policies),
        webhook_path=webhook.path if webhook else None,
        webhook_events=tuple(webhook.events) if webhook else (),
        settings=tuple(sorted((k, str(v)) for k, v in spec.settings.items())),
    )


def builtin_policies(spec: PolicySpec | None) -> tuple[tuple[str, str], ...]:
    """The runtime policies an integration's `policies` block asks for."""
    policies = []
    if spec is None or spec.require_test_mode:
        policies.append(("TestModeGuard", ""))
    if spec and spec.allowed_currencies:
        currencies = tuple(sorted({c.lower() for c in spec.allowed_currencies}))
        policies.append(("AllowedCurrencies", python_literal(list(currencies))))
    if spec and spec.max_amount:
        limits = {k.lower(): v for k, v in sorted(spec.max_amount.items())}
        policies.append(("MaxAmount", python_literal(limits)))
    return tuple(policies)


def _capability(
    spec: CapabilitySpec,
    document: Document,
    specs: CheckedSpecs,
    diagnostics: Diagnostics,
) -> Capability | None:
    provider = spec.provider.type
    if provider in _PLANNED_PROVIDERS:
        diagnostics.error(
            "C001",
            f"provider '{provider}' is part of the spec language but this version "
            "of contractgen cannot generate it yet",
            document.span(("provider", "type")),
            "supported providers: stripe, email, twilio, qdrant, custom",
        )
        return None
    module = names.module_name(spec.capability_id, provider)
    base = names.class_name(module)
    builder = ModelBuilder(document, diagnostics)

    binding = bindings.resolve(spec, document, specs, diagnostics)
    input_model = builder.build(
        f"{base}Input",
        f"Inputs of the `{spec.capability_id}` capability.",
        binding.input_fields if isinstance(binding, TwilioBinding) else spec.inputs,
        ("inputs",),
        binding.input_annotations if binding else None,
    )
    output_model = builder.build(
        f"{base}Output",
        f"Outputs of the `{spec.capability_id}` capability.",
        spec.outputs,
        ("outputs",),
    )
    call: ProviderCall | None = (
        binding.call(input_model, output_model) if binding else None
    )
    if provider == "email":
        call = EmailCall("template" if "template" in spec.inputs else None)
    nested = tuple(m for m in builder.models if m not in (input_model, output_model))
    log_inputs, log_outputs = _loggable(spec.inputs), _loggable(spec.outputs)
    if isinstance(binding, TwilioBinding):
        # The Twilio runtime logs keywords it sends (phone numbers, masked)
        # and attributes of the resource it gets back.
        log_inputs, log_outputs = binding.log_inputs, binding.log_outputs
    elif isinstance(binding, bindings.stripe.StripeBinding) and isinstance(
        call, StripeCall
    ):
        # The Stripe runtime logs the request it sends and the response it
        # gets, so the allow-list names their parameters, not the spec's.
        log_inputs = tuple(
            path
            for name, path, _ in binding.params
            if name in log_inputs and not path.startswith("@")
        )
        log_outputs = tuple(
            paths[0] for name, paths in call.outputs if name in log_outputs
        )
    typing_imports = set(builder.typing_imports)
    if binding and any(
        a.startswith("Literal[") for a in binding.input_annotations.values()
    ):
        typing_imports.add("Literal")
    return Capability(
        id=spec.capability_id,
        provider=provider,
        operation=spec.provider.operation,
        source=document.path,
        source_hash=document_hash(document),
        description=spec.description,
        module=module,
        function=module,
        input=input_model,
        output=output_model,
        models=nested,
        call=call,
        log_inputs=log_inputs,
        log_outputs=log_outputs,
        typing_imports=tuple(sorted(typing_imports)),
    )


# In the spec language already, so specs can be written; not generated yet.
# Every provider of the language is generated today.
_PLANNED_PROVIDERS: frozenset[str] = frozenset()

# Fields whose values say what happened without saying who it happened to.
_LOGGABLE = {"amount", "currency", "status", "template", "operation", "trialDays"}


def _loggable(fields: dict[str, FieldSpec]) -> tuple[str, ...]:
    return tuple(
        name
        for name in fields
        if name in _LOGGABLE or (name.endswith("Id") and name != "clientSecret")
    )
