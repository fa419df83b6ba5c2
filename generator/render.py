"""Render the IR into source files with Jinja templates.

One template per kind of output file lives in `templates/`, with shared
macros in `templates/helpers.jinja`. The environment is strict: an undefined
name is an error, never an empty string. Text that came from a spec reaches
the source only through the `pyrepr`, `docstring` and `comment` filters, so
a spec cannot inject code.

The generated package's runtime is plain Python kept under
`templates/runtime/`; it is copied, not rendered, behind the same header.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path

import jinja2

from .checker import builtin_policies
from .ir import Capability, Field, Package, Workflow, pystr
from .manifest import templates_dir
from .temporal import RUNTIME_MODULES as TEMPORAL_RUNTIME
from .temporal import render_temporal

__all__ = ["TEMPLATES_DIR", "comment", "docstring", "render_package"]


TEMPLATES_DIR = templates_dir()

_WIDTH = 88  # black's line length
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TRAILING_SPACES = re.compile(r" +$", re.MULTILINE)


def docstring(text: str, indent: int = 0) -> str:
    """A docstring literal holding `text`, whatever it holds, as code.

    Lines too long for 88 columns are wrapped at spaces; apart from that the
    words are exactly the spec's (field descriptions, which must stay exact,
    are written as string literals instead).
    """
    width = 88 - indent - len('"""')
    text = "\n".join(
        (
            textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
            if len(line) > width
            else line
        )
        for line in text.split("\n")
    )
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    body = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", body).replace("\t", "\\t")
    # Trailing spaces would be stripped by black and flagged by linters; an
    # escaped last space keeps the text exact.
    body = _TRAILING_SPACES.sub(lambda m: m.group()[:-1] + "\\x20", body)
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    pad = " " * indent
    lines = body.split("\n")
    body = "\n".join([lines[0], *(pad + line if line else "" for line in lines[1:])])
    if len(lines) > 1:
        body += "\n" + pad
    return f'"""{body}"""'


# Words that make a comment an order to a tool wherever the comment stands:
# black's `fmt: off`, mypy's `type: ignore`, ruff's `noqa`, pylint's
# `pylint: disable=...`, coverage's `pragma: no cover` (or `pragma no cover`,
# which coverage obeys too) and their kin.
_DIRECTIVE = re.compile(
    r"\b(?:(?:fmt|yapf|autopep8|type|mypy|ty|pyrefly|ruff|flake8|isort|pyright"
    r"|pylint|pytype)(?=\s*:)|noqa|nosec|pragma|pyre-[a-z]+)\b",
    re.IGNORECASE,
)


def comment(text: str, indent: int = 0) -> str:
    """`text` as `#` lines wrapped at 88 columns, for people and for no tool.

    Each line of `text` starts a comment line; spaces of any kind become
    plain spaces and other characters a comment cannot hold (control
    characters, for one) their escapes. A word a tool would read as an order
    is put in backquotes, so `fmt: off` in a step's description cannot stop
    black formatting the file.
    """
    width = _WIDTH - indent - len("# ")
    lines = []
    for line in text.strip().splitlines():
        line = "".join(
            " " if char.isspace() else char if char.isprintable() else repr(char)[1:-1]
            for char in line
        )
        line = _DIRECTIVE.sub(lambda m: f"`{m.group()}`", line).rstrip()
        if len(line) > width:
            lines += textwrap.wrap(
                line, width, break_long_words=False, break_on_hyphens=False
            )
        else:
            lines.append(line)
    pad = " " * indent
    return "\n".join(f"{pad}# {line}".rstrip() for line in lines)


def pyrepr(value: object) -> str:
    """`repr(value)`, with strings quoted as black prints them (`pystr`)."""
    if isinstance(value, str):
        return pystr(value)
    if isinstance(value, tuple):
        items = [pyrepr(v) for v in value]
        return "(" + (items[0] + "," if len(items) == 1 else ", ".join(items)) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(pyrepr(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{pyrepr(k)}: {pyrepr(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return repr(value)


def field_lines(fields: tuple[Field, ...], indent: int = 4) -> str:
    """A model's field lines, wrapped where black would wrap them.

    Only the common cases are wrapped here (the `Field(...)` arguments on one
    line of their own, or one per line); black formats every file anyway, so
    a line left long only costs black a second pass, never changes a byte.
    """
    return "\n".join(_field_line(field, " " * indent) for field in fields)


def _field_line(field: Field, pad: str) -> str:
    line = f"{pad}{field.name}: {field.annotation}{field.assignment}"
    if len(line) <= _WIDTH or not field.assignment:
        return line
    if not field.assignment.startswith(" = Field("):
        # A long annotation with a short default: black parenthesizes it.
        inner = f"{pad}    {field.annotation}"
        if len(inner) > _WIDTH or len(f"{pad}){field.assignment}") > _WIDTH:
            return line
        return f"{pad}{field.name}: (\n{inner}\n{pad}){field.assignment}"
    head = f"{pad}{field.name}: {field.annotation} = Field("
    arguments = field.field_arguments
    inner = pad + "    "
    body = inner + ", ".join(arguments)
    if len(head) > _WIDTH:
        return line
    if len(body) <= _WIDTH:
        return f"{head}\n{body}\n{pad})"
    if len(arguments) > 1 and all(len(inner + a) < _WIDTH for a in arguments):
        return "\n".join([head, *(f"{inner}{a}," for a in arguments), f"{pad})"])
    return line


def fit(text: str) -> str:
    """Each line of `text` that is too long, wrapped as black would wrap it.

    For template lines that end in a call (`f(a, b)`, maybe followed by `,`
    or `:`) and imports: an import gets one name a line, a call its arguments
    on a line of their own. Anything else is left to black, which formats
    every file anyway; this only spares it a second pass.
    """
    return "\n".join(_fit_line(line) for line in text.split("\n"))


def _fit_line(line: str) -> str:
    if len(line) <= _WIDTH:
        return line
    pad = line[: len(line) - len(line.lstrip())]
    inner = pad + "    "
    head, sep, names = line.partition(" import ")
    if head.lstrip().startswith("from ") and sep and "(" not in names:
        items = [f"{inner}{name}," for name in names.split(", ")]
        return "\n".join([f"{head} import (", *items, f"{pad})"])
    brackets = _last_call(line)
    if brackets is None:
        return line
    at, close = brackets
    body = line[at + 1 : close]
    if line[close:] not in ("),", ")", "):") or len(inner + body) > _WIDTH:
        return line
    return f"{line[: at + 1]}\n{inner}{body}\n{pad}{line[close:]}"


def _last_call(line: str) -> tuple[int, int] | None:
    """Where the last `(` ... `)` pair outside string literals is, if any."""
    if '"""' in line or "'''" in line:
        return None
    opened: list[int] = []
    last = None
    quote = None
    escaped = False
    for at, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            opened.append(at)
        elif char == ")":
            if not opened:
                return None
            last = (opened.pop(), at)
    if quote or opened or last is None or last[0] == 0 or line[last[0] - 1] == " ":
        return None
    return last


def isort_names(names: list[str] | tuple[str, ...]) -> list[str]:
    """Names in isort's order: CONSTANTS, then Classes, then functions."""

    def key(name: str) -> tuple[int, str]:
        if name.isupper():
            return (0, name)
        return (1 if name[:1].isupper() else 2, name)

    return sorted(set(names), key=key)


def import_blocks(*groups: list[str]) -> str:
    """Import lines as isort groups them: one block per group, in sorted order."""

    def key(line: str) -> tuple[int, str]:
        module = line.split()[1]
        return (0 if line.startswith("import ") else 1, module.lower())

    blocks = [fit("\n".join(sorted(set(g), key=key))) for g in groups if g]
    return "\n\n".join(blocks)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # the output is Python; filters do the escaping
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pyrepr"] = pyrepr
    env.filters["docstring"] = docstring
    env.filters["comment"] = comment
    env.filters["isort_names"] = isort_names
    env.filters["field_lines"] = field_lines
    env.filters["fit"] = fit
    env.globals["import_blocks"] = import_blocks
    return env


_ENV = _environment()


def header(version: str, sources: list[str], digest_input: str) -> str:
    """The do-not-edit header: source specs and a hash of them and the generator."""
    digest = hashlib.sha256(f"{version}\n{digest_input}".encode()).hexdigest()[:16]
    if len(sources) == 1:
        origin = sources[0]
    else:
        origin = f"{len(sources)} specs under {Path(sources[0]).parts[0]}/"
    return (
        f"# Generated by contractgen {version}. Do not edit: change the spec and\n"
        f"# run `contractgen generate`.\n"
        f"# Source: {origin}\n"
        f"# Hash: {digest}\n"
    )


def render_package(package: Package, *, temporal: bool = False) -> dict[str, str]:
    """Every output file, by path relative to the output folder.

    With ``temporal``, also the Temporal target (see `generator.temporal`).
    """
    files: dict[str, str] = {}
    version = package.generator_version
    by_provider = package.by_provider()

    for provider, capabilities in by_provider.items():
        for capability in capabilities:
            files[f"{provider}/{capability.module}.py"] = _capability(
                capability, package
            )
        files[f"{provider}/__init__.py"] = _ENV.get_template(
            "provider_init.py.jinja"
        ).render(
            header=_aggregate_header(version, capabilities),
            provider=provider,
            capabilities=capabilities,
            exports=[name for c in capabilities for name in c.exports],
        )
        if provider == "stripe":
            integration = package.integrations.get("stripe")
            files["stripe/_integration.py"] = _ENV.get_template(
                "stripe_integration.py.jinja"
            ).render(
                header=header(
                    version,
                    [integration.source] if integration else ["defaults"],
                    integration.source_hash if integration else "defaults",
                ),
                policies=(
                    integration.policies if integration else builtin_policies(None)
                ),
            )

    if package.webhooks is not None:
        webhook_header = header(
            version, [package.webhooks.source], package.webhooks.source_hash
        )
        for name, template in _WEBHOOK_TEMPLATES.items():
            files[f"webhooks/{name}"] = _ENV.get_template(template).render(
                header=webhook_header, webhooks=package.webhooks, package=package.name
            )

    for workflow in package.workflows:
        files[f"workflows/{workflow.module}.py"] = _workflow(workflow, package)
    if package.workflows:
        files["workflows/__init__.py"] = _ENV.get_template(
            "workflows_init.py.jinja"
        ).render(
            header=header(
                version,
                sorted(w.source for w in package.workflows),
                "\n".join(f"{w.id} {w.module}" for w in package.workflows),
            ),
            workflows=package.workflows,
            exports=[
                name
                for w in package.workflows
                for name in (
                    w.input.name,
                    f"{w.class_prefix}Result",
                    w.function,
                    f"{w.function}_async",
                )
            ],
        )

    wrapped = [c for c in package.capabilities if c.provider != "custom"]
    files["capabilities.py"] = _ENV.get_template("capabilities.py.jinja").render(
        header=_aggregate_header(version, wrapped),
        capabilities=sorted(wrapped, key=lambda c: c.function),
        providers=sorted({c.provider for c in wrapped}),
        local_imports=_container_imports(wrapped),
        package=package,
    )
    files["__init__.py"] = _ENV.get_template("package_init.py.jinja").render(
        header=_aggregate_header(version, package.capabilities),
        package=package,
        providers=list(by_provider),
    )
    if temporal:
        files.update(render_temporal(package, _ENV, header))
    files["py.typed"] = ""
    for path in sorted((TEMPLATES_DIR / "runtime").glob("*.py")):
        if path.name in TEMPORAL_RUNTIME and not (temporal and package.workflows):
            continue
        source = path.read_text(encoding="utf-8")
        files[f"_runtime/{path.name}"] = (
            f"# Copied by contractgen {version} from its runtime. Do not edit.\n"
            + source
        )
    return files


# The generated `webhooks` package: file → template.
_WEBHOOK_TEMPLATES = {
    "__init__.py": "webhooks_init.py.jinja",
    "__main__.py": "webhooks_main.py.jinja",
    "app.py": "webhooks_app.py.jinja",
    "events.py": "webhooks_events.py.jinja",
    "router.py": "webhooks_router.py.jinja",
}


def _container_imports(wrapped: list[Capability]) -> list[str]:
    if not wrapped:
        return []
    providers = sorted({c.provider for c in wrapped})
    lines = [
        f"from ._runtime import {', '.join(f'{p}_calls' for p in providers)}",
        "from ._runtime.context import CallContext",
    ]
    if "stripe" in providers:
        lines += [
            "from ._runtime.policies import Policy",
            "from .stripe._integration import POLICIES as STRIPE_POLICIES",
        ]
    for c in wrapped:
        names = [c.input.name, c.output.name, c.function, f"{c.function}_async"]
        lines.append(
            f"from .{c.provider}.{c.module} import {', '.join(isort_names(names))}"
        )
    return lines


def _aggregate_header(version: str, capabilities: list[Capability]) -> str:
    sources = sorted({c.source for c in capabilities}) or ["specs/"]
    listing = "\n".join(sorted(f"{c.id} {c.module}" for c in capabilities))
    return header(version, sources, listing)


def _workflow(workflow: Workflow, package: Package) -> str:
    engine = ["RetryPolicy"] if workflow.uses_retry else []
    engine += ["Run", "StepsBase", "WorkflowInfo", "WorkflowResult"]
    engine += workflow.engine_functions
    local = [
        "from ..capabilities import Capabilities",
        "from .._runtime.journal import Journal",
        f"from .._runtime.workflow_engine import {', '.join(isort_names(engine))}",
    ]
    for c in workflow.capabilities:
        names = isort_names([c.input.name, c.output.name])
        local.append(f"from ..{c.provider}.{c.module} import {', '.join(names)}")
    typing = sorted(n for n in workflow.typing_imports if n != "AwareDatetime")
    pydantic = ["BaseModel", "ConfigDict"]
    models = (*workflow.models, workflow.input)
    if any(f.assignment.startswith(" = Field(") for m in models for f in m.fields):
        pydantic.append("Field")
    if "AwareDatetime" in workflow.typing_imports:
        pydantic.append("AwareDatetime")
    return _ENV.get_template("workflow.py.jinja").render(
        header=header(
            package.generator_version, [workflow.source], workflow.source_hash
        ),
        workflow=workflow,
        typing_lines=[f"from typing import {', '.join(typing)}"] if typing else [],
        pydantic_line=f"from pydantic import {', '.join(sorted(pydantic))}",
        local_imports=local,
    )


def _capability(capability: Capability, package: Package) -> str:
    template = {
        "stripe": "stripe_capability.py.jinja",
        "email": "email_capability.py.jinja",
        "twilio": "twilio_capability.py.jinja",
        "qdrant": "qdrant_capability.py.jinja",
        "custom": "custom_capability.py.jinja",
    }[capability.provider]
    return _ENV.get_template(template).render(
        header=header(
            package.generator_version, [capability.source], capability.source_hash
        ),
        capability=capability,
        call=capability.call,
    )
