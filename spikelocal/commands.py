"""The table of sub-commands, below the CLI: a stage registers its commands here with
``@command`` and never imports :mod:`spikelocal.cli`, which only builds argparse from the
table and dispatches. Leaf module: the command modules are named, not imported, here."""
from __future__ import annotations

import argparse
import importlib
from typing import Callable

Command = Callable[[argparse.Namespace], int]
Setup = Callable[[argparse.ArgumentParser], None]
COMMANDS: dict[str, tuple[Setup, Command]] = {}

#: modules that register further sub-commands with @command (one line per feature)
COMMAND_MODULES: tuple[str, ...] = (
    "spikelocal.sweep.commands",
    "spikelocal.analysis.commands",
    "spikelocal.hardware.commands",
    "spikelocal.export.commands",
)


def command(name: str, setup: Setup) -> Callable[[Command], Command]:
    """Register a sub-command: ``setup`` adds its arguments, the function runs it."""

    def decorator(fn: Command) -> Command:
        COMMANDS[name] = (setup, fn)
        return fn

    return decorator


def load_commands() -> dict[str, tuple[Setup, Command]]:
    """Import every command module (each registers itself) and return the table."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    return COMMANDS
