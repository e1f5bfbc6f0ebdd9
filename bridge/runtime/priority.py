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
"""

from __future__ import annotations

import os
import threading

#: FIFO priority of the engine thread: above normal tasks and below JACK's default (~70-95), so a
#: JACK server on the same machine keeps precedence over us.
RT_PRIORITY = 20
NICE = -10
HOW_TO = ("grant it with `ulimit -r 20` / an rtprio limit in /etc/security/limits.d "
          "(e.g. the audio group), or run with --no-realtime to keep normal priority")


def raise_priority(*, realtime: bool = True) -> str:
    """Raise the calling thread's priority; returns what it got: ``"realtime (SCHED_FIFO 20)"``,
    ``"high (nice -10)"``, ``"normal"`` (with the reason when asked and refused)."""
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
            tid = threading.get_native_id()
            if os.getpriority(os.PRIO_PROCESS, tid) > NICE:
                os.setpriority(os.PRIO_PROCESS, tid, NICE)
            return f"high (nice {os.getpriority(os.PRIO_PROCESS, tid)})"
        except (PermissionError, OSError):
            pass
    return f"normal (real-time scheduling refused: {HOW_TO})"


def save_priority():
    """What :func:`restore_priority` needs to put the calling thread back as it was (the engine may
    run on a caller's thread, e.g. the benchmark's, which must not stay real-time afterwards: child
    processes would inherit it)."""
    try:
        tid = threading.get_native_id()
        return (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority,
                os.getpriority(os.PRIO_PROCESS, tid))
    except (AttributeError, OSError):
        return None


def restore_priority(saved) -> None:
    if saved is None:
        return
    policy, rt, nice = saved
    try:
        os.sched_setscheduler(0, policy, os.sched_param(rt))
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (PermissionError, OSError):
        pass  # lowering is always allowed; raising back a nice value may not be: leave it


def thread_policy(tid: int | None = None) -> tuple[str, int]:
    """(policy name, nice or rt priority) of a thread of this process, read from /proc (for tests
    and the status report)."""
    tid = threading.get_native_id() if tid is None else tid
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): rt_priority is field 40, policy field 41, nice field 19
    rt_prio, policy, nice = int(fields[37]), int(fields[38]), int(fields[16])
    names = {0: "normal", 1: "fifo", 2: "rr", 3: "batch", 5: "idle"}
    return names.get(policy, str(policy)), rt_prio if policy in (1, 2) else nice
