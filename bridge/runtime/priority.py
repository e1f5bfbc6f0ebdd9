"""Scheduling priority of the engine thread: real-time when the system allows it, else higher, else normal.

Why: the engine has ~0.2 ms of work per 60 Hz frame and a 2 ms budget from block arrival to packet.
On an idle machine any priority meets that; on a busy one (a render, a browser, TouchDesigner itself
on the same box) the normal scheduler can leave a runnable engine waiting for several milliseconds.
Audio software solves this the same way: JACK and PipeWire run their processing threads with
``SCHED_FIFO`` (directly, or granted by rtkit). The engine blocks on its queue between blocks, so a
FIFO priority costs other programs nothing while it waits, and Linux keeps 5% of each second for
normal tasks (``sched_rt_runtime_us``) whatever a real-time thread does.

``raise_priority()`` is called on the engine thread itself (Linux schedules threads individually)
and tries, in order: ``SCHED_FIFO`` at :data:`RT_PRIORITY` (needs root, ``CAP_SYS_NICE`` or an
``rtprio`` limit, e.g. the ``audio`` group's in ``/etc/security/limits.d``), then ``nice`` -10
(needs the same or a ``nice`` limit), then it leaves the thread as it is. It never fails the show.

Other systems, each behind a check of what the ``os`` module offers (tests remove the Linux calls):

- Windows has neither call: the thread gets ``THREAD_PRIORITY_TIME_CRITICAL`` through
  ``kernel32.SetThreadPriority`` (allowed without administrator rights): the top of the normal
  priority class, still below the real-time class, which would need them. (MMCSS "Pro Audio", the
  other way Windows audio software asks, needs avrt.dll calls for little gain at 0.2 ms a frame.)
- macOS has no ``sched_setscheduler``, and its ``setpriority`` takes a process id, not a thread id
  (:func:`nice_target`): the nice value goes on the whole process, which only root may raise.
"""

from __future__ import annotations

import os
import sys
import threading

#: FIFO priority of the engine thread: above normal tasks and below JACK's default (~70-95), so a
#: JACK server on the same machine keeps precedence over us.
RT_PRIORITY = 20
NICE = -10
#: Windows: SetThreadPriority's THREAD_PRIORITY_TIME_CRITICAL (15 within the normal class).
WIN_TIME_CRITICAL = 15


def how_to(platform: str | None = None) -> str:
    """How to get a higher priority where it was refused, for the status line."""
    platform = sys.platform if platform is None else platform
    if platform == "darwin":
        return "macOS grants a higher priority to root only; or run with --no-realtime"
    return ("grant it with `ulimit -r 20` / an rtprio limit in /etc/security/limits.d "
            "(e.g. the audio group), or run with --no-realtime to keep normal priority")


def nice_target(platform: str | None = None) -> int:
    """What ``os.setpriority(PRIO_PROCESS, who)`` should get: on Linux the calling thread's id (its
    nice value is per thread); elsewhere 0, this process (a thread id there is no process id, and
    could name another process)."""
    platform = sys.platform if platform is None else platform
    return threading.get_native_id() if platform.startswith("linux") else 0


def windows_kernel32():
    """``ctypes.windll.kernel32`` on Windows, else None (the seam the tests replace)."""
    try:
        import ctypes

        return ctypes.windll.kernel32
    except (ImportError, AttributeError, OSError):
        return None


def raise_priority(*, realtime: bool = True) -> str:
    """Raise the calling thread's priority; returns what it got: ``"realtime (SCHED_FIFO 20)"``,
    ``"high (nice -10)"``, ``"high (Windows time-critical thread)"``, ``"normal"`` (with the reason
    when asked and refused)."""
    if not realtime:
        return "normal (--no-realtime)"
    if hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))  # 0: this thread
            return f"realtime (SCHED_FIFO {RT_PRIORITY})"
        except (PermissionError, OSError):
            pass
    if hasattr(os, "setpriority"):
        try:
            who = nice_target()
            if os.getpriority(os.PRIO_PROCESS, who) > NICE:
                os.setpriority(os.PRIO_PROCESS, who, NICE)
            return f"high (nice {os.getpriority(os.PRIO_PROCESS, who)})"
        except (PermissionError, OSError):
            pass
    kernel32 = windows_kernel32()
    if kernel32 is not None and kernel32.SetThreadPriority(kernel32.GetCurrentThread(),
                                                           WIN_TIME_CRITICAL):
        return "high (Windows time-critical thread)"
    return f"normal (real-time scheduling refused: {how_to()})"


def save_priority():
    """What :func:`restore_priority` needs to put the calling thread back as it was (the engine may
    run on a caller's thread, e.g. the benchmark's, which must not stay real-time afterwards: child
    processes would inherit it). Each part is saved where the system has it, else None."""
    sched = nice = win = None
    try:
        sched = (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
    except (AttributeError, OSError):
        pass
    try:
        who = nice_target()
        nice = (who, os.getpriority(os.PRIO_PROCESS, who))
    except (AttributeError, OSError):
        pass
    kernel32 = windows_kernel32()
    if kernel32 is not None:
        win = kernel32.GetThreadPriority(kernel32.GetCurrentThread())
    return sched, nice, win


def restore_priority(saved) -> None:
    if saved is None:
        return
    sched, nice, win = saved
    try:  # lowering is always allowed; raising back a nice value may not be: then leave it
        if sched is not None:
            os.sched_setscheduler(0, sched[0], os.sched_param(sched[1]))
        if nice is not None:
            os.setpriority(os.PRIO_PROCESS, *nice)
    except (PermissionError, OSError):
        pass
    if win is not None:
        kernel32 = windows_kernel32()
        kernel32.SetThreadPriority(kernel32.GetCurrentThread(), win)


def thread_policy(tid: int | None = None) -> tuple[str, int]:
    """(policy name, nice or rt priority) of a thread of this process, read from /proc (Linux only:
    for the tests)."""
    tid = threading.get_native_id() if tid is None else tid
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): rt_priority is field 40, policy field 41, nice field 19
    rt_prio, policy, nice = int(fields[37]), int(fields[38]), int(fields[16])
    names = {0: "normal", 1: "fifo", 2: "rr", 3: "batch", 5: "idle"}
    return names.get(policy, str(policy)), rt_prio if policy in (1, 2) else nice
