"""Router.tick's unrolled per-tick loop and the chains' fused functions give exactly the numbers of
the documented route-by-route, step-by-step semantics (bit for bit, value types included)."""

import itertools
import math
import random

import numpy as np
import pytest

from bridge.mapping.router import Router, _Route
from bridge.mapping.transforms import RouteChain
from bridge.mapping.validate import validate
from bridge.sinks.messages import OscValue
from tests.mapping.conftest import SIGNALS

NAMES = ["low", "mid", "high", "rms", "onset", "kick", "snare", "beat", "bpm", "motion", "weight"]

# every kind of route: plain clamped and unclamped routes, int OSC, a second OSC target
# that interleaves with the first, MIDI CC and notes (also on a route that sends OSC), transforms
MAPPING = {
    "rate": 60,
    "osc": {"a": {"port": 7001}, "b": {"port": 7002}},
    "midi": {"desk": {}},
    "routes": [
        {"signal": "motion", "osc": {"address": "/m", "target": "a"}, "attack_ms": 30,
         "release_ms": 120},
        {"signal": "low", "osc": {"address": "/low", "target": "a"}},
        {"signal": "mid", "osc": {"address": "/mid", "target": "a"}},
        {"signal": "high", "osc": {"address": "/high", "target": "b"}},
        {"signal": "rms", "osc": {"address": "/rms", "target": "a"}},
        {"signal": "onset", "osc": {"address": "/onset", "target": "a"}, "clamp": False},
        {"signal": "kick", "osc": {"address": "/kick", "target": "a"}, "clamp": False},
        {"signal": "snare", "osc": {"address": "/snare", "target": "b"}, "clamp": False},
        {"signal": "bpm", "osc": {"address": "/bpm", "target": "a", "type": "int"},
         "in": [0, 200], "out": [0, 200]},
        {"signal": "beat", "osc": {"address": "/beat", "target": "a"},
         "midi": {"note": 36, "length_ms": 40, "threshold": 0.5}},
        {"signal": "weight", "midi": {"cc": 3, "bits": 14}, "autorange": False, "invert": True,
         "gamma": 0.5, "deadband": 0.02, "in": [-1, 2], "out": [10, -10]},
        {"signal": "low", "osc": {"address": "/low2", "target": "b"}, "gamma": 2.0,
         "clamp": False, "out": [1, 5], "attack_ms": 10},
        {"signal": "mid", "midi": {"cc": 7}},
        {"signal": "high", "osc": {"address": "/hi3", "target": "a"}, "deadband": 0.05},
    ],
}


def _reference(mapping):
    """Route by route, step by step: what Router.tick is documented to do."""
    routes = [_Route(r, mapping.rate, mapping.targets) for r in mapping.routes]
    oscs = [r["osc"] for r in mapping.routes]
    last = [None] * len(routes)

    def tick(values):
        frame = {}
        for i, r in enumerate(routes):
            x = values.get(r.signal)
            if x is not None and math.isfinite(float(x)):
                last[i] = r.chain.process(float(x))
            y = last[i]
            if y is None:
                continue
            osc = oscs[i]
            if osc is not None:
                v = int(round(y)) if osc["type"] == "int" else float(y)
                frame.setdefault(("osc", osc["target"]), []).append(OscValue(osc["address"], v))
            for out in r.outs:
                if out.key[0] != "osc":
                    item = out.emit(y)
                    if item is not None:
                        frame.setdefault(out.key, []).append(item)
        return frame
    return tick


def _values(rng):
    """A tick's values: mostly ordinary, sometimes missing, non-finite, out of range or numpy."""
    out = {}
    for name in NAMES:
        u = rng.random()
        if u < 0.08:
            continue
        if u < 0.12:
            out[name] = rng.choice([math.nan, math.inf, -math.inf])
        elif u < 0.2:
            out[name] = np.float32(rng.uniform(-0.5, 1.5))
        elif name == "bpm":
            out[name] = rng.uniform(-20.0, 260.0)
        else:
            out[name] = rng.choice([0.0, -0.0, 1.0, rng.uniform(-0.3, 1.3), rng.random()])
    return out


@pytest.mark.parametrize("seed", range(4))
def test_tick_equals_route_by_route_reference(seed):
    mapping = validate(MAPPING, signals=SIGNALS)
    router, reference = Router(mapping), _reference(mapping)
    rng = random.Random(seed)
    for t in range(400):
        values = _values(rng) if t % 3 else {n: rng.random() for n in NAMES}  # some all-fresh
        got, want = router.tick(values), reference(values)
        assert got == want, t
        for key in want:  # same types too (int vs float; -0.0 vs 0.0 through the bytes)
            assert [(type(v), repr(v)) for v in got[key]] == [(type(v), repr(v)) for v in want[key]]


@pytest.mark.parametrize("options", [
    {}, {"clamp": False}, {"in": [0, 200], "out": [0, 200]}, {"invert": True, "gamma": 2.0},
    {"in": [0, 10], "out": [100, 200], "invert": True, "gamma": 0.3},
    {"attack_ms": 30, "release_ms": 120}, {"autorange": True},
    {"autorange": True, "attack_ms": 30, "deadband": 0.1, "out": [5, -5]},
    {"deadband": 0.05, "clamp": False, "gamma": 3.0, "in": [-1, 1]},
    {"attack_ms": 5, "deadband": 0.01, "invert": True, "out": [0, 127]},
])
def test_fused_chain_equals_its_steps(options):
    route = validate({"routes": [{"signal": "low", "osc": {"address": "/x"}, **options}]},
                     signals=SIGNALS).routes[0]
    stepwise, fused = RouteChain(route, 60.0), RouteChain(route, 60.0)
    rng = random.Random(1)
    xs = [rng.uniform(-2.0, 3.0) for _ in range(500)] + [0.0, -0.0, 1.0, 5.0, -5.0]
    fn = fused.fn or (lambda x: x)
    for x in itertools.chain(xs, xs[::-1]):
        a, b = stepwise.process(x), fn(x)
        assert repr(a) == repr(b), (options, x)
