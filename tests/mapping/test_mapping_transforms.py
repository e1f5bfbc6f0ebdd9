"""Transforms: each stage against a closed form or a brute-force reference."""

import math

import numpy as np
import pytest

from bridge.mapping.transforms import (AutoRange, DelayLine, Deadband, RouteChain,
                                       Smoother, clamp01, curve, normalise, one_pole_coefficient,
                                       scale)
from bridge.mapping.validate import validate
from bridge.sinks.midi_kind import NoteTrigger
from tests.mapping.conftest import SIGNALS


def test_pure_functions():
    assert normalise(5.0, lo=0.0, hi=10.0) == 0.5
    assert normalise(2.0, lo=10.0, hi=0.0) == 0.8
    assert clamp01(-0.1) == 0.0 and clamp01(1.7) == 1.0 and clamp01(0.3) == 0.3
    assert curve(0.25, gamma=0.5) == 0.5
    assert curve(-0.25, gamma=0.5) == -0.5
    assert scale(0.25, lo=100.0, hi=200.0) == 125.0


def test_smoother_matches_one_pole_closed_form():
    rate = 60.0
    sm = Smoother(attack_ms=50.0, release_ms=500.0, rate=rate)
    assert sm.process(0.0) == 0.0
    ys = [sm.process(1.0) for _ in range(30)]
    a = math.exp(-1000.0 / (50.0 * rate))
    np.testing.assert_allclose(ys, 1 - a ** np.arange(1, 31), rtol=1e-12)
    # falling uses the (slower) release constant, starting from where the rise ended
    start = ys[-1]
    down = [sm.process(0.0) for _ in range(10)]
    r = math.exp(-1000.0 / (500.0 * rate))
    np.testing.assert_allclose(down, start * r ** np.arange(1, 11), rtol=1e-12)
    sm.reset()
    assert sm.process(0.7) == 0.7
    assert one_pole_coefficient(0.0, 60.0) == 0.0


def test_autorange_equals_brute_force_sliding_window():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=2000)) * 0.01 + 3.0  # arbitrary absolute scale
    ar = AutoRange(window_s=2.0, rate=50.0)  # 100 ticks
    got = np.array([ar.process(float(v)) for v in x])
    want = np.empty_like(x)
    for t in range(len(x)):
        w = x[max(0, t - 99):t + 1]
        span = w.max() - w.min()
        want[t] = (x[t] - w.min()) / span if span > 1e-6 else 0.0
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert got.min() >= 0.0 and got.max() <= 1.0
    ar.reset()
    assert ar.process(5.0) == 0.0  # a flat (single-sample) window carries nothing


def test_deadband_holds_small_moves():
    db = Deadband(width=0.1)
    out = [db.process(v) for v in (0.5, 0.55, 0.45, 0.61, 0.65, 0.5)]
    assert out == [0.5, 0.5, 0.5, 0.61, 0.61, 0.5]


def test_note_trigger_hysteresis_and_length():
    tr = NoteTrigger(threshold=0.5, hysteresis=0.2, length_ticks=3)
    seq = [0.0, 0.6, 0.9, 0.9, 0.9, 0.9, 0.4, 0.6, 0.2, 0.7]
    events = [tr.process(v) for v in seq]
    # on at 0.6; off after 3 ticks; 0.4 is above 0.5-0.2 so 0.6 does not re-trigger; after 0.2 it does
    assert events == [None, 1, None, None, -1, None, None, None, None, 1]


def test_note_trigger_hold_until_release_level():
    tr = NoteTrigger(threshold=0.5, hysteresis=0.1, length_ticks=0)
    events = [tr.process(v) for v in (0.5, 0.9, 0.45, 0.39, 0.8)]
    assert events == [1, None, None, -1, 1]


def test_delay_line():
    d = DelayLine(ticks=2)
    assert [d.process(i) for i in range(5)] == [None, None, 0, 1, 2]
    assert DelayLine(ticks=0).process("x") == "x"


def _route(**kw):
    raw = {"routes": [{"signal": "rms", "osc": {"address": "/x"}, **kw}]}
    m = validate(raw, signals=SIGNALS)
    return RouteChain(m.routes[0], m.rate)


def test_route_chain_order_range_invert_gamma_out():
    chain = _route(**{"in": [0, 10], "out": [100, 200], "invert": True, "gamma": 2.0})
    # 2.5 -> 0.25 -> invert 0.75 -> gamma 0.5625 -> 156.25
    assert chain.process(2.5) == pytest.approx(156.25)
    assert chain.process(-5.0) == pytest.approx(200.0)  # clamped to 0, inverted to 1
    unclamped = _route(**{"in": [0, 10], "clamp": False})
    assert unclamped.process(20.0) == pytest.approx(2.0)


def test_identity_route_has_no_steps():
    chain = _route()
    assert chain.steps_ == (clamp01,)
    assert chain.process(0.3) == 0.3
