"""Every place vjbridge behaves differently on Windows or macOS, exercised here on Linux with the
other system simulated: the Linux calls removed from ``os``, ``sys.platform`` replaced, a stand-in
for Windows' kernel32, Windows' SIGBREAK played by another signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from bridge.commands import devices
from bridge.errors import SinkError
from bridge.runtime import priority, shutdown
from bridge.sinks import midi

REPO = Path(__file__).resolve().parents[2]
LINUX_ONLY = ("sched_setscheduler", "sched_getscheduler", "sched_getparam")
UNIX_ONLY = ("setpriority", "getpriority")


class Kernel32:
    """The two kernel32 thread-priority calls, recorded (SetThreadPriority returns nonzero = ok)."""

    def __init__(self, allowed: bool = True):
        self.allowed = allowed
        self.set_to: list[int] = []
        self.current = 0

    def GetCurrentThread(self):
        return -2  # the pseudo-handle Windows returns

    def GetThreadPriority(self, handle):
        return self.current

    def SetThreadPriority(self, handle, value):
        assert handle == -2
        self.set_to.append(value)
        if self.allowed:
            self.current = value
        return int(self.allowed)


def _remove(monkeypatch, names):
    for name in names:
        monkeypatch.delattr(os, name, raising=False)


# ---- engine thread priority (bridge.runtime.priority) -------------------------------------------
def test_windows_gets_a_time_critical_thread_and_gives_it_back(monkeypatch):
    _remove(monkeypatch, LINUX_ONLY + UNIX_ONLY)
    kernel32 = Kernel32()
    monkeypatch.setattr(priority, "windows_kernel32", lambda: kernel32)
    saved = priority.save_priority()
    assert priority.raise_priority() == "high (Windows time-critical thread)"
    assert kernel32.set_to == [priority.WIN_TIME_CRITICAL]
    priority.restore_priority(saved)
    assert kernel32.current == 0


def test_without_any_priority_call_the_show_goes_on_at_normal_priority(monkeypatch):
    _remove(monkeypatch, LINUX_ONLY + UNIX_ONLY)
    monkeypatch.setattr(priority, "windows_kernel32", lambda: Kernel32(allowed=False))
    got = priority.raise_priority()
    assert got.startswith("normal (real-time scheduling refused:") and "--no-realtime" in got
    priority.restore_priority(priority.save_priority())  # nothing to restore, nothing raised


def test_macos_renices_the_process_not_a_thread_id_and_says_root_only(monkeypatch):
    _remove(monkeypatch, LINUX_ONLY)
    monkeypatch.setattr(sys, "platform", "darwin")
    calls = []

    def setpriority(which, who, value):
        calls.append(who)
        raise PermissionError("only root may lower nice")

    monkeypatch.setattr(os, "getpriority", lambda which, who: 0)
    monkeypatch.setattr(os, "setpriority", setpriority)
    got = priority.raise_priority()
    assert calls == [0]  # 0: this process (a thread id is no pid on macOS)
    assert got == ("normal (real-time scheduling refused: macOS grants a higher priority to root "
                   "only; or run with --no-realtime)")


def test_linux_renices_the_calling_thread():
    assert priority.nice_target("linux") == threading.get_native_id()
    assert priority.nice_target("darwin") == 0 and priority.nice_target("win32") == 0


def test_the_engine_runs_on_a_system_without_linux_scheduling_calls(monkeypatch):
    from bridge.runtime.engine import LIVE_SPEC, Engine
    from bridge.runtime.stages import FeatureColumns
    from bridge.sources import DemoSource

    _remove(monkeypatch, LINUX_ONLY + UNIX_ONLY)
    monkeypatch.setattr(priority, "windows_kernel32", lambda: None)

    stop = threading.Event()

    class Count:
        """Stops the engine after a few frames (no clock decides; duration is only a safety cap)."""
        drops = frames = 0

        def start(self): pass
        def idle(self): pass
        def close(self): pass
        def describe(self): return "count"

        def send(self, values):
            self.frames += 1
            if self.frames >= 5:
                stop.set()

    out = Count()
    engine = Engine(DemoSource(LIVE_SPEC.sample_rate, speed=8.0), [FeatureColumns(LIVE_SPEC)],
                    [out], realtime=True)
    engine.run(stop, duration=120)
    assert out.frames >= 5 and engine.priority.startswith("normal")


# ---- stopping (bridge.runtime.shutdown) --------------------------------------------------------
def test_sigbreak_is_a_stop_signal_where_it_exists(monkeypatch):
    assert shutdown.stop_signals() == [signal.SIGINT, signal.SIGTERM]  # Linux: no SIGBREAK
    monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)
    assert shutdown.stop_signals() == [signal.SIGINT, signal.SIGTERM, signal.SIGUSR1]


def test_on_stop_signals_restores_the_previous_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with shutdown.on_stop_signals(lambda: None):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow
def test_vjbridge_run_stops_cleanly_on_sigbreak():
    """A real `vjbridge run` in which SIGBREAK exists (played by SIGUSR1, whose default action
    would kill the process): the signal a parent's CTRL_BREAK_EVENT becomes must stop it cleanly."""
    code = ("import signal\nsignal.SIGBREAK = signal.SIGUSR1\nfrom bridge.cli import entry\n"
            "entry()")  # the program vjbridge is
    proc = subprocess.Popen([sys.executable, "-c", code, "run", "--demo", "--no-models",
                             "--mapping", "none", "--osc", "127.0.0.1:9"],
                            cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120  # a cap for a loaded machine, not a timing check
    while not any("Ctrl-C to stop" in line for line in lines):
        assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)
    try:
        rc = proc.wait(timeout=120)
    finally:
        proc.kill()
    reader.join(timeout=5)
    assert rc == 0, "".join(lines)
    assert any("block arrival -> packet sent median" in line for line in lines), "".join(lines)


# ---- MIDI (bridge.sinks.midi, vjbridge devices) ------------------------------------------------
def test_a_virtual_midi_port_on_windows_names_loopmidi_in_one_line(monkeypatch):
    monkeypatch.setattr(midi, "sys", types.SimpleNamespace(platform="win32"))
    with pytest.raises(SinkError) as info:
        midi.MidiSink(port=None)
    assert str(info.value) == midi.NO_VIRTUAL_PORTS and "loopMIDI" in str(info.value)


def test_each_platform_lists_its_own_midi_systems():
    assert devices.midi_apis("linux") == ("alsa", "jack")
    assert devices.midi_apis("win32") == ("winmm",)
    assert devices.midi_apis("darwin") == ("coremidi", "jack")  # JACK when the wheel has it
    assert devices.midi_apis("linux", choice="jack") == ("jack",)
