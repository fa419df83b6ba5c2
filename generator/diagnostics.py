"""Diagnostics: what the compiler says about a spec, and where.

Every stage of the pipeline reports problems as `Diagnostic` values instead of
raising, so one run can list every problem it finds. A diagnostic points at a
`Span` in a spec file and renders like a compiler's message::

    specs/workflows/pay.yaml:14:17: error[W001]: unknown step 'charge'
       14 |     onSuccess: charge
          |                ^^^^^^
      = hint: did you mean 'create-charge'?

Codes are stable and documented in docs/diagnostics.md: `Y` for YAML,
`S` for spec shape, `C` for capabilities and bindings, `W` for workflows,
`I` for integrations.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Diagnostic",
    "Diagnostics",
    "Level",
    "Span",
    "did_you_mean",
]


class Level(enum.Enum):
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, order=True)
class Span:
    """A place in a spec file. Lines and columns count from 1."""

    path: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    level: Level
    code: str
    message: str
    span: Span | None
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.level is Level.ERROR

    def render(self, source: str | None = None) -> str:
        """The diagnostic as a compiler prints it, with the source line if known."""
        where = f"{self.span}: " if self.span else ""
        lines = [f"{where}{self.level.value}[{self.code}]: {self.message}"]
        if self.span is not None and source is not None:
            lines.extend(_excerpt(self.span, source))
        if self.hint:
            lines.append(f"   = hint: {self.hint}")
        return "\n".join(lines)


def _excerpt(span: Span, source: str) -> list[str]:
    source_lines = source.splitlines()
    if not 1 <= span.line <= len(source_lines):
        return []
    text = source_lines[span.line - 1].replace("\t", " ")
    number = str(span.line)
    gutter = " " * len(number)
    width = 1
    if span.end_line == span.line and span.end_column > span.column:
        width = span.end_column - span.column
    caret = " " * (span.column - 1) + "^" * width
    return [f"  {number} | {text}", f"  {gutter} | {caret}"]


@dataclass
class Diagnostics:
    """The diagnostics of one run, in the order they were found."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(
        self, code: str, message: str, span: Span | None, hint: str | None = None
    ) -> None:
        self.items.append(Diagnostic(Level.ERROR, code, message, span, hint))

    def warning(
        self, code: str, message: str, span: Span | None, hint: str | None = None
    ) -> None:
        self.items.append(Diagnostic(Level.WARNING, code, message, span, hint))

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        """Errors and warnings by file and position, so output is stable."""

        def key(d: Diagnostic) -> tuple[str, int, int, str]:
            if d.span is None:
                return ("", 0, 0, d.code)
            return (d.span.path, d.span.line, d.span.column, d.code)

        return sorted(self.items, key=key)

    def render(self, root: Path | None = None) -> str:
        sources: dict[str, str | None] = {}
        blocks = []
        for diagnostic in self.sorted():
            source = None
            if diagnostic.span is not None:
                path = diagnostic.span.path
                if path not in sources:
                    sources[path] = _read_source(path, root)
                source = sources[path]
            blocks.append(diagnostic.render(source))
        errors = sum(d.is_error for d in self.items)
        warnings = len(self.items) - errors
        if self.items:
            blocks.append(_summary(errors, warnings))
        return "\n".join(blocks)


def _read_source(path: str, root: Path | None) -> str | None:
    full = Path(path) if root is None else root / path
    try:
        return full.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _summary(errors: int, warnings: int) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}" + ("" if n == 1 else "s")

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def did_you_mean(name: str, candidates: Sequence[str]) -> str | None:
    """A hint naming the closest candidates to a misspelt name, if any is close."""
    close = difflib.get_close_matches(name, sorted(candidates), n=3, cutoff=0.6)
    if not close and len(name) >= 3:
        # `phoneNumber` for `phone`: one name inside the other.
        lowered = name.lower()
        close = [
            c
            for c in sorted(candidates)
            if len(c) >= 3 and (c.lower() in lowered or lowered in c.lower())
        ][:3]
    if not close:
        return None
    if len(close) == 1:
        return f"did you mean '{close[0]}'?"
    quoted = ", ".join(f"'{c}'" for c in close)
    return f"did you mean one of {quoted}?"
