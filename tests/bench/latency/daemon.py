"""``vjbridge run --device pulse`` as the user starts it, a subprocess of the benchmark.

Why a subprocess of this checkout's code (``python -m bridge.cli`` with this tree first on
PYTHONPATH): the benchmark measures the daemon as shipped, with its own threads, priorities and
start-up, and the tree under test, not whatever ``vjbridge`` is first on PATH.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.latency.pulse import BenchError, die_with_parent, stop_child

ROOT = Path(__file__).resolve().parents[3]


class Daemon:
    def __init__(self, osc_port: int, extra: list[str], env: dict):
        self.command = [sys.executable, "-m", "bridge.cli", "run", "--device", "pulse",
                        "--osc", f"127.0.0.1:{osc_port}", *extra]
        path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self.env = dict(env, PYTHONPATH=path)
        self._log = tempfile.NamedTemporaryFile(prefix="vjb-e2e-daemon-", suffix=".log",
                                                delete=False)
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Daemon":
        # its own session: a Ctrl-C at the terminal reaches the benchmark, which stops the daemon
        # with SIGINT itself (so the daemon's exit summary is printed once, and always)
        self.proc = subprocess.Popen(self.command, env=self.env, cwd=ROOT,
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=die_with_parent)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"vjbridge run exited with {self.proc.returncode}: "
                             f"{self.output()[-600:].strip()}")

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def summary(self) -> list[str]:
        """The daemon's exit report (packets, drops, its own latency figures)."""
        return [line for line in self.output().splitlines()
                if line.startswith(("vjbridge: stopped", "vjbridge: block arrival"))]

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        stop_child(self.proc, first=signal.SIGINT, timeout=15)
        return self.proc.returncode

    def cleanup(self) -> None:
        self.stop()
        self._log.close()
        try:
            os.unlink(self._log.name)
        except FileNotFoundError:
            pass


def wait_for(predicate, timeout: float, what: str, alive=None, interval: float = 0.02):
    """Poll ``predicate`` until truthy; BenchError naming ``what`` after ``timeout`` s. ``alive``
    (called each poll) raises when the process we wait on died."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
