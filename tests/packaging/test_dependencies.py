"""`pip install vjbridge` never needs a compiler on the systems TouchDesigner runs on.

WHEEL_GAPS records where PyPI has no wheel for a daemon dependency (checked on 2026-12-01 with
``pip install --dry-run --only-binary :all: --platform P --python-version V --no-deps PKG`` for
win_amd64, macosx_14_0_arm64, macosx_11_0_arm64, macosx_14_0_x86_64, macosx_10_9_x86_64 and
manylinux_2_28_x86_64, Python 3.11-3.13); the test proves pyproject's markers leave each such
dependency out there, and that an extra still lets a user with a compiler (or a newer macOS) ask
for it. Everything else had a wheel everywhere (sounddevice's Windows/macOS wheels include
PortAudio). Re-check the table when a dependency is added or its pin raised: threadpoolctl (added
2026-12-02, the same command for win_amd64 and macosx_11_0_arm64, Python 3.13) is one pure-Python
wheel (py3-none-any); so is sacn 1.11.0 (added 2026-12-02 for the DMX output, no dependencies of
its own). zeroconf (added 2026-12-03 for the OS2L output's discovery; checked with the same command
for win_amd64, macosx_11_0_arm64, macosx_10_9_x86_64, macosx_14_0_x86_64 and
manylinux_2_28_x86_64, Python 3.10, 3.11 and 3.13) has compiled wheels for each (0.152.1 the last
for 3.10, 0.148.0 the last for Intel macOS; on Python 3.13 that one needs macOS 10.13); its one
dependency, ifaddr, is pure Python. aalink 0.2.3 (added 2026-12-03 for Ableton Link; the same command, Python 3.10-3.13,
win_amd64, macosx_11_0_arm64, macosx_11_0_x86_64, manylinux_2_28_aarch64, and the installed
manylinux_2_28_x86_64) has wheels on those; cibuildwheel skips 32-bit and Windows on ARM.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]

#: (dependency, where it has no wheel, the extra that asks for it anyway)
WHEEL_GAPS = [
    # pyfftw 0.15.1's macOS wheels are tagged macOS 14 (arm64) / 13 (x86_64): none for older macOS
    ("pyfftw", lambda env: env["sys_platform"] == "darwin", "fftw"),
    # python-rtmidi 1.5.8 (the latest) has no cp313 wheel on any system
    ("python-rtmidi", lambda env: env["python_version"] == "3.13", "midi"),
    # aalink 0.2.3: wheels for x86-64 and 64-bit ARM only (no armv7l Raspberry Pi OS, no ARM64
    # Windows)
    ("aalink", lambda env: env["platform_machine"] not in ("x86_64", "AMD64", "arm64", "aarch64"),
     "link"),
]
ENVIRONMENTS = [{"sys_platform": platform, "platform_system": system, "python_version": version,
                 "python_full_version": f"{version}.0", "implementation_name": "cpython",
                 "platform_machine": machine, "os_name": os_name, "extra": ""}
                for platform, system, machine, os_name in (
                    ("win32", "Windows", "AMD64", "nt"), ("darwin", "Darwin", "arm64", "posix"),
                    ("darwin", "Darwin", "x86_64", "posix"), ("linux", "Linux", "x86_64", "posix"),
                    ("linux", "Linux", "aarch64", "posix"), ("linux", "Linux", "armv7l", "posix"),
                    ("win32", "Windows", "ARM64", "nt"))
                for version in ("3.10", "3.11", "3.12", "3.13")]


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _required(env: dict) -> set[str]:
    reqs = [Requirement(r) for r in _project()["dependencies"]]
    return {r.name.lower() for r in reqs if r.marker is None or r.marker.evaluate(env)}


def test_no_dependency_without_a_wheel_is_required_where_it_has_none():
    for name, no_wheel, _ in WHEEL_GAPS:
        for env in ENVIRONMENTS:
            required = name in _required(env)
            assert required is not no_wheel(env), (
                f"{name} {'is' if required else 'is not'} required on {env['sys_platform']} "
                f"{env['platform_machine']} Python {env['python_version']}")


def test_the_daemon_core_is_required_everywhere():
    core = {"numpy", "av", "sounddevice", "onnxruntime", "python-osc", "mido", "pyyaml",
            "threadpoolctl", "zeroconf"}
    for env in ENVIRONMENTS:
        assert core <= _required(env), env
        assert "soxr" not in _required(env)  # the resampler is bridge's own (numpy)


def test_an_extra_asks_for_each_optional_dependency():
    extras = _project()["optional-dependencies"]
    for name, _, extra in WHEEL_GAPS:
        assert name in {Requirement(r).name.lower() for r in extras[extra]}, extra


def test_dask_is_a_training_extra_never_a_daemon_dependency():
    """`--dask` / `--scheduler` (bridge/training/fanout.py) need dask.distributed; the live daemon
    never imports it, so it is in [train] only (dask and distributed 2026.8.0: py3-none-any)."""
    train = {Requirement(r).name.lower(): Requirement(r) for r in
             _project()["optional-dependencies"]["train"]}
    assert "distributed" in train["dask"].extras
    for env in ENVIRONMENTS:
        assert not {"dask", "distributed"} & _required(env), env
