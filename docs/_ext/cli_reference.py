"""The command reference of the manual: the ``--help`` of ``spikelocal`` and of every
sub-command, written out at build time so that the manual shows what the terminal shows."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def render() -> str:
    from spikelocal.cli import build_parser

    os.environ.setdefault("COLUMNS", "100")
    parser = build_parser()
    lines = ["```text", parser.format_help().rstrip(), "```", ""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                lines += [f"## `spikelocal {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def setup(app: Any) -> dict[str, Any]:
    def _generate(app: Any, config: Any) -> None:
        path = Path(app.srcdir) / "reference" / "_generated" / "cli.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = render()
        if not path.exists() or path.read_text() != text:
            path.write_text(text)

    app.connect("config-inited", _generate)
    return {"parallel_read_safe": True, "version": "1"}
