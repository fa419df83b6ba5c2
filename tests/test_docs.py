"""The documentation keeps up with the code it documents."""

from __future__ import annotations

import re

from tests.support import ROOT


def _emitted_codes() -> set[str]:
    pattern = re.compile(r'\.(?:error|warning)\(\s*"([YSCWI]\d{3})"')
    return {
        code
        for path in (ROOT / "generator").rglob("*.py")
        for code in pattern.findall(path.read_text("utf-8"))
    }


def test_every_diagnostic_code_is_documented() -> None:
    documented = set(
        re.findall(
            r"^### ([YSCWI]\d{3}) ",
            (ROOT / "docs" / "diagnostics.md").read_text("utf-8"),
            re.M,
        )
    )
    assert _emitted_codes() - documented == set()


def test_readme_names_the_two_commands_first() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    first_block = readme.split("```")[1]
    assert "make generate" in first_block and "make test" in first_block
