"""The compatibility rules: every kind of spec change `contractgen diff` knows.

Each rule has a stable id (the name reports, JSON and docs use) and two
classifications: one for the generated Python surface (what code that imports
the package sees: names, annotations, signatures) and one for the wire (what
callers send and receive, and what goes to the provider). Inputs and outputs
are mirror images: what a caller may send can grow, what a caller receives
can shrink.

The rules are listed once, here; docs/compatibility.md explains each with an
example, and a test keeps the two in step.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["RULES", "Level", "Rule", "rule"]


class Level(enum.Enum):
    """How a change affects callers, from worst to harmless."""

    BREAKING = "breaking"
    WARNING = "warning"
    COMPATIBLE = "compatible"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Level.BREAKING: 0, Level.WARNING: 1, Level.COMPATIBLE: 2}


@dataclass(frozen=True)
class Rule:
    id: str
    python: Level
    wire: Level
    summary: str

    @property
    def level(self) -> Level:
        """The worse of the two classifications."""
        return min(self.python, self.wire, key=lambda level: level.rank)


B, W, C = Level.BREAKING, Level.WARNING, Level.COMPATIBLE

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("capability-added", C, C, "a new capability"),
        Rule("capability-removed", B, B, "a capability is gone"),
        Rule("capability-renamed", B, C, "a capability has a new id (renamedFrom)"),
        Rule("workflow-added", C, C, "a new workflow"),
        Rule("workflow-removed", B, B, "a workflow is gone"),
        Rule("workflow-renamed", B, C, "a workflow has a new id (renamedFrom)"),
        Rule("integration-added", C, C, "a new integration document"),
        Rule("integration-removed", C, B, "an integration document is gone"),
        Rule("input-added-required", B, B, "a new input callers must give"),
        Rule("input-added-optional", C, C, "a new input callers may leave out"),
        Rule("input-removed", B, B, "an input is gone"),
        Rule("output-added", C, C, "a new output"),
        Rule("output-removed", B, B, "an output is gone"),
        Rule("input-became-required", B, B, "an input must now be given"),
        Rule("input-became-optional", C, C, "an input may now be left out"),
        Rule("output-became-optional", B, B, "an output may now be missing"),
        Rule("output-became-required", C, C, "an output is now always there"),
        Rule("input-became-nullable", C, C, "an input now accepts null"),
        Rule("input-became-non-nullable", B, B, "an input no longer accepts null"),
        Rule("output-became-nullable", B, B, "an output may now be null"),
        Rule("output-became-non-nullable", C, C, "an output is never null now"),
        Rule("input-type-widened", C, C, "an input accepts more values"),
        Rule("input-type-narrowed", B, B, "an input accepts fewer values"),
        Rule("input-type-changed", B, B, "an input has an unrelated type"),
        Rule("output-type-widened", B, B, "an output may hold more kinds of value"),
        Rule("output-type-narrowed", C, C, "an output holds fewer kinds of value"),
        Rule("output-type-changed", B, B, "an output has an unrelated type"),
        Rule("input-default-changed", C, B, "an input's default value changed"),
        Rule("output-default-changed", C, W, "an output's default value changed"),
        Rule("input-enum-value-added", C, C, "an input enum accepts a new value"),
        Rule("input-enum-value-removed", B, B, "an input enum refuses a value"),
        Rule(
            "output-enum-value-added",
            W,
            W,
            "an output enum has a new value; may break exhaustive matches",
        ),
        Rule("output-enum-value-removed", C, C, "an output enum has fewer values"),
        Rule("input-constraint-changed", W, W, "an input's constraints changed"),
        Rule("output-constraint-changed", W, W, "an output's constraints changed"),
        Rule("binding-operation-changed", C, B, "the provider or operation changed"),
        Rule("binding-method-changed", C, B, "the provider method called changed"),
        Rule("binding-input-changed", C, B, "an input feeds another parameter"),
        Rule("binding-output-changed", C, B, "an output is read from elsewhere"),
        Rule("step-added", C, C, "a new workflow step"),
        Rule("step-removed", B, B, "a workflow step is gone"),
        Rule("step-capability-changed", B, B, "a step calls another capability"),
        Rule("step-transition-changed", C, W, "a step's onSuccess/onFailure changed"),
        Rule("workflow-entry-changed", C, W, "a workflow starts at another step"),
        Rule("step-inputs-changed", C, W, "a step sends other values"),
        Rule("step-retry-changed", C, C, "a step's retry or timeout changed"),
        Rule("webhook-event-added", C, C, "a webhook accepts a new event type"),
        Rule("webhook-event-removed", C, B, "a webhook refuses an event type"),
        Rule("webhook-path-changed", C, B, "a webhook moved to another path"),
        Rule("policy-changed", C, W, "an integration's policies changed"),
    )
}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
