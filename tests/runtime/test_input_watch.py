"""InputWatch on real audio arrays: NaN/inf blocks become silence (counted, one event), sustained
silence below the floor becomes a state and an event, and sound ends it. The engine through a
file with the same blocks: NaN from a live source is not fatal."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.events import Events
from bridge.runtime.input_watch import InputWatch
from bridge.runtime.stages import FeatureColumns
from bridge.sources import DemoSource


def watch(**kw) -> InputWatch:
    return InputWatch(events=Events(logger=logging.getLogger("test.input")), **kw)


@pytest.mark.filterwarnings("ignore:overflow encountered in dot")
def test_non_finite_blocks_become_silence_counted_and_reported_once():
    w = watch()
    tone = (0.5 * np.sin(np.arange(480) / 7.0)).astype(np.float32)
    assert w.process(tone, 0.0) is tone  # a good block is passed on untouched, not copied
    for i, bad in enumerate((np.nan, np.inf, -np.inf)):
        x = tone.copy()
        x[100 + i] = bad
        out = w.process(x, 0.01 * (i + 1))
        assert out.shape == x.shape and out.dtype == x.dtype and not out.any()
    assert w.nonfinite == 3
    events = w.events.recent(kind="input")
    assert len(events) == 1 and "NaN or inf" in events[0].message  # rate-limited: one line
    huge = np.full(480, 1e20, np.float32)  # finite, though its energy overflows float32
    assert w.process(huge, 0.1) is huge and w.nonfinite == 3


def test_silence_after_the_delay_is_a_state_and_an_event_and_sound_ends_it():
    w = watch(silence_after=2.0, floor_db=-60.0)
    assert w.state == "starting"
    hiss = np.random.default_rng(0).normal(0, 10 ** (-70 / 20), 480).astype(np.float32)  # -70 dBFS
    t = 0.0
    for _ in range(150):  # 1.5 s: quiet, not yet silent
        w.process(hiss, t)
        t += 0.01
    assert w.state == "ok" and w.silent_for() is None
    for _ in range(60):
        w.process(hiss, t)
        t += 0.01
    assert w.state == "silent" and 2.0 <= w.silent_for() <= 2.2
    warn = w.events.recent(kind="input")[-1]
    assert warn.level == logging.WARNING and "silent for 2 s" in warn.message
    room = np.random.default_rng(1).normal(0, 10 ** (-50 / 20), 480).astype(np.float32)
    w.process(room, t)  # a quiet room through a microphone is above the floor
    assert w.state == "ok" and w.silent_for() is None
    back = w.events.recent(kind="input")[-1]
    assert back.level == logging.INFO and "sound is back" in back.message


def test_a_new_stream_restarts_the_silence_clock():
    w = watch(silence_after=1.0)
    zeros = np.zeros(480, np.float32)
    for i in range(120):
        w.process(zeros, i * 0.01)
    assert w.state == "silent"
    w.reset()
    assert w.state == "ok"
    w.process(zeros, 5.0)
    assert w.state == "ok"  # the clock starts again at the new stream's first quiet block
    w.process(zeros, 6.01)
    assert w.state == "silent"


class NanDemo(DemoSource):
    """The demo groove with every 50th block replaced by NaN: a device delivering garbage."""

    bad = 0

    def _emit(self, block, sent, t0):
        self._n = getattr(self, "_n", 0) + 1
        if self._n % 50 == 0:
            block = np.full_like(block, np.nan)
            self.bad += 1
        return super()._emit(block, sent, t0)


def test_the_engine_keeps_running_through_nan_blocks():
    sent = []

    class Out:
        drops = 0

        def start(self): ...
        def send(self, values): sent.append(values["rms"])
        def idle(self): ...
        def close(self): ...

    source = NanDemo(LIVE_SPEC.sample_rate, speed=0, seconds=3.0)
    engine = Engine(source, [FeatureColumns(LIVE_SPEC)], [Out()])
    engine.run()
    assert engine.error is None
    assert source.bad == 6 and engine.input_watch.nonfinite == 6  # 301 blocks, every 50th
    assert len(sent) > 150 and np.isfinite(sent).all() and max(sent) > 0.05
