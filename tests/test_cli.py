"""The command line as users and build pipelines run it: exit codes and files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, contractgen, example_with, write_specs


def _project(tmp_path: Path) -> Path:
    write_specs(tmp_path, example_with())
    return tmp_path


def test_generate_then_check_is_clean(tmp_path: Path) -> None:
    _project(tmp_path)
    assert (
        contractgen(
            "generate", "--specs", "specs", "--output", "out", cwd=tmp_path
        ).returncode
        == 0
    )
    check = contractgen("check", "--specs", "specs", "--output", "out", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "up to date" in check.stdout


def test_check_reports_drift_after_a_spec_edit(tmp_path: Path) -> None:
    _project(tmp_path)
    contractgen("generate", "--specs", "specs", "--output", "out", cwd=tmp_path)
    spec = tmp_path / "specs" / "capabilities" / "stripe-create-customer.yaml"
    spec.write_text(
        spec.read_text().replace(
            "  name:\n", "  phone:\n    type: string\n    optional: true\n  name:\n"
        )
    )

    check = contractgen("check", "--specs", "specs", "--output", "out", cwd=tmp_path)

    assert check.returncode == 1
    assert "changed  stripe/create_customer.py" in check.stdout
    assert "run `contractgen generate`" in check.stdout


def test_check_exits_2_on_a_spec_error_and_writes_nothing(tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "specs" / "bad.yaml").write_text(
        "capabilityId: x\nprovider: {type: nope}\n"
    )
    for command in ("check", "generate", "validate"):
        run = contractgen(command, "--specs", "specs", "--output", "out", cwd=tmp_path)
        assert run.returncode == 2, command
        assert "error[S004]" in run.stderr
    assert not (tmp_path / "out").exists()


def test_stale_files_are_removed_and_unchanged_files_kept(tmp_path: Path) -> None:
    _project(tmp_path)
    contractgen("generate", "--specs", "specs", "--output", "out", cwd=tmp_path)
    kept = tmp_path / "out" / "stripe" / "create_payment_intent.py"
    before = kept.stat()
    (tmp_path / "specs" / "capabilities" / "stripe-create-subscription.yaml").unlink()

    run = contractgen("generate", "--specs", "specs", "--output", "out", cwd=tmp_path)

    assert run.returncode == 0
    assert "removed  stripe/create_subscription.py" in run.stdout
    assert not (tmp_path / "out" / "stripe" / "create_subscription.py").exists()
    after = kept.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_the_package_folder_is_made_like_the_folders_in_it(tmp_path: Path) -> None:
    _project(tmp_path)
    umask = os.umask(0o022)
    os.umask(umask)

    spec = tmp_path / "specs" / "capabilities" / "stripe-create-subscription.yaml"

    for change in (lambda: None, spec.unlink):  # made, then replaced
        change()
        run = contractgen(
            "generate", "--specs", "specs", "--output", "out", cwd=tmp_path
        )
        assert run.returncode == 0, run.stderr

        folders = [tmp_path / "out", *(tmp_path / "out").glob("*/")]
        assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o777 & ~umask}


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path: Path) -> None:
    _project(tmp_path)
    precious = tmp_path / "src" / "app.py"
    precious.parent.mkdir()
    precious.write_text("print('mine')\n")

    run = contractgen("generate", "--specs", "specs", "--output", "src", cwd=tmp_path)

    assert run.returncode == 2
    assert "refusing to replace it" in run.stderr
    assert precious.read_text() == "print('mine')\n"


def test_settings_come_from_pyproject_and_flags_override(tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.contractgen]\nspecs = "specs"\noutput = "pkg/api"\npackage = "api"\n'
    )
    assert contractgen("generate", cwd=tmp_path).returncode == 0
    assert (tmp_path / "pkg" / "api" / "stripe" / "create_customer.py").is_file()
    assert contractgen("generate", "--output", "other", cwd=tmp_path).returncode == 0
    assert (tmp_path / "other" / "__init__.py").is_file()

    (tmp_path / "pyproject.toml").write_text('[tool.contractgen]\nspecz = "x"\n')
    run = contractgen("generate", cwd=tmp_path)
    assert run.returncode == 2
    assert "unknown [tool.contractgen] keys: specz" in run.stderr


def test_schema_is_json_schema_and_matches_the_committed_copy() -> None:
    run = contractgen("schema", cwd=ROOT)
    assert run.returncode == 0
    schema = json.loads(run.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert run.stdout == (ROOT / "docs" / "spec.schema.json").read_text("utf-8")


def test_python_dash_m_generator_is_the_same_command(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "generator", "--version"], capture_output=True, text=True
    )
    assert run.returncode == 0 and run.stdout.strip()


def test_output_is_identical_across_hash_seeds_and_discovery_order(
    tmp_path: Path,
) -> None:
    outputs = []
    for seed, reverse in (("0", False), ("12345", True)):
        folder = tmp_path / f"run-{seed}"
        specs = example_with()
        if reverse:
            specs = dict(reversed(list(specs.items())))
        write_specs(folder, specs)
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "generator",
                "generate",
                "--no-cache",
                "--specs",
                "specs",
                "--output",
                "out",
            ],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        outputs.append(
            {
                p.relative_to(folder / "out").as_posix(): p.read_bytes()
                for p in sorted((folder / "out").rglob("*"))
                if p.is_file()
            }
        )
    assert outputs[0] == outputs[1]


def test_cached_and_uncached_runs_produce_identical_bytes(tmp_path: Path) -> None:
    _project(tmp_path)
    for flags, out in (
        (["--no-cache"], "a"),
        (["--cache", "cache"], "b"),
        (["--cache", "cache"], "c"),
    ):
        run = contractgen(
            "generate",
            *flags,
            "--specs",
            "specs",
            "--output",
            out,
            "--package",
            "api",
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
    trees = [
        {
            p.relative_to(tmp_path / o).as_posix(): p.read_bytes()
            for p in sorted((tmp_path / o).rglob("*"))
            if p.is_file()
        }
        for o in "abc"
    ]
    assert trees[0] == trees[1] == trees[2]
    assert any((tmp_path / "cache").rglob("*")), "the second run filled the cache"
