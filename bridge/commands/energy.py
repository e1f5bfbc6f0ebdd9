"""``vjbridge energy AUDIO --out CURVES.csv``: the audio energy vector of a whole file (time,
energy, cumulative, morph), through the live stage (:func:`bridge.runtime.energy_stage.
energy_curves`): the values a live run routing ``energy`` and ``morph`` sends for that audio."""

from __future__ import annotations

import argparse

HELP = ("write a file's audio energy vector (time, energy, cumulative, morph) as CSV, as the live "
        "energy and morph signals compute it")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", help="audio file (or a video with an audio track)")
    parser.add_argument("--out", required=True,
                        help="output CSV: time (s, when each frame's window ends), energy (0..1), "
                             "cumulative (energy-seconds since the start: the study's curve is "
                             "cumulative / its last value), morph (0..1 per segment)")
    parser.add_argument("--fps", type=float, default=60.0,
                        help="frames per second (default 60, the live rate)")
    parser.add_argument("--morph-segment", default=None, metavar="LEN",
                        help="length of one morph ramp: beats of the tracked tempo (4, 4b) or "
                             "seconds (2s); default 4 beats, as vjbridge run")


def write_csv(path, times, values, header) -> None:
    import numpy as np

    from bridge.errors import ConfigError

    try:
        np.savetxt(path, np.column_stack((times, values)), delimiter=",",
                   header=",".join(header), comments="", fmt="%.6g")
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot write ({exc.strerror or exc})") from None


def run(args: argparse.Namespace) -> int:
    from bridge.audio.spec import FeatureSpec
    from bridge.runtime.energy_stage import energy_curves
    from bridge.signals.energy import DEFAULT_SEGMENT, parse_segment

    segment = parse_segment(DEFAULT_SEGMENT if args.morph_segment is None
                            else args.morph_segment)
    spec = FeatureSpec(fps=args.fps)  # a bad fps: ConfigError naming the field and its range
    times, values = energy_curves(args.audio, spec, segment=segment)
    write_csv(args.out, times, values, ("time", "energy", "cumulative", "morph"))
    value, unit = segment
    print(f"{len(times)} rows (energy, cumulative, morph; segments of {value:g} {unit}) -> "
          f"{args.out}")
    return 0
