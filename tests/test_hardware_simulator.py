"""The integer simulator pinned on hand-computed sequences (the Loihi-style equations of spikelocal.hardware.fixed_point).

Every expected number below was worked out by hand from
    u = trunc(u (4096 - du - 1) / 4096) + (a_in << 6)   (wraps at 24 bits)
    v = clip(trunc(v (4096 - dv) / 4096) + u + bias, +-(2**23 - 1)); spike v > vth << 6; v = 0
with a_in arriving one step after the input spike.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spikelocal.hardware import IntegerLayer, IntegerNetwork, load_target, simulate_integer
from spikelocal.hardware.simulator import run_layer, synaptic_input

LOIHI = load_target("loihi")


def one_neuron(weights, exp=0, du=0, dv=0, vth=2**17 - 1, bias=None, bias_exp=0) -> IntegerNetwork:
    w = np.array([weights], np.int64)
    layer = IntegerLayer("dense", (w.shape[1],), (1,), w, exp, du, dv, vth,
                         None if bias is None else np.array([bias], np.int64), bias_exp)
    return IntegerNetwork([layer], (w.shape[1],), LOIHI, 8, 1)


def reference(layer: IntegerLayer, x: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """u, v and s of neuron 0 after each step, in plain Python integers (no numpy arithmetic)."""
    u = v = 0
    us, vs, ss = [], [], []
    weights = [int(wi) for wi in layer.weight[0]]
    for k in range(x.shape[0]):
        p = u * (4096 - (layer.du + 1))
        u = (1 if p >= 0 else -1) * (abs(p) >> 12)
        if k >= 1:
            a = sum(wi << layer.weight_exp for wi, si in zip(weights, x[k - 1]) if si)
            u += max(min(a, 2**15 - 1), -2**15) << 6
        u = ((u + 2**23) % 2**24) - 2**23
        q = v * (4096 - layer.dv)
        v = (1 if q >= 0 else -1) * (abs(q) >> 12)
        v = v + u + (0 if layer.bias_mant is None else int(layer.bias_mant[0]) << layer.bias_exp)
        v = max(min(v, 2**23 - 1), -(2**23 - 1))
        fired = int(v > layer.vth << 6)
        if fired:
            v = 0
        us.append(u)
        vs.append(v)
        ss.append(fired)
    return us, vs, ss


def trace(net: IntegerNetwork, spikes: list[list[int]]) -> tuple[list[int], list[int], list[int]]:
    """(u, v, s) after each step from the reference; s checked against the simulator."""
    x = np.array(spikes, np.uint8)
    u, v, s = reference(net.layers[0], x)
    out, _ = run_layer(net.layers[0], net, x[:, None, :], x.shape[0], check_overflow=False)
    assert out[:, 0, 0].tolist() == s
    return u, v, s


def test_decay_delay_and_round_toward_zero():
    # w = 3, du = 1095 (u factor 3000/4096), dv = 1024 (v factor 3072/4096); spikes at t = 0, 1
    net = one_neuron([3], du=1095, dv=1024)
    u, v, s = trace(net, [[1], [1], [0], [0]])
    assert u == [0, 192, 332, 243]          # 140.6 -> 140 (+192); 243.2 -> 243
    assert v == [0, 192, 476, 600]          # 144 + 332; 357 + 243
    assert s == [0, 0, 0, 0]
    neg = one_neuron([-3], du=1095, dv=1024)
    u, v, _ = trace(neg, [[1], [1], [0], [0]])
    assert u == [0, -192, -332, -243]        # toward zero: -140.6 -> -140, not -141
    assert v == [0, -192, -476, -600]


def test_threshold_and_hard_reset():
    # no leak in v (dv = 0), u forgets each step (du = 4095), vth 150 -> spike when v > 9600
    net = one_neuron([100], du=4095, dv=0, vth=150)
    u, v, s = trace(net, [[1], [1], [1], [1], [0]])
    assert u == [0, 6400, 6400, 6400, 6400]
    assert v == [0, 6400, 0, 6400, 0]        # 12800 > 9600 fires and resets to 0
    assert s == [0, 0, 1, 0, 1]
    # equal to the threshold does not fire: v > vth << 6 is strict
    eq = one_neuron([100], du=4095, dv=0, vth=200)
    assert trace(eq, [[1], [1], [0]])[2] == [0, 0, 0]


def test_current_wraps_at_24_bits():
    # a_in = 254 << 7 = 32512 each step, du = 0 (u factor 4095/4096); hand-computed:
    # 2080768; 2080260 + 2080768 = 4161028; 4160012 + 2080768 = 6240780;
    # 6239256 + 2080768 = 8320024; 8317992 + 2080768 = 10398760 -> wraps to 10398760 - 2**24
    net = one_neuron([254], exp=7, du=0, dv=4095)
    u, _, _ = trace(net, [[1]] * 6)
    assert u == [0, 2080768, 4161028, 6240780, 8320024, 10398760 - 2**24]
    res = simulate_integer(net, np.ones((6, 1, 1), np.uint8), drain=0)
    assert res.overflow[0]["u_wrapped"] == 1


def test_synaptic_input_saturates_at_int16():
    # two inputs of 32512 sum to 65024 > 32767: a_in saturates, u = 32767 << 6
    net = one_neuron([254, 254], exp=7, du=4095, dv=4095)
    u, _, _ = trace(net, [[1, 1], [0, 0]])
    assert u == [0, 32767 << 6]
    res = simulate_integer(net, np.array([[[1, 1]], [[0, 0]]], np.uint8), drain=0)
    assert res.overflow[0]["a_in_saturated"] == 1


def test_voltage_saturates():
    # v without leak adds u each step: -2080768, -6241796, then clipped at -(2**23 - 1)
    net = one_neuron([-254], exp=7, du=0, dv=0)
    _, v, _ = trace(net, [[1]] * 5)
    assert v == [0, -2080768, -6241796, -(2**23 - 1), -(2**23 - 1)]
    res = simulate_integer(net, np.ones((5, 1, 1), np.uint8), drain=0)
    assert res.overflow[0]["v_saturated"] == 2


def test_bias_mantissa_and_exponent():
    # bias 3 << 4 = 48 per step into v, no input: v = 48, 48*3072/4096 = 36 + 48 = 84, 63 + 48 = 111
    net = one_neuron([0], dv=1024, bias=3, bias_exp=4)
    _, v, _ = trace(net, [[0]] * 3)
    assert v == [48, 84, 111]


def test_reference_agrees_with_vectorised_run():
    """The plain-Python reference above and the numpy simulator agree on random traffic."""
    rng = np.random.default_rng(0)
    w = rng.integers(-90, 128, size=(1, 12)) * 2
    net = one_neuron(w[0].tolist(), exp=3, du=700, dv=300, vth=900, bias=-5, bias_exp=2)
    x = (rng.random((20, 12)) < 0.4).astype(np.uint8)
    _, _, s = reference(net.layers[0], x)
    out, _ = run_layer(net.layers[0], net, x[:, None, :], 20, check_overflow=False)
    assert s == out[:, 0, 0].tolist()
    assert 3 <= sum(s) <= 17  # the case exercises firing and silence


def test_float_blas_sum_is_the_integer_sum():
    rng = np.random.default_rng(1)
    w = rng.integers(-256, 255, size=(30, 3000)) // 2 * 2
    layer = IntegerLayer("dense", (3000,), (30,), w, 0, 0, 0, 1)
    s = (rng.random((50, 3000)) < 0.5).astype(np.uint8)
    assert np.array_equal(synaptic_input(layer, s).astype(np.int64), s.astype(np.int64) @ w.T)
    big = IntegerLayer("dense", (3000,), (30,), w * 2**20, 0, 0, 0, 1)  # forces the float64 path
    assert np.array_equal(synaptic_input(big, s).astype(np.int64), s.astype(np.int64) @ (w * 2**20).T)


def test_conv_sum_is_the_integer_convolution():
    rng = np.random.default_rng(2)
    w = rng.integers(-128, 128, size=(4, 2, 3, 3)) * 2
    layer = IntegerLayer("conv", (2, 7, 7), (4, 4, 4), w, 0, 0, 0, 1, kernel=3, stride=2, padding=1)
    s = (rng.random((5, 2, 7, 7)) < 0.5).astype(np.int64)
    got = synaptic_input(layer, s.reshape(5, -1)).astype(np.int64).reshape(5, 4, 4, 4)
    pad = np.pad(s, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((5, 4, 4, 4), np.int64)
    for y in range(4):
        for x in range(4):
            patch = pad[:, :, 2 * y:2 * y + 3, 2 * x:2 * x + 3]
            want[:, :, y, x] = np.einsum("bcij,ocij->bo", patch, w)
    assert np.array_equal(got, want)


def test_counts_window_and_drain():
    # two layers: layer l answers input step t at step t + l; counts cover the aligned window
    w1 = np.array([[200]], np.int64)
    l1 = IntegerLayer("dense", (1,), (1,), w1, 0, 4095, 4095, 100)
    l2 = IntegerLayer("dense", (1,), (1,), w1.copy(), 0, 4095, 4095, 100)
    net = IntegerNetwork([l1, l2], (1,), LOIHI, 8, 1)
    x = np.zeros((3, 1, 1), np.uint8)
    x[2] = 1  # the last input step
    res = simulate_integer(net, x)
    assert res.spikes[0][:, 0, 0].tolist() == [0, 0, 0, 1, 0]
    assert res.spikes[1][:, 0, 0].tolist() == [0, 0, 0, 0, 1]
    assert [c[0, 0] for c in res.counts] == [1, 1]
    assert simulate_integer(net, x, drain=0).counts[1][0, 0] == 0


@pytest.mark.parametrize("batch", [1, 3])
def test_batch_rows_are_independent(batch):
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    w = rng.integers(-100, 100, size=(5, 8)) * 2
    layer = IntegerLayer("dense", (8,), (5,), w, 2, 500, 200, 300)
    net = IntegerNetwork([layer], (8,), LOIHI, 8, 5)
    x = (rng.random((10, batch, 8)) < 0.5).astype(np.uint8)
    together = simulate_integer(net, x).spikes[0]
    for b in range(batch):
        alone = simulate_integer(net, x[:, b:b + 1]).spikes[0]
        assert np.array_equal(alone[:, 0], together[:, b])


def test_compiled_neuron_loop_equals_the_numpy_loop():
    """The numba loop (used when numba is there) and the numpy loop (its reference) agree
    spike for spike and in the overflow counts, on traffic that wraps u and saturates v."""
    from spikelocal.hardware.simulator import neuron_steps_numpy
    from spikelocal.kernels import compiled_loops

    rng = np.random.default_rng(3)
    b, n, t, used, delay = 3, 40, 30, 25, 1
    syn = (rng.integers(-2**15, 2**15, size=(used, b, n)) << 6).astype(np.int32)
    bias = rng.integers(-2**12, 2**12, size=n).astype(np.int64)
    args = dict(delay=delay, fu=4096 - 50, fv=4096 - 3000, nbits=12, state_bits=24, thr=900 << 6)
    info = {"u_wrapped": 0, "v_saturated": 0}
    expected = neuron_steps_numpy(syn, bias=bias, out=np.zeros((t, b, n), np.uint8), info=info,
                                  check_overflow=True, **args)
    out = np.zeros((t, b, n), np.uint8)
    overflow = np.zeros(2, np.int64)
    compiled_loops()["integer_lif_steps"](syn.reshape(used, b * n), args["delay"], args["fu"], args["fv"],
                                          args["nbits"], args["state_bits"], args["thr"], bias, n,
                                          out.reshape(t, b * n), overflow)
    assert np.array_equal(out, expected)
    assert overflow.tolist() == [info["u_wrapped"], info["v_saturated"]]
    assert info["u_wrapped"] > 0 and info["v_saturated"] > 0 and 0 < expected.mean() < 1
