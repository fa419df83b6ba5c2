# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""The Qdrant execution engine behind the generated Qdrant wrappers.

A generated wrapper validates its input and hands a :class:`QdrantRequest`
to :func:`call` (or :func:`acall`) with its :class:`QdrantOperation`, which
carries the collections the capability may address as declared in the
``qdrant`` integration spec. The engine does everything else, the same way
for every capability:

1. find the declared collection and check the request against it before
   anything is sent: a vector of the wrong size, a number that is not
   finite or a point id Qdrant cannot store is an
   :class:`~.errors.InvalidRequestError` naming what was expected;
2. run the owner policy (:class:`OwnerPolicy`: the payload of an upsert
   carries the call's owner in the collection's owner field), then the
   caller's policies; a denial raises :class:`~.errors.PolicyDeniedError`
   and Qdrant is never called;
3. create the collection on first use with its declared vector size and
   distance, then call Qdrant through :class:`QdrantStore`; every search
   and delete is filtered by the owner, so another owner's points are never
   returned or removed, and an upsert whose id is already another owner's
   point is denied by the ``qdrant-owner`` policy without writing anything
   (see :meth:`QdrantStore.upsert`);
4. map any Qdrant exception onto the runtime error tree;
5. emit one log record through :mod:`.calllog`, whatever the outcome,
   naming the collection, owner and point ids, never a vector or payload.

The policies, the timed call, where the mapping happens and the log record
are the course every provider's call takes (:mod:`.provider_calls`); the
checks, the store, the owner policy and the error mapping are Qdrant's own
and live here.

Settings come from the environment and ``.env``:

===========================  ============================================
``QDRANT_PATH``              folder of the embedded local mode (default
                             ``.qdrant``), used when no URL is set
``QDRANT_URL``               address of a Qdrant server, instead
``QDRANT_API_KEY``           API key for that server
``QDRANT_TIMEOUT``           seconds to wait on a server (default 30)
``CONTRACTGEN_ENVIRONMENT``  deployment environment (default development)
===========================  ============================================
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import (
    ResponseHandlingException,
    UnexpectedResponse,
)

from . import errors
from .context import CallContext
from .deployment import deployment_environment
from .policies import Policy, PolicyRequest
from .provider_calls import ProviderCall
from .settings import read_settings

__all__ = [
    "DEFAULT_LIMIT",
    "PROVIDER",
    "Collection",
    "CollectionMismatchError",
    "OwnerConflictError",
    "OwnerPolicy",
    "QdrantOperation",
    "QdrantRequest",
    "QdrantSettings",
    "QdrantStore",
    "acall",
    "build_store",
    "call",
    "default_settings",
    "default_store",
    "load_settings",
    "map_qdrant_error",
]

PROVIDER = "qdrant"

# Hits a search returns when the capability has no `limit` input.
DEFAULT_LIMIT = 10

PointId = int | str

# The largest finite 32-bit float: Qdrant keeps vectors as float32.
_FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True, slots=True)
class Collection:
    """A collection as the ``qdrant`` integration spec declares it.

    ``owner`` is the payload field holding the point's owner: the
    application or tenant it belongs to.
    """

    name: str
    vector_size: int
    distance: str  # "Cosine", "Dot" or "Euclid"
    owner: str


@dataclass(frozen=True, slots=True)
class QdrantOperation:
    """What the engine needs to know about one capability's Qdrant call."""

    capability: str
    operation: str  # "upsert", "search" or "delete"
    collections: tuple[Collection, ...]

    def collection(self, name: str) -> Collection | None:
        return next((c for c in self.collections if c.name == name), None)


@dataclass(frozen=True, slots=True)
class QdrantRequest:
    """One call's values, as the generated wrapper read them from its input.

    Each operation uses its own: ``upsert`` a point id, vector and payload;
    ``search`` a vector, limit and score threshold; ``delete`` point ids.
    """

    collection: str
    owner: str
    vector: Sequence[float] | None = None
    point_id: PointId | None = None
    payload: Mapping[str, object] | None = None
    ids: Sequence[PointId] | None = None
    limit: int | None = None
    score_threshold: float | None = None

    def params(self) -> dict[str, object]:
        """The request as policies see it: only the values that were given."""
        values: dict[str, object] = {
            "collection": self.collection,
            "owner": self.owner,
            "vector": self.vector,
            "id": self.point_id,
            "payload": self.payload,
            "ids": self.ids,
            "limit": self.limit,
            "score_threshold": self.score_threshold,
        }
        return {key: value for key, value in values.items() if value is not None}


class QdrantSettings(BaseSettings):
    """Where Qdrant is: a local folder, or a server and its API key."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    path: str = Field(default=".qdrant", min_length=1, validation_alias="QDRANT_PATH")
    url: str | None = Field(default=None, validation_alias="QDRANT_URL")
    api_key: SecretStr | None = Field(default=None, validation_alias="QDRANT_API_KEY")
    timeout: int = Field(default=30, gt=0, validation_alias="QDRANT_TIMEOUT")


class CollectionMismatchError(ValueError):
    """An existing collection's vectors differ from its declaration."""


class OwnerConflictError(Exception):
    """An upsert's point id is already a point of another owner.

    Raised by :meth:`QdrantStore.upsert`, which then has written nothing;
    :func:`call` turns it into the ``qdrant-owner`` policy's denial.
    """

    def __init__(self, collection: Collection, point_id: PointId) -> None:
        super().__init__(
            f"point {point_id} in collection '{collection.name}' belongs to "
            "another owner"
        )
        self.collection = collection
        self.point_id = point_id


class QdrantStore:
    """The official Qdrant client, with the collections it has made ready.

    Build one with :func:`build_store`; it is safe to share between calls,
    which it runs one at a time. Call :meth:`close` to release the local
    folder, which one store at a time may hold.
    """

    def __init__(self, client: QdrantClient, *, local: bool) -> None:
        self._client = client
        self._local = local
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def _ensure(self, collection: Collection) -> None:
        """Create the collection on first use, or check the existing one."""
        if collection.name in self._ready:
            return
        distance = models.Distance(collection.distance)
        if self._client.collection_exists(collection.name):
            info = self._client.get_collection(collection.name)
            vectors = info.config.params.vectors
            if not isinstance(vectors, models.VectorParams) or (
                vectors.size,
                vectors.distance,
            ) != (collection.vector_size, distance):
                raise CollectionMismatchError(
                    f"collection '{collection.name}' exists in Qdrant with other "
                    f"vectors than its declaration ({collection.vector_size} "
                    f"dimensions, {collection.distance})"
                )
        else:
            self._client.create_collection(
                collection.name,
                vectors_config=models.VectorParams(
                    size=collection.vector_size, distance=distance
                ),
            )
            if not self._local:
                # The local mode scans every point and has no indexes.
                self._client.create_payload_index(
                    collection.name,
                    field_name=collection.owner,
                    field_schema=models.PayloadSchemaType.KEYWORD,
                )
        self._ready.add(collection.name)

    def upsert(
        self,
        collection: Collection,
        point_id: PointId,
        vector: Sequence[float],
        payload: Mapping[str, object],
        owner: str,
    ) -> dict[str, object]:
        """Write the owner's point, or raise :class:`OwnerConflictError`.

        A point id is global to the collection, so a plain upsert would
        replace another owner's point. Two guards stop that:

        * the existing point is read first (its owner field only), and
          another owner's point is refused before ``upsert`` is ever sent;
        * the write itself is conditional: with ``update_filter`` Qdrant
          replaces an existing point only if it is the owner's, and inserts
          a point that does not exist yet. Qdrant checks the filter and
          writes as one operation, but skips a point that fails it silently,
          hence the read, which names the refusal.

        In local mode the read and the write cannot be separated: the store
        runs one call at a time under its lock and the folder is locked to
        this one client, so nothing else writes in between. Against a server
        other processes may write between the read and the write. There the
        conditional write still leaves the other owner's point untouched,
        and the point is read once more afterwards so that losing that race
        is reported as the denial too, not as a success that wrote nothing.
        """
        point = models.PointStruct(
            id=point_id, vector=list(vector), payload=dict(payload)
        )
        with self._lock:
            self._ensure(collection)
            if not self._owned_or_absent(collection, point_id, owner):
                raise OwnerConflictError(collection, point_id)
            result = self._client.upsert(
                collection.name,
                points=[point],
                wait=True,
                update_filter=_owned_by(collection, owner),
            )
            if not self._local and not self._owned_or_absent(
                collection, point_id, owner
            ):
                raise OwnerConflictError(collection, point_id)
        return {"status": result.status.value, "id": str(point_id)}

    def _owned_or_absent(
        self, collection: Collection, point_id: PointId, owner: str
    ) -> bool:
        """Whether the point is missing or carries `owner` as its owner."""
        existing = self._client.retrieve(
            collection.name,
            ids=[point_id],
            with_payload=[collection.owner],
            with_vectors=False,
        )
        return all(
            (record.payload or {}).get(collection.owner) == owner for record in existing
        )

    def search(
        self,
        collection: Collection,
        vector: Sequence[float],
        owner: str,
        limit: int,
        score_threshold: float | None,
    ) -> dict[str, object]:
        with self._lock:
            self._ensure(collection)
            response = self._client.query_points(
                collection.name,
                query=list(vector),
                query_filter=_owned_by(collection, owner),
                limit=limit,
                score_threshold=score_threshold,
                with_payload=True,
                with_vectors=False,
            )
        hits: list[dict[str, object]] = [
            {"id": str(point.id), "score": point.score, "payload": point.payload or {}}
            for point in response.points
        ]
        return {"hits": hits}

    def delete(
        self, collection: Collection, ids: Sequence[PointId], owner: str
    ) -> dict[str, object]:
        selected = _owned_by(collection, owner, models.HasIdCondition(has_id=list(ids)))
        with self._lock:
            self._ensure(collection)
            result = self._client.delete(
                collection.name,
                points_selector=models.FilterSelector(filter=selected),
                wait=True,
            )
        return {"status": result.status.value}


def _owned_by(
    collection: Collection, owner: str, *also: models.Condition
) -> models.Filter:
    """Only the owner's points, and of those only the ones `also` selects."""
    owned = models.FieldCondition(
        key=collection.owner, match=models.MatchValue(value=owner)
    )
    return models.Filter(must=[owned, *also])


def build_store(settings: QdrantSettings) -> QdrantStore:
    """A store on the server at ``QDRANT_URL``, or in the local folder."""
    if settings.url:
        api_key = settings.api_key.get_secret_value() if settings.api_key else None
        client = QdrantClient(
            url=settings.url, api_key=api_key, timeout=settings.timeout
        )
        return QdrantStore(client, local=False)
    try:
        client = QdrantClient(path=settings.path)
    except RuntimeError:
        # Its lock is held: another process (or store) has the folder open.
        raise errors.SettingsError(
            "the Qdrant folder (QDRANT_PATH) is in use by another client; "
            "share one store, or set QDRANT_URL to use a server"
        ) from None
    return QdrantStore(client, local=True)


def load_settings() -> QdrantSettings:
    """Settings from the environment and `.env`, or a `SettingsError` naming
    the variables that are invalid (never their values)."""
    return read_settings(QdrantSettings)


@functools.cache
def default_settings() -> QdrantSettings:
    """Settings read once from the environment, for wrappers given no store."""
    return load_settings()


@functools.cache
def default_store() -> QdrantStore:
    """The store used by wrappers called without one, built once."""
    return build_store(default_settings())


class OwnerPolicy:
    """Refuses a call that would cross owners in ``collection``.

    Every call names an owner; an upsert's payload must carry that same
    owner in the collection's owner field, so no point is ever written
    without an owner or on another owner's behalf. Searches and deletes are
    filtered by the owner in Qdrant itself, and the store refuses, in this
    policy's name, an upsert onto a point id another owner already holds.
    """

    name: ClassVar[str] = "qdrant-owner"

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    def __call__(self, request: PolicyRequest, /) -> None:
        owner = request.params.get("owner")
        if not isinstance(owner, str) or not owner.strip():
            raise self._deny(request, "the call names no owner")
        if request.operation != "upsert":
            return
        field = self.collection.owner
        payload = request.params.get("payload")
        carried = payload.get(field) if isinstance(payload, Mapping) else None
        if carried is None:
            raise self._deny(
                request, f"the payload does not carry the owner field '{field}'"
            )
        if carried != owner:
            raise self._deny(
                request,
                f"the payload's '{field}' names another owner than the call",
            )

    def _deny(self, request: PolicyRequest, reason: str) -> errors.PolicyDeniedError:
        return self.deny(request.capability, request.operation, reason)

    def deny(
        self, capability: str, operation: str, reason: str
    ) -> errors.PolicyDeniedError:
        """This policy's denial of ``operation``, for ``reason``."""
        return errors.PolicyDeniedError(
            f"policy {self.name} denied {operation} in collection "
            f"'{self.collection.name}': {reason}",
            capability=capability,
            provider=PROVIDER,
            policy=self.name,
        )

    def __repr__(self) -> str:
        return f"OwnerPolicy({self.collection.name!r})"


def map_qdrant_error(
    err: Exception, *, capability: str, step: str | None = None
) -> errors.CapabilityError:
    """The runtime error for a Qdrant failure raised by ``capability``'s call."""
    if isinstance(err, UnexpectedResponse):
        status = int(err.status_code or 0)
        message = f"HTTP {status}: {err.reason_phrase}"
        code = str(status)
        kind: type[errors.CapabilityError] = errors.ProviderError
        if status == 429:
            kind = errors.RateLimitedError
        elif status >= 500:
            kind = errors.ProviderUnavailableError
        elif status == 401:
            kind = errors.AuthenticationError
        elif status == 403:
            kind = errors.PermissionDeniedError
        elif 400 <= status < 500:
            kind = errors.InvalidRequestError
        return kind(
            message, capability=capability, provider=PROVIDER, code=code, step=step
        )
    if isinstance(err, ResponseHandlingException | httpx.TransportError):
        source = err.source if isinstance(err, ResponseHandlingException) else err
        return errors.ProviderUnavailableError(
            f"Qdrant could not be reached ({type(source).__name__})",
            capability=capability,
            provider=PROVIDER,
            step=step,
        )
    if isinstance(err, CollectionMismatchError):
        return errors.InvalidRequestError(
            str(err),
            capability=capability,
            provider=PROVIDER,
            code="collection_mismatch",
            step=step,
        )
    if isinstance(err, ValueError):
        # The local mode checks requests itself and says so with ValueError.
        return errors.InvalidRequestError(
            str(err), capability=capability, provider=PROVIDER, step=step
        )
    return errors.ProviderError(
        str(err) or type(err).__name__,
        capability=capability,
        provider=PROVIDER,
        retryable=False,
        step=step,
    )


def _is_qdrant_failure(err: Exception) -> bool:
    return isinstance(
        err,
        UnexpectedResponse
        | ResponseHandlingException
        | httpx.TransportError
        | ValueError,
    )


def _invalid(
    operation: QdrantOperation, context: CallContext | None, code: str, message: str
) -> errors.InvalidRequestError:
    return errors.InvalidRequestError(
        message,
        capability=operation.capability,
        provider=PROVIDER,
        code=code,
        step=context.step_id if context else None,
    )


def _checked(
    operation: QdrantOperation, request: QdrantRequest, context: CallContext | None
) -> Collection:
    """The request's collection, once the request fits it; raises otherwise."""
    collection = operation.collection(request.collection)
    if collection is None:
        known = ", ".join(c.name for c in operation.collections)
        raise _invalid(
            operation,
            context,
            "unknown_collection",
            f"collection '{request.collection}' is not one this capability "
            f"uses ({known})",
        )
    vector = request.vector
    if vector is not None and len(vector) != collection.vector_size:
        raise _invalid(
            operation,
            context,
            "vector_size",
            f"collection '{collection.name}' takes vectors of "
            f"{collection.vector_size} numbers, but this one has {len(vector)}",
        )
    if vector is not None and not all(
        math.isfinite(x) and abs(x) <= _FLOAT32_MAX for x in vector
    ):
        # Qdrant keeps vectors as float32, where a larger number is infinity.
        raise _invalid(
            operation,
            context,
            "vector_not_finite",
            "the vector holds a number that is not finite (NaN or infinity) "
            "or too large for Qdrant's 32-bit floats (beyond ±3.4028235e38)",
        )
    ids = [request.point_id] if request.point_id is not None else []
    for point_id in [*ids, *(request.ids or ())]:
        if not _valid_point_id(point_id):
            raise _invalid(
                operation,
                context,
                "invalid_point_id",
                f"point id {point_id!r} is neither an unsigned integer nor a UUID",
            )
    if request.limit is not None and request.limit < 1:
        raise _invalid(
            operation, context, "invalid_limit", "a search's limit must be at least 1"
        )
    return collection


def _valid_point_id(point_id: PointId) -> bool:
    if isinstance(point_id, int):
        return not isinstance(point_id, bool) and point_id >= 0
    try:
        uuid.UUID(point_id)
    except ValueError:
        return False
    return True


class _QdrantCall(ProviderCall[dict[str, object]]):
    """One Qdrant call: its request, checked and logged, and Qdrant's errors."""

    __slots__ = ("_operation", "_request")

    provider = PROVIDER

    def __init__(
        self,
        operation: QdrantOperation,
        request: QdrantRequest,
        context: CallContext | None,
    ) -> None:
        super().__init__(operation.capability, operation.operation, context)
        self._operation = operation
        self._request = request

    def prepare(
        self,
        *,
        store: QdrantStore | None,
        policies: Sequence[Policy],
        environment: str | None,
    ) -> tuple[QdrantStore, Collection]:
        """Check the request, resolve store and environment, run the policies.

        A bad request is logged and raised from here, before Qdrant is
        called.
        """
        try:
            collection = _checked(self._operation, self._request, self.context)
        except errors.InvalidRequestError as invalid:
            self.log_unsent(invalid)
            raise
        if environment is None:
            environment = deployment_environment()
        if store is None:
            store = default_store()

        self.check_policies(
            [OwnerPolicy(collection), *policies],
            self._request.params(),
            api_key_mode=None,
            environment=environment,
        )
        return store, collection

    def map_error(self, err: Exception) -> Exception:
        if isinstance(err, OwnerConflictError):
            # The store refuses in the owner policy's name: a denial, not a
            # failure of Qdrant's.
            return OwnerPolicy(err.collection).deny(
                self.capability,
                self.operation,
                f"point {err.point_id} belongs to another owner",
            )
        if _is_qdrant_failure(err):
            return map_qdrant_error(err, capability=self.capability, step=self.step)
        return err

    def log_inputs(self) -> dict[str, object]:
        request = self._request
        inputs: dict[str, object] = {
            "collection": request.collection,
            "owner": request.owner,
        }
        if request.point_id is not None:
            inputs["id"] = str(request.point_id)
        if request.ids is not None:
            inputs["ids"] = [str(point_id) for point_id in request.ids]
        if request.limit is not None:
            inputs["limit"] = request.limit
        return inputs

    def log_outputs(self, result: dict[str, object]) -> dict[str, object]:
        outputs: dict[str, object] = {}
        if "status" in result:
            outputs["status"] = result["status"]
        hits = result.get("hits")
        if isinstance(hits, list):
            outputs["hits"] = len(hits)
        return outputs


def _invoke(
    operation: QdrantOperation,
    request: QdrantRequest,
    store: QdrantStore,
    collection: Collection,
) -> dict[str, object]:
    vector, point_id, payload = request.vector, request.point_id, request.payload
    if operation.operation == "upsert":
        if vector is None or point_id is None or payload is None:
            raise _incomplete(operation)
        return store.upsert(collection, point_id, vector, payload, request.owner)
    if operation.operation == "search":
        if vector is None:
            raise _incomplete(operation)
        limit = request.limit or DEFAULT_LIMIT
        return store.search(
            collection, vector, request.owner, limit, request.score_threshold
        )
    if operation.operation == "delete":
        if request.ids is None:
            raise _incomplete(operation)
        return store.delete(collection, request.ids, request.owner)
    raise AssertionError(f"unknown Qdrant operation {operation.operation!r}")


def _incomplete(operation: QdrantOperation) -> AssertionError:
    # The generator makes these inputs required; reaching here is a bug.
    return AssertionError(f"{operation.capability}: the request lacks an input")


def call(
    operation: QdrantOperation,
    request: QdrantRequest,
    *,
    store: QdrantStore | None = None,
    context: CallContext | None = None,
    policies: Sequence[Policy] = (),
    environment: str | None = None,
) -> dict[str, object]:
    """Run one Qdrant capability call: checks, policies, errors, log.

    Returns the operation's result: ``status`` (and the point's ``id``) for
    an upsert or delete, ``hits`` for a search. Raises a
    :class:`~.errors.CapabilityError`; any other exception is logged and
    propagates unchanged.
    """
    qdrant_call = _QdrantCall(operation, request, context)
    ready, collection = qdrant_call.prepare(
        store=store, policies=policies, environment=environment
    )
    return qdrant_call.invoke(lambda: _invoke(operation, request, ready, collection))


async def acall(
    operation: QdrantOperation,
    request: QdrantRequest,
    *,
    store: QdrantStore | None = None,
    context: CallContext | None = None,
    policies: Sequence[Policy] = (),
    environment: str | None = None,
) -> dict[str, object]:
    """The asynchronous form of :func:`call`.

    The local mode has no asynchronous client of its own, so the blocking
    client runs in a worker thread; the store runs its calls one at a time.
    """
    qdrant_call = _QdrantCall(operation, request, context)
    ready, collection = qdrant_call.prepare(
        store=store, policies=policies, environment=environment
    )
    return await qdrant_call.ainvoke(
        lambda: asyncio.to_thread(_invoke, operation, request, ready, collection)
    )
