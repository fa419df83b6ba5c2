"""The Temporal target is opt-in: `temporal = true` adds `temporal/` and its
runtime module; without it the package never imports temporalio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator import pipeline
from generator.config import ConfigError, load_config
from tests.support import EXAMPLE_SPECS, ROOT, write_specs


def _files(tmp_path: Path, setting: str) -> dict[str, str]:
    write_specs(tmp_path, EXAMPLE_SPECS)
    shutil.copytree(ROOT / "email-templates", tmp_path / "email-templates")
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.contractgen]\npackage = "shop"\n{setting}\n', encoding="utf-8"
    )
    config = load_config(tmp_path, no_cache=True)
    built = pipeline.build(config, cwd=tmp_path)
    assert built.ok, built.diagnostics.render(tmp_path)
    return built.files


def test_without_the_setting_nothing_imports_temporalio(tmp_path: Path) -> None:
    files = _files(tmp_path, "")

    assert not [path for path in files if "temporal" in path]
    assert not [path for path, text in files.items() if "temporalio" in text]


def test_the_setting_adds_a_workflow_class_per_workflow_and_a_worker(
    tmp_path: Path,
) -> None:
    files = _files(tmp_path, "temporal = true")

    workflows = [
        f"temporal/{path.stem.replace('-', '_')}.py"
        for path in (EXAMPLE_SPECS / "workflows").glob("*.yaml")
    ]
    assert sorted(path for path in files if "temporal" in path) == sorted(
        [
            "_runtime/temporal_support.py",
            "temporal/__init__.py",
            "temporal/activities.py",
            "temporal/worker.py",
            *workflows,
        ]
    )
    workflow = files["temporal/charge_saved_card.py"]
    assert '@workflow.defn(name="charge-saved-card"' in workflow
    assert "retry=RetryPolicy(" in workflow and "timeout=30.0" in workflow
    activities = files["temporal/activities.py"]
    assert '@activity.defn(name="stripe-create-payment-intent")' in activities
    assert "python -m shop.temporal.worker" in files["temporal/worker.py"]


def test_a_setting_that_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.contractgen]\ntemporal = "yes"\n', encoding="utf-8"
    )

    with pytest.raises(ConfigError, match="temporal must be true or false"):
        load_config(tmp_path)
