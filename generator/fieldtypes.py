"""Spec field types → Python annotations, defaults and pydantic constraints.

Used by the checker for capability inputs and outputs and for workflow
inputs. Nested `object` fields with `properties` become models of their own,
named after their owner (`CreatePaymentIntentInputShipping`), and are
returned inner-first so the module can define them before use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import names
from .diagnostics import Diagnostics
from .ir import Field, Model
from .loader import Document, NodePath
from .spec import FieldSpec

__all__ = ["ModelBuilder", "python_literal"]

_SCALARS = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool",
    "timestamp": "AwareDatetime",
}

_CONSTRAINTS = (
    ("min_length", "min_length"),
    ("max_length", "max_length"),
    ("pattern", "pattern"),
    ("minimum", "ge"),
    ("maximum", "le"),
    ("exclusive_minimum", "gt"),
    ("exclusive_maximum", "lt"),
    ("min_items", "min_length"),
    ("max_items", "max_length"),
)


def python_literal(value: Any) -> str:
    """Python source for a plain-data value; `repr` escapes every string."""
    if isinstance(value, dict):
        items = ", ".join(
            f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()
        )
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    return repr(value)


@dataclass
class ModelBuilder:
    """Builds the models of one module, collecting what the module must import.

    `overrides` maps a top-level field's spec name to an annotation chosen by a
    provider binding (an integer Stripe amount, a Literal of Stripe's values).
    """

    document: Document
    diagnostics: Diagnostics
    models: list[Model] = field(default_factory=list)
    typing_imports: set[str] = field(default_factory=set)
    class_names: set[str] = field(default_factory=set)

    def _class_name(self, owner: str, spec_name: str, position: int) -> str:
        """A class name for a nested model, unique within the module."""
        name = names.class_name(owner, spec_name)
        if name == owner:  # the field name has no letters or digits
            name = f"{owner}Field{position}"
        candidate, n = name, 2
        while candidate in self.class_names:
            candidate, n = f"{name}{n}", n + 1
        return candidate

    def build(
        self,
        model_name: str,
        doc: str,
        fields: Mapping[str, FieldSpec],
        at: NodePath,
        overrides: Mapping[str, str] | None = None,
    ) -> Model:
        self.class_names.add(model_name)
        built = []
        taken: dict[str, str] = {}
        for position, (spec_name, spec) in enumerate(fields.items(), start=1):
            name = names.attribute_name(spec_name, position)
            if name in taken:
                self.diagnostics.error(
                    "S010",
                    f"fields '{taken[name]}' and '{spec_name}' both become the "
                    f"Python name '{name}'",
                    self.document.key_span((*at, spec_name)),
                    "rename one of them",
                )
                continue
            taken[name] = spec_name
            annotation = (overrides or {}).get(spec_name) or self._annotation(
                spec, model_name, spec_name, (*at, spec_name), position
            )
            built.append(
                self._field(spec_name, name, spec, annotation, (*at, spec_name))
            )
        model = Model(model_name, doc, tuple(built))
        self.models.append(model)
        return model

    def _annotation(
        self,
        spec: FieldSpec,
        owner: str,
        spec_name: str,
        at: NodePath,
        position: int,
    ) -> str:
        if spec.type in _SCALARS:
            if spec.type == "timestamp":
                self.typing_imports.add("AwareDatetime")
            return _SCALARS[spec.type]
        if spec.type == "enum":
            if not spec.values:
                self.diagnostics.error(
                    "S011",
                    "an enum field needs a non-empty list of values",
                    self.document.span(at),
                    "add `values: [first, second]`",
                )
                return "str"
            self.typing_imports.add("Literal")
            return "Literal[" + ", ".join(repr(v) for v in spec.values) + "]"
        if spec.type == "array":
            if spec.items is not None and _has_constraints(spec.items):
                self.diagnostics.error(
                    "S014",
                    "constraints on array items are not supported",
                    self.document.span((*at, "items")),
                    "constrain the array itself (minItems, maxItems), or make the "
                    "items objects with constrained properties",
                )
            if spec.items is None:
                self.diagnostics.error(
                    "S011",
                    "an array field needs `items`, the type of its elements",
                    self.document.span(at),
                    "add `items: {type: string}` or similar",
                )
                return "list[Any]"
            item = self._annotation(
                spec.items, owner, spec_name + "Item", (*at, "items"), position
            )
            return f"list[{item}]"
        # object
        if spec.properties:
            nested = self._class_name(owner, spec_name, position)
            label = (
                f"An item of the `{spec_name.removesuffix('Item')}` field"
                if at[-1] == "items"
                else f"The `{spec_name}` field"
            )
            model = self.build(
                nested,
                f"{label} of {owner}.",
                spec.properties,
                (*at, "properties"),
            )
            return model.name
        self.typing_imports.add("Any")
        return "dict[str, Any]"

    def _field(
        self, spec_name: str, name: str, spec: FieldSpec, annotation: str, at: NodePath
    ) -> Field:
        constraints = tuple(
            (keyword, _bound(getattr(spec, attr), spec.type))
            for attr, keyword in _CONSTRAINTS
            if getattr(spec, attr) is not None
        )
        if spec.nullable or (spec.optional and not spec.has_default):
            annotation = f"{annotation} | None"
        if spec.has_default:
            self._check_default(spec_name, spec, at)
            if spec.default is None and not spec.nullable:
                self.diagnostics.error(
                    "S012",
                    f"field '{spec_name}' has the default null but is not nullable",
                    self.document.span((*at, "default")),
                    "add `nullable: true`, or use `optional: true` without a default",
                )
            default: str | None = python_literal(spec.default)
        elif spec.optional:
            default = "None"
        else:
            default = None
        return Field(
            spec_name, name, annotation, default, spec.description, constraints
        )

    def _check_default(self, spec_name: str, spec: FieldSpec, at: NodePath) -> None:
        value = spec.default
        if value is None:
            return
        if spec.type == "timestamp":
            self.diagnostics.error(
                "S013",
                f"timestamp field '{spec_name}' cannot have a default",
                self.document.span((*at, "default")),
                "make it optional and choose the time where the value is used",
            )
            return
        expected = _DEFAULT_CHECKS.get(spec.type)
        fits = expected(value) if expected else True
        if spec.type == "enum":
            fits = value in (spec.values or [])
        if not fits:
            kind = {"enum": "one of the enum's values", "integer": "an integer"}.get(
                spec.type, f"a {spec.type}"
            )
            self.diagnostics.error(
                "S013",
                f"the default {value!r} of field '{spec_name}' is not {kind}",
                self.document.span((*at, "default")),
                None,
            )


_DEFAULT_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "timestamp": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _has_constraints(spec: FieldSpec) -> bool:
    return any(getattr(spec, attr) is not None for attr, _ in _CONSTRAINTS)


def _bound(value: Any, field_type: str) -> str:
    """A constraint's value as source: `1`, not `1.0`, for an integer field."""
    if field_type == "integer" and isinstance(value, float) and value.is_integer():
        return repr(int(value))
    return repr(value)
