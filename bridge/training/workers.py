"""Worker processes and folder locks for the long offline jobs (``vjbridge corpus``, the preset
screen, ``vjbridge dataset``, the study, ``vjbridge evaluate``): how their local worker processes
start (:func:`process_pool`, used only by :mod:`bridge.training.fanout`'s local backend) and how a
run claims its output folder.

Why: these jobs run for an hour under ``nohup`` and get stopped with ``kill``. A pool of "spawn"
workers does not die with the command that started it: stopping ``vjbridge corpus`` with SIGTERM
used to leave its two workers rendering on (orphans of PID 1, each still writing its video), and a
second run started into the same folder then raced them for the same ``.partial`` file and died
with a traceback. So every worker asks the kernel to end it when its parent ends (Linux's
``PR_SET_PDEATHSIG``; elsewhere the jobs do not run: projectM rendering and the Debian music
packages are Linux-only), and a run holds an exclusive lock on its folder for as long as it
writes there: a second run into it stops at once with one line naming the first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from bridge.errors import FolderBusyError

#: prctl(2) option: the signal a process gets when its parent thread ends.
_PR_SET_PDEATHSIG = 1


def _end_with_parent(parent: int) -> None:
    """A pool worker's initializer: SIGTERM when the parent ends (and now, if it already has)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def process_pool(n_workers: int):
    """A ``ProcessPoolExecutor`` of ``n_workers`` "spawn" workers that end with this process."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=max(1, int(n_workers)),
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_end_with_parent, initargs=(os.getpid(),))


@contextlib.contextmanager
def folder_lock(folder, what: str):
    """Hold ``folder/.lock`` exclusively while inside (``what``: the job, for the message); a
    second holder gets :class:`FolderBusyError` naming the first one's PID. The lock goes with the
    process, however it ends (the file stays; it is only ever locked, never trusted for content)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: no flock; these jobs are Linux-only anyway
            pass
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise FolderBusyError(f"{folder}: another {what} is writing here (PID {holder}); "
                                  "wait for it to finish or stop it, then run this again (it "
                                  "resumes)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
