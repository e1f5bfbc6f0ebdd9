"""Router.early: a frame's events sent before its tick. Early plus tick together send exactly what
the tick alone would have (every value once, chains run once per frame, MIDI notes once), split in
two packets; with an output delay nothing goes early."""

import random

from bridge.mapping.router import Router
from bridge.mapping.validate import validate
from tests.mapping.conftest import SIGNALS
from tests.mapping.test_router_plan import MAPPING, _values

EVENTS = ("onset", "kick", "snare", "beat")


def _merge(*frames):
    out = {}
    for frame in frames:
        for key, items in frame.items():
            out.setdefault(key, []).extend(items)
    return {key: sorted(items, key=repr) for key, items in out.items()}


def test_early_then_tick_sends_what_the_tick_alone_sends_once():
    mapping = validate(MAPPING, signals=SIGNALS)
    alone, split = Router(mapping), Router(mapping)
    rng = random.Random(7)
    early_frames = 0
    for t in range(600):
        values = _values(rng)
        events = {k: values[k] for k in EVENTS if k in values and rng.random() < 0.3}
        want = alone.tick(values)
        first = split.early(events)
        second = split.tick(values)
        early_frames += bool(first)
        assert _merge(first, second) == _merge(want), t
        sent_early = {(key, v.address) for key, items in first.items() for v in items
                      if hasattr(v, "address")}
        assert not sent_early & {(key, v.address) for key, items in second.items()
                                 for v in items if hasattr(v, "address")}, t  # never twice
    assert early_frames > 100


def test_a_route_early_has_sent_comes_back_on_the_following_tick():
    mapping = validate({"routes": [{"signal": "kick", "osc": {"address": "/kick"}},
                                   {"signal": "rms", "osc": {"address": "/rms"}}]},
                       signals=SIGNALS)
    router = Router(mapping)
    key = router.sink_keys[0]
    assert [v.address for v in router.early({"kick": 1.0})[key]] == ["/kick"]
    assert [v.address for v in router.tick({"kick": 1.0, "rms": 0.2})[key]] == ["/rms"]
    assert [(v.address, v.value) for v in router.tick({"kick": 0.0, "rms": 0.2})[key]] == [
        ("/kick", 0.0), ("/rms", 0.2)]


def test_with_an_output_delay_nothing_goes_early():
    mapping = validate({"delay_ms": 50, "routes": [{"signal": "kick", "osc": {"address": "/k"}}]},
                       signals=SIGNALS)
    router = Router(mapping)
    assert router.early({"kick": 1.0}) == {}


def test_a_reset_forgets_what_went_early():
    mapping = validate({"routes": [{"signal": "kick", "osc": {"address": "/kick"}}]},
                       signals=SIGNALS)
    router = Router(mapping)
    router.early({"kick": 1.0})
    router.reset()
    key = router.sink_keys[0]
    assert [v.address for v in router.tick({"kick": 1.0})[key]] == ["/kick"]
