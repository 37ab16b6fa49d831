"""The package's own exceptions.

Every error a user can cause (bad YAML, missing data, a run directory that cannot be
written) is a :class:`SpikelocalError`; the CLI prints its message on one line and exits
with status 2. :class:`RunFailed` marks a failure during training (for example a NaN loss)
and exits with status 1.
"""
from __future__ import annotations


class SpikelocalError(ValueError):
    """A user-facing error whose message is one line: what, where, what is accepted."""

    exit_code = 2

    def __init__(self, message: object = "", *args: object) -> None:
        # a value quoted from user input may hold line breaks; the message stays one line
        text = str(message).replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(text, *args)


class ConfigError(SpikelocalError):
    """An experiment, model or sweep file that does not validate."""


class DataError(SpikelocalError):
    """A dataset file that is missing, corrupt or of the wrong format."""


class RunDirError(SpikelocalError):
    """A run directory that is missing, incomplete, foreign or not writable."""


class ExportError(SpikelocalError):
    """A network that a target format or chip cannot express."""


class RunFailed(RuntimeError):
    """Training stopped at run time (NaN loss, divergence); the last good checkpoint is kept."""

    exit_code = 1
