# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""The deployment environment the process runs in, as policies see it.

Every provider call hands its policies the deployment environment
(:attr:`~.policies.PolicyRequest.environment`); :class:`~.policies.TestModeGuard`
refuses a live key anywhere but ``production``. A caller may name the
environment for one call; otherwise the provider engines ask
:func:`deployment_environment`, which reads ``CONTRACTGEN_ENVIRONMENT`` from
the environment and ``.env`` (default ``development``) with pydantic-settings,
as each provider reads its own settings.
"""

from __future__ import annotations

import os
import time

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["deployment_environment"]

_DEFAULT = "development"
_VARIABLE = "CONTRACTGEN_ENVIRONMENT"


class _DeploymentSettings(BaseSettings):
    # The environment alone: learning it must not require any provider's
    # credentials, nor fail on another variable that does not validate.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field(default=_DEFAULT, validation_alias=_VARIABLE)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The variable comes in as the value `_inputs` saw (see below), which
        # beats .env as the environment does.
        return init_settings, dotenv_settings


# What the environment is read from: the variable, matched in any case as
# pydantic-settings matches names, and the `.env` file of the working folder.
_NAME = _VARIABLE.lower()
_NAME_BYTES = _NAME.encode()
# File systems keep a file's times to a tick, a second (ext3, HFS+) or two
# (FAT): two writes of one size within that time leave the same times, so a
# .env changed less long ago than this may change unseen.
_SETTLE_NS = 2_000_000_000
_memo: tuple[object, str] | None = None


# Each setting of the variable, as (name, value): bytes on POSIX.
_Found = tuple[tuple[str | bytes, str | bytes], ...]


def _inputs() -> tuple[_Found, object, bool]:
    """The variable's values as set, a value that changes whenever ``.env``
    does, and whether ``.env`` is old enough for its times to show a change."""
    # os.environ's own store, scanned without decoding every variable, and
    # copied in one step first: another thread may add or remove variables.
    data = getattr(os.environ, "_data", None)
    found: _Found
    if isinstance(data, dict):
        found = tuple(
            (key, value)
            for key, value in list(data.items())
            if key.lower() == (_NAME_BYTES if isinstance(key, bytes) else _NAME)
        )
    else:  # pragma: no cover - not CPython
        found = tuple(
            (key, value) for key, value in os.environ.items() if key.lower() == _NAME
        )
    try:
        info = os.stat(".env")
    except OSError:
        return found, os.getcwd() if os.path.lexists(".env") else None, True
    dotenv = (
        os.getcwd(),
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
    )
    changed = max(info.st_mtime_ns, info.st_ctime_ns)
    return found, dotenv, time.time_ns() - changed > _SETTLE_NS


def deployment_environment() -> str:
    """``CONTRACTGEN_ENVIRONMENT``, for a call whose caller names no environment.

    Read for every call, since the environment or ``.env`` may change while a
    process runs. Parsing the settings costs more than the rest of a call's
    overhead, so the value is kept while what it was read from is unchanged;
    any change is seen by the next call.
    """
    global _memo
    found, dotenv, settled = _inputs()
    memo = _memo
    if memo is not None and memo[0] == (found, dotenv):
        return memo[1]
    # The value of the variable as compared, not as another thread may have
    # set it since, so that what is kept is true of what it is kept for. The
    # last one set wins, as in pydantic-settings.
    if found:
        given = {_VARIABLE: os.fsdecode(found[-1][1])}
        environment = _DeploymentSettings(**given).environment
    else:
        environment = _DeploymentSettings().environment
    _memo = ((found, dotenv), environment) if settled else None
    return environment
