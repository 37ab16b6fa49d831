"""A format's caveat (the netx bias rounding, the weight clipping) reaches the terminal as one
``spikelocal: note:`` line, not as Python's ``file:line: UserWarning`` block; dependencies'
deprecation warnings are not shown."""
from __future__ import annotations

import warnings
from pathlib import Path

import spikelocal.export.commands as commands
from spikelocal.cli import main


def test_export_caveats_are_one_line_notes(monkeypatch, capsys, tmp_path: Path) -> None:
    def fake_export(*args, **kwargs):
        warnings.warn("layer1: lava-dl fixes the bias exponent to 6; the netx 'bias' is rounded\n"
                      "(exact mantissas kept in spikelocal_bias_mant)", stacklevel=2)
        warnings.warn("'parseString' deprecated", DeprecationWarning, stacklevel=2)
        return tmp_path / "net.h5", {}

    monkeypatch.setattr(commands, "export", fake_export)
    assert main(["export", str(tmp_path), "--format", "netx"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["spikelocal: note: layer1: lava-dl fixes the bias exponent to 6; the netx 'bias' is "
                   "rounded (exact mantissas kept in spikelocal_bias_mant)"]
