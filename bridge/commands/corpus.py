"""``vjbridge corpus --out DIR``: render the projectM training corpus (music x Milkdrop presets).

Three jobs, one command:
- default: render the plan (tracks.json x presets.json) to ``DIR/videos/**.mkv`` + ``DIR/manifest.json``,
  resumable, in parallel;
- ``--screen N``: screen N seeded random presets for audio response, write ``DIR/presets.json``
  (``--save-list`` also replaces the committed list);
- ``--write-track-list``: rescan the music packages and rewrite the committed track list.

``--music LIST`` (another track list, e.g. ``onnx_models/holdout/tracks.json``), ``--exclude LIST``
and ``--screen-tracks`` build a held-out corpus with music and presets the training never used.
"""

from __future__ import annotations

import argparse

from bridge.commands.fanout_options import add_arguments as fanout_arguments

HELP = "render the projectM visualizer corpus (music x screened Milkdrop presets) to videos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="corpus folder (created; resumable)")
    parser.add_argument("--tracks", type=int, default=None,
                        help="render only the first N tracks of the seeded plan (default: all)")
    parser.add_argument("--presets-per-track", type=int, default=3,
                        help="presets rendered per track (default 3)")
    parser.add_argument("--seconds", type=float, default=150.0,
                        help="excerpt length per track, the middle of the track (default 150; "
                             "0 = whole tracks)")
    parser.add_argument("--size", type=int, default=128, help="video width = height (default 128)")
    parser.add_argument("--fps", type=int, default=30, help="video frame rate (default 30)")
    parser.add_argument("--crf", type=int, default=23, help="x264 CRF (default 23)")
    parser.add_argument("--seed", type=int, default=0, help="plan / screening seed (default 0)")
    parser.add_argument("--presets", default=None,
                        help="preset list JSON (default: the committed lists/presets.json)")
    parser.add_argument("--debs", default=None,
                        help="folder that already holds the music .deb files (skips apt-get download)")
    parser.add_argument("--screen", type=int, default=None, metavar="N",
                        help="instead of rendering: screen N seeded random presets")
    parser.add_argument("--keep", type=int, default=None,
                        help="with --screen: keep at most this many presets (default: all passing)")
    parser.add_argument("--save-list", action="store_true",
                        help="with --screen: also write the committed lists/presets.json")
    parser.add_argument("--write-track-list", action="store_true",
                        help="rescan the music packages and rewrite the track list (--music)")
    parser.add_argument("--music", default=None,
                        help="track list JSON to render / screen with / write (default: the "
                             "committed lists/tracks.json of the training soundtracks)")
    parser.add_argument("--package", action="append", default=None,
                        help="with --write-track-list: music package to scan (repeatable; default: "
                             "the three training soundtracks; also: hyperrogue-music)")
    parser.add_argument("--exclude", action="append", default=[], metavar="LIST",
                        help="with --screen: never screen a preset named in this preset list "
                             "(by path or content hash; repeatable)")
    parser.add_argument("--skip-tracks", default=None,
                        help="when rendering: comma-separated track ids not to render (e.g. the "
                             "held-out screening music)")
    parser.add_argument("--screen-tracks", default=None,
                        help="with --screen: comma-separated track ids (of --music) whose middle "
                             "12 s are the screening music (default nexuiz/infight,wesnoth/battle)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    fanout_arguments(parser, what="renders (or screened presets)")


def run(args: argparse.Namespace) -> int:
    import json
    import shutil
    from pathlib import Path

    from bridge.commands.fanout_options import options_from_args
    from bridge.errors import ConfigError
    from bridge.training.corpus import build, music, screen

    fanout = options_from_args(args)
    tracks_path = Path(args.music) if args.music else music.TRACKS_JSON
    if args.write_track_list:
        tracks = music.scan_tracks(debs=Path(args.debs) if args.debs else None,
                                   packages=args.package)
        music.write_track_list(tracks, tracks_path)
        used = [t for t in tracks if t["use"]]
        print(f"{len(tracks)} tracks ({len(used)} used, {sum(t['duration'] for t in used) / 3600:.2f} h)"
              f" -> {tracks_path}")
        return 0
    if args.save_list and (args.music or args.exclude):
        raise ConfigError("--save-list replaces the committed training preset list; do not combine "
                          "it with --music or --exclude (a held-out screening keeps DIR/presets.json)")
    if args.screen is not None:
        if args.screen < 1:
            raise ConfigError(f"--screen must be >= 1; got {args.screen}")
        screen_tracks = (tuple(t.strip() for t in args.screen_tracks.split(",") if t.strip())
                         if args.screen_tracks else screen.SCREEN_TRACKS)
        doc = screen.run_screening(args.out, args.screen, seed=args.seed, fanout=fanout,
                                   keep=args.keep, debs=args.debs, progress=not args.quiet,
                                   tracks_path=tracks_path, screen_tracks=screen_tracks,
                                   exclude=args.exclude)
        path = Path(args.out) / "presets.json"
        if args.save_list:
            shutil.copyfile(path, build.PRESETS_JSON)
        print(f"screened {sum(doc['counts'].values())} presets {json.dumps(doc['counts'])}; "
              f"{len(doc['chosen'])} chosen -> {path}" + (" (saved as the committed list)"
                                                          if args.save_list else ""))
        return 0
    presets_path = Path(args.presets) if args.presets else build.PRESETS_JSON
    jobs = build.plan(tracks=args.tracks, presets_per_track=args.presets_per_track,
                      seconds=args.seconds or None, size=args.size, fps=args.fps, crf=args.crf,
                      seed=args.seed, presets_path=presets_path, tracks_path=tracks_path,
                      skip_tracks=[t.strip() for t in (args.skip_tracks or "").split(",")
                                   if t.strip()])
    result = build.build(args.out, jobs, fanout=fanout, debs=args.debs,
                         progress=not args.quiet, tracks_path=tracks_path,
                         presets_path=presets_path)
    for f in result["failed"]:
        print(f"skipped {f['name']}: {f['reason']}")
    print(f"{result['planned']} videos planned: {result['cached']} already complete, "
          f"{result['rendered']} rendered, {len(result['failed'])} failed -> {result['manifest']}")
    return 0
