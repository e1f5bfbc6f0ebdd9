"""The long jobs' worker pools end with the command (SIGTERM or SIGKILL of the parent), and two
runs into one folder are refused with one line (bridge.training.workers)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from bridge.errors import FolderBusyError
from bridge.training.workers import folder_lock

PARENT = textwrap.dedent("""
    import os, sys, time
    from bridge.training.workers import process_pool

    def worker_pid():
        return os.getpid()

    if __name__ == "__main__":
        with process_pool(2) as pool:
            pids = {pool.submit(worker_pid).result() for _ in range(8)}
            futures = [pool.submit(time.sleep, 60) for _ in range(2)]
            print(" ".join(map(str, sorted(pids))), flush=True)
            time.sleep(60)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purpose
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the jobs are Linux-only")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_the_workers_end_with_the_command(tmp_path, how):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.getcwd()))
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert pids and all(_alive(p) for p in pids)
    proc.send_signal(getattr(__import__("signal"), how))
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a worker outlived the command"


def test_a_second_run_into_the_same_folder_is_refused_naming_the_first(tmp_path):
    code = ("import sys, time; from bridge.training.workers import folder_lock\n"
            "with folder_lock(sys.argv[1], 'vjbridge corpus'):\n"
            "    print('holding', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(FolderBusyError, match=rf"another vjbridge corpus is writing here "
                                                  rf"\(PID {holder.pid}\); wait for it"):
            with folder_lock(tmp_path, "vjbridge corpus"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(tmp_path, "vjbridge corpus"):  # free again once the holder is gone
        pass
