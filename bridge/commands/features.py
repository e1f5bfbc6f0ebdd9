"""``vjbridge features FILE --fps N --out OUT.npy|.csv``: write a file's feature frames."""

from __future__ import annotations

import argparse
import os

HELP = "extract the 66 features (64 log-mel dB, rms, onset) of an audio or video file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="audio (wav/flac/ogg/opus/mp3) or video with an audio track")
    parser.add_argument("--fps", type=float, default=8.0, help="feature frame rate (default 8)")
    parser.add_argument("--out", required=True,
                        help="output path: .npy (frames x 66) or .csv (time, then named columns)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from bridge import FeatureSpec, extract_file
    from bridge.errors import ConfigError

    ext = os.path.splitext(args.out)[1].lower()
    if ext not in (".npy", ".csv"):
        raise ConfigError(f"--out must end in .npy or .csv; got {args.out!r}")
    spec = FeatureSpec(fps=args.fps)
    frames = extract_file(args.file, spec)
    if ext == ".npy":
        np.save(args.out, frames)
    else:
        times = spec.frame_end_times(len(frames))
        header = ",".join(("time",) + spec.feature_names)
        np.savetxt(args.out, np.column_stack((times, frames)), delimiter=",", header=header,
                   comments="", fmt="%.6g")
    print(f"{len(frames)} frames ({spec.describe()}) -> {args.out}")
    return 0
