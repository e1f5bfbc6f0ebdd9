"""The AVS validation material and its results table (tests/data/avs/README.md).

Why here: the test (tests/training/test_avs.py) and the committed table must measure the same
things. The projectM clips are committed (tests/data/avs/make_clips.py rendered them); the rest is
made on the fly in a few hundred milliseconds: the music delayed by 0.5 s and 2 s (16-bit WAV),
a static video, a video of cuts at random times and one of cuts every 0.5 s.

    PYTHONPATH=$PWD python -m tests.training.avs_material   # prints the table (Markdown)
"""

from __future__ import annotations

import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ROOT / "tests" / "data" / "avs"
MUSIC = ROOT / "tests" / "data" / "music"
TRACKS = {"nexuiz": "nexuiz-neuronal-diving.ogg", "wesnoth": "wesnoth-battle.ogg",
          "warzone": "warzone-track4.opus"}
SHIFTS = (0.5, 2.0)
FPS, SECONDS, SIZE = 30, 15.0, 64


def projectm_clips() -> list[tuple[str, str, Path, Path]]:
    """``(group, name, video, music)`` for every committed clip; group responsive/unresponsive."""
    out = []
    for video in sorted(CLIPS.glob("*.mkv")):
        name, track = video.stem.split("--")
        out.append((name.split("-")[0], video.stem, video, MUSIC / TRACKS[track]))
    return out


def delayed_audio(music: Path, seconds: float, out: Path) -> Path:
    """``music`` delayed by ``seconds``, circularly (its last ``seconds`` come first: the same
    sound, only its timing against the picture changes), as mono 16-bit WAV."""
    from bridge.audio.decode import audio_info, load_audio

    rate = audio_info(music).sample_rate
    y = load_audio(music)
    k = int(round(seconds * rate))
    y = np.roll(y, k)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(np.round(y * 32767), -32768, 32767).astype("<i2").tobytes())
    return out


def cut_times(kind: str, *, seconds: float = SECONDS, rate: float = 2.0, seed: int = 13):
    """Cut times: ``random`` (uniform, ``rate`` per second on average, seeded) or ``periodic``."""
    if kind == "periodic":
        return np.arange(1.0 / rate, seconds, 1.0 / rate)
    rng = np.random.default_rng(seed)
    return np.sort(rng.uniform(0.0, seconds, int(rate * seconds)))


def cuts_video(out: Path, cuts, *, seconds: float = SECONDS, seed: int = 7) -> Path:
    """A video that holds a random grey pattern and jumps to a new one at each cut time."""
    from tests.data.avs.make_clips import write_video

    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    scene = np.searchsorted(np.asarray(cuts), (np.arange(n) + 1) / FPS, side="right")
    patterns = rng.integers(0, 256, (int(scene.max()) + 1, SIZE // 8, SIZE // 8), dtype=np.uint8)
    big = np.kron(patterns, np.ones((8, 8), np.uint8))
    write_video(out, (big[s] for s in scene))
    return out


def static_video(out: Path, *, seconds: float = SECONDS) -> Path:
    return cuts_video(out, [], seconds=seconds)


def measure(workdir: Path) -> list[dict]:
    """Every validation row: ``{"case", "group", "video", "audio", "report"}``."""
    from bridge.training.avs import avs

    workdir = Path(workdir)
    rows = []
    for group, name, video, music in projectm_clips():
        rows.append({"case": name, "group": group, "video": video, "audio": music,
                     "report": avs(video, music)})
        if group == "responsive":
            for s in SHIFTS:
                wav = delayed_audio(music, s, workdir / f"{music.stem}+{s}s.wav")
                rows.append({"case": f"{name} audio +{s:g} s", "group": f"shifted {s:g} s",
                             "video": video, "audio": wav, "report": avs(video, wav)})
    for i, (track, name) in enumerate(TRACKS.items()):
        video = cuts_video(workdir / f"random-{track}.mkv", cut_times("random", seed=13 + i))
        rows.append({"case": f"random cuts ({track})", "group": "random cuts", "video": video,
                     "audio": MUSIC / name, "report": avs(video, MUSIC / name)})
    music = MUSIC / TRACKS["nexuiz"]
    synthetic = {"static": static_video(workdir / "static.mkv"),
                 "periodic cuts": cuts_video(workdir / "periodic.mkv", cut_times("periodic"))}
    for name, video in synthetic.items():
        rows.append({"case": f"{name} (nexuiz)", "group": name, "video": video, "audio": music,
                     "report": avs(video, music)})
    return rows


def group_values(rows, track: str | None = None) -> dict[str, list[float]]:
    """AVS values by group (of one track's clips when ``track`` is given)."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        if track is None or f"--{track}" in r["case"] or f"({track})" in r["case"]:
            groups.setdefault(r["group"], []).append(r["report"]["avs"])
    return groups


def group_means(rows, track: str | None = None) -> dict[str, float]:
    return {g: float(np.mean(v)) for g, v in group_values(rows, track).items()}


def table(rows) -> str:
    head = ["| case | AVS | S | onsets | transitions | DTW s | chance s | motion | P_motion | "
            "interval cv | P_regular |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    body = []
    for r in rows:
        p = r["report"]
        body.append(f"| {r['case']} | {p['avs']:.3f} | {p['synchrony']:.3f} | {p['onsets']} | "
                    f"{p['transitions']} | {p['dtw_distance_s']} | {p['chance_distance_s']} | "
                    f"{p['motion_mean_diff']} | {p['penalty_motion']:.3f} | {p['interval_cv']} | "
                    f"{p['penalty_regular']:.3f} |")
    tracks = list(TRACKS)
    means = ["| group | clips | mean AVS | " + " | ".join(tracks) + " |",
             "|---|---|---|" + "---|" * len(tracks)]
    by_track = {t: group_means(rows, t) for t in tracks}
    for g, v in group_values(rows).items():
        cells = [f"{by_track[t][g]:.3f}" if g in by_track[t] else "" for t in tracks]
        means.append(f"| {g} | {len(v)} | {np.mean(v):.3f} | " + " | ".join(cells) + " |")
    return "\n".join(means + [""] + head + body) + "\n"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        sys.stdout.write(table(measure(Path(tmp))))
