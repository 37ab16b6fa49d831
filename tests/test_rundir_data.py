"""A run directory records its dataset's input shape and class count (data.json)."""
from __future__ import annotations

import json

import pytest

from spikelocal import rundir
from spikelocal.errors import RunDirError


def test_run_records_the_data_spec_and_old_runs_fall_back_to_the_config(tiny_run):
    assert json.loads((tiny_run / rundir.DATA).read_text()) == {"input_shape": [1, 8, 8], "classes": 4}
    config, net = rundir.load_network(tiny_run)
    assert net.input_shape == (1, 8, 8) and net.num_classes == 4
    (tiny_run / rundir.DATA).unlink()      # a run directory written before data.json existed
    assert rundir.read_data_spec(tiny_run, config) == ((1, 8, 8), 4)
    (tiny_run / rundir.DATA).write_text(json.dumps({"input_shape": [64], "classes": 4}))
    assert rundir.read_data_spec(tiny_run, config) == ((64,), 4)   # the record wins over the config
    (tiny_run / rundir.DATA).write_text("{}")
    with pytest.raises(RunDirError, match="data.json"):
        rundir.read_data_spec(tiny_run, config)
