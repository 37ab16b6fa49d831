"""Learning rules by name (``rule.name`` in an experiment). One file and one
``@RULES.register`` line add a rule; :func:`build` makes one for a network."""
from __future__ import annotations

from pydantic import ValidationError

from ..config.messages import describe
from ..core.network import Network
from ..errors import ConfigError
from ..registry import Registry
from .base import BatchResult, Rule, RuleOptions

RULES: Registry["type[Rule]"] = Registry("rule")

# importing a rule's module registers it
from .local import LocalRule  # noqa: E402
from .bp import BPRule  # noqa: E402  (baselines: bp, fa, dfa, sign_symmetry)
from .feedback import DFARule, FARule, SignSymmetryRule  # noqa: E402
from .fw_dtp import FWDTPRule  # noqa: E402  (bio-plausible relatives)
from .gait_prop import GaitPropRule  # noqa: E402
from .predictive_coding import PredictiveCodingRule  # noqa: E402
from .softhebb import SoftHebbRule  # noqa: E402
from .eprop import EpropRule  # noqa: E402  (recurrent nets: online learning through time)


def build(options: "RuleOptions | dict | str", net: Network, seed: int = 0) -> Rule:
    """A rule for ``net`` from its name, an options dict (``{"name": "fa", "loss": "mse"}``)
    or an options object; unknown names and options are one-line errors."""
    if isinstance(options, str):
        options = {"name": options}
    raw = options if isinstance(options, dict) else options.model_dump()
    rule_cls = RULES.get(raw.get("name", "local"))
    try:
        opts = rule_cls.Options.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        takes = f"; rule {rule_cls.Options.model_fields['name'].default!r} takes: {', '.join(rule_cls.Options.model_fields)}"
        raise ConfigError(f"rule.{key}: {describe(err, '', takes)}") from None
    supports = rule_cls.Options.supports
    for i, layer in enumerate(net.layers):
        family = "spiking" if layer.neuron.spiking else "rate"
        for need in (layer.kind, family):
            if need not in supports:
                raise ConfigError(f"rule {opts.name!r} cannot train layer {i} ({need}); it trains: "
                                  f"{', '.join(supports)}")
    return rule_cls(net, opts, seed)


__all__ = ["RULES", "build", "Rule", "RuleOptions", "BatchResult", "LocalRule", "BPRule", "FARule",
           "DFARule", "SignSymmetryRule", "FWDTPRule", "GaitPropRule", "PredictiveCodingRule",
           "SoftHebbRule", "EpropRule"]
