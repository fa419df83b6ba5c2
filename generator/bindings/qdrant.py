"""The Qdrant binding catalog, and the collections an integration declares.

Qdrant capabilities store and retrieve knowledge embeddings. Each operation
(`upsert`, `search`, `delete`) takes a fixed set of inputs, named below as
data together with the spec types each may be declared with, and gives a
fixed set of outputs. The runtime (`_runtime/qdrant_calls.py`) turns them
into calls on the official `qdrant-client`.

Collections are declared once, in the `qdrant` integration spec:

    integration: qdrant
    settings:
      collections:
        knowledge: {vectorSize: 4, distance: Cosine, owner: tenant}

`owner` names the payload field holding the application or tenant a point
belongs to. Every capability takes an `owner` input; the runtime refuses an
upsert whose payload does not carry that owner and filters every search and
delete by it, so one owner never sees another's points.

A capability's `collection` input may name only declared collections: its
generated annotation is a Literal of them, and an enum's values or a default
naming another collection is a diagnostic here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostics, did_you_mean
from ..ir import Model, Param, QdrantCall, QdrantCollection, pystr
from ..loader import Document, NodePath
from ..spec import CapabilitySpec, FieldSpec, IntegrationSpec

if TYPE_CHECKING:
    from ..checker import CheckedSpecs

__all__ = [
    "CATALOG",
    "DISTANCES",
    "Operation",
    "QdrantBinding",
    "check_integration",
    "resolve",
]

DISTANCES = ("Cosine", "Dot", "Euclid")

# Collection names become path segments on a server and folder names in the
# local mode, so they keep to a small character set.
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_OWNER_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_COLLECTION_KEYS = ("vectorSize", "distance", "owner")
_MAX_VECTOR_SIZE = 65536


@dataclass(frozen=True)
class Input:
    """One input an operation takes, and how a spec may declare it."""

    keyword: str  # the runtime request's attribute
    types: tuple[str, ...]  # spec types it may be declared with
    items: tuple[str, ...] = ()  # for arrays: the types of the elements
    shown: str = ""  # the type as messages name it


@dataclass(frozen=True)
class Output:
    """One output an operation gives."""

    key: str  # the runtime result's key
    type: str
    items: str | None = None
    # For arrays of objects: the properties an item may declare, with types.
    properties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    shown: str = ""


_INPUTS: dict[str, Input] = {
    "collection": Input("collection", ("string", "enum"), shown="a collection name"),
    "owner": Input("owner", ("string",), shown="text"),
    "id": Input("point_id", ("string", "integer"), shown="text or an integer"),
    "ids": Input(
        "ids",
        ("array",),
        ("string", "integer"),
        shown="an array of texts or integers",
    ),
    "vector": Input("vector", ("array",), ("number",), shown="an array of numbers"),
    "payload": Input("payload", ("object",), shown="an object"),
    "limit": Input("limit", ("integer",), shown="an integer"),
    "scoreThreshold": Input("score_threshold", ("number",), shown="a number"),
}

_STATUS = Output("status", "string", shown="text")
_HITS = Output(
    "hits",
    "array",
    "object",
    properties={
        "id": ("string",),
        "score": ("number",),
        "payload": ("object",),
    },
    shown="an array of objects (id, score, payload)",
)


@dataclass(frozen=True)
class Operation:
    inputs: tuple[str, ...]
    required: tuple[str, ...]
    outputs: Mapping[str, Output]


CATALOG: dict[str, Operation] = {
    "upsert": Operation(
        inputs=("collection", "id", "vector", "owner", "payload"),
        required=("collection", "id", "vector", "owner", "payload"),
        outputs={"status": _STATUS},
    ),
    "search": Operation(
        inputs=("collection", "vector", "owner", "limit", "scoreThreshold"),
        required=("collection", "vector", "owner"),
        outputs={"hits": _HITS},
    ),
    "delete": Operation(
        inputs=("collection", "ids", "owner"),
        required=("collection", "ids", "owner"),
        outputs={"status": _STATUS},
    ),
}


@dataclass
class QdrantBinding:
    """A resolved binding for one capability, ready to become a `QdrantCall`."""

    operation: str
    params: list[tuple[str, str]]  # (input spec name, request keyword)
    collections: tuple[QdrantCollection, ...]
    # The `collection` input's annotation: a Literal of the declared names.
    input_annotations: dict[str, str] = field(default_factory=dict)

    def call(self, inputs: Model, outputs: Model) -> QdrantCall:
        attr = {f.spec_name: f.name for f in inputs.fields}
        return QdrantCall(
            operation=self.operation,
            collections=self.collections,
            params=tuple(
                Param(keyword, f"inputs.{attr[name]}") for name, keyword in self.params
            ),
            outputs=tuple(
                (f.spec_name, CATALOG[self.operation].outputs[f.spec_name].key)
                for f in outputs.fields
            ),
        )


def _declared(
    integration: IntegrationSpec, document: Document, diagnostics: Diagnostics
) -> tuple[dict[str, QdrantCollection], set[str]]:
    """The well-formed collections, and the names of the broken ones."""
    good: dict[str, QdrantCollection] = {}
    broken: set[str] = set()
    for key in integration.settings:
        if key != "collections":
            diagnostics.error(
                "C046",
                f"unknown Qdrant setting '{key}'",
                document.key_span(("settings", key)),
                did_you_mean(key, ["collections"])
                or "the qdrant integration's settings hold `collections`",
            )
    raw = integration.settings.get("collections")
    if raw is None:
        return good, broken
    if not isinstance(raw, dict):
        diagnostics.error(
            "C046",
            "`collections` must map each collection's name to its declaration",
            document.span(("settings", "collections")),
            "e.g. `collections: {knowledge: {vectorSize: 384, distance: Cosine, "
            "owner: tenant}}`",
        )
        return good, broken
    for name, entry in raw.items():
        collection = _collection(str(name), entry, document, diagnostics)
        if collection is None:
            broken.add(str(name))
        else:
            good[collection.name] = collection
    return good, broken


def _collection(
    name: str, entry: Any, document: Document, diagnostics: Diagnostics
) -> QdrantCollection | None:
    at: NodePath = ("settings", "collections", name)
    if not _COLLECTION_NAME.fullmatch(name):
        diagnostics.error(
            "C046",
            f"'{name}' is not a valid Qdrant collection name",
            document.key_span(at),
            "use letters, digits, '_' and '-', starting with a letter or digit, "
            "at most 64 characters",
        )
        return None
    if not isinstance(entry, dict):
        diagnostics.error(
            "C046",
            f"collection '{name}' must declare vectorSize, distance and owner",
            document.span(at),
            f"e.g. `{name}: {{vectorSize: 384, distance: Cosine, owner: tenant}}`",
        )
        return None

    sound = True
    for key in entry:
        if key not in _COLLECTION_KEYS:
            diagnostics.error(
                "C046",
                f"unknown key '{key}' in collection '{name}'",
                document.key_span((*at, key)),
                did_you_mean(str(key), _COLLECTION_KEYS)
                or f"allowed here: {', '.join(_COLLECTION_KEYS)}",
            )
            sound = False
    missing = [key for key in _COLLECTION_KEYS if key not in entry]
    if missing:
        diagnostics.error(
            "C046",
            f"collection '{name}' does not declare {', '.join(missing)}",
            document.key_span(at),
            "a collection declares vectorSize, distance and owner",
        )
        return None

    size, distance, owner = entry["vectorSize"], entry["distance"], entry["owner"]
    if (
        isinstance(size, bool)
        or not isinstance(size, int)
        or not 1 <= size <= _MAX_VECTOR_SIZE
    ):
        diagnostics.error(
            "C046",
            f"vectorSize of collection '{name}' must be an integer from 1 to "
            f"{_MAX_VECTOR_SIZE}, not {size!r}",
            document.span((*at, "vectorSize")),
            "the number of dimensions of the embeddings, e.g. 384",
        )
        sound = False
    if distance not in DISTANCES:
        diagnostics.error(
            "C046",
            f"unknown distance {distance!r} for collection '{name}'",
            document.span((*at, "distance")),
            did_you_mean(str(distance), DISTANCES)
            or f"distances: {', '.join(DISTANCES)}",
        )
        sound = False
    if not isinstance(owner, str) or not _OWNER_FIELD.fullmatch(owner):
        diagnostics.error(
            "C046",
            f"owner of collection '{name}' must name a payload field, not {owner!r}",
            document.span((*at, "owner")),
            "a field name such as `tenant`: letters, digits and '_'",
        )
        sound = False
    if not sound:
        return None
    return QdrantCollection(name, size, distance, owner)


def check_integration(
    integration: IntegrationSpec, document: Document, diagnostics: Diagnostics
) -> None:
    """Report every problem in the `qdrant` integration's collections, once."""
    _declared(integration, document, diagnostics)


def resolve(
    spec: CapabilitySpec,
    document: Document,
    specs: CheckedSpecs,
    diagnostics: Diagnostics,
) -> QdrantBinding | None:
    """Resolve and check the binding of one Qdrant capability."""
    name = spec.provider.operation
    operation = CATALOG.get(name or "")
    if operation is None:
        diagnostics.error(
            "C040",
            (
                f"unknown Qdrant operation '{name}'"
                if name is not None
                else "a Qdrant capability needs `provider.operation`"
            ),
            document.span(("provider", "operation") if name else ("provider",)),
            did_you_mean(name or "", list(CATALOG))
            or f"Qdrant operations: {', '.join(CATALOG)}",
        )
        return None
    if spec.provider.binding is not None:
        diagnostics.error(
            "C047",
            "Qdrant capabilities take their binding from the catalog; "
            "`provider.binding` is not supported for them",
            document.key_span(("provider", "binding")),
            "remove `provider.binding`",
        )
        return None

    sound = True
    params: list[tuple[str, str]] = []
    for input_name, field_spec in spec.inputs.items():
        known = _INPUTS.get(input_name)
        if known is None or input_name not in operation.inputs:
            diagnostics.error(
                "C042",
                f"Qdrant's {name} has no input '{input_name}'",
                document.key_span(("inputs", input_name)),
                did_you_mean(input_name, operation.inputs)
                or f"its inputs: {', '.join(operation.inputs)}",
            )
            sound = False
            continue
        at = ("inputs", input_name)
        sound &= _check_type(
            input_name, "input", field_spec, known, at, document, diagnostics
        )
        params.append((input_name, known.keyword))
    for required in operation.required:
        declared = spec.inputs.get(required)
        if declared is None or (declared.optional and not declared.has_default):
            diagnostics.error(
                "C043",
                f"Qdrant's {name} needs the input '{required}'",
                document.span(("inputs",) if "inputs" in document.data else ()),
                f"declare the input '{required}' ({_INPUTS[required].shown})",
            )
            sound = False

    for output_name, field_spec in spec.outputs.items():
        output = operation.outputs.get(output_name)
        if output is None:
            diagnostics.error(
                "C045",
                f"Qdrant's {name} has no output '{output_name}'",
                document.key_span(("outputs", output_name)),
                did_you_mean(output_name, list(operation.outputs))
                or f"its outputs: {', '.join(operation.outputs)}",
            )
            sound = False
            continue
        sound &= _check_output(output_name, field_spec, output, document, diagnostics)

    collections = _collections_for(spec, document, specs, diagnostics)
    if collections is None or not sound:
        return None
    names = ", ".join(pystr(c.name) for c in collections)
    annotations = {}
    collection_spec = spec.inputs.get("collection")
    if collection_spec is not None and collection_spec.type == "string":
        annotations["collection"] = f"Literal[{names}]"
    return QdrantBinding(name or "", params, collections, annotations)


def _collections_for(
    spec: CapabilitySpec,
    document: Document,
    specs: CheckedSpecs,
    diagnostics: Diagnostics,
) -> tuple[QdrantCollection, ...] | None:
    """The declared collections a capability may address, or None on an error."""
    found = specs.integrations.get("qdrant")
    declared: dict[str, QdrantCollection] = {}
    broken: set[str] = set()
    if found is not None:
        # Problems in the integration itself are reported once, by the checker.
        declared, broken = _declared(*found, Diagnostics())
    if not declared and not broken:
        diagnostics.error(
            "C041",
            "no Qdrant collection is declared for this capability to use",
            document.span(("provider", "type")),
            "declare one in specs/integrations/qdrant.yaml, under "
            "`settings.collections`",
        )
        return None

    field_spec = spec.inputs.get("collection")
    named: list[tuple[str, NodePath]] = []
    if field_spec is not None and field_spec.type == "enum":
        named = [
            (str(v), ("inputs", "collection", "values", i))
            for i, v in enumerate(field_spec.values or [])
        ]
    elif field_spec is not None and isinstance(field_spec.default, str):
        named = [(field_spec.default, ("inputs", "collection", "default"))]
    sound = True
    for value, at in named:
        if value in declared or value in broken:
            continue
        diagnostics.error(
            "C041",
            f"unknown Qdrant collection '{value}'",
            document.span(at),
            did_you_mean(value, list(declared))
            or f"declared collections: {', '.join(sorted(declared))}",
        )
        sound = False
    if not sound or any(value in broken for value, _ in named):
        return None
    if field_spec is not None and field_spec.type == "enum":
        return tuple(declared[value] for value, _ in named)
    return tuple(declared[key] for key in sorted(declared))


def _check_type(
    name: str,
    kind: str,
    field_spec: FieldSpec,
    known: Input,
    at: NodePath,
    document: Document,
    diagnostics: Diagnostics,
) -> bool:
    fits = field_spec.type in known.types
    if fits and known.items:
        fits = field_spec.items is not None and field_spec.items.type in known.items
    if fits:
        return True
    declared: str = field_spec.type
    if field_spec.type == "array" and field_spec.items is not None:
        declared = f"an array of {field_spec.items.type}"
    diagnostics.error(
        "C044",
        f"{kind} '{name}' is declared {declared}, but Qdrant takes it as "
        f"{known.shown}",
        document.span((*at, "type")),
        _type_hint(known.types, known.items),
    )
    return False


def _type_hint(types: tuple[str, ...], items: tuple[str, ...]) -> str:
    if items:
        return f"declare it `type: array` with `items: {{type: {items[0]}}}`"
    return f"declare it `type: {types[0]}`"


def _check_output(
    name: str,
    field_spec: FieldSpec,
    output: Output,
    document: Document,
    diagnostics: Diagnostics,
) -> bool:
    at: NodePath = ("outputs", name)
    items = field_spec.items
    fits = field_spec.type == output.type and (
        output.items is None or (items is not None and items.type == output.items)
    )
    if not fits:
        diagnostics.error(
            "C044",
            f"output '{name}' is declared {field_spec.type}, but Qdrant gives it "
            f"as {output.shown}",
            document.span((*at, "type")),
            _type_hint((output.type,), (output.items,) if output.items else ()),
        )
        return False
    sound = True
    for prop, prop_spec in ((items.properties or {}) if items else {}).items():
        where: NodePath = (*at, "items", "properties", prop)
        types = output.properties.get(prop)
        if types is None:
            diagnostics.error(
                "C045",
                f"a hit has no field '{prop}'",
                document.key_span(where),
                did_you_mean(prop, list(output.properties))
                or f"a hit's fields: {', '.join(output.properties)}",
            )
            sound = False
        elif prop_spec.type not in types:
            diagnostics.error(
                "C044",
                f"hit field '{prop}' is declared {prop_spec.type}, but Qdrant "
                f"gives it as {types[0]}",
                document.span((*where, "type")),
                f"declare it `type: {types[0]}`",
            )
            sound = False
    return sound
