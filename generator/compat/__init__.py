"""Contract change review: what a spec change means for callers.

`contractgen diff` compares the specs of two revisions (or two folders) and
classifies every change as breaking, warning or compatible, separately for
the generated Python surface and for the wire. The pieces, in the order they
run:

    trees.py     load and check each tree (from a folder, or from git)
    compare.py   compare the checked specs by meaning → [Change]
    rules.py     the rules each Change names, with their classification
    report.py    text, Markdown and JSON
    command.py   the command: exit 0, 1 (breaking, no version bump) or 2
"""

from __future__ import annotations

from .command import run
from .compare import Change, Comparison, compare
from .rules import RULES, Level, Rule

__all__ = ["RULES", "Change", "Comparison", "Level", "Rule", "compare", "run"]
