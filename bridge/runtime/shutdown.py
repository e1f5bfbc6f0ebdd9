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
