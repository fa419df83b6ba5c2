# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""The webhook store: which events have been handled, for exactly-once effects.

Stripe delivers an event at least once: it retries until it gets a 2xx, and
may deliver the same event more than once, even at the same time. The webhook
endpoint (:mod:`.webhooks`) asks the store to *claim* an event before running
its handler, and marks it *done* after the handler returns:

- a claim is a row keyed by the event id under a unique constraint, so of two
  concurrent deliveries of one event exactly one gets the claim;
- a claim not finished within its lease (the process died mid-handler) may be
  taken over by a later delivery, so no event is lost to a crash;
- a handler that raises *releases* its claim, so Stripe's retry runs it again.

The store also keeps, per Stripe object id, the ``created`` time of the last
event applied to it, so a handler can tell that an event arrived after a newer
one about the same object (Stripe does not promise order).

Two stores come with the runtime: :class:`SqliteWebhookStore`, the default,
shared safely by threads and processes, and :class:`MemoryWebhookStore`, for
tests and single-process use. Any object with the methods of
:class:`WebhookStore` will do.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from .sqlite_connections import ThreadConnections

__all__ = [
    "DEFAULT_LEASE_S",
    "Claim",
    "ClaimState",
    "EventStatus",
    "MemoryWebhookStore",
    "SqliteWebhookStore",
    "WebhookStore",
]

# How long a claim holds before another delivery may take the event over: a
# handler still running after this long is taken for dead.
DEFAULT_LEASE_S: Final = 300.0

EventStatus = Literal["processing", "done"]

# What claiming an event found: it is ours to handle, it was handled already,
# or another delivery is handling it now.
ClaimState = Literal["claimed", "done", "busy"]

_SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    event_id    TEXT NOT NULL PRIMARY KEY,
    event_type  TEXT NOT NULL,
    object_id   TEXT,
    created     INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('processing', 'done')),
    token       TEXT NOT NULL,
    claimed_at  REAL NOT NULL,
    finished_at REAL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    object_id     TEXT NOT NULL PRIMARY KEY,
    last_created  INTEGER NOT NULL,
    last_event_id TEXT NOT NULL
) WITHOUT ROWID;
"""

_BUSY_TIMEOUT: Final = 30.0

# RETURNING (SQLite 3.35) lets a claim read the object's last applied time
# in its own statement; an older SQLite reads it in a second one.
_RETURNING: Final = sqlite3.sqlite_version_info >= (3, 35, 0)
_LAST_APPLIED: Final = "(SELECT last_created FROM objects WHERE object_id = ?)"


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
        """Mark a claimed event done and record it as the object's latest.

        ``False`` when the claim was no longer ours (its lease ran out and
        another delivery took it over)."""
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


def _new_token() -> str:
    return secrets.token_hex(8)


class SqliteWebhookStore:
    """A webhook store in one SQLite file, shared safely by threads and processes.

    Each thread gets its own connection, opened on its first operation with
    its pragmas set once and kept for every operation after, so an event
    costs a few statements and no connection setup; WAL mode lets readers run
    beside the one writer, and the busy timeout queues writers from other
    threads and processes. A thread's connection is closed when the thread
    ends; :meth:`close` closes them all for an orderly shutdown (the store
    stays usable: the next operation opens a new one), and nothing depends on
    calling it. The file and its parent folders are created on first use,
    readable by the owner only. The file holds event ids, types, object ids
    and times: no payloads.
    """

    def __init__(self, path: str | Path, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        self._path = Path(path)
        self._lease_s = lease_s
        self._ready = False
        self._ready_lock = threading.Lock()
        self._connections = ThreadConnections(self._path, _BUSY_TIMEOUT)

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"SqliteWebhookStore({str(self._path)!r})"

    def close(self) -> None:
        """Close every thread's connection; call when no operation is running."""
        self._connections.close_all()

    def _connection(self) -> sqlite3.Connection:
        if not self._ready:
            self._prepare()
        return self._connections.get()

    def _prepare(self) -> None:
        with self._ready_lock:
            if self._ready:
                return
            self._path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self._path, os.O_CREAT | os.O_WRONLY, 0o600))
            connection = sqlite3.connect(
                self._path, timeout=_BUSY_TIMEOUT, isolation_level=None
            )
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                (version,) = connection.execute("PRAGMA user_version").fetchone()
                if version > _SCHEMA_VERSION:
                    raise RuntimeError(
                        f"the webhook store {self._path} was written by a newer "
                        f"contractgen runtime (schema {version}, this runtime "
                        f"reads {_SCHEMA_VERSION})"
                    )
                if version < _SCHEMA_VERSION:
                    connection.executescript(
                        f"BEGIN IMMEDIATE; {_SCHEMA}"
                        f" PRAGMA user_version = {_SCHEMA_VERSION}; COMMIT;"
                    )
            finally:
                connection.close()
            self._ready = True

    def claim(
        self, event_id: str, event_type: str, object_id: str | None, created: int
    ) -> Claim:
        connection = self._connection()
        while True:
            token = _new_token()
            now = time.time()
            # The primary key makes this insert the one place a race is
            # decided; it commits on its own (autocommit). With RETURNING it
            # reads the object's last applied time in the same statement;
            # fetchall() steps it to its end, so it has committed on return.
            if _RETURNING:
                rows = connection.execute(
                    "INSERT INTO events (event_id, event_type, object_id, created,"
                    " status, token, claimed_at) VALUES (?, ?, ?, ?, 'processing',"
                    f" ?, ?) ON CONFLICT DO NOTHING RETURNING {_LAST_APPLIED}",
                    (event_id, event_type, object_id, created, token, now, object_id),
                ).fetchall()
                if rows:
                    last = rows[0][0]
                    return Claim("claimed", token, None if last is None else int(last))
            elif connection.execute(
                "INSERT INTO events (event_id, event_type, object_id, created,"
                " status, token, claimed_at) VALUES (?, ?, ?, ?, 'processing', ?, ?)"
                " ON CONFLICT DO NOTHING",
                (event_id, event_type, object_id, created, token, now),
            ).rowcount:
                return Claim("claimed", token, self._last_applied(object_id))
            taken_over = connection.execute(
                "UPDATE events SET token = ?, claimed_at = ? WHERE event_id = ?"
                " AND status = 'processing' AND claimed_at < ?",
                (token, now, event_id, now - self._lease_s),
            ).rowcount
            if taken_over:
                return Claim("claimed", token, self._last_applied(object_id))
            row = connection.execute(
                "SELECT status FROM events WHERE event_id = ?", (event_id,)
            ).fetchone()
            if row is not None:
                return Claim("done" if row[0] == "done" else "busy")
            # Released between the insert and the read: try again.

    def _last_applied(self, object_id: str | None) -> int | None:
        return None if object_id is None else self.last_applied(object_id)

    def complete(
        self, event_id: str, token: str, object_id: str | None, created: int
    ) -> bool:
        connection = self._connection()
        done_at = time.time()
        if object_id is None:
            # One statement: atomic on its own.
            return bool(
                connection.execute(
                    "UPDATE events SET status = 'done', finished_at = ?"
                    " WHERE event_id = ? AND token = ? AND status = 'processing'",
                    (done_at, event_id, token),
                ).rowcount
            )
        connection.execute("BEGIN IMMEDIATE")
        try:
            updated = connection.execute(
                "UPDATE events SET status = 'done', finished_at = ?"
                " WHERE event_id = ? AND token = ? AND status = 'processing'",
                (done_at, event_id, token),
            ).rowcount
            if updated:
                connection.execute(
                    "INSERT INTO objects VALUES (?, ?, ?) ON CONFLICT DO UPDATE"
                    " SET last_created = excluded.last_created,"
                    " last_event_id = excluded.last_event_id"
                    " WHERE excluded.last_created >= objects.last_created",
                    (object_id, created, event_id),
                )
            connection.execute("COMMIT")
        except BaseException:
            # The connection is kept: leave no transaction open on it.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return bool(updated)

    def release(self, event_id: str, token: str) -> None:
        self._connection().execute(
            "DELETE FROM events WHERE event_id = ? AND token = ?"
            " AND status = 'processing'",
            (event_id, token),
        )

    def last_applied(self, object_id: str) -> int | None:
        row = (
            self._connection()
            .execute(
                "SELECT last_created FROM objects WHERE object_id = ?", (object_id,)
            )
            .fetchone()
        )
        return None if row is None else int(row[0])

    def status(self, event_id: str) -> EventStatus | None:
        row = (
            self._connection()
            .execute("SELECT status FROM events WHERE event_id = ?", (event_id,))
            .fetchone()
        )
        if row is None:
            return None
        status: EventStatus = row[0]
        return status

    def done_event_ids(self) -> set[str]:
        """Every event id marked done, for audits and tests."""
        rows = (
            self._connection()
            .execute("SELECT event_id FROM events WHERE status = 'done'")
            .fetchall()
        )
        return {row[0] for row in rows}


@dataclass(slots=True)
class _Entry:
    status: EventStatus
    token: str
    claimed_at: float


class MemoryWebhookStore:
    """A webhook store in memory: for tests and for one process."""

    def __init__(self, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        self._lease_s = lease_s
        self._lock = threading.Lock()
        self._events: dict[str, _Entry] = {}
        self._objects: dict[str, int] = {}

    def claim(
        self, event_id: str, event_type: str, object_id: str | None, created: int
    ) -> Claim:
        now = time.monotonic()
        with self._lock:
            entry = self._events.get(event_id)
            if entry is not None and entry.status == "done":
                return Claim("done")
            if entry is not None and now - entry.claimed_at < self._lease_s:
                return Claim("busy")
            token = _new_token()
            self._events[event_id] = _Entry("processing", token, now)
            last = None if object_id is None else self._objects.get(object_id)
            return Claim("claimed", token, last)

    def complete(
        self, event_id: str, token: str, object_id: str | None, created: int
    ) -> bool:
        with self._lock:
            entry = self._events.get(event_id)
            if entry is None or entry.token != token or entry.status == "done":
                return False
            entry.status = "done"
            if object_id is not None:
                last = self._objects.get(object_id)
                if last is None or created >= last:
                    self._objects[object_id] = created
            return True

    def release(self, event_id: str, token: str) -> None:
        with self._lock:
            entry = self._events.get(event_id)
            if entry is not None and (entry.token, entry.status) == (
                token,
                "processing",
            ):
                del self._events[event_id]

    def last_applied(self, object_id: str) -> int | None:
        with self._lock:
            return self._objects.get(object_id)

    def status(self, event_id: str) -> EventStatus | None:
        with self._lock:
            entry = self._events.get(event_id)
            return None if entry is None else entry.status

    def done_event_ids(self) -> set[str]:
        """Every event id marked done, for audits and tests."""
        with self._lock:
            return {k for k, v in self._events.items() if v.status == "done"}
