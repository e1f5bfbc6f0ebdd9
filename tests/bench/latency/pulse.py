"""A private PulseAudio server with a 48 kHz null sink, and paplay into it: the benchmark's input.

Why private: the benchmark must not depend on (or disturb) a desktop's sound server, and it must
leave nothing running. The server runs in the foreground as our child (``--daemonize=no``) with its
own ``XDG_RUNTIME_DIR``, so we hold its pid, it dies with us (``PR_SET_PDEATHSIG``) and stopping it
is ``pactl exit`` then SIGTERM/SIGKILL of that one pid. Server and player run in their own
sessions: a Ctrl-C at the terminal reaches only the benchmark, which then stops them in order (a
player killed by the same Ctrl-C would otherwise end the run early, looking complete).
``norewinds=1``: without it the first 30-100 ms of each playback are lost and capture starts
1-2 s late (measured on these machines).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path


class BenchError(RuntimeError):
    """A one-line reason the benchmark cannot run (a missing tool names its package)."""


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise BenchError(f"{binary} is missing: apt-get install {package}")
    return path


def die_with_parent() -> None:
    """``preexec_fn`` for children: SIGTERM when the benchmark process dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def stop_child(proc: subprocess.Popen | None, first=signal.SIGTERM, timeout: float = 5.0) -> None:
    """Stop one process we started: ``first``, then SIGKILL after ``timeout`` s."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(first)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


class PrivatePulse:
    """``with PrivatePulse() as pulse``: a running server; ``pulse.env`` is what clients need."""

    SINK = "vjbench"

    def __init__(self, rate: int = 48000):
        self.pulseaudio = require("pulseaudio", "pulseaudio")
        self.pactl = require("pactl", "pulseaudio-utils")
        self.paplay = require("paplay", "pulseaudio-utils")
        self.rate = int(rate)
        self.dir = tempfile.mkdtemp(prefix="vjb-e2e-pulse-")
        os.chmod(self.dir, 0o700)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.dir)
        for key in ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE"):
            self.env.pop(key, None)
        self.log = Path(self.dir) / "pa.log"
        self.proc: subprocess.Popen | None = None

    def _pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([self.pactl, *args], env=self.env, capture_output=True, text=True,
                              check=check, timeout=10)

    def start(self) -> "PrivatePulse":
        sink = (f"module-null-sink sink_name={self.SINK} rate={self.rate} channels=2 "
                "norewinds=1")
        self.proc = subprocess.Popen(
            [self.pulseaudio, "-n", "--daemonize=no", "--exit-idle-time=-1",
             f"--log-target=file:{self.log}", "-L", "module-native-protocol-unix", "-L", sink],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 15
        while self._pactl("info", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-400:] if self.log.exists() else ""
                self.stop()
                raise BenchError(f"PulseAudio did not start: {tail.strip() or 'no log'}")
            time.sleep(0.05)
        self._pactl("set-default-sink", self.SINK)
        self._pactl("set-default-source", f"{self.SINK}.monitor")
        return self

    def play(self, wav: Path, latency_ms: int = 500) -> subprocess.Popen:
        """paplay the file into the sink with a ``latency_ms`` buffer (below ~500 ms a loaded
        machine underruns and inserts silence)."""
        return subprocess.Popen([self.paplay, f"--latency-msec={latency_ms}", str(wav)],
                                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, preexec_fn=die_with_parent)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._pactl("exit", check=False)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                stop_child(self.proc)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PrivatePulse":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
