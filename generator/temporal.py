"""The Temporal target: the files under `<package>/temporal/`.

Opt-in with `temporal = true` in `[tool.contractgen]`.
For a package with workflows it adds, next to the in-process workflow
modules it builds on:

    temporal/__init__.py         the workflow classes and activities
    temporal/activities.py       one activity per capability the workflows call
    temporal/<workflow>.py       one `@workflow.defn` class per workflow
    temporal/worker.py           `python -m <package>.temporal.worker`

and copies `_runtime/temporal_support.py`, which the runtime leaves out
otherwise, so a package without the target never imports temporalio.
Like every template, these only print the IR.
"""

from __future__ import annotations

from collections.abc import Callable

import jinja2

from .ir import Capability, Package, Workflow

__all__ = ["RUNTIME_MODULES", "render_temporal"]

# Runtime modules copied only when the target is on.
RUNTIME_MODULES = frozenset({"temporal_support.py"})

Header = Callable[[str, list[str], str], str]


def render_temporal(
    package: Package, env: jinja2.Environment, header: Header
) -> dict[str, str]:
    """The target's files, by path relative to the output folder."""
    if not package.workflows:
        return {}
    version = package.generator_version
    workflows = sorted(package.workflows, key=lambda w: w.module)
    capabilities = _capabilities(workflows)
    listing = "\n".join(f"{w.id} {w.module}" for w in workflows)
    aggregate = header(version, sorted(w.source for w in workflows), listing)

    files = {
        "temporal/activities.py": env.get_template(
            "temporal_activities.py.jinja"
        ).render(
            header=header(
                version,
                sorted({c.source for c in capabilities}),
                "\n".join(f"{c.id} {c.module}" for c in capabilities),
            ),
            capabilities=capabilities,
            local_imports=_activity_imports(capabilities),
        )
    }
    for workflow in workflows:
        files[f"temporal/{workflow.module}.py"] = env.get_template(
            "temporal_workflow.py.jinja"
        ).render(
            header=header(version, [workflow.source], workflow.source_hash),
            workflow=workflow,
            package_name=package.name,
            local_imports=_workflow_imports(workflow),
        )
    classes = [f"{w.class_prefix}Workflow" for w in workflows]
    files["temporal/worker.py"] = env.get_template("temporal_worker.py.jinja").render(
        header=aggregate,
        package_name=package.name,
        workflows=workflows,
        local_imports=[
            "from .._runtime.temporal_support import "
            "TemporalSettings, build_worker, connect",
            "from ..capabilities import Capabilities",
            "from .activities import CapabilityActivities",
            *(f"from .{w.module} import {w.class_prefix}Workflow" for w in workflows),
        ],
    )
    files["temporal/__init__.py"] = env.get_template("temporal_init.py.jinja").render(
        header=aggregate,
        package_name=package.name,
        workflows=workflows,
        local_imports=[
            "from .._runtime.temporal_support import TemporalSettings, connect",
            "from .activities import CapabilityActivities",
            *(f"from .{w.module} import {w.class_prefix}Workflow" for w in workflows),
        ],
        exports=["CapabilityActivities", "TemporalSettings", "connect", *classes],
    )
    return files


def _capabilities(workflows: list[Workflow]) -> list[Capability]:
    unique = {c.id: c for w in workflows for c in w.capabilities}
    return sorted(unique.values(), key=lambda c: c.function)


def _activity_imports(capabilities: list[Capability]) -> list[str]:
    lines = [
        "from .._runtime.temporal_support import StepCall, StepDone, call_step",
        "from ..capabilities import Capabilities",
    ]
    for c in capabilities:
        names = ", ".join(sorted([c.input.name, c.output.name]))
        lines.append(f"from ..{c.provider}.{c.module} import {names}")
    return lines


def _workflow_imports(workflow: Workflow) -> list[str]:
    engine = ["RetryPolicy"] if workflow.uses_retry else []
    engine += workflow.engine_functions
    prefix = workflow.class_prefix
    names = sorted(
        ["WORKFLOW", workflow.input.name, f"{prefix}Result", f"{prefix}Steps"],
        key=lambda n: (not n.isupper(), n),
    )
    lines = [
        "from .._runtime.temporal_support import TemporalRun",
        f"from ..workflows.{workflow.module} import {', '.join(names)}",
        "from .activities import CapabilityActivities",
    ]
    if engine:
        lines.append(
            f"from .._runtime.workflow_engine import {', '.join(sorted(engine))}"
        )
    for c in workflow.capabilities:
        lines.append(f"from ..{c.provider}.{c.module} import {c.input.name}")
    return lines
