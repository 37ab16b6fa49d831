"""`spikelocal --help` and every sub-command's --help say what it does, with an example."""
from __future__ import annotations

import argparse

from spikelocal.cli import build_parser


def test_every_command_help_has_a_description_and_an_example() -> None:
    parser = build_parser()
    assert "Example: spikelocal " in parser.format_help()
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0]
    assert set(subparsers.choices) >= {"run", "sweep", "record", "plot", "report", "convert", "export", "import-nir"}
    for name, sub in subparsers.choices.items():
        text = sub.format_help()
        assert sub.description and len(sub.description.split()) >= 5, name
        assert f"Example: spikelocal {name} " in text, f"{name} --help has no example"
