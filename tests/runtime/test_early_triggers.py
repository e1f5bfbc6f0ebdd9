"""Triggers sent between ticks (the engine's fast triggers) and paced ticks (one packet per tick).

What is asserted: an early event goes to exactly the routes that carry it, the next tick does not
repeat it and the tick after sends the trigger's 0 (a trigger is 1.0 on one message: the
TouchDesigner component counts every 1.0); a MIDI note fires once; with an output delay nothing
goes early. Through the engine and a real OSC receiver (liblo's oscdump), every kick event arrives
as one 1.0. On a real PulseAudio null sink, packets leave one per tick, never in bursts. Timing
figures themselves are the benchmark's (tests/bench/latency), not asserted here.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from bridge.mapping.router import Router
from bridge.resources import resolve_mapping
from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.pipeline import MappingOutput, SignalsStage, _signal_table
from bridge.signals.catalog import CATALOG
from bridge.sinks.messages import MidiNote
from bridge.sources import DemoSource
from tests.runtime.peers import Bridge, OscDump, PulseServer

KICK = ("osc", "touchdesigner")


def default_router() -> Router:
    return Router.from_path(resolve_mapping("default"), signals=_signal_table(CATALOG))


def row(**over) -> dict:
    values = {name: 0.0 for name in CATALOG.names() if CATALOG[name].size == 1}
    values.update(over)
    return values


def addresses(frame, key=KICK) -> dict:
    return {item[0]: item[1] for item in frame.get(key, [])}


def test_an_early_trigger_goes_alone_and_the_next_tick_does_not_repeat_it():
    router = default_router()
    router.tick(row())
    early = router.early({"kick": 1.0})
    assert addresses(early) == {"/vjbridge/kick": 1.0}  # only the route that carries it
    after = addresses(router.tick(row(kick=1.0, rms=0.5)))
    assert "/vjbridge/kick" not in after and after["/vjbridge/rms"] == 0.5  # the rest as usual
    assert addresses(router.tick(row(kick=0.0)))["/vjbridge/kick"] == 0.0  # then its 0
    # an early onset (a continuous level): the next tick leaves it out only while it is equal
    router.early({"onset": 1.0})
    assert addresses(router.tick(row(onset=0.7)))["/vjbridge/onset"] == pytest.approx(0.7)


def test_a_midi_note_fires_once_and_a_delayed_mapping_sends_nothing_early(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nrate: 60\nmidi:\n  desk: {port: vjbridge-test}\nroutes:\n"
                    "  - {signal: kick, midi: {target: desk, note: 36, length_ms: 50}}\n")
    router = Router.from_path(path, signals=_signal_table(CATALOG))
    notes = [m for m in router.early({"kick": 1.0}).get(("midi", "desk"), [])
             if isinstance(m, MidiNote)]
    assert len(notes) == 1 and notes[0].on
    for value in (1.0, 0.0, 0.0, 0.0, 0.0):  # the tick that carries the same event, then 0s
        again = router.tick(row(kick=value)).get(("midi", "desk"), [])
        assert not any(m.on for m in again)  # never a second note-on; its note-off comes
    path.write_text(path.read_text().replace("rate: 60", "rate: 60\ndelay_ms: 50"))
    delayed = Router.from_path(path, signals=_signal_table(CATALOG))
    assert delayed.early({"kick": 1.0}) == {}  # the event goes with the delayed frames


class Recorder:
    """An output that records ticks and early events in order."""

    drops = refused = 0

    def __init__(self):
        self.log: list[tuple[str, dict]] = []

    def start(self):
        pass

    def send(self, values):
        self.log.append(("tick", dict(values)))

    def send_early(self, values):
        self.log.append(("early", dict(values)))

    def idle(self):
        pass

    def close(self):
        pass

    def describe(self):
        return "recorder"


def test_engine_sends_each_kick_early_once_and_the_next_tick_carries_it():
    """The demo groove in real time: kicks and snares leave between ticks; the first tick after
    each carries it as 1.0 (the output leaves that out), no tick carries a 1.0 without one."""
    out = Recorder()
    engine = Engine(DemoSource(LIVE_SPEC.sample_rate, seconds=4.0), [SignalsStage(LIVE_SPEC)],
                    [out], early_triggers=True)
    engine.run()
    assert engine.fast is not None and engine.fast.rate == LIVE_SPEC.sample_rate
    for name in ("kick", "snare"):
        pending, early, ticked = False, 0, 0
        for kind, values in out.log:
            if kind == "early" and name in values:
                assert not pending  # two events with no tick between: refractory forbids it
                pending, early = True, early + 1
            elif kind == "tick" and values.get(name) == 1.0:
                assert pending, (name, "a tick with 1.0 that no early event announced")
                pending, ticked = False, ticked + 1
        # 124 BPM for ~3.9 s: 8 beats, snare on every second one
        assert early >= (7 if name == "kick" else 3) and early - ticked <= 1, (name, early)
    assert engine.early_sent > 0 and engine.early_latency.count == engine.early_sent


def test_oscdump_sees_every_early_kick_as_exactly_one_1():
    dump = OscDump()
    try:
        output = MappingOutput(resolve_mapping("default"), osc=f"127.0.0.1:{dump.port}",
                               produced=lambda: set(CATALOG.names()))
        engine = Engine(DemoSource(LIVE_SPEC.sample_rate, seconds=3.0), [SignalsStage(LIVE_SPEC)],
                        [output], early_triggers=True)
        counted = {"kick": 0}
        early = output.send_early

        def count(values):
            counted["kick"] += values.get("kick", 0.0) == 1.0
            early(values)

        output.send_early = count
        engine.run()
        dump.wait_last("/vjbridge/kick", 0.0)
    finally:
        dump.stop()
    kicks = dump.series("/vjbridge/kick")
    assert counted["kick"] >= 5 and int((kicks == 1.0).sum()) == counted["kick"]
    # a 1.0 is always followed by a 0 (the tick after next), never by another 1.0
    ones = np.flatnonzero(kicks == 1.0)
    assert all(kicks[i + 1] == 0.0 for i in ones if i + 1 < kicks.size)


class StampedDump(OscDump):
    """oscdump whose lines are stamped (perf_counter) as they are read from its line-buffered
    pipe, byte by byte as they come (no read-ahead buffer holding lines back)."""

    def __init__(self):
        self.stamps: list[tuple[float, str]] = []
        super().__init__()

    def _read(self):
        fd, pending = self.proc.stdout.fileno(), b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            now = time.perf_counter()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode(errors="replace")
                self.lines.append(text)
                self.stamps.append((now, text))


@pytest.mark.peers
def test_packets_on_a_pulseaudio_device_leave_one_per_tick_never_in_bursts(music_wav):
    """``vjbridge run --device pulse`` at the defaults (PortAudio opens the null sink at 44.1 kHz:
    before paced ticks, soxr's chunks made packets leave in pairs: 55 % of gaps under 2 ms)."""
    pulse = PulseServer().start()
    dump = StampedDump()
    bridge = Bridge("run", "--device", "pulse", "--mapping", "none", "--no-models",
                    "--osc", f"127.0.0.1:{dump.port}", env=pulse.env)
    try:
        bridge.wait_for("Ctrl-C to stop")
        time.sleep(0.5)
        start = time.perf_counter()
        player = pulse.play(music_wav)
        assert player.wait(timeout=30) == 0
        end = time.perf_counter()
        assert bridge.stop() == 0, bridge.stderr
    finally:
        bridge.stop()
        dump.stop()
        pulse.stop()
    # one line per message; a frame's bundle holds /vjbridge/rms once (early events never do)
    frames = np.array([t for t, line in dump.stamps if " /vjbridge/rms " in f" {line} "
                       and start <= t <= end])
    gaps = np.diff(frames)
    seconds = end - start
    assert 0.8 * 60 * seconds < frames.size < 1.2 * 60 * seconds, (frames.size, seconds)
    # pairs would make half the gaps < 2 ms; a loaded test machine may delay a few reads
    assert np.mean(gaps < 0.002) < 0.15, np.round(np.sort(gaps)[:20] * 1e3, 2)
    assert np.median(gaps) == pytest.approx(1 / 60, abs=0.004)


def test_clicks_give_one_onset_rise_per_click_early_and_in_the_frames(tmp_path):
    """The e2e benchmark's clicks at 48 kHz in real time (through the resampler): what a receiver
    sees of /onset, early messages and ticks in order, rises through 0.5 once per click (the
    frames of the attack are bridged at 1.0 until the 60 Hz level peaks)."""
    from bridge.audio.decode import audio_info
    from bridge.sources import FileSource
    from tests.bench.latency import clicks

    wav = clicks.write_wav(tmp_path / "clicks.wav", clicks.click_track(8))
    out = Recorder()
    engine = Engine(FileSource(wav, speed=1), [SignalsStage(LIVE_SPEC)], [out],
                    early_triggers=True)
    engine.run()
    assert audio_info(wav).sample_rate == 48000 and engine.fast.rate == 48000
    # the receiver's view, in order, cut at each click's early onset message
    seq = [(kind, values["onset"]) for kind, values in out.log if "onset" in values]
    high = np.array([v >= 0.5 for _, v in seq])
    rise = high & ~np.concatenate(([True], high[:-1]))
    early = [i for i, (kind, _) in enumerate(seq) if kind == "early"]
    clicks_early = early[-8:]  # the first may be the stream's own start (silence -> floor)
    assert len(early) <= 9
    for a, b in zip(clicks_early, clicks_early[1:] + [len(seq)]):
        # from this click's early message (1.0) to the next one's: no second rise
        assert high[a] and not rise[a + 1:b].any(), [round(v, 2) for _, v in seq[a:b]]
