"""The real daemon with its default fast triggers on a PulseAudio null sink (48 kHz): a click train
played into the sink, ``vjbridge run --device pulse`` recording its monitor, a UDP receiver.

Asserted (counts and order, never timings; the speed is measured by ``vjbridge bench --e2e``):
each click is one onset and one snare, each in a packet of its own sent ahead of the tick packets
(the first packet that says onset >= 0.5 for that click is an event packet), a trigger is never 1.0
in a tick packet, and the exit report counts the fast events.
"""

from __future__ import annotations

import time

import pytest

from tests.bench.latency import clicks
from tests.runtime.control_peers import EVENT_NAMES, StreamReceiver
from tests.runtime.peers import Bridge

CLICKS = 12


def _is_event(packet) -> bool:
    return all(a.rsplit("/", 1)[-1] in EVENT_NAMES for a, _ in packet)


def test_each_click_is_one_onset_sent_ahead_of_the_ticks(pulse, tmp_path):
    wav = clicks.write_wav(tmp_path / "clicks.wav", clicks.click_track(CLICKS))
    stream = StreamReceiver()
    try:
        bridge = Bridge("run", "--device", "pulse", "--no-models",
                        "--osc", f"127.0.0.1:{stream.port}", env=pulse.env)
        try:
            deadline = time.monotonic() + 30
            while not stream.ticks(0.0) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert stream.ticks(0.0), "no tick packets: " + "\n".join(bridge.err)
            start = time.monotonic()
            pulse.play(wav).wait()
            time.sleep(0.5)
        finally:
            assert bridge.stop() == 0, "\n".join(bridge.err)
        # the packets since the clicks began (the lead-in's first 0.5 s excluded: the onset level
        # of a stream that just started normalises to its own noise)
        packets = [m for t, m in list(stream.packets) if t >= start + 0.5 and not
                   (len(m) == 1 and m[0][0].endswith("/_info"))]
    finally:
        stream.close()
    events = [p for p in packets if _is_event(p)]
    ticks = [p for p in packets if not _is_event(p)]
    assert len(ticks) > 60 * CLICKS * 0.5 * 0.8  # the ticks kept coming
    onsets = [p for p in events if ("/vjbridge/onset", 1.0) in p]
    snares = [p for p in events if ("/vjbridge/snare", 1.0) in p]
    # every click (one may be lost to a capture hiccup of a loaded machine), and no more
    assert CLICKS - 1 <= len(onsets) <= CLICKS
    assert CLICKS - 1 <= len(snares) <= CLICKS
    for p in ticks:
        for address, value in p:
            if address in ("/vjbridge/kick", "/vjbridge/snare"):
                assert value == 0.0  # the 1.0 went ahead, once
    # the onset level's rises through 0.5, in arrival order: each first said by an event packet
    level, first_by = 0.0, []
    for p in packets:
        value = dict(p).get("/vjbridge/onset")
        if value is None:
            continue
        if value >= 0.5 > level:
            first_by.append(_is_event(p))
        level = value
    assert first_by.count(True) == len(onsets)
    assert first_by.count(False) <= 1
    report = "\n".join(bridge.err)
    assert f"fast triggers: " in report and "event packets" in report
