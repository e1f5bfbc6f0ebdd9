"""CPU time of a process and of its threads from /proc (Linux): what the daemon costs, per thread.

Why /proc and not psutil: no extra dependency, and the per-thread figure needs /proc/PID/task
anyway. utime+stime are in clock ticks (usually 10 ms): over a 30 s run that is 0.03 % of a core.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat_path: Path) -> float:
    text = stat_path.read_text()
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process used so far, all threads."""
    return _cpu_seconds(Path(f"/proc/{pid}/stat"))


def thread_cpu(pid: int, tid: int) -> float | None:
    """CPU seconds of thread ``tid`` of ``pid``; None when it is gone."""
    try:
        return _cpu_seconds(Path(f"/proc/{pid}/task/{tid}/stat"))
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


def threads_by_comm(pid: int) -> dict[int, str]:
    """Thread id -> its kernel name (``comm``)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = (task / "comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def find_thread(pid: int, name: str, py_spy: str | None = None) -> tuple[int | None, str]:
    """The native id of the thread called ``name`` and how it was found.

    First by kernel name (a thread that set its own ``comm``); Python 3.11's ``threading`` does not
    set it, so then by ``py-spy dump --nonblocking``, which prints each Python thread's native id
    beside its ``threading`` name. None (and why) when neither can tell."""
    for tid, comm in threads_by_comm(pid).items():
        if comm == name:
            return tid, "kernel thread name"
    if not py_spy:
        return None, "threads have no kernel names and py-spy is not installed (pip install py-spy)"
    try:
        out = subprocess.run([py_spy, "dump", "--nonblocking", "--pid", str(pid)],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"py-spy dump failed: {exc}"
    match = re.search(rf'^Thread (\d+) \([^)]*\): "{re.escape(name)}"', out.stdout, re.M)
    if match:
        return int(match.group(1)), "py-spy dump"
    why = (out.stderr.strip().splitlines() or ["no such thread"])[-1]
    return None, f"py-spy dump did not list a thread {name!r}: {why}"
