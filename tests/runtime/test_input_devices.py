"""Inputs a gallery has: a JACK server and PulseAudio that restart under a running bridge, a
device delivering NaN, a microphone that goes silent, a machine whose input is missing at boot.

Every case is the real ``vjbridge run`` against real peers: jackd (dummy driver, restarted with
SIGKILL as a crash does), a PulseAudio null sink (``pactl exit`` and a new daemon; a float32 sink
that passes NaN through, fed by ``pacat``), liblo's oscdump receiving, and the daemon's own
``/health`` polled over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from tests.peers.jack import JackServer
from tests.runtime.peers import Bridge, OscDump, PulseServer, free_tcp_port, wait_health
from tests.runtime.test_stop_and_reload_daemon import assert_stops_in_time

pytestmark = [pytest.mark.peers, pytest.mark.slow]


def run_args(dump: OscDump, status: int, *extra: str) -> list[str]:
    return ["--log-level", "info", "run", "--no-models", "--mapping", "none", "--osc",
            f"127.0.0.1:{dump.port}", "--status-port", str(status), "--no-realtime", *extra]


def flowing(dump: OscDump, n: int = 20, timeout: float = 20.0) -> None:
    """Wait for ``n`` more /vjbridge/rms packets than there are now."""
    start = len(dump.series("/vjbridge/rms"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(dump.series("/vjbridge/rms")) >= start + n:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} packets reached oscdump in {timeout} s")


def state(doc) -> str:
    return doc.get("source", {}).get("device_state", "")


# ---- JACK ------------------------------------------------------------------------------------


def jack_env(jack: JackServer) -> dict:
    env = dict(jack.env)
    env["XDG_RUNTIME_DIR"] = jack._dir.name  # no PulseAudio: the JACK device is the input
    env.pop("PULSE_SERVER", None)
    return env


def crash_and_restart(jack: JackServer, *, restart: bool = True) -> None:
    jack.proc.kill()  # a crash: no goodbye to the clients
    jack.proc.wait()
    jack._out.close()
    jack.proc = None
    if restart:
        time.sleep(1.0)
        jack.start()


def test_a_jack_server_that_crashes_and_restarts_is_recovered_by_name():
    dump = OscDump()
    status = free_tcp_port()
    with JackServer() as jack:
        bridge = Bridge(*run_args(dump, status, "--device", "system"), env=jack_env(jack))
        try:
            bridge.wait_for("Ctrl-C to stop", timeout=60)
            assert "(JACK)" in bridge.wait_for("Ctrl-C to stop")  # recorded through libjack
            doc = wait_health(status, lambda d: state(d) == "running", what="running")
            assert doc["engine"]["restarts"] == 0
            flowing(dump)
            crash_and_restart(jack, restart=False)
            wait_health(status, lambda d: state(d) in ("lost", "stalled"), timeout=5,
                        what="the JACK input lost")
            bridge.wait_for("disappeared", timeout=10)
            time.sleep(1.0)
            jack.start()  # the same server name, as a service manager restarts it
            bridge.wait_for("is back", timeout=20)
            doc = wait_health(status, lambda d: d["engine"]["restarts"] == 1
                              and state(d) == "running", timeout=20, what="1 stream restart")
            assert doc["source"]["input_state"] in ("ok", "starting")
            flowing(dump)  # packets flow again, from the new server
            took, rc = assert_stops_in_time(bridge, signal.SIGINT)
            assert rc == 0, bridge.stderr
        finally:
            bridge.stop()
            dump.stop()
    assert sum("disappeared" in line for line in bridge.err) == 1  # logged once
    assert "1 stream restarts" in bridge.stderr
    assert "Cannot connect to server" not in bridge.stderr  # libjack's retries are not a flood
    assert "Traceback" not in bridge.stderr


def test_duration_ends_a_run_whose_jack_server_died():
    """The probe's hang: after a JACK loss, ``--duration`` printed its summary and never exited."""
    dump = OscDump()
    status = free_tcp_port()
    with JackServer() as jack:
        bridge = Bridge(*run_args(dump, status, "--device", "system", "--duration", "6"),
                        env=jack_env(jack))
        try:
            bridge.wait_for("Ctrl-C to stop", timeout=60)
            t0 = time.monotonic()
            flowing(dump)
            crash_and_restart(jack, restart=False)
            bridge.wait_for("disappeared", timeout=10)
            rc = bridge.proc.wait(timeout=15)
            assert time.monotonic() - t0 < 6 + 3, "ran past --duration"
        finally:
            bridge.stop()
            dump.stop()
    assert rc == 0, bridge.stderr
    assert "block arrival -> packet sent median" in bridge.stderr  # the summary
    assert "Traceback" not in bridge.stderr


# ---- PulseAudio --------------------------------------------------------------------------------


def test_a_pulseaudio_restart_is_recovered_and_the_daemon_still_stops_in_time():
    pulse = PulseServer().start()
    dump = OscDump()
    status = free_tcp_port()
    bridge = Bridge(*run_args(dump, status, "--device", "pulse", "--input-latency", "0.2"),
                    env=pulse.env)
    try:
        bridge.wait_for("Ctrl-C to stop", timeout=60)
        flowing(dump)
        pulse.stop()
        wait_health(status, lambda d: state(d) in ("lost", "stalled"), timeout=5, what="lost")
        pulse.start()
        doc = wait_health(status, lambda d: d["engine"]["restarts"] == 1
                          and state(d) == "running", timeout=30, what="1 stream restart")
        assert doc["source"]["input_state"] != "lost"
        flowing(dump)
        took, rc = assert_stops_in_time(bridge, signal.SIGINT)
        assert rc == 0, bridge.stderr
    finally:
        bridge.stop()
        dump.stop()
        pulse.stop()


def test_duration_ends_a_run_whose_pulseaudio_is_gone():
    pulse = PulseServer().start()
    dump = OscDump()
    bridge = Bridge(*run_args(dump, free_tcp_port(), "--device", "pulse", "--input-latency", "0.2",
                              "--duration", "5"), env=pulse.env)
    try:
        bridge.wait_for("Ctrl-C to stop", timeout=60)
        t0 = time.monotonic()
        flowing(dump)
        pulse.stop()
        bridge.wait_for("disappeared", timeout=10)
        rc = bridge.proc.wait(timeout=15)
        assert time.monotonic() - t0 < 5 + 3, "ran past --duration"
    finally:
        bridge.stop()
        dump.stop()
        pulse.stop()
    assert rc == 0, bridge.stderr
    assert "block arrival -> packet sent median" in bridge.stderr


# ---- NaN and silence ---------------------------------------------------------------------------


def test_nan_blocks_from_a_live_device_become_silence_counted_and_logged_once():
    pulse = PulseServer(sink_format="float32le").start()  # a float sink passes NaN through
    dump = OscDump()
    status = free_tcp_port()
    bridge = Bridge(*run_args(dump, status, "--device", "pulse", "--input-latency", "0.2"),
                    env=pulse.env)
    try:
        bridge.wait_for("Ctrl-C to stop", timeout=60)
        flowing(dump)
        x = np.full((4 * 48000, 2), 0.1, np.float32)
        for start in (20000, 60000, 100000, 140000):  # four bursts of garbage, 2 s apart-ish
            x[start:start + 960] = np.nan
        x[170000:170100] = np.inf
        subprocess.run(["pacat", "--format=float32le", "--rate=48000", "--channels=2", "--raw",
                        "--latency-msec=500"], input=x.tobytes(), env=pulse.env, check=True,
                       timeout=30)
        doc = wait_health(status, lambda d: d["source"]["nonfinite_blocks"] >= 4, timeout=10,
                          what="the NaN blocks counted")
        assert state(doc) == "running" and bridge.proc.poll() is None  # the show goes on
        flowing(dump)
        took, rc = assert_stops_in_time(bridge, signal.SIGINT)
        assert rc == 0, bridge.stderr
    finally:
        bridge.stop()
        dump.stop()
        pulse.stop()
    assert sum("NaN or inf" in line for line in bridge.err) == 1, bridge.stderr  # logged once
    rms = dump.series("/vjbridge/rms")
    assert np.isfinite(rms).all() and rms.max() > 0.05  # the 0.1 signal got through, no NaN out
    assert "Traceback" not in bridge.stderr


def test_sustained_silence_is_a_state_and_an_event_and_sound_ends_it(music_wav):
    pulse = PulseServer().start()
    dump = OscDump()
    status = free_tcp_port()
    bridge = Bridge(*run_args(dump, status, "--device", "pulse", "--input-latency", "0.2",
                              "--silence-after", "1.5", "--status-interval", "0.5"),
                    env=pulse.env)
    try:
        bridge.wait_for("Ctrl-C to stop", timeout=60)
        doc = wait_health(status, lambda d: d["source"]["input_state"] == "silent", timeout=15,
                          what="the silent input")  # nothing plays into the null sink
        assert doc["status"] == "degraded" and doc["source"]["silent_for_s"] >= 1.5
        assert any("input silent" in r for r in doc["reasons"]), doc["reasons"]
        bridge.wait_for("has been silent for 1.5 s")  # the event, in the log
        bridge.wait_for("input silent")  # the status line
        pulse.play(music_wav)
        doc = wait_health(status, lambda d: d["source"]["input_state"] == "ok", timeout=15,
                          what="sound back")
        assert doc["source"]["silent_for_s"] is None
        bridge.wait_for("sound is back on the input")
        kinds = [(e["kind"], e["level"]) for e in doc["events"] if e["kind"] == "input"]
        assert ("input", "WARNING") in kinds and ("input", "INFO") in kinds
    finally:
        assert bridge.stop() == 0, bridge.stderr
        dump.stop()
        pulse.stop()


# ---- no input at start ---------------------------------------------------------------------------


def no_input_env(tmp_path) -> dict:
    """No PulseAudio, no JACK: PortAudio finds no input device (this machine has no sound card)."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(run), JACK_DEFAULT_SERVER="vjb-none")
    env.pop("PULSE_SERVER", None)
    return env


@pytest.mark.parametrize("device", [None, "pulse"])
def test_no_input_device_is_one_line_and_exit_1_not_the_demo(tmp_path, device):
    extra = [] if device is None else ["--device", device]
    bridge = Bridge("run", "--mapping", "none", "--duration", "2", *extra, env=no_input_env(tmp_path))
    rc = bridge.proc.wait(timeout=60)
    bridge.stop()
    assert rc == 1, bridge.stderr
    errors = [line for line in bridge.err if "error" in line]
    assert len(errors) == 1 and "--fallback wait" in errors[0] and "--demo" in errors[0], \
        bridge.stderr
    assert "demo groove" not in bridge.stderr.replace("(the demo groove)", "")
    assert "Traceback" not in bridge.stderr


def test_fallback_demo_plays_the_demo_and_says_so(tmp_path):
    dump = OscDump()
    bridge = Bridge("run", "--no-models", "--mapping", "none", "--osc", f"127.0.0.1:{dump.port}",
                    "--fallback", "demo", "--duration", "2", env=no_input_env(tmp_path))
    try:
        rc = bridge.proc.wait(timeout=60)
    finally:
        bridge.stop()
        dump.stop()
    assert rc == 0, bridge.stderr
    assert "WARNING: this machine has no audio input device" in bridge.stderr
    assert "playing the built-in demo groove instead (fallback: demo)" in bridge.stderr
    assert dump.series("/vjbridge/rms").max() > 0.05  # the groove, not silence


def test_a_run_config_fallback_wait_waits_for_the_device_and_records_it_when_it_appears(tmp_path):
    env = no_input_env(tmp_path)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("device: pulse\nfallback: wait\nmodels: none\nmapping: none\n")
    dump = OscDump()
    status = free_tcp_port()
    bridge = Bridge("run", "--config", str(cfg), "--osc", f"127.0.0.1:{dump.port}",
                    "--status-port", str(status), "--input-latency", "0.2", env=env)
    pulse = None
    try:
        bridge.wait_for("waiting for it (fallback: wait)", timeout=60)
        doc = wait_health(status, lambda d: state(d) == "lost", timeout=20, what="waiting")
        assert doc["source"]["input_state"] == "lost" and doc["status"] == "down"
        assert dump.series("/vjbridge/rms").size == 0  # no fake show meanwhile
        pulse = PulseServer()
        pulse.runtime_dir = env["XDG_RUNTIME_DIR"]  # the daemon's XDG_RUNTIME_DIR
        pulse.env = env
        pulse.start()  # the input appears
        bridge.wait_for("is back", timeout=30)
        wait_health(status, lambda d: state(d) == "running", timeout=20, what="recording")
        flowing(dump)
        took, rc = assert_stops_in_time(bridge, signal.SIGINT)
        assert rc == 0, bridge.stderr
    finally:
        bridge.stop()
        dump.stop()
        if pulse is not None:
            pulse.stop()
    assert "Traceback" not in bridge.stderr
