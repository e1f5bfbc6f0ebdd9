"""``vjbridge service``: the unit it writes passes ``systemd-analyze verify`` (a real systemd
tool; systemd is not PID 1 here, so nothing is started), and its ExecStart runs the daemon under
the sd_notify stand-in."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.sd_receiver import ServiceManager

VJB = [sys.executable, "-m", "bridge.cli", "service"]


def _analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: apt-get install -y systemd")
    return path


def _env(tmp_path) -> dict:
    runtime = tmp_path / "run"
    runtime.mkdir(exist_ok=True)
    runtime.chmod(0o700)
    return dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_RUNTIME_DIR=str(runtime))


def _verify(unit: Path, env: dict, user: bool) -> None:
    r = subprocess.run([_analyze(), *(["--user"] if user else []), "verify", str(unit)], env=env,
                       capture_output=True, text=True, timeout=60)
    ours = [line for line in (r.stdout + r.stderr).splitlines() if unit.name in line]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr


def _keys(unit: Path) -> dict[str, str]:
    out = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k] = v
    return out


def _vjb(args, env, **kw):
    return subprocess.run(VJB + args, env=env, capture_output=True, text=True, timeout=60, **kw)


def test_user_unit_is_written_verified_and_removed(tmp_path):
    env = _env(tmp_path)
    r = _vjb(["install", "--user", "--no-enable"], env)
    assert r.returncode == 0, r.stderr
    unit = tmp_path / "xdg" / "systemd" / "user" / "vjbridge.service"
    config = tmp_path / "xdg" / "vjbridge" / "config.yaml"
    assert config.is_file() and "starter run config" in r.stdout
    _verify(unit, env, user=True)
    keys = _keys(unit)
    assert keys["Type"] == "notify" and keys["NotifyAccess"] == "main"
    assert keys["WatchdogSec"] == "10" and keys["Restart"] == "on-failure"
    assert keys["WantedBy"] == "default.target"
    argv = shlex.split(keys["ExecStart"])
    assert os.path.isabs(argv[0]) and os.access(argv[0], os.X_OK)
    assert argv[-3:] == ["run", "--config", str(config)]
    for breaks_audio in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "MemoryDenyWriteExecute",
                         "RestrictRealtime", "ProtectClock"):
        assert breaks_audio not in keys
    assert "LimitRTPRIO" not in keys  # a user manager could not apply it: the unit would fail
    assert _vjb(["status", "--user"], env).stdout.strip()  # systemctl's view, or one line
    r = _vjb(["uninstall", "--user"], env)
    assert r.returncode == 0 and not unit.exists() and config.exists(), r.stderr
    assert "nothing to remove" in _vjb(["uninstall", "--user"], env).stdout


def test_system_unit_is_hardened_and_verified(tmp_path):
    env = _env(tmp_path)
    cfg = tmp_path / "show.yaml"
    cfg.write_text("device: USB\nfallback: none\n")
    r = _vjb(["install", "--system", "--unit-dir", str(tmp_path / "units"), "--config", str(cfg),
              "--run-as", "daemon"], env)
    assert r.returncode == 0, r.stderr
    unit = tmp_path / "units" / "vjbridge.service"
    _verify(unit, env, user=False)
    keys = _keys(unit)
    assert keys["WantedBy"] == "multi-user.target" and keys["User"] == "daemon"
    assert keys["ProtectSystem"] == "full" and keys["NoNewPrivileges"] == "yes"
    assert keys["LimitRTPRIO"] == "50"  # SCHED_FIFO for the engine thread
    assert "AF_UNIX" in keys["RestrictAddressFamilies"]  # PulseAudio, PipeWire, JACK
    assert "PrivateDevices" not in keys


def test_an_invalid_config_installs_nothing(tmp_path):
    env = _env(tmp_path)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("on_los: idle\n")
    r = _vjb(["install", "--user", "--no-enable", "--config", str(cfg)], env)
    assert r.returncode == 1
    assert "on_los: unknown key; did you mean 'on_loss'?" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "xdg" / "systemd" / "user" / "vjbridge.service").exists()


def test_status_without_systemctl_is_one_line(tmp_path):
    env = _env(tmp_path) | {"PATH": str(tmp_path / "empty")}
    r = _vjb(["status", "--user"], env)
    assert r.stdout.strip().count("\n") == 0
    assert "no systemctl on this machine" in r.stdout and "is not installed" in r.stdout
    assert r.returncode == 3


@pytest.mark.slow
def test_the_units_exec_start_runs_a_daemon_that_becomes_ready(tmp_path):
    env = _env(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "show.yaml"
    cfg.write_text(f"demo: true\nmapping: none\nmodels: none\nrealtime: false\n"
                   f"outputs: {{osc: '127.0.0.1:{port}'}}\n")
    assert _vjb(["install", "--user", "--no-enable", "--config", str(cfg)], env).returncode == 0
    unit = tmp_path / "xdg" / "systemd" / "user" / "vjbridge.service"
    argv = shlex.split(_keys(unit)["ExecStart"])
    manager = ServiceManager(argv, watchdog_s=float(_keys(unit)["WatchdogSec"]),
                             sock_dir=str(tmp_path), env=env).start()
    try:
        assert manager.wait_for(lambda: "READY=1" in manager.lines(1), 60), manager.lines()
        assert manager.wait_for(lambda: "WATCHDOG=1" in manager.lines(1), 10)
    finally:
        manager.stop()
