"""One way to fan out the long offline jobs: corpus rendering, preset screening, dataset building,
the study's cross-validation folds and sweeps, and ``vjbridge evaluate``.

Why one module: those jobs used to start three hand-made process pools and the study a thread
count of its own, none of which could leave the machine. Here a job is a list of :class:`Task`
(a module-level pure function and its small arguments: one video, one fold, one sweep point) run
by one of three backends, chosen by the same three options on every command
(:mod:`bridge.commands.fanout_options`):

- local (default, ``--jobs N``): N "spawn" processes that end with the command
  (:func:`bridge.training.workers.process_pool`), or the command's own process for ``--jobs 1``;
- ``--jobs N --dask``: a dask.distributed ``LocalCluster`` of N single-threaded worker processes;
- ``--scheduler tcp://HOST:PORT``: an existing Dask cluster (its workers decide the parallelism).

Dask is imported only for the last two, so local runs (and the live daemon) never load it.

Tasks carry only paths and small values, never a video: a worker reads its inputs from a path it
shares with the client and writes per-video results there, or returns small arrays. Every task is
submitted under a key derived from its inputs (:func:`task_key`), so a task whose worker was lost
is simply run again by the scheduler, and the jobs' own content-hash caches make a rerun after any
failure resume where it stopped. Results are the same whichever backend ran them: the functions
are the same, and each job assembles results in its own fixed order, never completion order.

Progress: :class:`Bar` is the one progress bar of every job (a rich bar on a terminal, one line per
task otherwise); a distributed run adds tasks running / failed and each worker's throughput to it,
and the Dask dashboard link is reported once when the cluster serves one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from bridge.errors import BridgeError, ClusterError, ConfigError

#: Address schemes dask.distributed connects to.
SCHEMES = ("tcp", "tls", "ws", "wss")
#: Seconds to wait for an existing scheduler before giving up with one line.
CONNECT_TIMEOUT = 8
#: Times a local run replaces its process pool after a worker process died.
LOCAL_RESTARTS = 2


def default_jobs() -> int:
    return min(2, os.cpu_count() or 1)


# ---- the three options (declared in bridge/commands/fanout_options.py) ----------------------------
@dataclass(frozen=True)
class Options:
    """Where a job's tasks run (see the module docstring)."""

    jobs: int = field(default_factory=default_jobs)
    dask: bool = False
    scheduler: str | None = None

    @property
    def distributed(self) -> bool:
        return self.dask or self.scheduler is not None

    def describe(self) -> str:
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler}"
        if self.dask:
            return f"a Dask LocalCluster of {self.jobs} worker(s)"
        return f"{self.jobs} local process(es)" if self.jobs > 1 else "this process"


def make_options(jobs: int | None = None, *, dask: bool = False, scheduler: str | None = None,
                 report=print) -> Options:
    """Validated :class:`Options` (``jobs`` None: the default); a bad value raises
    :class:`ConfigError`: one line naming it and the fix."""
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be >= 1; got {jobs}")
    if scheduler is not None:
        scheduler = check_scheduler_url(scheduler)
        if jobs is not None:
            report(f"note: --jobs {jobs} is ignored with --scheduler: the cluster's workers "
                   "decide the parallelism")
        jobs = None
    if dask or scheduler:
        _need_distributed("--scheduler" if scheduler else "--dask")
    return Options(jobs=jobs or default_jobs(), dask=bool(dask or scheduler), scheduler=scheduler)


def _need_distributed(flag: str) -> None:
    try:
        import distributed  # noqa: F401 - only asked for with --dask / --scheduler
    except ImportError:
        raise ConfigError(f"{flag} needs dask.distributed, which is not installed; install it with "
                          "pip install 'vjbridge[train]' (or pip install 'dask[distributed]')") from None


def check_scheduler_url(url: str) -> str:
    """``url`` if it is a scheduler address like ``tcp://HOST:PORT``; else one ConfigError line."""
    hint = "give the scheduler's address like tcp://127.0.0.1:8786 (what `dask scheduler` prints)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"--scheduler {url!r} is not a scheduler address ({exc}); {hint}") from None
    if parts.scheme not in SCHEMES:
        got = f"scheme {parts.scheme!r}" if "://" in url else "no scheme"
        raise ConfigError(f"--scheduler {url!r} has {got} (want one of "
                          f"{', '.join(s + '://' for s in SCHEMES)}); {hint}")
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"--scheduler {url!r} needs a host and a port and nothing else; {hint}")
    return url


# ---- tasks ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(*args, **kwargs)``, ``fn`` a module-level function (importable on a
    worker) of small, picklable arguments (paths and parameters, never a video)."""

    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    @property
    def key(self) -> str:
        return task_key(self.fn, self.args, self.kwargs)


def task_key(fn: Callable, args: tuple = (), kwargs: dict | None = None) -> str:
    """``NAME-DIGEST``: the same function and arguments always give the same key, so a retried or
    resubmitted task is the same task to the scheduler."""
    text = repr((fn.__module__, fn.__qualname__, args, sorted((kwargs or {}).items())))
    return f"{fn.__name__.strip('_')}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def _tracked(fn: Callable, args: tuple, kwargs: dict) -> tuple[str, float, Any]:
    """Runs on a worker: ``(worker name, seconds, result)`` for the throughput line."""
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return f"{socket.gethostname()}:{os.getpid()}", time.perf_counter() - t0, result


# ---- the fan-out ----------------------------------------------------------------------------------
class Fanout:
    """Runs lists of :class:`Task` on the backend ``options`` names; a context manager (its workers
    or its connection live until exit). ``isolate``: even ``--jobs 1`` runs tasks in a worker
    process (the corpus renderer), not in this one."""

    def __init__(self, options: Options | None = None, *, report=print, isolate: bool = False):
        self.options = options or Options()
        self.report = report
        self.isolate = isolate
        self.dashboard: str | None = None
        self._pool = None
        self._client = None
        self._cluster = None
        self._slots = (-1e9, 1)  # (when asked, task slots of the cluster)
        self.stats = Stats()

    # backend lifetime
    def __enter__(self) -> Fanout:
        if self.options.distributed:
            self._connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
            try:
                client.close(timeout=CONNECT_TIMEOUT)
                if cluster is not None:
                    cluster.close(timeout=CONNECT_TIMEOUT)
            except Exception:  # noqa: BLE001 - closing a cluster that is already gone
                pass

    def _connect(self) -> None:
        import logging

        from distributed import Client

        for name in ("distributed", "distributed.nanny", "distributed.scheduler"):
            logging.getLogger(name).setLevel(logging.ERROR)  # its INFO lines are not for users
        url = self.options.scheduler
        if url:
            _probe(url)
            try:
                self._client = Client(url, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {url} ({_reason(exc)}); start one with "
                    f"`dask scheduler` and workers with `dask worker {url}`, or check the host "
                    "and port") from None
            except Exception as exc:  # noqa: BLE001 - something else answers there
                raise ClusterError(
                    f"{url} does not answer as a Dask scheduler (something else listens there: "
                    f"{type(exc).__name__}); give the address `dask scheduler` prints") from None
            services = self._client.scheduler_info().get("services", {})
            if "dashboard" in services:
                self.dashboard = self._client.dashboard_link
        else:
            from distributed import LocalCluster

            self._cluster = LocalCluster(n_workers=self.options.jobs, threads_per_worker=1,
                                         processes=True, dashboard_address="127.0.0.1:0")
            self._client = Client(self._cluster)
            self.dashboard = self._client.dashboard_link
            if importlib.util.find_spec("bokeh") is None:  # the plain HTML pages still work
                self.dashboard = (self.dashboard.rsplit("/status", 1)[0]
                                  + "/info/main/workers.html (pip install bokeh for the live "
                                    "dashboard)")
        if self.dashboard:
            self.report(f"Dask dashboard: {self.dashboard}")

    def status(self) -> str:
        """`` (N running, M failed; workers and their tasks/min)`` of a distributed run, else ``""``
        (for jobs that report by log line, not :class:`Bar`)."""
        return f" ({self.stats.text()})" if self.options.distributed else ""

    @property
    def workers(self) -> int:
        """Parallel task slots right now (a cluster's, asked at most every 2 s)."""
        if self._client is None:
            return self.options.jobs
        now = time.monotonic()
        if now - self._slots[0] > 2.0:
            info = self._client.scheduler_info().get("workers", {})
            self._slots = (now, sum(int(w.get("nthreads", 1)) for w in info.values()) or 1)
        return self._slots[1]

    # running
    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, Any]]:
        """``(task, result)`` for every task, in completion order; a task's exception is raised
        here (the remaining tasks are cancelled). Identical tasks (same key) run once."""
        tasks = list(tasks)
        if not tasks:
            return
        self.stats.start(len(tasks))
        if self._client is not None:
            yield from self._run_dask(tasks)
        elif not self.isolate and (self.options.jobs <= 1 or len(tasks) == 1):
            for task in tasks:
                self.stats.running = 1
                yield task, self._finish(_tracked(task.fn, task.args, task.kwargs))
        else:
            yield from self._run_local(tasks)

    def map(self, tasks: Iterable[Task]) -> list:
        """Results in the order of ``tasks`` (whatever order they finished in)."""
        tasks = list(tasks)
        index = {id(t): i for i, t in enumerate(tasks)}
        out = [None] * len(tasks)
        for task, result in self.run(tasks):
            out[index[id(task)]] = result
        return out

    def _finish(self, tracked) -> Any:
        worker, seconds, result = tracked
        self.stats.done_one(worker, seconds)
        return result

    def _run_local(self, tasks: list[Task]) -> Iterator[tuple[Task, Any]]:
        """On the spawn pool; a worker process that dies (killed, out of memory) breaks the whole
        pool, so a fresh one runs the unfinished tasks again (they are pure), up to
        :data:`LOCAL_RESTARTS` times."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        from bridge.training.workers import process_pool

        todo: dict[str, list[Task]] = {}
        for task in tasks:
            todo.setdefault(task.key, []).append(task)
        restarts = 0
        while todo:
            if self._pool is None:
                self._width = max(1, min(self.options.jobs, len(todo)))
                self._pool = process_pool(self._width)
            pending = {self._pool.submit(_tracked, ts[0].fn, ts[0].args, ts[0].kwargs): key
                       for key, ts in todo.items()}
            try:
                while pending:
                    self.stats.running = min(self._width, len(pending))
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        key = pending.pop(fut)
                        result = self._finish(fut.result())
                        for task in todo.pop(key):
                            yield task, result
            except BrokenProcessPool:
                restarts += 1
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                if restarts > LOCAL_RESTARTS:
                    raise ClusterError(
                        f"local worker processes died {restarts} times (killed, or out of "
                        "memory?); run again with fewer --jobs (the run resumes where it "
                        "stopped)") from None
                self.report(f"note: a worker process died; running its {len(todo)} unfinished "
                            "task(s) again")
            except BaseException:
                self.stats.failed += 1 if pending else 0
                for fut in pending:
                    fut.cancel()
                raise

    def _run_dask(self, tasks: list[Task]) -> Iterator[tuple[Task, Any]]:
        from distributed import as_completed

        client = self._client
        by_key: dict[str, list[Task]] = {}
        for task in tasks:
            by_key.setdefault(task.key, []).append(task)
        futures = [client.submit(_tracked, ts[0].fn, ts[0].args, ts[0].kwargs, key=key,
                                 pure=False)
                   for key, ts in by_key.items()]
        remaining = set(futures)
        self.stats.running = min(self.workers, len(futures))
        try:
            for fut in as_completed(futures):
                remaining.discard(fut)
                if fut.status == "error":
                    self.stats.failed += 1
                    _raise_task_error(fut)  # the task's exception, as a local run would
                result = self._finish(fut.result())
                self.stats.running = min(self.workers, len(remaining))
                for task in by_key[fut.key]:
                    yield task, result
                fut.release()
        except BaseException:
            client.cancel(list(remaining))
            raise


def _raise_task_error(fut) -> None:
    """A task's exception; one that says the worker lacks vjbridge becomes one line saying so."""
    exc = fut.exception()
    if isinstance(exc, ImportError) and (exc.name or "").split(".")[0] == "bridge":
        raise ClusterError(f"a Dask worker cannot import vjbridge ({exc}); install the same "
                           "vjbridge version on every worker (pip install 'vjbridge[train]')")
    if isinstance(exc, BridgeError):  # e.g. a dataset the worker cannot see: say where it was
        try:
            again = type(exc)(f"{exc} (on a Dask worker: the workers must see the inputs at the "
                              "same paths as this command)")
        except TypeError:  # an error class with other arguments: as it is
            again = exc
        raise again from None
    fut.result()


def _probe(url: str) -> None:
    """One plain TCP connect first, so nothing listening fails at once (Dask retries until its
    timeout) and an unknown host is named as such."""
    parts = urlsplit(url)
    fix = (f"start one with `dask scheduler` and workers with `dask worker {url}`, or check the "
           "host and port")
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=CONNECT_TIMEOUT).close()
    except socket.gaierror as exc:
        raise ClusterError(f"--scheduler {url}: cannot resolve the host {parts.hostname!r} "
                           f"({exc.strerror or exc}); check the name") from None
    except ConnectionRefusedError:
        raise ClusterError(f"cannot reach the Dask scheduler at {url} (nothing listens there: "
                           f"connection refused); {fix}") from None
    except OSError as exc:  # timeout, no route
        raise ClusterError(f"cannot reach the Dask scheduler at {url} ({_reason(exc)}); "
                           f"{fix}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# ---- progress -------------------------------------------------------------------------------------
class Stats:
    """Tasks done / running (in flight: at most one per worker slot) / failed and each worker's
    throughput, for the bar."""

    def __init__(self):
        self.total = self.done = self.running = self.failed = 0
        self.t0 = time.monotonic()
        self.per_worker: dict[str, deque] = {}

    def start(self, total: int) -> None:
        """A new list of tasks (the study runs one per section): counts and rates start over."""
        self.total, self.done, self.running, self.failed = total, 0, 0, 0
        self.t0 = time.monotonic()
        self.per_worker = {}

    def done_one(self, worker: str, seconds: float) -> None:
        self.done += 1
        self.per_worker.setdefault(worker, deque(maxlen=50)).append(time.monotonic())

    def throughput(self) -> dict[str, float]:
        """Tasks per minute of each worker since the run started (its recent tasks)."""
        now = time.monotonic()
        out = {}
        for worker, stamps in self.per_worker.items():
            span = now - (stamps[0] if len(stamps) == stamps.maxlen else self.t0)
            out[worker] = 60.0 * len(stamps) / max(span, 1e-6)
        return out

    def text(self, failed: int = 0, *, compact: bool = False) -> str:
        """``failed``: the job's own failures (skipped videos, presets that fail) on top of the
        tasks that raised; ``compact``: rates without the worker names (a terminal's bar)."""
        rates = sorted(self.throughput().items())
        if compact:
            per = "/".join(f"{r:.0f}" for _, r in rates) + " per min"
        else:
            per = ", ".join(f"{w} {r:.1f}/min" for w, r in rates)
        return (f"{self.running} running, {self.failed + failed} failed"
                + (f"; {len(rates)} worker(s): {per}" if rates else ""))


class Bar:
    """The progress bar of every long job: a rich bar on a terminal, one plain line per finished
    task otherwise (nohup logs); ``fan`` (a distributed :class:`Fanout`) adds its status."""

    def __init__(self, title: str, total: int, *, done: int = 0, enabled: bool = True,
                 fan: Fanout | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self.total, self.done, self.failed = total, done, 0
        self.fan = fan if fan is not None and fan.options.distributed else None
        self.progress = None
        if self.tty:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            from rich.table import Column

            self.progress = Progress(
                TextColumn(title, table_column=Column(no_wrap=True, min_width=len(title))),
                BarColumn(bar_width=20), MofNCompleteColumn(),
                TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
                TimeRemainingColumn(table_column=Column(no_wrap=True, min_width=7)),
                TextColumn("{task.description}", table_column=Column(no_wrap=True,
                                                                     overflow="ellipsis")),
                console=Console(file=self.stream))
            self.progress.start()
            self.task = self.progress.add_task("", total=total, completed=done)

    def advance(self, note: str = "", *, failed: bool = False) -> None:
        self.done += 1
        self.failed += bool(failed)
        if self.progress is not None:  # on a cluster, its status says more than the last name
            text = (self.fan.stats.text(self.failed, compact=True) if self.fan is not None
                    else note[:70])
            self.progress.update(self.task, advance=1, description=text)
        elif self.enabled:
            status = self.fan.stats.text(self.failed) if self.fan is not None else ""
            extra = f" ({status})" if status else ""
            print(f"[{self.done}/{self.total}] {note}{extra}", flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
