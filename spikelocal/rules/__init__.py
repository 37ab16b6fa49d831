"""Learning rules by name (``rule.name`` in an experiment). One file and one
``@RULES.register`` line add a rule."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import Registry

if TYPE_CHECKING:
    from .base import Rule

RULES: Registry["type[Rule]"] = Registry("rule")

from . import local  # noqa: E402,F401  (registers the rules)
from . import bp, feedback  # noqa: E402,F401  (baselines: bp, fa, dfa, sign_symmetry)
from . import fw_dtp, gait_prop, predictive_coding, softhebb  # noqa: E402,F401  (issue 10)
