"""The generator's output and diagnostics, compared with reviewed golden files.

A failure here means the output changed. If the change is intended, run
`make goldens` and read the diff before committing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.goldens import GOLDEN_CASES, HERE, broken_cases, case_tree, diagnostics_of


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_case_tree_matches_golden(case: str) -> None:
    assert case_tree(case) == _tree(HERE / "cases" / case)


@pytest.mark.parametrize("name", broken_cases())
def test_diagnostics_match_golden(name: str) -> None:
    expected = (HERE / "diagnostics" / f"{name}.txt").read_text(encoding="utf-8")
    assert diagnostics_of(name) == expected


def test_every_broken_spec_reports_an_error() -> None:
    for name in broken_cases():
        assert "error[" in diagnostics_of(name), name
