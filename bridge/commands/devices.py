"""``vjbridge devices``: the audio inputs ``--device`` can use and the MIDI outputs ``--midi`` can use.

Why a command of its own: on a show machine the first question is "what does this box see?". The
names printed here are what ``--device`` matches (a case-insensitive substring, or the index).
"""

from __future__ import annotations

import argparse
import contextlib

HELP = "list audio inputs (for --device) and MIDI outputs (for --midi)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")


def audio_inputs() -> tuple[list[dict], str | None]:
    """(inputs, problem): each input has index, name, channels, default_rate, hostapi, default."""
    try:
        import sounddevice as sd
    except OSError as exc:
        return [], (f"PortAudio is not available ({exc}); on Debian/Ubuntu: apt-get install "
                    "libportaudio2 (sounddevice's Windows and macOS wheels include it)")
    apis = sd.query_hostapis()
    default_in = sd.default.device[0]
    out = []
    for d in sd.query_devices():
        if d["max_input_channels"] > 0:
            out.append({"index": d["index"], "name": d["name"],
                        "channels": d["max_input_channels"],
                        "default_rate": d["default_samplerate"],
                        "hostapi": apis[d["hostapi"]]["name"], "default": d["index"] == default_in})
    return out, None


#: MIDI systems tried, in order: the platform default (ALSA, CoreMIDI, WinMM), then JACK on Linux
#: (python-rtmidi's Windows and macOS wheels have no JACK support).
MIDI_APIS = (("default", None), ("JACK", "mido.backends.rtmidi/UNIX_JACK"))


def midi_apis(platform: str | None = None) -> tuple:
    import sys

    platform = sys.platform if platform is None else platform
    return MIDI_APIS if platform.startswith("linux") else MIDI_APIS[:1]


@contextlib.contextmanager
def _quiet_stderr():
    """ALSA and JACK print C-level noise on fd 2 when their server is absent; we report it better."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def midi_outputs() -> list[dict]:
    """One entry per MIDI system: {"api", "ports", "problem"} (problem is None when it answered)."""
    import os

    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # listing must never start a JACK server
    out = []
    for label, backend in midi_apis():
        try:
            import mido

            with _quiet_stderr():
                names = (mido.Backend(backend) if backend else mido).get_output_names()
            out.append({"api": label, "ports": list(names), "problem": None})
        except Exception as exc:  # noqa: BLE001 - rtmidi raises SystemError & co without a server
            out.append({"api": label, "ports": [],
                        "problem": str(exc).strip() or type(exc).__name__})
    return out


def run(args: argparse.Namespace) -> int:
    inputs, audio_problem = audio_inputs()
    midi = midi_outputs()
    if args.json:
        import json

        print(json.dumps({"audio_inputs": inputs, "audio_problem": audio_problem,
                          "midi": midi}, indent=2))
        return 0
    print("Audio inputs (vjbridge run --device INDEX or a part of the NAME):")
    if audio_problem:
        print(f"  {audio_problem}")
    elif not inputs:
        print("  none found: no sound card, or no PulseAudio/PipeWire/JACK server running "
              "(vjbridge run falls back to --demo)")
    for d in inputs:
        mark = "*" if d["default"] else " "
        print(f" {mark}{d['index']:3d}  {d['name']}  ({d['channels']} ch, {d['default_rate']:g} Hz, "
              f"{d['hostapi']})")
    if any(d["default"] for d in inputs):
        print("  (* = default input)")
    import sys

    virtual = ("Windows has no virtual ports: loopMIDI makes one" if sys.platform == "win32"
               else "without a name a virtual port is created")
    print(f"MIDI outputs (vjbridge run --midi NAME; {virtual}):")
    for api in midi:
        if api["problem"]:
            print(f"  {api['api']}: not available ({api['problem']})")
        elif not api["ports"]:
            print(f"  {api['api']}: no ports")
        for name in api["ports"]:
            print(f"  {api['api']}: {name}")
    return 0
