"""onnxruntime's telemetry stays off: a run in a fresh HOME leaves that HOME empty (the library
would otherwise write ~/.cache/Microsoft/DeveloperTools/.onnxruntime/{onnxruntime.db,deviceid}
on every start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def files_under(home: Path) -> list[str]:
    return [str(p.relative_to(home)) for p in home.rglob("*")]


def run_in_fresh_home(tmp_path, *args, env_extra=None):
    home = tmp_path / "home"
    home.mkdir()
    # onnxruntime itself stays quiet when CI is set (seen: no files with CI=true), so the run
    # gets a user's environment without it, or the control below could not fail
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME", "CI")}
    env.update(HOME=str(home), **(env_extra or {}))
    proc = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    return home, proc


def test_a_run_with_the_shipped_models_writes_nothing_under_home(tmp_path):
    home, proc = run_in_fresh_home(tmp_path, "-m", "bridge.cli", "--log-level", "info", "run",
                                   "--demo", "--speed", "0",
                                   "--duration", "0.5", "--mapping", "none", "--no-realtime")
    assert proc.returncode == 0, proc.stderr
    assert "INFO bridge.runtime.pipeline: model " in proc.stderr  # onnxruntime did load
    assert files_under(home) == []


def test_onnxruntime_alone_would_write_there(tmp_path):
    """The control: without vjbridge's setting the library does write its database and id, so
    the test above can fail."""
    home, proc = run_in_fresh_home(tmp_path, "-c", "import onnxruntime")
    assert proc.returncode == 0, proc.stderr
    written = files_under(home)
    assert any(name.endswith("deviceid") for name in written), written
