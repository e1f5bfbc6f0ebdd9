"""``vjbridge devices``: the audio inputs ``--device`` can use and the MIDI outputs ``--midi`` can use.

Why a command of its own: on a show machine the first question is "what does this box see?". The
names printed here are what ``--device`` matches (a case-insensitive substring, or the index).
"""

from __future__ import annotations

import argparse

HELP = "list audio inputs (for --device) and MIDI outputs (for --midi)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--midi-backend", choices=("auto", "alsa", "jack", "coremidi", "winmm"),
                        default="auto", help="list the MIDI outputs of this MIDI system only "
                        "(default: every one this platform has)")


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


def midi_apis(platform: str | None = None, choice: str = "auto") -> tuple[str, ...]:
    """The MIDI systems listed: each one ``auto`` tries on ``platform`` (Linux: ALSA, JACK;
    macOS: CoreMIDI, JACK; Windows: Windows MM), or the one chosen."""
    from bridge.sinks.midi_backend import platform_order

    return platform_order(platform) if choice == "auto" else (choice,)


def midi_outputs(choice: str = "auto") -> list[dict]:
    """One entry per MIDI system: {"api", "backend", "ports", "problem"} (problem is None when
    it answered). Nothing reaches stderr; listing never starts a JACK server."""
    from bridge.sinks import midi_backend as mb

    try:
        built = mb.compiled()
    except ImportError as exc:
        return [{"api": "MIDI", "backend": None, "ports": [],
                 "problem": f"python-rtmidi is not installed ({exc}): pip install python-rtmidi"}]
    out = []
    for backend in midi_apis(choice=choice):
        entry = {"api": mb.label(backend), "backend": backend, "ports": [], "problem": None}
        if backend not in built:
            entry["problem"] = "not in this python-rtmidi"
        else:
            try:
                entry["ports"] = mb.ports(backend)[0]
            except Exception as exc:  # noqa: BLE001 - rtmidi raises SystemError & co
                entry["problem"] = mb.reason(exc)
        out.append(entry)
    return out


def run(args: argparse.Namespace) -> int:
    inputs, audio_problem = audio_inputs()
    midi = midi_outputs(args.midi_backend)
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
    print(f"MIDI outputs (vjbridge run --midi NAME [--midi-backend SYSTEM]; {virtual}):")
    for api in midi:
        if api["problem"]:
            print(f"  {api['api']}: not available ({api['problem']})")
        elif not api["ports"]:
            print(f"  {api['api']}: answers, no ports")
        for name in api["ports"]:
            print(f"  {api['api']}: {name}")
    if midi and all(api["problem"] for api in midi):
        from bridge.sinks.midi_backend import FIXES

        fixes = " or ".join(FIXES[a["backend"]] for a in midi if a["backend"] in FIXES)
        print(f"  no MIDI system answers: {fixes}")
    return 0
