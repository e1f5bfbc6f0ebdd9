"""Which source ``vjbridge run`` records, and what it does when the input is not there.

Why no silent demo: at boot a gallery PC whose microphone is gone used to play the built-in demo
groove, a fake 124 BPM show nobody could tell from the real one. Now a missing input is one line
naming the problem and the fix, and then what ``fallback`` says (``--fallback``, or the run
config's ``fallback`` key):

* ``none`` (default): exit 1 (:class:`~bridge.errors.DeviceError`). A service unit's
  ``Restart=on-failure`` starts it again a few seconds later, so it comes up once the card does.
* ``wait``: keep running and look for the input by name every second (outputs send nothing until
  it appears; the status page and ``/health`` say ``lost``).
* ``demo``: play the demo groove, saying so. ``--demo`` plays it without looking for a device.

A device of PortAudio's JACK host API is recorded through libjack when the ``jack`` extra is
installed (:mod:`.jack`: it survives a JACK server restart, which a PortAudio stream cannot).
"""

from __future__ import annotations

import logging
import sys

from bridge.errors import DeviceError
from bridge.sources import portaudio

log = logging.getLogger(__name__)

FALLBACKS = ("none", "wait", "demo")


def choose_device(query, *, fallback: str = "none", block_seconds: float = 0.01,
                  latency="high", rate: float | None = None, demo=None):
    """The source for ``--device query`` (``None``: the default input). ``demo`` makes the demo
    source (called only for ``fallback="demo"``); ``rate`` (Hz, None: the device's own) is for
    PortAudio devices: a JACK input runs at its server's rate."""
    from bridge.sources.device import DeviceSource, default_input, describe_inputs, find_input

    if fallback not in FALLBACKS:
        raise DeviceError(f"fallback must be one of {', '.join(FALLBACKS)}; got {fallback!r}")
    options = {"block_seconds": block_seconds, "latency": latency, "rate": rate}
    try:
        import sounddevice as sd
    except OSError as exc:  # sounddevice raises OSError when the PortAudio library is missing
        return _missing(f"no audio input: the PortAudio library is missing ({exc}; on "
                        "Debian/Ubuntu: apt-get install libportaudio2)", query, fallback,
                        options, demo, can_wait=False)
    devices = sd.query_devices()
    if query is None:
        device = default_input(devices, sd.default.device[0])
        if device is None:
            return _missing(f"this machine has no audio input device: {describe_inputs(devices)}",
                            query, fallback, options, demo)
        print(f"vjbridge: no source given: recording the default input {device['index']} "
              f"{device['name']!r} (--device, --file or --demo to choose)", file=sys.stderr)
    else:
        try:
            default_api = sd.default.hostapi
        except Exception:  # noqa: BLE001 - no host API at all: find_input fails anyway
            default_api = None
        try:
            device = find_input(query, devices, default_hostapi=default_api)
        except DeviceError as exc:
            return _missing(str(exc), query, fallback, options, demo)
    if _hostapi_name(sd, device) == "JACK Audio Connection Kit":
        from bridge.sources import jack

        if jack.available():
            if rate is not None:
                log.warning("--rate %g is not used for JACK input %r: it runs at the JACK "
                            "server's rate (jackd -r)", rate, device["name"])
            portaudio.terminate(sd)  # its own JACK client must not outlive the server
            return jack.JackSource(device["name"])
        log.warning("audio input %r is a JACK device through PortAudio, which cannot recover when "
                    "the JACK server restarts; install the jack extra for that: "
                    "pip install 'vjbridge[jack]'", device["name"])
    return DeviceSource(device["index"] if query is None else query, **options)


def _missing(problem: str, query, fallback: str, options: dict, demo, *, can_wait: bool = True):
    from bridge.sources.device import DeviceSource

    if fallback == "demo" and demo is not None:
        print(f"vjbridge: WARNING: {problem}: playing the built-in demo groove instead "
              "(fallback: demo)", file=sys.stderr, flush=True)
        return demo()
    if fallback == "wait" and can_wait:
        print(f"vjbridge: WARNING: {problem}: waiting for it (fallback: wait); nothing is sent "
              "until it appears", file=sys.stderr, flush=True)
        return DeviceSource(query, wait=True, **options)
    raise DeviceError(f"{problem}. Connect the input and run again, or give --fallback wait (wait "
                      "for it) or --demo (the demo groove)")


def _hostapi_name(sd, device: dict) -> str:
    try:
        return str(sd.query_hostapis(device["hostapi"])["name"])
    except Exception:  # noqa: BLE001 - no host API name: not JACK
        return ""
