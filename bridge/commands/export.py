"""``vjbridge export DATA --out MODEL.onnx``: train a recipe and write one checked ONNX graph."""

from __future__ import annotations

import argparse
import json
import os

HELP = "train a model on a dataset and export it as ONNX with vjbridge metadata"
#: Names of bridge.training.export.RECIPES (not imported here: `vjbridge run` must start light).
RECIPE_NAMES = ["default", "light", "paper", "ridge"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="dataset folder written by `vjbridge dataset`")
    parser.add_argument("--out", required=True, help="output .onnx path")
    parser.add_argument("--recipe", default="default", choices=RECIPE_NAMES,
                        help="default: causal context + boosting (depth 3) on per-video normalised "
                             "motion/weight; ridge: the same with Ridge; paper: the paper's "
                             "protocol (66 features, raw targets); light: audio -> RGB colour "
                             "(JAX 1-D CNN, needs the [train] extra's jax + optax)")
    parser.add_argument("--fps", type=float, default=None,
                        help="dataset frame rate to train at (default 7.4898 = hop 2944 = 8 x the "
                             "60 Hz live hop 368, so the live runner can evaluate it every frame; "
                             "light: 14.9796 = hop 1472 = 4 x 368)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="light: CNN training epochs per fit (default 15)")
    parser.add_argument("--smooth", type=float, default=None,
                        help="light: weight of the loss term penalising frame-to-frame change "
                             "beyond the target's own (default 0.25)")
    parser.add_argument("--within", type=float, default=None,
                        help="light: weight of the chunk-centred MSE (movement inside a chunk of "
                             "frames; default 2)")
    parser.add_argument("--chunk", type=int, default=None,
                        help="light: consecutive frames per training chunk (default 32)")
    parser.add_argument("--labels", default=None,
                        help="light: comma-separated labels to cross-validate, of mean, implied "
                             "(default both; the shipped one is chosen among them)")
    parser.add_argument("--kind", default=None,
                        choices=["Ridge", "RandomForest", "HistGradientBoosting"],
                        help="override the recipe's model kind")
    parser.add_argument("--alpha", type=float, default=None, help="override Ridge alpha")
    parser.add_argument("--card", action="store_true",
                        help="also write a markdown model card MODEL.md next to the model")
    parser.add_argument("--report", default=None,
                        help="study report folder the card links to (from `vjbridge study`)")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.recipe == "light":
        return _light(args)
    from bridge.training.export import RECIPES, export

    if args.fps is None:
        args.fps = 22050 / 2944
    recipe = RECIPES[args.recipe]
    if args.kind:
        recipe = dataclasses.replace(recipe, kind=args.kind, params={})
    if args.alpha is not None:
        recipe = dataclasses.replace(recipe, params={**recipe.params, "alpha": args.alpha})
    info = export(args.data, args.out, recipe=recipe, fps=args.fps)
    m = info["metrics"]
    summary = ", ".join(f"{t}: within-video r {m[t]['within_video_r']['mean']:.3f} ± "
                        f"{m[t]['within_video_r']['std']:.3f}, R² {m[t]['r2']['mean']:.3f}"
                        for t in recipe.targets)
    print(f"{args.out}: {info['bytes']} bytes, {info['n_inputs']} inputs, ONNX vs scikit-learn "
          f"max |diff| {info['max_abs_diff']:.2g} on {info['held_back_rows']} held-back rows")
    print(f"cross-validated ({m['folds']} folds): {summary}")
    with open(os.path.splitext(args.out)[0] + ".metrics.json", "w") as f:
        json.dump(info, f, indent=1)
    if args.card:
        from bridge.training.export import write_card

        card = os.path.splitext(args.out)[0] + ".md"
        write_card(info, recipe, args.data, card, rebuild=_rebuild(args), report=args.report)
        print(f"model card -> {card}")
    return 0


def _rebuild(args) -> str:
    import shlex
    import sys

    command = ("vjbridge " + " ".join(shlex.quote(a) for a in sys.argv[1:])
               if sys.argv[1:2] == ["export"]
               else f"vjbridge export {args.data} --recipe {args.recipe} --out {args.out}")
    return ("# the whole chain (corpus -> dataset -> study -> models):\nsh onnx_models/"
            "rebuild.sh\n# this model only, from the dataset:\n" + command)


def _light(args) -> int:
    """The light recipe: CNN + baselines on the study folds, export, card, metrics, colour strips."""
    import dataclasses

    from bridge.errors import ConfigError

    try:
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError:
        raise ConfigError("--recipe light trains with JAX: pip install 'vjbridge[train]' (or "
                          "pip install jax optax)") from None
    if args.kind or args.alpha is not None:
        raise ConfigError("--kind/--alpha do not apply to --recipe light (a CNN; Ridge and an MLP "
                          "are trained beside it as baselines)")
    from bridge.training.light import LightOptions, export_light
    from bridge.training.light_card import public, write_card, write_strips

    opts = LightOptions()
    # option -> the smallest value that makes sense (None: any number)
    for name, least in (("epochs", 1), ("smooth", 0), ("within", None), ("chunk", 4)):
        value = getattr(args, name)
        if value is None:
            continue
        if least is not None and value < least:
            raise ConfigError(f"--{name} must be at least {least}; got {value}")
        opts = dataclasses.replace(opts, **{name: value})
    if args.labels is not None:
        from bridge.training.light import LABELS

        labels = tuple(x.strip() for x in args.labels.split(",") if x.strip())
        if not labels or any(x not in LABELS for x in labels):
            raise ConfigError(f"--labels must name some of {', '.join(LABELS)}; got {args.labels!r}")
        opts = dataclasses.replace(opts, labels=labels)
    info = export_light(args.data, args.out, fps=args.fps or 22050 / 1472, opts=opts)
    base = os.path.splitext(args.out)[0]
    print(f"{args.out}: {info['bytes']} bytes, {info['n_inputs']} inputs, ONNX vs JAX max |diff| "
          f"{info['max_abs_diff']:.2g} on {info['held_back_rows']} held-back rows; "
          f"{info['label']} colour")
    with open(base + ".metrics.json", "w") as f:
        json.dump(public(info), f, indent=1)
    if args.card:
        strips = base + ".strips.png"
        names = write_strips(info, strips)
        for path, png in [(base + ".md", strips)] + (
                [(os.path.join(args.report, "light.md"), None)] if args.report else []):
            if png is None:  # the study report's copy, with its own strips
                os.makedirs(args.report, exist_ok=True)
                png = os.path.join(args.report, "light-strips.png")
                write_strips(info, png)
            write_card(info, path, data=args.data, rebuild=_rebuild(args), strips=png,
                       strip_names=names)
            print(f"model card -> {path}")
    return 0
