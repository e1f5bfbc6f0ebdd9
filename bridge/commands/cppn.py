"""``vjbridge cppn new|fit|info|export-glsl``: make, inspect and export NeuroMV CPPNs."""

from __future__ import annotations

import argparse

HELP = "make a CPPN (random from a seed, or fitted to an image), show one, export it to GLSL"


def _shape(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="the model to write (.onnx)")
    p.add_argument("--seed", type=int, default=0, help="random weights (default 0)")
    p.add_argument("--bands", type=int, default=32, help="mel bands = size of z (default 32)")
    p.add_argument("--width", type=int, default=32, help="units per hidden layer (default 32)")
    p.add_argument("--depth", type=int, default=5, help="hidden tanh layers (default 5)")
    p.add_argument("--init-scale", type=float, default=3.0,
                   help="weight scale: higher = finer detail (default 3)")
    p.add_argument("--z-scale", type=float, default=1.0,
                   help="weight of z in the first layer: how much the audio moves the picture")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    new = sub.add_parser("new", help="a random CPPN from a seed")
    _shape(new)
    fit = sub.add_parser("fit", help="a CPPN fitted to a reference image (the train extra)")
    fit.add_argument("image", help="the reference image (PNG/JPEG), centre-cropped square")
    _shape(fit)
    fit.add_argument("--steps", type=int, default=300,
                     help="training steps: the knob between image fit and audio sensitivity "
                          "(more steps: closer to the image, a more static video; default 300)")
    fit.add_argument("--train-size", type=int, default=96, help="image side used (default 96)")
    fit.add_argument("--report", metavar="DIR", help="also measure the trade-off at checkpoints "
                     "(0, 30, 100, 300, 1000, ... steps): DIR/tradeoff.md and tradeoff.png")
    info = sub.add_parser("info", help="describe a CPPN model")
    info.add_argument("model")
    glsl = sub.add_parser("export-glsl", help="a GLSL fragment shader evaluating the CPPN per "
                          "pixel (the TouchDesigner GLSL TOP)")
    glsl.add_argument("model")
    glsl.add_argument("--out", required=True, help="the shader to write (.glsl)")


def run(args: argparse.Namespace) -> int:
    if args.action == "info":
        from bridge.models.cppn import CppnModel

        print(CppnModel.load(args.model).describe())
        return 0
    if args.action == "export-glsl":
        from bridge.video.glsl import export_glsl

        print(export_glsl(args.model, args.out))
        return 0
    from bridge.errors import ConfigError

    try:
        from bridge.training import cppn
    except ImportError as exc:
        raise ConfigError(f"making a CPPN needs the train extra ({exc.name} missing): "
                          "pip install 'vjbridge[train]'") from None
    for name in ("bands", "width", "depth"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be >= 1; got {getattr(args, name)}")
    shape = dict(seed=args.seed, n_z=args.bands, width=args.width, depth=args.depth,
                 init_scale=args.init_scale, z_scale=args.z_scale)
    if args.action == "new":
        info = cppn.make_random(args.out, **shape)
        print(f"random CPPN {info['depth']}x{info['width']}, z {info['n_z']} bands, seed "
              f"{args.seed}: sensitivity {info['sensitivity']:.1f}/255 per unit z -> {args.out}")
        return 0
    if args.steps < 0:
        raise ConfigError(f"--steps must be >= 0; got {args.steps}")
    marks = [m for m in (30, 100, 300, 1000, 3000, 10000) if m < args.steps] if args.report else ()
    rows, snaps = cppn.make_fitted(args.out, args.image, steps=args.steps, size=args.train_size,
                                   checkpoints=marks, **shape)
    if args.report:
        target = cppn.load_image(args.image, args.train_size)
        print(cppn.tradeoff_report(rows, snaps, target, args.report, image=args.image,
                                   seed=args.seed), end="")
    end = rows[-1]
    print(f"fitted {args.steps} steps: PSNR {end['psnr']:.2f} dB (step 0: {rows[0]['psnr']:.2f}), "
          f"sensitivity {end['sensitivity']:.2f}/255 per unit z (step 0: "
          f"{rows[0]['sensitivity']:.2f}) -> {args.out}")
    return 0
