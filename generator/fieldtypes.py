"""Spec field types → Python annotations, defaults and pydantic constraints.

Used by the checker for capability inputs and outputs and for workflow
inputs. Nested `object` fields with `properties` become models of their own,
named after their owner (`CreatePaymentIntentInputShipping`), and are
returned inner-first so the module can define them before use.

Before a field is turned into Python, its spec is checked for what pydantic
would accept but cannot mean anything: a constraint on a type it does not
apply to, bounds no value fits, a pattern pydantic's regex engine rejects,
enum values YAML read as booleans or floats, NaN or infinity anywhere, and a
default that does not fit its field (recursively, into arrays and objects).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import pydantic
from pydantic_core import SchemaError

from . import names
from .diagnostics import Diagnostics, did_you_mean
from .ir import Field, Model, pystr
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


# The field types each type-specific key applies to.
_APPLIES_TO = {
    "minimum": ("integer", "number"),
    "maximum": ("integer", "number"),
    "exclusive_minimum": ("integer", "number"),
    "exclusive_maximum": ("integer", "number"),
    "min_length": ("string",),
    "max_length": ("string",),
    "pattern": ("string",),
    "min_items": ("array",),
    "max_items": ("array",),
    "values": ("enum",),
    "items": ("array",),
    "properties": ("object",),
}

# Lower and upper bounds, and whether a value equal to both still fails.
_RANGES = (
    ("minimum", "maximum", False),
    ("exclusive_minimum", "maximum", True),
    ("minimum", "exclusive_maximum", True),
    ("exclusive_minimum", "exclusive_maximum", True),
    ("min_length", "max_length", False),
    ("min_items", "max_items", False),
)

_NON_FINITE = {"inf": 'float("inf")', "-inf": 'float("-inf")', "nan": 'float("nan")'}


def python_literal(value: Any) -> str:
    """Python source for a plain-data value; `repr` escapes every string.

    Field specs never get here with NaN or infinity (S015), but a float's repr
    would be a bare `inf` or `nan`, which is no Python name, so they are spelt
    as calls.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[repr(value)]
    if isinstance(value, dict):
        items = ", ".join(
            f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()
        )
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return pystr(value)
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
    # The nested model built for an `object` spec, by the spec's path.
    nested_models: dict[NodePath, str] = field(default_factory=dict)

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
            self._check_spec(spec, (*at, spec_name))
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
            return "Literal[" + ", ".join(python_literal(v) for v in spec.values) + "]"
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
            self.nested_models[at] = model.name
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
            if spec.default is None and not spec.nullable:
                self.diagnostics.error(
                    "S012",
                    f"field '{spec_name}' has the default null but is not nullable",
                    self.document.span((*at, "default")),
                    "add `nullable: true`, or use `optional: true` without a default",
                )
            elif spec.default is not None:
                where = (*at, "default")
                self._check_value(spec.default, spec, where, spec_name, "default")
            default: str | None = self._default_source(spec.default, spec, at)
        elif spec.optional:
            default = "None"
        else:
            default = None
        return Field(
            spec_name, name, annotation, default, spec.description, constraints
        )

    def _default_source(self, value: Any, spec: FieldSpec, at: NodePath) -> str:
        """A default as source; data for a nested model is validated into one."""
        model = self.nested_models.get(at)
        if model is not None and isinstance(value, dict):
            return f"{model}.model_validate({python_literal(value)})"
        if spec.items is not None and isinstance(value, list):
            items = (self._default_source(v, spec.items, (*at, "items")) for v in value)
            return "[" + ", ".join(items) + "]"
        return python_literal(value)

    # Checks of the field spec itself.

    def _check_spec(self, spec: FieldSpec, at: NodePath, item: bool = False) -> None:
        """Report keys that do not fit the field's type, and values no run can use.

        Array items are checked too; their constraints are already refused as
        a whole (S014), so only their other keys are looked at here.
        """
        for attr, types in _APPLIES_TO.items():
            if getattr(spec, attr) is None or spec.type in types:
                continue
            if item and attr in _CONSTRAINT_ATTRS:
                continue
            key = _key(attr)
            kinds = " and ".join(types)
            self.diagnostics.error(
                "S016",
                f"`{key}` does not apply to a field of type {spec.type}",
                self.document.key_span((*at, key)),
                f"`{key}` is for {kinds} fields; remove it or change the type",
            )
        if not item:
            self._check_bounds(spec, at)
            if spec.pattern is not None and spec.type == "string":
                self._check_pattern(spec.pattern, (*at, "pattern"))
        if spec.type == "enum" and spec.values:
            self._check_enum_values(spec.values, (*at, "values"))
        if spec.type == "array" and spec.items is not None:
            self._check_spec(spec.items, (*at, "items"), item=True)

    def _check_bounds(self, spec: FieldSpec, at: NodePath) -> None:
        for attr in ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum"):
            value = getattr(spec, attr)
            if value is not None and not math.isfinite(value):
                self._not_finite(value, (*at, _key(attr)))
        for low_attr, high_attr, strict in _RANGES:
            low, high = getattr(spec, low_attr), getattr(spec, high_attr)
            if low is None or high is None:
                continue
            if spec.type not in _APPLIES_TO[low_attr]:
                continue  # already reported as a key that does not apply
            if not (math.isfinite(low) and math.isfinite(high)):
                continue
            if low > high or (strict and low == high):
                low_key, high_key = _key(low_attr), _key(high_attr)
                self.diagnostics.error(
                    "S017",
                    f"no value fits both {low_key} {_bound(low, spec.type)} and "
                    f"{high_key} {_bound(high, spec.type)}",
                    self.document.key_span((*at, low_key)),
                    "swap the bounds, or correct one of them",
                )

    def _check_pattern(self, pattern: str, at: NodePath) -> None:
        problem = _pattern_problem(pattern)
        if problem is not None:
            self.diagnostics.error(
                "S018",
                f"the pattern is not a regular expression pydantic accepts: {problem}",
                self.document.span(at),
                "patterns follow the regex syntax pydantic uses (Rust's), which has "
                "no look-around and no backreferences",
            )

    def _check_enum_values(self, values: list[Any], at: NodePath) -> None:
        seen: dict[tuple[type, Any], int] = {}
        for i, value in enumerate(values):
            where = (*at, i)
            label = f"values[{i}]"
            if isinstance(value, float) and not math.isfinite(value):
                self._not_finite(value, where)
            elif isinstance(value, bool):
                self.diagnostics.error(
                    "S019",
                    f"{label} was read as the boolean {_shown(value)}, not as text",
                    self.document.span(where),
                    "YAML reads yes, no, on, off, true and false as booleans; "
                    "quote the value to keep it as text",
                )
            elif not isinstance(value, (str, int)):
                hint = "quote the value to keep it as text"
                if isinstance(value, float) and value.is_integer():
                    hint = f"write {int(value)} for an integer, or {hint}"
                self.diagnostics.error(
                    "S019",
                    f"{label} is {_shown(value)}; enum values are text or integers",
                    self.document.span(where),
                    hint,
                )
            elif (type(value), value) in seen:
                first = seen[(type(value), value)]
                self.diagnostics.error(
                    "S021",
                    f"{label} repeats values[{first}], {value!r}",
                    self.document.span(where),
                    "remove one of them",
                )
            else:
                seen[(type(value), value)] = i

    def _not_finite(self, value: float, at: NodePath) -> None:
        self.diagnostics.error(
            "S015",
            f"{_shown(value)} is not a finite number",
            self.document.span(at),
            "NaN and infinity cannot be part of a contract; use a finite number",
        )

    # Checks of a default against its field, one checker for every depth.

    def _check_value(
        self, value: Any, spec: FieldSpec, at: NodePath, name: str, where: str
    ) -> bool:
        """Report where `value` does not fit `spec`; True if it fits.

        `name` is the field whose default holds the value, and `where` the
        value's place in that default: `default`, `default[0]`, `default.city`.
        """
        if isinstance(value, float) and not math.isfinite(value):
            self._not_finite(value, at)
            return False
        if value is None:
            if spec.nullable:
                return True
            return self._wrong_default(
                value, "allowed: it is not nullable", at, name, where
            )
        if spec.type == "timestamp":
            self.diagnostics.error(
                "S013",
                (
                    f"timestamp field '{name}' cannot have a default"
                    if where == "default"
                    else f"{where} of field '{name}' is a timestamp, which cannot have "
                    "a default"
                ),
                self.document.span(at),
                "make it optional and choose the time where the value is used",
            )
            return False
        if spec.type == "enum":
            return self._check_enum_default(value, spec, at, name, where)
        if not _DEFAULT_CHECKS[spec.type](value):
            kind = _KINDS.get(spec.type, f"a {spec.type}")
            return self._wrong_default(value, kind, at, name, where)
        unmet = _unmet_constraint(value, spec)
        if unmet is not None:
            return self._wrong_default(value, unmet, at, name, where)
        if spec.type == "array" and spec.items is not None:
            items = spec.items
            return all(
                [
                    self._check_value(v, items, (*at, i), name, f"{where}[{i}]")
                    for i, v in enumerate(value)
                ]
            )
        if spec.type == "object":
            return self._check_object_default(value, spec, at, name, where)
        return True

    def _check_enum_default(
        self, value: Any, spec: FieldSpec, at: NodePath, name: str, where: str
    ) -> bool:
        values = spec.values or []
        # Compared by type as well: `True == 1` and `1.0 == 1` in Python.
        if any(type(v) is type(value) and v == value for v in values):
            return True
        near = [v for v in values if v == value]
        hint = f"write it as in `values`: {near[0]!r}" if near else None
        kind = "one of the enum's values"
        return self._wrong_default(value, kind, at, name, where, hint)

    def _check_object_default(
        self,
        value: dict[Any, Any],
        spec: FieldSpec,
        at: NodePath,
        name: str,
        where: str,
    ) -> bool:
        fits = True
        properties = spec.properties
        for key, item in value.items():
            inner = f"{where}.{key}"
            if not isinstance(key, str):
                fits = self._wrong_default(
                    key, "text", (*at, key), name, f"a key of {where}"
                )
            elif properties is None:
                fits = self._check_free_form(item, (*at, key)) and fits
            elif key not in properties:
                self.diagnostics.error(
                    "S013",
                    f"{where} of field '{name}' has the unknown property '{key}'",
                    self.document.key_span((*at, key)),
                    did_you_mean(key, list(properties)),
                )
                fits = False
            else:
                fits = (
                    self._check_value(item, properties[key], (*at, key), name, inner)
                    and fits
                )
        missing = [
            key
            for key, prop in (properties or {}).items()
            if key not in value and not prop.optional and not prop.has_default
        ]
        if missing:
            self.diagnostics.error(
                "S013",
                f"{where} of field '{name}' lacks the required property "
                f"'{missing[0]}'",
                self.document.span(at),
                None,
            )
            fits = False
        return fits

    def _check_free_form(self, value: Any, at: NodePath) -> bool:
        """Any data fits a free-form object, except numbers no contract holds."""
        if isinstance(value, float) and not math.isfinite(value):
            self._not_finite(value, at)
            return False
        items: list[tuple[Any, Any]] = []
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        return all([self._check_free_form(v, (*at, k)) for k, v in items])

    def _wrong_default(
        self,
        value: Any,
        kind: str,
        at: NodePath,
        name: str,
        where: str,
        hint: str | None = None,
    ) -> bool:
        shown = _shown(value)
        if where == "default":
            message = f"the default {shown} of field '{name}' is not {kind}"
        else:
            message = f"{where} of field '{name}' is {shown}, not {kind}"
        self.diagnostics.error("S013", message, self.document.span(at), hint)
        return False


_DEFAULT_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "timestamp": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}

_LIMITS: tuple[tuple[str, str, Callable[[Any, Any], bool]], ...] = (
    ("minimum", "at least", operator.ge),
    ("maximum", "at most", operator.le),
    ("exclusive_minimum", "greater than", operator.gt),
    ("exclusive_maximum", "less than", operator.lt),
)

_KINDS = {"integer": "an integer", "array": "a list"}

_CONSTRAINT_ATTRS = frozenset(attr for attr, _ in _CONSTRAINTS)


def _has_constraints(spec: FieldSpec) -> bool:
    return any(getattr(spec, attr) is not None for attr, _ in _CONSTRAINTS)


def _bound(value: Any, field_type: str) -> str:
    """A constraint's value as source: `1`, not `1.0`, for an integer field."""
    if field_type == "integer" and isinstance(value, float) and value.is_integer():
        return repr(int(value))
    return python_literal(value)


def _key(attr: str) -> str:
    """The spec's key for a `FieldSpec` attribute: `min_length` → `minLength`."""
    return FieldSpec.model_fields[attr].alias or attr


def _shown(value: Any) -> str:
    """A value as a message shows it, in the spec's YAML words where they differ."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return {"inf": ".inf", "-inf": "-.inf"}.get(repr(value), ".nan")
    return repr(value)


def _unmet_constraint(value: Any, spec: FieldSpec) -> str | None:
    """What a default of the right type still fails to be, if anything."""
    if spec.type in ("integer", "number"):
        for attr, words, holds in _LIMITS:
            bound = getattr(spec, attr)
            if bound is not None and math.isfinite(bound) and not holds(value, bound):
                return f"{words} {_bound(bound, spec.type)}"
    if spec.type in ("string", "array"):
        unit = "characters" if spec.type == "string" else "items"
        low, high = (
            (spec.min_length, spec.max_length)
            if spec.type == "string"
            else (spec.min_items, spec.max_items)
        )
        if low is not None and len(value) < low:
            return f"at least {low} {unit} long"
        if high is not None and len(value) > high:
            return f"at most {high} {unit} long"
    if spec.type == "string" and not _matches(spec.pattern, value):
        return f"text matching the pattern {spec.pattern!r}"
    return None


@functools.cache
def _pattern_adapter(pattern: str) -> pydantic.TypeAdapter[str]:
    """A validator for text with `pattern`, built as the generated code builds it."""
    return pydantic.TypeAdapter(Annotated[str, pydantic.Field(pattern=pattern)])


def _pattern_problem(pattern: str) -> str | None:
    """Why pydantic refuses `pattern`, in its own last words, or None."""
    try:
        _pattern_adapter(pattern)
    except SchemaError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = lines[-1] if lines else "not a valid pattern"
        return reason.removeprefix("error: ")
    return None


def _matches(pattern: str | None, value: str) -> bool:
    """Whether `value` matches `pattern`; True where there is no usable pattern."""
    if pattern is None or _pattern_problem(pattern) is not None:
        return True
    try:
        _pattern_adapter(pattern).validate_python(value)
    except pydantic.ValidationError:
        return False
    return True
