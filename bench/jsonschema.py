"""The benchmark corpus's capabilities as JSON Schema, for datamodel-code-generator.

One schema file per capability, holding its input and output models under
`$defs`, so the baseline generates the same models our generator does, one
module per capability: nested objects become models of their own, enums
become enums, constraints become `Field` arguments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = ["write_schemas"]


def _pascal(text: str) -> str:
    return "".join(
        part[:1].upper() + part[1:] for part in text.replace("-", " ").split()
    )


_CONSTRAINTS = {
    "minLength": "minLength",
    "maxLength": "maxLength",
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusiveMinimum",
    "exclusiveMaximum": "exclusiveMaximum",
    "minItems": "minItems",
    "maxItems": "maxItems",
}


def _field(spec: dict[str, Any], title: str) -> dict[str, Any]:
    kind = spec["type"]
    schema: dict[str, Any]
    if kind == "timestamp":
        schema = {"type": "string", "format": "date-time"}
    elif kind == "enum":
        schema = {"enum": list(spec["values"])}
    elif kind == "object" and spec.get("properties"):
        schema = _object(spec["properties"], title)
    elif kind == "object":
        schema = {"type": "object", "additionalProperties": True}
    elif kind == "array":
        schema = {"type": "array", "items": _field(spec["items"], f"{title}Item")}
    else:
        schema = {"type": kind}
    schema.update({v: spec[k] for k, v in _CONSTRAINTS.items() if k in spec})
    if "description" in spec:
        schema["description"] = spec["description"]
    if "default" in spec:
        schema["default"] = spec["default"]
    if spec.get("nullable"):
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def _object(fields: dict[str, Any], title: str) -> dict[str, Any]:
    required = [
        name
        for name, spec in fields.items()
        if not spec.get("optional") and "default" not in spec
    ]
    schema: dict[str, Any] = {
        "title": title,
        "type": "object",
        "properties": {
            name: _field(spec, f"{title}{_pascal(name)}")
            for name, spec in fields.items()
        },
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def write_schemas(specs: Path, out: Path) -> int:
    """Write one schema per capability spec under `specs`; returns how many."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted((specs / "capabilities").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        base = _pascal(spec["capabilityId"])
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": base,
            "description": spec.get("description", ""),
            "$defs": {
                f"{base}Input": _object(spec.get("inputs", {}), f"{base}Input"),
                f"{base}Output": _object(spec.get("outputs", {}), f"{base}Output"),
            },
        }
        name = spec["capabilityId"].replace("-", "_")
        (out / f"{name}.json").write_text(json.dumps(schema, indent=2))
        count += 1
    return count
