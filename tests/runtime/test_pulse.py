"""The live bridge on a real audio device: a PulseAudio null sink, played with paplay, recorded by
``vjbridge run --device pulse`` (a subprocess), received by liblo's oscdump.

What is asserted: the addresses arrive, about one packet per feature frame of the played audio, with
values that follow the offline pipeline on the same file (aligned by cross-correlation: the capture
start is arbitrary; correlation, never timing); a PulseAudio stop/start while the bridge runs is
survived without a restart; a wrong device name is one line listing the real ones.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from bridge.runtime.engine import LIVE_SPEC
from tests.runtime.conftest import mapping_for_test_model, offline_columns, offline_mapped
from tests.runtime.peers import Bridge, OscDump, free_udp_port


def best_lag(live: np.ndarray, ref: np.ndarray, *, min_overlap: float = 0.9) -> int:
    """The lag with the highest Pearson correlation over the overlap (``live[i + lag]`` ~
    ``ref[i]``), among lags where at least ``min_overlap`` of ``ref`` lies inside ``live``."""
    need = int(min_overlap * ref.size)
    best, best_r = 0, -2.0
    for lag in range(-(ref.size - need), live.size - need + 1):
        a, b = aligned(live, ref, lag)
        if a.size >= need and a.std() > 0:
            r = corr(a, b)
            if r > best_r:
                best, best_r = lag, r
    return best


def aligned(live: np.ndarray, ref: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The overlap of ``live`` and ``ref`` at ``lag``."""
    start = max(0, lag)
    live = live[start:]
    ref = ref[start - lag:]
    n = min(live.size, ref.size)
    return live[:n], ref[:n]


def corr(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


SEGMENT = 60  # frames: 1 s


def segment_lags(live: np.ndarray, ref: np.ndarray, lag: int, search: int = 15) -> list[tuple]:
    """Per 1 s segment of ``ref``: the best lag within ``search`` frames of ``lag``. Under load a
    PulseAudio capture can lose or delay a few blocks (notes: 30-40 ms gaps); re-aligning each
    segment keeps one such hiccup from hiding whether the values match."""
    out = []
    for s in range(0, ref.size - SEGMENT + 1, SEGMENT):
        seg = ref[s:s + SEGMENT]
        best, best_r = lag, -2.0
        for k in range(lag - search, lag + search + 1):
            if 0 <= s + k and s + k + SEGMENT <= live.size:
                r = corr(live[s + k:s + k + SEGMENT], seg)
                if r > best_r:
                    best, best_r = k, r
        out.append((s, best))
    return out


def segment_corrs(live: np.ndarray, ref: np.ndarray, lags: list[tuple]) -> np.ndarray:
    """Correlation per segment; -1 where the capture has no such segment or it is constant (audio
    lost), so a missing piece counts against the match instead of vanishing."""
    out = []
    for s, k in lags:
        a, b = live[max(0, s + k):s + k + SEGMENT], ref[s:s + SEGMENT]
        ok = s + k >= 0 and a.size == b.size and a.std() > 0 and b.std() > 0
        out.append(corr(a, b) if ok else -1.0)
    return np.array(out)


def matches(r: np.ndarray, floor: float) -> bool:
    """Most segments correlate above ``floor`` (one capture hiccup under load is tolerated)."""
    return bool(np.median(r) > floor and np.mean(r > floor) >= 0.6)


def test_device_to_oscdump_matches_the_offline_pipeline(pulse, music_wav, tmp_path):
    """The product: device -> extractor -> a real ONNX model + classic signals -> mapping -> OSC."""
    from tests.models.helpers import write_model

    model = write_model(tmp_path / "motion-weight.onnx")
    mapping = mapping_for_test_model(tmp_path)
    dump = OscDump()
    # --triggers frame: the offline pipeline decides kick/snare/onset per 60 Hz frame; the fast
    # detector's own device test is tests/runtime/test_fast_triggers_daemon.py
    bridge = Bridge("run", "--device", "pulse", "--input-latency", "0.2", "--model", model,
                    "--mapping", mapping, "--triggers", "frame",
                    "--osc", f"127.0.0.1:{dump.port}", "--status-interval", "1", env=pulse.env)
    try:
        bridge.wait_for("Ctrl-C to stop")
        time.sleep(0.3)  # ~30 callbacks before playing (real-peers.md: the first ones can be late)
        before = len(dump.series("/vjbridge/rms"))
        player = pulse.play(music_wav)
        assert player.wait(timeout=30) == 0
        time.sleep(0.5)
        during = len(dump.series("/vjbridge/rms")) - before
        assert bridge.stop() == 0, bridge.stderr
    finally:
        bridge.stop()
        dump.stop()
    ref = offline_mapped(music_wav, mapping, [model])
    assert {a for a, _ in dump.messages()} == set(ref)  # every routed address, nothing else
    assert {"/vjbridge/motion", "/vjbridge/weight", "/vjbridge/kick"} <= set(ref)
    # rate: one packet per frame of audio; ~8.5 s of playback at 59.92 frames/s (allow for the
    # player's start-up and the device's 30-40 ms gaps, which delay but do not drop frames)
    assert 0.85 * 8 * LIVE_SPEC.frame_rate < during < 1.3 * 9.5 * LIVE_SPEC.frame_rate, during
    live_rms = dump.series("/vjbridge/rms")
    lag = best_lag(live_rms, ref["/vjbridge/rms"])  # one lag for every address: same packets
    a, b = aligned(live_rms, ref["/vjbridge/rms"], lag)
    assert a.size > 0.95 * b.size  # the whole file made it through
    lags = segment_lags(live_rms, ref["/vjbridge/rms"], lag)
    ratios = [np.median(live_rms[s + k:s + k + SEGMENT] / np.maximum(
        ref["/vjbridge/rms"][s:s + SEGMENT], 1e-6)) for s, k in lags if s + k >= 0]
    np.testing.assert_allclose(np.median(ratios), 1.0, atol=0.05)  # the same level, not just shape
    # The capture starts with silence the offline run never saw, so stateful transforms (auto-gain,
    # auto-range, smoothing) converge over the first seconds: compare the later segments for those.
    for key, floor, segments in (("rms", 0.98, slice(None)), ("spectralcentroid", 0.9, slice(None)),
                                 ("low", 0.9, slice(2, None)), ("mid", 0.9, slice(2, None)),
                                 ("high", 0.85, slice(2, None)), ("onset", 0.6, slice(2, None)),
                                 ("motion", 0.6, slice(4, None)), ("weight", 0.6, slice(4, None))):
        r = segment_corrs(dump.series(f"/vjbridge/{key}"), ref[f"/vjbridge/{key}"], lags)[segments]
        assert matches(r, floor), (key, r)
    for key in ("kick", "snare"):  # triggers: as many events as offline, give or take a few
        live, want = aligned(dump.series(f"/vjbridge/{key}"), ref[f"/vjbridge/{key}"], lag)
        assert want.sum() >= 3 and abs(live.sum() - want.sum()) <= max(3, 0.3 * want.sum()), key
    assert "Traceback" not in bridge.stderr
    assert "block arrival -> packet sent median" in bridge.stderr


def test_bridge_recovers_when_pulseaudio_restarts(pulse, music_wav):
    dump = OscDump()
    bridge = Bridge("--log-level", "info", "run", "--device", "pulse", "--input-latency", "0.2",
                    "--mapping", "none", "--osc",
                    f"127.0.0.1:{dump.port}", env=pulse.env)
    try:
        bridge.wait_for("Ctrl-C to stop")
        time.sleep(0.5)  # values flowing (silence)
        pulse.stop()  # the device disappears
        bridge.wait_for("disappeared", timeout=15)
        held = len(dump.series("/vjbridge/rms"))
        time.sleep(0.5)
        assert len(dump.series("/vjbridge/rms")) > held  # last values are held, still sent
        assert bridge.proc.poll() is None
        pulse.start()  # ... and comes back
        bridge.wait_for("is back", timeout=20)
        bridge.wait_for("audio stream restarted", timeout=20)  # blocks flow from the new stream
        time.sleep(0.5)  # the first callbacks of a new stream can come late (real-peers.md)
        mark = len(dump.series("/vjbridge/rms"))
        player = pulse.play(music_wav)
        assert player.wait(timeout=30) == 0
        time.sleep(0.5)
        assert bridge.stop() == 0, bridge.stderr
    finally:
        bridge.stop()
        dump.stop()
    after = dump.series("/vjbridge/rms")[mark:]
    ref = offline_columns(music_wav)
    lag = best_lag(after, ref["rms"])
    assert aligned(after, ref["rms"], lag)[0].size > 0.9 * ref["rms"].size
    r = segment_corrs(after, ref["rms"], segment_lags(after, ref["rms"], lag))
    assert matches(r, 0.98), r  # values flow again, and they are the music's
    assert sum("disappeared" in line for line in bridge.err) == 1  # logged once
    assert "1 stream restarts" in bridge.stderr


def test_unknown_device_is_one_line_listing_the_inputs(pulse):
    bridge = Bridge("run", "--device", "nosuchdevice", env=pulse.env)
    assert bridge.proc.wait(timeout=30) == 1
    bridge.stop()
    errors = [line for line in bridge.err if "error" in line]
    assert len(errors) == 1, bridge.stderr
    assert "'nosuchdevice'" in errors[0] and "'pulse'" in errors[0] and "'default'" in errors[0]
    assert "Traceback" not in bridge.stderr


def test_unreachable_and_busy_osc_targets_do_not_crash(pulse):
    """Nobody listening on the target port, or a program holding it that never reads: the bridge
    keeps streaming and exits cleanly."""
    import socket

    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    try:
        for port in (free_udp_port(), busy.getsockname()[1]):
            bridge = Bridge("run", "--device", "pulse", "--mapping", "none", "--osc",
                            f"127.0.0.1:{port}",
                            "--duration", "1.5", env=pulse.env)
            assert bridge.proc.wait(timeout=30) == 0, bridge.stderr
            bridge.stop()
            assert "Traceback" not in bridge.stderr
            assert "packets (" in bridge.stderr
    finally:
        busy.close()


def test_devices_lists_the_pulse_inputs_and_run_defaults_to_the_default_input(pulse):
    import json
    import subprocess

    from tests.runtime.peers import VJBRIDGE

    out = subprocess.run([*VJBRIDGE, "devices"], env=pulse.env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pulse" in out.stdout and "default" in out.stdout and "MIDI outputs" in out.stdout
    data = json.loads(subprocess.run([*VJBRIDGE, "devices", "--json"], env=pulse.env,
                                     capture_output=True, text=True, timeout=60).stdout)
    names = {d["name"]: d for d in data["audio_inputs"]}
    assert {"pulse", "default"} <= set(names) and names["default"]["default"]
    assert all(d["channels"] > 0 and d["default_rate"] > 0 for d in data["audio_inputs"])
    # no source option: the default input is recorded (and named), not the demo
    port = free_udp_port()
    bridge = Bridge("run", "--mapping", "none", "--osc", f"127.0.0.1:{port}", "--duration", "1.5",
                    env=pulse.env)
    assert bridge.proc.wait(timeout=30) == 0, bridge.stderr
    bridge.stop()
    assert "recording the default input" in bridge.stderr and "'default'" in bridge.stderr
    assert "demo groove" not in bridge.stderr
    # and by index
    index = str(names["pulse"]["index"])
    bridge = Bridge("run", "--device", index, "--mapping", "none", "--osc", f"127.0.0.1:{port}",
                    "--duration", "1", env=pulse.env)
    assert bridge.proc.wait(timeout=30) == 0, bridge.stderr
    bridge.stop()
    assert f"audio input {index} 'pulse'" in bridge.stderr


def test_rate_option_opens_the_device_at_that_rate_and_the_start_line_says_so(pulse):
    """Default: the device's own rate, resampled by vjbridge (its filter delay in the line);
    --rate 22050: read at the spec rate, no resampling; a rate PortAudio refuses: one line."""
    port = free_udp_port()
    for extra, said in (((), "resampled to 22050 Hz (filter delay 2.5"),
                        (("--rate", "22050"), "input at 22050 Hz (the spec rate: no resampling)"),
                        (("--rate", "48000"), "input at 48000 Hz, resampled to 22050 Hz (filter "
                                              "delay 2.54 ms)")):
        bridge = Bridge("run", "--device", "pulse", *extra, "--mapping", "none", "--osc",
                        f"127.0.0.1:{port}", "--duration", "1.5", env=pulse.env)
        assert bridge.proc.wait(timeout=30) == 0, bridge.stderr
        bridge.stop()
        assert said in bridge.stderr, bridge.stderr
        assert "Traceback" not in bridge.stderr
