"""``--jobs N``, ``--dask``, ``--scheduler URL``: where a long job's tasks run, declared once for
``vjbridge corpus`` (and ``--screen``), ``dataset``, ``study`` and ``evaluate``.

Why here and not in :mod:`bridge.training.fanout`: every command's options are declared when the
``vjbridge`` parser is built, also for ``vjbridge run`` on a gallery machine, which must not import
the training package; the values are checked (one line each) by
:func:`bridge.training.fanout.make_options` when the job runs.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser, *, what: str = "tasks") -> None:
    """The three options on a long job's command (``what``: its unit of work, for the help)."""
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help=f"{what} run in parallel: local worker processes, or the workers of "
                             "--dask (default: 2 or the core count)")
    parser.add_argument("--dask", action="store_true",
                        help="run the --jobs workers as a dask.distributed LocalCluster "
                             "(needs pip install 'vjbridge[train]')")
    parser.add_argument("--scheduler", default=None, metavar="URL",
                        help="use an existing Dask cluster, e.g. tcp://127.0.0.1:8786 (implies "
                             "Dask; its workers decide the parallelism and must see the same "
                             "input paths and have vjbridge installed)")


def options_from_args(args: argparse.Namespace, report=print):
    """Validated :class:`bridge.training.fanout.Options` from these options (a bad value raises
    :class:`~bridge.errors.ConfigError`: one line naming it and the fix)."""
    from bridge.training.fanout import make_options

    return make_options(getattr(args, "jobs", None), dask=getattr(args, "dask", False),
                        scheduler=getattr(args, "scheduler", None), report=report)
