"""Golden files: what the generator must produce, committed and reviewed.

    tests/goldens/cases/<case>/      the tree generated from tests/cases/<case>.yaml
                                     (the copied runtime left out)
    tests/goldens/diagnostics/<name>.txt
                                     what `contractgen validate` says about
                                     tests/broken/<name>.yaml

The example specs' golden tree is `generated/` itself, kept in step by
`make check`. Rewrite all goldens with `make goldens` (python -m tests.goldens),
then read `git diff tests/goldens` before committing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from generator import pipeline
from generator.config import Config

HERE = Path(__file__).parent
TESTS = HERE.parent
CASES = TESTS / "cases"
BROKEN = TESTS / "broken"
GOLDEN_CASES = ("names", "descriptions", "defaults")


def case_tree(case: str) -> dict[str, str]:
    """The files generated from one case, without the copied runtime."""
    with tempfile.TemporaryDirectory() as folder:
        specs = Path(folder) / "specs"
        specs.mkdir()
        shutil.copy(CASES / f"{case}.yaml", specs)
        config = Config(Path(folder), specs, Path(folder) / "out", "out", None)
        result = pipeline.build(config, cwd=Path(folder))
    assert result.ok, result.diagnostics.render(Path(folder))
    return {k: v for k, v in result.files.items() if not k.startswith("_runtime/")}


def diagnostics_of(name: str) -> str:
    """What validating tests/broken/<name>.yaml reports, paths relative to tests/."""
    config = Config(TESTS, BROKEN / name, TESTS / "unused", "unused", None)
    result = pipeline.build(config, render=False, cwd=TESTS)
    return result.diagnostics.render(TESTS) + "\n"


def broken_cases() -> list[str]:
    return sorted(p.name for p in BROKEN.iterdir() if p.is_dir())
