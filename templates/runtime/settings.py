"""Reading a provider's settings, and one wording for what is wrong with them.

Each provider engine reads its settings with pydantic-settings from the
environment and a ``.env`` file. :func:`read_settings` turns a failed read
into a :class:`~.errors.SettingsError` worded the same for every provider::

    STRIPE_SECRET_KEY is not set: set it in the environment or in .env
    QDRANT_TIMEOUT is invalid: fix it in the environment or in .env

Variables go by their environment names, as the fields' validation aliases
say (every choice of an ``AliasChoices``), and each is said to be not set or
invalid; a dotenv file that is not UTF-8 is named too. The message never repeats a
value: the invalid value may well be a secret, such as a mistyped key.
:func:`missing_setting` words a variable that the settings may leave unset
but a call needs, in the same voice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import AliasChoices, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from .errors import SettingsError

__all__ = ["missing_setting", "read_settings"]

S = TypeVar("S", bound=BaseSettings)

# What pydantic-settings takes as `env_file`: a file, several, or none.
_EnvFile = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def read_settings(settings_class: type[S], /, **values: Any) -> S:
    """``settings_class`` read from the environment and its ``.env`` file.

    ``values`` go to the constructor as they are (``_env_file=`` among them).
    A value that does not validate raises :class:`~.errors.SettingsError`
    naming each variable at fault, never its value.
    """
    env_file: _EnvFile = values.get(
        "_env_file", settings_class.model_config.get("env_file")
    )
    try:
        return settings_class(**values)
    except ValidationError as err:
        raise SettingsError(_problem(settings_class, err, env_file)) from None
    except UnicodeDecodeError as err:
        # Only a dotenv file is decoded; which one pydantic-settings does not say.
        files = " or ".join(_env_files(env_file)) or "a dotenv file"
        raise SettingsError(
            f"{files} is not {err.encoding.upper()} text (at byte {err.start}): "
            f"save it as {err.encoding.upper()}"
        ) from None


def missing_setting(
    settings_class: type[BaseSettings], field: str, *, to: str | None = None
) -> SettingsError:
    """The error for ``field`` of ``settings_class``, left unset but needed now.

    ``to`` says what the variable should be set to, e.g. ``"the endpoint's
    signing secret (whsec_...)"``.
    """
    message = _message(
        missing=[_variable(settings_class, field)],
        invalid=[],
        env_file=settings_class.model_config.get("env_file"),
    )
    return SettingsError(message if to is None else f"{message} to {to}")


def _problem(
    settings_class: type[BaseSettings], err: ValidationError, env_file: _EnvFile
) -> str:
    missing: set[str] = set()
    invalid: set[str] = set()
    clash = False
    for error in err.errors():
        if not error["loc"]:
            # A check of the settings as a whole names no one variable.
            clash = True
        elif error["type"] == "missing":
            missing.add(_variable(settings_class, error["loc"][0]))
        else:
            invalid.add(_variable(settings_class, error["loc"][0]))
    return _message(
        missing=sorted(missing),
        invalid=sorted(invalid - missing),
        env_file=env_file,
        clash=clash,
    )


def _variable(settings_class: type[BaseSettings], name: str | int) -> str:
    """The environment name behind ``name``, a field's name or its alias."""
    fields = settings_class.model_fields
    field = fields.get(str(name))
    if field is None:
        # pydantic reports a field read through an alias by that alias, and
        # by its first choice whichever choice was set: name them all.
        field = next((f for f in fields.values() if name in _choices(f)), None)
        if field is None:
            return str(name)
    choices = _choices(field)
    if len(choices) > 1:
        return f"{choices[0]} (or {' or '.join(choices[1:])})"
    if choices:
        return choices[0]
    config = settings_class.model_config
    variable = f"{config.get('env_prefix', '')}{name}"
    return variable if config.get("case_sensitive") else variable.upper()


def _choices(field: FieldInfo) -> list[str]:
    """The environment names a field's validation alias gives it, if any."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return []


def _message(
    *,
    missing: Sequence[str],
    invalid: Sequence[str],
    env_file: _EnvFile,
    clash: bool = False,
) -> str:
    clauses = []
    if missing:
        clauses.append(f"{_listing(missing)} {_be(missing)} not set")
    if invalid:
        clauses.append(f"{_listing(invalid)} {_be(invalid)} invalid")
    if clash:
        clauses.append("the settings do not fit together")

    if not invalid and not clash:
        verb = "set"
    elif missing:
        verb = "set or fix"
    else:
        verb = "fix"
    one = len(missing) + len(invalid) == 1 and not clash
    where = " or in ".join(["the environment", *_env_files(env_file)])
    return f"{', and '.join(clauses)}: {verb} {'it' if one else 'them'} in {where}"


def _listing(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _be(names: Sequence[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _env_files(env_file: _EnvFile) -> list[str]:
    """The dotenv files pydantic-settings reads, as they were named to it."""
    if env_file is None:
        return []
    if isinstance(env_file, str | os.PathLike):
        return [os.fspath(env_file)]
    return [os.fspath(path) for path in env_file]
