"""Run the pipeline: load → check → render → format, then write or compare.

`build` does everything up to formatted files in memory and never touches
the output folder, so any caller can decide what to do with the result:
`generate` writes it, `check` compares it, tests look at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, loader
from .checker import check
from .config import Config
from .diagnostics import Diagnostics
from .formatting import Formatter
from .ir import Package
from .manifest import display as _display
from .manifest import outside
from .render import render_package

__all__ = ["Build", "build"]


@dataclass
class Build:
    diagnostics: Diagnostics
    package: Package | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.diagnostics.has_errors


def build(config: Config, *, render: bool = True, cwd: Path | None = None) -> Build:
    """Load, check and (unless only validating) render and format every spec."""
    diagnostics = Diagnostics()
    base = cwd or Path.cwd()
    if not config.specs.is_dir():
        diagnostics.error(
            "S000", f"specs folder {_display(config.specs, base)} does not exist", None
        )
        return Build(diagnostics)
    documents = []
    for path in loader.discover(config.specs):
        display = _display(path, base)
        if outside(path, config.specs):
            # Its content is not read: a link could point at any file.
            diagnostics.error(
                "Y008",
                f"{display}: spec file is a link to a file outside the specs folder",
                None,  # no position, so no line of the linked file is shown
                "copy the spec into the specs folder",
            )
            continue
        documents += loader.load_file(path, display, diagnostics)
    package = check(documents, diagnostics, config.package, __version__, config.root)
    result = Build(diagnostics, package)
    if not render or diagnostics.has_errors:
        return result
    rendered = render_package(package, temporal=config.temporal)
    # The copied runtime is kept black-formatted at its source.
    verbatim = {
        rel
        for rel in rendered
        if rel.startswith("_runtime/") or not rel.endswith(".py")
    }
    formatted = Formatter(config.cache).format_all(
        {rel: source for rel, source in rendered.items() if rel not in verbatim}
    )
    result.files = {
        rel: source if rel in verbatim else formatted[rel]
        for rel, source in rendered.items()
    }
    return result
