"""``vjbridge predict MODEL AUDIO --out CURVES.csv [--strip STRIP.png]``: a model's outputs over a
whole track; for a light model (one that declares a colour) also the colour's hue, saturation and
brightness curves and, with ``--strip``, a colour-strip PNG of the song."""

from __future__ import annotations

import argparse

HELP = ("run a model over an audio file and write time-stamped predictions (CSV), and a light "
        "model's colour strip (PNG)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="vjbridge .onnx model")
    parser.add_argument("audio", help="audio file (or a video with an audio track)")
    parser.add_argument("--out", required=True,
                        help="output CSV: time, one column per output, then per colour the model "
                             "declares NAME_h, NAME_s, NAME_v (hue 0..1, saturation, brightness), "
                             "then energy, cumulative, morph (the audio energy vector)")
    parser.add_argument("--rate", type=float, default=None,
                        help="output frames per second through the streaming runner, e.g. 60 "
                             "(the live rate); default: the model's own frame rate")
    parser.add_argument("--strip", metavar="PNG", default=None,
                        help="also write a colour strip of the song (a light model only): the "
                             "colour as sent above, the same hue at full brightness below, a mark "
                             "every 10 s")
    parser.add_argument("--no-energy", dest="energy", action="store_false",
                        help="leave out the audio energy vector's columns (energy, cumulative, "
                             "morph: as vjbridge energy computes them, at the same rate)")
    parser.add_argument("--morph-segment", default=None, metavar="LEN",
                        help="length of one morph ramp: beats (4, 4b) or seconds (2s); default 4 "
                             "beats")
    parser.add_argument("--strip-width", type=int, default=1200, metavar="PX",
                        help="strip width in pixels (at most one per frame; default 1200)")


def run(args: argparse.Namespace) -> int:
    import os

    import numpy as np

    from bridge.errors import ConfigError
    from bridge.models.onnx_model import OnnxModel
    from bridge.models.predict import colour_columns, predict_model
    from bridge.models.strip import hsv_curves, strip_image, write_png

    if not 16 <= args.strip_width <= 100_000:
        raise ConfigError(f"--strip-width {args.strip_width} is out of range 16..100000")
    from bridge.signals.energy import DEFAULT_SEGMENT, parse_segment

    segment = parse_segment(DEFAULT_SEGMENT if args.morph_segment is None
                            else args.morph_segment)
    model = OnnxModel.load(args.model)
    if args.strip and not model.colours:
        raise ConfigError(f"{args.model} declares no colour (vjbridge.colours): --strip needs a "
                          "light model")
    times, values, names = predict_model(model, args.audio, rate=args.rate)
    colours = colour_columns(values, names, model.colours)
    columns, header = [times, values], ["time", *names]
    for name, rgb in colours.items():
        columns.append(hsv_curves(rgb))
        header += [f"{name}_h", f"{name}_s", f"{name}_v"]
    if args.energy:  # the live stage over the same frames (the model's spec at this rate)
        from bridge.runtime.energy_stage import energy_curves

        live = model.spec if args.rate is None else model.spec.replace(fps=args.rate)
        e_times, energy = energy_curves(args.audio, live, segment=segment)
        if len(e_times) != len(times) or not np.allclose(e_times, times):
            raise AssertionError(f"energy frames ({len(e_times)}) differ from the model's "
                                 f"({len(times)})")
        columns.append(energy)
        header += ["energy", "cumulative", "morph"]
    np.savetxt(args.out, np.column_stack(columns), delimiter=",", header=",".join(header),
               comments="", fmt="%.6g")
    print(f"{len(times)} rows ({', '.join(header[1:])}) -> {args.out}")
    if args.strip:
        name, rgb = next(iter(colours.items()))
        image = strip_image(rgb, times=times, width=args.strip_width)
        try:
            write_png(args.strip, image)
        except OSError as exc:
            raise ConfigError(f"--strip {args.strip}: cannot write ({exc.strerror or exc})") from None
        print(f"colour strip of {name!r} ({image.shape[1]} x {image.shape[0]} px, "
              f"{times[-1]:.1f} s) -> {os.fspath(args.strip)}")
    return 0
