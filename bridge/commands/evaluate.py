"""``vjbridge evaluate MODEL... DATA [--out REPORT_DIR]``: how do exported models do on these videos?

Runs each ONNX model over every video of a dataset written by ``vjbridge dataset`` (a user's own
recordings, or the held-out corpus in ``onnx_models/holdout``) through the live runner, and reports
per target the within-video r, R² and the raw RMS / onset baselines (markdown + JSON). See
:mod:`bridge.training.evaluate`.
"""

from __future__ import annotations

import argparse

from bridge.commands.fanout_options import add_arguments as fanout_arguments

HELP = "score ONNX models on a dataset (within-video r, R², RMS/onset baselines): markdown + JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="MODEL... DATA",
                        help="one or more vjbridge .onnx models, then a dataset folder built by "
                             "`vjbridge dataset` (with the models' frame rate)")
    parser.add_argument("--out", default=None,
                        help="report folder: report.md + results.json (default: print only)")
    parser.add_argument("--title", default=None, help="report title")
    parser.add_argument("--commands", default=None, metavar="FILE",
                        help="a text file of the commands that rebuild the data; quoted in the "
                             "report")
    fanout_arguments(parser, what="videos (one model over one video each)")


def run(args: argparse.Namespace) -> int:
    from bridge.commands.fanout_options import options_from_args
    from bridge.errors import ConfigError
    from bridge.training.evaluate import evaluate, summary_lines, write_report

    if len(args.paths) < 2:
        raise ConfigError("give at least one MODEL and then the DATA folder, e.g. "
                          "vjbridge evaluate onnx_models/motion-weight.onnx DATA")
    *models, data = args.paths
    if data.endswith(".onnx"):
        raise ConfigError(f"the last argument must be the DATA folder (built by `vjbridge dataset`); "
                          f"got the model {data}")
    commands = None
    if args.commands:
        try:
            with open(args.commands) as f:
                commands = f.read()
        except OSError as exc:
            raise ConfigError(f"--commands {args.commands}: cannot read it ({exc.strerror})") from None
    fanout = options_from_args(args)
    result = evaluate(models, data, log=lambda m: None, fanout=fanout)
    for line in summary_lines(result):
        print(line)
    if args.out:
        md, js = write_report(result, args.out, title=args.title, commands=commands)
        print(f"-> {md}, {js}")
    return 0
