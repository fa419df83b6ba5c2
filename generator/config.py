"""Settings: `[tool.contractgen]` in pyproject.toml, overridden by flags.

    [tool.contractgen]
    specs = "specs"          # folder of spec files
    output = "generated"     # folder of the generated package
    package = "generated"    # its import name
    cache = ".contractgen-cache"
    temporal = false         # also emit the workflows for Temporal

Relative paths are relative to the folder holding pyproject.toml.
"""

from __future__ import annotations

import keyword
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Config", "ConfigError", "load_config"]

_KEYS = {"specs", "output", "package", "cache", "temporal"}
# Top-level packages the generated code imports, which a package of the same
# name would hide.
_TAKEN_PACKAGES = {"pydantic", "pydantic_settings", "stripe", "jinja2", "typing"}


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Config:
    root: Path
    specs: Path
    output: Path
    package: str
    cache: Path | None
    temporal: bool = False


def _find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(
    cwd: Path,
    *,
    specs: str | None = None,
    output: str | None = None,
    package: str | None = None,
    cache: str | None = None,
    no_cache: bool = False,
    temporal: bool | None = None,
) -> Config:
    pyproject = _find_pyproject(cwd)
    table: dict[str, object] = {}
    root = cwd
    if pyproject is not None:
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{pyproject}: {err}") from err
        table = data.get("tool", {}).get("contractgen", {})
        if table:
            root = pyproject.parent
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise ConfigError(
                f"{pyproject}: unknown [tool.contractgen] keys: {', '.join(unknown)}"
            )

    def setting(flag: str | None, key: str, default: str) -> str:
        if flag is not None:
            return flag
        value = table.get(key, default)
        if not isinstance(value, str):
            raise ConfigError(f"[tool.contractgen] {key} must be a string")
        return value

    def path(flag: str | None, key: str, default: str) -> Path:
        # Flags are relative to where the command runs, settings to pyproject.
        base = cwd if flag is not None else root
        return base / setting(flag, key, default)

    output_path = path(output, "output", "generated")
    name = setting(package, "package", output_path.name)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"package name {name!r} is not a Python identifier")
    if name in _TAKEN_PACKAGES:
        raise ConfigError(
            f"package name {name!r} is the name of a package the generated code "
            "imports; choose another"
        )
    temporal_setting = table.get("temporal", False) if temporal is None else temporal
    if not isinstance(temporal_setting, bool):
        raise ConfigError("[tool.contractgen] temporal must be true or false")
    return Config(
        root=root,
        specs=path(specs, "specs", "specs"),
        output=output_path,
        package=name,
        cache=None if no_cache else path(cache, "cache", ".contractgen-cache"),
        temporal=temporal_setting,
    )
