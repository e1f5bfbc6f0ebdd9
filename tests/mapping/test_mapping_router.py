"""Router: values in, per-sink outputs out; delay; triggers; hot reload keeps the last good mapping."""

import math

import numpy as np

from bridge.mapping.router import Router
from bridge.mapping.validate import validate
from bridge.sinks.messages import MidiCC, MidiNote, OscValue
from tests.mapping.conftest import SIGNALS

GOOD = """\
rate: 50
osc:
  td: {port: 7001}
midi:
  desk: {}
routes:
  - {signal: low, osc: {address: /low}, midi: {channel: 2, cc: 7}}
  - {signal: bpm, osc: {address: /bpm, type: int}, in: [0, 200], out: [0, 200]}
  - {signal: rms, midi: {cc: 1, bits: 14}}
  - {signal: kick, midi: {note: 36, length_ms: 40, threshold: 0.5, hysteresis: 0.2}}
"""


def test_tick_produces_per_sink_outputs(write_yaml):
    router = Router.from_path(write_yaml(GOOD), signals=SIGNALS)
    assert router.rate == 50.0
    assert router.sink_keys == [("osc", "td"), ("midi", "desk")]
    assert router.signals_used == {"low", "bpm", "rms", "kick"}
    frame = router.tick({"low": np.float32(0.5), "bpm": 123.6, "rms": 0.5, "kick": 1.0})
    assert frame[("osc", "td")] == [OscValue("/low", 0.5), OscValue("/bpm", 124)]
    assert type(frame[("osc", "td")][0].value) is float  # numpy scalars never reach a sink
    assert type(frame[("osc", "td")][1].value) is int
    assert frame[("midi", "desk")] == [MidiCC(1, 7, 64, 7), MidiCC(0, 1, 8192, 14),
                                       MidiNote(0, 36, 127, True)]


def test_missing_and_nonfinite_values_repeat_last_output(write_yaml):
    router = Router.from_path(write_yaml(GOOD), signals=SIGNALS)
    assert router.tick({}) == {}  # nothing known yet: nothing to send
    router.tick({"low": 0.25})
    frame = router.tick({"low": math.nan})
    assert frame[("osc", "td")] == [OscValue("/low", 0.25)]


def test_note_length_in_ticks_and_retrigger(write_yaml):
    router = Router.from_path(write_yaml(GOOD), signals=SIGNALS)
    notes = []
    for v in [1.0, 1.0, 0.0, 0.0, 1.0, 0.0]:  # 40 ms at 50 Hz = 2 ticks
        notes.append([x for x in router.tick({"kick": v}).get(("midi", "desk"), [])
                      if type(x) is MidiNote])
    assert notes == [[MidiNote(0, 36, 127, True)], [], [MidiNote(0, 36, 0, False)], [],
                     [MidiNote(0, 36, 127, True)], []]


def test_velocity_from_value():
    m = validate({"routes": [{"signal": "onset", "midi": {"note": 40, "threshold": 0.5}}]},
                 signals=SIGNALS)
    router = Router(m)
    (note,) = router.tick({"onset": 0.75})[("midi", "default")]
    assert note == MidiNote(0, 40, 1 + round(0.75 * 126), True)


def test_output_delay_in_ticks():
    m = validate({"rate": 100, "delay_ms": 30,
                  "routes": [{"signal": "rms", "osc": {"address": "/rms"}}]}, signals=SIGNALS)
    router = Router(m)
    frames = [router.tick({"rms": v}) for v in (0.1, 0.2, 0.3, 0.4, 0.5)]
    assert frames[:3] == [{}, {}, {}]
    assert frames[3] == {("osc", "default"): [OscValue("/rms", 0.1)]}
    assert frames[4] == {("osc", "default"): [OscValue("/rms", 0.2)]}


def test_idle_frame(write_yaml):
    text = GOOD.replace("in: [0, 200], out: [0, 200]}", "in: [0, 200], out: [0, 200], idle: 120}")
    router = Router.from_path(write_yaml(text), signals=SIGNALS)
    assert router.idle() == {("osc", "td"): [OscValue("/low", 0.0), OscValue("/bpm", 120)],
                             ("midi", "desk"): [MidiCC(1, 7, 0, 7), MidiCC(0, 1, 0, 14)]}


def test_reload_keeps_last_good_mapping(write_yaml, caplog):
    path = write_yaml(GOOD)
    router = Router.from_path(path, signals=SIGNALS)
    router.tick({"kick": 1.0})  # a note is now held
    path.write_text(GOOD.replace("cc: 7}", "cc: 700}").replace("signal: rms", "signal: rsm"))
    problems = router.reload(path)
    assert problems == ["routes[0].midi.cc: 700 is out of range 0..127",
                        "routes[2].signal: unknown signal 'rsm'; did you mean 'rms'?"]
    assert "not reloaded, keeping the last good one" in caplog.text
    frame = router.tick({"low": 1.0})
    assert MidiCC(1, 7, 127, 7) in frame[("midi", "desk")]  # the old mapping still routes

    path.write_text(GOOD.replace("address: /low", "address: /low2"))
    assert router.reload(path) == []
    frame = router.tick({"low": 0.5})
    assert frame[("osc", "td")][0] == OscValue("/low2", 0.5)
    # the note the old mapping held is released on the first tick after the switch
    assert frame[("midi", "desk")][0] == MidiNote(0, 36, 0, False)
