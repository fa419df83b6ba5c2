# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""SQLite connections kept open, one per thread, for the runtime's stores.

The run journal and the webhook store both write to a SQLite file from many
threads (a web server's workers, a workflow's timeout threads) and sometimes
from several processes. Opening a connection for every operation costs far
more than the operation (each last close of a WAL file also checkpoints it),
so each thread keeps one connection, opened on first use.

A process forked while it had a file open cannot use that file: SQLite keeps
the bookkeeping of its file locks in the process's memory, which the fork
copies, so the child's connections would take no locks of their own and the
parent, closing its last connection, would delete the write-ahead log the
child writes to. Such a child gets an error saying so on first use, rather
than records that silently vanish.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Final

from .errors import StoreFileError

__all__ = ["APPLICATION_IDS", "ThreadConnections", "prepare_file"]


# What each runtime store writes in its file's header (SQLite's application
# id), so that a file of one is never taken for the other, or for a database
# of another program. Files written before the ids were set carry none.
APPLICATION_IDS: Final = {
    0x43474A4E: "run journal",  # "CGJN"
    0x43475748: "webhook store",  # "CGWH"
}


def prepare_file(
    path: Path,
    *,
    what: str,
    schema_version: int,
    upgrade: Callable[[sqlite3.Connection, int], None],
    busy_timeout: float,
    earlier_tables: Mapping[int, Mapping[str, AbstractSet[str]]],
    page_size: int | None = None,
) -> None:
    """Create a store's file, or bring an older one up to ``schema_version``.

    ``what`` names the store (a key of :data:`APPLICATION_IDS`'s values). The
    file is created readable by the owner only (SQLite gives its -wal and
    -shm files the same mode), in a folder created readable by the owner
    only if it was missing; it is put in WAL mode and given ``page_size``
    when new. ``upgrade(connection, version)`` creates or upgrades the
    tables from ``version`` (0: a new file) inside a write transaction that
    also sets the new version, taken before the version is read, so that
    processes opening one file at once queue rather than both upgrade.

    A file that cannot be this store is refused with a
    :class:`~.errors.StoreFileError` before anything in it changes: a
    folder, a file that is not SQLite, a database of another program or of
    the other store, or one written by a newer runtime. A file without an
    application id is taken only when it is new (no tables, views or
    anything else, at version 0) or holds the tables ``earlier_tables`` lists
    for its schema version, each with at least the columns listed for it.
    """
    application_id = _application_id(what)
    if path.is_dir():
        raise StoreFileError(f"{path} is a folder, not a {what} file")
    if not path.parent.is_dir():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    _check_kind(path, what, application_id, earlier_tables, busy_timeout)
    connection = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        if page_size is not None:
            # Only a new file takes it, and only before its first write.
            connection.execute(f"PRAGMA page_size = {int(page_size)}")
        _use_wal(connection, busy_timeout)
        connection.execute("BEGIN IMMEDIATE")
        try:
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            if version > schema_version:
                raise StoreFileError(
                    f"the {what} {path} was written by a newer contractgen "
                    f"runtime (schema {version}, this runtime reads "
                    f"{schema_version})"
                )
            if version < schema_version:
                upgrade(connection, version)
                connection.execute(f"PRAGMA user_version = {int(schema_version)}")
            connection.execute(f"PRAGMA application_id = {application_id}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def _application_id(what: str) -> int:
    return next(key for key, name in APPLICATION_IDS.items() if name == what)


def _check_kind(
    path: Path,
    what: str,
    application_id: int,
    earlier_tables: Mapping[int, Mapping[str, AbstractSet[str]]],
    busy_timeout: float,
) -> None:
    """Refuse a file that is not this store's, reading only."""
    # A file with a write-ahead log is opened read-only: the last connection
    # to close a database checkpoints its log into the file and deletes it,
    # and this check must leave another program's database as it was.
    read_only = os.path.exists(f"{path}-wal")
    target = f"{Path(os.path.abspath(path)).as_uri()}?mode=ro" if read_only else path
    connection = sqlite3.connect(
        target, timeout=busy_timeout, isolation_level=None, uri=read_only
    )
    try:
        found_id, version, names, columns = _read_kind(connection)
    except sqlite3.DatabaseError as err:
        if err.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
            raise StoreFileError(
                f"{path} is not a SQLite database, so it cannot be the {what}"
            ) from None
        why = f"the {what} {path} cannot be read: {err}"
        if err.sqlite_errorcode & 0xFF in _NOT_ALLOWED:
            why += " (SQLite needs to write to the file and to its folder)"
        raise StoreFileError(why) from None
    finally:
        connection.close()

    if found_id == application_id:
        return
    if found_id:
        other = APPLICATION_IDS.get(found_id)
        owner = f"a contractgen {other}" if other else "another program's database"
        raise StoreFileError(f"{path} is {owner}, not a {what}: give each its own file")
    if not names and not version:
        return  # a new file
    if not names:
        raise StoreFileError(
            f"{path} is another program's database (empty, at its version "
            f"{version}), not a {what}: give each its own file"
        )
    expected = earlier_tables.get(version)
    if expected is not None and all(
        table in columns and wanted <= columns[table]
        for table, wanted in expected.items()
    ):
        return  # this store's, written before the ids were
    raise StoreFileError(
        f"{path} is not a {what}: it holds other tables "
        f"({', '.join(sorted(names))}); give the {what} a file of its own"
    )


# What SQLite answers when it may not open or write the file, or its -wal
# and -shm files beside it.
_NOT_ALLOWED: Final = {
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_READONLY,
}


def _read_kind(
    connection: sqlite3.Connection,
) -> tuple[int, int, set[str], dict[str, set[str]]]:
    """The file's application id, version, schema objects, and tables' columns.

    Read in one transaction, so that a store another process is creating
    meanwhile is seen before or after, never half made."""
    connection.execute("BEGIN")
    try:
        (found_id,) = connection.execute("PRAGMA application_id").fetchone()
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        schema = connection.execute(
            "SELECT type, name FROM sqlite_master"
            " WHERE substr(name, 1, 7) != 'sqlite_'"
        ).fetchall()
        columns = {
            name: {
                row[0]
                for row in connection.execute(
                    "SELECT name FROM pragma_table_info(?)", (name,)
                )
            }
            for kind, name in schema
            if kind == "table"
        }
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
    return found_id, version, {name for _, name in schema}, columns


def _use_wal(connection: sqlite3.Connection, busy_timeout: float) -> None:
    """Put the file in WAL mode, waiting out other processes' locks.

    A connection switching journal modes has read the file first, and SQLite
    does not wait for a write lock wanted on top of a read (two connections
    doing so would wait for each other for ever): processes opening a new
    file at once see "database is locked" here without any busy timeout. So
    this waits, as the busy timeout would."""
    deadline = time.monotonic() + busy_timeout
    pause = 0.001
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            busy = err.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class _Handle:
    """A thread's connection, closed by a finalizer when the thread ends."""

    __slots__ = ("__weakref__", "connection", "epoch")

    def __init__(self, connection: sqlite3.Connection, epoch: int) -> None:
        self.connection = connection
        self.epoch = epoch


def _close_connection(
    connection: sqlite3.Connection,
    live: dict[int, weakref.finalize[..., _Handle]],
    key: int,
) -> None:
    live.pop(key, None)
    with contextlib.suppress(sqlite3.Error):
        connection.close()


class ThreadConnections:
    """One SQLite connection per thread, opened on first use and then kept.

    A thread's connection is closed when the thread ends (its thread-local
    handle is dropped), when :meth:`close_all` is called, when the owner is
    collected, or at interpreter exit, whichever comes first; none is left
    for the garbage collector to find open. A connection is only ever used
    by the thread that opened it, so closing it from another thread
    (``check_same_thread=False``) happens only once it is out of use. A
    forked child never touches the connections it inherited: SQLite forbids
    using them across ``fork``, so it opens its own.
    """

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._live: dict[int, weakref.finalize[..., _Handle]] = {}
        self._epoch = 0
        _ALL_CONNECTIONS.add(self)

    def get(self) -> sqlite3.Connection:
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is not None and handle.epoch == self._epoch:
            return handle.connection
        if _OPEN_AT_FORK and os.path.realpath(self._path) in _OPEN_AT_FORK:
            raise RuntimeError(
                f"{self._path} was open in the parent process when this process "
                "was forked, and SQLite cannot use a file across a fork: open it "
                "first in the forked processes, or close it (the store's or "
                "journal's close()) before forking"
            )
        connection = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            connection.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            connection.close()
            raise
        handle = _Handle(connection, self._epoch)
        key = id(handle)
        self._live[key] = weakref.finalize(
            handle, _close_connection, connection, self._live, key
        )
        self._local.handle = handle
        return connection

    def close_all(self) -> None:
        """Close every thread's connection; the next use opens a new one."""
        self._epoch += 1
        while self._live:
            try:
                _, finalizer = self._live.popitem()
            except KeyError:  # emptied by a finalizer meanwhile
                break
            finalizer()

    def _forget_after_fork(self) -> None:
        # In a forked child: drop the parent's connections unclosed (closing
        # one could disturb the parent's locks), kept referenced for good.
        if self._live:
            _OPEN_AT_FORK.add(os.path.realpath(self._path))
        self._epoch += 1
        while self._live:
            _, finalizer = self._live.popitem()
            detached = finalizer.detach()
            if detached is not None:
                _INHERITED.append(detached[2][0])


_ALL_CONNECTIONS: Final[weakref.WeakSet[ThreadConnections]] = weakref.WeakSet()
_INHERITED: Final[list[sqlite3.Connection]] = []
# The files this process's parent had open when it forked this process.
_OPEN_AT_FORK: Final[set[str]] = set()


def _after_fork_in_child() -> None:
    for connections in list(_ALL_CONNECTIONS):
        connections._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
