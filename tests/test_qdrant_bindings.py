"""What the Qdrant binding decides at generation time.

Collections are declared once in the `qdrant` integration and checked there;
a capability may address only declared collections, and an operation, input
or output the catalog does not have is a diagnostic with the valid names
nearby, never a failure at run time.
"""

from __future__ import annotations

from collections.abc import Callable

import pydantic
import pytest

from generator.bindings.qdrant import CATALOG
from generator.diagnostics import Diagnostic
from tests.support import Generated

Generate = Callable[..., Generated]

_INTEGRATION = """\
integration: qdrant
settings:
  collections:
    notes: {vectorSize: 3, distance: Dot, owner: app}
    faq: {vectorSize: 8, distance: Euclid, owner: tenant}
"""

_UPSERT = """\
capabilityId: qdrant-note
provider: {type: qdrant, operation: upsert}
inputs:
  collection: {type: string, default: notes}
  id: {type: integer}
  vector: {type: array, items: {type: number}}
  owner: {type: string}
  payload: {type: object}
outputs:
  status: {type: string}
"""

_SEARCH = """\
capabilityId: qdrant-find
provider: {type: qdrant, operation: search}
inputs:
  collection: {type: enum, values: [faq]}
  vector: {type: array, items: {type: number}}
  owner: {type: string}
  limit: {type: integer, optional: true}
outputs:
  hits:
    type: array
    items:
      type: object
      properties:
        id: {type: string}
        score: {type: number}
"""

_DELETE = """\
capabilityId: qdrant-forget
provider: {type: qdrant, operation: delete}
inputs:
  collection: {type: string, default: notes}
  ids: {type: array, items: {type: integer}}
  owner: {type: string}
"""


def _only(tree: Generated, code: str) -> Diagnostic:
    [found] = [d for d in tree.build.diagnostics.items if d.code == code]
    return found


def _specs(capability: str, integration: str | None = _INTEGRATION) -> dict[str, str]:
    specs = {"capabilities/qdrant.yaml": capability}
    if integration is not None:
        specs["integrations/qdrant.yaml"] = integration
    return specs


def test_every_catalog_operation_generates(generate: Generate) -> None:
    tree = generate(
        {
            "capabilities/note.yaml": _UPSERT,
            "capabilities/find.yaml": _SEARCH,
            "capabilities/forget.yaml": _DELETE,
            "integrations/qdrant.yaml": _INTEGRATION,
        }
    )

    assert tree.ok, tree.diagnostics()
    assert set(CATALOG) == {"upsert", "search", "delete"}
    note = tree.module("qdrant.note")
    assert [c.name for c in note.OPERATION.collections] == ["faq", "notes"]
    # The enum's values choose the collections a capability may address.
    find = tree.module("qdrant.find")
    [faq] = find.OPERATION.collections
    assert (faq.vector_size, faq.distance, faq.owner) == (8, "Euclid", "tenant")


def test_a_collection_input_takes_only_declared_names(generate: Generate) -> None:
    tree = generate(_specs(_UPSERT))

    assert tree.ok, tree.diagnostics()
    model = tree.module("qdrant.note").NoteInput
    fields = {"id": 1, "vector": [0.1], "owner": "a", "payload": {}}
    assert model.model_validate(fields).collection == "notes"
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({**fields, "collection": "elsewhere"})


def test_unknown_collection_suggests_the_declared_one(generate: Generate) -> None:
    tree = generate(
        _specs(_UPSERT.replace("default: notes", "default: note")), write=False
    )

    found = _only(tree, "C041")
    assert found.message == "unknown Qdrant collection 'note'"
    assert found.hint == "did you mean 'notes'?"


def test_a_capability_without_declared_collections_is_refused(
    generate: Generate,
) -> None:
    tree = generate(_specs(_UPSERT, integration=None), write=False)

    assert "no Qdrant collection is declared" in _only(tree, "C041").message


def test_unknown_operation_suggests_the_closest(generate: Generate) -> None:
    tree = generate(
        _specs(_UPSERT.replace("operation: upsert", "operation: upsrt")), write=False
    )

    assert _only(tree, "C040").hint == "did you mean 'upsert'?"


def test_unknown_input_names_the_operations_inputs(generate: Generate) -> None:
    tree = generate(
        _specs(_UPSERT.replace("  owner:", "  tenant: {type: string}\n  owner:")),
        write=False,
    )

    found = _only(tree, "C042")
    assert found.message == "Qdrant's upsert has no input 'tenant'"
    assert found.hint == "its inputs: collection, id, vector, owner, payload"


def test_missing_owner_input_is_reported(generate: Generate) -> None:
    tree = generate(
        _specs(_DELETE.replace("  owner: {type: string}\n", "")), write=False
    )

    assert _only(tree, "C043").message == "Qdrant's delete needs the input 'owner'"


def test_a_vector_of_text_is_the_wrong_type(generate: Generate) -> None:
    tree = generate(
        _specs(_UPSERT.replace("items: {type: number}", "items: {type: string}")),
        write=False,
    )

    found = _only(tree, "C044")
    assert found.message == (
        "input 'vector' is declared an array of string, but Qdrant takes it as "
        "an array of numbers"
    )


def test_unknown_output_and_hit_field_are_reported(generate: Generate) -> None:
    tree = generate(
        _specs(
            _SEARCH.replace("score: {type: number}", "scor: {type: number}")
            + "  count: {type: integer}\n"
        ),
        write=False,
    )

    messages = sorted(d.message for d in tree.build.diagnostics.items)
    assert messages == [
        "Qdrant's search has no output 'count'",
        "a hit has no field 'scor'",
    ]


def test_binding_on_a_qdrant_capability_is_refused(generate: Generate) -> None:
    tree = generate(
        _specs(
            _UPSERT.replace(
                "provider: {type: qdrant, operation: upsert}",
                "provider: {type: qdrant, operation: upsert, binding: {method: x}}",
            )
        ),
        write=False,
    )

    assert _only(tree, "C047").hint == "remove `provider.binding`"


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("{vectorSize: 0, distance: Dot, owner: app}", "vectorSize of collection"),
        ("{vectorSize: 3, distance: cosine, owner: app}", "unknown distance"),
        ("{vectorSize: 3, distance: Dot, owner: 'a b'}", "must name a payload"),
        ("{vectorSize: 3, distance: Dot}", "does not declare owner"),
        ("{vectorSize: 3, distance: Dot, owner: a, size: 3}", "unknown key 'size'"),
    ],
)
def test_collection_declarations_are_checked(
    generate: Generate, declaration: str, message: str
) -> None:
    integration = (
        f"integration: qdrant\nsettings:\n  collections:\n    notes: {declaration}\n"
    )

    tree = generate(_specs(_UPSERT, integration), write=False)

    [found] = [d for d in tree.build.diagnostics.items if d.code == "C046"]
    assert message in found.message
    assert found.span is not None and found.span.line == 4
    # A broken declaration is reported once, not again for each capability.
    assert [d.code for d in tree.build.diagnostics.items] == ["C046"]


def test_a_wrong_distance_suggests_the_right_spelling(generate: Generate) -> None:
    integration = _INTEGRATION.replace("distance: Dot", "distance: cosine")

    tree = generate(_specs(_UPSERT, integration), write=False)

    assert _only(tree, "C046").hint == "did you mean 'Cosine'?"
