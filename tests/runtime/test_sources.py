"""Sources: device resolution by name/index, the bounded queue, file/demo pacing."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bridge.errors import DeviceError, MediaError
from bridge.sources import DemoSource, FileSource, find_input
from bridge.sources.base import Source
from bridge.sources.device import default_input

DEVICES = [  # the shape sounddevice.query_devices() returns
    {"index": 0, "name": "HDA Intel PCH: ALC892 Analog (hw:0,0)", "hostapi": 0,
     "max_input_channels": 2, "default_samplerate": 44100.0},
    {"index": 1, "name": "HDMI 0 (hw:0,3)", "hostapi": 0, "max_input_channels": 0,
     "default_samplerate": 48000.0},
    {"index": 2, "name": "pulse", "hostapi": 0, "max_input_channels": 32,
     "default_samplerate": 44100.0},
    {"index": 3, "name": "default", "hostapi": 0, "max_input_channels": 32,
     "default_samplerate": 44100.0},
    {"index": 4, "name": "Line In (Scarlett 2i2)", "hostapi": 1, "max_input_channels": 2,
     "default_samplerate": 48000.0},
    {"index": 5, "name": "Line In (Scarlett 2i2)", "hostapi": 2, "max_input_channels": 2,
     "default_samplerate": 48000.0},
]


def test_find_input_by_index_substring_and_exact_name():
    assert find_input("2", DEVICES)["name"] == "pulse"
    assert find_input(0, DEVICES)["index"] == 0
    assert find_input("alc892", DEVICES)["index"] == 0  # case-insensitive substring
    assert find_input("PULSE", DEVICES)["index"] == 2  # exact, any case
    # one card under two host APIs: the default host API's entry wins
    assert find_input("scarlett", DEVICES, default_hostapi=2)["index"] == 5


def test_find_input_errors_list_the_inputs():
    with pytest.raises(DeviceError) as err:
        find_input("nosuchdevice", DEVICES)
    msg = str(err.value)
    assert "nosuchdevice" in msg and "'pulse'" in msg and "'default'" in msg
    assert "HDMI" not in msg  # outputs are not offered as inputs
    with pytest.raises(DeviceError, match="index 1"):
        find_input("1", DEVICES)  # HDMI has no input channels
    with pytest.raises(DeviceError, match="several inputs"):
        find_input("scarlett", DEVICES)  # no default host API to break the tie
    with pytest.raises(DeviceError, match="none found"):
        find_input("pulse", [])


def test_default_input_falls_back_to_the_first_input_or_none():
    assert default_input(DEVICES, 3)["name"] == "default"
    assert default_input(DEVICES, -1)["index"] == 0
    assert default_input(DEVICES[1:2], -1) is None


def test_the_queue_is_bounded_and_counts_overruns_without_blocking():
    src = Source(queue_blocks=3)
    src.sample_rate = 100.0
    t0 = time.perf_counter()
    for i in range(10):
        src._push(np.full((4, 1), i, dtype=np.float32))
    assert time.perf_counter() - t0 < 1.0  # nothing waited for the (absent) consumer
    assert src.overruns == 7
    got = [src.read(timeout=0.01) for _ in range(4)]
    assert [b.samples[0, 0] for b in got[:3]] == [0, 1, 2]  # the oldest were kept, in order
    assert got[3] is None


def test_demo_source_paces_blocks_like_a_sound_card():
    src = DemoSource(22050, block_seconds=0.01, seconds=0.5)
    src.start()
    blocks = []
    while True:
        b = src.read(timeout=0.5)
        if b is None:
            if src.finished:
                break
            continue
        blocks.append(b)
    src.stop()
    assert sum(b.samples.shape[0] for b in blocks) == int(0.5 * 22050)
    assert {b.samples.shape[0] for b in blocks[:-1]} == {220}  # round(22050 * 0.01)
    arrivals = np.array([b.arrival for b in blocks])
    assert np.all(np.diff(arrivals) >= 0)
    assert src.overruns == 0


def test_file_source_reports_a_bad_file_in_one_line(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00nonsense")
    with pytest.raises(MediaError, match="broken.wav"):
        FileSource(bad).start()
    with pytest.raises(MediaError, match="no such file"):
        FileSource(tmp_path / "missing.flac").start()


def test_the_block_queue_is_bounded_fifo_and_says_full_and_empty():
    import queue

    from bridge.sources.base import BlockQueue

    q = BlockQueue(2)
    q.put_nowait("a")
    q.put_nowait("b")
    with pytest.raises(queue.Full):
        q.put_nowait("c")
    with pytest.raises(queue.Full):  # waits up to the timeout for room, then gives up
        q.put("c", timeout=0.02)
    assert q.qsize() == 2 and q.get(timeout=0.1) == "a"
    q.put("c", timeout=0.02)  # room now
    assert [q.get(timeout=0.1), q.get_nowait()] == ["b", "c"] and q.empty()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    with pytest.raises(ValueError, match="at least 1"):
        BlockQueue(0)


def test_a_paced_source_that_waits_for_its_next_block_stops_at_once():
    src = DemoSource(22050, block_seconds=0.01, speed=0.02)  # a block every 0.5 s
    src.start()
    assert src.read(timeout=2.0) is not None  # it is producing
    t0 = time.perf_counter()
    src.stop()
    assert time.perf_counter() - t0 < 1.0  # the producer's sleeps are short: stop() joined it
    assert not src._thread.is_alive() and src.state == "stopped"


def test_a_reader_sleeps_until_the_samples_it_asked_for_are_pushed():
    """The engine's one wake-up per frame (bridge.sources.base): with ``wake_at`` set, pushes
    below it leave a waiting reader asleep (the blocks stay queued, in order); the push that
    reaches it wakes the reader at once; at the time-out the queued blocks are still read."""
    import threading

    src = Source(queue_blocks=16)
    src.sample_rate = 100.0
    src.wake_at = 30  # three blocks of 10 samples
    got, woke = [], []

    def reader():
        got.append(src.read(timeout=5.0))
        woke.append(src.pushed)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(3):
        time.sleep(0.15)
        assert not got or i == 2  # asleep while the count is below 30
        src._push(np.full((10, 1), i, dtype=np.float32))
    t.join(timeout=5.0)
    assert woke == [30] and got[0].samples[0, 0] == 0  # woken by the third push: the oldest block
    assert [src.read(timeout=0.01).samples[0, 0] for _ in range(2)] == [1, 2]
    src.wake_at = 100
    src._push(np.full((10, 1), 3, dtype=np.float32))  # queued below the count: read at once
    assert src.read(timeout=1.0).samples[0, 0] == 3
    t0 = time.perf_counter()
    assert src.read(timeout=0.2) is None  # nothing queued: the time-out still ends the wait
    assert time.perf_counter() - t0 >= 0.19


def test_without_a_wake_count_every_push_wakes_the_reader():
    import threading

    src = Source(queue_blocks=16)
    src.sample_rate = 100.0
    got = []
    t = threading.Thread(target=lambda: got.append(src.read(timeout=5.0)))
    t.start()
    time.sleep(0.1)
    src._push(np.ones((1, 1), dtype=np.float32))
    t.join(timeout=5.0)
    assert got and got[0] is not None and src.pushed == 1
