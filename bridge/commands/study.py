"""``vjbridge study DATA --out REPORT``: the paper's protocol, sweeps, and the within-video metric."""

from __future__ import annotations

import argparse
import os
import shutil

from bridge.commands.fanout_options import add_arguments as fanout_arguments

HELP = ("reproduce the audio->visual study on a dataset: tables and plots in REPORT "
        "(resumable: rerun after an interruption to continue)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="dataset folder written by `vjbridge dataset`")
    parser.add_argument("--out", required=True, help="report folder (report.md, results.json, PNGs)")
    parser.add_argument("--fps", type=float, default=8.0,
                        help="frame rate of the main tables (must be in the dataset; default 8)")
    parser.add_argument("--quick", action="store_true",
                        help="small grids and forests (tests, smoke runs); numbers are not final")
    parser.add_argument("--max-rows", type=int, default=60000,
                        help="cap on training rows per fold for forest/boosting sweeps and colour "
                             "forests (default 60000; 0 = no cap)")
    fanout_arguments(parser, what="cross-validation folds (one model on one fold each)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from bridge.commands.fanout_options import options_from_args
    from bridge.training.study import Options, run_study
    from bridge.training.study_report import goal_check, write_report

    resume = os.path.join(args.out, ".resume")
    res = run_study(args.data, Options(fps=args.fps, quick=args.quick,
                                       max_rows=args.max_rows or None,
                                       fanout=options_from_args(args), resume_dir=resume))
    write_report(res, args.out)
    shutil.rmtree(resume, ignore_errors=True)
    print(f"report -> {os.path.join(args.out, 'report.md')}")
    print("goal: " + goal_check(res)["text"])
    return 0
