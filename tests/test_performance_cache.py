"""Formatting faster must not change a byte: parallel, serial and cached agree."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from generator import cli, formatting, manifest, pipeline
from generator.config import load_config
from tests.support import EXAMPLE_SPECS, ROOT, write_specs


def _rendered_sources(tmp_path: Path) -> dict[str, str]:
    write_specs(tmp_path, EXAMPLE_SPECS)
    shutil.copytree(ROOT / "email-templates", tmp_path / "email-templates")
    config = load_config(tmp_path, specs="specs", output="out", no_cache=True)
    build = pipeline.build(config, cwd=tmp_path)
    assert build.ok, build.diagnostics.render(tmp_path)
    # Unformat a little, so black has work to do in both modes.
    return {
        rel: text.replace("    ", "  ")
        for rel, text in build.files.items()
        if rel.endswith(".py") and not rel.startswith("_runtime/")
    }


def test_parallel_and_serial_formatting_produce_identical_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = _rendered_sources(tmp_path)

    monkeypatch.setattr(formatting, "_PARALLEL_MIN_BYTES", 10**12)
    serial = formatting.Formatter(None).format_all(sources)
    monkeypatch.setattr(formatting, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(formatting, "_workers", lambda: 2)
    parallel = formatting.Formatter(None).format_all(sources)

    assert list(parallel) == list(sources)
    assert parallel == serial


def test_cache_hits_return_what_black_returned(tmp_path: Path) -> None:
    sources = _rendered_sources(tmp_path)
    cache = tmp_path / "cache"

    cold = formatting.Formatter(cache)
    first = cold.format_all(sources)
    warm = formatting.Formatter(cache)
    second = warm.format_all(sources)

    assert second == first
    assert (cold.misses, warm.hits, warm.misses) == (len(sources), len(sources), 0)


# The whole-build cache (generator/manifest.py): a no-op `generate` or `check`
# skips every stage, and must print and leave exactly what a full run does.


def _cli_project(tmp_path: Path) -> Path:
    write_specs(tmp_path, EXAMPLE_SPECS)
    shutil.copytree(ROOT / "email-templates", tmp_path / "email-templates")
    return tmp_path


class _Run:
    def __init__(self, status: int, out: str, err: str, built: bool) -> None:
        self.status, self.out, self.err, self.built = status, out, err, built


def _run(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> _Run:
    """`contractgen <args>` in-process; `built` says whether the pipeline ran."""
    calls = []
    real_build = pipeline.build

    def spy(*a: Any, **k: Any) -> pipeline.Build:
        calls.append(1)
        return real_build(*a, **k)

    monkeypatch.chdir(project)
    monkeypatch.setattr(pipeline, "build", spy)
    capsys.readouterr()
    status = cli.main([*args, "--specs", "specs", "--output", "out"])
    captured = capsys.readouterr()
    monkeypatch.setattr(pipeline, "build", real_build)
    return _Run(status, captured.out, captured.err, bool(calls))


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _fresh_tree(project: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The tree a run without any cache generates from the project's specs."""
    config = load_config(project, specs="specs", output="out", no_cache=True)
    result = pipeline.build(config, cwd=project)
    assert result.ok
    return {rel: text.encode("utf-8") for rel, text in result.files.items()}


def test_noop_generate_is_a_hit_with_identical_bytes_and_diagnostics(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _cli_project(tmp_path)
    assert _run(project, monkeypatch, capsys, "generate").built
    tree = _tree(project / "out")
    for command in ("generate", "check", "validate"):
        uncached = _run(project, monkeypatch, capsys, command, "--no-cache")
        assert uncached.built and uncached.status == 0
        assert "warning[C020]" in uncached.err  # the example specs warn

        cached = _run(project, monkeypatch, capsys, command)

        assert not cached.built, command
        assert (cached.status, cached.out, cached.err) == (
            uncached.status,
            uncached.out,
            uncached.err,
        )
    assert _tree(project / "out") == tree == _fresh_tree(project, monkeypatch)


def test_warnings_are_printed_again_on_a_hit(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _cli_project(tmp_path)
    _run(project, monkeypatch, capsys, "generate", "-q")
    hit = _run(project, monkeypatch, capsys, "generate", "-q")
    assert not hit.built
    assert hit.out == ""
    assert "warning[C020]" in hit.err and "0 errors, " in hit.err


def test_a_spec_edit_is_a_miss(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _cli_project(tmp_path)
    _run(project, monkeypatch, capsys, "generate")
    spec = project / "specs" / "capabilities" / "stripe-create-customer.yaml"
    spec.write_text(
        spec.read_text().replace(
            "  name:\n", "  phone:\n    type: string\n    optional: true\n  name:\n"
        )
    )

    run = _run(project, monkeypatch, capsys, "generate")

    assert run.built and "changed  stripe/create_customer.py" in run.out
    assert _tree(project / "out") == _fresh_tree(project, monkeypatch)
    assert not _run(project, monkeypatch, capsys, "generate").built


def test_a_changed_generator_is_a_miss(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _cli_project(tmp_path)
    _run(project, monkeypatch, capsys, "generate")
    config = load_config(project, specs="specs", output="out")
    assert manifest.build_key(config, project) != manifest.build_key(
        config, project, extra="a template changed"
    )
    # What an edited template or generator module does to the key.
    monkeypatch.setattr(manifest, "_GENERATOR_DIGEST", "0" * 64)

    run = _run(project, monkeypatch, capsys, "generate")

    assert run.built and "up to date" in run.out


def test_a_deleted_or_edited_output_file_is_a_miss(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _cli_project(tmp_path)
    _run(project, monkeypatch, capsys, "generate")
    tree = _tree(project / "out")
    (project / "out" / "stripe" / "create_customer.py").unlink()

    restored = _run(project, monkeypatch, capsys, "generate")

    assert restored.built and "added    stripe/create_customer.py" in restored.out
    assert _tree(project / "out") == tree
    edited = project / "out" / "capabilities.py"
    edited.write_bytes(edited.read_bytes().replace(b"def ", b"def  ", 1))
    drift = _run(project, monkeypatch, capsys, "check")
    assert drift.built and drift.status == 1
    assert "changed  capabilities.py" in drift.out


def test_a_removed_email_template_is_a_miss(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _cli_project(tmp_path)
    _run(project, monkeypatch, capsys, "generate")
    (project / "email-templates" / "payment-error.txt").unlink()

    run = _run(project, monkeypatch, capsys, "check")

    assert run.built and run.status == 2
    assert "error[W043]" in run.err


def test_no_cache_records_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _cli_project(tmp_path)
    _run(project, monkeypatch, capsys, "generate", "--no-cache")
    assert _run(project, monkeypatch, capsys, "generate", "--no-cache").built
    assert not (project / ".contractgen-cache").exists()


def test_spec_discovery_matches_rglob(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    (specs / "sub" / "deeper").mkdir(parents=True)
    (specs / ".hidden").mkdir()
    (specs / "dir.yaml").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for path in (
        specs / "a.yaml",
        specs / "sub" / "b.yml",
        specs / "sub" / "deeper" / "c.yaml",
        specs / ".hidden" / ".yaml",
        specs / "notes.txt",
        elsewhere / "d.yaml",
    ):
        path.write_text("x: 1\n")
    (specs / "linked").symlink_to(elsewhere)  # a folder link: not followed
    (specs / "out.yaml").symlink_to(elsewhere / "d.yaml")
    (specs / "broken.yaml").symlink_to(tmp_path / "nowhere")

    expected = sorted(
        (p for pattern in ("*.yaml", "*.yml") for p in specs.rglob(pattern)),
        key=lambda p: p.relative_to(specs).as_posix(),
    )
    assert manifest.discover(specs) == [p for p in expected if p.is_file()]


def test_diff_formats_match_the_diff_command() -> None:
    from generator.compat.command import FORMATS

    assert cli.DIFF_FORMATS == FORMATS


def test_call_log_is_built_only_when_it_is_emitted(
    isolated_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from stripe import StripeClient

    from generated._runtime import calllog, stripe_calls

    operation = stripe_calls.StripeOperation(
        "stripe-x", "x", mutating=False, log_inputs=("amount",)
    )
    client = StripeClient("sk_test_x")
    reads: list[str] = []
    real_read = stripe_calls.read

    def counting_read(obj: object, *paths: str) -> object:
        reads.extend(paths)
        return real_read(obj, *paths)

    monkeypatch.setattr(stripe_calls, "read", counting_read)
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    calllog.logger.addHandler(handler)
    previous = calllog.logger.level
    try:
        calllog.logger.setLevel(logging.WARNING)  # INFO records are dropped
        stripe_calls.call(operation, {"amount": 5}, lambda c, o: {}, client=client)
        assert (reads, records) == ([], [])
        calllog.logger.setLevel(logging.INFO)
        stripe_calls.call(operation, {"amount": 5}, lambda c, o: {}, client=client)
        assert reads == ["amount"]
        assert [r.contractgen["inputs"] for r in records] == [{"amount": 5}]
    finally:
        calllog.logger.removeHandler(handler)
        calllog.logger.setLevel(previous)


# The loader composes with libyaml where it reads specs exactly as the pure
# parser does, and with the pure parser everywhere else: documents, positions
# and diagnostics must not depend on which ran.

_TRICKY = [
    "a: 1",  # no last line break
    "a: {b: }\n",
    "a: {b: , c: d}\n",
    "a: [b: ]\n",
    "{: b}\n",
    "a: {b: c?d}\n",
    "a:\tb\n",
    "a: 1\n\ufeffb: 2\n",
    "a: 1\x85b: 2\n",
    "a: 1\u2028b: 2\n",
    "a: \x01\n",
    'a: "\\ud800"\n',
    "a: 1\n---\n---\nb: 1\n",
    "a: b\r\nc: d\r\n",
    "k: é😀\nz: [1, 2, {x: y}]\n",
    "a: &x [1, 2]\nb: *x\n",
    "a: !!python/object:os.system x\n",
    "<<: {a: 1}\n",
    "a: 1\na: 2\n",
    "a:\n  - b\n  -\n  - c\n",
    "a: |\n  text\n\n",
    "a: 2024-01-01\non: yes\n",
    "- [" * 50 + "]" * 50 + "\n",
    "a: b: c\n",
    "a: 'x'y\n",
]


def _load_both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    from generator import loader
    from generator.diagnostics import Diagnostics

    def load() -> object:
        diagnostics = Diagnostics()
        documents = loader.load_text(text, "x.yaml", diagnostics)
        return (
            [
                (d.index, repr(d.data), d.spans, d.key_spans, d.quoted)
                for d in documents
            ],
            diagnostics.items,
        )

    fast = load()
    with monkeypatch.context() as patch:
        patch.setattr(loader, "_FAST_LOADER", None)
        pure = load()
    return fast, pure


def test_libyaml_and_pure_loading_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    texts = list(_TRICKY)
    for path in sorted(
        [*ROOT.joinpath("tests").rglob("*.y*ml"), *EXAMPLE_SPECS.rglob("*.yaml")]
    ):
        try:
            texts.append(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            continue
    pieces = [
        ":",
        "- ",
        " ",
        "\t",
        '"',
        "'",
        "\n",
        "{",
        "}",
        "[",
        "]",
        ",",
        "?",
        "#",
        "&a ",
        "*a",
        "!",
        "|",
        ">",
        "é",
        "---\n",
        "\\",
        ": ",
        "\r\n",
    ]
    rng = random.Random(8)
    for text in list(texts):
        for _ in range(8):
            at = rng.randint(0, len(text))
            texts.append(text[:at] + rng.choice(pieces) + text[at:])
    for text in texts:
        fast, pure = _load_both(text, monkeypatch)
        assert fast == pure, text
    # The fast path is taken for ordinary specs (else the above proves nothing).
    from generator import loader

    spec = (EXAMPLE_SPECS / "workflows" / "process-payment.yaml").read_text()
    assert loader._FAST_LOADER is not None
    assert loader._load_fast(spec, "x.yaml") is not None
