"""Workflow checks: steps, transitions and `${...}` expressions.

A workflow is a graph: each step calls a capability, then goes to its
`onSuccess` step or, when it fails, to its `onFailure` step. This module
checks, at generation time, everything a run could trip over later:

- every named step and capability exists (with "did you mean" hints), ids
  are unique, every step is reachable from the entry, and there is no cycle;
- every expression refers to something real: `${input.x}`,
  `${steps.<id>.output.<field>}` for a field the capability outputs, and
  `${error.<field>}` for a field of the error;
- `${steps.X...}` appears only where X has succeeded on every path from the
  entry, and `${error...}` only in a step that some failure leads to;
- the inputs given to each capability exist, and the required ones are given.

Checks that would only repeat an earlier error (reachability after a step
name was misspelt) are skipped for that workflow.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import names
from .diagnostics import Diagnostics, Span, did_you_mean
from .fieldtypes import ModelBuilder, python_literal
from .ir import Capability, Field, Model, Package, Step, Workflow
from .loader import Document, NodePath
from .spec import CapabilitySpec, StepSpec, WorkflowSpec, seconds

if TYPE_CHECKING:
    from .checker import CheckedSpecs

__all__ = ["ERROR_FIELDS", "Reference", "check_all", "references"]

ERROR_FIELDS = (
    "message",
    "type",
    "code",
    "step",
    "capability",
    "retryable",
    "declineCode",
    "requestId",
)

# `${...}` is an expression; `$${` is a literal `${`.
_EXPRESSION = re.compile(r"(?<!\$)\$\{([^}]*)\}")


@dataclass(frozen=True)
class Reference:
    """One `${...}` expression in a step's inputs."""

    text: str  # what is between the braces
    at: NodePath  # the node holding it
    column_offset: int  # where `${` starts inside the node's text
    whole: bool  # the expression is the node's entire value


def references(value: Any, at: NodePath) -> Iterator[Reference]:
    """Every expression inside a step input value, however deeply nested."""
    if isinstance(value, str):
        for match in _EXPRESSION.finditer(value):
            yield Reference(
                match.group(1).strip(),
                at,
                match.start(),
                match.span() == (0, len(value)),
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from references(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from references(item, (*at, i))


def check_all(
    specs: CheckedSpecs, package: Package, diagnostics: Diagnostics
) -> list[Workflow]:
    from .checker import document_hash

    capabilities = {cid: spec for cid, (spec, _) in specs.capabilities.items()}
    compiled = {c.id: c for c in package.capabilities}
    capability_classes = {
        name: c.id
        for c in package.capabilities
        for name in (c.input.name, c.output.name)
    }
    owners: dict[str, str] = {}
    workflows = []
    for workflow_id, (spec, document) in sorted(specs.workflows.items()):
        checker = _WorkflowChecker(
            spec, document, capabilities, diagnostics, specs.broken
        )
        if not checker.check():
            continue
        if any(step.capability in specs.broken for step in spec.steps):
            continue  # the capability's own errors were reported
        builder = _WorkflowBuilder(
            spec, document, compiled, diagnostics, email_templates(package)
        )
        workflow = builder.build(document_hash(document))
        if workflow is None:
            continue
        defined = [
            workflow.function,
            workflow.input.name,
            f"{workflow.class_prefix}Steps",
            f"{workflow.class_prefix}Result",
        ]
        clash = next(
            (n for n in defined if n in owners or n in capability_classes), None
        )
        if clash is not None:
            other = owners.get(clash) or f"capability '{capability_classes[clash]}'"
            diagnostics.error(
                "W051",
                f"workflow '{workflow_id}' would define '{clash}', which {other} "
                "already defines",
                document.span(("workflowId",)),
                "rename the workflow",
            )
            continue
        owners.update(dict.fromkeys(defined, f"workflow '{workflow_id}'"))
        workflows.append(workflow)
    return workflows


class _WorkflowChecker:
    def __init__(
        self,
        spec: WorkflowSpec,
        document: Document,
        capabilities: dict[str, CapabilitySpec],
        diagnostics: Diagnostics,
        broken: set[str],
    ) -> None:
        self.broken = broken
        self.spec = spec
        self.document = document
        self.capabilities = capabilities
        self.diagnostics = diagnostics
        self.errors_before = sum(d.is_error for d in diagnostics.items)
        self.steps: dict[str, StepSpec] = {}
        self.index: dict[str, int] = {}

    def _error(
        self, code: str, message: str, span: Span, hint: str | None = None
    ) -> None:
        self.diagnostics.error(code, message, span, hint)

    def _step_at(self, step_id: str, *rest: str | int) -> NodePath:
        return ("steps", self.index[step_id], *rest)

    def check(self) -> bool:
        """True when the workflow has no errors."""
        self._collect_steps()
        names_ok = self._check_names()
        if names_ok:
            self._check_graph()
        self._check_inputs()
        return sum(d.is_error for d in self.diagnostics.items) == self.errors_before

    def _collect_steps(self) -> None:
        for i, step in enumerate(self.spec.steps):
            if step.id in self.steps:
                self._error(
                    "W002",
                    f"duplicate step id '{step.id}'",
                    self.document.span(("steps", i, "id")),
                    "step ids must be unique within a workflow",
                )
                continue
            self.steps[step.id] = step
            self.index[step.id] = i

    def _check_names(self) -> bool:
        ok = True
        known = list(self.steps)
        targets: list[tuple[str | None, NodePath]] = [(self.spec.entry, ("entry",))]
        for step in self.steps.values():
            targets.append((step.on_success, self._step_at(step.id, "onSuccess")))
            targets.append((step.on_failure, self._step_at(step.id, "onFailure")))
            if step.capability in self.broken:
                continue  # its own spec's errors were reported
            if step.capability not in self.capabilities:
                # Not a routing problem: the graph checks below still hold.
                self._error(
                    "W003",
                    f"unknown capability '{step.capability}'",
                    self.document.span(self._step_at(step.id, "capability")),
                    did_you_mean(step.capability, list(self.capabilities)),
                )
        for target, at in targets:
            if target is not None and target not in self.steps:
                ok = False
                self._error(
                    "W001",
                    f"unknown step '{target}'",
                    self.document.span(at),
                    did_you_mean(target, known) or f"steps: {', '.join(known)}",
                )
        return ok

    @property
    def entry(self) -> str:
        return self.spec.entry or self.spec.steps[0].id

    def _edges(self, step_id: str) -> list[tuple[str, str]]:
        step = self.steps[step_id]
        edges = []
        if step.on_success:
            edges.append(("succeeds", step.on_success))
        if step.on_failure:
            edges.append(("fails", step.on_failure))
        return edges

    def _check_graph(self) -> None:
        reachable = self._reachable()
        for step_id in self.steps:
            if step_id not in reachable:
                self._error(
                    "W005",
                    f"step '{step_id}' is never reached from the entry step "
                    f"'{self.entry}'",
                    self.document.span(self._step_at(step_id, "id")),
                    "route to it with onSuccess or onFailure, or remove it",
                )
        cycle = self._cycle()
        if cycle:
            closing = self.steps[cycle[-2]]
            edge = "onSuccess" if closing.on_success == cycle[-1] else "onFailure"
            self._error(
                "W006",
                "steps form a cycle: " + " → ".join(cycle),
                self.document.span(self._step_at(closing.id, edge)),
                "workflows may not loop; use `retry` to repeat a step",
            )
            return  # path analysis below assumes an acyclic graph
        self._check_references(reachable)

    def _reachable(self) -> set[str]:
        seen = {self.entry}
        queue = deque([self.entry])
        while queue:
            for _, target in self._edges(queue.popleft()):
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        return seen

    def _cycle(self) -> list[str] | None:
        state: dict[str, int] = {}  # 1 on the current path, 2 finished
        path: list[str] = []

        def visit(step_id: str) -> list[str] | None:
            state[step_id] = 1
            path.append(step_id)
            for _, target in self._edges(step_id):
                if state.get(target) == 1:
                    return [*path[path.index(target) :], target]
                if target not in state:
                    found = visit(target)
                    if found:
                        return found
            path.pop()
            state[step_id] = 2
            return None

        for step_id in self.steps:
            if step_id not in state:
                found = visit(step_id)
                if found:
                    return found
        return None

    def _path_without(self, target: str, producer: str) -> list[tuple[str, str]] | None:
        """A path from the entry to `target` on which `producer` never succeeds."""
        start = self.entry
        previous: dict[str, tuple[str, str] | None] = {start: None}
        queue = deque([start])
        while queue:
            current = queue.popleft()
            if current == target:
                break
            for how, nxt in self._edges(current):
                if current == producer and how == "succeeds":
                    continue
                if nxt not in previous:
                    previous[nxt] = (current, how)
                    queue.append(nxt)
        if target not in previous:
            return None
        path = []
        node = target
        while previous[node] is not None:
            before, how = previous[node]  # type: ignore[misc]
            path.append((before, how))
            node = before
        return list(reversed(path))

    def _reached_by_failure(self, step_id: str) -> bool:
        return any(step.on_failure == step_id for step in self.steps.values())

    def _check_references(self, reachable: set[str]) -> None:
        for step_id, step in self.steps.items():
            if step_id not in reachable:
                continue
            for ref in references(step.inputs, ()):
                at = self._step_at(step_id, "inputs", *ref.at)
                span = self._span(at, ref)
                parts = ref.text.split(".")
                if parts[0] == "steps" and len(parts) >= 2 and parts[1] in self.steps:
                    producer = parts[1]
                    if producer == step_id:
                        self._error(
                            "W011",
                            f"step '{step_id}' refers to its own output",
                            span,
                        )
                        continue
                    path = self._path_without(step_id, producer)
                    if path is not None:
                        route = " → ".join(f"{before} ({how})" for before, how in path)
                        self._error(
                            "W010",
                            f"'{producer}' has not succeeded on every path to "
                            f"'{step_id}': it is reached by {route} → {step_id}",
                            span,
                            f"read '{producer}' outputs only in steps that run "
                            "after it succeeded",
                        )
                elif parts[0] == "error" and not self._reached_by_failure(step_id):
                    self._error(
                        "W012",
                        f"'${{{ref.text}}}' is used in step '{step_id}', which no "
                        "failure leads to",
                        span,
                        "name this step in another step's onFailure",
                    )

    def _span(self, at: NodePath, ref: Reference) -> Span:
        node = self.document.span(at)
        if ref.whole or node.line != node.end_line:
            return node
        # Inside a one-line string: point at the `${` itself. A quoted scalar's
        # text starts one column after its opening quote.
        start = (
            node.column + ref.column_offset + (1 if at in self.document.quoted else 0)
        )
        return Span(node.path, node.line, start, node.line, start + len(ref.text) + 3)

    def _check_inputs(self) -> None:
        for step_id, step in self.steps.items():
            capability = self.capabilities.get(step.capability)
            if capability is None:
                continue
            for ref in references(step.inputs, ()):
                self._check_expression(step_id, ref)
            for name in step.inputs:
                if name not in capability.inputs:
                    self._error(
                        "W020",
                        f"capability '{step.capability}' has no input '{name}'",
                        self.document.key_span(self._step_at(step_id, "inputs", name)),
                        did_you_mean(name, list(capability.inputs))
                        or f"its inputs: {', '.join(capability.inputs) or 'none'}",
                    )
            for name, field_spec in capability.inputs.items():
                required = not field_spec.optional and not field_spec.has_default
                if required and name not in step.inputs:
                    self._error(
                        "W021",
                        f"step '{step_id}' does not give '{step.capability}' its "
                        f"required input '{name}'",
                        self.document.span(self._step_at(step_id, "id")),
                        f"add `{name}:` under the step's inputs",
                    )

    def _check_expression(self, step_id: str, ref: Reference) -> None:
        at = self._step_at(step_id, "inputs", *ref.at)
        span = self._span(at, ref)
        parts = ref.text.split(".")
        root = parts[0]
        if root == "input":
            if len(parts) != 2 or not parts[1]:
                self._error(
                    "W030", f"'${{{ref.text}}}' should be ${{input.<name>}}", span
                )
            elif self.spec.inputs is not None and parts[1] not in self.spec.inputs:
                self._error(
                    "W031",
                    f"workflow '{self.spec.workflow_id}' declares no input "
                    f"'{parts[1]}'",
                    span,
                    did_you_mean(parts[1], list(self.spec.inputs)),
                )
        elif root == "steps":
            if len(parts) != 4 or parts[2] != "output":
                self._error(
                    "W030",
                    f"'${{{ref.text}}}' should be ${{steps.<id>.output.<field>}}",
                    span,
                )
                return
            producer = self.steps.get(parts[1])
            if producer is None:
                self._error(
                    "W001",
                    f"unknown step '{parts[1]}'",
                    span,
                    did_you_mean(parts[1], list(self.steps)),
                )
                return
            capability = self.capabilities.get(producer.capability)
            if capability is not None and parts[3] not in capability.outputs:
                self._error(
                    "W032",
                    f"capability '{producer.capability}' has no output '{parts[3]}'",
                    span,
                    did_you_mean(parts[3], list(capability.outputs))
                    or f"its outputs: {', '.join(capability.outputs)}",
                )
        elif root == "error":
            if len(parts) != 2 or parts[1] not in ERROR_FIELDS:
                self._error(
                    "W033",
                    f"'${{{ref.text}}}' is not a field of the error",
                    span,
                    did_you_mean(parts[-1], list(ERROR_FIELDS))
                    or f"error fields: {', '.join(ERROR_FIELDS)}",
                )
        else:
            self._error(
                "W030",
                f"unknown expression '${{{ref.text}}}'",
                span,
                _root_hint(root, parts[1:]),
            )


# The roots an expression may start with, and the form each takes.
_ROOT_FORMS = {
    "input": "input.<name>",
    "steps": "steps.<id>.output.<field>",
    "error": "error.<field>",
}


def _root_hint(root: str, rest: list[str]) -> str:
    """The expression with a misspelt root corrected (`inputs.email` →
    `input.email`), or the roots there are."""
    close = difflib.get_close_matches(root.lower(), list(_ROOT_FORMS), n=1, cutoff=0.6)
    if not close:
        return (
            "expressions start with input., steps. or error.; write $${ for a "
            "literal ${"
        )
    # The rest as written when it fits the root's form, else the form itself:
    # a hint must not suggest an expression that is wrong in another way.
    form = _ROOT_FORMS[close[0]].split(".")[1:]
    fits = len(rest) == len(form) and all(
        part == shape or (shape.startswith("<") and part)
        for part, shape in zip(rest, form, strict=True)
    )
    suggested = ".".join([close[0], *rest]) if fits else _ROOT_FORMS[close[0]]
    return f"did you mean '${{{suggested}}}'?"


# The type of each `${error.<field>}`, and its attribute on the engine's error.
_ERROR_TYPES = {
    "message": ("str", "message"),
    "type": ("str", "type"),
    "code": ("str | None", "code"),
    "step": ("str | None", "step"),
    "capability": ("str | None", "capability"),
    "retryable": ("bool", "retryable"),
    "declineCode": ("str | None", "decline_code"),
    "requestId": ("str | None", "request_id"),
}


def _base(annotation: str) -> tuple[str, bool]:
    """(`X`, True) for `X | None`, else (annotation, False)."""
    if annotation.endswith(" | None"):
        return annotation[: -len(" | None")], True
    return annotation, False


def _literal_values(annotation: str) -> list[Any] | None:
    """The values of a `Literal[...]` annotation, or None for any other."""
    if not (annotation.startswith("Literal[") and annotation.endswith("]")):
        return None
    values = ast.literal_eval("[" + annotation[len("Literal[") : -1] + "]")
    return values if isinstance(values, list) else None


def _fits(source: str, target: str) -> bool:
    """Whether a value annotated `source` may be passed where `target` is."""
    if target in ("Any", "dict[str, Any]") or source == target:
        return True
    source_base, source_none = _base(source)
    target_base, target_none = _base(target)
    if source_none and not target_none:
        return False
    if source_base == target_base:
        return True
    values = _literal_values(source_base)
    if values is not None:  # an enum fits the plain type of all its values
        kinds = {type(v).__name__ for v in values}
        allowed = _literal_values(target_base)
        if allowed is not None:
            return all(v in allowed for v in values)
        return kinds == {target_base} or (kinds <= {"int"} and target_base == "float")
    return (source_base, target_base) == ("int", "float") or target_base == "Any"


_FSTRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "{": "{{", "}": "}}"}


def _fstring_text(text: str) -> str:
    """Literal text for the inside of a double-quoted f-string."""
    out = []
    for char in text:
        if char in _FSTRING_ESCAPES:
            out.append(_FSTRING_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:  # newlines, tabs, control characters: their escape sequence
            out.append(repr(char)[1:-1])
    return "".join(out)


@dataclass
class _InputUse:
    annotation: str | None  # None: any value fits (a free-form object, a string)
    span: Span


@dataclass
class _WorkflowBuilder:
    """Resolves a checked workflow into the IR: typed inputs and step calls."""

    spec: WorkflowSpec
    document: Document
    capabilities: dict[str, Capability]
    diagnostics: Diagnostics
    email_templates: Path | None
    uses: dict[str, list[_InputUse]] = field(default_factory=dict)
    typing_imports: set[str] = field(default_factory=set)
    # What the step inputs call from the workflow engine, to import it.
    engine_functions: set[str] = field(default_factory=set)
    # Inferred inputs: spec name → Python attribute, chosen before any is read.
    input_attributes: dict[str, str] = field(default_factory=dict)

    def build(self, source_hash: str) -> Workflow | None:
        errors_before = sum(d.is_error for d in self.diagnostics.items)
        module = names.workflow_name(self.spec.workflow_id)
        prefix = names.class_name(module)
        builder = ModelBuilder(self.document, self.diagnostics)
        declared = None
        nested: tuple[Model, ...] = ()
        if self.spec.inputs is not None:
            declared = builder.build(
                f"{prefix}Input",
                f"Inputs of the `{self.spec.workflow_id}` workflow.",
                self.spec.inputs,
                ("inputs",),
            )
            self.typing_imports |= builder.typing_imports
            nested = tuple(m for m in builder.models if m is not declared)
        if declared is None:
            # Inferred inputs are typed before any step is built, so every
            # expression that reads one knows whether it may be None.
            self._name_inferred_inputs()
            self._collect_input_uses()
            input_model = self._inferred_input(f"{prefix}Input")
        else:
            input_model = declared
        attributes = {f.spec_name: f for f in input_model.fields}

        steps = []
        for i, step in enumerate(self.spec.steps):
            capability = self.capabilities.get(step.capability)
            if capability is None or capability.provider == "custom":
                self.diagnostics.error(
                    "W050",
                    f"step '{step.id}' calls '{step.capability}', which has no "
                    "generated wrapper a workflow can call",
                    self.document.span(("steps", i, "capability")),
                    "workflows call stripe, email, twilio and qdrant capabilities",
                )
                continue
            steps.append(self._step(i, step, capability, attributes))

        if sum(d.is_error for d in self.diagnostics.items) != errors_before:
            return None
        return Workflow(
            id=self.spec.workflow_id,
            version=self.spec.version,
            source=self.document.path,
            source_hash=source_hash,
            module=module,
            description=self.spec.description,
            input=input_model,
            steps=tuple(steps),
            entry=self.spec.entry or self.spec.steps[0].id,
            typing_imports=tuple(sorted(self.typing_imports)),
            engine_functions=tuple(sorted(self.engine_functions)),
            models=nested,
        )

    def _step(
        self,
        index: int,
        step: StepSpec,
        capability: Capability,
        attributes: dict[str, Field],
    ) -> Step:
        targets = {f.spec_name: f for f in capability.input.fields}
        if capability.provider == "email":
            self._check_template(index, step)
        arguments = []
        for name, value in step.inputs.items():
            target = targets[name]
            at = ("steps", index, "inputs", name)
            source = self._value(value, target.annotation, at, attributes)
            arguments.append((target.name, source))
        retry = None
        if step.retry is not None:
            r = step.retry
            cap = seconds(r.max_interval) if r.max_interval is not None else None
            retry = (
                f"RetryPolicy(max_attempts={r.max_attempts}, "
                f"initial_interval={seconds(r.initial_interval)!r}, "
                f"backoff={float(r.backoff)!r}, max_interval={cap!r})"
            )
        return Step(
            id=step.id,
            attribute=names.attribute_name(step.id, index + 1),
            capability=capability,
            arguments=tuple(arguments),
            on_success=step.on_success,
            on_failure=step.on_failure,
            retry=retry,
            timeout=seconds(step.timeout) if step.timeout is not None else None,
            description=(step.description or "").strip() or None,
        )

    def _value(
        self,
        value: Any,
        target: str | None,
        at: NodePath,
        attributes: dict[str, Field],
    ) -> str:
        """Python source for a step input value; checks it against `target`."""
        span = self.document.span(at)
        if isinstance(value, dict):
            item_target = _item_target(target)
            items = ", ".join(
                python_literal(k)
                + ": "
                + self._value(v, item_target, (*at, k), attributes)
                for k, v in value.items()
            )
            if item_target is None:
                self._check(value, "dict[str, Any]", target, span)
            return "{" + items + "}"
        if isinstance(value, list):
            items = ", ".join(
                self._value(v, None, (*at, i), attributes) for i, v in enumerate(value)
            )
            return "[" + items + "]"
        if isinstance(value, float) and not math.isfinite(value):
            written = (
                ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
            )
            self.diagnostics.error(
                "W045", f"{written} is not a number a contract can carry", span
            )
            return "0"
        if not isinstance(value, str) or "${" not in value:
            if isinstance(value, str):
                value = value.replace("$${", "${")
            self._check(value, _literal_type(value), target, span)
            return python_literal(value)
        refs = list(references(value, ()))
        if not refs:  # only escaped `$${`: plain text
            text = value.replace("$${", "${")
            self._check(text, "str", target, span)
            return python_literal(text)
        if len(refs) == 1 and refs[0].whole:
            source, annotation = self._expression(refs[0].text, attributes)
            if (
                annotation is not None
                and target is not None
                and not _fits(annotation, target)
            ):
                self.diagnostics.error(
                    "W040",
                    f"'${{{refs[0].text}}}' is {annotation}, but this input takes "
                    f"{target}",
                    span,
                    None,
                )
            return source
        # Interpolation: literal text and expressions joined into an f-string.
        parts, last = [], 0
        for match in _EXPRESSION.finditer(value):
            parts.append(
                _fstring_text(value[last : match.start()].replace("$${", "${"))
            )
            source, annotation = self._expression(match.group(1).strip(), attributes)
            if annotation is not None and _base(annotation)[1]:
                # An absent value writes no text rather than "None".
                source = f"blank_if_none({source})"
                self.engine_functions.add("blank_if_none")
            parts.append("{" + source + "}")
            last = match.end()
        parts.append(_fstring_text(value[last:].replace("$${", "${")))
        self._check(value, "str", target, span)
        return 'f"' + "".join(parts) + '"'

    def _check_template(self, index: int, step: StepSpec) -> None:
        """A template named by a literal must exist when templates are declared."""
        name = step.inputs.get("template")
        folder = self.email_templates
        if folder is None or not isinstance(name, str) or "${" in name:
            return  # a computed name is checked when the e-mail is sent
        if not (folder / f"{name}.txt").is_file():
            known = sorted(p.stem for p in folder.glob("*.txt"))
            self.diagnostics.error(
                "W043",
                f"e-mail template '{name}' does not exist: no {name}.txt in "
                f"{folder.name}/",
                self.document.span(("steps", index, "inputs", "template")),
                did_you_mean(name, known) or f"templates: {', '.join(known) or 'none'}",
            )

    def _check(
        self, value: Any, annotation: str, target: str | None, span: Span
    ) -> None:
        if target is None or _fits(annotation, target):
            return
        if (
            target.startswith("Literal[")
            and isinstance(value, str)
            and repr(value) in target
        ):
            return
        if value is None and target.endswith("| None"):
            return
        self.diagnostics.error(
            "W040", f"{value!r} is {annotation}, but this input takes {target}", span
        )

    def _expression(
        self, text: str, attributes: dict[str, Field]
    ) -> tuple[str, str | None]:
        """(Python source, its annotation) for one checked expression."""
        parts = text.split(".")
        if parts[0] == "input":
            read = attributes.get(parts[1])
            if read is None:  # an inferred input whose name clash was reported
                return "inputs._", None
            return f"inputs.{read.name}", read.annotation
        if parts[0] == "steps":
            producer = next(s for s in self.spec.steps if s.id == parts[1])
            capability = self.capabilities.get(producer.capability)
            index = self.spec.steps.index(producer)
            attribute = names.attribute_name(producer.id, index + 1)
            if capability is None:
                return "None", None
            output = {f.spec_name: f for f in capability.output.fields}[parts[3]]
            self.engine_functions.add("ran")
            return f"ran(steps.{attribute}).{output.name}", output.annotation
        annotation, attribute = _ERROR_TYPES[parts[1]]
        return f"run.error.{attribute}", annotation

    def _collect_input_uses(self) -> None:
        """Where each `${input.x}` flows, for typing the inferred inputs."""
        for index, step in enumerate(self.spec.steps):
            capability = self.capabilities.get(step.capability)
            if capability is None or capability.provider == "custom":
                continue  # reported by `build`
            targets = {f.spec_name: f.annotation for f in capability.input.fields}
            for name, value in step.inputs.items():
                at = ("steps", index, "inputs", name)
                for spec_name, target, where in _input_uses(value, targets[name], at):
                    span = self.document.span(where)
                    self.uses.setdefault(spec_name, []).append(_InputUse(target, span))

    def _name_inferred_inputs(self) -> None:
        used = sorted(
            {
                ref.text.split(".")[1]
                for step in self.spec.steps
                for ref in references(step.inputs, ())
                if ref.text.split(".")[0] == "input"
            }
        )
        taken: dict[str, str] = {}
        for position, spec_name in enumerate(used, start=1):
            attribute = names.attribute_name(spec_name, position)
            if attribute in taken:
                self.diagnostics.error(
                    "W044",
                    f"inputs '{taken[attribute]}' and '{spec_name}' both become the "
                    f"Python name '{attribute}'",
                    self.document.span(("workflowId",)),
                    "rename one, or declare the workflow's `inputs:`",
                )
                continue
            taken[attribute] = spec_name
            self.input_attributes[spec_name] = attribute

    def _inferred_input(self, name: str) -> Model:
        """The input model of a workflow that declares none, from how it uses them."""
        fields = []
        for spec_name, uses in sorted(self.uses.items()):
            if spec_name not in self.input_attributes:
                continue  # its name clashed with another's, already reported
            typed = [u for u in uses if u.annotation is not None]
            bases = {_base(u.annotation)[0] for u in typed if u.annotation}
            if len(bases) > 1:
                self.diagnostics.error(
                    "W041",
                    f"input '{spec_name}' flows into inputs of different types: "
                    + ", ".join(sorted(bases)),
                    typed[-1].span,
                    "declare the workflow's `inputs:` with the type you mean",
                )
                continue
            if bases:
                (base,) = bases
                optional = all(_base(u.annotation)[1] for u in typed if u.annotation)
            else:
                base, optional = "str", False
                self.diagnostics.warning(
                    "W042",
                    f"the type of input '{spec_name}' cannot be inferred; it is str",
                    uses[0].span,
                    "declare the workflow's `inputs:`",
                )
            if "Literal[" in base:
                self.typing_imports.add("Literal")
            if "AwareDatetime" in base:
                self.typing_imports.add("AwareDatetime")
            annotation = f"{base} | None" if optional else base
            fields.append(
                Field(
                    spec_name,
                    self.input_attributes[spec_name],
                    annotation,
                    "None" if optional else None,
                    None,
                )
            )
        return Model(
            name,
            f"Inputs of the `{self.spec.workflow_id}` workflow, inferred from "
            "the capability inputs they flow into.",
            tuple(fields),
        )


def email_templates(package: Package) -> Path | None:
    """The e-mail templates folder the email integration spec declares, if any."""
    integration = package.integrations.get("email")
    if integration is None or package.root is None:
        return None
    folder = dict(integration.settings).get("templatesDir")
    return package.root / folder if folder else None


def _item_target(target: str | None) -> str | None:
    """The type each value of a mapping must fit: text in a map of text (Stripe
    metadata), anything in a free-form object."""
    if target is not None and _base(target)[0] == "dict[str, str]":
        return "str"
    return None


def _input_uses(
    value: Any, target: str | None, at: NodePath
) -> Iterator[tuple[str, str | None, NodePath]]:
    """(input name, the type it must fit, where) for each `${input.x}` in a
    step input value; inside text or a free-form value, any type fits."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _input_uses(item, _item_target(target), (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _input_uses(item, None, (*at, i))
    elif isinstance(value, str):
        for ref in references(value, at):
            parts = ref.text.split(".")
            if parts[0] == "input":
                yield parts[1], target if ref.whole else None, at


def _literal_type(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"
