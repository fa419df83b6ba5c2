"""Run journals: what they keep, for whom, and that SQLite keeps it safely."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import pytest

from generated._runtime import journal as journal_module
from generated._runtime.journal import (
    DEFAULT_JOURNAL_PATH,
    Journal,
    JournalEntry,
    JournalSettings,
    MemoryJournal,
    NullJournal,
    SqliteJournal,
    default_journal,
)
from generated._runtime.sqlite_connections import APPLICATION_IDS

ERROR = {
    "type": "CardDeclinedError",
    "capability": "stripe-create-payment-intent",
    "step": "charge",
    "message": "Your card was declined.",
    "code": "card_declined",
    "retryable": False,
    "request_id": None,
    "decline_code": "generic_decline",
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CONTRACTGEN_JOURNAL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", "memory"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    """Each journal that keeps entries, fresh."""
    if request.param == "sqlite":
        yield SqliteJournal(tmp_path / "journal.sqlite3")
    else:
        yield MemoryJournal()


def test_a_new_run_has_no_entries(journal: Journal) -> None:
    assert journal.load("process-payment", "run-1") == {}


def test_successes_and_failures_come_back_as_recorded(journal: Journal) -> None:
    journal.record_success(
        "process-payment",
        "run-1",
        "customer",
        capability="stripe-create-customer",
        fingerprint="f1",
        attempts=1,
        output={"customerId": "cus_1", "tags": ["a", "é"], "balance": 0},
    )
    journal.record_failure(
        "process-payment",
        "run-1",
        "charge",
        capability="stripe-create-payment-intent",
        fingerprint="f1",
        attempts=3,
        error=ERROR,
    )

    assert journal.load("process-payment", "run-1") == {
        "customer": JournalEntry(
            step_id="customer",
            capability="stripe-create-customer",
            outcome="succeeded",
            attempts=1,
            fingerprint="f1",
            output={"customerId": "cus_1", "tags": ["a", "é"], "balance": 0},
        ),
        "charge": JournalEntry(
            step_id="charge",
            capability="stripe-create-payment-intent",
            outcome="failed",
            attempts=3,
            fingerprint="f1",
            error=ERROR,
        ),
    }


def test_entries_belong_to_one_workflow_and_one_run(journal: Journal) -> None:
    for workflow_id, run_id in [("a", "run-1"), ("a", "run-2"), ("b", "run-1")]:
        journal.record_success(
            workflow_id,
            run_id,
            f"step-{workflow_id}-{run_id}",
            capability="c",
            fingerprint="f",
            attempts=1,
            output={},
        )

    assert list(journal.load("a", "run-1")) == ["step-a-run-1"]
    assert list(journal.load("a", "run-2")) == ["step-a-run-2"]
    assert list(journal.load("b", "run-1")) == ["step-b-run-1"]


def test_the_first_record_of_a_step_wins(journal: Journal) -> None:
    journal.record_success(
        "w", "r", "s", capability="c", fingerprint="f", attempts=1, output={"n": 1}
    )
    journal.record_success(
        "w", "r", "s", capability="c", fingerprint="f", attempts=2, output={"n": 2}
    )
    journal.record_failure(
        "w", "r", "s", capability="c", fingerprint="f", attempts=1, error=ERROR
    )

    [entry] = journal.load("w", "r").values()
    assert (entry.outcome, entry.attempts, entry.output) == ("succeeded", 1, {"n": 1})


def test_loaded_entries_are_copies(journal: Journal) -> None:
    output: dict[str, object] = {"items": [1]}
    journal.record_success(
        "w", "r", "s", capability="c", fingerprint="f", attempts=1, output=output
    )
    output["items"] = [2]

    loaded = journal.load("w", "r")["s"].output
    assert loaded == {"items": [1]}
    assert loaded is not None
    loaded["items"] = [3]
    assert journal.load("w", "r")["s"].output == {"items": [1]}


def test_output_that_is_not_json_is_refused(journal: Journal) -> None:
    with pytest.raises(TypeError):
        journal.record_success(
            "w",
            "r",
            "s",
            capability="c",
            fingerprint="f",
            attempts=1,
            output={"x": object()},
        )


@pytest.mark.parametrize("journal_type", [SqliteJournal, MemoryJournal])
def test_finishing_a_run_records_its_latest_status(
    journal_type: type[SqliteJournal] | type[MemoryJournal], tmp_path: Path
) -> None:
    journal = (
        SqliteJournal(tmp_path / "j.sqlite3")
        if journal_type is SqliteJournal
        else MemoryJournal()
    )
    assert journal.run_status("w", "r") is None

    journal.finish_run("w", "r", status="failed")
    assert journal.run_status("w", "r") == "failed"
    journal.finish_run("w", "r", status="succeeded")
    assert journal.run_status("w", "r") == "succeeded"
    assert journal.run_status("w", "other") is None


def test_the_null_journal_keeps_nothing() -> None:
    journal = NullJournal()
    journal.record_success(
        "w", "r", "s", capability="c", fingerprint="f", attempts=1, output={}
    )
    journal.record_failure(
        "w", "r", "t", capability="c", fingerprint="f", attempts=1, error=ERROR
    )
    journal.finish_run("w", "r", status="failed")

    assert journal.load("w", "r") == {}


def test_sqlite_creates_its_folders_lazily_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite3"
    journal = SqliteJournal(path)
    assert not path.parent.exists()

    journal.load("w", "r")

    assert path.is_file()
    with sqlite3.connect(path) as connection:
        [(mode,)] = connection.execute("PRAGMA journal_mode").fetchall()
        tables = {
            row[0] for row in connection.execute("SELECT name FROM sqlite_master")
        }
    connection.close()
    assert mode == "wal"
    assert {"steps", "runs"} <= tables


def test_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = SqliteJournal(path)
    journal.load("w", "r")
    # The -wal and -shm files exist only while some connection is open.
    reader = sqlite3.connect(path)
    try:
        reader.execute("SELECT count(*) FROM steps").fetchall()
        journal.record_success(
            "w", "r", "s", capability="c", fingerprint="f", attempts=1, output={}
        )
        modes = {
            file.name: stat.S_IMODE(file.stat().st_mode)
            for file in tmp_path.glob("journal.sqlite3*")
        }
    finally:
        reader.close()

    assert modes == {
        "journal.sqlite3": 0o600,
        "journal.sqlite3-wal": 0o600,
        "journal.sqlite3-shm": 0o600,
    }


def test_sqlite_entries_survive_a_new_journal_object(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    SqliteJournal(path).record_success(
        "w", "r", "s", capability="c", fingerprint="f", attempts=2, output={"x": 1}
    )

    [entry] = SqliteJournal(str(path)).load("w", "r").values()
    assert (entry.step_id, entry.attempts, entry.output) == ("s", 2, {"x": 1})


def test_sqlite_refuses_a_file_from_a_newer_runtime(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    connection = sqlite3.connect(path)
    journal_id = next(k for k, what in APPLICATION_IDS.items() if what == "run journal")
    connection.execute(f"PRAGMA application_id = {journal_id}")  # a journal's
    connection.execute("PRAGMA user_version = 99")
    connection.close()

    with pytest.raises(RuntimeError, match="newer contractgen runtime"):
        SqliteJournal(path).load("w", "r")


def test_sqlite_is_safe_for_several_processes_at_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    writer = textwrap.dedent("""
        import sys
        from generated._runtime.journal import SqliteJournal

        journal = SqliteJournal(sys.argv[1])
        for n in range(100):
            journal.record_success(
                "w", "r", f"{sys.argv[2]}-{n}",
                capability="c", fingerprint="f", attempts=1, output={"n": n},
            )
            journal.load("w", "r")
        """)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", writer, str(path), name],
            env={"PYTHONPATH": ":".join(sys.path)},
        )
        for name in ("p", "q", "r")
    ]

    assert [process.wait(timeout=60) for process in processes] == [0, 0, 0]
    entries = SqliteJournal(path).load("w", "r")
    assert len(entries) == 300
    assert entries["q-99"].output == {"n": 99}


def test_the_default_journal_is_sqlite_at_the_default_path() -> None:
    journal = default_journal()

    assert isinstance(journal, SqliteJournal)
    assert journal.path == DEFAULT_JOURNAL_PATH == Path(".contractgen/journal.sqlite3")
    assert not Path(".contractgen").exists()


def test_the_default_journal_path_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTRACTGEN_JOURNAL", str(tmp_path / "runs.db"))

    journal = default_journal()

    assert isinstance(journal, SqliteJournal)
    assert journal.path == tmp_path / "runs.db"


def test_the_default_journal_path_comes_from_dot_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CONTRACTGEN_JOURNAL=state/runs.db\n")

    assert JournalSettings().path == Path("state/runs.db")


@pytest.mark.parametrize("value", ["", "  "])
def test_a_blank_journal_setting_means_the_default(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CONTRACTGEN_JOURNAL", value)

    assert JournalSettings().path == DEFAULT_JOURNAL_PATH


def test_the_shell_path_is_not_mistaken_for_the_journal_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")

    assert JournalSettings().path == DEFAULT_JOURNAL_PATH


def test_sqlite_close_closes_every_connection_and_the_journal_reopens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = SqliteJournal(path)
    journal.record_success(
        "w", "r", "s", capability="c", fingerprint="f", attempts=1, output={}
    )
    assert path.with_name("journal.sqlite3-wal").exists()

    journal.close()

    # The last connection to close removes the WAL: none was left open.
    assert not path.with_name("journal.sqlite3-wal").exists()
    journal.finish_run("w", "r", status="succeeded")
    assert journal.run_status("w", "r") == "succeeded"
    assert set(journal.load("w", "r")) == {"s"}
    journal.close()


def test_pruning_forgets_runs_finished_long_ago_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = SqliteJournal(path)
    for run_id in ("old", "recent", "unfinished"):
        journal.record_success(
            "w",
            run_id,
            "charge",
            capability="stripe-create-payment-intent",
            fingerprint="f1",
            attempts=1,
            output={"id": run_id},
        )
    journal.finish_run("w", "old", status="succeeded")
    journal.finish_run("w", "recent", status="failed")
    aged = sqlite3.connect(path)
    aged.execute(
        "UPDATE runs SET finished_at = '2020-01-01T00:00:00.000+00:00'"
        " WHERE run_id = 'old'"
    )
    aged.commit()
    aged.close()

    assert journal.prune() == 1

    assert journal.run_status("w", "old") is None
    assert journal.load("w", "old") == {}
    assert journal.run_status("w", "recent") == "failed"
    assert set(journal.load("w", "unfinished")) == {"charge"}


# --- pruning: boundaries, neighbours, size, and runs recorded meanwhile ------------


def _finished(path: Path, runs: list[tuple[str, str, str]]) -> None:
    """Runs (workflow id, run id, finished at) with one step each, written as is."""
    with contextlib.closing(sqlite3.connect(path)) as database:
        database.executemany(
            "INSERT INTO steps VALUES (?, ?, 'charge', 'c', 'succeeded', 1, 'f',"
            " '{}', ?)",
            runs,
        )
        database.executemany(
            "INSERT INTO runs VALUES (?, ?, 'succeeded', ?)",
            [run for run in runs if run[2]],
        )
        database.commit()


def _at(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def test_pruning_keeps_a_run_finished_exactly_at_the_cutoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = SqliteJournal(path)
    journal.run_status("w", "r")
    now = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
    cutoff = now - timedelta(days=30)
    tick = timedelta(milliseconds=1)
    _finished(
        path,
        [
            ("w", "at", _at(cutoff)),
            ("w", "before", _at(cutoff - tick)),
            ("w", "after", _at(cutoff + tick)),
        ],
    )

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(now.timestamp(), tz)

    monkeypatch.setattr(journal_module, "datetime", Frozen)

    assert journal.prune(timedelta(days=30)) == 1

    statuses = {run: journal.run_status("w", run) for run in ("at", "before", "after")}
    assert statuses == {"at": "succeeded", "before": None, "after": "succeeded"}


def test_pruning_a_run_leaves_its_namesakes_and_unfinished_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = SqliteJournal(path)
    journal.run_status("w", "r")
    long_ago = "2020-01-01T00:00:00.000+00:00"
    _finished(
        path,
        [
            ("pay", "r1", long_ago),
            ("refund", "r1", ""),  # the same run id in another workflow, unfinished
            ("pay", "r2", ""),  # started long ago, never finished
            ("pay", "r3", long_ago),
        ],
    )
    journal.finish_run("pay", "r3", status="failed")  # finished again just now

    assert journal.prune() == 1

    assert journal.load("pay", "r1") == {}
    assert set(journal.load("refund", "r1")) == {"charge"}
    assert set(journal.load("pay", "r2")) == {"charge"}
    assert (journal.run_status("pay", "r3"), set(journal.load("pay", "r3"))) == (
        "failed",
        {"charge"},
    )


def test_pruning_a_hundred_thousand_steps_forgets_exactly_the_old_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = SqliteJournal(path)
    journal.run_status("w", "r")
    with contextlib.closing(sqlite3.connect(path)) as database:
        database.executemany(
            "INSERT INTO steps VALUES ('w', ?, ?, 'c', 'succeeded', 1, 'f', '{}',"
            " '2020-01-01T00:00:00.000+00:00')",
            ((f"r{n // 4}", f"s{n % 4}") for n in range(100_000)),
        )
        database.executemany(
            "INSERT INTO runs VALUES ('w', ?, 'succeeded', ?)",
            (
                (f"r{n}", "2020-01-01T00:00:00.000+00:00" if n % 2 else "2999-01-01")
                for n in range(25_000)
            ),
        )
        database.commit()

    gone = journal.prune()

    assert gone == 12_500
    with contextlib.closing(sqlite3.connect(path)) as database:
        assert database.execute("SELECT count(*) FROM steps").fetchone() == (50_000,)


def test_runs_recorded_while_another_thread_prunes_are_all_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = SqliteJournal(path)
    journal.run_status("w", "r")
    long_ago = "2020-01-01T00:00:00.000+00:00"
    _finished(path, [("w", f"old-{n}", long_ago) for n in range(2_000)])
    stop = threading.Event()
    pruned: list[int] = []

    def prune_until_stopped() -> None:
        while True:  # at least once, however soon the runs end
            pruned.append(journal.prune())
            if stop.is_set():
                return

    def run(n: int) -> None:
        for step in ("charge", "receipt"):
            journal.record_success(
                "w",
                f"new-{n}",
                step,
                capability="c",
                fingerprint="f",
                attempts=1,
                output={"n": n},
            )
        if n % 2:
            journal.finish_run("w", f"new-{n}", status="succeeded")

    pruner = threading.Thread(target=prune_until_stopped)
    pruner.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(run, range(200)))
    finally:
        stop.set()
        pruner.join()

    assert sum(pruned) == 2_000
    assert all(len(journal.load("w", f"new-{n}")) == 2 for n in range(200))
    assert journal.run_status("w", "new-1") == "succeeded"
    assert journal.load("w", "old-7") == {}


def test_a_relative_journal_keeps_its_file_after_the_process_changes_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(tmp_path / "first")
    journal = SqliteJournal("runs.sqlite3")
    journal.finish_run("w", "r", status="succeeded")
    monkeypatch.chdir(tmp_path / "second")
    seen: list[object] = []

    # A thread opens its own connection, as a step's timeout thread does.
    thread = threading.Thread(target=lambda: seen.append(journal.run_status("w", "r")))
    thread.start()
    thread.join()

    assert seen == ["succeeded"]
    assert journal.path == Path("runs.sqlite3")
    assert not (tmp_path / "second" / "runs.sqlite3").exists()
    journal.close()


def test_a_journal_path_under_home_is_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    SqliteJournal("~/runs/journal.sqlite3").run_status("w", "r")

    assert (tmp_path / "home" / "runs" / "journal.sqlite3").is_file()
    assert not (tmp_path / "~").exists()
