"""The signals that stop ``vjbridge run`` cleanly, on every system.

Why a module: a parent process stops the daemon differently per system. A terminal sends SIGINT
(Ctrl-C), a service manager or ``kill`` sends SIGTERM, and on Windows a parent such as
TouchDesigner that started the daemon in a new process group (``CREATE_NEW_PROCESS_GROUP``) sends
``CTRL_BREAK_EVENT``, which Python delivers as ``SIGBREAK`` (a Windows-only name; Windows'
``terminate()`` is TerminateProcess, which no handler sees). Each of these must reach the same
clean stop: source stopped, idle values sent, latency summary printed.
"""

from __future__ import annotations

import contextlib
import signal

#: Tried in order; a name the running system lacks (SIGBREAK outside Windows) is skipped.
STOP_SIGNAL_NAMES = ("SIGINT", "SIGTERM", "SIGBREAK")


def stop_signals() -> list[int]:
    """The stop signals this system has."""
    return [getattr(signal, name) for name in STOP_SIGNAL_NAMES if hasattr(signal, name)]


@contextlib.contextmanager
def on_stop_signals(callback):
    """Call ``callback()`` on any stop signal while inside; the previous handlers come back after.
    Must be entered on the main thread (Python only installs signal handlers there)."""
    previous = {s: signal.signal(s, lambda signum, frame: callback()) for s in stop_signals()}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


#: Seconds a stopping engine thread gets to send idle values, close outputs and stop the source,
#: before ``vjbridge run`` leaves without it: within the 2 s a stop must take, with room to exit.
ENGINE_STOP_GRACE = 1.5


def join_engine(thread, outputs=(), *, grace: float = ENGINE_STOP_GRACE, out=None) -> bool:
    """Wait at most ``grace`` s for the engine ``thread`` once a stop was asked; True when it
    ended. Else (stuck in a device driver, a file system, a closing sink) say where it is, send
    the idle values from here (best effort: each output's ``idle()``), and return False: the caller
    then exits without it. Never waits without a timeout."""
    import sys
    import traceback

    thread.join(grace)
    if not thread.is_alive():
        return True
    frame = sys._current_frames().get(thread.ident)
    where = ""
    if frame is not None:
        last = traceback.extract_stack(frame)[-1]
        where = f" (in {last.name}, {last.filename}:{last.lineno})"
    print(f"vjbridge: the engine did not stop within {grace:g} s{where}; sending idle values "
          "and exiting without it", file=out or sys.stderr, flush=True)
    for output in outputs:
        try:
            output.idle()
        except Exception:  # noqa: BLE001 - best effort, on the way out
            pass
    return False


#: Seconds from a stop signal after which the process ends whatever it is doing.
EXIT_DEADLINE = 1.9
_devnull = None


def arm_exit_deadline(seconds: float = EXIT_DEADLINE) -> None:
    """End the process (exit status 1) ``seconds`` from now unless it has exited by then.

    Why faulthandler: its watchdog is a C thread that needs no GIL, so it fires even when a thread
    holds the GIL inside a stuck C call (a driver, a blocking open) or the interpreter's exit hangs
    in a library's atexit (PortAudio's terminate after a lost JACK server), where no Python code,
    signal handler included, can run. What it would dump goes to /dev/null: the user has seen
    :func:`join_engine`'s line when Python could still speak. Re-arming moves the deadline."""
    import faulthandler
    import os

    global _devnull
    if _devnull is None:
        _devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open for the watchdog
    faulthandler.dump_traceback_later(seconds, exit=True, file=_devnull)


def cancel_exit_deadline() -> None:
    import faulthandler

    faulthandler.cancel_dump_traceback_later()
