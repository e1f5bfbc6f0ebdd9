"""PortAudio's device list, refreshed and released through sounddevice's two private calls.

Why private calls at all: PortAudio enumerates the sound cards only when it initialises, so a card
that was unplugged and plugged back in is invisible until PortAudio is re-initialised, and the
JACK input must release PortAudio's own JACK client before the server goes away. sounddevice has
no public API for either; it has ``_terminate()`` and ``_initialize()`` (0.4 and 0.5: the range
pyproject.toml pins). Every use goes through here, guarded: where a later sounddevice lacks them,
:func:`rescan` says so once and the caller keeps retrying on the device list it has (a card that
never left, or a restart of the daemon, still works), and :func:`terminate` does nothing (the exit
deadline of :mod:`bridge.runtime.shutdown` still ends a hung exit). Tested with a module that has
neither (tests/runtime/test_portaudio_private.py).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
_warned = False


def rescan(sd) -> bool:
    """Re-initialise PortAudio so that ``sd.query_devices()`` sees cards plugged in since; False
    (and one log line, the first time) when this sounddevice cannot."""
    global _warned
    terminate, initialize = getattr(sd, "_terminate", None), getattr(sd, "_initialize", None)
    if terminate is None or initialize is None:
        if not _warned:
            _warned = True
            log.warning("this sounddevice (%s) cannot re-scan sound cards: a card that comes back "
                        "is found again only after a restart of vjbridge (sounddevice 0.4-0.5 "
                        "can)", getattr(sd, "__version__", "unknown version"))
        return False
    terminate()
    initialize()
    return True


def terminate(sd) -> None:
    """Release PortAudio (its JACK client among others) if it is initialised; no-op otherwise."""
    stop = getattr(sd, "_terminate", None)
    if stop is not None and getattr(sd, "_initialized", 0) > 0:
        try:
            stop()
        except Exception as exc:  # noqa: BLE001 - releasing on the way out: log, go on
            log.debug("terminating PortAudio: %s", exc)
