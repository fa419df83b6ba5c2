"""Helpers for tests that generate a package and import it.

Each generated tree gets its own package name, so trees from different tests
never meet in `sys.modules`.
"""

from __future__ import annotations

import importlib
import itertools
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from generated import Capabilities
from generated._runtime.context import CallContext
from generated.email import SendEmailInput, SendEmailOutput
from generated.stripe import (
    CreateCustomerInput,
    CreateCustomerOutput,
    CreatePaymentIntentInput,
    CreatePaymentIntentOutput,
)
from generator import pipeline
from generator.config import Config
from generator.writer import write_tree

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SPECS = ROOT / "specs"
CASES = ROOT.parent / "shared" / "cases"

# The webhook store's tables as the first runtime wrote them, before claims
# became record locks: stores of this schema are upgraded on first use.
WEBHOOK_STORE_SCHEMA_1 = """
    CREATE TABLE events (
        event_id TEXT NOT NULL PRIMARY KEY, event_type TEXT NOT NULL,
        object_id TEXT, created INTEGER NOT NULL, status TEXT NOT NULL,
        token TEXT NOT NULL, claimed_at REAL NOT NULL, finished_at REAL
    ) WITHOUT ROWID;
    CREATE TABLE objects (
        object_id TEXT NOT NULL PRIMARY KEY, last_created INTEGER NOT NULL,
        last_event_id TEXT NOT NULL
    ) WITHOUT ROWID;
    PRAGMA user_version = 1;
"""

_counter = itertools.count()


@dataclass
class Generated:
    root: Path  # the folder holding the specs and the package
    package: str
    build: pipeline.Build

    @property
    def output(self) -> Path:
        return self.root / self.package

    @property
    def ok(self) -> bool:
        return self.build.ok

    def diagnostics(self) -> str:
        return self.build.diagnostics.render(self.root)

    def module(self, name: str = "") -> ModuleType:
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        importlib.invalidate_caches()
        return importlib.import_module(f"{self.package}.{name}".rstrip("."))


def write_specs(folder: Path, specs: dict[str, str] | Path) -> Path:
    target = folder / "specs"
    if isinstance(specs, Path):
        shutil.copytree(specs, target)
    else:
        for name, text in specs.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return target


def generate_tree(
    folder: Path,
    specs: dict[str, str] | Path,
    *,
    write: bool = True,
    temporal: bool = False,
) -> Generated:
    """Generate `specs` into `folder/<unique package>` and return the result."""
    package = f"gen_{next(_counter)}_{folder.name.replace('-', '_')}"
    specs_dir = write_specs(folder, specs)
    config = Config(folder, specs_dir, folder / package, package, None, temporal)
    result = pipeline.build(config, cwd=folder)
    if write and result.ok:
        write_tree(result.files, config.output)
    return Generated(folder, package, result)


def example_with(*extra: Path) -> dict[str, str]:
    """The example capability specs plus extra spec files, as texts.

    The Qdrant integration comes along: it declares the collections the
    Qdrant capabilities use.
    """
    paths = [
        *sorted((EXAMPLE_SPECS / "capabilities").glob("*.yaml")),
        EXAMPLE_SPECS / "integrations" / "qdrant.yaml",
    ]
    specs = {
        p.relative_to(EXAMPLE_SPECS).as_posix(): p.read_text(encoding="utf-8")
        for p in paths
    }
    for path in extra:
        specs[path.name] = path.read_text(encoding="utf-8")
    return specs


def contractgen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


class CountingCapabilities(Capabilities):
    """The example's capabilities, counting the calls a workflow makes.

    `before_send_email` runs before each e-mail is sent; tests override it to
    hold an e-mail up or to make it crash the way a dying process would.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls: Counter[str] = Counter()

    def create_customer(
        self,
        inputs: CreateCustomerInput,
        *,
        idempotency_key: str | None = None,
        context: CallContext | None = None,
    ) -> CreateCustomerOutput:
        self.calls["create_customer"] += 1
        return super().create_customer(
            inputs, idempotency_key=idempotency_key, context=context
        )

    def create_payment_intent(
        self,
        inputs: CreatePaymentIntentInput,
        *,
        idempotency_key: str | None = None,
        context: CallContext | None = None,
    ) -> CreatePaymentIntentOutput:
        self.calls["create_payment_intent"] += 1
        return super().create_payment_intent(
            inputs, idempotency_key=idempotency_key, context=context
        )

    def send_email(
        self, inputs: SendEmailInput, *, context: CallContext | None = None
    ) -> SendEmailOutput:
        self.calls["send_email"] += 1
        self.before_send_email()
        return super().send_email(inputs, context=context)

    def before_send_email(self) -> None:
        """Nothing; a test's subclass may wait or raise here."""
