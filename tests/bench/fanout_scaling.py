"""Benchmark (not a test): how `vjbridge dataset` scales with workers, in videos per minute.

    .venv/bin/python -m tests.bench.fanout_scaling [--videos 12] [--seconds 60] [--repeats 3]

Why: issue 15 asks what a corpus bigger than the shipped one (252 videos, ~10 h) costs and how far
more workers take it. This builds the same dataset from nothing with each fan-out of
:mod:`bridge.training.fanout` and reports the wall time of the whole command (startup included, as
a user pays it) as videos per minute, median over ``--repeats``:

* ``--jobs 1`` (this process) and ``--jobs 2`` (local spawn processes): the local fan-out;
* ``--jobs N --dask`` for N = 1, 2, 4: a dask.distributed ``LocalCluster`` of N workers;
* ``--scheduler``: a real ``dask scheduler`` with one, then two ``dask worker`` processes (one
  thread each) pinned to separate cores with ``taskset -c 0`` / ``-c 1``
  (tests/training/dask_peers.py); the cluster is started before the timed command, as a user's is.

The videos are in the shipped corpus' format (``vjbridge corpus``'s ClipWriter: 128 px, 30 fps,
H.264 CRF 23 + FLAC 44.1 kHz stereo in Matroska), synthetic frames (moving shapes, noise) following
a synthetic track, so decoding costs what a corpus video costs; the frame rates are those
``onnx_models/rebuild.sh`` builds. Configurations alternate within each repeat so a change in the
machine's load hits all of them alike; the load average is printed beside each row.

On a shared machine wall time depends on what else runs, so each row also gives the CPU seconds
of the whole run (``getrusage(RUSAGE_CHILDREN)`` of this process: the command and every worker it
started, or, for ``--scheduler``, the cluster too, from its start to its end). The CPU seconds
per hour of video of ``local --jobs 1`` (one process, nothing to coordinate) is the per-video cost
the README's corpus-size estimate is derived from; the other rows' CPU seconds show what the
fan-out itself costs on top (worker startup, imports, the scheduler).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from tests.training.dask_peers import ROOT, DaskCluster, env, vjbridge_cmd

FPS = "1,2,4,8,16,7.4898,14.9796"  # onnx_models/rebuild.sh
SR, FPS_V, SIZE = 44100, 30, 128  # the corpus format (bridge/training/corpus)


def write_corpus(folder: Path, n: int, seconds: float) -> list[str]:
    """``n`` corpus-format videos of ``seconds`` each (kept between runs: same parameters, same
    files)."""
    from bridge.training.corpus.video import ClipWriter

    stamp = folder / "params.json"
    params = {"n": n, "seconds": seconds, "size": SIZE, "fps": FPS_V, "sr": SR, "v": 1}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return sorted(str(p) for p in folder.glob("*.mkv"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    for i in range(n):
        rng = np.random.default_rng(i)
        n_frames = int(seconds * FPS_V)
        per = SR // FPS_V
        beat = rng.uniform(0.4, 0.7)
        t = np.arange(n_frames * per) / SR
        env_ = np.exp(-(t % beat) / 0.12)
        audio = 0.25 * env_ * rng.standard_normal(t.size) + 0.1 * np.sin(2 * np.pi * 110 * (1 + i % 4) * t)
        audio = np.stack([audio, np.roll(audio, 37)], axis=1).astype(np.float32)
        hue = rng.random(3)
        with ClipWriter(folder / f"t{i // 3:02d}__p{i % 3}.mkv", size=SIZE, fps=FPS_V,
                        sample_rate=SR) as w:
            for k in range(n_frames):
                level = float(env_[k * per])
                cx, cy = 0.5 + 0.3 * np.sin(k / 40 + i), 0.5 + 0.3 * np.cos(k / 55 + i)
                blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (0.01 + 0.05 * level))
                wave = 0.5 + 0.5 * np.sin(12 * xx + k / 9 + 6 * level * yy)
                img = np.stack([blob * hue[c] + 0.4 * wave * (1 - hue[c]) for c in range(3)], -1)
                img += 0.05 * rng.random(img.shape)
                w.write(np.clip(255 * img, 0, 255).astype(np.uint8), audio[k * per:(k + 1) * per])
    stamp.write_text(json.dumps(params))
    return sorted(str(p) for p in folder.glob("*.mkv"))


def cpu_children() -> float:
    """CPU seconds (user + system) of this process' finished, waited-for descendants."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def build(corpus: Path, out: Path, extra: list[str]) -> float:
    """Wall seconds of one `vjbridge dataset` from nothing."""
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(vjbridge_cmd("dataset", corpus, "--fps", FPS, "--group-regex",
                                       "^(.*)__", "--no-progress", "--out", out, *extra),
                          capture_output=True, text=True, env=env(), cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"vjbridge dataset {' '.join(extra)} failed:\n{proc.stderr}")
    return wall


def per_video(out: Path) -> list[tuple[float, float]]:
    """``(seconds_to_build, audio_seconds)`` of each video built in ``out``."""
    rows = []
    for meta in (out / "videos").glob("*/meta.json"):
        m = json.loads(meta.read_text())
        rows.append((m["seconds_to_build"], m["audio_seconds"]))
    return rows


CONFIGS = {  # name -> (workers, extra vjbridge arguments or a pinned cluster's CPUs)
    "local --jobs 1": (1, ["--jobs", "1"]),
    "local --jobs 2": (2, ["--jobs", "2"]),
    "LocalCluster --jobs 1 --dask": (1, ["--jobs", "1", "--dask"]),
    "LocalCluster --jobs 2 --dask": (2, ["--jobs", "2", "--dask"]),
    "LocalCluster --jobs 4 --dask": (4, ["--jobs", "4", "--dask"]),
    "scheduler + 1 worker (taskset -c 0)": (1, [0]),
    "scheduler + 2 workers (taskset -c 0 / -c 1)": (2, [0, 1]),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each video")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default="/tmp/vjbridge-fanout-bench", help="corpus + scratch")
    ap.add_argument("--only", action="append", default=None,
                    help="run only configurations whose name contains this (repeatable)")
    ap.add_argument("--json", default=None, help="also write the measurements here")
    args = ap.parse_args(argv)
    work = Path(args.work)
    corpus = work / "corpus"
    t0 = time.perf_counter()
    videos = write_corpus(corpus, args.videos, args.seconds)
    print(f"corpus: {len(videos)} videos x {args.seconds:g} s ({SIZE} px, {FPS_V} fps, H.264 + "
          f"FLAC) in {corpus} ({time.perf_counter() - t0:.0f} s)", flush=True)
    configs = {k: v for k, v in CONFIGS.items()
               if not args.only or any(s in k for s in args.only)}
    walls = {k: [] for k in configs}
    cpus = {k: [] for k in configs}
    loads = {k: [] for k in configs}
    costs = []
    for r in range(args.repeats):
        for name, (_, spec) in configs.items():
            out = work / "out"
            load0, cpu0 = os.getloadavg()[0], cpu_children()
            if spec and isinstance(spec[0], int):
                with DaskCluster(work / "cluster", workers=len(spec), cpus=spec,
                                 witness=False) as c:
                    wall = build(corpus, out, ["--scheduler", c.address])
            else:
                wall = build(corpus, out, spec)
            if name == "local --jobs 1":
                costs += per_video(out)
            cpus[name].append(cpu_children() - cpu0)
            loads[name] += [load0, os.getloadavg()[0]]
            walls[name].append(wall)
            print(f"  repeat {r + 1}: {name}: {wall:.1f} s, {60 * len(videos) / wall:.1f} "
                  f"videos/min, {cpus[name][-1]:.0f} CPU s (load {load0:.1f})", flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, "
          f"{os.cpu_count()} cores; {len(videos)} videos x {args.seconds:g} s, --fps {FPS}, "
          f"median of {args.repeats}\n")
    print("| fan-out | workers | wall s | videos/min | vs first row | CPU s | load avg |")
    print("|---|---|---|---|---|---|---|")
    base = None
    for name, (n, _) in configs.items():
        med = statistics.median(walls[name])
        vpm = 60 * len(videos) / med
        base = base or vpm
        print(f"| `{name}` | {n} | {med:.1f} | {vpm:.1f} | {vpm / base:.2f} | "
              f"{statistics.median(cpus[name]):.0f} | "
              f"{min(loads[name]):.1f}-{max(loads[name]):.1f} |")
    hours = len(videos) * args.seconds / 3600
    if "local --jobs 1" in cpus:
        cpu = statistics.median(cpus["local --jobs 1"])
        print(f"\nlocal --jobs 1: {cpu:.1f} CPU s for {hours * 60:.0f} min of video = "
              f"{cpu / hours:.0f} core-seconds per hour of video ({cpu / hours / 60:.1f} "
              f"core-minutes; the command's startup included)")
    if costs:
        build_s = statistics.median(c for c, _ in costs)
        audio_s = statistics.median(a for _, a in costs)
        print(f"per video (seconds_to_build, wall inside the task): median {build_s:.2f} s for "
              f"{audio_s:.0f} s of video")
    if args.json:
        Path(args.json).write_text(json.dumps({"walls": walls, "cpus": cpus, "loads": loads,
                                               "costs": costs,
                                               "videos": len(videos), "seconds": args.seconds},
                                              indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
