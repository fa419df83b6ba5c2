"""Print a comparison: as text for a terminal, Markdown for a pull request,
or JSON for tools.

All three list the same changes in the same order (by kind, spec id, subject,
line, rule) and end with the same counts. The JSON shape is documented in
docs/compatibility.md and only grows: keys are never renamed or removed
within one `format` number.
"""

from __future__ import annotations

import json
from typing import Any

from .compare import Change, Comparison
from .rules import Level

__all__ = ["JSON_FORMAT", "Labels", "json_report", "markdown", "text"]

JSON_FORMAT = 1


class Labels:
    """How to name the two trees, and where old-tree locations live."""

    def __init__(self, old: str, new: str, old_prefix: str = "") -> None:
        self.old = old
        self.new = new
        # Prepended to old-tree file names, e.g. `1a2b3c4:` for git's
        # `rev:path` notation, so a removal points at a file that exists.
        self.old_prefix = old_prefix

    def where(self, change: Change) -> str:
        if change.span is None:
            return ""
        return f"{self.old_prefix if change.in_old else ''}{change.span}"


def _counts(comparison: Comparison) -> dict[str, int]:
    counts = {level.value: 0 for level in Level}
    for change in comparison.changes:
        counts[change.rule.level.value] += 1
    counts["blocking"] = sum(comparison.blocking(c) for c in comparison.changes)
    return counts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _summary(comparison: Comparison) -> str:
    counts = _counts(comparison)
    return (
        f"{counts['breaking']} breaking ({counts['blocking']} without a version "
        f"bump), {_plural(counts['warning'], 'warning')}, "
        f"{counts['compatible']} compatible"
    )


def _unbumped(comparison: Comparison) -> list[tuple[str, str, str | None]]:
    """Specs with blocking changes: (kind, id, current version)."""
    seen: dict[tuple[str, str], str | None] = {}
    for change in comparison.changes:
        if comparison.blocking(change):
            _, version = comparison.versions.get(
                (change.kind, change.spec_id), (None, None)
            )
            seen[(change.kind, change.spec_id)] = version
    return [(kind, spec_id, version) for (kind, spec_id), version in seen.items()]


def _advice(kind: str, spec_id: str, version: str | None, removed: bool) -> str:
    if kind == "integration":
        return (
            f"integration '{spec_id}' has breaking changes "
            "(integrations have no version)"
        )
    if removed:
        return f"{kind} '{spec_id}' was removed"
    if version is None:
        return f"{kind} '{spec_id}' has breaking changes and no version"
    return f"{kind} '{spec_id}' has breaking changes but is still version '{version}'"


def _removed(comparison: Comparison, kind: str, spec_id: str) -> bool:
    return any(
        c.kind == kind
        and c.spec_id == spec_id
        and c.rule.id.endswith("-removed")
        and not c.subject
        for c in comparison.changes
    )


def text(comparison: Comparison, labels: Labels) -> str:
    lines = [f"contract changes from {labels.old} to {labels.new}:"]
    if not comparison.changes:
        return f"no contract changes from {labels.old} to {labels.new}\n"
    for change in comparison.changes:
        rule = change.rule
        lines.append(
            f"{labels.where(change)}: {rule.level.value}[{rule.id}]: "
            f"{change.kind} '{change.spec_id}': {change.message}"
        )
        lines.append(f"   = python: {rule.python.value}, wire: {rule.wire.value}")
    for kind, spec_id, version in _unbumped(comparison):
        removed = _removed(comparison, kind, spec_id)
        lines.append(f"needs attention: {_advice(kind, spec_id, version, removed)}")
    lines.append(_summary(comparison))
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(comparison: Comparison, labels: Labels) -> str:
    title = f"### Contract changes: {labels.old} → {labels.new}"
    if not comparison.changes:
        return f"{title}\n\nNo contract changes.\n"
    lines = [title, "", f"**{_summary(comparison)}**", ""]
    unbumped = _unbumped(comparison)
    if unbumped:
        lines.append("Breaking without a version bump:")
        lines.append("")
        for kind, spec_id, version in unbumped:
            removed = _removed(comparison, kind, spec_id)
            lines.append(f"- {_advice(kind, spec_id, version, removed)}")
        lines.append("")
    lines += [
        "| level | spec | change | rule | python | wire | where |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for change in comparison.changes:
        rule = change.rule
        level = rule.level.value
        if rule.level is Level.BREAKING:
            level = f"**{level}**"
        lines.append(
            "| "
            + " | ".join(
                [
                    level,
                    f"{change.kind} `{change.spec_id}`",
                    _cell(change.message),
                    f"`{rule.id}`",
                    rule.python.value,
                    rule.wire.value,
                    f"`{_cell(labels.where(change))}`",
                ]
            )
            + " |"
        )
    lines += [
        "",
        "Rules and what counts as a version bump: docs/compatibility.md",
    ]
    return "\n".join(lines) + "\n"


def json_report(comparison: Comparison, labels: Labels, exit_code: int) -> str:
    changes: list[dict[str, Any]] = []
    for change in comparison.changes:
        span = change.span
        changes.append(
            {
                "kind": change.kind,
                "id": change.spec_id,
                "rule": change.rule.id,
                "level": change.rule.level.value,
                "python": change.rule.python.value,
                "wire": change.rule.wire.value,
                "blocking": comparison.blocking(change),
                "subject": change.subject,
                "message": change.message,
                "location": (
                    None
                    if span is None
                    else {
                        "tree": "old" if change.in_old else "new",
                        "file": span.path,
                        "line": span.line,
                        "column": span.column,
                    }
                ),
            }
        )
    versions = [
        {
            "kind": kind,
            "id": spec_id,
            "old": old,
            "new": new,
            "bumped": comparison.bumped(kind, spec_id),
        }
        for (kind, spec_id), (old, new) in sorted(comparison.versions.items())
        if any(c.kind == kind and c.spec_id == spec_id for c in comparison.changes)
    ]
    document = {
        "format": JSON_FORMAT,
        "old": labels.old,
        "new": labels.new,
        "exitCode": exit_code,
        "summary": _counts(comparison),
        "versions": versions,
        "changes": changes,
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
