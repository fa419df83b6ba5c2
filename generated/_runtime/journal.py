# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""The run journal: which steps of a workflow run have finished, and how.

The workflow engine (:mod:`.workflow_engine`) records every step that
finishes, with its output or its error, before moving on. Calling a workflow
again with the same run id after a crash replays the journaled steps from
here instead of calling their capabilities again, and runs only what never
finished.

Three journals come with the runtime:

- :class:`SqliteJournal`, the default: one SQLite file in WAL mode, shared
  safely by threads and processes. Each thread keeps one connection, opened
  on its first operation and closed when the thread ends, so a journal
  object may be shared freely; a step costs one small write.
- :class:`MemoryJournal`: a dictionary, for tests and for runs that need
  resume only within one process.
- :class:`NullJournal`: journaling off; nothing is recorded or replayed.

Any object with the methods of :class:`Journal` will do. Entries are keyed by
workflow id, run id and step id; the first record of a step wins, so two
processes resuming the same run cannot overwrite each other's outcome.

The default journal's file comes from the environment or ``.env``:

========================  ==================================================
``CONTRACTGEN_JOURNAL``   path of the SQLite file (default
                          ``.contractgen/journal.sqlite3``); parent folders
                          are created on first use
========================  ==================================================
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .sqlite_connections import ThreadConnections, prepare_file

__all__ = [
    "DEFAULT_JOURNAL_PATH",
    "Journal",
    "JournalEntry",
    "JournalSettings",
    "MemoryJournal",
    "NullJournal",
    "RunStatus",
    "SqliteJournal",
    "StepOutcome",
    "default_journal",
]

DEFAULT_JOURNAL_PATH: Final = Path(".contractgen/journal.sqlite3")

StepOutcome = Literal["succeeded", "failed"]

RunStatus = Literal["succeeded", "failed"]

# Bumped whenever the tables change shape, so that an older runtime refuses a
# file written by a newer one instead of misreading it.
_SCHEMA_VERSION: Final = 1

_TABLES: Final = (
    """
    CREATE TABLE IF NOT EXISTS steps (
        workflow_id TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        step_id     TEXT NOT NULL,
        capability  TEXT NOT NULL,
        outcome     TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
        attempts    INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        payload     TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (workflow_id, run_id, step_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS runs (
        workflow_id TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
        finished_at TEXT NOT NULL,
        PRIMARY KEY (workflow_id, run_id)
    ) WITHOUT ROWID
    """,
)


# The columns of each table, by which a journal of schema 1 written before
# journals marked their files is known.
_TABLE_COLUMNS: Final = {
    "steps": frozenset(
        {
            "workflow_id",
            "run_id",
            "step_id",
            "capability",
            "outcome",
            "attempts",
            "fingerprint",
            "payload",
            "recorded_at",
        }
    ),
    "runs": frozenset({"workflow_id", "run_id", "status", "finished_at"}),
}


def _create_tables(connection: sqlite3.Connection, version: int) -> None:
    for statement in _TABLES:
        connection.execute(statement)


# Seconds a connection waits for another writer before giving up; writes are
# single small rows, so contention clears in milliseconds.
_BUSY_TIMEOUT: Final = 30.0


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One finished step of one run.

    ``output`` is the step's output as JSON data when it succeeded; ``error``
    is the error's ``to_dict()`` when it failed. ``fingerprint`` identifies
    the workflow version and inputs the run was started with, so a resume
    with other inputs can be refused.
    """

    step_id: str
    capability: str
    outcome: StepOutcome
    attempts: int
    fingerprint: str
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Journal(Protocol):
    """Where the workflow engine records finished steps and reads them back."""

    def load(self, workflow_id: str, run_id: str) -> dict[str, JournalEntry]:
        """The finished steps of a run, by step id; empty for a new run."""
        ...

    def record_success(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        *,
        capability: str,
        fingerprint: str,
        attempts: int,
        output: Mapping[str, Any],
    ) -> None:
        """Record that a step succeeded with ``output`` (JSON data)."""
        ...

    def record_failure(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        *,
        capability: str,
        fingerprint: str,
        attempts: int,
        error: Mapping[str, Any],
    ) -> None:
        """Record that a step failed for good with ``error`` (JSON data)."""
        ...

    def finish_run(self, workflow_id: str, run_id: str, *, status: RunStatus) -> None:
        """Record that a run finished, and how."""
        ...


class JournalSettings(BaseSettings):
    """Where the default journal lives, read from the environment."""

    # No populate_by_name: it would let the field's own name, `path`, be
    # read from the environment too, where it is the shell's PATH.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    path: Path = Field(
        default=DEFAULT_JOURNAL_PATH, validation_alias="CONTRACTGEN_JOURNAL"
    )

    @field_validator("path", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        # `CONTRACTGEN_JOURNAL=` would otherwise name the current directory.
        if isinstance(value, str) and not value.strip():
            return DEFAULT_JOURNAL_PATH
        return value


def default_journal() -> Journal:
    """The journal used by workflows given none: SQLite at the settings' path.

    Settings are read on every call, not cached, so a run always journals
    where the environment says at the time it starts; building the journal
    touches no file.
    """
    return SqliteJournal(JournalSettings().path)


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class SqliteJournal:
    """A journal in one SQLite file, safe to share between threads and processes.

    The file and its parent folders are created on first use, the file
    readable by its owner only: it holds step outputs as they are. WAL mode lets
    readers and the one writer proceed together; ``synchronous=NORMAL`` makes
    a record durable against a crash of the process, which is what resume is
    for, though not against a power cut. A step lost that way is called again
    on resume with the same idempotency key, so the provider still performs
    it once.

    Each thread keeps one connection, opened on its first operation with its
    pragmas set once, and closed when the thread ends (or by :meth:`close`);
    the busy timeout queues writers from other threads and processes.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        # Resolved once, as SQLite resolves it on opening: a thread that opens
        # its connection after the process changed directory opens this file.
        # A leading `~` is the user's home, as in a shell.
        self._file = Path(os.path.abspath(os.path.expanduser(path)))
        self._ready = False
        self._ready_lock = threading.Lock()
        self._connections = ThreadConnections(self._file, _BUSY_TIMEOUT)

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"SqliteJournal({str(self._path)!r})"

    def close(self) -> None:
        """Close every thread's connection; call when no operation is running.

        Optional: a thread's connection is closed when the thread ends, and
        every one at exit. The journal stays usable; the next operation opens
        a new connection."""
        self._connections.close_all()

    def _connection(self) -> sqlite3.Connection:
        # Autocommit: every operation is one statement, atomic on its own.
        if not self._ready:
            self._prepare()
        return self._connections.get()

    def _prepare(self) -> None:
        # Creating the file, the tables and switching to WAL happens once per
        # journal object; all three persist in the file itself. Outputs are
        # kept as they are, a payment's client secret too, so the file is
        # the owner's alone.
        with self._ready_lock:
            if self._ready:
                return
            prepare_file(
                self._file,
                what="run journal",
                schema_version=_SCHEMA_VERSION,
                upgrade=_create_tables,
                busy_timeout=_BUSY_TIMEOUT,
                # Journals written before stores marked their files as theirs.
                earlier_tables={1: _TABLE_COLUMNS},
            )
            self._ready = True

    def load(self, workflow_id: str, run_id: str) -> dict[str, JournalEntry]:
        rows = (
            self._connection()
            .execute(
                "SELECT step_id, capability, outcome, attempts, fingerprint,"
                " payload FROM steps WHERE workflow_id = ? AND run_id = ?",
                (workflow_id, run_id),
            )
            .fetchall()
        )
        entries: dict[str, JournalEntry] = {}
        for step_id, capability, outcome, attempts, fingerprint, payload in rows:
            data = json.loads(payload)
            entries[step_id] = JournalEntry(
                step_id=step_id,
                capability=capability,
                outcome=outcome,
                attempts=attempts,
                fingerprint=fingerprint,
                output=data if outcome == "succeeded" else None,
                error=data if outcome == "failed" else None,
            )
        return entries

    def record_success(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        *,
        capability: str,
        fingerprint: str,
        attempts: int,
        output: Mapping[str, Any],
    ) -> None:
        self._insert(
            workflow_id,
            run_id,
            step_id,
            capability,
            "succeeded",
            attempts,
            fingerprint,
            _dump(output),
        )

    def record_failure(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        *,
        capability: str,
        fingerprint: str,
        attempts: int,
        error: Mapping[str, Any],
    ) -> None:
        self._insert(
            workflow_id,
            run_id,
            step_id,
            capability,
            "failed",
            attempts,
            fingerprint,
            _dump(error),
        )

    def _insert(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        capability: str,
        outcome: StepOutcome,
        attempts: int,
        fingerprint: str,
        payload: str,
    ) -> None:
        # The first record wins: a second process that finished the same step
        # concurrently got the provider's deduplicated answer to the same key.
        self._connection().execute(
            "INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (
                workflow_id,
                run_id,
                step_id,
                capability,
                outcome,
                attempts,
                fingerprint,
                payload,
                _now(),
            ),
        )

    def finish_run(self, workflow_id: str, run_id: str, *, status: RunStatus) -> None:
        self._connection().execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
            " status = excluded.status, finished_at = excluded.finished_at",
            (workflow_id, run_id, status, _now()),
        )

    def prune(self, older_than: timedelta = timedelta(days=30)) -> int:
        """Forget the runs that finished more than ``older_than`` ago, with
        their steps' outputs; how many runs went.

        A run that has not finished is kept whatever its age: it may yet be
        resumed. A forgotten run's id is unknown again, so running it again
        calls its steps again. Deletes in one transaction: run it now and
        then, from a scheduled job or at start-up.
        """
        if older_than < timedelta(0):
            raise ValueError("older_than is negative")
        cutoff = (datetime.now(UTC) - older_than).isoformat(timespec="milliseconds")
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Times are ISO 8601 in UTC, all of one width: as text they sort
            # as the times they are.
            connection.execute(
                "DELETE FROM steps WHERE (workflow_id, run_id) IN"
                " (SELECT workflow_id, run_id FROM runs WHERE finished_at < ?)",
                (cutoff,),
            )
            gone: int = connection.execute(
                "DELETE FROM runs WHERE finished_at < ?", (cutoff,)
            ).rowcount
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return gone

    def run_status(self, workflow_id: str, run_id: str) -> RunStatus | None:
        """How a run finished, or ``None`` if it has not (or is unknown)."""
        row = (
            self._connection()
            .execute(
                "SELECT status FROM runs WHERE workflow_id = ? AND run_id = ?",
                (workflow_id, run_id),
            )
            .fetchone()
        )
        if row is None:
            return None
        status: RunStatus = row[0]
        return status


class MemoryJournal:
    """A journal kept in memory, for tests and single-process resume.

    Outputs and errors are stored as JSON text, as in :class:`SqliteJournal`,
    so what comes back is a copy and anything that would not survive the
    file fails here too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: dict[tuple[str, str], dict[str, tuple[JournalEntry, str]]] = {}
        self._runs: dict[tuple[str, str], RunStatus] = {}

    def load(self, workflow_id: str, run_id: str) -> dict[str, JournalEntry]:
        with self._lock:
            stored = dict(self._steps.get((workflow_id, run_id), {}))
        entries: dict[str, JournalEntry] = {}
        for step_id, (entry, payload) in stored.items():
            data = json.loads(payload)
            if entry.outcome == "succeeded":
                entries[step_id] = dataclasses.replace(entry, output=data)
            else:
                entries[step_id] = dataclasses.replace(entry, error=data)
        return entries

    def record_success(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        *,
        capability: str,
        fingerprint: str,
        attempts: int,
        output: Mapping[str, Any],
    ) -> None:
        entry = JournalEntry(step_id, capability, "succeeded", attempts, fingerprint)
        self._insert(workflow_id, run_id, entry, _dump(output))

    def record_failure(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        *,
        capability: str,
        fingerprint: str,
        attempts: int,
        error: Mapping[str, Any],
    ) -> None:
        entry = JournalEntry(step_id, capability, "failed", attempts, fingerprint)
        self._insert(workflow_id, run_id, entry, _dump(error))

    def _insert(
        self, workflow_id: str, run_id: str, entry: JournalEntry, payload: str
    ) -> None:
        with self._lock:
            steps = self._steps.setdefault((workflow_id, run_id), {})
            steps.setdefault(entry.step_id, (entry, payload))

    def finish_run(self, workflow_id: str, run_id: str, *, status: RunStatus) -> None:
        with self._lock:
            self._runs[(workflow_id, run_id)] = status

    def run_status(self, workflow_id: str, run_id: str) -> RunStatus | None:
        """How a run finished, or ``None`` if it has not (or is unknown)."""
        with self._lock:
            return self._runs.get((workflow_id, run_id))


class NullJournal:
    """Journaling off: nothing is recorded, so nothing is ever resumed."""

    def load(self, workflow_id: str, run_id: str) -> dict[str, JournalEntry]:
        return {}

    def record_success(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        *,
        capability: str,
        fingerprint: str,
        attempts: int,
        output: Mapping[str, Any],
    ) -> None:
        return None

    def record_failure(
        self,
        workflow_id: str,
        run_id: str,
        step_id: str,
        *,
        capability: str,
        fingerprint: str,
        attempts: int,
        error: Mapping[str, Any],
    ) -> None:
        return None

    def finish_run(self, workflow_id: str, run_id: str, *, status: RunStatus) -> None:
        return None
