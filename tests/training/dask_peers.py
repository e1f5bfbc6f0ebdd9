"""A real Dask cluster on loopback for the tests and the scaling benchmark: ``dask scheduler`` and
``dask worker`` started as separate processes, exactly as a user starts them on their machines.

Why real processes and not an in-process ``LocalCluster``: what must hold on a cluster (tasks
shipped by reference to code the workers import themselves, a worker killed with SIGKILL, a client
that goes away mid-run) only happens across process boundaries.

Everything listens on 127.0.0.1 only. The scheduler picks a free port itself (``--port 0``) and
writes its address to a scheduler file the workers read, so parallel test runs never race for a
port. Each process runs in its own session (its own process group: a worker is its nanny plus the
worker process the nanny starts, and ``kill_worker`` ends both, as when a machine is lost), and the
kernel ends each one if the process that started it dies (``PR_SET_PDEATHSIG``), so not even a
``kill -9`` of pytest leaves a cluster behind. ``stop()`` (also on ``with`` exit) always kills all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WITNESS = Path(__file__).with_name("dask_witness.py")


def _die_with_parent() -> None:  # preexec_fn: runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def env(**extra) -> dict:
    """The environment of every process here: this tree's ``bridge`` first, one thread each."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", **extra)


def vjbridge_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "bridge.cli", *map(str, args)]


def vjbridge(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    """``vjbridge ARGS`` as a separate process of this tree (as a user runs it)."""
    return subprocess.run(vjbridge_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          env=env(), cwd=ROOT)


class DaskCluster:
    """``with DaskCluster(folder, workers=2) as c: c.address`` -> ``tcp://127.0.0.1:PORT``.

    ``cpus``: one CPU number (or None) per worker; a number pins that worker with ``taskset -c``.
    ``witness``: workers log their tasks to ``c.witness_file`` (see ``dask_witness.py``).
    """

    def __init__(self, folder, *, workers: int = 2, cpus=None, nanny: bool = True,
                 witness: bool = True):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n_workers = workers
        self.cpus = list(cpus) if cpus is not None else [None] * workers
        self.nanny = nanny
        self.scheduler_file = self.folder / "scheduler.json"
        self.witness_file = self.folder / "witness.log" if witness else None
        self.procs: dict[str, subprocess.Popen] = {}
        self.address: str | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, name: str, cmd: list[str], extra_env: dict | None = None) -> None:
        log = open(self.folder / f"{name}.log", "wb")
        try:
            self.procs[name] = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env(**(extra_env or {})),
                cwd=self.folder, start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            log.close()

    def start(self) -> None:
        self.scheduler_file.unlink(missing_ok=True)
        self._spawn("scheduler", [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard",
                                  "--dashboard-address", "127.0.0.1:0",  # its plain HTTP pages
                                  "--scheduler-file", str(self.scheduler_file)])
        deadline = time.monotonic() + 60
        while self.address is None:
            self._check_alive("scheduler")
            try:
                self.address = json.loads(self.scheduler_file.read_text())["address"]
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                if time.monotonic() > deadline:
                    raise RuntimeError("dask scheduler wrote no address in 60 s:\n" + self.log("scheduler"))
                time.sleep(0.1)
        for i in range(self.n_workers):
            self.start_worker(f"w{i + 1}", self.cpus[i])
        self.wait_for_workers(self.n_workers)

    def start_worker(self, name: str, cpu: int | None = None) -> None:
        cmd = [sys.executable, "-m", "dask", "worker", "--scheduler-file", str(self.scheduler_file),
               "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
               "--dashboard-address", "127.0.0.1:0", "--name", name, "--local-directory", str(self.folder / name),
               "--death-timeout", "60", "--nanny" if self.nanny else "--no-nanny"]
        if self.witness_file is not None:
            cmd += ["--preload", str(WITNESS)]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu), *cmd]
        extra = {"VJB_DASK_WITNESS": str(self.witness_file)} if self.witness_file else {}
        self._spawn(name, cmd, extra)

    def stop(self) -> None:
        for name in list(self.procs)[::-1]:  # workers first, the scheduler last
            self._signal(name, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self._signal(name, signal.SIGKILL)  # the whole group: a nanny's worker too
            proc.wait()

    # ---- control and observation ---------------------------------------------------------------
    def _signal(self, name: str, sig: int) -> None:
        try:
            os.killpg(self.procs[name].pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker's whole process group (nanny and worker): a machine lost mid-task."""
        self._signal(name, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def _check_alive(self, name: str) -> None:
        if self.procs[name].poll() is not None:
            raise RuntimeError(f"dask {name} exited with {self.procs[name].returncode}:\n"
                               + self.log(name))

    def log(self, name: str, tail: int = 3000) -> str:
        try:
            return (self.folder / f"{name}.log").read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def client(self):
        from distributed import Client

        return Client(self.address, timeout="20s", set_as_default=False)

    def wait_for_workers(self, n: int, timeout: float = 60) -> None:
        with self.client() as c:
            try:
                c.wait_for_workers(n, timeout=timeout)
            except TimeoutError:
                raise RuntimeError(f"{n} dask workers did not join in {timeout} s:\n" +
                                   "\n".join(self.log(w) for w in self.procs if w != "scheduler"))

    def wait_idle(self, timeout: float = 60) -> None:
        """Until no worker runs a task's code (not even one its gone client left running: the
        scheduler forgets those at once, the worker only when the code returns)."""
        from tests.training.dask_witness import running

        deadline = time.monotonic() + timeout
        while running(self.witness_file):
            if time.monotonic() > deadline:
                raise RuntimeError(f"still running after {timeout} s: {running(self.witness_file)}")
            time.sleep(0.1)

