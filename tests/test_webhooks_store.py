"""The webhook store and settings, without HTTP: claims, crashes, staleness."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

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
