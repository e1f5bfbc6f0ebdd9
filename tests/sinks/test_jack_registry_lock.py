"""The JACK test peer survives a live process that holds JACK's registry lock (tests/peers/
jack_registry.py): the state that made every JACK server start of a CI run hang. A real
process takes the lock the way libjack does (semop -1 with SEM_UNDO) and stays alive; the next
JackServer must name the holder, clear the lock, and come up with a client that connects."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.peers.jack import JackServer
from tests.peers.jack_registry import REGISTRY_KEY, lock_state

pytestmark = [pytest.mark.peers]

HOLDER = textwrap.dedent(f"""
    import ctypes, ctypes.util, sys, time
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    class Sembuf(ctypes.Structure):
        _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]
    semid = libc.semget({REGISTRY_KEY}, 1, 0o1666)  # IPC_CREAT | 0666, as libjack creates it
    if libc.semctl(semid, 0, 12) == 0:  # GETVAL: a fresh semaphore starts at 0, libjack adds 1
        libc.semop(semid, ctypes.byref(Sembuf(0, 1, 0)), 1)
    assert libc.semop(semid, ctypes.byref(Sembuf(0, -1, 0x1000)), 1) == 0  # SEM_UNDO
    print("held", flush=True)
    time.sleep(120)
""")


def test_a_server_start_blocked_by_a_live_lock_holder_clears_it_and_names_the_holder():
    with JackServer() as first:  # make sure the registry and its lock exist
        pass
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        state = lock_state()
        assert state is not None and state.held and state.last_pid == holder.pid
        with pytest.warns(UserWarning, match=rf"stuck JACK registry lock held by pid {holder.pid}"):
            server = JackServer().start()
        try:
            assert server.ports(), "a client of the restarted server lists its ports"
            assert not lock_state().held
        finally:
            server.stop()
    finally:
        holder.kill()
        holder.wait()
    assert first.proc is None
