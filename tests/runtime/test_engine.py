"""The engine on files and the demo: the live path equals the offline pipeline; outputs at the
output rate; stage order; idle on exit. Real OSC receiver (liblo's oscdump) for the wire."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest

from bridge.errors import ConfigError
from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.osc_basic import OscOutput
from bridge.sinks.osc import parse_osc_target as parse_target
from bridge.runtime.stages import FeatureColumns
from bridge.sources import DemoSource, FileSource
from bridge.sources.base import Source
from tests.runtime.conftest import StalledDemo, offline_columns
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
    assert stage.resets == 2  # after the warm-up, and when the first block starts the stream


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


def test_engine_holds_values_while_the_audio_stops():
    out = Recorder([])
    engine = Engine(StalledDemo(LIVE_SPEC.sample_rate, seconds=0.3), [FeatureColumns(LIVE_SPEC)],
                    [out], hold_after=0.1)
    engine.run(duration=1.2)
    assert engine.held_ticks >= 2  # ~35 on an idle machine; a loaded one starves the engine
    assert engine.frames == (int(0.3 * LIVE_SPEC.sample_rate) - LIVE_SPEC.n_fft) \
        // LIVE_SPEC.hop_length + 1  # every frame of the audio was processed
    assert all(v == engine.values for v in out.sent[-5:])  # held = the last real values, re-sent


class KickAlways(FeatureColumns):
    """Columns plus a trigger that fires on every frame."""

    def process(self, frames):
        out = super().process(frames)
        out["kick"] = np.ones(frames.shape[0])
        return out


def test_held_values_release_triggers():
    """Holding through a loss re-sends continuous values, but a trigger is held at 0, not 1."""
    out = Recorder([])
    engine = Engine(StalledDemo(LIVE_SPEC.sample_rate, seconds=0.3), [KickAlways(LIVE_SPEC)],
                    [out], hold_after=0.1)
    engine.run(duration=1.0)
    assert engine.held_ticks >= 2  # ~35 on an idle machine; a loaded one starves the engine
    live, held = out.sent[:engine.frames], out.sent[-3:]
    assert all(v["kick"] == 1.0 for v in live)
    assert all(v["kick"] == 0.0 and v["rms"] == live[-1]["rms"] for v in held)


def test_engine_idles_outputs_once_when_configured():
    log: list[str] = []
    out = Recorder(log)
    engine = Engine(StalledDemo(LIVE_SPEC.sample_rate, seconds=0.3), [FeatureColumns(LIVE_SPEC)],
                    [out], hold_after=0.1, on_loss="idle")
    engine.run(duration=0.9)
    assert engine.held_ticks == 0 and len(out.sent) == engine.frames  # nothing re-sent
    # idled when the audio stopped (once per gap: a loaded machine may add a gap), and at exit
    assert log[0] == "output.start" and log[-2:] == ["output.idle", "output.close"]
    assert 2 <= log.count("output.idle") <= 3


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="output rate"):
        Engine(DemoSource(), [], [], output_rate=0)
    with pytest.raises(ConfigError, match="on_loss"):
        Engine(DemoSource(), [], [], on_loss="panic")
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_target("127.0.0.1:99999")
    assert parse_target("9000") == ("127.0.0.1", 9000)
    assert parse_target("[::1]:7000") == ("::1", 7000)


def is_subsequence(sub, seq) -> bool:
    it = iter(seq)
    return all(any(x == y for y in it) for x in sub)


def test_oscdump_receives_the_file_signals(demo_wav):
    """The wire: a real OSC receiver decodes our bundles; values equal the offline pipeline.
    (UDP on a loaded machine may lose a few packets: what arrives must be the offline values,
    in order.)"""
    dump = OscDump()
    try:
        engine = Engine(FileSource(demo_wav, speed=2), [FeatureColumns(LIVE_SPEC)],
                        [OscOutput("127.0.0.1", dump.port)])
        engine.run()
        for key in FeatureColumns.SIGNALS:
            dump.wait_last(f"/vjbridge/{key}", 0.0)
    finally:
        dump.stop()
    ref = offline_columns(demo_wav)
    n = len(ref["rms"])
    assert engine.ticks - engine.held_ticks == n and engine.source.overruns == 0
    addresses = {a for a, _ in dump.messages()}
    assert addresses == {f"/vjbridge/{k}" for k in FeatureColumns.SIGNALS}
    for key in FeatureColumns.SIGNALS:
        got = dump.series(f"/vjbridge/{key}")
        assert len(got) >= 0.9 * n, (key, len(got), n)
        assert got[-1] == 0.0  # the idle value on exit
        want = [float(f"{v:.6f}") for v in ref[key].astype(np.float32)]  # oscdump prints %f
        got = [float(f"{v:.6f}") for v in got[:-1]]
        # a producer starved > 0.25 s on a loaded box makes the engine re-send (hold) the last
        # values: drop those repeats, then what arrived must be the offline values, in order
        got = [v for i, v in enumerate(got) if i == 0 or v != got[i - 1]]
        assert is_subsequence(got, want), key


CLASSIC_ROUTES = {f"/vjbridge/{k}" for k in ("low", "mid", "high", "rms", "onset", "kick", "snare",
                                                "beat", "bpm", "spectralcentroid")}


def test_cli_run_demo_with_the_default_mapping_reaches_oscdump():
    """`vjbridge run --demo`: classic signals through mappings/default.yaml to a real receiver."""
    dump = OscDump()
    try:
        bridge = Bridge("run", "--demo", "--osc", f"127.0.0.1:{dump.port}", "--duration", "2")
        rc = bridge.proc.wait(timeout=30)
        bridge.stop()
    finally:
        dump.stop()
    assert rc == 0, bridge.stderr
    assert "demo groove" in bridge.stderr and "default.yaml" in bridge.stderr
    assert "block arrival -> packet sent median" in bridge.stderr
    # the classic routes stream; so do the outputs of the shipped models (if any are shipped);
    # routes to model outputs nobody produces only get their idle value, at exit (blackout)
    from bridge.models.onnx_model import OnnxModel
    from bridge.runtime.pipeline import shipped_models

    produced = {f"/vjbridge/{n}" for p in shipped_models() for n in OnnxModel.load(p).names}
    addresses = {a for a, _ in dump.messages()}
    assert CLASSIC_ROUTES | produced <= addresses
    for address in addresses - CLASSIC_ROUTES - produced:
        assert address in {f"/vjbridge/{k}" for k in ("motion", "weight", "r", "g", "b")}
        # only the idle value, once: idle() at exit, and close() does not send it again
        assert list(dump.series(address)) == [0.0]
    for address in produced:
        assert len(set(dump.series(address))) > 3  # a model output moves
    rms = dump.series("/vjbridge/rms")
    assert len(rms) > 10 and rms.max() > 0.05  # the groove is not silent


def test_cli_run_without_a_mapping_sends_every_signal_raw():
    from bridge.signals import ClassicSignals

    dump = OscDump()
    try:
        bridge = Bridge("run", "--demo", "--no-models", "--mapping", "none", "--osc",
                        f"127.0.0.1:{dump.port}", "--duration", "1.5")
        assert bridge.proc.wait(timeout=30) == 0, bridge.stderr
        bridge.stop()
    finally:
        dump.stop()
    names = ClassicSignals(LIVE_SPEC).names
    assert {a for a, _ in dump.messages()} == {f"/vjbridge/{n}" for n in names}


def test_cli_run_with_nothing_listening_says_so_and_counts_no_drops():
    """Before TouchDesigner starts nothing listens on the port: that is a state, not a fault."""
    port = free_udp_port()
    bridge = Bridge("run", "--demo", "--no-models", "--osc", f"127.0.0.1:{port}", "--duration",
                    "2.5", "--status-interval", "0.5")
    assert bridge.proc.wait(timeout=30) == 0, bridge.stderr
    bridge.stop()
    assert "nothing is listening there yet" in bridge.stderr
    assert "(nothing listening at the target yet)" in bridge.stderr
    summary = next(l for l in bridge.err if "stopped after" in l)
    assert " 0 drops, " in summary and "refused (nothing listening at the target)" in summary


def test_cli_bad_targets_mappings_and_models_are_one_clear_line(tmp_path):
    cases = [
        (["--osc", "no-such-host.invalid:7000"], "cannot resolve host"),
        (["--mapping", "none", "--osc", "no-such-host.invalid:7000"], "cannot resolve host"),
        (["--osc", "127.0.0.1:70000"], "port in 1..65535"),
        (["--mapping", "none", "--osc", "127.0.0.1:70000"], "port in 1..65535"),
        (["--mapping", str(tmp_path / "missing.yaml")], "missing.yaml"),
        (["--model", str(tmp_path / "missing.onnx")], "no such model file"),
    ]
    for args, expected in cases:
        bridge = Bridge("run", "--demo", "--duration", "1", *args)
        assert bridge.proc.wait(timeout=30) == 1, (args, bridge.stderr)
        bridge.stop()
        lines = [l for l in bridge.err if "error" in l]
        assert len(lines) == 1 and expected in lines[0], (args, bridge.stderr)
        assert "Traceback" not in bridge.stderr


def test_sigterm_stops_cleanly_with_outputs_at_idle():
    dump = OscDump()
    try:
        bridge = Bridge("run", "--demo", "--mapping", "none", "--osc", f"127.0.0.1:{dump.port}")
        bridge.wait_for("Ctrl-C to stop")
        for _ in range(200):  # until values flow
            if len(dump.series("/vjbridge/rms")) > 10:
                break
            time.sleep(0.05)
        bridge.proc.send_signal(signal.SIGTERM)
        assert bridge.proc.wait(timeout=15) == 0, bridge.stderr
        bridge.stop()
        dump.wait_last("/vjbridge/rms", 0.0)
    finally:
        dump.stop()
    assert "stopped after" in bridge.stderr and "Traceback" not in bridge.stderr
    rms = dump.series("/vjbridge/rms")
    assert rms[:-1].max() > 0.05 and rms[-1] == 0.0  # streaming, then the idle value on exit


def test_an_edited_mapping_is_reloaded_and_a_broken_edit_keeps_the_last_good_one(tmp_path):
    mapping = tmp_path / "live.yaml"
    text = ("version: 1\nrate: 60\nosc:\n  out: {host: 127.0.0.1, port: 7000}\nroutes:\n"
            "  - {signal: rms, osc: {address: /first/rms}}\n")
    mapping.write_text(text)
    dump = OscDump()
    try:
        bridge = Bridge("run", "--demo", "--no-models", "--mapping", str(mapping), "--osc",
                        f"127.0.0.1:{dump.port}")
        bridge.wait_for("Ctrl-C to stop")
        deadline = time.monotonic() + 20
        while not dump.series("/first/rms").size and time.monotonic() < deadline:
            time.sleep(0.05)
        mapping.write_text(text.replace("/first/rms", "/second/rms"))
        while not dump.series("/second/rms").size and time.monotonic() < deadline:
            time.sleep(0.05)
        mapping.write_text(text.replace("signal: rms", "signal: rmss"))  # broken: unknown signal
        time.sleep(2.5)
        assert bridge.proc.poll() is None  # still running
        n = dump.series("/second/rms").size
        time.sleep(0.5)
        assert dump.series("/second/rms").size > n  # the last good mapping stays live
        assert bridge.stop() == 0, bridge.stderr
    finally:
        dump.stop()
    assert dump.series("/first/rms").size and dump.series("/second/rms").size
    assert "rmss" in bridge.stderr  # the broken edit was reported, naming the bad value


class Queued(Source):
    """Blocks queued before the engine starts (at ``rate``), then finished; records the time-outs
    the engine passes to ``read``."""

    kind = "queued"

    def __init__(self, blocks, rate, *, finish=True):
        super().__init__(queue_blocks=len(blocks) + 1)
        self.sample_rate, self.generation = float(rate), 1
        for b in blocks:
            self._push(b)
        self.timeouts: list[float] = []
        self._finish = finish

    def start(self):
        if self._finish:
            self.state = "finished"

    def stop(self):
        pass

    def read(self, timeout):
        self.timeouts.append(timeout)
        return super().read(timeout)

    def describe(self):
        return "queued blocks"


def test_a_stereo_block_is_mixed_to_the_mean_of_its_channels():
    """The downmix (one reduction) gives exactly the samples ``x.mean(axis=1)`` gives."""
    rng = np.random.default_rng(3)
    stereo = [rng.uniform(-0.5, 0.5, (441, 2)).astype(np.float32) for _ in range(40)]
    rows = []
    for blocks in (stereo, [b.mean(axis=1)[:, None] for b in stereo]):
        out = Recorder([])
        Engine(Queued(blocks, 44100), [FeatureColumns(LIVE_SPEC)], [out]).run()
        rows.append(out.sent)
    assert len(rows[0]) > 10 and rows[0] == rows[1]


def test_the_engine_waits_longer_for_audio_while_it_flows_and_at_the_tick_rate_once_held():
    """While audio is recent the engine's read waits up to 50 ms (no wake-ups for nothing from a
    device that delivers in bursts), never past the moment a hold tick could become due; once the
    audio is ``hold_after`` late, it reads at the tick period (held values go out on time)."""
    blocks = [np.zeros((220, 1), np.float32) for _ in range(40)]
    src = Queued(blocks, LIVE_SPEC.sample_rate, finish=False)
    # not paced: a paced frame waiting for its time shortens the wait (test_pacing.py)
    engine = Engine(src, [FeatureColumns(LIVE_SPEC)], [Recorder([])], hold_after=0.2, pace=False)
    engine.run(duration=0.8)
    period = 1.0 / engine.output_rate
    assert engine.held_ticks > 0
    assert max(src.timeouts) == 0.05
    assert all(period - 1e-9 <= t <= 0.05 for t in src.timeouts)
    assert src.timeouts[-1] == period  # the audio stopped long ago: held at the tick rate


@pytest.mark.parametrize("channels", range(2, 13))
def test_downmix_is_the_mean_bit_for_bit(channels):
    from bridge.runtime.engine import downmix

    rng = np.random.default_rng(channels)
    for scale in (1e-4, 0.3, 1.0, 7.0):
        x = (rng.standard_normal((480, channels)) * scale).astype(np.float32)
        want = x.mean(axis=1)
        got = downmix(x)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


class CountingDemo(DemoSource):
    """The demo source counting the engine's wake-ups by a pushed block (not its time-outs, which
    pacing uses to send a frame at its time)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.blocks = 0
        self.wakeups = 0
        wake = self._wake

        class Counted:
            def get(inner, timeout=None):
                item = wake.get(timeout=timeout)  # a time-out (a paced send's time) raises
                self.wakeups += 1  # woken by a push
                return item

            def put(inner, item):
                wake.put(item)

        self._wake = Counted()

    def _push(self, samples, arrival=None):
        self.blocks += 1
        super()._push(samples, arrival)


@pytest.mark.parametrize("rate", [22050, 48000])
def test_the_engine_wakes_once_per_frame_not_per_block(rate):
    """10 ms blocks complete a 60 Hz frame every 1-2 blocks: the engine sleeps through the blocks
    that complete none (they wait in the queue) and still sends every frame."""
    src = CountingDemo(rate, block_seconds=0.01, seconds=1.5)
    out = Recorder([])
    engine = Engine(src, [FeatureColumns(LIVE_SPEC)], [out])
    engine.run(duration=5.0)
    assert src.blocks >= 140 and engine.frames >= 80
    # one packet per frame, none lost (plus held ones if a loaded machine stalled the demo 0.25 s)
    assert len(out.sent) == engine.frames + engine.held_ticks
    assert src.wakeups <= engine.frames + 5  # not one per block (~150)


def test_a_tcp_target_where_nothing_listens_is_one_line_in_the_log(tmp_path):
    """One problem, one line: the transport's "cannot connect ... one line per outage" says it;
    the status events record it (the page, /health) without a second or third line."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mapping = tmp_path / "tcp.yaml"
    mapping.write_text(f"version: 1\nosc:\n  t: {{host: 127.0.0.1, port: {port}, protocol: tcp}}\n"
                       "routes:\n  - {signal: rms, osc: {target: t, address: /x}}\n")
    bridge = Bridge("run", "--demo", "--no-models", "--mapping", str(mapping), "--duration", "3")
    assert bridge.proc.wait(timeout=30) == 0, bridge.stderr
    bridge.stop()
    warnings = [line for line in bridge.err if "WARNING" in line]
    assert len(warnings) == 1, warnings
    assert f"osc target 't' (tcp://127.0.0.1:{port}): cannot connect" in warnings[0]
