"""``vjbridge run``: stream audio through the extractor in real time and show live feature meters.

This is the foundation's run command: it proves the streaming path end to end (source → resampler →
extractor) at the live frame rate. Sending the signals over OSC/MIDI/DMX builds on it.
"""

from __future__ import annotations

import argparse
import sys
import time

HELP = "run the live feature extractor (demo source or a file) with live meters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--demo", action="store_true", help="built-in synthetic groove (default)")
    source.add_argument("--file", help="play an audio/video file in real time")
    parser.add_argument("--fps", type=float, default=60.0, help="feature frame rate (default 60)")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")


def _blocks(args, spec):
    """Yield mono blocks at the spec rate, one hop each, from the chosen source."""
    import numpy as np

    hop = spec.hop_length
    if args.file:
        from bridge import iter_audio

        pending = np.zeros(0)
        for block in iter_audio(args.file, sample_rate=spec.sample_rate):
            pending = np.concatenate((pending, block))
            while pending.size >= hop:
                yield pending[:hop]
                pending = pending[hop:]
        return
    from bridge.audio.demo import DemoMusic

    demo = DemoMusic(spec.sample_rate)
    while True:
        yield demo.read(hop)


def run(args: argparse.Namespace) -> int:
    from bridge import FeatureExtractor, FeatureSpec
    from bridge.commands.meters import Meters

    spec = FeatureSpec(fps=args.fps)
    extractor = FeatureExtractor(spec)
    source = f"file {args.file}" if args.file else "built-in demo groove (--demo)"
    meters = Meters(spec, source=source, interactive=sys.stdout.isatty())
    period = spec.hop_length / spec.sample_rate
    start = time.perf_counter()
    deadline = None if args.duration is None else start + args.duration
    with meters:
        for i, block in enumerate(_blocks(args, spec)):
            t0 = time.perf_counter()
            for frame in extractor.process(block):
                meters.update(frame, cost=time.perf_counter() - t0)
            now = time.perf_counter()
            if deadline is not None and now >= deadline:
                break
            wait = start + (i + 1) * period - now  # pace to real time
            if wait > 0:
                time.sleep(wait)
    return 0
