"""The engine on files and the demo: the live path equals the offline pipeline; outputs at the
output rate; stage order; idle on exit. Real OSC receiver (liblo's oscdump) for the wire."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bridge.errors import ConfigError
from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.osc_basic import OscOutput, parse_target
from bridge.runtime.stages import FeatureColumns
from bridge.sources import DemoSource, FileSource
from tests.runtime.conftest import offline_columns
from tests.runtime.peers import Bridge, OscDump, free_udp_port


class Recorder:
    """Records what the engine hands an output, and the order of lifecycle calls."""

    drops = 0

    def __init__(self, log):
        self.log = log
        self.sent: list[dict] = []

    def start(self):
        self.log.append("output.start")

    def send(self, values):
        self.sent.append(dict(values))

    def idle(self):
        self.log.append("output.idle")

    def close(self):
        self.log.append("output.close")

    def describe(self):
        return "recorder"


class Columns(FeatureColumns):
    def __init__(self, log):
        super().__init__(LIVE_SPEC)
        self.log = log
        self.resets = 0

    def start(self):
        self.log.append("stage.start")

    def reset(self):
        self.resets += 1

    def close(self):
        self.log.append("stage.close")


def test_file_through_the_live_engine_equals_the_offline_pipeline(demo_wav):
    """48 kHz file -> 10 ms blocks -> in-stream resampler -> extractor -> stage: same numbers as
    extract_file on the whole file, one output tick per frame at 60 Hz."""
    log: list[str] = []
    out = Recorder(log)
    stage = Columns(log)
    engine = Engine(FileSource(demo_wav, speed=0), [stage], [out])
    engine.run()
    ref = offline_columns(demo_wav)
    n = len(ref["rms"])
    assert engine.frames == n and len(out.sent) == n
    for key in FeatureColumns.SIGNALS:
        live = np.array([v[key] for v in out.sent])
        np.testing.assert_allclose(live, ref[key], rtol=1e-9, atol=1e-9, err_msg=key)
    assert log == ["stage.start", "output.start", "output.idle", "output.close", "stage.close"]
    assert engine.latency.count >= n - 2 and engine.latency.median() > 0  # flushed tail: no block
    assert stage.resets == 1  # the first block starts the stream


def test_output_rate_below_the_frame_rate_decimates_in_stream_time(demo_wav):
    out = Recorder([])
    engine = Engine(FileSource(demo_wav, speed=0), [FeatureColumns(LIVE_SPEC)], [out],
                    output_rate=20.0)
    engine.run()
    ref = offline_columns(demo_wav)
    # every third frame (59.92 fps -> 20 Hz), starting with the first
    assert abs(len(out.sent) - len(ref["rms"]) / 3) <= 1
    np.testing.assert_allclose([v["rms"] for v in out.sent], ref["rms"][::3][:len(out.sent)],
                               rtol=1e-9)


class StalledDemo(DemoSource):
    """Demo audio that stops after ``seconds`` without finishing: a device that went silent."""

    @property
    def finished(self):
        return False


def test_engine_holds_values_while_the_audio_stops():
    out = Recorder([])
    engine = Engine(StalledDemo(LIVE_SPEC.sample_rate, seconds=0.3), [FeatureColumns(LIVE_SPEC)],
                    [out], hold_after=0.1)
    engine.run(duration=1.2)
    assert engine.held_ticks > 5
    assert engine.frames == (int(0.3 * LIVE_SPEC.sample_rate) - LIVE_SPEC.n_fft) \
        // LIVE_SPEC.hop_length + 1  # every frame of the audio was processed
    assert all(v == engine.values for v in out.sent[-5:])  # held = the last real values, re-sent


def test_engine_idles_outputs_once_when_configured():
    log: list[str] = []
    out = Recorder(log)
    engine = Engine(StalledDemo(LIVE_SPEC.sample_rate, seconds=0.3), [FeatureColumns(LIVE_SPEC)],
                    [out], hold_after=0.1, on_loss="idle")
    engine.run(duration=0.9)
    assert engine.held_ticks == 0
    assert log == ["output.start", "output.idle", "output.idle", "output.close"]  # loss, then exit


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="output rate"):
        Engine(DemoSource(), [], [], output_rate=0)
    with pytest.raises(ConfigError, match="on_loss"):
        Engine(DemoSource(), [], [], on_loss="panic")
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_target("127.0.0.1:99999")
    assert parse_target("9000") == ("127.0.0.1", 9000)
    assert parse_target("[::1]:7000") == ("::1", 7000)


def test_oscdump_receives_the_file_signals(demo_wav):
    """The wire: a real OSC receiver decodes our bundles; values equal the offline pipeline."""
    dump = OscDump()
    try:
        engine = Engine(FileSource(demo_wav, speed=4), [FeatureColumns(LIVE_SPEC)],
                        [OscOutput("127.0.0.1", dump.port)])
        engine.run()
        ref = offline_columns(demo_wav)
        n = len(ref["rms"])
        for _ in range(100):
            if len(dump.series("/vjbridge/high")) >= n + 1:
                break
            threading.Event().wait(0.05)
    finally:
        dump.stop()
    addresses = {a for a, _ in dump.messages()}
    assert addresses == {f"/vjbridge/{k}" for k in FeatureColumns.SIGNALS}
    for key in FeatureColumns.SIGNALS:
        got = dump.series(f"/vjbridge/{key}")
        assert len(got) == n + 1  # one per frame, plus the idle values on exit
        np.testing.assert_allclose(got[:n], ref[key].astype(np.float32), rtol=1e-5, atol=1e-5)
        assert got[n] == 0.0


def test_cli_run_demo_duration_exits_cleanly_and_reports_latency():
    port = free_udp_port()
    bridge = Bridge("run", "--demo", "--osc", f"127.0.0.1:{port}", "--duration", "1.5")
    rc = bridge.proc.wait(timeout=30)
    bridge.stop()
    assert rc == 0, bridge.stderr
    assert "demo groove" in bridge.stderr
    assert "block arrival -> packet sent median" in bridge.stderr


def test_cli_osc_target_errors_are_one_clear_line():
    bridge = Bridge("run", "--demo", "--osc", "no-such-host.invalid:7000", "--duration", "1")
    assert bridge.proc.wait(timeout=30) == 1
    bridge.stop()
    lines = [l for l in bridge.err if "error" in l]
    assert len(lines) == 1 and "cannot resolve host" in lines[0], bridge.stderr
    bridge = Bridge("run", "--demo", "--osc", "127.0.0.1:70000")
    assert bridge.proc.wait(timeout=30) == 1
    bridge.stop()
    assert "port in 1..65535" in bridge.stderr and "Traceback" not in bridge.stderr
