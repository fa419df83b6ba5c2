"""The generated Qdrant wrappers against qdrant-client's local mode.

Each test gets a store on a fresh folder under tmp: the embedded mode the
runtime uses when no QDRANT_URL is set, with the same client code paths as
a server for everything the wrappers do. The example workflow runs end to
end with Twilio answered by the local server of tests/test_twilio.py and
e-mail written to an outbox folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from generated import Capabilities
from generated._runtime import errors, qdrant_calls
from generated._runtime.journal import MemoryJournal
from generated._runtime.policies import PolicyRequest
from generated.qdrant import (
    DeleteSnippetsInput,
    SearchKnowledgeInput,
    StoreSnippetInput,
    delete_snippets,
    search_knowledge,
    search_knowledge_async,
    store_snippet,
)
from generated.workflows import StoreKnowledgeInput, store_knowledge
from tests import test_twilio
from tests.test_twilio import FROM, MESSAGES_PATH, FakeTwilio

# The local Twilio server and its settings, shared with the Twilio tests.
fake_twilio = test_twilio.fake_twilio
twilio_env = test_twilio.twilio_env

SIZE = 384  # the `knowledge` collection's vectorSize in specs/
ACME, GLOBEX = "acme", "globex"


def _vector(*leading: float) -> list[float]:
    """A vector of the collection's size: the given numbers, then small ones."""
    return [*leading, *([0.01] * (SIZE - len(leading)))]


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))


def _store(
    store: qdrant_calls.QdrantStore,
    point: int,
    owner: str,
    vector: list[float],
    text: str,
) -> None:
    store_snippet(
        StoreSnippetInput(
            id_=_id(point),
            vector=vector,
            owner=owner,
            payload={"tenant": owner, "text": text},
        ),
        store=store,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[qdrant_calls.QdrantStore]:
    built = qdrant_calls.build_store(
        qdrant_calls.QdrantSettings(QDRANT_PATH=str(tmp_path / "qdrant"))
    )
    yield built
    built.close()


def test_upsert_creates_the_collection_with_its_declared_vectors(
    store: qdrant_calls.QdrantStore, tmp_path: Path
) -> None:
    output = store_snippet(
        StoreSnippetInput(
            id_=_id(1),
            vector=_vector(1.0),
            owner=ACME,
            payload={"tenant": ACME, "text": "Invoices are due in 30 days."},
        ),
        store=store,
    )

    assert output.status == "completed"
    store.close()
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    try:
        vectors = client.get_collection("knowledge").config.params.vectors
        assert isinstance(vectors, models.VectorParams)
        assert (vectors.size, vectors.distance.value) == (SIZE, "Cosine")
        assert client.count("knowledge").count == 1
    finally:
        client.close()


def test_search_returns_the_closest_of_the_owners_points_only(
    store: qdrant_calls.QdrantStore,
) -> None:
    _store(store, 1, ACME, _vector(1.0, 0.0), "acme, close")
    _store(store, 2, ACME, _vector(0.0, 1.0), "acme, far")
    # Globex's point is the query itself: the best match of all, if it leaked.
    _store(store, 3, GLOBEX, _vector(1.0, 0.0), "globex, identical")

    hits = search_knowledge(
        SearchKnowledgeInput(vector=_vector(1.0, 0.0), owner=ACME), store=store
    ).hits

    assert [hit.id_ for hit in hits] == [_id(1), _id(2)]
    assert [hit.payload["text"] for hit in hits] == ["acme, close", "acme, far"]
    assert hits[0].score > hits[1].score
    assert all(hit.payload["tenant"] == ACME for hit in hits)


def test_search_of_an_owner_without_points_finds_nothing(
    store: qdrant_calls.QdrantStore,
) -> None:
    _store(store, 1, GLOBEX, _vector(1.0), "globex")

    output = search_knowledge(
        SearchKnowledgeInput(vector=_vector(1.0), owner=ACME), store=store
    )

    assert output.hits == []


def test_search_honours_the_limit(store: qdrant_calls.QdrantStore) -> None:
    for n in range(1, 5):
        _store(store, n, ACME, _vector(float(n)), f"snippet {n}")

    output = search_knowledge(
        SearchKnowledgeInput(vector=_vector(1.0), owner=ACME, limit=2), store=store
    )

    assert len(output.hits) == 2


def test_delete_removes_only_the_owners_points(
    store: qdrant_calls.QdrantStore,
) -> None:
    _store(store, 1, ACME, _vector(1.0), "acme")
    _store(store, 2, GLOBEX, _vector(1.0), "globex")

    # Globex asks to delete both ids; Acme's point is not Globex's to delete.
    output = delete_snippets(
        DeleteSnippetsInput(ids=[_id(1), _id(2)], owner=GLOBEX), store=store
    )

    assert output.status == "completed"
    query = _vector(1.0)
    acme = search_knowledge(SearchKnowledgeInput(vector=query, owner=ACME), store=store)
    globex = search_knowledge(
        SearchKnowledgeInput(vector=query, owner=GLOBEX), store=store
    )
    assert [hit.id_ for hit in acme.hits] == [_id(1)]
    assert globex.hits == []


def test_upsert_with_the_same_id_replaces_the_point(
    store: qdrant_calls.QdrantStore,
) -> None:
    _store(store, 1, ACME, _vector(1.0), "first")
    _store(store, 1, ACME, _vector(1.0), "second")

    hits = search_knowledge(
        SearchKnowledgeInput(vector=_vector(1.0), owner=ACME), store=store
    ).hits

    assert [hit.payload["text"] for hit in hits] == ["second"]


BOB, MALLORY = "bob", "mallory"


def _hits(store: qdrant_calls.QdrantStore, owner: str) -> list[tuple[str, object]]:
    found = search_knowledge(
        SearchKnowledgeInput(vector=_vector(1.0), owner=owner), store=store
    )
    return [(hit.id_, hit.payload["text"]) for hit in found.hits]


def _upserts(
    store: qdrant_calls.QdrantStore, monkeypatch: pytest.MonkeyPatch
) -> list[object]:
    """Record every point id the store sends to Qdrant's upsert."""
    client = store._client
    real = client.upsert
    sent: list[object] = []

    def upsert(collection_name: str, points: list[models.PointStruct], **kw: object):  # type: ignore[no-untyped-def]
        sent.extend(point.id for point in points)
        return real(collection_name, points=points, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(client, "upsert", upsert)
    return sent


@pytest.mark.parametrize(
    "spelling",
    [str, lambda i: str(i).upper(), lambda i: i.replace("-", "")],
    ids=["canonical", "upper-case", "no-hyphens"],
)
def test_an_upsert_onto_another_owners_point_is_denied_before_writing(
    store: qdrant_calls.QdrantStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    spelling: object,
) -> None:
    assert callable(spelling)
    _store(store, 1, BOB, _vector(1.0), "bob's secret")
    sent = _upserts(store, monkeypatch)
    caplog.set_level(logging.INFO, logger="contractgen.calls")

    with pytest.raises(errors.PolicyDeniedError) as raised:
        store_snippet(
            StoreSnippetInput(
                id_=spelling(_id(1)),
                vector=_vector(1.0),
                owner=MALLORY,
                payload={"tenant": MALLORY, "text": "pwned"},
            ),
            store=store,
        )

    denial = raised.value
    assert denial.policy == "qdrant-owner"
    assert denial.code == "policy_denied"
    assert "belongs to another owner" in denial.message
    assert sent == []  # Qdrant's upsert was never called
    (record,) = [r.__dict__["contractgen"] for r in caplog.records]
    assert record["outcome"] == "denied"
    assert record["operation"] == "upsert"
    assert record["error_code"] == "policy_denied"
    assert "pwned" not in json.dumps(record, default=str)
    assert _hits(store, BOB) == [(_id(1), "bob's secret")]
    assert _hits(store, MALLORY) == []


def test_owners_still_write_new_ids_and_overwrite_their_own(
    store: qdrant_calls.QdrantStore,
) -> None:
    _store(store, 1, BOB, _vector(1.0), "bob, first")
    with pytest.raises(errors.PolicyDeniedError):
        _store(store, 1, MALLORY, _vector(1.0), "pwned")

    _store(store, 2, MALLORY, _vector(1.0), "mallory's own")
    _store(store, 1, BOB, _vector(1.0), "bob, second")

    assert _hits(store, BOB) == [(_id(1), "bob, second")]
    assert _hits(store, MALLORY) == [(_id(2), "mallory's own")]


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_a_server_race_to_another_owners_point_is_denied_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer takes the id between the check and the write.

    Against a server the check cannot hold the point; the conditional write
    leaves the other owner's point as it is, and the read after it reports
    the denial. Simulated on the local client run as if it were a server,
    with the first read missing the point.
    """
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    store = qdrant_calls.QdrantStore(client, local=False)
    try:
        _store(store, 1, BOB, _vector(1.0), "bob's secret")
        real = client.retrieve
        reads: list[object] = []

        def retrieve(*args: object, **kw: object) -> list[models.Record]:
            reads.append(args)
            found = real(*args, **kw)  # type: ignore[arg-type]
            return [] if len(reads) == 1 else found

        monkeypatch.setattr(client, "retrieve", retrieve)

        with pytest.raises(errors.PolicyDeniedError) as raised:
            _store(store, 1, MALLORY, _vector(1.0), "pwned")

        assert raised.value.policy == "qdrant-owner"
        assert len(reads) == 2
        monkeypatch.undo()
        assert _hits(store, BOB) == [(_id(1), "bob's secret")]
        assert _hits(store, MALLORY) == []
    finally:
        store.close()


@pytest.mark.parametrize("size", [3, SIZE + 1])
def test_wrong_vector_size_is_a_clear_error_before_the_call(
    store: qdrant_calls.QdrantStore, size: int
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        search_knowledge(
            SearchKnowledgeInput(vector=[0.5] * size, owner=ACME), store=store
        )

    error = raised.value
    assert error.code == "vector_size"
    assert error.provider == "qdrant"
    assert error.retryable is False
    assert f"takes vectors of {SIZE} numbers, but this one has {size}" in str(error)


@pytest.mark.parametrize("number", [3.5e38, -3.5e38, 1e308, float("inf")])
def test_a_number_beyond_float32_is_not_finite_for_qdrant(
    store: qdrant_calls.QdrantStore, number: float
) -> None:
    # Qdrant keeps float32 vectors: these would be stored as infinity.
    for call in (
        lambda: _store(store, 1, ACME, _vector(number), "too large"),
        lambda: search_knowledge(
            SearchKnowledgeInput(vector=_vector(number), owner=ACME), store=store
        ),
    ):
        with pytest.raises(errors.InvalidRequestError) as raised:
            call()
        assert raised.value.code == "vector_not_finite"

    assert _hits(store, ACME) == []


def test_the_largest_float32_is_accepted(store: qdrant_calls.QdrantStore) -> None:
    largest = 3.4028234663852886e38  # float32's max, as a Python float
    # Past the vector checks; an empty payload then stops it at the owner
    # policy, since only the check is under test (the local mode's cosine
    # normalisation of such a vector overflows in numpy).
    with pytest.raises(errors.PolicyDeniedError, match="owner field"):
        store_snippet(
            StoreSnippetInput(
                id_=_id(1), vector=_vector(largest, -largest), owner=ACME, payload={}
            ),
            store=store,
        )


def test_a_point_id_qdrant_cannot_store_is_an_invalid_request(
    store: qdrant_calls.QdrantStore,
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        store_snippet(
            StoreSnippetInput(
                id_="snippet-1",
                vector=_vector(1.0),
                owner=ACME,
                payload={"tenant": ACME},
            ),
            store=store,
        )

    assert raised.value.code == "invalid_point_id"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"text": "no owner"}, "does not carry the owner field 'tenant'"),
        ({"tenant": GLOBEX, "text": "someone else's"}, "names another owner"),
    ],
)
def test_owner_policy_refuses_a_payload_without_the_callers_owner(
    store: qdrant_calls.QdrantStore, payload: dict[str, str], reason: str
) -> None:
    with pytest.raises(errors.PolicyDeniedError) as raised:
        store_snippet(
            StoreSnippetInput(
                id_=_id(1), vector=_vector(1.0), owner=ACME, payload=payload
            ),
            store=store,
        )

    assert raised.value.policy == "qdrant-owner"
    assert reason in raised.value.message
    # Nothing was written, for either owner.
    for owner in (ACME, GLOBEX):
        found = search_knowledge(
            SearchKnowledgeInput(vector=_vector(1.0), owner=owner), store=store
        )
        assert found.hits == []


def test_owner_policy_refuses_a_call_without_an_owner(
    store: qdrant_calls.QdrantStore,
) -> None:
    with pytest.raises(errors.PolicyDeniedError, match="names no owner"):
        search_knowledge(
            SearchKnowledgeInput(vector=_vector(1.0), owner=" "), store=store
        )


def test_callers_policies_run_after_the_owner_policy_and_see_the_request(
    store: qdrant_calls.QdrantStore,
) -> None:
    seen: list[dict[str, object]] = []

    def deny(request: PolicyRequest, /) -> None:
        seen.append(dict(request.params))
        raise errors.PolicyDeniedError(
            "read-only today",
            capability=request.capability,
            provider=request.provider,
            policy="read-only",
        )

    with pytest.raises(errors.PolicyDeniedError) as raised:
        store_snippet(
            StoreSnippetInput(
                id_=_id(1), vector=_vector(1.0), owner=ACME, payload={"tenant": ACME}
            ),
            store=store,
            policies=[deny],
        )

    assert raised.value.policy == "read-only"
    assert seen[0]["collection"] == "knowledge"
    assert seen[0]["owner"] == ACME


def test_an_existing_collection_with_other_vectors_is_refused(
    tmp_path: Path,
) -> None:
    folder = str(tmp_path / "qdrant")
    client = QdrantClient(path=folder)
    client.create_collection(
        "knowledge",
        vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT),
    )
    client.close()
    store = qdrant_calls.build_store(qdrant_calls.QdrantSettings(QDRANT_PATH=folder))

    try:
        with pytest.raises(errors.InvalidRequestError) as raised:
            search_knowledge(
                SearchKnowledgeInput(vector=_vector(1.0), owner=ACME), store=store
            )
    finally:
        store.close()

    assert raised.value.code == "collection_mismatch"


def test_one_log_record_per_call_without_vectors_or_payloads(
    store: qdrant_calls.QdrantStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="contractgen.calls")

    _store(store, 1, ACME, _vector(0.123456), "confidential snippet")
    search_knowledge(SearchKnowledgeInput(vector=_vector(1.0), owner=ACME), store=store)
    with pytest.raises(errors.InvalidRequestError):
        search_knowledge(SearchKnowledgeInput(vector=[1.0], owner=ACME), store=store)

    records = [r.__dict__["contractgen"] for r in caplog.records]
    assert [r["outcome"] for r in records] == ["succeeded", "succeeded", "failed"]
    stored, searched, failed = records
    assert stored["provider"] == "qdrant"
    assert stored["inputs"] == {"collection": "knowledge", "owner": ACME, "id": _id(1)}
    assert stored["outputs"] == {"status": "completed"}
    assert searched["outputs"] == {"hits": 1}
    assert failed["error_code"] == "vector_size"
    everything = json.dumps(records, default=str)
    assert "confidential snippet" not in everything
    assert "0.123456" not in everything


def test_async_wrapper_and_container_use_the_same_store(
    store: qdrant_calls.QdrantStore,
) -> None:
    caps = Capabilities(qdrant=store)
    caps.store_snippet(
        StoreSnippetInput(
            id_=_id(7), vector=_vector(1.0), owner=ACME, payload={"tenant": ACME}
        )
    )

    output = asyncio.run(
        search_knowledge_async(
            SearchKnowledgeInput(vector=_vector(1.0), owner=ACME), store=store
        )
    )

    assert [hit.id_ for hit in output.hits] == [_id(7)]


def test_settings_default_to_the_local_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("QDRANT_PATH", "QDRANT_URL", "QDRANT_API_KEY", "QDRANT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)

    settings = qdrant_calls.load_settings()

    assert (settings.path, settings.url, settings.api_key) == (".qdrant", None, None)


def test_invalid_settings_name_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QDRANT_TIMEOUT", "soon-ish")

    with pytest.raises(errors.SettingsError) as raised:
        qdrant_calls.load_settings()

    assert str(raised.value) == (
        "QDRANT_TIMEOUT is invalid: fix it in the environment or in .env"
    )
    assert "soon-ish" not in str(raised.value)


# The example workflow: store a snippet, text a confirmation, e-mail failures.


@pytest.fixture
def outbox(
    monkeypatch: pytest.MonkeyPatch, email_environment: None, tmp_path: Path
) -> Path:
    folder = tmp_path / "outbox"
    templates = Path(__file__).resolve().parents[1] / "email-templates"
    monkeypatch.setenv("EMAIL_TEMPLATES_DIR", str(templates))
    monkeypatch.setenv("EMAIL_OUTBOX_DIR", str(folder))
    return folder


def _workflow_input(vector: list[float]) -> StoreKnowledgeInput:
    return StoreKnowledgeInput(
        owner=ACME,
        snippet_id=_id(42),
        text="Refunds take five working days.",
        vector=vector,
        phone="+15558675310",
    )


def test_store_knowledge_stores_the_snippet_and_texts_a_confirmation(
    twilio_env: FakeTwilio, outbox: Path, store: qdrant_calls.QdrantStore
) -> None:
    caps = Capabilities(qdrant=store)

    result = store_knowledge(
        _workflow_input(_vector(1.0)), caps, journal=MemoryJournal()
    )

    assert result.status == "succeeded", result
    hits = caps.search_knowledge(
        SearchKnowledgeInput(vector=_vector(1.0), owner=ACME)
    ).hits
    assert [(hit.id_, hit.payload) for hit in hits] == [
        (_id(42), {"tenant": ACME, "text": "Refunds take five working days."})
    ]
    received = twilio_env.last
    assert (received.method, received.path) == ("POST", MESSAGES_PATH)
    assert received.form == {
        "To": ["+15558675310"],
        "From": [FROM],
        "Body": ["Your snippet is stored in the knowledge base."],
    }
    assert not outbox.exists() or not any(outbox.iterdir())


def test_store_knowledge_emails_the_admin_when_the_snippet_is_refused(
    twilio_env: FakeTwilio, outbox: Path, store: qdrant_calls.QdrantStore
) -> None:
    caps = Capabilities(qdrant=store)

    result = store_knowledge(_workflow_input([0.5] * 3), caps, journal=MemoryJournal())

    assert (result.status, result.handled) == ("failed", True), result
    assert result.error is not None and result.error.code == "vector_size"
    assert twilio_env.requests == []  # no confirmation for a failed store
    messages = sorted(outbox.glob("*.eml"))
    assert len(messages) == 1
    text = messages[0].read_text(encoding="utf-8")
    assert "admin@example.com" in text
    assert "vector_size" in text
    assert "store-snippet" in text
