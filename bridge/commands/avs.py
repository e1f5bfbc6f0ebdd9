"""``vjbridge avs VIDEO [--audio FILE] [--out REPORT.md|.json]``: Audio-Visual Synchrony of a video.

The metric and every parameter are defined in :mod:`bridge.training.avs`; this command prints a
plain summary and writes the full report (every parameter and intermediate figure) when asked.
Nothing of the training side is imported until the command runs (the parser of ``vjbridge run``
builds every command's options), so the defaults shown here are copies of
:class:`~bridge.training.avs.AVSParams`' (a test keeps them equal).
"""

from __future__ import annotations

import argparse
import os

HELP = "score how well a video's visual changes follow its music's onsets (AVS, 0..1)"

#: (option, AVSParams field, default, help)
OPTIONS = (
    ("--fps", "fps", 30.0, "onset-strength frames per second"),
    ("--onset-delta", "onset_delta", 1.0, "onset threshold in robust std above the median"),
    ("--visual-delta", "visual_delta", 1.0, "transition threshold in robust std above the median"),
    ("--refractory", "refractory", 0.25, "seconds at least between two onsets or two transitions"),
    ("--smooth", "smooth", 3, "frames of the moving average before peak picking"),
    ("--skip", "skip", 1.0, "seconds ignored at the start"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="video file (its own audio track is the music unless --audio)")
    parser.add_argument("--audio", default=None, help="the music, when it is not the video's own "
                        "track (sample 0 of the file is time 0 of the video)")
    parser.add_argument("--out", default=None, help="report: .md (Markdown) or .json")
    for option, field, default, text in OPTIONS:
        parser.add_argument(option, dest=field, type=type(default), default=default,
                            help=f"{text} (default {default:g})")


def run(args: argparse.Namespace) -> int:
    import json

    from bridge.errors import ConfigError
    from bridge.training.avs import AVSParams, avs, markdown, summary

    ext = os.path.splitext(args.out)[1].lower() if args.out else None
    if ext not in (None, ".md", ".json"):
        raise ConfigError(f"--out must end in .md or .json; got {args.out!r}")
    params = AVSParams(**{field: getattr(args, field) for _, field, _, _ in OPTIONS})
    report = avs(args.video, args.audio, params)
    print(summary(report))
    if args.out:
        with open(args.out, "w") as f:
            f.write(json.dumps(report, indent=1) + "\n" if ext == ".json" else markdown(report))
        print(f"report -> {args.out}")
    return 0
