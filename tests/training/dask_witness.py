"""A ``dask worker --preload`` for the cluster tests: each worker appends one line per state
change of each of its tasks to the file named by ``$VJB_DASK_WITNESS``, so a test can tell which worker ran
what (that the tasks ran on the cluster at all, that both workers took part, which task a killed
worker had in hand and who finished it afterwards).

Why a worker plugin and not a scheduler query: the scheduler forgets a task once its client has
released it, and the workers are separate processes the test cannot otherwise look into.
``WorkerPlugin.transition`` is public API but documented as subject to change; if it stops being
called the file stays empty and the tests that read it fail saying so (never pass silently).

Line format: ``START FINISH WORKER KEY``, one per state transition of a task on that worker (the
worker's own states: ``executing``, ``memory``, ``cancelled``, ``released``, ...).
"""

from __future__ import annotations

import os

from distributed.diagnostics.plugin import WorkerPlugin


class Witness(WorkerPlugin):
    def __init__(self, path: str):
        self.path = path
        self.name = "?"

    def setup(self, worker):
        self.name = str(worker.name)

    def transition(self, key, start, finish, **kwargs):
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{start} {finish} {self.name} {key}\n".encode())
        finally:
            os.close(fd)


async def dask_setup(worker):
    path = os.environ.get("VJB_DASK_WITNESS")
    if path:
        await worker.plugin_add(Witness(path), name="vjb-witness")


#: States in which a task's code runs in a worker thread (``cancelled``: its client left, and the
#: code runs on to its end; the plugin is told ``executing -> released`` when that happens).
RUNNING = frozenset({"executing", "long-running", "cancelled", "resumed"})


def read(path) -> list[tuple[str, str, str, str]]:
    """``(start, finish, worker, key)`` transitions written so far."""
    try:
        with open(path) as f:
            return [tuple(line.rstrip("\n").split(" ", 3)) for line in f if line.count(" ") >= 3]
    except FileNotFoundError:
        return []


def started(path) -> list[tuple[str, str]]:
    """``(worker, key)`` of every execution begun, in order."""
    return [(w, k) for a, b, w, k in read(path) if b == "executing" and a not in RUNNING]


def finished(path) -> list[tuple[str, str]]:
    """``(worker, key)`` of every execution that ran to its end and kept its result."""
    return [(w, k) for a, b, w, k in read(path) if b == "memory" and a in RUNNING]


def running(path) -> set[tuple[str, str]]:
    """``(worker, key)`` whose code is running now (as far as the log has got). A cancelled task
    still runs: it ends with ``cancelled -> ...`` once its code returns."""
    now = set()
    for a, b, w, k in read(path):
        if b == "executing":
            now.add((w, k))
        elif b in ("memory", "error", "rescheduled") or a == "cancelled":
            now.discard((w, k))
    return now
