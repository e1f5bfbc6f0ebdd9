"""Which MIDI system a MIDI output opens on: ALSA, JACK, CoreMIDI or Windows MM, chosen for you.

Why: python-rtmidi holds several MIDI APIs (its Linux wheel has ALSA and JACK) but mido opens
the first compiled one unless the undocumented ``MIDO_BACKEND`` variable says otherwise, so on a
machine whose desk is on JACK (no ALSA sequencer loaded) MIDI failed. Here each backend the
platform has is tried in order (Linux: ALSA, then JACK; macOS: CoreMIDI, then JACK when the
wheel has it; Windows: Windows MM), only through public APIs (``rtmidi.get_compiled_api()``,
``mido.Backend("mido.backends.rtmidi", api=...)``), and the first that answers is used. A backend
can be named instead (``--midi-backend``, a target's ``backend``). When none answers, one line
names what each said and how to fix it.

ALSA and JACK print C-level warnings on stderr when their server is absent ("ALSA lib seq_hw.c
... open /dev/snd/seq failed", "Cannot connect to server socket"); :func:`quiet` keeps them off
the terminal while a backend is tried (anything else written meanwhile is passed on).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading

from bridge.errors import SinkError

#: backend name (as --midi-backend takes it) -> (rtmidi API constant name, mido API name, label)
BACKENDS = {
    "alsa": ("API_LINUX_ALSA", "LINUX_ALSA", "ALSA"),
    "jack": ("API_UNIX_JACK", "UNIX_JACK", "JACK"),
    "coremidi": ("API_MACOSX_CORE", "MACOSX_CORE", "CoreMIDI"),
    "winmm": ("API_WINDOWS_MM", "WINDOWS_MM", "Windows MM"),
}
CHOICES = ("auto", *BACKENDS)

#: How to make each backend answer, for the error when none does.
FIXES = {"alsa": "load the ALSA sequencer (modprobe snd-seq)",
         "jack": "start JACK (jackd, QjackCtl or PipeWire's JACK)",
         "coremidi": "check Audio MIDI Setup",
         "winmm": "check the MIDI driver"}

#: C-library lines the MIDI systems print on fd 2 when they are absent (dropped by :func:`quiet`).
_NOISE = re.compile(r"ALSA lib |MidiIn|MidiOut|Cannot connect to server|jack server|"
                    r"JackShm|Cannot open|JACK server|connect\(2\) call|Jack: |"
                    r"Cannot read socket|Cannot write socket|CheckRes error|"
                    r"JackSocketClientChannel|Unknown request|attempt to connect")


def platform_order(platform: str | None = None) -> tuple[str, ...]:
    """The backends ``auto`` tries on ``platform`` (default: this one), in order."""
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux"):
        return ("alsa", "jack")
    if platform == "darwin":
        return ("coremidi", "jack")
    if platform.startswith("win") or platform == "cygwin":
        return ("winmm",)
    return ("alsa", "jack")  # the BSDs: rtmidi builds ALSA/JACK where they exist


def compiled() -> tuple[str, ...]:
    """The backends this python-rtmidi was built with (its public ``get_compiled_api()``)."""
    import rtmidi

    have = set(rtmidi.get_compiled_api())
    return tuple(name for name, (const, _api, _label) in BACKENDS.items()
                 if getattr(rtmidi, const, None) in have)


def label(name: str) -> str:
    return BACKENDS[name][2]


def candidates(choice: str = "auto", platform: str | None = None,
               built: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The backends to try for ``choice`` (``auto`` or one name): SinkError, one line, for a name
    that is not a backend or one this python-rtmidi lacks."""
    if choice not in CHOICES:
        import difflib

        close = difflib.get_close_matches(str(choice).lower(), CHOICES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SinkError(f"unknown MIDI backend {choice!r}{hint}; choose one of "
                        f"{', '.join(CHOICES)}")
    built = compiled() if built is None else built
    if choice == "auto":
        order = tuple(b for b in platform_order(platform) if b in built)
        if not order:
            raise SinkError("python-rtmidi has no MIDI backend for this system (it has: "
                            f"{', '.join(map(label, built)) or 'none'})")
        return order
    if choice not in built:
        raise SinkError(f"MIDI backend {choice} is not in this python-rtmidi (it has: "
                        f"{', '.join(map(label, built)) or 'none'}); use --midi-backend auto")
    return (choice,)


def mido_backend(name: str):
    """The mido backend object of one rtmidi API (``mido.Backend(..., api=...)``), loaded."""
    import mido

    return mido.Backend("mido.backends.rtmidi", api=BACKENDS[name][1], load=True)


def absent(name: str, platform: str | None = None) -> str | None:
    """Why ``name`` cannot work here without asking it, or None (ALSA without /dev/snd/seq)."""
    platform = sys.platform if platform is None else platform
    if name == "alsa" and platform.startswith("linux") and not os.path.exists("/dev/snd/seq"):
        return "no ALSA sequencer (/dev/snd/seq is missing)"
    return None


def reason(exc: BaseException) -> str:
    """rtmidi's exception as a short phrase."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, SinkError):
        return text
    if "JACK server not running" in text:
        return "no JACK server running"
    if "ALSA sequencer" in text:
        return "no ALSA sequencer"
    return text.splitlines()[0]


def ports(name: str) -> tuple[list[str], list[str]]:
    """(output names, input names) of backend ``name``; raises what rtmidi raises when the MIDI
    system does not answer. Never starts a JACK server, prints nothing on stderr."""
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    problem = absent(name)
    if problem:
        raise SinkError(problem)
    backend = mido_backend(name)
    with quiet():
        return list(backend.get_output_names()), list(backend.get_input_names())


class OutputLister:
    """The output names of backend ``name``, asked again and again through one python-rtmidi
    client kept open (its public ``MidiOut.get_ports()``, ~14 µs a call on JACK), where
    :func:`ports` opens two clients per call (~24 ms of CPU on JACK: 1 % of a core every 2 s).
    A client whose MIDI server died keeps answering ``[]``. For :mod:`bridge.sinks.midi_watch`."""

    def __init__(self, name: str) -> None:
        import rtmidi

        with quiet():
            self._client = rtmidi.MidiOut(rtapi=getattr(rtmidi, BACKENDS[name][0]),
                                          name="vjbridge-watch")

    def __call__(self) -> list[str]:
        return list(self._client.get_ports())

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.delete()


def none_answered(tried: dict[str, str]) -> str:
    """The one line for "no backend answered": what each said and how to make one answer."""
    said = "; ".join(f"{label(b)}: {why}" for b, why in tried.items())
    fixes = " or ".join(FIXES[b] for b in tried)
    return f"no MIDI system answered ({said}): {fixes}, or choose one with --midi-backend"


_QUIET = threading.RLock()  # fd 2 is the process's: two threads swapping it would lose it


@contextlib.contextmanager
def quiet():
    """Capture fd 2 while a MIDI system is asked; pass on every line that is not its noise.
    One thread at a time (a port watcher asks from its own thread)."""
    with _QUIET:
        with _quiet():
            yield


@contextlib.contextmanager
def _quiet():
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no fd 2 (a service without stderr): nothing to keep quiet
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(True)
                    if line.strip() and not _NOISE.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
