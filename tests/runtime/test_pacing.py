"""Paced packets: the Pacer's send times on synthetic arrivals (pure arithmetic, no clock), and the
engine with a paced source: the same rows in the same order as unpaced, each frame's events sent
ahead of its packet, never twice."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.pacing import Pacer

FRAME = LIVE_SPEC.hop_length / LIVE_SPEC.sample_rate  # 16.69 ms
BLOCK = 0.010


def _arrivals(n, *, block=0.010, latency=0.020, drift_ppm=0.0, jitter=0.0, seed=0):
    """Frame k ends at stream time t_k; it arrives with the device block holding its last sample
    (block boundaries of a device clock running drift_ppm fast), after the driver latency."""
    rng = np.random.default_rng(seed)
    t = (np.arange(n) + 1) * FRAME
    block_end = np.ceil(t / block) * block
    wall = block_end * (1 + drift_ppm * 1e-6) + latency + rng.exponential(jitter, n) * (jitter > 0)
    return t, wall


@pytest.mark.parametrize("block", [0.005, 0.010, 0.0213])
def test_packets_leave_evenly_after_blocks_that_quantise_arrivals(block):
    t, wall = _arrivals(1200, block=block)
    pacer = Pacer()
    sent = np.array([max(pacer.due(tk, ak, block), ak) for tk, ak in zip(t, wall)])
    gaps = np.diff(sent[240:])  # after the estimate settled (2 s)
    raw = np.diff(wall[240:])
    assert np.percentile(np.abs(raw - FRAME), 95) > block / 3  # the arrivals are uneven...
    assert np.percentile(np.abs(gaps - FRAME), 95) < 0.0005  # ...the packets are not
    waits = sent[240:] - wall[240:]
    assert waits.min() >= 0 and np.median(waits) < 0.75 * block  # about half a block


@pytest.mark.parametrize("ppm, within", [(100.0, 0.0005), (500.0, 0.002)])
def test_the_grid_follows_a_device_clock_that_drifts(ppm, within):
    """Sound cards' clocks are tens of ppm from the computer's; 500 ppm (0.5 ms a second) is far
    out: the packets still keep within the 2 ms the show asks for."""
    t, wall = _arrivals(6000, drift_ppm=ppm)  # 100 s of frames
    pacer = Pacer()
    sent = np.array([max(pacer.due(tk, ak, BLOCK), ak) for tk, ak in zip(t, wall)])
    waits = sent - wall
    assert np.percentile(waits[-600:], 95) < 0.011  # no growing backlog
    gaps = np.diff(sent[300:])
    assert np.percentile(np.abs(gaps - FRAME * (1 + ppm * 1e-6)), 95) < within


def test_a_late_frame_goes_at_once_and_one_outlier_does_not_hold_every_frame_back():
    t, wall = _arrivals(600)
    wall[300] += 0.2  # one block 200 ms late (a hiccup)
    pacer = Pacer()
    dues = np.array([pacer.due(tk, ak, BLOCK) for tk, ak in zip(t, wall)])
    assert dues[300] < wall[300]  # late: sent on arrival
    waits = np.maximum(dues, wall) - wall
    assert np.median(waits[320:]) < 0.008  # the estimate ignored it


def test_stalls_of_a_loaded_machine_do_not_hold_the_frames_after_them_back():
    """Every second a stall delays 6 frames (100 ms of audio) by up to 100 ms: 10 % of frames."""
    t, wall = _arrivals(1200)
    for start in range(60, 1200, 60):
        stall_end = wall[start + 5] + 0.1
        wall[start:start + 6] = np.maximum(wall[start:start + 6], stall_end)
    pacer = Pacer()
    sent = np.array([max(pacer.due(tk, ak, BLOCK), ak) for tk, ak in zip(t, wall)])
    calm = np.ones(t.size, bool)
    for start in range(60, 1200, 60):
        calm[start - 1:start + 8] = False
    waits = (sent - wall)[calm][100:]
    assert np.percentile(waits, 95) < BLOCK + 0.001  # the calm frames wait a block at most
    gaps = np.diff(sent)[calm[1:]][100:]
    assert np.percentile(np.abs(gaps - FRAME), 90) < 0.0005


def test_a_server_delivering_blocks_in_pairs_is_followed():
    t, wall = _arrivals(1200, block=0.020)  # 10 ms blocks handed over two at a time
    pacer = Pacer()
    sent = np.array([max(pacer.due(tk, ak, BLOCK), ak) for tk, ak in zip(t, wall)])
    gaps = np.diff(sent[240:])
    assert np.percentile(np.abs(gaps - FRAME), 95) < 0.0005


def test_the_offset_moves_by_at_most_the_slew_per_frame():
    t, wall = _arrivals(400)
    wall[200:] += 0.030  # the driver's latency changed (a reopened stream at another latency)
    pacer = Pacer(slew=0.0005)
    offsets = []
    for tk, ak in zip(t, wall):
        pacer.due(tk, ak, BLOCK)
        offsets.append(pacer.offset)
    assert np.max(np.abs(np.diff(offsets))) <= 0.0005 + 1e-12
    assert offsets[-1] == pytest.approx(offsets[150] + 0.030, abs=0.002)


class Recorder:
    """An output that splits routing from transmitting, as the mapping does: records each
    transmitted packet with the number of the frame it was routed from."""

    def __init__(self):
        self.log: list[tuple[str, int, dict]] = []
        self.routed = 0

    def start(self):
        pass

    def send(self, values):
        self.transmit(self.route(values))

    def route_early(self, values):
        return ("early", self.routed + 1, dict(values))  # the events of the frame routed next

    def route(self, values):
        self.routed += 1
        return ("send", self.routed, dict(values))

    def transmit(self, packet):
        self.log.append(packet)

    def idle(self):
        pass

    def close(self):
        pass


def _run(pace: bool):
    """The demo groove, 4 s in real time (a paced source), through the classic signals."""
    from bridge.runtime.pipeline import SignalsStage
    from bridge.sources.demo import DemoSource

    source = DemoSource(LIVE_SPEC.sample_rate, speed=1.0, seconds=4.0, block_seconds=0.01)
    out = Recorder()
    engine = Engine(source, [SignalsStage(LIVE_SPEC)], [out], pace=pace)
    engine.run()
    return engine, out.log


def test_the_engine_sends_each_frames_events_ahead_and_the_same_rows_in_order():
    _, plain = _run(pace=False)
    engine, paced = _run(pace=True)
    sends = [(n, v) for kind, n, v in paced if kind == "send"]
    assert [v for _, v in sends] == [v for kind, _, v in plain if kind == "send"]  # same rows
    assert [n for n, _ in sends] == list(range(1, len(sends) + 1))  # in order
    at = {n: i for i, (kind, n, _) in enumerate(paced) if kind == "send"}
    frames = dict(sends)
    early = [(i, n, v) for i, (kind, n, v) in enumerate(paced) if kind == "early"]
    assert len(early) > 10 and engine.early_sent == len(early)
    for i, n, values in early:
        assert at[n] > i  # ahead of its frame's packet
        for name, value in values.items():
            assert name in ("onset", "kick", "snare", "beat")
            assert frames[n][name] == value  # the event of that frame, as the frame says
            if name != "onset":
                assert value == 1.0
    kicks = sum(1 for _, v in sends if v.get("kick") == 1.0)
    assert kicks > 3 and kicks == sum(1 for _, _, v in early if "kick" in v)
    assert engine.paced_wait.count > 100


@pytest.mark.parametrize("pacing", ["even", "asap"])
def test_the_daemon_sends_events_ahead_only_when_pacing_evenly(pacing):
    """``vjbridge run`` through the default mapping to a real UDP receiver: with ``--pacing
    even`` (the default) kicks and onset rises come in packets of their own besides one tick
    packet per frame; with ``asap`` every packet is a whole tick. Each kick is 1.0 once. (The
    frames' own events, ``--triggers frame``: the fast triggers go ahead whatever the pacing,
    tests/runtime/test_fast_triggers_daemon.py.)"""
    import time

    from tests.runtime.control_peers import EVENT_NAMES, StreamReceiver
    from tests.runtime.peers import Bridge

    stream = StreamReceiver()
    try:
        bridge = Bridge("run", "--demo", "--no-models", "--osc", f"127.0.0.1:{stream.port}",
                        "--duration", "4", "--pacing", pacing, "--triggers", "frame")
        assert bridge.proc.wait(timeout=60) == 0, bridge.stderr
        bridge.stop()
        time.sleep(0.2)
        packets = stream.since(0.0)
    finally:
        stream.close()
    events = [p for p in packets if all(a.rsplit("/", 1)[-1] in EVENT_NAMES for a, _ in p)]
    ticks = [p for p in packets if p not in events]
    assert len(ticks) > 150
    kicks = [v for p in packets for a, v in p if a == "/vjbridge/kick" and v == 1.0]
    assert len(kicks) > 3
    if pacing == "even":
        assert len(events) > 5
        assert all(not any(a == "/vjbridge/kick" and v == 1.0 for a, v in p) for p in ticks)
        assert "waiting for the frame's even-spaced time" in bridge.stderr
    else:
        assert events == []
        assert "even-spaced" not in bridge.stderr
