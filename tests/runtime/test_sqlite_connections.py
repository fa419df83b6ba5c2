"""The files the runtime's SQLite stores accept, and what checking one changes.

`prepare_file` is how the webhook store and the run journal take their file:
these tests hand it files that are almost a store (an empty database marked
with a version, a view, a table of the right name with other columns),
another program's database in WAL mode with a log nobody checkpointed, a
folder it may not write, and a new file that several processes open at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from generated._runtime.errors import StoreFileError
from generated._runtime.journal import SqliteJournal
from generated._runtime.sqlite_connections import APPLICATION_IDS
from generated._runtime.webhook_store import SqliteWebhookStore
from tests.support import ROOT

Opener = Callable[[Path], None]


def _open_store(path: Path) -> None:
    store = SqliteWebhookStore(path)
    try:
        store.open()
    finally:
        store.close()


def _open_journal(path: Path) -> None:
    journal = SqliteJournal(path)
    try:
        journal.run_status("w", "r")
    finally:
        journal.close()


OPENERS = [
    pytest.param(_open_store, id="webhook-store"),
    pytest.param(_open_journal, id="run-journal"),
]


def _files(path: Path) -> dict[str, str]:
    """Each file beside `path` whose name starts with its name, by its digest."""
    return {
        other.name: hashlib.sha256(other.read_bytes()).hexdigest()
        for other in sorted(path.parent.iterdir())
        if other.name.startswith(path.name)
    }


def _database(path: Path, script: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as database:
        database.executescript(script)


# --- files that are almost a store ------------------------------------------------


_LIKE_A_STORE = {
    # Another program's database that has only a view so far.
    "a view": "CREATE VIEW answer AS SELECT 42 AS value;",
    # Another program's empty database, marked with its own versions.
    "version 1, no tables": "PRAGMA user_version = 1;",
    "version 2, no tables": "PRAGMA user_version = 2;",
    "version 99, no tables": "PRAGMA user_version = 99;",
    # Our tables' names at one of our versions, with other columns.
    "handled of another program": """
        CREATE TABLE handled (id INTEGER PRIMARY KEY, who TEXT);
        PRAGMA user_version = 2;
    """,
    "steps and runs of another program": """
        CREATE TABLE steps (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT);
        PRAGMA user_version = 1;
    """,
    "events and objects of another program": """
        CREATE TABLE events (event_id TEXT, object_id TEXT, created INTEGER);
        CREATE TABLE objects (object_id TEXT);
        PRAGMA user_version = 1;
    """,
}


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize("script", _LIKE_A_STORE.values(), ids=list(_LIKE_A_STORE))
def test_a_database_that_only_looks_like_a_store_is_refused_unchanged(
    tmp_path: Path, opener: Opener, script: str
) -> None:
    path = tmp_path / "other.sqlite3"
    _database(path, script)
    before = _files(path)

    with pytest.raises(StoreFileError, match=r"another program's|not a "):
        opener(path)

    assert _files(path) == before


@pytest.mark.parametrize("opener", OPENERS)
def test_an_empty_file_becomes_a_store(tmp_path: Path, opener: Opener) -> None:
    path = tmp_path / "touched.sqlite3"
    path.touch()

    opener(path)
    opener(path)  # and is taken as the store's from then on

    with contextlib.closing(sqlite3.connect(path)) as database:
        (found_id,) = database.execute("PRAGMA application_id").fetchone()
    assert found_id in APPLICATION_IDS


def test_a_journal_from_before_the_marks_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = SqliteJournal(path)
    journal.finish_run("w", "r1", status="succeeded")
    journal.close()
    with contextlib.closing(sqlite3.connect(path)) as unmarked:
        unmarked.execute("PRAGMA application_id = 0")

    again = SqliteJournal(path)

    assert again.run_status("w", "r1") == "succeeded"
    again.close()


@pytest.mark.parametrize("opener", OPENERS)
def test_a_symlink_to_a_folder_is_refused_as_a_folder(
    tmp_path: Path, opener: Opener
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "link.sqlite3").symlink_to(tmp_path / "folder")

    with pytest.raises(StoreFileError, match="is a folder"):
        opener(tmp_path / "link.sqlite3")


# --- another program's database in WAL mode ---------------------------------------

# Another program writes its database in WAL mode and ends without closing
# it, as a crash does: its log holds the table, not yet checkpointed.
_CRASHED_WRITER = textwrap.dedent("""
    import os, sqlite3, sys

    database = sqlite3.connect(sys.argv[1], isolation_level=None)
    database.execute("PRAGMA journal_mode = WAL")
    database.execute("PRAGMA wal_autocheckpoint = 0")
    database.execute("CREATE TABLE notes (text TEXT)")
    database.execute("INSERT INTO notes VALUES ('kept in the log')")
    os._exit(0)
    """)


@pytest.mark.parametrize("opener", OPENERS)
def test_checking_a_wal_database_with_a_log_checkpoints_nothing(
    tmp_path: Path, opener: Opener
) -> None:
    path = tmp_path / "notes.sqlite3"
    subprocess.run([sys.executable, "-c", _CRASHED_WRITER, str(path)], check=True)
    before = _files(path)
    assert set(before) == {path.name, f"{path.name}-wal", f"{path.name}-shm"}

    with pytest.raises(StoreFileError, match=r"it holds other tables \(notes\)"):
        opener(path)

    after = _files(path)
    # The -shm file is SQLite's index of the log, which any reader rebuilds;
    # the database and its log are the other program's data.
    assert set(after) == set(before)
    assert after[path.name] == before[path.name]
    assert after[f"{path.name}-wal"] == before[f"{path.name}-wal"]


@pytest.mark.parametrize("opener", OPENERS)
def test_checking_a_closed_wal_database_leaves_no_files_behind(
    tmp_path: Path, opener: Opener
) -> None:
    path = tmp_path / "notes.sqlite3"
    _database(path, "PRAGMA journal_mode = WAL; CREATE TABLE notes (text TEXT);")
    before = _files(path)

    with pytest.raises(StoreFileError, match="it holds other tables"):
        opener(path)

    assert _files(path) == before == {path.name: before[path.name]}


# --- a new file opened by several processes at once -------------------------------


def _fork() -> int:
    # Python 3.12 warns that forking a process with threads may deadlock; the
    # children use only SQLite and the store, opened after the fork.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
        return os.fork()


@pytest.mark.parametrize("opener", OPENERS)
def test_processes_opening_a_new_file_at_once_all_take_it(
    tmp_path: Path, opener: Opener
) -> None:
    failures: list[str] = []
    for attempt in range(6):
        path = tmp_path / f"new-{attempt}.sqlite3"
        gate_in, gate_out = os.pipe()
        said_in, said_out = os.pipe()
        children = []
        for _ in range(5):
            pid = _fork()
            if pid == 0:  # the child never returns into pytest
                code = 1
                try:
                    os.read(gate_in, 1)
                    opener(path)
                    code = 0
                except BaseException:
                    os.write(said_out, traceback.format_exc().encode()[-2000:])
                finally:
                    os._exit(code)
            children.append(pid)
        os.write(gate_out, b"." * len(children))  # all start at once
        os.close(said_out)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
        with os.fdopen(said_in, "rb") as said:
            if any(codes):
                failures.append(said.read().decode())
        os.close(gate_in)
        os.close(gate_out)

    assert failures == []


# --- a folder the process may not write -------------------------------------------


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder outside the test's own (which only its owner may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="contractgen-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


_OPEN_AS_ANOTHER_USER = textwrap.dedent("""
    import sys
    from generated._runtime.journal import SqliteJournal
    from generated._runtime.webhook_store import SqliteWebhookStore

    try:
        if sys.argv[1] == "store":
            SqliteWebhookStore(sys.argv[2]).open()
        else:
            SqliteJournal(sys.argv[2]).run_status("w", "r")
    except Exception as err:
        print(f"{type(err).__name__}: {err}")
    else:
        print("opened")
    """)


def _open_unprivileged(kind: str, path: Path) -> str:
    """What opening `path` says in a process that file modes apply to."""
    command = [sys.executable, "-c", _OPEN_AS_ANOTHER_USER, kind, str(path)]
    if os.geteuid() == 0:
        # root may write anywhere: its child gives up root to be refused.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("no setpriv to give up root with")
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        command += [sys.executable, "-c", _OPEN_AS_ANOTHER_USER, kind, str(path)]
    opened = subprocess.run(
        command,
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert opened.returncode == 0, opened.stderr
    return opened.stdout.strip()


@pytest.mark.parametrize("kind", ["store", "journal"])
def test_a_store_in_a_folder_it_cannot_write_is_not_called_corrupt(
    shared_folder: Path, kind: str
) -> None:
    path = shared_folder / "locked" / "state.sqlite3"
    (_open_store if kind == "store" else _open_journal)(path)
    path.chmod(0o666)
    path.parent.chmod(0o555)  # SQLite cannot make the -wal and -shm files

    said = _open_unprivileged(kind, path)

    assert said.startswith("StoreFileError: ")
    assert "cannot be read" in said and str(path) in said
    assert said.endswith("(SQLite needs to write to the file and to its folder)")
    assert "not a SQLite database" not in said


def test_a_store_file_it_cannot_write_names_the_file(shared_folder: Path) -> None:
    path = shared_folder / "state.sqlite3"
    _open_store(path)
    path.chmod(0o444)

    said = _open_unprivileged("store", path)

    assert said == f"PermissionError: [Errno 13] Permission denied: '{path}'"


@pytest.mark.parametrize("opener", OPENERS)
def test_a_damaged_database_is_called_damaged_not_foreign(
    tmp_path: Path, opener: Opener
) -> None:
    path = tmp_path / "damaged.sqlite3"
    _database(path, "CREATE TABLE notes (text TEXT);")
    damaged = bytearray(path.read_bytes())
    damaged[100:400] = b"\xff" * 300  # the schema's page, after the header
    path.write_bytes(damaged)

    with pytest.raises(StoreFileError) as raised:
        opener(path)

    assert str(raised.value).endswith(
        f"{path} cannot be read: database disk image is malformed"
    )
    assert path.read_bytes() == damaged
