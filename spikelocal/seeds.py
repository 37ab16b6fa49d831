"""Every random stream of a run, named once.

One experiment seed drives a run. Each stream that must not repeat another's numbers draws
from ``seed + OFFSET`` (or a formula of the seed below), so the offsets live here, side by side,
where a collision shows. :data:`OFFSETS` lists them; a test checks they are distinct. Streams
shared on purpose (the export's reference samples ARE the first test batch; export and
hardware conversion calibrate on the same batch) use one name, never two equal numbers.

The alignment diagnostic's fixed batch once used the offset of the condition noise
(2_000_029), so both drew the same spikes; it now has its own offset, which changes only the
diagnostics' fixed-batch encoding (alignment angles), nothing a run trains on.

Generators seeded from an argument (a function's ``seed`` parameter, e.g. the hardware
conversion's ``--seed``) take that seed as it is and are not listed. Leaf module: it imports
nothing of the package.
"""
from __future__ import annotations

#: weights, biases, fixed readouts (``Network.from_config``) and torch's global generator
WEIGHTS = 0
#: the encoding of the test set (evaluation, recording, conditions); the export's samples
TEST_ENCODING = 1_000_003
#: the noise added to inputs by perturbation conditions
CONDITION_NOISE = 2_000_029
#: the fixed batch of the gradient-alignment diagnostic
ALIGNMENT = 3_000_017
#: the calibration batch of fixed-point export and hardware conversion (one stream on purpose)
CALIBRATION = 7_777_777
#: the fixed random feedback matrices of feedback alignment (rules/feedback.py)
FEEDBACK = 15_485_863
#: the feedback weights of FW-DTP (rules/fw_dtp.py)
FW_DTP_FEEDBACK = 32_452_843
#: synthetic data sets (data/synthetic.py)
SYNTHETIC_DATA = 7919
#: the stratified training-set fraction (data.stratified_subset)
TRAIN_SUBSET = 104_729
#: the validation images held out of the training set for early stopping (data.validation_split)
VALIDATION = 5_000_011
#: e-prop's random feedback: ``seed * EPROP_FEEDBACK_MULTIPLIER + EPROP_FEEDBACK``
EPROP_FEEDBACK = 4099
EPROP_FEEDBACK_MULTIPLIER = 7919

#: the additive offsets above, by name (the test checks they are pairwise distinct)
OFFSETS: dict[str, int] = {
    "WEIGHTS": WEIGHTS,
    "TEST_ENCODING": TEST_ENCODING,
    "CONDITION_NOISE": CONDITION_NOISE,
    "ALIGNMENT": ALIGNMENT,
    "CALIBRATION": CALIBRATION,
    "FEEDBACK": FEEDBACK,
    "FW_DTP_FEEDBACK": FW_DTP_FEEDBACK,
    "SYNTHETIC_DATA": SYNTHETIC_DATA,
    "TRAIN_SUBSET": TRAIN_SUBSET,
    "VALIDATION": VALIDATION,
    "EPROP_FEEDBACK": EPROP_FEEDBACK,
}

#: the multipliers of the formula streams below
SHUFFLE_MULTIPLIER = 65_537
BATCH_MULTIPLIER = 7919
BATCH_EPOCH_MULTIPLIER = 104_729
SPIKE_ENCODER_MULTIPLIER = 1_000_003

#: sequence-seed keys of the algorithmic tasks (``default_rng([task seed, key])``)
TASK_CUE_ACCUMULATION = 1
TASK_DELAYED_RECALL = 2
TASK_RANDMAN = 3

#: a fixed seed that does not depend on the experiment: the weight subsample of clip calibration.
#: (The exported Brian2 script seeds its demo input with 0 itself: it runs without spikelocal.)
QUANTILE_SUBSAMPLE = 0


def shuffle_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s shuffle of the training set."""
    return seed * SHUFFLE_MULTIPLIER + epoch


def batch_seed(seed: int, epoch: int, batch: int) -> int:
    """The seed of the encoding of one batch: a pure function of its position."""
    return ((seed * BATCH_MULTIPLIER + epoch) * BATCH_EPOCH_MULTIPLIER + batch) % (2**63)


def spike_encoder_seed(seed: int, calls: int) -> int:
    """The seed of a :class:`spikelocal.data.SpikeEncoder`'s ``calls``-th batch."""
    return seed * SPIKE_ENCODER_MULTIPLIER + calls


def eprop_feedback_seed(seed: int) -> int:
    """The seed of e-prop's random feedback weights."""
    return seed * EPROP_FEEDBACK_MULTIPLIER + EPROP_FEEDBACK
