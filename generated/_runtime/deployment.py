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

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["deployment_environment"]

_DEFAULT = "development"


class _DeploymentSettings(BaseSettings):
    # The environment alone: learning it must not require any provider's
    # credentials, nor fail on another variable that does not validate.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field(
        default=_DEFAULT, validation_alias="CONTRACTGEN_ENVIRONMENT"
    )


# What `_DeploymentSettings()` reads: the variable, matched in any case as
# pydantic-settings matches names, and the `.env` file of the working folder.
_NAME = "contractgen_environment"
_NAME_BYTES = _NAME.encode()
_memo: tuple[object, str] | None = None


def _inputs() -> object:
    """A value that changes whenever what the environment is read from does."""
    # os.environ's own store, scanned without decoding every variable.
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict):
        found = [
            (key, value)
            for key, value in data.items()
            if key.lower() == (_NAME_BYTES if isinstance(key, bytes) else _NAME)
        ]
    else:  # pragma: no cover - not CPython
        found = [
            (key, value) for key, value in os.environ.items() if key.lower() == _NAME
        ]
    try:
        info = os.stat(".env")
        dotenv: object = (
            os.getcwd(),
            info.st_dev,
            info.st_ino,
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
        )
    except OSError:
        dotenv = os.getcwd() if os.path.lexists(".env") else None
    return (tuple(found), dotenv)


def deployment_environment() -> str:
    """``CONTRACTGEN_ENVIRONMENT``, for a call whose caller names no environment.

    Read for every call, since the environment or ``.env`` may change while a
    process runs. Parsing the settings costs more than the rest of a call's
    overhead, so the value is kept while what it was read from is unchanged;
    any change is seen by the next call.
    """
    global _memo
    inputs = _inputs()
    memo = _memo
    if memo is not None and memo[0] == inputs:
        return memo[1]
    environment = _DeploymentSettings().environment
    _memo = (inputs, environment)
    return environment
