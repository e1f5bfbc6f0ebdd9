"""``vjbridge predict MODEL AUDIO --out CURVES.csv``: a model's outputs over a whole track."""

from __future__ import annotations

import argparse

HELP = "run a model over an audio file and write time-stamped predictions (CSV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="vjbridge .onnx model")
    parser.add_argument("audio", help="audio file (or a video with an audio track)")
    parser.add_argument("--out", required=True, help="output CSV: time, then one column per output")
    parser.add_argument("--rate", type=float, default=None,
                        help="output frames per second through the streaming runner, e.g. 60 "
                             "(the live rate); default: the model's own frame rate")


def run(args: argparse.Namespace) -> int:
    from bridge.models.predict import predict_file

    times, values, names = predict_file(args.model, args.audio, rate=args.rate)
    import numpy as np

    np.savetxt(args.out, np.column_stack((times, values)), delimiter=",",
               header=",".join(("time",) + tuple(names)), comments="", fmt="%.6g")
    print(f"{len(times)} rows ({', '.join(names)}) -> {args.out}")
    return 0
