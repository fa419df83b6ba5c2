"""Generated workflow code: what the steps' text says when a value is absent,
in process and on Temporal, and how a step's description is shown.

The greet workflow below creates a customer, texts them, then e-mails them; a
failure to create the customer is e-mailed to ops. Its text interpolates an
optional input, a nullable step output and error fields that a codeless
error leaves empty. The capabilities are fakes that record what each call
received, so the tests read the text each step was given.
"""

from __future__ import annotations

import ast
import asyncio
import io
import json
import re
import tokenize
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import black
import pytest
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from generated._runtime.context import CallContext
from tests.support import ROOT, Generated, example_with

Generate = Callable[..., Generated]

_DECLARED_INPUTS = """\
inputs:
  email: {type: string}
  name: {type: string, optional: true}
"""

_GREET = """\
workflowId: greet
version: '1'
%(inputs)ssteps:
  - id: create-customer
    capability: stripe-create-customer
    inputs: {email: "${input.email}", name: "${input.name}"}
    onSuccess: text-customer
    onFailure: tell-ops
  - id: text-customer
    capability: twilio-send-sms
    inputs:
      to: "+15555550100"
      body: "Hello ${input.name}, welcome (${input.email})."
    onSuccess: send-welcome
  - id: send-welcome
    capability: send-email
    inputs:
      to: ${input.email}
      template: welcome
      subject: "Texted ${input.name}: error ${steps.text-customer.output.errorCode}"
      data:
        errorCode: ${steps.text-customer.output.errorCode}
  - id: tell-ops
    capability: send-email
    inputs:
      to: ops@example.com
      template: ops
      subject: "${error.type} at ${error.step}, code ${error.code}: ${error.message}"
"""


def _greet(inputs: str = _DECLARED_INPUTS) -> dict[str, str]:
    return {**example_with(), "greet.yaml": _GREET % {"inputs": inputs}}


class RecordingCapabilities:
    """Answers the greet workflow's calls at once and keeps what each got.

    `sms_error_code` is what the text message reports; with `failing`, that
    capability function raises a provider error without a code.
    """

    def __init__(
        self,
        tree: Generated,
        *,
        sms_error_code: int | None = None,
        failing: str | None = None,
    ) -> None:
        self.tree = tree
        self.sms_error_code = sms_error_code
        self.failing = failing
        self.received: dict[str, list[Any]] = defaultdict(list)

    def _call(self, function: str, inputs: BaseModel, output: str, **data: Any) -> Any:
        self.received[function].append(inputs)
        if function == self.failing:
            errors = self.tree.module("_runtime.errors")
            raise errors.ProviderError(
                "the provider is down", capability=function, provider="test"
            )
        module = self.tree.module(output.rsplit(".", 1)[0])
        return getattr(module, output.rsplit(".", 1)[1]).model_validate(data)

    def create_customer(self, inputs: Any, *, context: CallContext) -> Any:
        return self._call(
            "create_customer",
            inputs,
            "stripe.create_customer.CreateCustomerOutput",
            customerId="cus_1",
            email=inputs.email,
        )

    def send_sms(self, inputs: Any, *, context: CallContext) -> Any:
        return self._call(
            "send_sms",
            inputs,
            "twilio.send_sms.SendSmsOutput",
            messageSid="SM1",
            status="queued",
            errorCode=self.sms_error_code,
        )

    def send_email(self, inputs: Any, *, context: CallContext) -> Any:
        return self._call(
            "send_email",
            inputs,
            "email.send_email.SendEmailOutput",
            messageId="<1@test>",
        )

    async def create_customer_async(self, inputs: Any, *, context: CallContext) -> Any:
        return self.create_customer(inputs, context=context)

    async def send_sms_async(self, inputs: Any, *, context: CallContext) -> Any:
        return self.send_sms(inputs, context=context)

    async def send_email_async(self, inputs: Any, *, context: CallContext) -> Any:
        return self.send_email(inputs, context=context)


def _run(
    tree: Generated, caps: RecordingCapabilities, mode: str = "sync", **inputs: Any
) -> Any:
    module = tree.module("workflows.greet")
    journal = tree.module("_runtime.journal").NullJournal()
    given = module.GreetInput.model_validate(inputs)
    if mode == "async":
        return asyncio.run(module.greet_async(given, caps, journal=journal))
    return module.greet(given, caps, journal=journal)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("inputs", [_DECLARED_INPUTS, ""], ids=["declared", "inferred"])
def test_an_absent_optional_input_is_blank_in_text_and_none_as_a_whole_value(
    generate: Generate, inputs: str, mode: str
) -> None:
    tree = generate(_greet(inputs))
    assert tree.ok, tree.diagnostics()
    caps = RecordingCapabilities(tree)

    result = _run(tree, caps, mode, email="ada@example.com")

    assert result.status == "succeeded"
    [customer] = caps.received["create_customer"]
    assert customer.name is None
    [sms] = caps.received["send_sms"]
    assert sms.body == "Hello , welcome (ada@example.com)."


def test_a_given_optional_input_is_written_into_text(generate: Generate) -> None:
    tree = generate(_greet())
    caps = RecordingCapabilities(tree)

    _run(tree, caps, email="ada@example.com", name="Ada")

    [sms] = caps.received["send_sms"]
    assert sms.body == "Hello Ada, welcome (ada@example.com)."


@pytest.mark.parametrize(
    ("code", "subject"), [(None, "Texted Ada: error "), (0, "Texted Ada: error 0")]
)
def test_an_absent_step_output_is_blank_in_text_but_zero_is_written(
    generate: Generate, code: int | None, subject: str
) -> None:
    tree = generate(_greet())
    caps = RecordingCapabilities(tree, sms_error_code=code)

    _run(tree, caps, email="ada@example.com", name="Ada")

    [email] = caps.received["send_email"]
    assert email.subject == subject
    assert email.data == {"errorCode": code}


def test_error_fields_an_error_left_empty_are_blank_in_text(
    generate: Generate,
) -> None:
    tree = generate(_greet())
    caps = RecordingCapabilities(tree, failing="create_customer")

    result = _run(tree, caps, email="ada@example.com")

    assert (result.status, result.handled) == ("failed", True)
    [email] = caps.received["send_email"]
    assert email.subject == (
        "ProviderError at create-customer, code : the provider is down"
    )


def test_only_expressions_that_may_be_none_are_wrapped(generate: Generate) -> None:
    tree = generate(_greet())
    source = (tree.output / "workflows" / "greet.py").read_text("utf-8")

    assert 'body=f"Hello {blank_if_none(inputs.name)}, welcome ({inputs.email})."' in (
        source
    )
    assert "{blank_if_none(ran(steps.text_customer).error_code)}" in source
    assert "{run.error.type} at {blank_if_none(run.error.step)}" in source
    assert "{run.error.message}" in source
    assert "name=inputs.name," in source
    examples = (ROOT / "generated" / "workflows").glob("*.py")
    assert not [p.name for p in examples if "blank_if_none" in p.read_text("utf-8")]


def test_temporal_workflows_blank_absent_values_in_text_too(
    generate: Generate, temporal_address: str
) -> None:
    tree = generate(_greet(), temporal=True)
    assert tree.ok, tree.diagnostics()
    greet = tree.module("workflows.greet")
    create_worker = tree.module("temporal.worker").create_worker
    workflow_class = tree.module("temporal.greet").GreetWorkflow

    def on_temporal(caps: RecordingCapabilities, **inputs: Any) -> Any:
        async def main() -> Any:
            client = await Client.connect(
                temporal_address, data_converter=pydantic_data_converter
            )
            task_queue = f"test-{uuid.uuid4().hex}"
            async with create_worker(client, caps, task_queue=task_queue):
                return await client.execute_workflow(
                    workflow_class.run,
                    greet.GreetInput.model_validate(inputs),
                    id=f"greet-{uuid.uuid4().hex}",
                    task_queue=task_queue,
                )

        return asyncio.run(main())

    succeeding = RecordingCapabilities(tree)
    on_temporal(succeeding, email="ada@example.com")
    failing = RecordingCapabilities(tree, failing="create_customer")
    on_temporal(failing, email="ada@example.com")

    assert succeeding.received["create_customer"][0].name is None
    assert succeeding.received["send_sms"][0].body == (
        "Hello , welcome (ada@example.com)."
    )
    assert succeeding.received["send_email"][0].subject == "Texted : error "
    assert failing.received["send_email"][0].subject == (
        "ProviderError at create-customer, code : the provider is down"
    )


# Everything that could end a comment, reach a tool or break a line: quotes,
# backslashes, line breaks of every kind, control characters, words tools
# obey, template-like text, non-ASCII and lines far longer than 88 columns.
HOSTILE = (
    'Quotes \' " """ and \'\'\' end nothing """\n'
    "A backslash at the end \\\n"
    "fmt: off\n"
    "# noqa\n"
    "type: ignore\n"
    "see #noqa: E501 and pylint: disable=all\n"
    "\n"
    "Tabs\tand a NUL\x00 and a bell\x07, then\r\nCRLF, a line\u2028separator, a"
    "\x0cform feed\n"
    "Non-ASCII: ünïcødé ☃ 漢字 “quoted”\n"
    + " ".join(["word"] * 60)
    + "\n}} {{ ${input.email} {% raw %} $${x}\n"
    "ends with a backslash \\"
)

_DESCRIBED = """\
workflowId: described
version: '1'
steps:
  - id: charge
    capability: stripe-create-customer
%(description)s    inputs: {email: "${input.email}"}
"""


def _described(description: str | None) -> dict[str, str]:
    line = (
        "" if description is None else f"    description: {json.dumps(description)}\n"
    )
    return {**example_with(), "described.yaml": _DESCRIBED % {"description": line}}


def _own_line_comments(source: str) -> list[str]:
    """The indented comment lines: all but the header's."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [
        token.line.rstrip("\n")
        for token in tokens
        if token.type == tokenize.COMMENT
        and token.line.lstrip().startswith("#")
        and token.start[1] > 0
    ]


def test_a_step_description_is_a_comment_above_the_step(generate: Generate) -> None:
    tree = generate(
        _described("Creates the customer.\nThen nothing else."), temporal=True
    )
    assert tree.ok, tree.diagnostics()

    for path, pad in (("workflows/described.py", 12), ("temporal/described.py", 16)):
        source = (tree.output / path).read_text("utf-8")
        block = (
            f'if current == "charge":\n'
            f"{' ' * pad}# Creates the customer.\n"
            f"{' ' * pad}# Then nothing else.\n"
            f"{' ' * pad}steps.charge = "
        )
        assert source.count(block) == (2 if path.startswith("workflows") else 1)


def test_a_hostile_step_description_stays_an_inert_comment(
    generate: Generate,
) -> None:
    hostile = generate(_described(HOSTILE), temporal=True)
    plain = generate(_described(None), temporal=True)
    assert hostile.ok, hostile.diagnostics()

    for path in ("workflows/described.py", "temporal/described.py"):
        source = (hostile.output / path).read_text("utf-8")
        without = (plain.output / path).read_text("utf-8")
        without = without.replace(plain.package, hostile.package)
        # Only comments were added: the code is the code without a description.
        assert ast.dump(ast.parse(source)) == ast.dump(ast.parse(without))
        assert black.format_str(source, mode=black.Mode()) == source
        comments = _own_line_comments(source)
        assert comments, path
        for line in comments:
            assert len(line) <= 88, line
            # No tool reads any of it as an order.
            assert not re.search(r"#\s*(fmt|type|noqa|pylint)\b", line, re.I), line
        text = "\n".join(comments)
        assert "ünïcødé ☃ 漢字 “quoted”" in text
        assert "# `fmt`: off" in text and "# `type`: ignore" in text
        assert "NUL\\x00 and a bell\\x07" in text
        stripped = [line.strip() for line in comments]
        assert {"# CRLF, a line", "# separator, a", "# form feed"} <= set(stripped)
    hostile.module("workflows.described")
    hostile.module("temporal.described")


def test_a_step_description_breaks_at_every_line_break_and_escapes_the_rest(
    generate: Generate,
) -> None:
    description = "Carriage\rreturn\x01, tab\there, NEL\x85next, LS\u2028next."
    tree = generate(_described(description))
    assert tree.ok, tree.diagnostics()

    source = (tree.output / "workflows/described.py").read_text("utf-8")
    comments = [line.strip() for line in _own_line_comments(source)]

    # As docs/workflows.md describes the comment.
    assert comments[:4] == [
        "# Carriage",
        "# return\\x01, tab here, NEL",
        "# next, LS",
        "# next.",
    ]


# --- absent values of every shape, in process and on Temporal -----------------------

_SHAPES = """\
workflowId: shapes
version: '1'
inputs:
  email: {type: string}
  address:
    type: object
    optional: true
    properties:
      line1: {type: string}
      postalCode: {type: string, optional: true}
  tags: {type: array, items: {type: string}, optional: true}
  notes: {type: object, optional: true}
  when: {type: timestamp, optional: true}
  speed: {type: enum, values: [standard, express], optional: true}
  price: {type: number, optional: true}
  gift: {type: boolean, optional: true}
  count: {type: integer, optional: true}
steps:
  - id: tell
    capability: send-email
    inputs:
      to: ${input.email}
      template: welcome
      subject: "a=${input.address}|t=${input.tags}|n=${input.notes}|w=${input.when}\\
        |s=${input.speed}|p=${input.price}|g=${input.gift}|c=${input.count}"
"""

_GIVEN_SHAPES = {
    "address": {"line1": "1 Main St"},
    "tags": [],
    "notes": {"floor": 2, "ratio": 1.0, "list": [1, "x"]},
    "when": "2026-03-01T09:30:00+01:00",
    "speed": "express",
    "price": 0.0,
    "gift": False,
    "count": 0,
}


def test_a_declared_object_input_with_properties_gets_its_own_model(
    generate: Generate,
) -> None:
    tree = generate({**example_with(), "shapes.yaml": _SHAPES})
    shapes = tree.module("workflows.shapes")

    given = shapes.ShapesInput.model_validate(
        {
            "email": "ada@example.com",
            "address": {"line1": "1 Main St", "postalCode": "9"},
        }
    )

    assert type(given.address).__name__ == "ShapesInputAddress"
    assert given.model_dump(exclude_none=True)["address"] == {
        "line1": "1 Main St",
        "postalCode": "9",
    }


def test_absent_and_given_values_of_every_shape_read_alike_on_both_engines(
    generate: Generate, temporal_address: str
) -> None:
    tree = generate({**example_with(), "shapes.yaml": _SHAPES}, temporal=True)
    assert tree.ok, tree.diagnostics()
    shapes = tree.module("workflows.shapes")
    create_worker = tree.module("temporal.worker").create_worker
    workflow_class = tree.module("temporal.shapes").ShapesWorkflow
    journal = tree.module("_runtime.journal").NullJournal()

    def in_process(**inputs: Any) -> str:
        caps = RecordingCapabilities(tree)
        shapes.shapes(shapes.ShapesInput.model_validate(inputs), caps, journal=journal)
        subject: str = caps.received["send_email"][0].subject
        return subject

    def on_temporal(**inputs: Any) -> str:
        caps = RecordingCapabilities(tree)

        async def main() -> None:
            client = await Client.connect(
                temporal_address, data_converter=pydantic_data_converter
            )
            task_queue = f"test-{uuid.uuid4().hex}"
            async with create_worker(client, caps, task_queue=task_queue):
                await client.execute_workflow(
                    workflow_class.run,
                    shapes.ShapesInput.model_validate(inputs),
                    id=f"shapes-{uuid.uuid4().hex}",
                    task_queue=task_queue,
                )

        asyncio.run(main())
        subject: str = caps.received["send_email"][0].subject
        return subject

    absent = in_process(email="ada@example.com")
    given = in_process(email="ada@example.com", **_GIVEN_SHAPES)

    assert absent == "a=|t=|n=|w=|s=|p=|g=|c="
    assert on_temporal(email="ada@example.com") == absent
    assert on_temporal(email="ada@example.com", **_GIVEN_SHAPES) == given
    assert given == (
        "a=line1='1 Main St' postal_code=None|t=[]"
        "|n={'floor': 2, 'ratio': 1.0, 'list': [1, 'x']}"
        "|w=2026-03-01 09:30:00+01:00|s=express|p=0.0|g=False|c=0"
    )
