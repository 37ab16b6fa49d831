"""Saying so when training went wrong although nothing crashed.

A run whose weights stay finite can still end at chance level (a learning rate far too
large saturates every neuron) or with a loss that grew by orders of magnitude. Such a run
finishes, so without a check its numbers would be read as real; the warnings found here go
into the log, into ``summary.json`` under ``"warnings"`` and to the terminal, and
``spikelocal run --strict`` turns them into exit status 1.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

#: the loss of the last epoch above this multiple of the lowest epoch loss is "blew up"
LOSS_RISE = 100.0


def chance_margin(classes: int, test_samples: int) -> float:
    """Accuracy that a random guesser stays below in all but ~1 of 1000 test sets."""
    p = 1.0 / classes
    return p + max(0.02, 3.0 * math.sqrt(p * (1.0 - p) / max(test_samples, 1)))


def training_warnings(rows: Sequence[dict[str, Any]], classes: int, test_samples: int) -> list[str]:
    """One sentence per sign that the run did not learn (empty when it did)."""
    if not rows:
        return []
    found = []
    last = rows[-1]
    limit = chance_margin(classes, test_samples)
    if last["test_acc"] <= limit:
        found.append(f"test accuracy {last['test_acc']:.4f} is at chance level (1/{classes} = {1 / classes:.4f}, "
                     f"a guesser stays below {limit:.4f}); the network did not learn, check training.lr "
                     "and the rule's options")
    losses = [float(r["train_loss"]) for r in rows if math.isfinite(float(r["train_loss"]))]
    if len(losses) >= 2 and min(losses) > 0 and losses[-1] > LOSS_RISE * min(losses):
        found.append(f"the training loss rose from {min(losses):.4g} to {losses[-1]:.4g} "
                     f"(over {LOSS_RISE:.0f}x); lower training.lr")
    return found
