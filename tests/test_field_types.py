"""Field specs that pydantic would accept but no contract can mean.

Each broken spec must give one positioned diagnostic and write nothing; the
valid neighbour of each must still generate and behave.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from generator.fieldtypes import python_literal
from tests.support import Generated

Generate = Callable[..., Generated]


def _capability(*fields: str) -> dict[str, str]:
    """A custom capability whose inputs are `fields`, one line each, from line 4."""
    lines = ["capabilityId: demo-fields", "provider: {type: custom}", "inputs:"]
    lines += [f"  {line}" for line in fields]
    return {"demo.yaml": "\n".join(lines) + "\n"}


def _errors(tree: Generated) -> list[tuple[str, int, int]]:
    """(code, line, column) of every diagnostic, in output order."""
    found = []
    for diagnostic in tree.build.diagnostics.sorted():
        assert diagnostic.span is not None, diagnostic
        found.append((diagnostic.code, diagnostic.span.line, diagnostic.span.column))
    return found


def _at(field: str, text: str) -> int:
    """The column of `text` within an input line written by `_capability`."""
    return field.index(text) + 3


def _refused(tree: Generated) -> list[tuple[str, int, int]]:
    assert not tree.ok
    assert not tree.output.exists(), "nothing may be written when specs have errors"
    return _errors(tree)


# NaN and infinity (S015).


def test_nan_and_infinity_are_refused_wherever_a_field_holds_a_number(
    generate: Generate,
) -> None:
    fields = {
        "x: {type: number, default: .inf}": ".inf",
        "y: {type: number, minimum: .nan}": ".nan",
        "z: {type: integer, exclusiveMaximum: -.inf}": "-.inf",
        "e: {type: enum, values: [1, .nan]}": ".nan",
        "m: {type: object, default: {a: [1, .inf]}}": ".inf",
    }
    tree = generate(_capability(*fields))
    assert _refused(tree) == [
        ("S015", line, _at(field, value))
        for line, (field, value) in enumerate(fields.items(), start=4)
    ]
    assert "is not a finite number" in tree.diagnostics()


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_python_literal_never_writes_a_bare_inf_or_nan(value: float) -> None:
    source = python_literal([value, {"k": value}])
    names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    assert names == {"float"}
    assert repr(eval(source)) == repr([value, {"k": value}])


# Patterns (S018).


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ('"["', "unclosed character class"),
        ('"^(?!x).*$"', "look-around"),
        ('"(a)\\\\1"', "backreferences"),
    ],
)
def test_pattern_pydantic_refuses_is_reported_at_the_pattern(
    generate: Generate, pattern: str, reason: str
) -> None:
    tree = generate(_capability(f"code: {{type: string, pattern: {pattern}}}"))
    assert _refused(tree) == [("S018", 4, 33)]
    assert reason in tree.diagnostics()


def test_pattern_in_pydantic_syntax_still_generates(generate: Generate) -> None:
    tree = generate(_capability(r"name: {type: string, pattern: '^\p{L}+$'}"))
    assert tree.ok, tree.diagnostics()
    model = tree.module("custom.demo_fields").DemoFieldsInput
    assert model(name="Zoë").name == "Zoë"
    with pytest.raises(ValidationError):
        model(name="Zoë 2")


# Keys that do not fit the type (S016) and bounds no value fits (S017).


@pytest.mark.parametrize(
    ("field_type", "key"),
    [
        ("string", "minimum: 3"),
        ("boolean", "exclusiveMaximum: 3"),
        ("integer", "minLength: 3"),
        ("number", "pattern: x"),
        ("string", "minItems: 1"),
        ("string", "values: [a]"),
        ("object", "items: {type: string}"),
        ("array, items: {type: string}", "properties: {a: {type: string}}"),
        ("timestamp", "maxLength: 3"),
    ],
)
def test_key_for_another_type_is_reported_at_the_key(
    generate: Generate, field_type: str, key: str
) -> None:
    line = f"a: {{type: {field_type}, {key}}}"
    tree = generate(_capability(line))
    assert _refused(tree) == [("S016", 4, _at(line, key))]
    assert "does not apply to a field of type" in tree.diagnostics()
    assert "remove it or change the type" in tree.diagnostics()


@pytest.mark.parametrize(
    ("field", "lower"),
    [
        ("n: {type: integer, minimum: 10, maximum: 1}", "minimum"),
        ("n: {type: number, exclusiveMinimum: 1, maximum: 1}", "exclusiveMinimum"),
        ("n: {type: number, minimum: 2, exclusiveMaximum: 2}", "minimum"),
        ("n: {type: string, minLength: 5, maxLength: 2}", "minLength"),
        (
            "n: {type: array, items: {type: string}, minItems: 3, maxItems: 1}",
            "minItems",
        ),
    ],
)
def test_bounds_no_value_fits_are_reported_at_the_lower_bound(
    generate: Generate, field: str, lower: str
) -> None:
    tree = generate(_capability(field))
    assert _refused(tree) == [("S017", 4, _at(field, lower))]
    assert "no value fits both" in tree.diagnostics()


def test_equal_inclusive_bounds_still_generate(generate: Generate) -> None:
    tree = generate(_capability("n: {type: integer, minimum: 1, maximum: 1}"))
    assert tree.ok, tree.diagnostics()


# Enum values (S019, S021).


@pytest.mark.parametrize(
    ("values", "column", "shown"),
    [
        ("[yes, maybe]", 28, "values[0] was read as the boolean true"),
        ("[maybe, no]", 35, "values[1] was read as the boolean false"),
        ("[on, off]", 28, "values[0] was read as the boolean true"),
        ("[a, 2.0]", 31, "values[1] is 2.0"),
        ("[a, null]", 31, "values[1] is null"),
    ],
)
def test_enum_value_yaml_did_not_read_as_text_or_integer_is_refused(
    generate: Generate, values: str, column: int, shown: str
) -> None:
    tree = generate(_capability(f"e: {{type: enum, values: {values}}}"))
    assert _refused(tree)[0] == ("S019", 4, column)
    assert shown in tree.diagnostics()
    assert "quote the value" in tree.diagnostics()


def test_repeated_enum_value_is_refused_at_the_repeat(generate: Generate) -> None:
    tree = generate(_capability("e: {type: enum, values: [a, 1, b, 1]}"))
    assert _refused(tree) == [("S021", 4, 37)]
    assert "values[3] repeats values[1]" in tree.diagnostics()


def test_quoted_yes_and_no_are_an_enum_of_text(generate: Generate) -> None:
    tree = generate(
        _capability(
            "answer: {type: enum, values: ['yes', 'no', '2.0'], default: 'no'}",
            "level: {type: enum, values: [1, '1', 2]}",
        )
    )
    assert tree.ok, tree.diagnostics()
    model = tree.module("custom.demo_fields").DemoFieldsInput
    assert model(level=1).answer == "no"
    assert model(answer="yes", level="1").level == "1"
    with pytest.raises(ValidationError):
        model(answer=True, level=1)


# Defaults, checked against their field at every depth (S013).


def test_enum_default_must_match_a_value_in_type_too(generate: Generate) -> None:
    tree = generate(
        _capability(
            "a: {type: enum, values: [1, 2], default: true}",
            "b: {type: enum, values: [1], default: 1.0}",
            "c: {type: enum, values: ['1'], default: 1}",
        )
    )
    assert _refused(tree) == [("S013", 4, 44), ("S013", 5, 41), ("S013", 6, 43)]
    assert "the default true of field 'a'" in tree.diagnostics()
    assert "write it as in `values`: 1" in tree.diagnostics()


def test_array_default_items_are_checked_against_the_item_type(
    generate: Generate,
) -> None:
    tags = "tags: {type: array, items: {type: string}, default: [a, 1]}"
    grid = (
        "grid: {type: array, items: {type: array, items: {type: integer}},"
        " default: [[1], [2, x]]}"
    )
    tree = generate(_capability(tags, grid))
    assert _refused(tree) == [
        ("S013", 4, _at(tags, "1]")),
        ("S013", 5, _at(grid, "x]")),
    ]
    assert "default[1] of field 'tags' is 1, not a string" in tree.diagnostics()
    assert "default[1][1] of field 'grid' is 'x', not an integer" in (
        tree.diagnostics()
    )


def test_object_default_is_checked_against_its_properties(
    generate: Generate,
) -> None:
    line1 = "{type: object, properties: {line1: {type: string}}, default: "
    fields = {
        f"ship: {line1}{{line1: 5}}}}": "5}",
        f"home: {line1}{{line1: a, lin2: b}}}}": "lin2",
        f"work: {line1}{{}}}}": "{}",
        "when: {type: object, properties: {at: {type: timestamp}},"
        " default: {at: '2024-01-01T00:00:00Z'}}": "'2024",
    }
    tree = generate(_capability(*fields))
    assert _refused(tree) == [
        ("S013", line, _at(field, value))
        for line, (field, value) in enumerate(fields.items(), start=4)
    ]
    text = tree.diagnostics()
    assert "default.line1 of field 'ship' is 5, not a string" in text
    assert "default of field 'home' has the unknown property 'lin2'" in text
    assert "did you mean 'line1'?" in text
    assert "default of field 'work' lacks the required property 'line1'" in text
    assert "default.at of field 'when' is a timestamp" in text


def test_default_outside_the_field_constraints_is_refused(
    generate: Generate,
) -> None:
    fields = [
        "n: {type: integer, minimum: 1, default: 0}",
        "s: {type: string, pattern: '^[A-Z]+$', default: abc}",
        "l: {type: array, items: {type: string}, maxItems: 1, default: [a, b]}",
    ]
    tree = generate(_capability(*fields))
    assert _refused(tree) == [
        ("S013", line, _at(field, "default: ") + len("default: "))
        for line, field in enumerate(fields, start=4)
    ]
    text = tree.diagnostics()
    assert "the default 0 of field 'n' is not at least 1" in text
    assert "is not text matching the pattern '^[A-Z]+$'" in text
    assert "is not at most 1 items long" in text


def test_nested_defaults_that_fit_become_model_instances(
    generate: Generate,
) -> None:
    tree = generate(
        _capability(
            "ship: {type: object, properties: {line1: {type: string},"
            " city: {type: string, optional: true}}, default: {line1: x}}",
            "lines: {type: array, items: {type: object, properties:"
            " {sku: {type: integer, default: 3}}}, default: [{sku: 1}, {}]}",
            "meta: {type: object, default: {a: [1, {b: 2.5}], c: null}}",
        )
    )
    assert tree.ok, tree.diagnostics()
    model = tree.module("custom.demo_fields").DemoFieldsInput
    first, second = model(), model()
    assert first.ship.line1 == "x" and first.ship.city is None
    assert [line.sku for line in first.lines] == [1, 3]
    assert first.meta == {"a": [1, {"b": 2.5}], "c": None}
    first.lines.append(first.lines[0])
    assert len(second.lines) == 2  # a default is never shared between instances
