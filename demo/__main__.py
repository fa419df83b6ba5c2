"""Create a customer and a payment intent through the generated capabilities.

With no `STRIPE_SECRET_KEY` in the environment, the demo starts localstripe,
a local fake of Stripe's API, on a free port of 127.0.0.1 and points the
capabilities at it through `STRIPE_API_BASE`. With a Stripe test key
(`sk_test_...`) set, it talks to Stripe's test mode instead. Either way the
capabilities are configured by `Capabilities.from_env()`, as in an application.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from generated import Capabilities
from generated.stripe import CreateCustomerInput, CreatePaymentIntentInput

_HOST = "127.0.0.1"


def main() -> int:
    key = os.environ.get("STRIPE_SECRET_KEY")
    if key is None:
        with localstripe() as url:
            os.environ["STRIPE_SECRET_KEY"] = "sk_test_demo"
            os.environ["STRIPE_API_BASE"] = url
            print(f"No STRIPE_SECRET_KEY set: using localstripe at {url}")
            create_customer_and_payment()
        return 0
    if not key.startswith(("sk_test_", "rk_test_")):
        print("The demo runs in test mode only: set a sk_test_ key.", file=sys.stderr)
        return 1
    print("Using Stripe test mode")
    create_customer_and_payment()
    return 0


def create_customer_and_payment() -> None:
    caps = Capabilities.from_env()
    customer = caps.create_customer(
        CreateCustomerInput(email="ada@example.com", name="Ada Lovelace")
    )
    intent = caps.create_payment_intent(
        CreatePaymentIntentInput(
            amount=1999, currency="usd", customer_id=customer.customer_id
        )
    )
    print(f"customer:       {customer.customer_id}")
    print(f"payment intent: {intent.payment_intent_id} ({intent.status})")


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
