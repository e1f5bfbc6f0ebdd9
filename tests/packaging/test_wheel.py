"""The built wheel, installed into a fresh venv and run from another directory, finds its shipped
mappings and models and streams them: what a `pip install vjbridge` user on Windows or macOS gets.

How, fast and without the source tree leaking in:

- the wheel is built by pip from a copy of the checkout's top-level folders (build isolation, as
  a release build; the copy keeps the symlinks, so it tests the real packaging path);
- the venv is a plain one (``--without-pip``, no system site-packages: those would see this
  checkout's editable install) and pip installs the wheel into it with ``--no-deps``;
- the third-party dependencies come from the test environment through a ``.pth`` file naming its
  site-packages folder. A folder named in a ``.pth`` line is only appended to ``sys.path``; the
  ``.pth`` files inside it (the editable install's finder) are not run, so ``bridge`` can only be
  the installed wheel's, which the tests assert. ``pip check`` then proves the wheel's declared
  dependencies are satisfied. Installing numpy, onnxruntime and PyAV afresh would take minutes and
  test pip, not vjbridge.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.runtime.peers import OscDump

pytestmark = [pytest.mark.peers, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
#: the checkout's shipped mappings, as the "unknown name" line lists them (the wheel must carry
#: every one)
SHIPPED_NAMES = ", ".join(sorted(p.stem for p in (REPO / "mappings").glob("*.yaml")))
#: What a wheel is built from: the fixed top level of the repository that packaging reads.
BUILD_INPUTS = ("pyproject.toml", "README.md", "bridge", "mappings", "onnx_models")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def _run(cmd, *, cwd, timeout=120, check=True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert out.returncode == 0, f"{' '.join(map(str, cmd))}:\n{out.stdout}\n{out.stderr}"
    return out


class Installed:
    """A venv holding only the vjbridge wheel (its dependencies visible through a .pth file)."""

    def __init__(self, root: Path, wheel: Path):
        self.root, self.wheel = root, wheel
        self.python = root / "bin" / "python"
        self.vjbridge = root / "bin" / "vjbridge"
        self.workdir = root.parent / "elsewhere"  # an empty folder: no checkout around
        self.workdir.mkdir()

    def run(self, *args, **kwargs) -> subprocess.CompletedProcess:
        return _run(list(args), cwd=self.workdir, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(path, src / name)
    _run([*PIP, "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(src)], cwd=tmp,
         timeout=300)
    (wheel,) = (tmp / "dist").glob("vjbridge-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    env = Installed(venv, wheel)
    _run([*PIP, "--python", str(env.python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], cwd=tmp)
    purelib = Path(env.run(str(env.python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])").stdout.strip())
    deps = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}  # this test's environment
    (purelib / "_vjbridge_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    return env


def test_the_wheel_carries_the_mappings_and_models_but_not_the_study(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    mappings = {f"bridge/shipped/mappings/{p.name}" for p in (REPO / "mappings").glob("*.yaml")}
    models = {f"bridge/shipped/models/{p.name}" for p in (REPO / "onnx_models").glob("*.onnx")}
    assert mappings and models and mappings | models <= names
    assert "bridge/shipped/models/motion-weight.md" in names  # the model card
    assert "bridge/video/glsl_render.cpp" in names  # the CPPN shader check compiles it
    shipped = {n for n in names if n.startswith("bridge/shipped/")}
    guides = {f"bridge/shipped/mappings/guides/{p.name}"
              for p in (REPO / "mappings" / "guides").glob("*.md")}
    assert guides and guides <= names  # the desk guides beside their presets
    assert not {n for n in shipped - guides if n.count("/") > 3}, \
        "a study/holdout folder is in the wheel"
    assert not {n for n in names if n.startswith(("tests/", "mappings/", "onnx_models/"))}


def test_the_installed_package_finds_its_files_inside_the_venv(installed):
    code = ("import bridge, bridge.resources as r\n"
            "print(bridge.__file__); print(r.mappings_dir()); print(r.models_dir())\n"
            "for p in r.shipped_models(): print(p)\n")
    paths = [Path(line) for line in installed.run(str(installed.python), "-c", code)
             .stdout.splitlines()]
    assert len(paths) >= 4, paths  # bridge, two folders, at least one model
    for path in paths:
        assert path.is_relative_to(installed.root), f"{path} is outside the venv"
        assert not path.is_symlink(), f"{path} is a symlink: the wheel must hold the files"
    assert paths[3].name == "motion-weight.onnx"  # the default model comes first
    # every dependency the wheel declares is there (other packages' complaints are not ours)
    check = installed.run(*PIP, "--python", str(installed.python), "check", check=False)
    assert check.returncode in (0, 1) and check.stdout.strip(), check.stderr
    assert not [line for line in check.stdout.splitlines() if line.startswith("vjbridge ")], \
        check.stdout


def test_installed_vjbridge_checks_the_default_mapping_by_name(installed):
    out = installed.run(str(installed.vjbridge), "check", "default")
    ok = out.stdout.strip().splitlines()[-1]
    assert ok.endswith("default.yaml: OK") and ok.startswith(str(installed.root)), ok
    bad = installed.run(str(installed.vjbridge), "check", "defualt", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        f"vjbridge check: error: no shipped mapping named 'defualt'; did you mean 'default'? "
        f"(shipped: {SHIPPED_NAMES}); for a file, give its path: ./defualt"]


def test_installed_vjbridge_run_streams_the_shipped_models_to_a_real_receiver(installed):
    dump = OscDump()
    try:
        out = installed.run(str(installed.vjbridge), "run", "--demo", "--duration", "2",
                            "--osc", f"127.0.0.1:{dump.port}", timeout=120)
        dump.wait_last("/vjbridge/motion", 0.0)  # the idle value sent at exit
    finally:
        dump.stop()
    assert str(REPO) not in out.stderr, out.stderr
    assert f"mapping {installed.root}" in out.stderr, out.stderr  # the venv's default.yaml
    assert "no shipped models" not in out.stderr, out.stderr
    for address in ("/vjbridge/motion", "/vjbridge/weight", "/vjbridge/low", "/vjbridge/kick"):
        assert dump.series(address).size > 10, f"{address}: {dump.series(address)}"
    assert len(set(dump.series("/vjbridge/motion"))) > 3  # a model output moves
