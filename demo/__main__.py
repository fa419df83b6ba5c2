"""Run the generated workflows against Stripe's API, one line per run.

`process-payment` runs once; `charge-saved-card` runs once for each of the
three test cards: one that succeeds, one with insufficient funds, one that is
declined.

With no `STRIPE_SECRET_KEY` in the environment, the demo starts localstripe,
a local fake of Stripe's API, on a free port of 127.0.0.1 and points the
capabilities at it through `STRIPE_API_BASE`. With a Stripe test key
(`sk_test_...`) set, it talks to Stripe's test mode instead. Either way the
capabilities are configured by `Capabilities.from_env()`, as in an
application, so e-mails go to `SMTP_HOST` when it is set and otherwise into
the outbox folder, `EMAIL_OUTBOX_DIR` (default `.outbox`).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from generated import Capabilities
from generated._runtime.email_calls import EmailSettings
from generated._runtime.journal import MemoryJournal
from generated._runtime.workflow_engine import WorkflowResult
from generated.stripe import CreatePaymentMethodInput
from generated.workflows import (
    ChargeSavedCardInput,
    ProcessPaymentInput,
    charge_saved_card,
    process_payment,
)

_HOST = "127.0.0.1"

# The seed's test cards, and the test payment methods Stripe's test mode
# offers for them: it refuses raw card numbers from most accounts.
TEST_CARDS = {
    "4242424242424242": "pm_card_visa",
    "4000000000009995": "pm_card_visa_chargeDeclinedInsufficientFunds",
    "4000000000000002": "pm_card_chargeDeclined",
}


def main() -> int:
    # A declined card logs warnings on stderr; the run's line says as much.
    logging.getLogger("contractgen").setLevel(logging.ERROR)
    key = os.environ.get("STRIPE_SECRET_KEY")
    if key is None:
        with localstripe() as url:
            os.environ["STRIPE_SECRET_KEY"] = "sk_test_demo"
            os.environ["STRIPE_API_BASE"] = url
            print(f"No STRIPE_SECRET_KEY set: using localstripe at {url}")
            run_workflows(raw_cards=True)
        return 0
    if not key.startswith(("sk_test_", "rk_test_")):
        print("The demo runs in test mode only: set a sk_test_ key.", file=sys.stderr)
        return 1
    print("Using Stripe test mode")
    run_workflows(raw_cards=False)
    return 0


def run_workflows(*, raw_cards: bool) -> None:
    caps = Capabilities.from_env()
    email = EmailSettings()
    where = email.host or f"the outbox, {email.outbox_dir.resolve()}"
    print(f"E-mails go to {where}\n")
    print(f"{'workflow':<18} {'card':<17} {'status':<10} {'error':<14} steps")

    # Every run is new, so there is nothing to resume: an in-memory journal
    # keeps the demo from leaving a journal file behind.
    result = process_payment(
        ProcessPaymentInput(customer_email="ada@example.com", amount=1999),
        caps,
        journal=MemoryJournal(),
    )
    report(result, card="-")
    for number, test_payment_method in TEST_CARDS.items():
        card = new_card(caps, number) if raw_cards else test_payment_method
        result = charge_saved_card(
            ChargeSavedCardInput(
                customer_email="grace@example.com",
                payment_method_id=card,
                amount=2500,
            ),
            caps,
            journal=MemoryJournal(),
        )
        report(result, card=number)


def new_card(caps: Capabilities, number: str) -> str:
    """A payment method for a test card number, as localstripe accepts them."""
    made = caps.create_payment_method(
        CreatePaymentMethodInput(
            card_number=number, exp_month=12, exp_year=date.today().year + 3, cvc="123"
        )
    )
    return made.payment_method_id


def report(result: WorkflowResult, *, card: str) -> None:
    steps = " > ".join(
        entry.step if entry.outcome != "failed" else f"{entry.step} (failed)"
        for entry in result.trace
    )
    code = (result.error.code if result.error else None) or "-"
    print(f"{result.workflow_id:<18} {card:<17} {result.status:<10} {code:<14} {steps}")


@contextmanager
def localstripe() -> Iterator[str]:
    """Run the localstripe installed next to this Python; yield its address."""
    script = Path(sys.executable).with_name("localstripe")
    port = _free_port()
    server = subprocess.Popen(
        [str(script), "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_listening(server, port)
        yield f"http://{_HOST}:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"localstripe exited with {server.returncode}")
        try:
            socket.create_connection((_HOST, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"localstripe did not listen on {_HOST}:{port} in time")


if __name__ == "__main__":
    sys.exit(main())
