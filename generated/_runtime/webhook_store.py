# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""The webhook store: which events have been handled, for exactly-once effects.

Stripe delivers an event at least once: it retries until it gets a 2xx, and
may deliver the same event more than once, even at the same time. The webhook
endpoint (:mod:`.webhooks`) asks the store to *claim* an event before running
its handler, and to *complete* it after the handler returns:

- a claim is a lock on the event id held by the one delivery that runs the
  handler; any other delivery of the event finds it *busy* meanwhile;
- completing records the event as handled, which later deliveries find as
  *done*, and lets go of the lock;
- a handler that raises *releases* its claim, recording nothing, so Stripe's
  retry runs it again.

The store also knows, per Stripe object id, the ``created`` time of the latest
event applied to it, so a handler can tell that an event arrived after a newer
one about the same object (Stripe does not promise order).

Two stores come with the runtime: :class:`SqliteWebhookStore`, the default,
shared safely by threads and processes, and :class:`MemoryWebhookStore`, for
tests and single-process use. Any object with the methods of
:class:`WebhookStore` will do.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final, Literal, NamedTuple, Protocol

from .sqlite_connections import ThreadConnections, prepare_file

try:
    from fcntl import LOCK_EX, LOCK_NB, LOCK_UN
    from fcntl import lockf as _lockf
except ImportError:  # Windows: no POSIX record locks
    _lockf = None  # type: ignore[assignment]
    _LOCK_NOW = _UNLOCK = 0
else:
    _LOCK_NOW, _UNLOCK = LOCK_EX | LOCK_NB, LOCK_UN

__all__ = [
    "DEFAULT_RETENTION",
    "Claim",
    "ClaimState",
    "EventStatus",
    "MemoryWebhookStore",
    "SqliteWebhookStore",
    "WebhookStore",
]

_logger = logging.getLogger("contractgen.webhooks")

# How long `SqliteWebhookStore.prune` keeps records unless told otherwise,
# and the least it accepts: Stripe retries an event for up to three days.
DEFAULT_RETENTION: Final = timedelta(days=30)
_MIN_RETENTION: Final = timedelta(days=3)

EventStatus = Literal["processing", "done"]

# What claiming an event found: it is ours to handle, it was handled already,
# or another delivery is handling it now.
ClaimState = Literal["claimed", "done", "busy"]


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to a claim; ``token`` identifies the claim when it is ours.

    With a claim that is ours, ``last_applied`` is the ``created`` time of the
    latest event applied to the event's object (``None``: none yet, or no
    object), read together with the claim so the endpoint needs no second
    call to the store."""

    state: ClaimState
    token: str | None = None
    last_applied: int | None = None


_DONE: Final = Claim("done")
_BUSY: Final = Claim("busy")


class WebhookStore(Protocol):
    """Where the webhook endpoint records which events it has handled."""

    def claim(
        self, event_id: str, event_type: str, object_id: str | None, created: int
    ) -> Claim:
        """Claim an event for handling, unless it is done or being handled.

        A claim that is ours carries the object's :meth:`last_applied`."""
        ...

    def complete(
        self, event_id: str, token: str, object_id: str | None, created: int
    ) -> bool:
        """Record a claimed event as handled and as its object's latest.

        ``False`` when ``token`` is not a claim this store holds."""
        ...

    def release(self, event_id: str, token: str) -> None:
        """Give up a claim whose handler failed, so a retry can run it."""
        ...

    def last_applied(self, object_id: str) -> int | None:
        """The ``created`` time of the latest event applied to an object."""
        ...

    def status(self, event_id: str) -> EventStatus | None:
        """Whether an event is being handled, done, or unknown to the store."""
        ...


# A claim's token never leaves the process that holds the claim, so a
# counter tells claims apart as well as a random value would.
_tokens = itertools.count(1)


def _new_token() -> str:
    return str(next(_tokens))


class _Held(NamedTuple):
    token: str
    event_type: str
    offset: int


def _offset(event_id: str) -> int:
    # Spreads ids over the first 2**32 bytes of the lock file.
    return zlib.crc32(event_id.encode("utf-8"))


class _ProcessClaims:
    """The claims one process holds on one store, and their locks.

    Within the process, a table of held event ids under a mutex decides which
    thread has an event. Across processes, each held event also holds a POSIX
    record lock on one byte of a lock file beside the store, at an offset
    derived from the event id: the operating system drops a process's record
    locks when it ends, however it ends, so an event whose handler died with
    its process is free again for Stripe's next attempt, with no lease to
    wait out. Two event ids may share an offset; holders count per offset, so
    the lock goes only when this process's last claim on it does, and another
    process sees a shared offset as busy until then (a 409, retried by Stripe).

    Record locks belong to the process, not to a file descriptor, and closing
    *any* descriptor of the file drops them all: so there is exactly one of
    these per lock file per process (see :func:`_claims_for`), and its
    descriptor stays open for the life of the process.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mutex = threading.Lock()
        self._held: dict[str, _Held] = {}
        self._holders: dict[int, int] = {}
        self._fd = -1

    def _descriptor(self) -> int:
        if self._fd < 0:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def take(self, event_id: str, event_type: str) -> str | None:
        """A token for the event, or ``None`` when another delivery has it."""
        offset = _offset(event_id)
        with self._mutex:
            if event_id in self._held:
                return None
            holders = self._holders.get(offset, 0)
            if not holders and not self._lock(offset):
                return None
            self._holders[offset] = holders + 1
            token = _new_token()
            self._held[event_id] = _Held(token, event_type, offset)
            return token

    def held(self, event_id: str, token: str) -> _Held | None:
        found = self._held.get(event_id)
        return found if found is not None and found.token == token else None

    def drop(self, event_id: str, token: str) -> None:
        with self._mutex:
            found = self._held.get(event_id)
            if found is None or found.token != token:
                return
            del self._held[event_id]
            offset = found.offset
            holders = self._holders.pop(offset) - 1
            if holders:
                self._holders[offset] = holders
            elif _lockf is not None:
                _lockf(self._fd, _UNLOCK, 1, offset)

    def busy(self, event_id: str) -> bool:
        """Whether a delivery in this or another process holds the event."""
        offset = _offset(event_id)
        with self._mutex:
            if event_id in self._held:
                return True
            if offset in self._holders or _lockf is None:
                return False
            # Take and give back the lock: failing to take it means another
            # process holds it.
            if not self._lock(offset):
                return True
            _lockf(self._fd, _UNLOCK, 1, offset)
            return False

    def _lock(self, offset: int) -> bool:
        """Take the record lock at ``offset``; ``False`` when another process
        holds it. Any other failure (the lock file cannot be opened, the
        system has no locks left) is raised: answering *busy* to it would
        turn every delivery away, silently and for good."""
        if _lockf is None:
            return True
        descriptor = self._descriptor()
        try:
            _lockf(descriptor, _LOCK_NOW, 1, offset)
        except OSError as err:
            if err.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise
        return True

    def forget_after_fork(self) -> None:
        # A forked child holds none of its parent's record locks, and may have
        # been forked while another thread held the mutex.
        self._mutex = threading.Lock()
        self._held.clear()
        self._holders.clear()


_CLAIMS: Final[dict[str, _ProcessClaims]] = {}
_CLAIMS_MUTEX = threading.Lock()


def _claims_for(lock_file: Path) -> _ProcessClaims:
    key = os.path.realpath(lock_file)
    with _CLAIMS_MUTEX:
        claims = _CLAIMS.get(key)
        if claims is None:
            claims = _CLAIMS[key] = _ProcessClaims(lock_file)
        return claims


def _forget_claims_after_fork() -> None:
    global _CLAIMS_MUTEX
    _CLAIMS_MUTEX = threading.Lock()
    for claims in _CLAIMS.values():
        claims.forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_claims_after_fork)


_SCHEMA_VERSION: Final = 2

# One table, keyed by object, then time, then event. An event's object and
# time come in the same signed payload as its id, so the three identify a
# delivery's event as well as the id alone; keyed so, the row recording an
# event sits beside its object's other events, and the object's latest is the
# last key of its range. Recording an event writes one row of one B-tree, and
# a claim answers both its questions with two seeks. `object_id` is '' for an
# event without an object.
_CREATE: Final = """
CREATE TABLE IF NOT EXISTS handled (
    object_id   TEXT NOT NULL,
    created     INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    handled_at  REAL NOT NULL,
    PRIMARY KEY (object_id, created, event_id)
) WITHOUT ROWID
"""

# Schema 1 kept claims as rows: its done events carry over, and claims in
# flight do not, since no process of the old runtime is running.
_FROM_VERSION_1: Final = (
    "INSERT OR IGNORE INTO handled SELECT coalesce(object_id, ''), created,"
    " event_id, event_type, coalesce(finished_at, claimed_at)"
    " FROM events WHERE status = 'done'",
    "DROP TABLE events",
    "DROP TABLE objects",
)


# What a store file holds at each schema, tables and their columns, for files
# written before stores marked their files as theirs.
_EARLIER_TABLES: Final = {
    1: {
        "events": frozenset(
            {
                "event_id",
                "event_type",
                "object_id",
                "created",
                "status",
                "token",
                "claimed_at",
                "finished_at",
            }
        ),
        "objects": frozenset({"object_id", "last_created", "last_event_id"}),
    },
    2: {
        "handled": frozenset(
            {"object_id", "created", "event_id", "event_type", "handled_at"}
        ),
    },
}


def _upgrade(connection: sqlite3.Connection, version: int) -> None:
    connection.execute(_CREATE)
    for statement in _FROM_VERSION_1 if version == 1 else ():
        connection.execute(statement)


_CLAIM: Final = (
    "SELECT EXISTS (SELECT 1 FROM handled"
    " WHERE object_id = ?1 AND created = ?2 AND event_id = ?3),"
    " (SELECT max(created) FROM handled WHERE object_id = ?1)"
)
_COMPLETE: Final = "INSERT INTO handled VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"

# Records older than the cutoff go, but never an object's latest: the
# correlated max() is answered by the primary key's order.
_PRUNE: Final = (
    "DELETE FROM handled WHERE handled_at < ?"
    " AND (object_id = '' OR created < (SELECT max(created) FROM handled AS newer"
    " WHERE newer.object_id = handled.object_id))"
)

_BUSY_TIMEOUT: Final = 30.0


class SqliteWebhookStore:
    """A webhook store in one SQLite file, shared safely by threads and processes.

    A claim reads the file and writes nothing; completing an event writes one
    row in one autocommit statement: an event costs one commit. Claims are
    record locks on a lock file beside the store (``<store>-claims``, see
    :class:`_ProcessClaims`), dropped by the operating system when a process
    dies: on a system without them (Windows) claims exclude each other only
    within one process, and the store says so in a warning.

    Each thread gets its own connection, opened on its first operation with
    its pragmas set once and kept for every operation after; WAL mode lets
    readers run beside the one writer, and the busy timeout queues writers
    from other threads and processes. A thread's connection is closed when
    the thread ends; :meth:`close` closes them all for an orderly shutdown
    (the store stays usable: the next operation opens a new one), and nothing
    depends on calling it. The files and their parent folders are created on
    first use, readable by the owner only. The file holds event ids, types,
    object ids and times: no payloads.
    """

    def __init__(self, path: str | Path) -> None:
        # Resolved once, as SQLite resolves it: a relative path keeps naming
        # the same file after the process changes directory, and a store
        # reached through a symlink shares the lock file of the file itself.
        # A leading `~` is the user's home, as in a shell: .env files and
        # quoted settings do not expand it themselves.
        self._path = Path(os.path.realpath(os.path.expanduser(path)))
        self._ready = False
        self._ready_lock = threading.Lock()
        self._connections = ThreadConnections(self._path, _BUSY_TIMEOUT)
        self._claims = _claims_for(self._path.with_name(self._path.name + "-claims"))
        if _lockf is None:
            _logger.warning(
                "%s: this system has no POSIX record locks, so processes sharing "
                "the webhook store may each run a duplicate delivery's handler; "
                "serve webhooks from one process",
                self._path,
            )

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"SqliteWebhookStore({str(self._path)!r})"

    def close(self) -> None:
        """Close every thread's connection; call when no operation is running."""
        self._connections.close_all()

    def open(self) -> None:
        """Create or check the store's file now rather than on the first event.

        Raises :class:`~.errors.StoreFileError` for a file that cannot be the
        store. Leaves no connection open, so a process may still fork after.
        """
        if not self._ready:
            self._prepare()

    def _connection(self) -> sqlite3.Connection:
        if not self._ready:
            self._prepare()
        return self._connections.get()

    def _prepare(self) -> None:
        with self._ready_lock:
            if self._ready:
                return
            prepare_file(
                self._path,
                what="webhook store",
                schema_version=_SCHEMA_VERSION,
                upgrade=_upgrade,
                busy_timeout=_BUSY_TIMEOUT,
                earlier_tables=_EARLIER_TABLES,
                # Rows are tens of bytes and every event is a commit of its
                # own, so a small page keeps each commit's write small.
                page_size=1024,
            )
            self._ready = True

    def claim(
        self, event_id: str, event_type: str, object_id: str | None, created: int
    ) -> Claim:
        connection = self._connection()
        token = self._claims.take(event_id, event_type)
        if token is None:
            return _BUSY
        try:
            # Read with the claim held: a delivery that completed the event
            # wrote its row before it let go of the claim.
            handled, last = connection.execute(
                _CLAIM, (object_id or "", created, event_id)
            ).fetchone()
        except BaseException:
            self._claims.drop(event_id, token)
            raise
        if handled:
            self._claims.drop(event_id, token)
            return _DONE
        return Claim("claimed", token, None if object_id is None else last)

    def complete(
        self, event_id: str, token: str, object_id: str | None, created: int
    ) -> bool:
        held = self._claims.held(event_id, token)
        if held is None:
            return False
        try:
            self._connection().execute(
                _COMPLETE,
                (object_id or "", created, event_id, held.event_type, time.time()),
            )
        finally:
            self._claims.drop(event_id, token)
        return True

    def release(self, event_id: str, token: str) -> None:
        self._claims.drop(event_id, token)

    def last_applied(self, object_id: str) -> int | None:
        (last,) = (
            self._connection()
            .execute(
                "SELECT max(created) FROM handled WHERE object_id = ?", (object_id,)
            )
            .fetchone()
        )
        return None if last is None else int(last)

    def status(self, event_id: str) -> EventStatus | None:
        # Looks an event up by its id alone, which the table is not keyed by:
        # this reads the whole table, which suits audits and tests.
        connection = self._connection()  # creates the folder of the lock file
        if self._claims.busy(event_id):
            return "processing"
        row = connection.execute(
            "SELECT 1 FROM handled WHERE event_id = ? LIMIT 1", (event_id,)
        ).fetchone()
        return None if row is None else "done"

    def done_event_ids(self) -> set[str]:
        """Every event id recorded as handled, for audits and tests."""
        rows = self._connection().execute("SELECT event_id FROM handled").fetchall()
        return {row[0] for row in rows}

    def prune(self, older_than: timedelta = DEFAULT_RETENTION) -> int:
        """Forget events handled more than ``older_than`` ago; how many went.

        Stripe stops delivering an event three days after it was created, so
        a record older than that only answers a manual resend. An object's
        latest record is kept whatever its age, so that an old event about it
        is still known to be stale. Deletes in one transaction, reading the
        whole table: run it now and then, not per event.
        """
        if older_than < _MIN_RETENTION:
            raise ValueError(
                f"keep records for at least {_MIN_RETENTION.days} days: Stripe "
                "delivers an event again for up to three days"
            )
        cutoff = time.time() - older_than.total_seconds()
        return self._connection().execute(_PRUNE, (cutoff,)).rowcount


class MemoryWebhookStore:
    """A webhook store in memory: for tests and for one process.

    It knows an event by its id, object and ``created``, as the SQLite store
    does, so that both answer alike."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[str, str]] = {}  # id -> token, event type
        self._done: set[tuple[str, int, str]] = set()
        self._objects: dict[str, int] = {}

    def claim(
        self, event_id: str, event_type: str, object_id: str | None, created: int
    ) -> Claim:
        with self._lock:
            if (object_id or "", created, event_id) in self._done:
                return _DONE
            if event_id in self._claims:
                return _BUSY
            token = _new_token()
            self._claims[event_id] = (token, event_type)
            last = None if object_id is None else self._objects.get(object_id)
            return Claim("claimed", token, last)

    def complete(
        self, event_id: str, token: str, object_id: str | None, created: int
    ) -> bool:
        with self._lock:
            held = self._claims.get(event_id)
            if held is None or held[0] != token:
                return False
            del self._claims[event_id]
            self._done.add((object_id or "", created, event_id))
            if object_id is not None:
                last = self._objects.get(object_id)
                if last is None or created >= last:
                    self._objects[object_id] = created
            return True

    def release(self, event_id: str, token: str) -> None:
        with self._lock:
            held = self._claims.get(event_id)
            if held is not None and held[0] == token:
                del self._claims[event_id]

    def last_applied(self, object_id: str) -> int | None:
        with self._lock:
            return self._objects.get(object_id)

    def status(self, event_id: str) -> EventStatus | None:
        with self._lock:
            if event_id in self._claims:
                return "processing"
            done = any(key[2] == event_id for key in self._done)
            return "done" if done else None

    def done_event_ids(self) -> set[str]:
        """Every event id recorded as handled, for audits and tests."""
        with self._lock:
            return {key[2] for key in self._done}
