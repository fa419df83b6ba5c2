"""Compare two checked spec trees and list every change, classified.

Specs are compared by meaning, never as text and never through the generated
code: a field's shape (type, whether it must be given, whether it may be
null, its default, enum values, constraints, nested properties), a
capability's effective provider binding (its catalog entry merged with the
spec's own `provider.binding`), a workflow's steps and routes, and an
integration's webhook and policies. Descriptions and formatting are not
changes.

Each difference becomes a `Change` naming a rule from `rules.py` and the
place it was made: the new spec for what changed or was added, the old spec
for what was removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..bindings import stripe, twilio
from ..checker import CheckedSpecs
from ..diagnostics import Span
from ..ir import Package, Workflow
from ..loader import Document, NodePath
from ..spec import CapabilitySpec, FieldSpec, IntegrationSpec, StepSpec, WorkflowSpec
from .rules import Level, Rule, rule

__all__ = ["Change", "Comparison", "compare"]

KINDS = ("capability", "workflow", "integration")


@dataclass(frozen=True)
class Change:
    kind: str  # capability | workflow | integration
    spec_id: str  # the id in the new tree, or in the old one for a removal
    rule: Rule
    subject: str  # what changed inside the spec: "inputs.customerId", or ""
    message: str
    span: Span | None
    in_old: bool = False  # the span points into the old tree

    @property
    def sort_key(self) -> tuple[int, str, str, int, str]:
        line = self.span.line if self.span else 0
        return (KINDS.index(self.kind), self.spec_id, self.subject, line, self.rule.id)


@dataclass
class Comparison:
    """Every change between two trees, and the versions of what changed."""

    changes: list[Change] = field(default_factory=list)
    # (kind, id) → (old version, new version) for specs present in both trees.
    versions: dict[tuple[str, str], tuple[str | None, str | None]] = field(
        default_factory=dict
    )

    def bumped(self, kind: str, spec_id: str) -> bool:
        """Whether the spec's `version` text differs between the trees."""
        old, new = self.versions.get((kind, spec_id), (None, None))
        return new is not None and old != new

    def blocking(self, change: Change) -> bool:
        """A breaking change whose spec does not announce it with a new version.

        Integrations have no version, and removed specs no new one, so their
        breaking changes always block.
        """
        if change.rule.level is not Level.BREAKING:
            return False
        return change.kind == "integration" or not self.bumped(
            change.kind, change.spec_id
        )

    @property
    def has_blocking(self) -> bool:
        return any(self.blocking(c) for c in self.changes)


def compare(
    old: CheckedSpecs, new: CheckedSpecs, old_package: Package, new_package: Package
) -> Comparison:
    """Every change from `old` to `new`; both trees must have checked clean."""
    result = Comparison()
    # Old capability id → new id, for the capabilities renamed with renamedFrom.
    renamed = _compare_kind(
        "capability",
        old.capabilities,
        new.capabilities,
        lambda s: s.renamed_from,
        lambda o, n: _capability(o, n),
        result,
    )
    old_inputs = {w.id: w for w in old_package.workflows}
    new_inputs = {w.id: w for w in new_package.workflows}

    def workflow(
        o: tuple[WorkflowSpec, Document], n: tuple[WorkflowSpec, Document]
    ) -> Iterator[_Found]:
        yield from _workflow_inputs(
            _workflow_fields(o, old_inputs.get(o[0].workflow_id)),
            _workflow_fields(n, new_inputs.get(n[0].workflow_id)),
            o[1],
            n[1],
        )
        yield from _workflow(o, n, renamed)

    _compare_kind(
        "workflow",
        old.workflows,
        new.workflows,
        lambda s: s.renamed_from,
        workflow,
        result,
    )
    _compare_kind(
        "integration",
        old.integrations,
        new.integrations,
        lambda s: None,
        lambda o, n: _integration(o, n),
        result,
    )
    result.changes.sort(key=lambda c: c.sort_key)
    return result


@dataclass(frozen=True)
class _Found:
    """A change inside one spec, before it is tied to the spec's kind and id."""

    rule_id: str
    subject: str
    message: str
    span: Span | None
    in_old: bool = False


_Spec = TypeVar("_Spec", CapabilitySpec, WorkflowSpec, IntegrationSpec)


def _compare_kind(
    kind: str,
    old: dict[str, tuple[_Spec, Document]],
    new: dict[str, tuple[_Spec, Document]],
    renamed_from: Callable[[_Spec], str | None],
    inside: Callable[
        [tuple[_Spec, Document], tuple[_Spec, Document]], Iterator[_Found]
    ],
    result: Comparison,
) -> dict[str, str]:
    """Add the kind's changes to `result`; return its renames, old id → new.

    A spec whose `renamedFrom` names an old spec that is gone from the new
    tree is that spec, renamed. When several new specs name the same one,
    the first by id is the rename and the others are additions: an old spec
    has one successor.
    """
    id_key = {"capability": "capabilityId", "workflow": "workflowId"}.get(
        kind, "integration"
    )
    matched: set[str] = set()
    renames: dict[str, str] = {}
    for spec_id, (spec, document) in sorted(new.items()):
        old_id = spec_id if spec_id in old else None
        previous = renamed_from(spec)
        taken_by = renames.get(previous) if previous is not None else None
        if (
            old_id is None
            and previous in old
            and previous not in new
            and taken_by is None
        ):
            old_id = previous
            renames[previous] = spec_id
            result.changes.append(
                Change(
                    kind,
                    spec_id,
                    rule(f"{kind}-renamed"),
                    "",
                    f"{kind} '{previous}' renamed to '{spec_id}'",
                    document.span(("renamedFrom",)),
                )
            )
        if old_id is None:
            note = (
                f" (its renamedFrom '{previous}' is already followed by "
                f"'{taken_by}')"
                if taken_by is not None
                else ""
            )
            result.changes.append(
                Change(
                    kind,
                    spec_id,
                    rule(f"{kind}-added"),
                    "",
                    f"{kind} '{spec_id}' added{note}",
                    document.key_span((id_key,)),
                )
            )
            continue
        matched.add(old_id)
        before = old[old_id]
        if isinstance(spec, CapabilitySpec | WorkflowSpec):
            assert isinstance(before[0], CapabilitySpec | WorkflowSpec)
            result.versions[(kind, spec_id)] = (before[0].version, spec.version)
        for found in inside(before, (spec, document)):
            result.changes.append(
                Change(
                    kind,
                    spec_id,
                    rule(found.rule_id),
                    found.subject,
                    found.message,
                    found.span,
                    found.in_old,
                )
            )
    for spec_id, (_, document) in sorted(old.items()):
        if spec_id not in matched:
            result.changes.append(
                Change(
                    kind,
                    spec_id,
                    rule(f"{kind}-removed"),
                    "",
                    f"{kind} '{spec_id}' removed",
                    document.key_span((id_key,)),
                    in_old=True,
                )
            )
    return renames


# -- fields -----------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """What a field means to its callers, whatever the spec's wording."""

    type: str  # a spec type, or a Python annotation for inferred inputs
    required: bool
    nullable: bool
    default: str | None  # JSON of the value used when left out; None if required
    values: tuple[str, ...] | None = None  # enum values, as JSON
    constraints: tuple[tuple[str, str], ...] = ()
    properties: dict[str, _Shape] | None = None
    items: _Shape | None = None


_CONSTRAINTS = (
    "min_length",
    "max_length",
    "pattern",
    "minimum",
    "maximum",
    "exclusive_minimum",
    "exclusive_maximum",
    "min_items",
    "max_items",
)
# (narrower, wider): every value of the first is a value of the second.
_WIDENINGS = {("integer", "number"), ("enum", "string")}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _shape(spec: FieldSpec) -> _Shape:
    required = not (spec.optional or spec.has_default)
    return _Shape(
        type=spec.type,
        required=required,
        nullable=spec.nullable,
        default=None if required else _json(spec.default),
        values=None if spec.values is None else tuple(_json(v) for v in spec.values),
        constraints=tuple(
            (name.replace("_", ""), _json(getattr(spec, name)))
            for name in _CONSTRAINTS
            if getattr(spec, name) is not None
        ),
        properties=(
            None
            if spec.properties is None
            else {k: _shape(v) for k, v in spec.properties.items()}
        ),
        items=None if spec.items is None else _shape(spec.items),
    )


# Field name → (shape, where the field is declared in its document).
_Fields = dict[str, tuple[_Shape, NodePath]]


def _declared(fields: dict[str, FieldSpec], at: NodePath) -> _Fields:
    return {name: (_shape(spec), (*at, name)) for name, spec in fields.items()}


def _label(subject: str) -> str:
    """A field's name in messages: `shipping.line1` for `inputs.shipping.line1`."""
    return subject.partition(".")[2]


def _compare_fields(
    direction: str,
    old: _Fields,
    new: _Fields,
    old_doc: Document,
    new_doc: Document,
    prefix: str,
) -> Iterator[_Found]:
    for name, (shape, at) in new.items():
        subject = f"{prefix}{name}"
        if name not in old:
            if direction == "output":
                rule_id, how = "output-added", ""
            elif shape.required:
                rule_id, how = "input-added-required", " (required)"
            else:
                rule_id, how = "input-added-optional", " (optional)"
            yield _Found(
                rule_id,
                subject,
                f"{direction} '{_label(subject)}' added{how}",
                new_doc.key_span(at),
            )
            continue
        before, old_at = old[name]
        yield from _compare_shape(
            direction, subject, before, shape, old_doc, new_doc, old_at, at
        )
    for name, (_, at) in old.items():
        if name not in new:
            subject = f"{prefix}{name}"
            yield _Found(
                f"{direction}-removed",
                subject,
                f"{direction} '{_label(subject)}' removed",
                old_doc.key_span(at),
                in_old=True,
            )


def _compare_shape(
    direction: str,
    subject: str,
    old: _Shape,
    new: _Shape,
    old_doc: Document,
    new_doc: Document,
    old_at: NodePath,
    at: NodePath,
) -> Iterator[_Found]:
    span = new_doc.key_span(at)
    what = f"{direction} '{_label(subject)}'"

    def found(rule_suffix: str, message: str) -> _Found:
        return _Found(f"{direction}-{rule_suffix}", subject, message, span)

    if old.required != new.required:
        became = "required" if new.required else "optional"
        yield found(f"became-{became}", f"{what} became {became}")
    elif not new.required and old.default != new.default:
        yield found("default-changed", f"{what}: default {old.default} → {new.default}")
    if old.nullable != new.nullable:
        became = "nullable" if new.nullable else "non-nullable"
        yield found(f"became-{became}", f"{what} became {became}")
    if old.constraints != new.constraints:
        was = ", ".join(f"{k}={v}" for k, v in old.constraints) or "none"
        now = ", ".join(f"{k}={v}" for k, v in new.constraints) or "none"
        yield found("constraint-changed", f"{what}: constraints {was} → {now}")

    if old.type != new.type:
        pair = (old.type, new.type)
        how = "widened" if pair in _WIDENINGS else "changed"
        if pair[::-1] in _WIDENINGS:
            how = "narrowed"
        yield found(f"type-{how}", f"{what}: type {old.type} → {new.type}")
        return
    if old.values is not None and new.values is not None:
        for verb, values in (
            ("added", [v for v in new.values if v not in old.values]),
            ("removed", [v for v in old.values if v not in new.values]),
        ):
            if values:
                listed = ", ".join(values)
                yield found(
                    f"enum-value-{verb}", f"{what}: enum values {verb}: {listed}"
                )
    if (old.properties is None) != (new.properties is None):
        shapes = ("free-form object", "object with properties")
        yield found(
            "type-changed",
            f"{what}: type {shapes[old.properties is not None]} → "
            f"{shapes[new.properties is not None]}",
        )
    elif old.properties is not None and new.properties is not None:
        yield from _compare_fields(
            direction,
            {k: (v, (*old_at, "properties", k)) for k, v in old.properties.items()},
            {k: (v, (*at, "properties", k)) for k, v in new.properties.items()},
            old_doc,
            new_doc,
            f"{subject}.",
        )
    if old.items is not None and new.items is not None:
        yield from _compare_shape(
            direction,
            f"{subject}[]",
            old.items,
            new.items,
            old_doc,
            new_doc,
            (*old_at, "items"),
            (*at, "items"),
        )


# -- capabilities -------------------------------------------------------------


def _capability(
    old: tuple[CapabilitySpec, Document], new: tuple[CapabilitySpec, Document]
) -> Iterator[_Found]:
    (old_spec, old_doc), (spec, doc) = old, new
    yield from _binding(old_spec, spec, doc)
    for direction, at in (("input", "inputs"), ("output", "outputs")):
        yield from _compare_fields(
            direction,
            _declared(getattr(old_spec, at), (at,)),
            _declared(getattr(spec, at), (at,)),
            old_doc,
            doc,
            f"{at}.",
        )


@dataclass(frozen=True)
class _Binding:
    """The effective binding of a capability: what the generated call does."""

    operation: str
    method: str | None
    inputs: dict[str, str]  # input name → parameter path
    outputs: dict[str, str]  # output name → response paths, in order


def _effective_binding(spec: CapabilitySpec) -> _Binding:
    provider = spec.provider
    operation = f"{provider.type} {provider.operation or '-'}"
    if provider.type == "stripe":
        catalogued = stripe.CATALOG.get(provider.operation or "")
        override = provider.binding
        method = (override.method if override else None) or (
            catalogued.method if catalogued else None
        )
        mapping = dict(catalogued.inputs if catalogued else {})
        outputs = dict(catalogued.outputs if catalogued else {})
        if override is not None:
            mapping.update(override.inputs)
            outputs.update(
                (k, (v,) if isinstance(v, str) else tuple(v))
                for k, v in override.outputs.items()
            )
        return _Binding(
            operation,
            method,
            {
                name: stripe._normalise_path(mapping.get(name, stripe._snake(name)))
                for name in spec.inputs
            },
            {
                name: ", ".join(
                    stripe._normalise_path(p)
                    for p in outputs.get(name, (stripe._snake(name),))
                )
                for name in spec.outputs
            },
        )
    if provider.type == "twilio":
        entry = twilio.CATALOG.get(provider.operation or "")
        if entry is None:
            return _Binding(operation, None, {}, {})
        keywords = dict(entry.inputs)
        if entry.sid_input:
            keywords[entry.sid_input] = "@sid"
        return _Binding(
            operation,
            f"{entry.resource.attribute}.{entry.method}",
            {name: keywords.get(name, "-") for name in spec.inputs},
            {
                name: entry.outputs.get(name) or stripe._snake(name)
                for name in spec.outputs
            },
        )
    return _Binding(operation, None, {}, {})


def _binding(
    old: CapabilitySpec, new: CapabilitySpec, doc: Document
) -> Iterator[_Found]:
    before, after = _effective_binding(old), _effective_binding(new)
    if before.operation != after.operation:
        yield _Found(
            "binding-operation-changed",
            "provider",
            f"provider operation {before.operation} → {after.operation}",
            doc.span(("provider", "operation")),
        )
    if before.method != after.method:
        yield _Found(
            "binding-method-changed",
            "provider",
            f"provider method {before.method or '-'} → {after.method or '-'}",
            doc.span(("provider", "binding", "method")),
        )
    for direction, was, now, arrow in (
        ("input", before.inputs, after.inputs, "→"),
        ("output", before.outputs, after.outputs, "←"),
    ):
        for name in sorted(set(was) & set(now)):
            if was[name] != now[name]:
                at: NodePath = ("provider", "binding", f"{direction}s", name)
                if at not in doc.spans:
                    at = (f"{direction}s", name)
                yield _Found(
                    f"binding-{direction}-changed",
                    f"{direction}s.{name}",
                    f"{direction} '{name}' {arrow} '{was[name]}' is now "
                    f"{arrow} '{now[name]}'",
                    doc.key_span(at),
                )


# -- workflows ----------------------------------------------------------------


def _workflow_fields(
    side: tuple[WorkflowSpec, Document], compiled: Workflow | None
) -> _Fields:
    """A workflow's inputs: as declared, or as the checker inferred them."""
    spec, document = side
    if spec.inputs is not None:
        return _declared(spec.inputs, ("inputs",))
    fields: _Fields = {}
    for f in compiled.input.fields if compiled is not None else ():
        annotation = f.annotation
        nullable = annotation.endswith(" | None") and f.default is None
        base = annotation.removesuffix(" | None")
        fields[f.spec_name] = (
            _Shape(
                type=_ANNOTATION_TYPES.get(base, base),
                required=f.default is None,
                nullable=nullable,
                default=None if f.default is None else f.default,
            ),
            _first_use(document, f.spec_name),
        )
    return fields


_ANNOTATION_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "AwareDatetime": "timestamp",
    "dict[str, Any]": "object",
}


def _first_use(document: Document, name: str) -> NodePath:
    """Where an undeclared workflow input is first used, `${input.name}`."""
    needle = "${input." + name + "}"

    def walk(value: Any, at: NodePath) -> NodePath | None:
        if isinstance(value, str):
            return at if needle in value else None
        children = (
            value.items()
            if isinstance(value, dict)
            else enumerate(value) if isinstance(value, list) else ()
        )
        for key, child in children:
            hit = walk(child, (*at, key))
            if hit is not None:
                return hit
        return None

    return walk(document.data.get("steps"), ("steps",)) or ("workflowId",)


def _workflow_inputs(
    old: _Fields, new: _Fields, old_doc: Document, new_doc: Document
) -> Iterator[_Found]:
    yield from _compare_fields("input", old, new, old_doc, new_doc, "inputs.")


def _entry(spec: WorkflowSpec) -> str:
    return spec.entry or spec.steps[0].id


def _workflow(
    old: tuple[WorkflowSpec, Document],
    new: tuple[WorkflowSpec, Document],
    renamed: dict[str, str],
) -> Iterator[_Found]:
    (old_spec, old_doc), (spec, doc) = old, new
    if _entry(old_spec) != _entry(spec):
        yield _Found(
            "workflow-entry-changed",
            "entry",
            f"entry step {_entry(old_spec)} → {_entry(spec)}",
            doc.span(("entry",) if spec.entry else ("steps", 0)),
        )
    before = {s.id: (i, s) for i, s in enumerate(old_spec.steps)}
    after = {s.id: (i, s) for i, s in enumerate(spec.steps)}
    for step_id, (index, step) in after.items():
        subject = f"steps.{step_id}"
        if step_id not in before:
            yield _Found(
                "step-added",
                subject,
                f"step '{step_id}' added, calling '{step.capability}'",
                doc.span(("steps", index)),
            )
            continue
        yield from _step(before[step_id][1], step, doc, index, renamed)
    for step_id, (index, _) in before.items():
        if step_id not in after:
            yield _Found(
                "step-removed",
                f"steps.{step_id}",
                f"step '{step_id}' removed",
                old_doc.span(("steps", index)),
                in_old=True,
            )


def _step(
    old: StepSpec,
    new: StepSpec,
    doc: Document,
    index: int,
    renamed: dict[str, str],
) -> Iterator[_Found]:
    subject = f"steps.{new.id}"

    def at(key: str) -> Span:
        return doc.key_span(("steps", index, key))

    # A step that follows its capability's rename still calls the same
    # capability: the rename itself is reported once, as capability-renamed.
    followed = renamed.get(old.capability) == new.capability
    if old.capability != new.capability and not followed:
        yield _Found(
            "step-capability-changed",
            subject,
            f"step '{new.id}' calls '{new.capability}' instead of '{old.capability}'",
            at("capability"),
        )
    for key, was, now in (
        ("onSuccess", old.on_success, new.on_success),
        ("onFailure", old.on_failure, new.on_failure),
    ):
        if was != now:
            yield _Found(
                "step-transition-changed",
                subject,
                f"step '{new.id}' {key} {was or '(end)'} → {now or '(end)'}",
                at(key),
            )
    names = sorted(
        n
        for n in set(old.inputs) | set(new.inputs)
        if _json(old.inputs.get(n)) != _json(new.inputs.get(n))
    )
    if names:
        yield _Found(
            "step-inputs-changed",
            subject,
            f"step '{new.id}' sends other values for {', '.join(names)}",
            at("inputs"),
        )
    if old.retry != new.retry or old.timeout != new.timeout:
        yield _Found(
            "step-retry-changed",
            subject,
            f"step '{new.id}' retry or timeout changed",
            at("retry" if old.retry != new.retry else "timeout"),
        )


# -- integrations -------------------------------------------------------------


def _integration(
    old: tuple[IntegrationSpec, Document], new: tuple[IntegrationSpec, Document]
) -> Iterator[_Found]:
    (old_spec, old_doc), (spec, doc) = old, new
    was = old_spec.webhook.events if old_spec.webhook else []
    now = spec.webhook.events if spec.webhook else []
    for index, event in enumerate(now):
        if event not in was:
            yield _Found(
                "webhook-event-added",
                "webhook.events",
                f"webhook event '{event}' added",
                doc.span(("webhook", "events", index)),
            )
    for index, event in enumerate(was):
        if event not in now:
            yield _Found(
                "webhook-event-removed",
                "webhook.events",
                f"webhook event '{event}' removed",
                old_doc.span(("webhook", "events", index)),
                in_old=True,
            )
    old_path = old_spec.webhook.path if old_spec.webhook else None
    new_path = spec.webhook.path if spec.webhook else None
    if old_path != new_path:
        yield _Found(
            "webhook-path-changed",
            "webhook.path",
            f"webhook path {old_path or '(none)'} → {new_path or '(none)'}",
            doc.span(("webhook", "path")),
        )
    old_policies = (
        old_spec.policies.model_dump(by_alias=True) if old_spec.policies else None
    )
    new_policies = spec.policies.model_dump(by_alias=True) if spec.policies else None
    if _json(old_policies) != _json(new_policies):
        keys = sorted(
            k
            for k in set(old_policies or {}) | set(new_policies or {})
            if _json((old_policies or {}).get(k)) != _json((new_policies or {}).get(k))
        )
        yield _Found(
            "policy-changed",
            "policies",
            f"policies changed: {', '.join(keys) or 'policies block'}",
            doc.key_span(("policies",)),
        )
