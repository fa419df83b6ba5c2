"""Property tests: any valid spec compiles to importable code, and any invalid
input yields diagnostics, never a traceback."""

from __future__ import annotations

import ast
import keyword
import re
import tempfile
from pathlib import Path
from typing import Any

import black
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import loader, names
from generator.checker import check
from generator.diagnostics import Diagnostics
from generator.render import comment
from tests.support import generate_tree

_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_awkward_words = st.sampled_from(
    [
        *keyword.kwlist[:12],
        "type",
        "str",
        "schema",
        "model_config",
        "copy",
        "json",
        "déjà-vu",
        "2fa",
        "x-y",
        "日本",
        "_private",
        "UPPER",
        "camelCase",
    ]
)
field_names = st.one_of(
    _awkward_words,
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]),
        min_size=1,
        max_size=12,
    ),
)

scalar_types = st.sampled_from(["string", "number", "integer", "boolean", "timestamp"])


def field_specs(depth: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    scalar = st.builds(
        lambda t, desc, mode: {
            "type": t,
            **({"description": desc} if desc else {}),
            **mode,
        },
        scalar_types,
        st.one_of(st.none(), st.text(max_size=30)),
        st.sampled_from(
            [
                {},
                {"optional": True},
                {"nullable": True},
                {"optional": True, "nullable": True},
            ]
        ),
    )
    enum = st.lists(
        st.text(min_size=1, max_size=8), min_size=1, max_size=4, unique=True
    ).map(lambda values: {"type": "enum", "values": values})
    options = [scalar, enum, st.just({"type": "object"})]
    if depth > 0:
        options.append(
            st.builds(
                lambda item: {"type": "array", "items": item}, field_specs(depth - 1)
            )
        )
        options.append(
            _field_maps(depth - 1).map(
                lambda props: {"type": "object", "properties": props}
            )
        )
    return st.one_of(*options)


def _field_maps(depth: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    def distinct_python_names(fields: dict[str, Any]) -> bool:
        python = [names.attribute_name(n, i) for i, n in enumerate(fields, start=1)]
        return len(set(python)) == len(python)

    return st.dictionaries(
        field_names, field_specs(depth), min_size=1, max_size=6
    ).filter(distinct_python_names)


capability_ids = st.from_regex(r"\A[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,6}){0,2}\Z")


@_SETTINGS
@given(capability_ids, _field_maps(), _field_maps())
def test_valid_capabilities_generate_importable_models(
    capability_id: str, inputs: dict[str, Any], outputs: dict[str, Any]
) -> None:
    spec = {
        "capabilityId": capability_id,
        "provider": {"type": "custom"},
        "inputs": inputs,
        "outputs": outputs,
    }
    text = yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)
    with tempfile.TemporaryDirectory() as folder:
        tree = generate_tree(Path(folder), {"cap.yaml": text})
        assert tree.ok, tree.diagnostics()
        module = tree.module(f"custom.{names.module_name(capability_id, 'custom')}")
        model_name = names.class_name(names.module_name(capability_id, "custom"))
        for suffix in ("Input", "Output"):
            model = getattr(module, model_name + suffix)
            assert set(model.model_json_schema().get("properties", {})) <= {
                *inputs,
                *outputs,
            }


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=20,
)


def _diagnose(text: str) -> Diagnostics:
    diagnostics = Diagnostics()
    documents = loader.load_text(text, "specs/x.yaml", diagnostics)
    check(documents, diagnostics, "pkg", "0")
    return diagnostics


@_SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    diagnostics = _diagnose(text)
    for diagnostic in diagnostics.items:
        assert diagnostic.render(text)


@_SETTINGS
@given(st.sampled_from(["capabilityId", "workflowId", "integration"]), json_values)
def test_wrong_shapes_are_diagnosed(kind: str, body: Any) -> None:
    document = {kind: body, "provider": body, "steps": body, "inputs": body}
    text = yaml.safe_dump(document, allow_unicode=True)
    diagnostics = _diagnose(text)
    assert diagnostics.has_errors
    assert all(d.span is not None for d in diagnostics.items)


# Any characters, with more of those that could break out of a comment.
_DESCRIPTION_TEXT = st.lists(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(["\n", "\r\n", '"""', "\\", "# ", "fmt: off", "noqa", " "]),
    ),
    max_size=120,
).map("".join)


@_SETTINGS
@given(_DESCRIPTION_TEXT)
def test_any_text_becomes_comment_lines_that_black_keeps(text: str) -> None:
    lines = comment(text, 4)
    if not text.strip():
        assert lines == ""
        return
    source = f"if ready:\n{lines}\n    go()\n"

    assert ast.dump(ast.parse(source)) == ast.dump(ast.parse("if ready:\n    go()\n"))
    assert black.format_str(source, mode=black.Mode()) == source
    for line in lines.split("\n"):
        assert line.startswith("    #")
        assert len(line) <= 88 or " " not in line[len("    # ") :], line


# How each tool finds its orders in a comment's text (what follows the `#`),
# as the tools read them; coverage's needs no colon.
_TOOL_DIRECTIVES = {
    "black": r"^\s*(fmt|yapf)\s*:\s*(off|on|skip|disable|enable)\b",
    "mypy": r"^\s*(type\s*:\s*ignore|mypy\s*:)",
    "ruff, flake8": r"(^|#)\s*noqa\b|^\s*(ruff|flake8)\s*:\s*noqa",
    "pylint": r"\bpylint\s*:",
    "coverage": r"^\s*pragma[:\s]?\s*no\s*(cover|branch)",
    "pyright, isort, pytype": r"^\s*(pyright|isort|pytype)\s*:",
    "bandit": r"(^|#)\s*nosec",
    "pyre": r"^\s*pyre-",
    "ty, pyrefly": r"^\s*(ty|pyrefly)\s*:\s*ignore",
    "autopep8": r"^\s*autopep8\s*:\s*(off|on)",
}

_ORDERS = [
    "fmt: off",
    "fmt:skip",
    "type: ignore",
    "type:ignore[misc]",
    "noqa",
    "#NOQA: E501",
    "ruff: noqa",
    "pylint: disable=all",
    "pragma: no cover",
    "pragma no cover",
    "PRAGMA NO BRANCH",
    "pyright: ignore",
    "isort: skip_file",
    "nosec",
    "pyre-ignore",
    "mypy: ignore-errors",
    "ty: ignore",
    "pyrefly: ignore",
    "autopep8: off",
]

# Orders among any characters (surrogates too), and words long enough to wrap
# an order onto the start of a line of its own.
_ORDERS_TEXT = st.lists(
    st.one_of(
        st.sampled_from(_ORDERS),
        st.text(st.characters(exclude_categories=()), max_size=8),
        st.sampled_from(["\n", "\r", "\u2028", "\t", "x" * 37]),
    ),
    max_size=30,
).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_ORDERS_TEXT, st.sampled_from([4, 12, 16]))
def test_no_order_to_a_tool_survives_in_a_comment(text: str, indent: int) -> None:
    lines = comment(text, indent)
    if not lines:
        return
    opening = "".join(
        f"{'    ' * depth}if ready_{depth}:\n" for depth in range(indent // 4)
    )
    source = f"{opening}{lines}\n{' ' * indent}go()\n"

    compile(source, "<comment>", "exec")
    source.encode("utf-8")  # no lone surrogate reaches the file
    assert black.format_str(source, mode=black.Mode()) == source
    for line in lines.split("\n"):
        text_after_hash = line.lstrip()[1:]
        for tool, order in _TOOL_DIRECTIVES.items():
            assert not re.search(order, text_after_hash, re.IGNORECASE), (tool, line)
