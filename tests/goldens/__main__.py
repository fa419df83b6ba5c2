"""`make goldens`: rewrite every golden file from the current generator."""

from __future__ import annotations

import shutil

from tests.goldens import (
    GOLDEN_CASES,
    HERE,
    broken_cases,
    case_tree,
    diagnostics_of,
)


def main() -> None:
    for case in GOLDEN_CASES:
        target = HERE / "cases" / case
        shutil.rmtree(target, ignore_errors=True)
        for rel, text in case_tree(case).items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
    diagnostics = HERE / "diagnostics"
    shutil.rmtree(diagnostics, ignore_errors=True)
    diagnostics.mkdir()
    for name in broken_cases():
        text = diagnostics_of(name)
        (diagnostics / f"{name}.txt").write_text(text, encoding="utf-8", newline="\n")
    print("goldens rewritten; review them with `git diff tests/goldens`")


main()
