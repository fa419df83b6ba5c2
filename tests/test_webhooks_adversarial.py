"""The webhook store and endpoint under attack: processes, crashes, odd input.

Each test tries to make an event's handler run twice, or not at all, or to
make `WebhookEndpoint.handle` raise instead of answering. Processes are
`os.fork` children of the test, ordered by pipes rather than by sleeps: a
child that must die mid-handler blocks on a pipe nobody writes to until it
is killed. Bodies are signed as Stripe signs them, with stripe-python.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sqlite3
import stat
import threading
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import stripe

from generated._runtime.sqlite_connections import _ALL_CONNECTIONS
from generated._runtime.webhook_store import (
    Claim,
    MemoryWebhookStore,
    SqliteWebhookStore,
    WebhookStore,
)
from generated._runtime.webhooks import (
    LOGGER_NAME,
    StripeEvent,
    WebhookEndpoint,
    WebhookResponse,
)
from generated.webhooks import WebhookRouter
from generated.webhooks.app import EVENT_TYPES, MAX_BODY_BYTES, TOLERANCE_S
from tests.support import WEBHOOK_STORE_SCHEMA_1

SECRET = "whsec_contractgen_adversarial"
CREATED = 1_700_000_000

# Two event ids whose claims lock the same byte of the lock file.
SHARING_AN_OFFSET = ("evt_057a90088d31", "evt_ec6de9945e29")


# --- deliveries ----------------------------------------------------------------


class Handler:
    """A handler that counts its runs and then does what the test tells it."""

    def __init__(self, then: Callable[[int], None] | None = None) -> None:
        self.runs: Counter[str] = Counter()
        self.then = then
        self._lock = threading.Lock()

    def __call__(self, event: StripeEvent) -> None:
        with self._lock:
            self.runs[event.id] += 1
            run = sum(self.runs.values())
        if self.then is not None:
            self.then(run)


def _endpoint(
    store: WebhookStore, handler: Handler, *, busy_wait_s: float = 2.0
) -> WebhookEndpoint:
    router = WebhookRouter()
    router.on_payment_intent_succeeded(handler)
    router.on_customer_subscription_updated(handler)
    return WebhookEndpoint(
        router,
        secret=SECRET,
        store=store,
        event_types=EVENT_TYPES,
        tolerance=TOLERANCE_S,
        max_body_bytes=MAX_BODY_BYTES,
        busy_wait_s=busy_wait_s,
    )


def _payment(event_id: str = "evt_1", **fields: Any) -> dict[str, Any]:
    intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 2000,
        "currency": "usd",
        "status": "succeeded",
    }
    event = {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": CREATED,
        "livemode": False,
        "data": {"object": intent},
    }
    return event | fields


def _signed(body: bytes) -> dict[str, str]:
    sign = stripe.WebhookSignature.generate_signature_header
    return {"Stripe-Signature": sign(body.decode("utf-8"), SECRET)}


def _deliver(
    endpoint: WebhookEndpoint, event: dict[str, Any] | bytes
) -> WebhookResponse:
    body = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
    return endpoint.handle(body, _signed(body))


def _outcome(answer: WebhookResponse) -> tuple[int, str, str | None]:
    said = json.loads(answer.body)
    return answer.status, said["outcome"], said.get("reason")


# --- processes -----------------------------------------------------------------


def _fork(*, close_stores: bool) -> int:
    if close_stores:
        # As a preforking server must: a child cannot use a SQLite file its
        # parent had open at the fork (see the test that checks it is told).
        for connections in list(_ALL_CONNECTIONS):
            connections.close_all()
    # Python 3.12 warns that forking a process with threads may deadlock; the
    # children here use only the store, which resets its locks after a fork.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
        return os.fork()


def _spawn(work: Callable[[], object], *, close_stores: bool = True) -> int:
    """Run `work` in a forked copy of this process; the child's pid."""
    pid = _fork(close_stores=close_stores)
    if pid == 0:  # the child never returns into pytest
        code = 1
        try:
            work()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def _exit_code(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _in_child(work: Callable[[], str], *, close_stores: bool = True) -> str:
    """What `work` returns when run in a forked copy of this process."""
    reader, writer = os.pipe()
    pid = _spawn(lambda: os.write(writer, work().encode()), close_stores=close_stores)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        said = answer.read().decode()
    assert _exit_code(pid) == 0
    return said


class Gate:
    """A pipe one process waits on until another opens it (or dies)."""

    def __init__(self) -> None:
        self._reader, self._writer = os.pipe()

    def wait(self) -> bytes:
        return os.read(self._reader, 1)

    def open(self, times: int = 1) -> None:
        os.write(self._writer, b"." * times)


@pytest.fixture
def killed_at_exit() -> Iterator[list[int]]:
    """Children to SIGKILL when the test ends, however it ends."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        os.waitpid(pid, 0)


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    assert _exit_code(pid) == -signal.SIGKILL


# --- claims across processes, forks and crashes --------------------------------


def test_a_forked_child_holds_none_of_its_parents_claims(tmp_path: Path) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")
    held = store.claim("evt_parent", "t", None, 1)
    assert held.token is not None

    def child() -> str:
        parents = store.claim("evt_parent", "t", None, 1).state
        stolen = store.complete("evt_parent", held.token or "", None, 1)
        own = store.claim("evt_child", "t", None, 1)
        assert own.token is not None
        return f"{parents},{stolen},{store.complete('evt_child', own.token, None, 1)}"

    assert _in_child(child) == "busy,False,True"
    # The child's exit closed its copy of the lock file, and with it only its
    # own locks: another process still finds the parent's claim held.
    assert _in_child(lambda: store.claim("evt_parent", "t", None, 1).state) == "busy"
    assert store.status("evt_child") == "done"
    assert store.complete("evt_parent", held.token, None, 1)


def test_a_child_forked_with_the_store_open_is_refused_it(tmp_path: Path) -> None:
    # SQLite keeps its file locks' bookkeeping in memory a fork copies: a
    # child's connection to a file its parent had open would take no lock of
    # its own, and the parent's last close would delete the write-ahead log
    # under it. The child is told so instead of losing what it records.
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    store.status("evt_0")  # the parent has a connection open when it forks

    def child() -> str:
        try:
            SqliteWebhookStore(path).claim("evt_1", "t", None, 1)
        except RuntimeError as err:
            return str(err)
        return "claimed"

    said = _in_child(child, close_stores=False)

    assert "open in the parent process when this process was forked" in said
    assert store.status("evt_1") is None


def test_a_child_forked_after_the_store_closed_uses_it(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    store.status("evt_0")
    store.close()

    def child() -> str:
        claim = store.claim("evt_1", "t", None, 1)
        assert claim.token is not None
        store.complete("evt_1", claim.token, None, 1)
        return "recorded"

    assert _in_child(child) == "recorded"
    assert SqliteWebhookStore(path).status("evt_1") == "done"


def test_closing_a_store_keeps_the_claims_it_holds(tmp_path: Path) -> None:
    first = SqliteWebhookStore(tmp_path / "s.sqlite3")
    second = SqliteWebhookStore(tmp_path / "s.sqlite3")
    claim = first.claim("evt_1", "t", None, 1)
    assert claim.token is not None

    # Closing SQLite connections must not close the lock file: closing any
    # descriptor of a file drops every record lock the process has on it.
    first.close()
    second.close()

    assert _in_child(lambda: first.claim("evt_1", "t", None, 1).state) == "busy"
    assert first.complete("evt_1", claim.token, None, 1)


def test_a_delivery_killed_mid_handler_is_busy_then_runs_again(
    tmp_path: Path, killed_at_exit: list[int]
) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")
    running, never = Gate(), Gate()
    doomed = Handler(lambda _: (running.open(), never.wait()))
    child = _spawn(lambda: _deliver(_endpoint(store, doomed), _payment()))
    killed_at_exit.append(child)
    running.wait()
    handler = Handler()
    endpoint = _endpoint(store, handler, busy_wait_s=0.05)

    assert _outcome(_deliver(endpoint, _payment())) == (409, "busy", "in_progress")
    _kill(child)

    assert _outcome(_deliver(endpoint, _payment())) == (200, "processed", None)
    assert handler.runs == Counter({"evt_1": 1})
    assert store.status("evt_1") == "done"


def test_a_process_killed_after_recording_leaves_its_event_done(
    tmp_path: Path, killed_at_exit: list[int]
) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")
    recorded, never = Gate(), Gate()

    def stuck_before_letting_go(*args: object) -> None:
        recorded.open()
        never.wait()

    def child() -> None:
        # Patched in the child alone: its memory is its own after the fork.
        claims = type(store._claims)
        with mock.patch.object(claims, "drop", stuck_before_letting_go):
            _deliver(_endpoint(store, Handler()), _payment())

    pid = _spawn(child)
    killed_at_exit.append(pid)
    recorded.wait()
    assert store.status("evt_1") == "processing"  # its lock is still held
    _kill(pid)

    handler = Handler()
    answer = _deliver(_endpoint(store, handler), _payment())
    assert _outcome(answer) == (200, "duplicate", None)
    assert handler.runs == Counter()


def test_ids_sharing_an_offset_are_busy_never_done_for_each_other(
    tmp_path: Path, killed_at_exit: list[int]
) -> None:
    first_id, second_id = SHARING_AN_OFFSET
    assert zlib.crc32(first_id.encode()) == zlib.crc32(second_id.encode())
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")
    running, finish = Gate(), Gate()
    slow = Handler(lambda _: (running.open(), finish.wait()))
    child = _spawn(lambda: _deliver(_endpoint(store, slow), _payment(first_id)))
    killed_at_exit.append(child)
    running.wait()
    handler = Handler()
    endpoint = _endpoint(store, handler, busy_wait_s=0.05)

    # The other process holds the shared byte: a 409, retried by Stripe.
    assert _outcome(_deliver(endpoint, _payment(second_id)))[:2] == (409, "busy")
    finish.open()
    assert _exit_code(child) == 0

    assert _outcome(_deliver(endpoint, _payment(second_id)))[1] == "processed"
    assert _outcome(_deliver(endpoint, _payment(first_id)))[1] == "duplicate"
    assert handler.runs == Counter({second_id: 1})


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_handler_lets_go_and_lets_the_interruption_through(
    tmp_path: Path, interruption: type[BaseException]
) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")

    def interrupt_first(run: int) -> None:
        if run == 1:
            raise interruption

    handler = Handler(interrupt_first)
    endpoint = _endpoint(store, handler)

    with pytest.raises(interruption):
        _deliver(endpoint, _payment())

    assert store.status("evt_1") is None
    other = _in_child(lambda: store.claim("evt_1", "t", "pi_1", CREATED).state)
    assert other == "claimed"
    assert _outcome(_deliver(endpoint, _payment()))[1] == "processed"
    assert handler.runs == Counter({"evt_1": 2})


class Watched:
    """A store that tells when a claim found its event busy."""

    def __init__(self, store: WebhookStore) -> None:
        self.store = store
        self.saw_busy = threading.Event()

    def claim(
        self, event_id: str, event_type: str, object_id: str | None, created: int
    ) -> Claim:
        claim = self.store.claim(event_id, event_type, object_id, created)
        if claim.state == "busy":
            self.saw_busy.set()
        return claim

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_waiting_duplicate_runs_the_handler_when_the_first_one_fails(
    tmp_path: Path,
) -> None:
    store = Watched(SqliteWebhookStore(tmp_path / "s.sqlite3"))

    def fail_once_the_duplicate_waits(run: int) -> None:
        if run == 1:
            assert store.saw_busy.wait(timeout=30)
            raise RuntimeError("the handler's database is down")

    handler = Handler(fail_once_the_duplicate_waits)
    endpoint = _endpoint(store, handler, busy_wait_s=30)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: _deliver(endpoint, _payment()), range(2)))

    assert sorted(_outcome(a)[:2] for a in answers) == [
        (200, "processed"),
        (500, "failed"),
    ]
    assert handler.runs == Counter({"evt_1": 2})
    assert store.status("evt_1") == "done"


# --- tokens --------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> WebhookStore:
    if request.param == "sqlite":
        return SqliteWebhookStore(tmp_path / "s.sqlite3")
    return MemoryWebhookStore()


def test_only_the_current_claims_token_completes_or_releases_it(
    store: WebhookStore,
) -> None:
    stale = store.claim("evt_1", "t", None, 1)
    assert stale.token is not None
    store.release("evt_1", stale.token)
    current = store.claim("evt_1", "t", None, 1)
    other = store.claim("evt_2", "t", None, 1)
    assert current.token is not None and other.token is not None

    for wrong in (stale.token, other.token, "", current.token + " "):
        assert not store.complete("evt_1", wrong, None, 1)
        store.release("evt_1", wrong)
    assert store.claim("evt_1", "t", None, 1).state == "busy"

    assert store.complete("evt_1", current.token, None, 1)
    assert not store.complete("evt_1", current.token, None, 1)
    store.release("evt_1", current.token)
    assert store.status("evt_1") == "done"
    assert store.status("evt_2") == "processing"


def test_a_token_from_a_store_on_another_file_completes_nothing(
    tmp_path: Path,
) -> None:
    here = SqliteWebhookStore(tmp_path / "here.sqlite3")
    there = SqliteWebhookStore(tmp_path / "there.sqlite3")
    claim = here.claim("evt_1", "t", None, 1)
    assert claim.token is not None

    assert not there.complete("evt_1", claim.token, None, 1)
    there.release("evt_1", claim.token)

    assert there.status("evt_1") is None
    assert here.status("evt_1") == "processing"


# --- paths ---------------------------------------------------------------------


def test_a_store_reached_through_a_symlink_shares_the_claims_of_its_file(
    tmp_path: Path,
) -> None:
    real = tmp_path / "s.sqlite3"
    link = tmp_path / "link.sqlite3"
    link.symlink_to(real)
    direct = SqliteWebhookStore(real)
    claim = direct.claim("evt_1", "t", None, 1)
    assert claim.token is not None

    linked = SqliteWebhookStore(link)
    assert linked.claim("evt_1", "t", None, 1).state == "busy"
    assert _in_child(lambda: linked.claim("evt_1", "t", None, 1).state) == "busy"
    assert direct.complete("evt_1", claim.token, None, 1)
    assert linked.claim("evt_1", "t", None, 1).state == "done"


def test_a_store_named_by_a_relative_path_keeps_its_file_after_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / "a")
    store = SqliteWebhookStore("s.sqlite3")
    claim = store.claim("evt_1", "t", None, 1)
    assert claim.token is not None
    assert store.complete("evt_1", claim.token, None, 1)

    monkeypatch.chdir(tmp_path / "b")
    # A server's new worker thread opens its own connection to the store.
    with ThreadPoolExecutor(max_workers=1) as worker:
        again = worker.submit(store.claim, "evt_1", "t", None, 1).result()

    assert again.state == "done"
    assert list((tmp_path / "b").iterdir()) == []


def test_the_store_files_are_the_owners_alone_whatever_the_umask(
    tmp_path: Path,
) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")
    previous = os.umask(0)
    try:
        claim = store.claim("evt_1", "t", None, 1)
        assert claim.token is not None
        assert store.complete("evt_1", claim.token, None, 1)
    finally:
        os.umask(previous)

    modes = {
        file.name: stat.S_IMODE(file.stat().st_mode)
        for file in tmp_path.glob("s.sqlite3*")
    }
    assert modes == dict.fromkeys(
        ["s.sqlite3", "s.sqlite3-claims", "s.sqlite3-wal", "s.sqlite3-shm"], 0o600
    )


def test_a_new_store_in_a_new_folder_knows_no_event_yet(tmp_path: Path) -> None:
    store = SqliteWebhookStore(tmp_path / "new" / "s.sqlite3")

    assert store.status("evt_1") is None


def test_a_lock_file_that_cannot_be_opened_is_an_error_not_a_busy_event(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.sqlite3-claims").mkdir()
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")

    with pytest.raises(IsADirectoryError):
        store.claim("evt_1", "t", None, 1)
    with pytest.raises(IsADirectoryError):
        store.status("evt_1")


# --- the store failing under the endpoint ---------------------------------------


def test_a_store_that_cannot_record_answers_500_and_keeps_no_claim(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteWebhookStore(path)
    store.status("evt_1")
    with contextlib.closing(sqlite3.connect(path)) as admin:
        admin.execute(
            "CREATE TRIGGER full BEFORE INSERT ON handled"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    handler = Handler()
    endpoint = _endpoint(store, handler)

    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        answer = _deliver(endpoint, _payment())

    # The handler ran but nothing says so: Stripe must deliver it again.
    assert _outcome(answer) == (500, "failed", "store_failed")
    [record] = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert record.contractgen["error_type"] == "IntegrityError"  # type: ignore[attr-defined]
    assert store.status("evt_1") is None
    other = _in_child(lambda: store.claim("evt_1", "t", "pi_1", CREATED).state)
    assert other == "claimed"

    with contextlib.closing(sqlite3.connect(path)) as admin:
        admin.execute("DROP TRIGGER full")
    assert _outcome(_deliver(endpoint, _payment()))[1] == "processed"
    assert handler.runs == Counter({"evt_1": 2})


def _newer_schema(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as newer:
        newer.execute("PRAGMA user_version = 99")


def _claims_folder(path: Path) -> None:
    path.with_name(path.name + "-claims").mkdir()


@pytest.mark.parametrize("spoil", [_newer_schema, _claims_folder])
def test_a_store_that_cannot_claim_answers_500_and_runs_nothing(
    tmp_path: Path, spoil: Callable[[Path], None]
) -> None:
    path = tmp_path / "s.sqlite3"
    spoil(path)
    handler = Handler()
    endpoint = _endpoint(SqliteWebhookStore(path), handler, busy_wait_s=0.05)

    answer = _deliver(endpoint, _payment())

    assert _outcome(answer) == (500, "failed", "store_failed")
    assert handler.runs == Counter()


# --- first use and upgrades -----------------------------------------------------


def test_a_new_store_waits_for_another_process_writing_its_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    path.touch(mode=0o600)
    # Another process's first write holds the fresh file's write lock.
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    done = threading.Timer(0.2, other.execute, ["COMMIT"])
    done.start()
    try:
        assert SqliteWebhookStore(path).status("evt_1") is None
    finally:
        done.join()
        other.close()


def test_processes_opening_a_new_store_at_once_all_get_answers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    go = Gate()
    reader, writer = os.pipe()

    def first_use(n: int) -> None:
        go.wait()
        event_id = f"evt_{n % 2}"
        try:
            store = SqliteWebhookStore(path)
            claim = store.claim(event_id, "t", None, 1)
            if claim.token is not None:
                store.complete(event_id, claim.token, None, 1)
            said = claim.state
        except Exception as err:
            said = type(err).__name__
        os.write(writer, f"{said}\n".encode())

    children = [_spawn(lambda n=n: first_use(n)) for n in range(6)]
    go.open(len(children))
    codes = [_exit_code(pid) for pid in children]
    os.close(writer)
    with os.fdopen(reader) as lines:
        states = Counter(lines.read().split())

    assert codes == [0] * 6
    assert set(states) <= {"claimed", "done", "busy"} and states["claimed"] >= 2
    assert SqliteWebhookStore(path).done_event_ids() == {"evt_0", "evt_1"}


def test_processes_upgrading_schema_1_at_once_keep_each_event_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    rows = [
        # Done, but the old runtime never wrote its finish time.
        ("evt_unfinished", "t", "sub_1", 20, "done", "a", 5.0, None),
        # Without an object, and with an empty object id: both keyed by ''.
        ("evt_bare", "t", None, 30, "done", "b", 1.0, 2.0),
        ("evt_blank", "t", "", 30, "done", "c", 1.0, 2.0),
        ("evt_\x00é", "t", "sub_2", -1, "done", "d", 1.0, 2.0),
        # A claim in flight, newer than anything done about its object.
        ("evt_claimed", "t", "sub_1", 99, "processing", "e", 1.0, None),
    ]
    old = sqlite3.connect(path)
    old.execute("PRAGMA journal_mode = WAL")
    old.executescript(WEBHOOK_STORE_SCHEMA_1)
    old.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    old.execute("INSERT INTO objects VALUES ('sub_1', 20, 'evt_unfinished')")
    old.commit()
    old.close()
    go = Gate()

    def upgrade() -> None:
        go.wait()
        SqliteWebhookStore(path).status("evt_bare")

    children = [_spawn(upgrade) for _ in range(4)]
    go.open(len(children))

    assert [_exit_code(pid) for pid in children] == [0] * 4
    store = SqliteWebhookStore(path)
    assert store.done_event_ids() == {
        "evt_unfinished",
        "evt_bare",
        "evt_blank",
        "evt_\x00é",
    }
    assert (store.last_applied("sub_1"), store.last_applied("sub_2")) == (20, -1)
    assert store.claim("evt_unfinished", "t", "sub_1", 20).state == "done"
    assert store.claim("evt_\x00é", "t", "sub_2", -1).state == "done"
    claimed = store.claim("evt_claimed", "t", "sub_1", 99)
    assert (claimed.state, claimed.last_applied) == ("claimed", 20)
    with contextlib.closing(sqlite3.connect(path)) as reader:
        tables = reader.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert [name for (name,) in tables] == ["handled"]
        handled_at = reader.execute(
            "SELECT handled_at FROM handled WHERE event_id = 'evt_unfinished'"
        ).fetchall()
        assert handled_at == [(5.0,)]


# --- hostile event ids -----------------------------------------------------------


@pytest.mark.parametrize(
    "event_id",
    [
        "evt_\x00",
        " ",
        "évènement_ü",
        "evt_😀",
        "evt_\u2028",
        "evt_'); DROP TABLE handled; --",
        "evt_" + "x" * 200_000,
        SHARING_AN_OFFSET[1],
    ],
    ids=["nul", "space", "accents", "astral", "line-separator", "sql", "huge", "crc"],
)
def test_an_odd_event_id_is_handled_once_and_known_to_other_processes(
    tmp_path: Path, event_id: str
) -> None:
    store = SqliteWebhookStore(tmp_path / "s.sqlite3")
    handler = Handler()
    endpoint = _endpoint(store, handler)

    answers = [_outcome(_deliver(endpoint, _payment(event_id)))[1] for _ in range(2)]

    assert answers == ["processed", "duplicate"]
    assert handler.runs == Counter({event_id: 1})
    assert store.done_event_ids() == {event_id}
    other = _in_child(lambda: store.claim(event_id, "t", "pi_1", CREATED).state)
    assert other == "done"


# --- what the endpoint refuses ---------------------------------------------------


def _text(event: dict[str, Any]) -> str:
    return json.dumps(event)


def _nested(depth: int) -> dict[str, Any]:
    previous: Any = "active"
    for _ in range(depth):
        previous = {"status": previous}
    subscription = {"id": "sub_1", "status": "active", "customer": "cus_1"}
    return _payment(
        type="customer.subscription.updated",
        data={"object": subscription, "previous_attributes": previous},
    )


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("\ufeff\ufeff" + _text(_payment()), (400, "malformed_json")),
        ("", (400, "malformed_json")),
        (_text(_payment("\ud800")), (400, "malformed_json")),
        (_text(_payment("\udc00")), (400, "malformed_json")),
        (_text(_payment("evt_\ud83d\ude00")), (200, "processed")),
        (_text(_payment("")), (400, "malformed_event")),
        (_text(_payment(created=10**30)), (400, "malformed_event")),
        (_text(_payment(created=2**63)), (400, "malformed_event")),
        (_text(_payment(created=-1)), (200, "processed")),
        (_text(_payment(created=253_402_300_800)), (400, "malformed_event")),
        (_text(_payment(created=float("nan"))), (400, "malformed_event")),
        (_text(_payment(created=True)), (400, "malformed_event")),
        (_text(_payment(created=1.7e9)), (400, "malformed_event")),
        (_text(_payment(created=str(CREATED))), (400, "malformed_event")),
        (_text(_payment(data=[])), (400, "malformed_event")),
        (_text(_payment()).replace("2000", "NaN"), (400, "invalid_event")),
        (_text(_payment()).replace("2000", "1" + "0" * 40), (200, "processed")),
        (_text(_nested(150)), (200, "processed")),
        (_text(_nested(250)), (400, "malformed_json")),
    ],
    ids=[
        "two-boms",
        "empty",
        "lone-high-surrogate",
        "lone-low-surrogate",
        "surrogate-pair",
        "empty-id",
        "created-beyond-64-bits",
        "created-just-beyond-64-bits",
        "created-before-1970",
        "created-after-9999",
        "created-nan",
        "created-bool",
        "created-float",
        "created-text",
        "data-a-list",
        "amount-nan",
        "amount-huge",
        "nested-150",
        "nested-250",
    ],
)
def test_an_odd_body_is_refused_with_a_reason_or_handled(
    tmp_path: Path, body: str, answer: tuple[int, str]
) -> None:
    handler = Handler()
    endpoint = _endpoint(SqliteWebhookStore(tmp_path / "s.sqlite3"), handler)

    status, outcome, reason = _outcome(_deliver(endpoint, body.encode("utf-8")))

    said = outcome if reason is None else reason.split(":")[0]
    assert (status, said) == answer
    assert sum(handler.runs.values()) == (status == 200)


def test_a_duplicated_key_counts_as_its_last_value(tmp_path: Path) -> None:
    # As json.loads reads it, so the id the store keeps is the one any
    # other JSON reader of the signed body would see.
    body = _text(_payment("evt_last")).replace(
        '"id": "evt_last"', '"id": "evt_first", "id": "evt_last"'
    )
    handler = Handler()
    endpoint = _endpoint(SqliteWebhookStore(tmp_path / "s.sqlite3"), handler)

    assert _outcome(_deliver(endpoint, body.encode()))[1] == "processed"
    assert handler.runs == Counter({"evt_last": 1})


def test_a_body_that_is_not_utf8_is_refused_before_its_signature(
    tmp_path: Path,
) -> None:
    endpoint = _endpoint(SqliteWebhookStore(tmp_path / "s.sqlite3"), Handler())
    header = {"Stripe-Signature": f"t={int(time.time())},v1=00"}

    answer = endpoint.handle(b'{"id": "\xff"}', header)

    assert _outcome(answer) == (400, "rejected", "body_not_utf8")


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        # Headers reach Python as latin-1 text; hmac.compare_digest raises
        # TypeError on any non-ASCII string.
        ("v1=\u00e9", "malformed_signature"),
        ("v1=\u0660\u0661", "malformed_signature"),
        ("v0=00,v1=ab\u00ff", "malformed_signature"),
        ("v1=\x00", "bad_signature"),
        ("v1", "bad_signature"),
    ],
    ids=["latin-1", "arabic-digits", "non-ascii-after-a-scheme", "nul", "no-value"],
)
def test_an_odd_signature_is_refused_not_raised(
    tmp_path: Path, signature: str, reason: str
) -> None:
    handler = Handler()
    endpoint = _endpoint(SqliteWebhookStore(tmp_path / "s.sqlite3"), handler)
    body = json.dumps(_payment()).encode()
    header = {"Stripe-Signature": f"t={int(time.time())},{signature}"}

    answer = endpoint.handle(body, header)

    assert _outcome(answer) == (400, "rejected", reason)
    assert handler.runs == Counter()
