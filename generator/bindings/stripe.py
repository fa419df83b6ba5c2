"""The Stripe binding catalog, and its check against stripe-python's own types.

A binding says how a capability operation becomes a `StripeClient` call:
which service method, which capability input feeds which Stripe parameter,
and where each output is read from the response. The catalog below is data;
a spec's `provider.binding` overrides or extends it for operations the
catalog lacks.

Parameter paths are dotted, with list indexes as numbers (`items.0.price`;
`items[0].price` is accepted too). A path written `@name` is the method's
positional argument `name`, the object id in the URL. An input the binding
does not name goes to the parameter of its snake_case name. Each parameter
takes one input, and list indexes run from 0 without gaps.

At generation time every path is checked against the TypedDict that
stripe-python declares for the method's params (read from its annotations,
never from a network call), so a misspelt parameter is a diagnostic with
the valid names nearby. The Stripe parameter's type also decides the
generated field's type: a `number` feeding an integer parameter becomes
`int`, a `string` feeding a closed set of values becomes a `Literal`.
"""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ForwardRef, NotRequired, get_args, get_origin

from ..diagnostics import Diagnostics, did_you_mean
from ..ir import Model, Param, StripeCall, pystr
from ..loader import Document
from ..spec import CapabilitySpec, FieldSpec

__all__ = ["CATALOG", "Operation", "resolve"]


@dataclass(frozen=True)
class Operation:
    method: str  # "v1.payment_intents.create"
    inputs: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    mutating: bool | None = None  # None: every method but retrieve/list/search


# Since Stripe API 2025-03-31 the current period lives on subscription items;
# older API versions put it on the subscription itself, so read both.
_PERIOD_END = ("items.data.0.current_period_end", "current_period_end")

CATALOG: dict[str, Operation] = {
    "createPaymentIntent": Operation(
        "v1.payment_intents.create",
        inputs={"customerId": "customer", "paymentMethodId": "payment_method"},
        outputs={"paymentIntentId": ("id",)},
    ),
    "confirmPaymentIntent": Operation(
        "v1.payment_intents.confirm",
        inputs={"paymentIntentId": "@intent", "paymentMethodId": "payment_method"},
        outputs={"paymentIntentId": ("id",)},
    ),
    "capturePaymentIntent": Operation(
        "v1.payment_intents.capture",
        inputs={"paymentIntentId": "@intent"},
        outputs={"paymentIntentId": ("id",)},
    ),
    "cancelPaymentIntent": Operation(
        "v1.payment_intents.cancel",
        inputs={"paymentIntentId": "@intent", "reason": "cancellation_reason"},
        outputs={"paymentIntentId": ("id",)},
    ),
    "retrievePaymentIntent": Operation(
        "v1.payment_intents.retrieve",
        inputs={"paymentIntentId": "@intent"},
        outputs={"paymentIntentId": ("id",), "customerId": ("customer",)},
    ),
    "createCustomer": Operation(
        "v1.customers.create",
        outputs={"customerId": ("id",)},
    ),
    "retrieveCustomer": Operation(
        "v1.customers.retrieve",
        inputs={"customerId": "@customer"},
        outputs={"customerId": ("id",)},
    ),
    "createPaymentMethod": Operation(
        "v1.payment_methods.create",
        inputs={
            "cardNumber": "card.number",
            "expMonth": "card.exp_month",
            "expYear": "card.exp_year",
            "cvc": "card.cvc",
        },
        outputs={"paymentMethodId": ("id",)},
    ),
    "attachPaymentMethod": Operation(
        "v1.payment_methods.attach",
        inputs={"paymentMethodId": "@payment_method", "customerId": "customer"},
        outputs={"paymentMethodId": ("id",), "customerId": ("customer",)},
    ),
    "createSubscription": Operation(
        "v1.subscriptions.create",
        inputs={
            "customerId": "customer",
            "priceId": "items.0.price",
            "trialDays": "trial_period_days",
        },
        outputs={
            "subscriptionId": ("id",),
            "customerId": ("customer",),
            "currentPeriodEnd": _PERIOD_END,
        },
    ),
    "cancelSubscription": Operation(
        "v1.subscriptions.cancel",
        inputs={"subscriptionId": "@subscription_exposed_id"},
        outputs={"subscriptionId": ("id",), "currentPeriodEnd": _PERIOD_END},
    ),
    "createRefund": Operation(
        "v1.refunds.create",
        inputs={"paymentIntentId": "payment_intent", "chargeId": "charge"},
        outputs={"refundId": ("id",), "paymentIntentId": ("payment_intent",)},
    ),
}

_READ_ONLY_METHODS = {"retrieve", "list", "search"}


@dataclass(frozen=True)
class _ParamType:
    """What stripe-python's annotation of one parameter allows."""

    kinds: frozenset[str]  # int, float, str, bool, str_map, list, object
    literals: tuple[str, ...] = ()
    item: _ParamType | None = None
    typed_dict: type | None = None

    @property
    def closed_literal(self) -> bool:
        """True when only the listed strings are accepted."""
        return bool(self.literals) and "str" not in self.kinds


@dataclass
class StripeBinding:
    """A resolved binding for one capability, ready to become a `StripeCall`."""

    service: str
    method: str
    params_type: str
    resource_type: str
    mutating: bool
    params: list[tuple[str, str, str]]  # (input spec name, path, conversion)
    outputs: dict[str, tuple[str, ...]]
    input_annotations: dict[str, str]

    def call(self, inputs: Model, outputs: Model) -> StripeCall:
        attr = {f.spec_name: f.name for f in inputs.fields}
        # A parameter is always sent when its input can never be None.
        required = {
            f.spec_name for f in inputs.fields if not f.annotation.endswith("| None")
        }
        path_args: list[str] = []
        always: dict[str, Any] = {}
        optional: list[tuple[list[str], _Source, str]] = []
        for spec_name, path, conversion in self.params:
            value = _Source(conversion.format(f"inputs.{attr[spec_name]}"))
            if path.startswith("@"):
                path_args.append(value.text)
            elif spec_name in required:
                _insert(always, path.split("."), value)
            else:
                optional.append((path.split("."), value, f"inputs.{attr[spec_name]}"))
        params = [Param(k, _render(v)) for k, v in always.items()]
        for parts, value, guard in optional:
            # The optional value goes in with its object's always-sent fields:
            # assigning it alone would replace them. `resolve` lets at most one
            # optional input into each top-level parameter, so none is lost.
            top = parts[0]
            tree = {top: copy.deepcopy(always[top])} if top in always else {}
            _insert(tree, parts, value)
            params.append(Param(top, _render(tree[top]), guard=guard))
        return StripeCall(
            service=self.service,
            method=self.method,
            params_type=self.params_type,
            resource_type=self.resource_type,
            path_args=tuple(path_args),
            params=tuple(params),
            outputs=tuple(
                (f.spec_name, self.outputs.get(f.spec_name) or (_snake(f.spec_name),))
                for f in outputs.fields
            ),
            mutating=self.mutating,
        )


@dataclass(frozen=True)
class _Source:
    """Python source of a leaf value in the params tree."""

    text: str


def _insert(tree: dict[str, Any], parts: list[str], leaf: _Source) -> None:
    node: Any = tree
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        key: Any = int(part) if _is_index(part) else part
        if following is None:
            node[key] = leaf
            return
        child: list[Any] | dict[str, Any] = [] if _is_index(following) else {}
        if isinstance(node, list):
            while len(node) <= key:
                node.append(None)
            node[key] = node[key] if node[key] is not None else child
            node = node[key]
        else:
            node = node.setdefault(key, child)


def _render(node: Any) -> str:
    if isinstance(node, _Source):
        return node.text
    if isinstance(node, list):
        return "[" + ", ".join(_render(v) for v in node) + "]"
    return "{" + ", ".join(f"{pystr(k)}: {_render(v)}" for k, v in node.items()) + "}"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _normalise_path(path: str) -> str:
    parts = re.sub(r"\[(\d+)\]", r".\1", path).split(".")
    return ".".join(str(int(p)) if _is_index(p) else p for p in parts)


def _is_index(part: str) -> bool:
    return part.isascii() and part.isdigit()


@functools.cache
def _client() -> Any:
    import stripe

    # Only used to look up service classes and their signatures; never calls out.
    return stripe.StripeClient("sk_test_contractgen_introspection")


def _method_info(method: str) -> tuple[str, str, str, list[str]] | None:
    """(params TypedDict name, resource class, service path, positionals)."""
    *service_path, name = method.split(".")
    target: Any = _client()
    try:
        for part in service_path:
            target = getattr(target, part)
        function = getattr(target, name)
        signature = inspect.signature(function)
    except (AttributeError, ValueError, TypeError):
        return None
    params_annotation = signature.parameters.get("params")
    if params_annotation is None:
        return None
    params_type = _forward_name(params_annotation.annotation)
    resource = _forward_name(signature.return_annotation)
    positionals = [
        p.name
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_ONLY
    ]
    return params_type, resource, ".".join(service_path), positionals


def _forward_name(annotation: Any) -> str:
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, ForwardRef):
            return arg.__forward_arg__
        if isinstance(arg, str):
            return arg
        if isinstance(arg, type):
            return arg.__name__
    return str(annotation)


def _typed_dict(name: str) -> type | None:
    import stripe.params

    found = getattr(stripe.params, name, None)
    return found if isinstance(found, type) else None


def _param_type(annotation: Any, module: Any) -> _ParamType:
    if get_origin(annotation) is NotRequired:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, ForwardRef):
        return _parse(annotation.__forward_arg__, module)
    if isinstance(annotation, str):
        return _parse(annotation, module)
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation)
        return _ParamType(frozenset({"list"}), item=_param_type(item, module))
    if isinstance(annotation, type):
        if annotation in (int, float, str, bool):
            return _ParamType(frozenset({annotation.__name__}))
        if hasattr(annotation, "__annotations__"):
            return _ParamType(frozenset({"object"}), typed_dict=annotation)
    return _ParamType(frozenset({"any"}))


_LITERAL = re.compile(r"Literal\[([^\]]*)\]")


def _parse(text: str, module: Any) -> _ParamType:
    """Reads stripe-python's string annotations: unions, Literal, Dict, List."""
    kinds: set[str] = set()
    literals: list[str] = []
    item = None
    typed = None
    for part in _split_union(text):
        part = part.strip()
        literal = _LITERAL.fullmatch(part)
        if literal:
            literals += [v.strip().strip("'\"") for v in literal.group(1).split(",")]
            kinds.add("literal")
        elif part in ("int", "float", "str", "bool"):
            kinds.add(part)
        elif part.startswith(("Dict[str, str]", "UntypedStripeObject")):
            kinds.add("str_map")
        elif part.startswith("List["):
            kinds.add("list")
            item = _parse(part[5:-1], module)
        elif part.startswith("Dict["):
            kinds.add("any")
        elif hasattr(module, part):
            kinds.add("object")
            typed = getattr(module, part)
    return _ParamType(frozenset(kinds), tuple(v for v in literals if v), item, typed)


def _split_union(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _walk(
    typed_dict: type, path: list[str]
) -> tuple[_ParamType | None, str, list[str]]:
    """The type at a dotted path; else None, the failing part and the valid names."""
    module = sys.modules[typed_dict.__module__]
    current = _ParamType(frozenset({"object"}), typed_dict=typed_dict)
    for part in path:
        if _is_index(part):
            if current.item is None:
                return None, part, []
            current = current.item
            continue
        if current.typed_dict is None:
            return None, part, []
        annotations = _annotations(current.typed_dict)
        if part not in annotations:
            return None, part, sorted(annotations)
        current = _param_type(annotations[part], module)
    return current, "", []


def _annotations(cls: type) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        merged.update(getattr(base, "__annotations__", {}))
    # RequestOptions keys are the client's, not the API's parameters.
    for key in (
        "api_key",
        "stripe_version",
        "stripe_account",
        "stripe_context",
        "max_network_retries",
        "idempotency_key",
        "content_type",
        "headers",
    ):
        merged.pop(key, None)
    return merged


def resolve(
    spec: CapabilitySpec, document: Document, diagnostics: Diagnostics
) -> StripeBinding | None:
    """Resolve and check the binding of one Stripe capability."""
    provider = spec.provider
    operation_at = ("provider", "operation")
    override = provider.binding
    catalogued = CATALOG.get(provider.operation or "")
    if catalogued is None and (override is None or override.method is None):
        diagnostics.error(
            "C010",
            f"unknown Stripe operation '{provider.operation}'",
            document.span(operation_at),
            did_you_mean(provider.operation or "", list(CATALOG))
            or "declare `provider.binding.method` for an operation the catalog lacks",
        )
        return None
    method = (override.method if override and override.method else None) or (
        catalogued.method if catalogued else ""
    )
    info = _method_info(method)
    if info is None:
        diagnostics.error(
            "C011",
            f"stripe-python's StripeClient has no method '{method}'",
            document.span(("provider", "binding", "method")),
            "write it as the attribute path from the client, e.g. "
            "'v1.payment_intents.create'",
        )
        return None
    params_type, resource, service, positionals = info
    typed_dict = _typed_dict(params_type)
    if typed_dict is None:
        diagnostics.error(
            "C011",
            f"stripe-python has no params type {params_type}",
            document.span(operation_at),
            None,
        )
        return None

    mapping = dict(catalogued.inputs if catalogued else {})
    if override:
        mapping.update(override.inputs)
    outputs = dict(catalogued.outputs if catalogued else {})
    if override:
        outputs.update(
            (k, (v,) if isinstance(v, str) else tuple(v))
            for k, v in override.outputs.items()
        )
    mutating = override.mutating if override and override.mutating is not None else None
    if mutating is None and catalogued is not None:
        mutating = catalogued.mutating
    if mutating is None:
        mutating = method.rsplit(".", 1)[-1] not in _READ_ONLY_METHODS

    binding = StripeBinding(
        service=service,
        method=method.rsplit(".", 1)[-1],
        params_type=params_type,
        resource_type=resource,
        mutating=mutating,
        params=[],
        outputs={k: tuple(_normalise_path(p) for p in v) for k, v in outputs.items()},
        input_annotations={},
    )
    bound_top: set[str] = set()
    bound_positionals: set[str] = set()
    for name, field_spec in spec.inputs.items():
        path = _normalise_path(mapping.get(name, _snake(name)))
        at = ("inputs", name)
        if path.startswith("@"):
            if path[1:] not in positionals:
                diagnostics.error(
                    "C012",
                    f"'{method}' has no positional argument '{path[1:]}'",
                    document.key_span(at),
                    f"its positional arguments are: {', '.join(positionals) or 'none'}",
                )
                continue
            bound_positionals.add(path[1:])
            binding.params.append((name, path, "{}"))
            continue
        param, wrong, valid = _walk(typed_dict, path.split("."))
        if param is None:
            diagnostics.error(
                "C012",
                f"input '{name}' maps to '{path}', which is not a parameter of "
                f"{params_type}",
                document.key_span(at),
                did_you_mean(wrong, valid)
                or (f"valid parameters here: {', '.join(valid)}" if valid else None),
            )
            continue
        conversion = _check_type(
            name, path, field_spec, param, binding, document, diagnostics
        )
        if conversion is not None:
            binding.params.append((name, path, conversion))
            bound_top.add(path.split(".")[0])
    sound = _check_shape(spec, binding, document, diagnostics)

    for positional in positionals:
        if positional not in bound_positionals:
            diagnostics.error(
                "C013",
                f"'{method}' needs its positional argument '{positional}', "
                "but no input is bound to it",
                document.span(("inputs",)),
                "bind an input to it with "
                f"`provider.binding.inputs: {{name: '@{positional}'}}`",
            )
    for required in sorted(getattr(typed_dict, "__required_keys__", ())):
        if required in _annotations(typed_dict) and required not in bound_top:
            diagnostics.error(
                "C013",
                f"Stripe requires the parameter '{required}' for {provider.operation}, "
                "but no input maps to it",
                document.span(("inputs",)),
                f"add an input named '{required}'",
            )
    _check_outputs(spec, binding, resource, document, diagnostics)
    return binding if sound else None


def _check_shape(
    spec: CapabilitySpec,
    binding: StripeBinding,
    document: Document,
    diagnostics: Diagnostics,
) -> bool:
    """Whether the bound paths build one request that loses no input.

    Each parameter or positional argument takes one input, never two, and never
    one for an object and others for fields inside it. Lists are sent from
    index 0 without gaps. Offending bindings are reported and dropped, so one
    mistake is reported once.
    """
    maybe_none = {
        name
        for name, f in spec.inputs.items()
        if f.nullable or (f.optional and not f.has_default)
    }
    kept: list[tuple[str, str, str]] = []

    def reject(code: str, name: str, message: str, hint: str) -> None:
        diagnostics.error(code, message, document.key_span(("inputs", name)), hint)
        kept[:] = [entry for entry in kept if entry[0] != name]

    for name, path, conversion in binding.params:
        clash = next(((o, p) for o, p, _ in kept if _overlap(p, path)), None)
        kept.append((name, path, conversion))
        if clash is None:
            continue
        other, other_path = clash
        if other_path == path:
            target = (
                f"the positional argument '{path[1:]}'"
                if path[0] == "@"
                else f"'{path}'"
            )
            reject(
                "C015",
                name,
                f"inputs '{other}' and '{name}' are both bound to {target}",
                "bind each Stripe parameter to one input: remove one of them, or "
                "bind it elsewhere with `provider.binding.inputs`",
            )
        else:
            outer, inner = sorted((path, other_path), key=len)
            reject(
                "C015",
                name,
                f"inputs '{other}' and '{name}' overlap: '{inner}' is part of "
                f"'{outer}'",
                f"bind either '{outer}' as a whole or the parameters inside it, "
                "not both",
            )

    elements: dict[tuple[str, ...], list[str]] = {}
    for name, path, _ in kept:
        parts = path.split(".")
        for i, part in enumerate(parts):
            if _is_index(part):
                elements.setdefault(tuple(parts[: i + 1]), []).append(name)
    for name, path, _ in list(kept):
        parts = path.split(".")
        for i, part in enumerate(parts):
            if not _is_index(part) or int(part) == 0:
                continue
            before = (*parts[:i], str(int(part) - 1))
            if before in elements:
                continue
            free = next(
                n for n in itertools.count() if (*parts[:i], str(n)) not in elements
            )
            suggestion = ".".join([*parts[:i], str(free), *parts[i + 1 :]])
            reject(
                "C012",
                name,
                f"input '{name}' maps to '{path}', but no input fills "
                f"'{'.'.join(before)}'",
                "Stripe lists are sent from index 0 without gaps: map it to "
                f"'{suggestion}'",
            )
            break
    for element, names in elements.items():
        after = (*element[:-1], str(int(element[-1]) + 1))
        if after in elements and all(n in maybe_none for n in names):
            reject(
                "C012",
                names[0],
                f"only optional inputs fill '{'.'.join(element)}', so without "
                f"them the request would have a gap before '{'.'.join(after)}'",
                f"make '{names[0]}' required, or map it into the list's last element",
            )

    # TODO(typed locals): two optional fields of one object each need their own
    # assignment into a typed local, which `StripeCall.params` cannot express.
    first_optional: dict[str, str] = {}
    for name, path, _ in list(kept):
        top = path.split(".")[0]
        if name not in maybe_none or path[0] == "@":
            continue
        if top not in first_optional:
            first_optional[top] = name
            continue
        reject(
            "C016",
            name,
            f"inputs '{first_optional[top]}' and '{name}' are both optional and "
            f"both fill '{top}'; contractgen cannot yet send optional fields of "
            "one Stripe object independently",
            "make all but one of them required, or give them defaults",
        )

    sound = len(kept) == len(binding.params)
    binding.params[:] = kept
    return sound


def _overlap(path: str, other: str) -> bool:
    """True when the paths are equal or one names an object holding the other."""
    return (
        path == other
        or f"{path}.".startswith(f"{other}.")
        or f"{other}.".startswith(f"{path}.")
    )


def _check_type(
    name: str,
    path: str,
    field_spec: FieldSpec,
    param: _ParamType,
    binding: StripeBinding,
    document: Document,
    diagnostics: Diagnostics,
) -> str | None:
    """The conversion from the input attribute to the parameter, or None."""
    kinds = param.kinds
    at = ("inputs", name, "type")
    declared = field_spec.type
    if declared == "number" and "int" in kinds and "float" not in kinds:
        diagnostics.warning(
            "C020",
            f"input '{name}' is declared number but feeds an integer Stripe "
            "parameter; it is generated as int",
            document.span(at),
            "declare it `type: integer`"
            + (
                " (Stripe amounts are in the currency's smallest unit)"
                if "amount" in name.lower()
                else ""
            ),
        )
        binding.input_annotations[name] = "int"
        return "{}"
    if declared == "timestamp" and "int" in kinds:
        return "int({}.timestamp())"
    if declared == "object" and not field_spec.properties and "str_map" in kinds:
        binding.input_annotations[name] = "dict[str, str]"
        return "{}"
    if declared == "string" and param.closed_literal:
        values = ", ".join(repr(v) for v in param.literals)
        binding.input_annotations[name] = f"Literal[{values}]"
        return "{}"
    if declared == "enum" and (param.literals or "str" in kinds):
        unknown = [
            v
            for v in field_spec.values or []
            if param.closed_literal and v not in param.literals
        ]
        if not unknown:
            return "{}"
        diagnostics.error(
            "C021",
            f"enum values {unknown} of '{name}' are not accepted by Stripe",
            document.span(("inputs", name, "values")),
            f"Stripe accepts: {', '.join(param.literals)}",
        )
        return None
    accepted = {
        "string": {"str"},
        "integer": {"int", "float"},
        "number": {"float"},
        "boolean": {"bool"},
        "array": {"list"},
        "object": {"str_map", "any"},
    }.get(declared, set())
    if kinds & (accepted | {"any"}):
        return "{}"
    if param.typed_dict is not None:
        fields = sorted(_annotations(param.typed_dict))
        diagnostics.error(
            "C021",
            f"input '{name}' is declared {declared}, but its Stripe parameter "
            f"'{path}' is a structured object ({param.typed_dict.__name__}), "
            "which one input cannot fill",
            document.span(at),
            "map the object's fields to inputs of their own with dotted paths, "
            f"e.g. `provider.binding.inputs: {{{fields[0]}: {path}.{fields[0]}}}`; "
            f"its fields: {', '.join(fields[:12])}",
        )
        return None
    diagnostics.error(
        "C021",
        f"input '{name}' is declared {declared}, but its Stripe parameter takes "
        + " or ".join(
            sorted(kinds - {"literal"}) or ["one of " + ", ".join(param.literals)]
        ),
        document.span(at),
        None,
    )
    return None


def _check_outputs(
    spec: CapabilitySpec,
    binding: StripeBinding,
    resource: str,
    document: Document,
    diagnostics: Diagnostics,
) -> None:
    import stripe

    resource_class = getattr(stripe, resource, None)
    if resource_class is None:
        return
    fields = _annotations(resource_class) | {"id": str, "object": str}
    for name in spec.outputs:
        paths = binding.outputs.get(name) or (_snake(name),)
        if not any(p.split(".")[0] in fields for p in paths):
            diagnostics.error(
                "C014",
                f"output '{name}' is read from '{paths[0]}', which {resource} "
                "does not have",
                document.key_span(("outputs", name)),
                did_you_mean(paths[0].split(".")[0], sorted(fields))
                or "map it with `provider.binding.outputs`",
            )
