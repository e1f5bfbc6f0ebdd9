"""A private JACK server (dummy driver) and ``jack_midi_dump`` as an independent MIDI receiver.

Each server gets a unique name (``jackd -n``), so tests of several engineers can run JACK at the
same time; clients find it through ``JACK_DEFAULT_SERVER``. The MIDI sink finds JACK by itself
(:mod:`bridge.sinks.midi_backend`: ALSA's sequencer does not exist on these machines);
:func:`jack_mido_backend` points plain mido calls in a test at it too.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
import warnings
from pathlib import Path

from tests.peers.base import poll, require, stop_process
from tests.peers.jack_registry import clear_lock, lock_state

JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"
_EVENT = re.compile(r"^\s*(\d+):\s+((?:[0-9a-f]{2}(?:\s|$))+)")  # a 1-byte event ends the line


class JackStartHung(AssertionError):
    """jackd or its first client blocked on JACK's registry lock, held by a live process."""


class JackServer:
    def __init__(self, period: int = 1024, realtime: bool = False) -> None:
        require("jackd", "jackd2")
        self.period = period  # frames per cycle at 48 kHz: JACK MIDI events land on cycles
        # realtime: SCHED_FIFO for the server and its clients' process threads (root here), so
        # a loaded machine does not make the dummy driver's cycles run late, its frame clock
        # slow, and events vanish in an xrun; for timing tests
        self.realtime = realtime
        require("jack_wait", "jackd2")
        require("jack_lsp", "jackd2")
        self.name = f"vjb-{uuid.uuid4().hex[:8]}"
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_AUDIO_RESERVATION="1")
        self._dir = tempfile.TemporaryDirectory(prefix="vjb-jack-")
        self.log = Path(self._dir.name) / "jackd.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "JackServer":
        try:
            return self._start()
        except JackStartHung as exc:
            # a live process holds JACK's registry lock (jack_registry.py): clear it, say so
            # in the test's warnings (the holder is the bug to find), and try once more
            if not clear_lock():
                raise
            warnings.warn(f"cleared a stuck {exc}", stacklevel=2)
            return self._start()
        except AssertionError as exc:
            # jackd2 keeps at most 8 servers in /dev/shm/jack-shm-registry; a server that was
            # SIGKILLed (a test of device loss, a killed CI run) leaves its entry behind, and once
            # 8 are stale every new server fails with "Too many servers already active". When no
            # jackd runs at all, every entry is stale: clear them and try once more.
            if "Too many servers" not in str(exc) or _jackd_running():
                raise
            for leftover in Path("/dev/shm").glob("jack*"):
                shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() \
                    else leftover.unlink(missing_ok=True)
            return self._start()

    def _start(self) -> "JackServer":
        self._out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            ["jackd", "-n", self.name, *(["-R", "-P", "20"] if self.realtime else ["--no-realtime"]),
             "-d", "dummy", "-r", "48000", "-p", str(self.period),
             "-C", "2", "-P", "2"], stdout=self._out, stderr=subprocess.STDOUT, env=self.env)
        try:
            # jack_wait checks its -t only between attempts: one attempt that blocks (a server
            # up but stuck on a held registry lock) blocks it for ever, so the subprocess
            # timeout is the real bound
            done = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], env=self.env,
                                  capture_output=True, text=True, timeout=15)
            ok = done.returncode == 0 and self.proc.poll() is None
        except subprocess.TimeoutExpired:
            ok = False
        if not ok:
            self.stop()  # a half-started server must not outlive the test
            stuck = _stuck_lock()
            if stuck is not None:
                raise JackStartHung(stuck.describe())
            raise AssertionError(f"jackd did not start: {self.log.read_text()[-800:]}")
        return self

    def ports(self) -> list[str]:
        out = subprocess.run(["jack_lsp", "-s", self.name], env=self.env, capture_output=True,
                             text=True, timeout=10).stdout
        return [p.strip() for p in out.splitlines() if p.strip()]

    def connect(self, src: str, dst: str) -> None:
        require("jack_connect", "jackd2")
        subprocess.run(["jack_connect", "-s", self.name, src, dst], env=self.env, check=True,
                       capture_output=True, timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT)  # jackd shuts down cleanly on SIGINT
            self._out.close()
            self.proc = None

    def __enter__(self) -> "JackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self._dir.cleanup()


def parse_midi_dump(text: str) -> list[list[int]]:
    """Raw bytes of every event ``jack_midi_dump`` printed, in order."""
    out = []
    for line in text.splitlines():
        m = _EVENT.match(line)
        if m:
            out.append([int(b, 16) for b in m.group(2).split()])
    return out


def parse_timed_dump(text: str, rate: int = 48000) -> list[tuple[float, list[int]]]:
    """(seconds, raw bytes) of every event ``jack_midi_dump -a`` printed (its timestamps are
    frames since it started, at the server's sample rate)."""
    out = []
    for line in text.splitlines():
        m = _EVENT.match(line)
        if m:
            out.append((int(m.group(1)) / rate, [int(b, 16) for b in m.group(2).split()]))
    return out


class MidiDump:
    """``jack_midi_dump`` as JACK client ``client`` (input port ``client:input``)."""

    def __init__(self, jack: JackServer, client: str = "dumper") -> None:
        require("jack_midi_dump", "jackd2")
        self.jack = jack
        self.client = client
        self.port = f"{client}:input"
        self.log = Path(jack._dir.name) / f"{client}.txt"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "MidiDump":
        self._out = open(self.log, "ab")
        self.proc = subprocess.Popen(["stdbuf", "-oL", "jack_midi_dump", "-a", self.client],
                                     stdout=self._out, stderr=subprocess.STDOUT, env=self.jack.env)
        poll(lambda: self.port in self.jack.ports() or self.proc.poll() is not None,
             what=f"JACK port {self.port}")
        if self.proc.poll() is not None:
            raise AssertionError(f"jack_midi_dump exited: {self.log.read_text()}")
        return self

    def events(self) -> list[list[int]]:
        return parse_midi_dump(self.log.read_text(errors="replace"))

    def timed_events(self) -> list[tuple[float, list[int]]]:
        return parse_timed_dump(self.log.read_text(errors="replace"))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[list[int]]:
        poll(lambda: len(self.events()) >= count, timeout,
             what=f"{count} MIDI events at jack_midi_dump (got {self.events()})")
        return self.events()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self._out.close()
            self.proc = None

    def __enter__(self) -> "MidiDump":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def jack_default_server(jack: JackServer):
    """Make JACK clients of this process (python-rtmidi's) find ``jack``: its name in
    ``JACK_DEFAULT_SERVER`` for the duration, the old value put back after."""
    old_env = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = jack.name
    try:
        yield jack
    finally:
        if old_env is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old_env


@contextlib.contextmanager
def jack_mido_backend(jack: JackServer):
    """Make mido (in this process) talk to ``jack`` through python-rtmidi's JACK API."""
    import mido

    old_backend = mido.backend
    with jack_default_server(jack):
        mido.set_backend(JACK_BACKEND, load=True)
        try:
            yield mido.backend
        finally:
            mido.backend = old_backend


def _stuck_lock():
    """JACK's registry lock when it stays held by the same process for half a second: a
    blocked jackd or client (jack_registry.py) rather than a holder that is just quick."""
    first = lock_state()
    if first is None or not first.held:
        return None
    time.sleep(0.5)
    again = lock_state()
    return again if again is not None and again.held and again.last_pid == first.last_pid else None


def _jackd_running() -> bool:
    """True when any jackd process exists on this machine (then its registry entries are live)."""
    return subprocess.run(["pgrep", "-x", "jackd"], capture_output=True).returncode == 0
