"""The base of every schema section: unknown keys are errors, never silent defaults, and
every number is finite and bounded.

Why bounds everywhere: a config is user input, and a number such as ``.inf`` or ``1e300``
would otherwise pass a ``gt=0`` check and fail much later (a NaN run, an allocation that
never ends). Floats must be finite with magnitude at most :data:`FLOAT_LIMIT`; integers at
most :data:`INT_LIMIT` in magnitude (the largest a YAML float such as ``1e15`` holds
exactly). Keys with a tighter meaning say so in their own ``Field`` (``le=``, ``lt=``), and
the work a run will do is checked against the machine before it starts
(:mod:`spikelocal.budget`).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

FLOAT_LIMIT = 1e12
INT_LIMIT = 2**53


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and abs(value) > INT_LIMIT:
            raise ValueError(f"a whole number of magnitude at most 2^53 is expected, got {value}")
        if isinstance(value, float) and abs(value) > FLOAT_LIMIT:
            raise ValueError(f"a number of magnitude at most {FLOAT_LIMIT:g} is expected, got {value:g}")
        return value
