"""The webhook store and settings, without HTTP: claims, leases, staleness."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from generated._runtime.errors import SettingsError
from generated._runtime.webhook_store import (
    MemoryWebhookStore,
    SqliteWebhookStore,
    WebhookStore,
)
from generated._runtime.webhooks import WebhookSettings, load_settings


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> WebhookStore:
    if request.param == "sqlite":
        return SqliteWebhookStore(tmp_path / "deep" / "store.sqlite3")
    return MemoryWebhookStore()


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
        claim = store.claim(event_id, "t", "sub_1", created)
        assert claim.token is not None
        store.complete(event_id, claim.token, "sub_1", created)

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


def test_an_expired_lease_is_taken_over(tmp_path: Path) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3", lease_s=0.0)
    first = store.claim("evt_1", "t", None, 1)
    second = store.claim("evt_1", "t", None, 1)

    assert (first.state, second.state) == ("claimed", "claimed")
    assert first.token is not None and second.token is not None
    assert not store.complete("evt_1", first.token, None, 1)
    assert store.complete("evt_1", second.token, None, 1)


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
    with pytest.raises(SettingsError, match="STRIPE_WEBHOOK_SECRET is not set"):
        settings.require_secret()


def test_an_invalid_port_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONTRACTGEN_WEBHOOK_PORT", "http")

    with pytest.raises(SettingsError, match="CONTRACTGEN_WEBHOOK_PORT is invalid"):
        load_settings()


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


def test_concurrent_claims_from_processes_are_won_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    claimer = textwrap.dedent("""
        import sys
        from generated._runtime.webhook_store import SqliteWebhookStore

        store = SqliteWebhookStore(sys.argv[1])
        states = [store.claim(f"evt_{n}", "t", None, 1).state for n in range(50)]
        print(",".join(states))
        """)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", claimer, str(path)],
            env={"PYTHONPATH": ":".join(sys.path)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0, 0]
    per_event = zip(*(output.strip().split(",") for output in outputs), strict=True)
    assert all(sorted(states) == ["busy"] * 3 + ["claimed"] for states in per_event)
