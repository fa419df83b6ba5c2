"""Run the benchmark of issue 8's targets; print a table, write bench/results.md.

    python -m bench.run [--runs 3] [--scale]     (`make bench`, `make bench N=2000`)

Every figure is a median of several runs, and every baseline runs in the
same invocation on the same machine, interleaved with what it is compared
with, so a busy machine slows both sides alike. Generation is timed as a
user runs it: the `contractgen` command in a child process, wall clock.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import write_corpus
from bench.jsonschema import write_schemas

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONTRACTGEN = str(BIN / "contractgen")
DATAMODEL_CODEGEN = str(BIN / "datamodel-codegen")


@dataclass
class Target:
    number: str
    what: str
    measured: str
    limit: str
    met: bool | None  # None: not measured


def _timed(command: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak resident memory (KiB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.stderr is not None
    errors = child.stderr.read().decode()
    child.stderr.close()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors}")
    return elapsed, usage.ru_maxrss


def _generate(folder: Path, output: str, cache: str | None) -> list[str]:
    flags = ["--cache", cache] if cache else ["--no-cache"]
    return [
        CONTRACTGEN,
        "generate",
        "-q",
        "--specs",
        "specs",
        "--output",
        output,
        "--package",
        "bench_pkg",
        *flags,
    ]


def _snapshot(output: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for path in output.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            info = path.stat()
            found[path.relative_to(output).as_posix()] = (info.st_ino, info.st_mtime_ns)
    return found


def _corpus(work: Path, count: int) -> Path:
    folder = work / f"n{count}"
    write_corpus(folder / "specs", count)
    validate = subprocess.run(
        [CONTRACTGEN, "validate", "--specs", "specs"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if validate.returncode != 0:
        raise SystemExit(f"the corpus of {count} does not validate:\n{validate.stderr}")
    return folder


def _cold(folder: Path, runs: int, tag: str) -> tuple[list[float], list[int]]:
    times, memory = [], []
    for run in range(runs):
        shutil.rmtree(folder / "out", ignore_errors=True)
        shutil.rmtree(folder / f"cache-{tag}{run}", ignore_errors=True)
        elapsed, peak = _timed(_generate(folder, "out", f"cache-{tag}{run}"), folder)
        times.append(elapsed)
        memory.append(peak)
    return times, memory


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _rate(seconds_per_event: float) -> str:
    each = f"{seconds_per_event * 1e6:.0f} µs each"
    return f"{1 / seconds_per_event:,.0f} events/s ({each})"


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    black = subprocess.run(
        [str(BIN / "black"), "--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    dmcg = subprocess.run(
        [DATAMODEL_CODEGEN, "--version"], capture_output=True, text=True
    ).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"load average at the end {load}; "
        f"{os.cpu_count()} CPUs (`nproc`: {len(os.sched_getaffinity(0))}), {model}; "
        f"Python {platform.python_version()} on {platform.system()} "
        f"{platform.release()}; {black}; datamodel-code-generator {dmcg}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument(
        "--scale", action="store_true", help="also generate N=2000 (target 4)"
    )
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.md")
    args = parser.parse_args()
    runs = args.runs
    work = Path(tempfile.mkdtemp(prefix="contractgen-bench-"))
    rows: list[tuple[str, str]] = []
    targets: list[Target] = []
    try:
        sizes = [50, 500, *([2000] if args.scale else [])]
        folders = {n: _corpus(work, n) for n in sizes}
        big = folders[500]
        write_schemas(big / "specs", big / "schemas")
        print(f"corpora written under {work}", file=sys.stderr)

        # 1. Cold generation against datamodel-code-generator, interleaved.
        ours, theirs, memory = [], [], []
        for run in range(runs):
            t, m = _cold(big, 1, f"cold{run}-")
            ours += t
            memory += m
            shutil.rmtree(big / "dm", ignore_errors=True)
            elapsed, _ = _timed(
                [
                    DATAMODEL_CODEGEN,
                    "--input",
                    "schemas",
                    "--input-file-type",
                    "jsonschema",
                    "--output",
                    "dm",
                ],
                big,
            )
            theirs.append(elapsed)
        cold, baseline = _median(ours), _median(theirs)
        rows += [
            ("cold generation, N=500 (every output)", _ms(cold)),
            ("datamodel-codegen, N=500 (models only)", _ms(baseline)),
        ]
        targets.append(
            Target(
                "1",
                "cold generation vs datamodel-codegen (models only)",
                f"{cold / baseline:.2f}x",
                "≤ 1.0x",
                cold <= baseline,
            )
        )

        # 2. No-op regeneration against `contractgen --help`.
        noop, helps = [], []
        for _ in range(max(runs, 5)):
            noop.append(_timed(_generate(big, "out", "cache-cold0-0"), big)[0])
            helps.append(_timed([CONTRACTGEN, "--help"], big)[0])
        idle, startup = _median(noop), _median(helps)
        rows += [
            ("no-op regeneration, N=500", _ms(idle)),
            ("`contractgen --help`", _ms(startup)),
        ]
        targets.append(
            Target(
                "2",
                "no-op regeneration: wall, and vs `--help`",
                f"{_ms(idle)}, {idle / startup:.2f}x",
                "≤ 300 ms and ≤ 2.0x",
                idle <= 0.3 and idle <= 2 * startup,
            )
        )

        # 3. One spec changed among 500: time, and which files were rewritten.
        spec = sorted((big / "specs" / "capabilities").glob("custom-*.yaml"))[0]
        original = spec.read_text(encoding="utf-8")
        changed_times, rewritten_counts = [], []
        rewritten: list[str] = []
        for run in range(runs):
            before = _snapshot(big / "out")
            spec.write_text(
                original.replace("variant", f"edit {run}, variant", 1),
                encoding="utf-8",
            )
            changed_times.append(_timed(_generate(big, "out", "cache-cold0-0"), big)[0])
            after = _snapshot(big / "out")
            rewritten = sorted(
                rel
                for rel in set(before) | set(after)
                if before.get(rel) != after.get(rel)
            )
            rewritten_counts.append(len(rewritten))
        spec.write_text(original, encoding="utf-8")
        one = _median(changed_times)
        rows += [
            ("one spec changed among 500", _ms(one)),
            ("files rewritten", f"{max(rewritten_counts)}: {', '.join(rewritten)}"),
        ]
        targets.append(
            Target(
                "3",
                "one spec changed: wall, and only its files rewritten",
                f"{_ms(one)}, {max(rewritten_counts)} file(s) rewritten",
                "≤ 1.0 s, 1 file",
                one <= 1.0 and max(rewritten_counts) == 1,
            )
        )

        # 4. Scaling (N=2000 only when asked) and peak memory at N=500.
        small_times, _ = _cold(folders[50], runs, "small")
        rows.append(("cold generation, N=50", _ms(_median(small_times))))
        peak_mb = max(memory) / 1024
        rows.append(("peak RSS, cold generation N=500", f"{peak_mb:.0f} MB"))
        if args.scale:
            huge_times, _ = _cold(folders[2000], runs, "huge")
            huge = _median(huge_times)
            rows.append(("cold generation, N=2000", _ms(huge)))
            targets.append(
                Target(
                    "4a",
                    "scaling: N=2000 vs N=500",
                    f"{huge / cold:.2f}x",
                    "≤ 4.4x",
                    huge <= 4.4 * cold,
                )
            )
        else:
            targets.append(
                Target(
                    "4a",
                    "scaling: N=2000 vs N=500",
                    "not measured: run `make bench N=2000`",
                    "≤ 4.4x",
                    None,
                )
            )
        targets.append(
            Target(
                "4b",
                "peak memory, N=500",
                f"{peak_mb:.0f} MB ({peak_mb / 400:.2f}x the limit)",
                "≤ 400 MB",
                peak_mb <= 400,
            )
        )

        # 5. Runtime overhead, in a child of its own.
        runtime = work / "runtime"
        runtime.mkdir()
        subprocess.run(
            [
                CONTRACTGEN,
                "generate",
                "-q",
                "--specs",
                str(ROOT / "specs"),
                "--output",
                str(runtime / "bench_runtime"),
                "--package",
                "bench_runtime",
                "--no-cache",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        measured = json.loads(
            subprocess.run(
                [sys.executable, "-m", "bench.runtime", str(runtime), "bench_runtime"],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        stripe, flow = measured["stripe"], measured["workflow"]
        hooks = measured["webhooks"]
        hook_ratio = hooks["baseline"] / hooks["endpoint"]  # of throughputs
        ratio = stripe["wrapped"] / stripe["bare"]
        overhead_us = flow["overhead_per_step"] * 1e6
        rows += [
            ("bare StripeClient call (stub)", f"{stripe['bare'] * 1e6:.0f} µs"),
            ("generated wrapper call (stub)", f"{stripe['wrapped'] * 1e6:.0f} µs"),
            ("workflow step, by hand", f"{flow['by_hand_per_step'] * 1e6:.1f} µs"),
            ("workflow step, engine", f"{flow['engine_per_step'] * 1e6:.1f} µs"),
            (
                "SQLite journal, per step",
                f"{flow['sqlite_journal_per_step'] * 1e6:.0f} µs",
            ),
            (
                "webhook endpoint `handle`, distinct events (SQLite store)",
                _rate(hooks["endpoint"]),
            ),
            (
                "`verify_header` + one SQLite insert, distinct events",
                _rate(hooks["baseline"]),
            ),
            (
                "webhook endpoint `handle`, in-memory store (not a target)",
                _rate(hooks["endpoint_in_memory"]),
            ),
            ("`verify_header` alone (not a target)", _rate(hooks["verify_only"])),
        ]
        targets += [
            Target(
                "5a",
                "Stripe wrapper vs bare StripeClient",
                f"{ratio:.2f}x",
                "≤ 1.15x",
                ratio <= 1.15,
            ),
            Target(
                "5b",
                "workflow engine overhead per step (journal off)",
                f"{overhead_us:.1f} µs ({overhead_us / 50:.2f}x the limit); "
                f"journal {flow['sqlite_journal_per_step'] * 1e6:.0f} µs/step",
                "≤ 50 µs",
                overhead_us <= 50,
            ),
            Target(
                "6",
                "webhooks vs stripe-python check + SQLite insert",
                f"{hook_ratio:.3f}x throughput "
                f"({1 / hooks['endpoint']:,.0f} vs {1 / hooks['baseline']:,.0f} "
                "events/s)",
                "≥ 0.8x throughput",
                hook_ratio >= 0.8,
            ),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report = _report(rows, targets, runs)
    print(report)
    args.results.write_text(report, encoding="utf-8")


def _report(rows: list[tuple[str, str]], targets: list[Target], runs: int) -> str:
    verdict = {True: "met", False: "not met", None: "not measured"}
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench.run`); do not edit by hand.",
        "",
        f"Machine: {_machine()}.",
        f"Each figure is the median of {runs} runs or more (runtime figures: of 7",
        "rounds of many calls); baselines ran in the same invocation.",
        "",
        "| measurement | median |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "| target | what | measured | limit | verdict |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {t.number} | {t.what} | {t.measured} | {t.limit} | {verdict[t.met]} |"
            for t in targets
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
