"""``vjbridge render AUDIO --out VIDEO.mp4``: a NeuroMV CPPN video of a song (bridge.video.render)."""

from __future__ import annotations

import argparse
import os

HELP = "render a song to a CPPN music video (NeuroMV): frames from z = the song's mel bands"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", help="the song (any audio or video file PyAV reads)")
    parser.add_argument("--out", required=True, help="the video to write (.mp4); resumable: "
                        "segments wait in OUT.parts/ until the end")
    parser.add_argument("--model", help="a CPPN from `vjbridge cppn new|fit` (default: a random "
                        "one from --seed, or one fitted to --image)")
    parser.add_argument("--image", help="fit the CPPN to this cover image first (needs the train "
                        "extra); --fit-steps sets how closely (more steps: a more static video)")
    parser.add_argument("--fit-steps", type=int, default=300,
                        help="training steps on --image (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="the CPPN's random weights (default 0)")
    parser.add_argument("--size", type=int, default=512, help="panel size in pixels (default 512)")
    parser.add_argument("--stems", help="'hpss' (harmonic | percussive panels) or stem files "
                        "separated by commas, one panel each")
    parser.add_argument("--z", choices=("audio", "linear", "energy"), default="audio",
                        dest="schedule",
                        help="audio: z follows the music frame by frame (default); linear: the "
                        "study's baseline, z moving linearly between 2 s keyframes; energy: the "
                        "study's method, the same keyframes, z advancing with the cumulative "
                        "energy (vjbridge energy) between them")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from bridge.errors import ConfigError
    from bridge.video.render import render

    if not args.out.lower().endswith(".mp4"):
        raise ConfigError(f"--out must end in .mp4; got {args.out!r}")
    if not os.path.isfile(args.audio):
        from bridge.errors import MediaError

        raise MediaError(f"{args.audio}: no such file")
    model = args.model
    if model is None:
        parts = args.out + ".parts"
        os.makedirs(parts, exist_ok=True)
        model = os.path.join(parts, "model.onnx")
        if not os.path.exists(model):  # resumable: a fitted model is made once
            try:
                from bridge.training import cppn
            except ImportError as exc:
                raise ConfigError(f"making a CPPN needs the train extra ({exc.name} missing): "
                                  "pip install 'vjbridge[train]', or pass --model") from None
            if args.image:
                rows, _ = cppn.make_fitted(model + ".tmp", args.image, seed=args.seed,
                                           steps=args.fit_steps)
                os.replace(model + ".tmp", model)
            else:
                cppn.make_random(model, seed=args.seed)
    elif args.image:
        raise ConfigError("give --model or --image, not both (a model is already fitted)")
    info = render(args.audio, args.out, model_path=model, size=args.size, stems=args.stems,
                  schedule=args.schedule, progress=not args.no_progress)
    timing = (f"; CPPN {info['frame_ms']:.1f} ms per {args.size} px panel frame (median), "
              f"{info['ns_per_pixel']:.0f} ns/pixel" if "frame_ms" in info else "")
    print(f"{info['frames']} frames x {info['panels']} panel(s), {info['duration']:.1f} s, "
          f"audio muxed -> {args.out} ({info['rendered_segments']}/{info['segments']} segments "
          f"rendered now{timing})")
    return 0
