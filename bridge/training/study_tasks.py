"""The study's unit of work: one model fitted on one cross-validation fold of one target.

Why a task per fold: the study's cost is hundreds of model fits (five folds of every model of
every section and sweep point); they are independent, so :mod:`bridge.training.fanout` runs them
on local processes or a Dask cluster. A task carries only a :class:`Problem` (the dataset's path
and hash, which features, which target, which split), the fold number and the model's
parameters; the worker reads the dataset from that path (shared with the client) once per process
and returns the fold's test-set predictions, a small array. The client assembles and scores them
in fold order, so the numbers are those of fitting every fold one after another in one process
(the study before this module; tests/training/test_fanout.py checks serial = Dask).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bridge.errors import DatasetError

#: Tables (one per dataset hop) a worker process keeps loaded; the rest are re-read when asked.
KEEP_TABLES = 3


@dataclass(frozen=True)
class Problem:
    """What a fold is fitted on: a dataset hop, its features, one target, one split."""

    data: str
    hop: int
    data_hash: str
    target: str
    features: str | None = None  # ContextSpec JSON; None: the 66 raw features
    z: bool = False              # per-video z-scored targets (the performer metric)
    strict: bool = False         # the unseen-preset splits instead of the track folds


@dataclass
class CV:
    """A model kind cross-validated on a problem over its splits (``y`` and ``splits`` are the
    client's, for scoring)."""

    problem: Problem
    kind: str
    y: np.ndarray
    splits: list
    quick: bool = False
    max_rows: int | None = None
    params: dict | None = None


def fold_task(problem: Problem, fold: int, kind: str, quick: bool, max_rows: int | None,
              params: dict) -> np.ndarray:
    """Worker: fit ``kind`` on the fold's training rows, return its predictions on the test rows."""
    from bridge.training.study import _subsample, make_model

    X, y, splits = arrays(problem)
    train, test = splits[fold]
    tr = _subsample(train, max_rows)
    return make_model(kind, quick, **params).fit(X[tr], y[tr]).predict(X[test])


def run_cv(fan, jobs: list[CV]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(out-of-fold predictions, per-fold R², per-fold RMSE)`` of each job, every fold of every
    job one task of ``fan``."""
    from bridge.training.fanout import Task
    from bridge.training.study import r2_rmse

    tasks = [Task(fold_task, (job.problem, f, job.kind, job.quick, job.max_rows,
                              dict(job.params or {})), label=f"{job.kind} fold {f}")
             for job in jobs for f in range(len(job.splits))]
    preds = iter(fan.map(tasks))
    out = []
    for job in jobs:
        oof = np.full(len(job.y), np.nan)
        r2s, rmses = [], []
        for _, test in job.splits:
            p = next(preds)
            oof[test] = p
            r2, rmse = r2_rmse(job.y[test], p)
            r2s.append(r2)
            rmses.append(rmse)
        out.append((oof, np.array(r2s), np.array(rmses)))
    return out


# ---- a worker's view of the data (cached per process) ---------------------------------------------
_TABLES: OrderedDict = OrderedDict()
_DERIVED: dict = {}


def prime(data: str, hop: int, table) -> None:
    """Hand this process's already loaded ``table`` to the tasks it runs itself (``--jobs 1``)."""
    _remember((str(data), int(hop), table.data_hash), table)


def _remember(key, table) -> None:
    _TABLES[key] = table
    _TABLES.move_to_end(key)
    while len(_TABLES) > KEEP_TABLES:
        old, _ = _TABLES.popitem(last=False)
        for k in [k for k in _DERIVED if k[0] == old]:
            del _DERIVED[k]


def _table(problem: Problem):
    from bridge.training.dataset import load_table

    key = (problem.data, problem.hop, problem.data_hash)
    if key not in _TABLES:
        table = load_table(problem.data, problem.hop)
        if table.data_hash != problem.data_hash:
            raise DatasetError(f"{problem.data} changed while the study ran (data hash "
                               f"{table.data_hash[:16]}, expected {problem.data_hash[:16]}); "
                               "rerun the study")
        _remember(key, table)
    _TABLES.move_to_end(key)
    return key, _TABLES[key]


def _derived(key, name, make):
    if (key, name) not in _DERIVED:
        _DERIVED[(key, name)] = make()
    return _DERIVED[(key, name)]


def arrays(problem: Problem):
    """``(X, y, splits)`` of ``problem``, as :func:`bridge.training.study.run_study` builds them."""
    from bridge.models.context import ContextSpec
    from bridge.training.study import context_features, folds, per_video_z, unseen_preset_splits

    key, table = _table(problem)
    if problem.features is None:
        X = _derived(key, "X", lambda: table.X.astype(np.float64))
    else:
        X = _derived(key, problem.features,
                     lambda: context_features(table, ContextSpec.from_json(problem.features)))
    col = list(table.target_names).index(problem.target)
    if problem.z:
        y = _derived(key, "Z", lambda: per_video_z(table.Y, table.video, table.valid))[:, col]
    else:
        y = table.Y[:, col]
    splits = _derived(key, "folds", lambda: folds(table))
    if problem.strict:
        splits = _derived(key, "strict", lambda: unseen_preset_splits(table, splits))
    return X, y, splits
