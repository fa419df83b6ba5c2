"""The webhook store and settings, without HTTP: claims, crashes, staleness."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from generated._runtime import webhook_store
from generated._runtime.errors import SettingsError, StoreFileError
from generated._runtime.journal import SqliteJournal
from generated._runtime.sqlite_connections import APPLICATION_IDS
from generated._runtime.webhook_store import (
    MemoryWebhookStore,
    SqliteWebhookStore,
    WebhookStore,
)
from generated._runtime.webhooks import WebhookSettings, load_settings
from tests.support import WEBHOOK_STORE_SCHEMA_1

STORE_ID = next(key for key, what in APPLICATION_IDS.items() if what == "webhook store")


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> WebhookStore:
    if request.param == "sqlite":
        return SqliteWebhookStore(tmp_path / "deep" / "store.sqlite3")
    return MemoryWebhookStore()


def _handle(
    store: WebhookStore, event_id: str, object_id: str | None, created: int
) -> None:
    """Claim an event and record it handled, as the endpoint does."""
    claim = store.claim(event_id, "t", object_id, created)
    assert claim.token is not None
    assert store.complete(event_id, claim.token, object_id, created)


def test_a_claimed_event_is_busy_then_done(store: WebhookStore) -> None:
    claim = store.claim("evt_1", "charge.refunded", "ch_1", 10)
    assert claim.state == "claimed" and claim.token is not None

    assert store.claim("evt_1", "charge.refunded", "ch_1", 10).state == "busy"
    assert store.complete("evt_1", claim.token, "ch_1", 10)
    assert store.claim("evt_1", "charge.refunded", "ch_1", 10).state == "done"
    assert store.status("evt_1") == "done"


def test_a_released_claim_can_be_claimed_again(store: WebhookStore) -> None:
    first = store.claim("evt_1", "t", None, 1)
    assert first.token is not None
    store.release("evt_1", first.token)

    assert store.status("evt_1") is None
    assert store.claim("evt_1", "t", None, 1).state == "claimed"


def test_the_object_remembers_its_newest_applied_event(store: WebhookStore) -> None:
    for event_id, created in (("evt_new", 20), ("evt_old", 10)):
        _handle(store, event_id, "sub_1", created)

    assert store.last_applied("sub_1") == 20
    assert store.last_applied("sub_unknown") is None


def test_a_claim_carries_the_objects_last_applied_time(store: WebhookStore) -> None:
    first = store.claim("evt_1", "t", "sub_1", 20)
    assert (first.state, first.last_applied) == ("claimed", None)
    assert first.token is not None
    assert store.complete("evt_1", first.token, "sub_1", 20)

    later = store.claim("evt_2", "t", "sub_1", 10)
    assert (later.state, later.last_applied) == ("claimed", 20)
    assert store.claim("evt_3", "t", None, 30).last_applied is None
    assert store.claim("evt_1", "t", "sub_1", 20).last_applied is None  # done


def test_a_claim_is_free_at_once_when_its_process_dies(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    holder = _claimer(path, ["evt_1"])
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "claimed"

    assert store.claim("evt_1", "t", None, 1).state == "busy"
    assert store.status("evt_1") == "processing"

    holder.kill()  # mid-handler: nothing recorded, the claim dies with it
    holder.communicate(timeout=30)

    assert store.status("evt_1") is None
    assert store.claim("evt_1", "t", None, 1).state == "claimed"


def test_an_event_completed_in_one_process_is_done_in_another(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    _handle(store, "evt_1", None, 1)

    other = _claimer(path, ["evt_1", "evt_2"])
    assert other.stdout is not None
    assert other.stdout.readline().strip() == "done,claimed"
    other.communicate("\n", timeout=30)


def test_stores_on_one_file_in_one_process_share_their_claims(
    tmp_path: Path,
) -> None:
    first = SqliteWebhookStore(tmp_path / "s.sqlite3")
    second = SqliteWebhookStore(tmp_path / "." / "s.sqlite3")
    claim = first.claim("evt_1", "t", None, 1)
    assert claim.token is not None

    assert second.claim("evt_1", "t", None, 1).state == "busy"
    first.release("evt_1", claim.token)
    assert second.claim("evt_1", "t", None, 1).state == "claimed"


def test_ids_sharing_a_lock_keep_it_until_both_let_go(tmp_path: Path) -> None:
    # Two ids whose claims lock the same byte of the lock file.
    first_id, second_id = "evt_057a90088d31", "evt_ec6de9945e29"
    assert zlib.crc32(first_id.encode()) == zlib.crc32(second_id.encode())
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    first = store.claim(first_id, "t", None, 1)
    second = store.claim(second_id, "t", None, 1)
    assert first.token is not None and second.token is not None

    store.release(first_id, first.token)

    # Another process still finds the second one held...
    other = _claimer(path, [second_id])
    assert other.stdout is not None
    assert other.stdout.readline().strip() == "busy"
    other.communicate("\n", timeout=30)
    # ... and this one finds the first one free.
    assert store.claim(first_id, "t", None, 1).state == "claimed"


def test_a_store_of_schema_1_keeps_its_handled_events(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(WEBHOOK_STORE_SCHEMA_1)
    old.executescript("""
        INSERT INTO events VALUES
            ('evt_done', 't', 'sub_1', 20, 'done', 'a', 1.0, 2.0),
            ('evt_bare', 't', NULL, 30, 'done', 'b', 1.0, 2.0),
            ('evt_running', 't', 'sub_1', 40, 'processing', 'c', 1.0, NULL);
        INSERT INTO objects VALUES ('sub_1', 20, 'evt_done');
        """)
    old.close()

    store = SqliteWebhookStore(path)

    assert store.done_event_ids() == {"evt_done", "evt_bare"}
    assert store.last_applied("sub_1") == 20
    assert store.claim("evt_done", "t", "sub_1", 20).state == "done"
    assert store.claim("evt_running", "t", "sub_1", 40).state == "claimed"


def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA application_id = {STORE_ID}")  # a store's, but newer
    newer.execute("PRAGMA user_version = 99")
    newer.close()

    with pytest.raises(RuntimeError, match="written by a newer contractgen"):
        SqliteWebhookStore(path).status("evt_1")


def test_concurrent_claims_of_one_event_are_won_once(tmp_path: Path) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")
    states: list[str] = []
    gate = threading.Barrier(16)

    def claim() -> None:
        gate.wait()
        states.append(store.claim("evt_1", "t", None, 1).state)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(states) == ["busy"] * 15 + ["claimed"]


def test_the_store_file_is_the_owners_alone(tmp_path: Path) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")
    store.status("evt_1")

    assert (tmp_path / "s.sqlite3").stat().st_mode & 0o777 == 0o600


def test_settings_read_only_their_own_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("STRIPE_WEBHOOK_SECRET", "CONTRACTGEN_WEBHOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CONTRACTGEN_WEBHOOK_PORT", raising=False)
    monkeypatch.setenv("SECRET", "whsec_wrong")
    monkeypatch.setenv("PORT", "9")
    monkeypatch.setenv("STORE", "/wrong")

    settings = WebhookSettings()

    assert (settings.secret, settings.store, settings.port) == (None, None, 8000)
    with pytest.raises(SettingsError) as raised:
        settings.require_secret()
    assert str(raised.value) == (
        "STRIPE_WEBHOOK_SECRET is not set: set it in the environment or in .env "
        "to the endpoint's signing secret (whsec_...)"
    )


def test_an_invalid_port_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONTRACTGEN_WEBHOOK_PORT", "http")

    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "CONTRACTGEN_WEBHOOK_PORT is invalid: fix it in the environment or in .env"
    )


def test_a_thread_keeps_one_connection_and_close_closes_them_all(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)

    def deliver(n: int) -> None:
        claim = store.claim(f"evt_{n}", "t", "obj", n)
        assert claim.token is not None
        store.last_applied("obj")
        assert store.complete(f"evt_{n}", claim.token, "obj", n)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deliver(8)
    # The main thread's connection is still open, so the WAL file is too.
    assert path.with_name("s.sqlite3-wal").exists()

    store.close()

    # The last connection to close removes the WAL: none was left open.
    assert not path.with_name("s.sqlite3-wal").exists()
    assert store.last_applied("obj") == 8  # reopens on the next operation
    assert store.done_event_ids() == {f"evt_{n}" for n in range(9)}
    store.close()


_CLAIMER = textwrap.dedent("""
    import sys
    from generated._runtime.webhook_store import SqliteWebhookStore

    store = SqliteWebhookStore(sys.argv[1])
    states = [store.claim(event_id, "t", None, 1).state for event_id in sys.argv[2:]]
    print(",".join(states), flush=True)
    sys.stdin.readline()  # hold the claims until told to go
    """)


def _claimer(path: Path, event_ids: list[str]) -> subprocess.Popen[str]:
    """A process that claims events, prints what it got, and holds on."""
    return subprocess.Popen(
        [sys.executable, "-c", _CLAIMER, str(path), *event_ids],
        env={"PYTHONPATH": ":".join(sys.path)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_concurrent_claims_from_processes_are_won_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    event_ids = [f"evt_{n}" for n in range(50)]
    processes = [_claimer(path, event_ids) for _ in range(4)]
    # Every process answers before any lets go of its claims.
    lines = []
    for process in processes:
        assert process.stdout is not None
        lines.append(process.stdout.readline().strip())
    for process in processes:
        process.communicate("\n", timeout=60)

    assert [process.returncode for process in processes] == [0, 0, 0, 0]
    per_event = zip(*(line.split(",") for line in lines), strict=True)
    assert all(sorted(states) == ["busy"] * 3 + ["claimed"] for states in per_event)


def test_pruning_forgets_old_events_but_each_objects_latest(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    for event_id, object_id, created in (
        ("evt_old_bare", None, 1),
        ("evt_old_sub", "sub_1", 10),
        ("evt_latest_sub", "sub_1", 20),
        ("evt_recent_bare", None, 30),
    ):
        _handle(store, event_id, object_id, created)
    # Age every record but the recent one by 40 days.
    aged = sqlite3.connect(path)
    aged.execute(
        "UPDATE handled SET handled_at = handled_at - 40 * 86400"
        " WHERE event_id != 'evt_recent_bare'"
    )
    aged.commit()
    aged.close()

    assert store.prune() == 2

    assert store.done_event_ids() == {"evt_latest_sub", "evt_recent_bare"}
    assert store.last_applied("sub_1") == 20
    assert store.claim("evt_old_sub", "t", "sub_1", 10).last_applied == 20


def test_pruning_keeps_what_stripe_may_still_deliver(tmp_path: Path) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")

    with pytest.raises(ValueError, match="at least 3 days"):
        store.prune(timedelta(days=2))


def test_a_run_journal_is_not_taken_for_a_webhook_store(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    SqliteJournal(path).run_status("w", "r")  # the journal makes the file

    with pytest.raises(StoreFileError, match="is a contractgen run journal, not a"):
        SqliteWebhookStore(path).open()

    SqliteWebhookStore(tmp_path / "hooks.sqlite3").open()
    with pytest.raises(StoreFileError, match="is a contractgen webhook store, not"):
        SqliteJournal(tmp_path / "hooks.sqlite3").run_status("w", "r")


def test_a_store_file_from_before_the_marks_is_still_the_store(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    _handle(store, "evt_1", None, 1)
    store.close()
    unmarked = sqlite3.connect(path)
    unmarked.execute("PRAGMA application_id = 0")
    unmarked.close()

    again = SqliteWebhookStore(path)

    assert again.claim("evt_1", "t", None, 1).state == "done"
    marked = sqlite3.connect(path)
    assert marked.execute("PRAGMA application_id").fetchone() != (0,)
    marked.close()


def test_both_stores_know_an_event_by_its_id_object_and_time(
    store: WebhookStore,
) -> None:
    _handle(store, "evt_1", "pi_1", 10)

    assert store.claim("evt_1", "t", "pi_1", 10).state == "done"
    assert store.claim("evt_1", "t", "pi_1", 11).state == "claimed"


# --- pruning: boundaries, size, and events handled meanwhile -----------------------

_DAY = 86_400.0


def _record(path: Path, rows: list[tuple[str, int, str, float]]) -> None:
    """Rows (object id, created, event id, handled at) written as handled."""
    with contextlib.closing(sqlite3.connect(path)) as database:
        database.executemany("INSERT INTO handled VALUES (?, ?, ?, 't', ?)", rows)
        database.commit()


def test_pruning_keeps_a_record_exactly_at_the_cutoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    store.open()
    now = 2_000_000_000.0
    cutoff = now - 30 * _DAY
    _record(
        path,
        [
            ("", 1, "evt_at_cutoff", cutoff),
            ("", 2, "evt_just_before", cutoff - 0.001),
            ("", 3, "evt_just_after", cutoff + 0.001),
        ],
    )
    monkeypatch.setattr(webhook_store.time, "time", lambda: now)

    assert store.prune(timedelta(days=30)) == 1

    assert store.done_event_ids() == {"evt_at_cutoff", "evt_just_after"}


def test_pruning_keeps_each_objects_latest_by_created_not_by_handling(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    store.open()
    old = time.time() - 40 * _DAY
    _record(
        path,
        [
            # Stripe does not promise order: the newest event came first.
            ("sub_1", 30, "evt_sub_newest", old - 5),
            ("sub_1", 20, "evt_sub_older", old),
            # Two events of one object at one time are both its latest.
            ("cus_1", 7, "evt_cus_a", old),
            ("cus_1", 7, "evt_cus_b", old),
            ("cus_1", 6, "evt_cus_before", old),
            # An object whose latest is recent keeps only that.
            ("pi_1", 1, "evt_pi_old", old),
            ("pi_1", 2, "evt_pi_recent", time.time()),
        ],
    )

    assert store.prune() == 3

    assert store.done_event_ids() == {
        "evt_sub_newest",
        "evt_cus_a",
        "evt_cus_b",
        "evt_pi_recent",
    }
    assert (store.last_applied("sub_1"), store.last_applied("cus_1")) == (30, 7)


def test_pruning_a_hundred_thousand_records_keeps_each_objects_latest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    store.open()
    old = time.time() - 40 * _DAY
    # Every fifth event has no object; the others are about 10,000 objects.
    rows = [
        (f"obj_{n % 10_000}" if n % 5 else "", n, f"evt_{n}", old)
        for n in range(100_000)
    ]
    _record(path, rows)
    objects = {object_id for object_id, _, _, _ in rows if object_id}

    gone = store.prune()

    assert gone == len(rows) - len(objects)  # each object's latest is kept


def test_events_handled_while_another_process_prunes_run_once_each(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    store.open()
    old = time.time() - 40 * _DAY
    _record(path, [(f"obj_{n % 50}", n, f"evt_old_{n}", old) for n in range(5_000)])
    store.close()  # the pruning process is forked: nothing may be open
    stop_in, stop_out = os.pipe()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child prunes until told to stop, then leaves
        code = 1
        try:
            os.close(stop_out)
            pruner = SqliteWebhookStore(path)
            os.set_blocking(stop_in, False)
            while True:
                pruner.prune()
                with contextlib.suppress(BlockingIOError):
                    if os.read(stop_in, 1) == b"":
                        break
            code = 0
        finally:
            os._exit(code)
    os.close(stop_in)
    runs: Counter[str] = Counter()
    counting = threading.Lock()
    events = [(f"evt_new_{n}", f"obj_{n % 50}", 10_000 + n) for n in range(150)]

    def deliver(event: tuple[str, str, int]) -> None:
        event_id, object_id, created = event
        while True:
            claim = store.claim(event_id, "t", object_id, created)
            if claim.state == "done":
                return
            if claim.state == "claimed":
                assert claim.token is not None
                with counting:
                    runs[event_id] += 1
                store.complete(event_id, claim.token, object_id, created)
                return
            time.sleep(0.001)  # busy: Stripe retries later

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(deliver, events * 3))  # each event delivered three times
    os.close(stop_out)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert runs == Counter({event_id: 1 for event_id, _, _ in events})
    store.prune()  # once more, now that every object has a newer event
    done = store.done_event_ids()
    assert {event_id for event_id, _, _ in events} <= done
    assert not any(event_id.startswith("evt_old_") for event_id in done)
    assert store.last_applied("obj_7") == max(c for _, o, c in events if o == "obj_7")


def test_a_store_path_under_home_is_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    SqliteWebhookStore("~/hooks/store.sqlite3").open()

    assert (tmp_path / "home" / "hooks" / "store.sqlite3").is_file()
    assert not (tmp_path / "~").exists()
