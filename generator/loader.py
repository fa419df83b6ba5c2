"""Load spec files: YAML in, plain data out, with a position for every node.

This is the first stage of the pipeline. It reads each file under the specs
folder as UTF-8, parses it with PyYAML's safe composer (never its
constructor for anything but plain scalars), and turns every YAML node into
plain Python data while remembering where it came from, so that later stages
can point a diagnostic at `specs/x.yaml:12:7`.

Specs are untrusted input. The loader refuses, with a diagnostic and never an
exception: YAML tags other than the plain ones (`!!python/object` and
friends), duplicate keys, merge keys, files over `MAX_FILE_BYTES`, documents
nested deeper than `MAX_DEPTH`, and alias expansion past `MAX_NODES` nodes
(the "billion laughs" shape).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .diagnostics import Diagnostics, Span
from .manifest import discover

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Document",
    "DocumentKind",
    "NodePath",
    "discover",
    "load_file",
    "load_text",
]

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 40
MAX_NODES = 50_000

# A path to a node inside a document: mapping keys and sequence indexes.
NodePath = tuple[str | int, ...]

DocumentKind = str  # "capability" | "workflow" | "integration"

_KIND_KEYS = {
    "capabilityId": "capability",
    "workflowId": "workflow",
    "integration": "integration",
}

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_STR_TAG = "tag:yaml.org,2002:str"
_SURROGATE = re.compile("[\ud800-\udfff]")
# YAML 1.1 turns `2024-01-01` into a date; a contract language wants the text.
_TEXT_TAGS = {"tag:yaml.org,2002:timestamp"}


@dataclass
class Document:
    """One YAML document of a spec file, as plain data plus positions."""

    path: str
    index: int
    data: Any
    spans: dict[NodePath, Span] = field(default_factory=dict)
    key_spans: dict[NodePath, Span] = field(default_factory=dict)
    # Scalars written in quotes, whose text starts a column after their span.
    quoted: set[NodePath] = field(default_factory=set)

    @property
    def kind(self) -> DocumentKind | None:
        if isinstance(self.data, dict):
            for key, kind in _KIND_KEYS.items():
                if key in self.data:
                    return kind
        return None

    def span(self, at: NodePath) -> Span:
        """The position of the value at `at`, or of its nearest known ancestor."""
        at = tuple(at)
        while at:
            if at in self.spans:
                return self.spans[at]
            at = at[:-1]
        return self.spans.get((), Span(self.path, 1, 1))

    def key_span(self, at: NodePath) -> Span:
        """The position of the key that holds the value at `at`."""
        return self.key_spans.get(tuple(at)) or self.span(at)


def load_file(path: Path, display: str, diagnostics: Diagnostics) -> list[Document]:
    """Load every document of one spec file; problems go to `diagnostics`."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        diagnostics.error(
            "Y005", f"cannot read spec file: {err.strerror}", Span(display, 1, 1)
        )
        return []
    if len(raw) > MAX_FILE_BYTES:
        diagnostics.error(
            "Y004",
            f"spec file is {len(raw):,} bytes; the limit is {MAX_FILE_BYTES:,}",
            Span(display, 1, 1),
            "split it into several files",
        )
        return []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        diagnostics.error(
            "Y003",
            f"spec file is not UTF-8 (byte {err.start})",
            Span(display, 1, 1),
        )
        return []
    return load_text(text, display, diagnostics)


def load_text(text: str, display: str, diagnostics: Diagnostics) -> list[Document]:
    if text.startswith("\ufeff"):
        text = text[1:]
    if _FAST_LOADER is not None and _fast_safe(text):
        documents = _load_fast(text, display)
        if documents is not None:
            return documents
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as err:
        diagnostics.error(*_syntax_error(err, display, text))
        return []
    except yaml.reader.ReaderError as err:  # a character YAML does not allow
        line = text.count("\n", 0, err.position) + 1
        column = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        diagnostics.error(
            "Y001",
            f"invalid YAML: the character U+{err.character:04X} is not allowed",
            Span(display, line, column),
            "remove it, or write it as an escape inside a double-quoted string",
        )
        return []
    except yaml.YAMLError as err:
        diagnostics.error("Y001", f"invalid YAML: {err}", Span(display, 1, 1))
        return []
    except RecursionError:
        diagnostics.error(
            "Y004",
            "spec file is nested too deeply to parse",
            Span(display, 1, 1),
            f"specs may nest at most {MAX_DEPTH} levels",
        )
        return []

    documents = []
    for index, node in enumerate(nodes):
        if node is None or _empty(node):
            continue
        builder = _Builder(display, index, diagnostics)
        data = builder.build(node)
        if builder.failed:
            continue
        documents.append(
            Document(
                display, index, data, builder.spans, builder.key_spans, builder.quoted
            )
        )
    return documents


# libyaml's parser (PyYAML's C extension) composes the same nodes with the same
# positions as the pure-Python one, ten times faster, for the text specs are
# made of. It is used only where that is so, and only for text that loads
# without a single diagnostic: anything else (a syntax error, a refused tag,
# key or depth, ...) is loaded again by the pure parser, whose messages and
# positions the diagnostics are written against. Text it could read
# differently never reaches it: characters the pure reader refuses, byte
# order marks after the first character (libyaml skips one at the start of
# any line), the line breaks beyond \r and \n (NEL, LS, PS), tabs, and `?`
# where a flow collection could hold it (see `_fast_safe`).
_FAST_LOADER: type[yaml.CSafeLoader] | None = (
    getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
)
_FAST_UNSAFE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
    "\U00010000-\U0010ffff]"
)


def _fast_safe(text: str) -> bool:
    if _FAST_UNSAFE.search(text):
        return False
    # libyaml takes a tab for a separator where the pure scanner refuses it,
    # and `?` inside a plain scalar in a flow collection (`{a: b?c}`).
    if "\t" in text:
        return False
    # Without a last line break, libyaml ends the last nodes a line later.
    if text and not text.endswith("\n"):
        return False
    return not ("?" in text and ("{" in text or "[" in text))


def _load_fast(text: str, display: str) -> list[Document] | None:
    """The documents of `text` through libyaml, or None to use the pure parser."""
    if _FAST_LOADER is None:
        return None
    try:
        nodes = list(yaml.compose_all(text, Loader=_FAST_LOADER))
    except Exception:  # the pure parser reports it, its own way
        return None
    scratch = Diagnostics()
    documents = []
    for index, node in enumerate(nodes):
        if node is None or _empty(node):
            continue
        builder = _Builder(display, index, scratch, fast=True)
        data = builder.build(node)
        if builder.failed or scratch.items or builder.unsure:
            return None
        documents.append(
            Document(
                display, index, data, builder.spans, builder.key_spans, builder.quoted
            )
        )
    return documents


def _empty(node: Node) -> bool:
    """A document with nothing in it, such as a lone `---`."""
    return (
        isinstance(node, ScalarNode)
        and node.tag == "tag:yaml.org,2002:null"
        and node.value in ("", "~", "null")
        and not node.style  # None; libyaml says ""
        and node.start_mark.index == node.end_mark.index
    )


def _syntax_error(
    err: yaml.MarkedYAMLError, display: str, text: str
) -> tuple[str, str, Span, str | None]:
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    problem = (err.problem or "invalid YAML").strip()
    for jargon, plain in _PLAIN_PROBLEMS.items():
        if problem.startswith(jargon):
            problem = plain
    context = (err.context or "").strip()
    message = f"invalid YAML: {problem}"
    if context:
        message += f" ({context})"
    hint = None
    lines = text.splitlines()
    # PyYAML may place an error at the end of input, one line past the last.
    source_line = lines[line - 1] if mark and line <= len(lines) else ""
    if re.search(r":\s*(['\"]).*\1\S", source_line):
        hint = "text follows a quoted value; quote the whole value"
    elif "${" in source_line and "{" in context + problem:
        hint = "quote a value holding ${...} inside a {...} mapping: '${input.x}'"
    elif "\t" in source_line[: column + 1]:
        hint = "YAML indentation must use spaces, not tabs"
    return ("Y001", message, Span(display, line, column), hint)


# PyYAML's wording for the commonest mistakes, in a user's words.
_PLAIN_PROBLEMS = {
    "expected <block end>, but found": "more text follows a complete value",
    "mapping values are not allowed here": "a ':' where a value cannot start a mapping",
    "found character '\\t' that cannot start any token": "a tab character",
}


def _span(node: Node, display: str) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(display, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


class _Builder:
    """Turns a composed YAML node tree into plain data, recording positions."""

    def __init__(
        self, display: str, index: int, diagnostics: Diagnostics, fast: bool = False
    ) -> None:
        self.display = display
        self.index = index
        self.diagnostics = diagnostics
        self.spans: dict[NodePath, Span] = {}
        self.key_spans: dict[NodePath, Span] = {}
        self.quoted: set[NodePath] = set()
        self.count = 0
        self.failed = False
        # Composed by libyaml, which places an empty value in a flow
        # collection (`{a: }`) a column later: `unsure` says one was seen.
        self.fast = fast
        self.unsure = False
        self._constructor = yaml.SafeLoader("")

    def build(self, root: Node) -> Any:
        try:
            return self._value(root, (), 0)
        except _Refused:
            self.failed = True
            return None

    def _refuse(self, code: str, message: str, node: Node, hint: str | None) -> None:
        self.diagnostics.error(code, message, _span(node, self.display), hint)
        raise _Refused

    def _value(self, node: Node, at: NodePath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            self._refuse(
                "Y004",
                f"document expands to more than {MAX_NODES:,} nodes",
                node,
                "anchors and aliases that multiply are not allowed",
            )
        if depth > MAX_DEPTH:
            self._refuse(
                "Y004",
                f"document is nested more than {MAX_DEPTH} levels deep",
                node,
                None,
            )
        self.spans[at] = _span(node, self.display)
        if isinstance(node, MappingNode):
            return self._mapping(node, at, depth)
        if isinstance(node, SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                self._bad_tag(node)
            return [
                self._value(item, (*at, i), depth + 1)
                for i, item in enumerate(node.value)
            ]
        assert isinstance(node, ScalarNode)
        if node.style in ("'", '"'):
            self.quoted.add(at)
        elif self.fast and not node.value:
            self.unsure = True
        return self._scalar(node)

    def _mapping(self, node: MappingNode, at: NodePath, depth: int) -> dict[str, Any]:
        if node.tag != "tag:yaml.org,2002:map":
            self._bad_tag(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._refuse(
                    "Y002",
                    "merge keys ('<<') are not supported in specs",
                    key_node,
                    "write the fields out",
                )
            if not isinstance(key_node, ScalarNode):
                self._refuse("Y002", "mapping keys must be plain text", key_node, None)
            if self.fast and not key_node.value and not key_node.style:
                self.unsure = True
            key = self._scalar(key_node)
            if key is None or isinstance(key, (bool, float)):
                # `on:`, `yes:` and `null:` keys are YAML 1.1 surprises; keep the text.
                key = key_node.value
            key = str(key)
            if key in result:
                self._refuse(
                    "Y006",
                    f"duplicate key '{key}'",
                    key_node,
                    "a later value would silently replace the earlier one",
                )
            self.key_spans[(*at, key)] = _span(key_node, self.display)
            result[key] = self._value(value_node, (*at, key), depth + 1)
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        if _SURROGATE.search(node.value):
            self._refuse(
                "Y007",
                "text holds a lone UTF-16 surrogate (an escape like \\ud800), "
                "which is not a character",
                node,
                "write the character itself, or its \\U escape",
            )
        if node.tag in _TEXT_TAGS or node.tag == _STR_TAG:
            return node.value  # what the constructor returns for text
        if node.tag not in _PLAIN_TAGS:
            self._bad_tag(node)
        return self._constructor.construct_object(node, deep=True)

    def _bad_tag(self, node: Node) -> None:
        self._refuse(
            "Y002",
            f"YAML tag '{node.tag}' is not allowed in specs",
            node,
            "specs are plain data: strings, numbers, booleans, lists and mappings",
        )


class _Refused(Exception):
    """Stops building a document after its diagnostic has been recorded."""
