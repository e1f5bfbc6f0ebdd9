"""Shared pieces of the TouchDesigner component tests: a real daemon, an independent tee that
counts what the daemon sent (python-osc decodes it, not the component's codec), stand-in projects
cooking at a given frame rate."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from pythonosc.osc_packet import OscPacket

from tests.td import tdstub

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "td_components" / "vjbridge"
TRIGGERS = ("/vjbridge/kick", "/vjbridge/snare", "/vjbridge/beat")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Daemon:
    """``python -m bridge.cli run --demo ...`` as a subprocess; always cleaned up."""

    def __init__(self, osc_port: int, *extra: str):
        # --no-realtime: on a shared CI box another SCHED_FIFO process can starve a realtime
        # engine thread during its start-up imports; the component does not depend on it.
        self.cmd = [sys.executable, "-m", "bridge.cli", "run", "--demo", "--no-realtime",
                    "--osc", f"127.0.0.1:{osc_port}", *extra]
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=daemon_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line.rstrip("\n"))

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self._reader.join(timeout=2)


class Tee:
    """Receives the daemon's datagrams, decodes them with python-osc (independent of the
    component), counts trigger messages whose value is 1.0, forwards each datagram unchanged."""

    def __init__(self, targets: list[int]):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.targets = list(targets)
        self.lock = threading.Lock()
        self.events: dict[str, int] = {}
        self.addresses: list[str] = []
        self.datagrams = 0
        self.stamps: list[float] = []  # monotonic arrival time of each datagram
        self.infos: list[list] = []
        self.last: dict[str, float] = {}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.datagrams += 1
                self.stamps.append(time.monotonic())
                for timed in OscPacket(data).messages:
                    msg = timed.message
                    if msg.address not in self.addresses:
                        self.addresses.append(msg.address)
                    if msg.address == "/vjbridge/_info":
                        self.infos.append(list(msg.params))
                    if len(msg.params) == 1 and isinstance(msg.params[0], float):
                        self.last[msg.address] = msg.params[0]
                    if msg.params and msg.params[0] == 1.0:
                        self.events[msg.address] = self.events.get(msg.address, 0) + 1
                for port in self.targets:
                    self.out.sendto(data, ("127.0.0.1", port))

    def count(self, address: str) -> int:
        with self.lock:
            return self.events.get(address, 0)

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()
        self.out.close()


class Project:
    """A stand-in TouchDesigner project running the manual setup (a Script CHOP whose callbacks
    DAT's File is vjb_chop_callbacks.py), cooked at ``fps``."""

    def __init__(self, fps: float, port: int, **pars):
        self.fps = fps
        self.td = tdstub.TD(REPO, rate=fps)
        ot = self.td.optypes()
        p1 = self.td.project1
        self.callbacks = p1.create(ot["textDAT"], "callbacks")
        self.callbacks.par.file.val = str(SRC / "vjb_chop_callbacks.py")
        self.callbacks.par.syncfile.val = True
        self.log_dat = p1.create(ot["textDAT"], "vjbridge_log")
        self.status_dat = p1.create(ot["textDAT"], "vjbridge_status")
        self.chop = p1.create(ot["scriptCHOP"], "vjbridge1")
        self.chop.par.callbacks.val = self.callbacks
        self.chop.setup_parameters()
        self.chop.par.Port.val = port
        for name, value in pars.items():
            getattr(self.chop.par, name).val = value
        self.frames: list[dict[str, float]] = []
        self.next_due = 0.0

    def cook(self) -> dict[str, float]:
        self.td.absTime.frame += 1
        self.chop.cook(force=True)
        values = self.chop.values()
        self.frames.append(values)
        return values

    def series(self, name: str) -> list[float]:
        return [f[name] for f in self.frames if name in f]

    def session(self):
        return self.chop.fetch("vjbridge_session", None, search=False)

    def close(self):
        session = self.session()
        if session is not None and hasattr(session, "close"):
            session.close()
        self.td.close()


def run(projects: list[Project], seconds: float, until=None) -> None:
    """Cook every project at its own frame rate for ``seconds`` (sleeping until the next cook is
    due: 1/fps between cooks), or until ``until()`` is true."""
    start = time.monotonic()
    for p in projects:
        p.next_due = start
    while True:
        now = time.monotonic()
        if now - start >= seconds or (until is not None and until()):
            return
        p = min(projects, key=lambda q: q.next_due)
        if p.next_due > now:
            time.sleep(p.next_due - now)
        p.cook()
        p.next_due += 1.0 / p.fps


def wrapper_executable(tmp_path: Path, name: str = "vjbridge") -> Path:
    """A ``vjbridge`` executable for the component's Executable parameter that runs this
    checkout's daemon (what ``pip install vjbridge`` puts on PATH)."""
    path = tmp_path / name
    # "$@" is "run ...": --no-realtime for a shared CI box (see Daemon)
    path.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m bridge.cli \"$@\""
                    " --no-realtime\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path
