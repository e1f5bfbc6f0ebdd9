"""Real peers for the runtime tests: a PulseAudio null sink as the input device, liblo's oscdump as
the OSC receiver. Recipes from ../shared/notes/real-peers.md, started and stopped from here as CI does.

A missing binary fails the test with the apt-get line that installs it (never a skip).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

VJBRIDGE = [sys.executable, "-m", "bridge.cli"]


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is missing: apt-get install -y {package}")
    return path


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_health(port: int, timeout: float = 2.0) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def wait_health(port: int, ok, timeout: float = 30.0, what: str = "") -> dict:
    """Poll /health until ``ok(doc)``; the last document in the failure message."""
    deadline = time.monotonic() + timeout
    doc = None
    while time.monotonic() < deadline:
        try:
            doc = get_health(port)[1]
            if ok(doc):
                return doc
        except (OSError, ValueError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    raise AssertionError(f"/health never showed {what}; last: {json.dumps(doc)[:2000]}")


class PulseServer:
    """A private PulseAudio daemon with a 48 kHz null sink whose monitor is the default source."""

    def __init__(self, sink_format: str | None = None):
        # sink_format="float32le": a float sink passes NaN/inf samples through to a recorder
        self.sink_format = sink_format
        require("pulseaudio", "pulseaudio")
        require("pactl", "pulseaudio-utils")
        self.runtime_dir = tempfile.mkdtemp(prefix="vjb-pulse-")
        os.chmod(self.runtime_dir, 0o700)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime_dir)
        self.env.pop("PULSE_SERVER", None)

    def _pactl(self, *args, check=True):
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True,
                              check=check, timeout=10)

    def start(self) -> "PulseServer":
        subprocess.run(
            ["pulseaudio", "-n", "--daemonize=yes", "--exit-idle-time=-1", "--high-priority=yes",
             "--realtime=yes",
             f"--log-target=file:{self.runtime_dir}/pa.log", "-L", "module-native-protocol-unix",
             "-L", "module-null-sink sink_name=testsink rate=48000 channels=2 norewinds=1"
             + (f" format={self.sink_format}" if self.sink_format else "")],
            env=self.env, check=True, timeout=20)
        for _ in range(200):
            if self._pactl("info", check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"PulseAudio did not start; see {self.runtime_dir}/pa.log")
        self._pactl("set-default-sink", "testsink")
        self._pactl("set-default-source", "testsink.monitor")
        return self

    def stop(self) -> None:
        self._pactl("exit", check=False)
        for _ in range(100):  # wait until the daemon is really gone (its socket refuses)
            if self._pactl("info", check=False).returncode != 0:
                return
            time.sleep(0.05)

    def play(self, path) -> "Playback":
        """Play a WAV into the null sink from the server's sample cache (``pactl upload-sample`` +
        ``play-sample``): no client process feeds the sink, so a loaded machine cannot make the
        player underrun and insert silence (paplay did, even with a 2 s buffer)."""
        import wave

        with wave.open(str(path)) as w:
            seconds = w.getnframes() / w.getframerate()
        name = f"vjb{abs(hash(str(path))) % 10**8}"
        self._pactl("upload-sample", str(path), name)
        self._pactl("play-sample", name, "testsink")
        return Playback(time.monotonic() + seconds)


class Playback:
    """``wait()`` returns 0 once the sample has had time to play to its end."""

    def __init__(self, ends_at: float):
        self.ends_at = ends_at

    def wait(self, timeout: float | None = None) -> int:
        time.sleep(max(0.0, self.ends_at - time.monotonic()) + 0.1)
        return 0


class OscDump:
    """liblo's ``oscdump`` on a UDP port; collects ``(address, value)`` lines as they arrive."""

    def __init__(self, port: int | None = None):
        require("oscdump", "liblo-tools")
        require("ss", "iproute2")
        self.port = port or free_udp_port()
        self.proc = subprocess.Popen(["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        for _ in range(200):  # oscdump prints nothing when ready: look for its socket
            out = subprocess.run(["ss", "-lun"], capture_output=True, text=True).stdout
            if f":{self.port} " in out:
                return
            time.sleep(0.02)
        raise RuntimeError(f"oscdump did not open UDP port {self.port}")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def messages(self) -> list[tuple[str, float]]:
        """``(address, value)`` of every float message so far (bundles arrive as their messages)."""
        out = []
        for line in list(self.lines):
            parts = line.split()
            if len(parts) >= 4 and parts[2] == "f":
                out.append((parts[1], float(parts[3])))
        return out

    def wait_last(self, address: str, value: float, timeout: float = 10.0) -> None:
        """Wait until the newest message to ``address`` is ``value`` (e.g. the idle value sent on
        exit), so the test does not stop oscdump before a loaded machine delivered it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.series(address)
            if got.size and got[-1] == value:
                return
            time.sleep(0.05)

    def series(self, address: str) -> np.ndarray:
        return np.array([v for a, v in self.messages() if a == address])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)  # every line oscdump printed is read before anyone looks


class Bridge:
    """``vjbridge run ...`` as a subprocess; stderr collected line by line."""

    def __init__(self, *args: str, env: dict | None = None, nice: int = -10):
        # A live audio process gets a higher CPU priority, as on a show machine; on the shared test
        # box other jobs would otherwise starve it (we are root here; elsewhere nice is ignored).
        def priority():
            try:
                os.nice(nice)
            except OSError:
                pass

        self.proc = subprocess.Popen([*VJBRIDGE, *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=priority,
                                     cwd=Path(__file__).resolve().parents[2])
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(self.proc.stderr, self.err),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stdout, self.out),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, sink):
        for line in stream:
            sink.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                if text in line:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"vjbridge never printed {text!r}; stderr:\n" + "\n".join(self.err))

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("vjbridge did not stop on SIGINT; stderr:\n" + "\n".join(self.err))
        for t in self._threads:
            t.join(timeout=5)
        return rc

    @property
    def stderr(self) -> str:
        return "\n".join(self.err)
