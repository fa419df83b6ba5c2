"""Runtime overhead: generated wrappers and the workflow engine, in-process.

    python -m bench.runtime PACKAGE_PARENT PACKAGE   (prints one JSON object)

PACKAGE is a package generated from the repository's example specs. Two
measurements, each a median over rounds that alternate the two sides:

- A generated Stripe wrapper call (input model, policies, call log,
  idempotency key, output model) against a bare `StripeClient` call, both
  against the same in-process HTTP stub with keep-alive.
- The workflow engine's cost per step: the `process-payment` workflow run
  with capability functions that return a fixed output at once, against the
  same functions called by hand in the same order. The journal is off
  (NullJournal) for the engine figure; the SQLite journal's cost per step is
  measured separately as the difference it makes.
- The webhook endpoint's framework-neutral core, ``handle(body, headers)``
  (verify, parse, claim and complete in the SQLite webhook store, dispatch
  to a typed handler that does nothing), against a bare
  ``stripe.WebhookSignature.verify_header`` plus one SQLite insert of the
  event id, per event. Both sides get the same distinct, freshly signed
  events (signed before each round, outside the timed loop), each side into
  its own file-backed SQLite database in the same folder: WAL and
  ``synchronous=NORMAL``, as the webhook store sets them. The baseline keeps
  one autocommit connection open and is handed the event id, so it parses
  nothing; the endpoint runs as generated, with its delivery record dropped
  by level (no logging configured, as a library leaves it). Two more sides
  say where the time goes: the same endpoint over ``MemoryWebhookStore``,
  and ``verify_header`` alone. A round is
  2,000 events, so that each side's rounds take in alike the checkpoints
  SQLite runs every thousand or so pages of WAL.
"""

from __future__ import annotations

import importlib
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["main"]

_CUSTOMER = json.dumps(
    {
        "id": "cus_bench",
        "object": "customer",
        "email": "ada@example.com",
        "name": "Ada",
        "created": 1700000000,
        "livemode": False,
        "metadata": {},
    }
).encode()


class _Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Stripe's API serves it
    disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to each call

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_CUSTOMER)))
        self.send_header("Request-Id", "req_bench")
        self.end_headers()
        self.wfile.write(_CUSTOMER)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _median_per_call(
    sides: dict[str, Callable[[], object]], calls: int, rounds: int
) -> dict[str, float]:
    """Seconds per call of each side, median over rounds that alternate sides."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, call in sides.items():
            start = time.perf_counter()
            for _ in range(calls):
                call()
            samples[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def _stripe(package: str) -> dict[str, float]:
    from stripe import StripeClient

    module = importlib.import_module(f"{package}.stripe.create_customer")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = StripeClient(
        "sk_test_bench", base_addresses={"api": url}, max_network_retries=0
    )

    def bare() -> object:
        return client.v1.customers.create(
            {"email": "ada@example.com", "name": "Ada"},
            {"idempotency_key": "bench-bare"},
        )

    def wrapped() -> object:
        inputs = module.CreateCustomerInput(email="ada@example.com", name="Ada")
        return module.create_customer(inputs, client=client)

    for call in (bare, wrapped):  # warm connections and caches
        for _ in range(50):
            call()
    result = _median_per_call({"bare": bare, "wrapped": wrapped}, 300, 7)
    server.shutdown()
    return result


def _workflow(package: str) -> dict[str, float]:
    flow = importlib.import_module(f"{package}.workflows.process_payment")
    journals = importlib.import_module(f"{package}._runtime.journal")
    customer = importlib.import_module(f"{package}.stripe.create_customer")
    intent = importlib.import_module(f"{package}.stripe.create_payment_intent")
    email = importlib.import_module(f"{package}.email.send_email")

    customer_out = customer.CreateCustomerOutput(customerId="cus_1", email="a@b.c")
    intent_out = intent.CreatePaymentIntentOutput(
        paymentIntentId="pi_1", clientSecret="pi_1_secret", status="ok"
    )
    email_out = email.SendEmailOutput(messageId="<m@b>")

    class Caps:
        """Capability functions that answer at once, so only the engine is timed."""

        def create_customer(self, inputs: Any, *, context: Any = None) -> Any:
            return customer_out

        def create_payment_intent(self, inputs: Any, *, context: Any = None) -> Any:
            return intent_out

        def send_email(self, inputs: Any, *, context: Any = None) -> Any:
            return email_out

    caps: Any = Caps()
    inputs = flow.ProcessPaymentInput(customerEmail="ada@example.com", amount=1999)
    null = journals.NullJournal()
    folder = tempfile.mkdtemp(prefix="contractgen-bench-journal-")
    sqlite = journals.SqliteJournal(Path(folder) / "journal.sqlite3")
    steps = 3  # create-customer, create-payment-intent, send-payment-link

    def by_hand() -> object:
        made = caps.create_customer(
            customer.CreateCustomerInput(
                email=inputs.customer_email, name=inputs.customer_name
            )
        )
        paid = caps.create_payment_intent(
            intent.CreatePaymentIntentInput(
                amount=inputs.amount, currency="usd", customer_id=made.customer_id
            )
        )
        return caps.send_email(
            email.SendEmailInput(
                to=inputs.customer_email,
                template="payment-link",
                data={"clientSecret": paid.client_secret, "amount": inputs.amount},
            )
        )

    def engine() -> object:
        result = flow.process_payment(inputs, caps, journal=null)
        assert result.status == "succeeded", result
        return result

    def journaled() -> object:
        return flow.process_payment(inputs, caps, journal=sqlite)

    for call in (by_hand, engine, journaled):
        for _ in range(20):
            call()
    fast = _median_per_call({"by_hand": by_hand, "engine": engine}, 2000, 7)
    slow = _median_per_call({"engine": engine, "journaled": journaled}, 100, 7)
    sqlite.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "by_hand_per_step": fast["by_hand"] / steps,
        "engine_per_step": fast["engine"] / steps,
        "overhead_per_step": (fast["engine"] - fast["by_hand"]) / steps,
        "sqlite_journal_per_step": (slow["journaled"] - slow["engine"]) / steps,
    }


_WEBHOOK_SECRET = "whsec_contractgen_bench"


def _signed_events(count: int, serial: itertools.count[int]) -> list[Any]:
    """Distinct `payment_intent.succeeded` deliveries, signed now.

    Each item is (body, headers, event id)."""
    import stripe

    now = int(time.time())
    events = []
    for _ in range(count):
        number = next(serial)
        event_id = f"evt_bench_{number:08d}"
        body = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "api_version": "2025-03-31.basil",
                "created": now,
                "livemode": False,
                "type": "payment_intent.succeeded",
                "data": {
                    "object": {
                        "id": f"pi_bench_{number:08d}",
                        "object": "payment_intent",
                        "amount": 2000,
                        "amount_received": 2000,
                        "currency": "usd",
                        "status": "succeeded",
                        "customer": "cus_bench",
                        "payment_method": "pm_bench",
                        "metadata": {"order": str(number)},
                    }
                },
            }
        ).encode("utf-8")
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode("utf-8"), _WEBHOOK_SECRET, now
        )
        events.append((body, {"Stripe-Signature": header}, event_id))
    return events


def _webhooks(package: str) -> dict[str, float]:
    import sqlite3

    import stripe

    app = importlib.import_module(f"{package}.webhooks.app")
    webhooks = importlib.import_module(f"{package}.webhooks")
    runtime = importlib.import_module(f"{package}._runtime.webhooks")
    stores = importlib.import_module(f"{package}._runtime.webhook_store")

    folder = Path(tempfile.mkdtemp(prefix="contractgen-bench-webhooks-"))
    handled = 0

    def succeeded(event: Any) -> None:  # typed: PaymentIntentSucceeded
        nonlocal handled
        handled += 1

    router = webhooks.WebhookRouter()
    router.on_payment_intent_succeeded(succeeded)

    settings = runtime.WebhookSettings(
        STRIPE_WEBHOOK_SECRET=_WEBHOOK_SECRET,
        CONTRACTGEN_WEBHOOK_STORE=str(folder / "endpoint.sqlite3"),
    )
    endpoint = app.create_endpoint(
        router, settings=settings, store=stores.SqliteWebhookStore(settings.store)
    )
    # The same endpoint over the in-memory store, and the signature check on
    # its own: the differences say where an event's time goes.
    in_memory = app.create_endpoint(
        router, settings=settings, store=stores.MemoryWebhookStore()
    )

    # The baseline's database: a file beside the store's, same pragmas.
    connection = sqlite3.connect(
        folder / "baseline.sqlite3", timeout=30.0, isolation_level=None
    )
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE events (event_id TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID"
    )
    verify = stripe.WebhookSignature.verify_header
    tolerance = app.TOLERANCE_S
    serial = itertools.count()

    def run_endpoint(events: list[Any]) -> None:
        handle = endpoint.handle
        for body, headers, _ in events:
            handle(body, headers)

    def run_in_memory(events: list[Any]) -> None:
        handle = in_memory.handle
        for body, headers, _ in events:
            handle(body, headers)

    def run_verify(events: list[Any]) -> None:
        for body, headers, _ in events:
            verify(body, headers["Stripe-Signature"], _WEBHOOK_SECRET, tolerance)

    def run_baseline(events: list[Any]) -> None:
        execute = connection.execute
        for body, headers, event_id in events:
            verify(body, headers["Stripe-Signature"], _WEBHOOK_SECRET, tolerance)
            execute("INSERT INTO events (event_id) VALUES (?)", (event_id,))

    def check_endpoint(events: list[Any]) -> None:
        for body, headers, _ in events[:3]:  # already handled: duplicates now
            status, answer = endpoint.handle(body, headers)
            assert (status, json.loads(answer)) == (200, {"outcome": "duplicate"})

    sides = {
        "endpoint": run_endpoint,
        "baseline": run_baseline,
        "endpoint_in_memory": run_in_memory,
        "verify_only": run_verify,
    }
    calls, rounds = 2000, 7
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(rounds + 1):  # the first round warms up, untimed
        events = _signed_events(calls, serial)
        for name, run in sides.items():
            start = time.perf_counter()
            run(events)
            elapsed = time.perf_counter() - start
            if round_:
                samples[name].append(elapsed / calls)
        check_endpoint(events)
    connection.close()

    total = calls * (rounds + 1)
    assert handled == 2 * total, (handled, total)  # once by each endpoint
    assert len(endpoint.store.done_event_ids()) == total
    check = sqlite3.connect(folder / "baseline.sqlite3")
    assert check.execute("SELECT count(*) FROM events").fetchone() == (total,)
    check.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parent, package = sys.argv[1], sys.argv[2]
    sys.path.insert(0, parent)
    print(
        json.dumps(
            {
                "stripe": _stripe(package),
                "workflow": _workflow(package),
                "webhooks": _webhooks(package),
            }
        )
    )


if __name__ == "__main__":
    main()
