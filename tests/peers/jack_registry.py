"""JACK's machine-wide registry lock: who holds it, and clearing it when its holder is stuck.

Every JACK server and client on a machine shares one System V semaphore (key ``0x282929``) as
the lock on ``/dev/shm/jack-shm-registry``. While one live process holds it, a new ``jackd``
blocks before it answers, and every new client (``jack_wait``, ``jack_lsp``, python-rtmidi's
JACK port) blocks inside ``jack_client_open`` for ever: ``jack_wait -t`` cannot time out, because
its timeout is only checked between attempts. A CI run showed exactly that: from one module on,
every JACK server start in the session hung. A process that *dies* holding the lock gives it
back (the lock is taken with ``SEM_UNDO``); a live one that is stuck does not.

:func:`lock_state` reads the semaphore (value, waiters, the pid of the last operation: the holder
while the value is 0) through libc, so a hang can name its cause; :func:`clear_lock` removes the
semaphore, which wakes the blocked waiters and lets the next JACK process create a fresh one.
Only for test machines: a real installation's JACK is not ours to reset.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from pathlib import Path

REGISTRY_KEY = 0x282929  # JACK_SEMAPHORE_KEY in jack2's shm.c
_IPC_RMID, _GETPID, _GETVAL, _GETNCNT = 0, 11, 12, 14  # <sys/ipc.h>, <sys/sem.h> on Linux


@dataclass(frozen=True)
class LockState:
    value: int  # 1 free, 0 held
    waiting: int  # processes blocked on it
    last_pid: int  # the holder while value == 0

    @property
    def held(self) -> bool:
        return self.value == 0

    def describe(self) -> str:
        if not self.held:
            return f"JACK registry lock free ({self.waiting} waiting)"
        who = _describe_process(self.last_pid)
        return f"JACK registry lock held by pid {self.last_pid} ({who}), {self.waiting} waiting"


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _semid() -> int | None:
    semid = _libc().semget(REGISTRY_KEY, 0, 0)
    return None if semid < 0 else semid


def lock_state() -> LockState | None:
    """The registry lock now, or None when no JACK process has created it yet."""
    semid = _semid()
    if semid is None:
        return None
    libc = _libc()
    return LockState(value=libc.semctl(semid, 0, _GETVAL), waiting=libc.semctl(semid, 0, _GETNCNT),
                     last_pid=libc.semctl(semid, 0, _GETPID))


def clear_lock() -> bool:
    """Remove the registry semaphore (True when there was one to remove)."""
    semid = _semid()
    return semid is not None and _libc().semctl(semid, 0, _IPC_RMID) == 0


def _describe_process(pid: int) -> str:
    proc = Path(f"/proc/{pid}")
    try:
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    threads = []
    for task in sorted((proc / "task").glob("*")):
        try:
            threads.append(f"{(task / 'comm').read_text().strip()}@{(task / 'wchan').read_text()}")
        except OSError:
            continue
    me = ", this test process" if pid == os.getpid() else ""
    return f"{cmdline.strip()[:160]}{me}; threads: {' '.join(threads)[:400]}"
