"""Build and drive the projectM renderer (``render.cpp``) from Python.

Why a compiled helper: libprojectM 3.1.12 (Debian bookworm) has only a C++ API. The source is
committed next to this file; :func:`renderer_path` compiles it with g++ into the user cache
(``~/.cache/vjbridge/render-<hash>/render``) the first time, and again whenever the source changes
(the directory name is the source's hash, so two versions never mix and parallel builds cannot
clobber each other: each links to a private name and renames into place).

Protocol: the audio (float32 interleaved stereo) goes to the renderer's stdin; frames come back on
a separate pipe (libprojectM writes a stray byte to stdout, so stdout is discarded); stderr goes to
a temporary file so a chatty preset can never fill a pipe and deadlock. Frame ``i`` is the picture
after the audio of ``[i/fps, (i+1)/fps)`` was pushed, under a clock that advances exactly 1/fps per
frame: the same inputs give byte-identical frames.
"""

from __future__ import annotations

import hashlib
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from bridge.errors import ConfigError, CorpusError, PresetError

SOURCE = Path(__file__).with_name("render.cpp")
PKG_MODULES = ("libprojectM", "egl", "gl")
APT_LINE = ("apt-get install -y libprojectm-dev projectm-data libegl-dev libgl-dev libegl-mesa0 "
            "libgl1-mesa-dri g++ pkg-config")
PRESET_ROOT = Path("/usr/share/projectM/presets")
STALL_SECONDS = 120  # no frame for this long: the preset hung the renderer


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vjbridge"


def source_hash() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def renderer_path() -> Path:
    """The compiled renderer, built now if this source version was never built on this machine."""
    digest = source_hash()[:16]
    target = cache_dir() / f"render-{digest}" / "render"
    if target.exists():
        return target
    for tool in ("g++", "pkg-config"):
        if shutil.which(tool) is None:
            raise CorpusError(f"building the projectM renderer needs {tool}: {APT_LINE}")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *PKG_MODULES],
                           capture_output=True, text=True)
    if flags.returncode != 0:
        raise CorpusError(f"projectM/EGL development files not found ({flags.stderr.strip()}): "
                          f"{APT_LINE}")
    target.parent.mkdir(parents=True, exist_ok=True)
    private = target.with_name(f"render.{os.getpid()}.tmp")
    cmd = ["g++", "-O2", "-std=c++17", "-o", str(private), str(SOURCE), *flags.stdout.split(),
           "-rdynamic"]  # -rdynamic: export the clock functions so they interpose libc's
    built = subprocess.run(cmd, capture_output=True, text=True)
    if built.returncode != 0:
        private.unlink(missing_ok=True)
        first = (built.stderr.strip().splitlines() or ["no output"])[0]
        raise CorpusError(f"compiling the projectM renderer failed: {first}; is {APT_LINE.split()[3]} "
                          f"3.1.x installed? ({APT_LINE})")
    os.replace(private, target)
    return target


def renderer_env() -> dict[str, str]:
    env = dict(os.environ)
    env["EGL_PLATFORM"] = "surfaceless"  # no X server: Mesa's surfaceless platform, llvmpipe
    env.setdefault("LP_NUM_THREADS", "1")  # parallelism comes from jobs; llvmpipe output is the same
    return env


def frame_bounds(i: int, *, fps: int, sample_rate: int) -> tuple[int, int]:
    """Sample range ``[a, b)`` pushed before frame ``i`` is rendered (same integer rule as C++)."""
    return i * sample_rate // fps, (i + 1) * sample_rate // fps


def n_frames_for(n_samples: int, *, fps: int, sample_rate: int) -> int:
    """Whole frames that ``n_samples`` of audio fill; any remainder is not rendered."""
    return n_samples * fps // sample_rate


def resolve_preset(preset: str | os.PathLike) -> Path:
    """A preset as an absolute path: absolute paths as given, otherwise relative to projectm-data."""
    path = Path(preset)
    if not path.is_absolute():
        path = PRESET_ROOT / path
    if not path.is_file():
        raise PresetError(f"preset {os.fspath(preset)!r} not found (looked at {path}); "
                          "install projectm-data or fix the path")
    return path


def render_frames(preset, audio: np.ndarray, *, sample_rate: int = 44100, fps: int = 30,
                  size: int = 128, texsize: int = 512) -> Iterator[np.ndarray]:
    """Yield ``(size, size, 3)`` uint8 RGB frames of ``preset`` reacting to ``audio``.

    ``audio`` is ``(n, 2)`` stereo or ``(n,)`` mono (duplicated to both channels), float in [-1, 1].
    One frame per whole 1/fps of audio. Raises :class:`PresetError` if the preset does not load or
    render, :class:`CorpusError` if the renderer itself cannot run.
    """
    if int(fps) != fps or fps < 1:
        raise ConfigError(f"fps must be a positive whole number; got {fps}")
    if int(size) != size or not 16 <= size <= 4096:
        raise ConfigError(f"size must be a whole number of pixels in [16, 4096]; got {size}")
    fps, size = int(fps), int(size)
    path = resolve_preset(preset)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = np.repeat(audio[:, None], 2, axis=1)
    if audio.ndim != 2 or audio.shape[1] != 2:
        raise ConfigError(f"audio must be (n,) or (n, 2); got shape {audio.shape}")
    n = n_frames_for(len(audio), fps=fps, sample_rate=sample_rate)
    exe = renderer_path()
    frame_bytes = size * size * 3
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryFile() as errlog:
        try:
            proc = subprocess.Popen(
                [str(exe), "--preset", str(path), "--size", str(size), str(size), "--fps", str(fps),
                 "--rate", str(int(sample_rate)), "--frames", str(n), "--audio", "-",
                 "--out-fd", str(write_fd), "--texsize", str(int(texsize))],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errlog,
                pass_fds=(write_fd,), env=renderer_env())
        finally:
            os.close(write_fd)
        got = 0
        try:
            with os.fdopen(read_fd, "rb", buffering=0) as frames:
                try:  # the renderer reads all audio before it writes a frame: no deadlock
                    proc.stdin.write(np.ascontiguousarray(audio).tobytes())
                    proc.stdin.close()
                except BrokenPipeError:
                    pass  # it died early; its exit code and stderr say why
                while True:
                    data = _read_exact(frames, frame_bytes, proc)
                    if data is None:
                        break
                    got += 1
                    yield np.frombuffer(data, np.uint8).reshape(size, size, 3)
        finally:
            if proc.poll() is None and got < n:
                proc.kill()  # the consumer stopped early
            code = proc.wait()
        errlog.seek(0)
        lines = [ln for ln in errlog.read().decode("utf-8", "replace").splitlines()
                 if ln.startswith("render:")]
    last = lines[-1][len("render:"):].strip() if lines else f"exit code {code}"
    if code == 3 or code < 0:  # a preset that does not load, or crashes projectM, is skipped
        raise PresetError(f"{path}: {last if code == 3 else f'projectM crashed (signal {-code})'}")
    if code != 0 or got != n:
        raise CorpusError(f"projectM renderer failed on {path.name}: {last} ({got}/{n} frames)")


def _read_exact(f, n: int, proc) -> bytes | None:
    chunks, left = [], n
    while left:
        ready, _, _ = select.select([f], [], [], STALL_SECONDS)
        if not ready:  # a preset that hangs projectM must not stall a whole corpus build
            proc.kill()
            raise PresetError(f"projectM produced no frame for {STALL_SECONDS} s (hung)")
        data = f.read(left)
        if not data:
            if left == n:
                return None
            raise CorpusError("projectM renderer stopped in the middle of a frame")
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)
