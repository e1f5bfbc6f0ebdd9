"""``vjbridge dataset VIDEOS... --fps 1,2,4,8,16 --out DATA``: audio features + visual targets."""

from __future__ import annotations

import argparse

from bridge.commands.fanout_options import add_arguments as fanout_arguments

HELP = "build a training dataset (features + motion/weight/colour targets) from videos with audio"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+",
                        help="video files, folders of videos, or a corpus manifest.json")
    parser.add_argument("--fps", default="1,2,4,8,16,7.4898",
                        help="comma-separated feature frame rates (default 1,2,4,8,16 and 7.4898 = "
                             "22050/2944, the rate of the shipped live model)")
    parser.add_argument("--out", required=True, help="dataset folder (created; reruns resume)")
    parser.add_argument("--group-regex", default=None,
                        help="fold group from the file name: first capture group of this regex "
                             "(e.g. '^(.*)__' for TRACK__PRESET.mp4); default: each video alone, or "
                             "the group a corpus manifest gives")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    fanout_arguments(parser, what="videos")


def run(args: argparse.Namespace) -> int:
    from bridge.commands.fanout_options import options_from_args
    from bridge.errors import ConfigError
    from bridge.training.dataset import build_dataset

    try:
        fps = [float(f) for f in args.fps.split(",") if f.strip()]
    except ValueError:
        raise ConfigError(f"--fps must be comma-separated numbers like 1,2,4,8,16; got {args.fps!r}")
    if not fps:
        raise ConfigError("--fps needs at least one frame rate")
    fanout = options_from_args(args)
    manifest = build_dataset(args.videos, args.out, fps=fps, fanout=fanout,
                             progress=not args.no_progress,
                             group_regex=args.group_regex)
    n = len(manifest["videos"])
    rows = {h: sum(v["rows"][h] for v in manifest["videos"]) for h in manifest["specs"]}
    rates = ", ".join(f"{manifest['specs'][h]['frame_rate']:.3g} fps: {rows[h]}" for h in rows)
    print(f"{n} video(s), {len(manifest['skipped'])} skipped -> {args.out} (rows {rates})")
    return 0 if n else 1
