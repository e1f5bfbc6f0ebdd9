"""The run-config file: validated like a mapping, found where platformdirs would put it, and
overridden by the command line, checked on a real daemon sending to real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.errors import RunConfigError
from bridge.runtime.runconfig import (
    RUN_CONFIG,
    find_config,
    load_config,
    starter_text,
    user_config_path,
    validate_config,
)

VJB = [sys.executable, "-m", "bridge.cli"]


def _listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    return s


def _received(sock) -> int:
    n = 0
    while True:
        try:
            sock.recv(65536)
        except TimeoutError:
            return n
        n += 1


def _env(tmp_path) -> dict:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    env.pop("JOURNAL_STREAM", None)
    return env


def test_every_problem_with_its_key_path_and_a_suggestion(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("devise: USB\nfallback: dmeo\noutputs: {osc: '127.0.0.1:99999', mdi: x}\n"
                 "output_rate: 0\nmodels: nnoe\ncontrol: 'x:y'\nstatus_port: 70000\n")
    with pytest.raises(RunConfigError) as e:
        load_config(f)
    problems = e.value.problems
    expected = ["devise: unknown key; did you mean 'device'?",
                "fallback: 'dmeo' is not one of 'none', 'wait', 'demo'; did you mean 'demo'?",
                "outputs.mdi: unknown key; did you mean 'midi'?",
                "output_rate: 0 is out of range 1..1000",
                "status_port: 70000 is out of range 1..65535",
                "models: 'nnoe' is not default, none or a list of ONNX files; did you mean 'none'?"]
    for line in expected:
        assert line in problems, problems
    assert any(p.startswith("outputs.osc: ") for p in problems)
    assert any(p.startswith("control: ") for p in problems)


@pytest.mark.parametrize("text, problem", [
    (b"\xff\xfe\x00garbage", "not a UTF-8 text file"),
    (b"a: [1, 2\n", "not valid YAML"),
    (b"x: &a [1, 1]\ny: [*a, *a]\n", "aliases (*a) are not allowed"),
    (b"- 1\n- 2\n", "expected a table of keys"),
    (b"block_ms: " + b"9" * 400 + b"\n", "block_ms: "),
])
def test_malformed_files_are_one_problem_not_a_traceback(tmp_path, text, problem):
    f = tmp_path / "c.yaml"
    f.write_bytes(text)
    with pytest.raises(RunConfigError) as e:
        load_config(f)
    assert any(problem in p for p in e.value.problems), e.value.problems


def test_check_config_cli(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("on_los: idle\n")
    good = tmp_path / "good.yaml"
    good.write_text("demo: true\nmapping: ./m.yaml\nmodels: [models/a.onnx]\n")
    from bridge.resources import shipped_mapping

    (tmp_path / "m.yaml").write_text(shipped_mapping("default").read_text())
    r = subprocess.run(VJB + ["check", "--config", str(bad)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    assert f"{bad}: on_los: unknown key; did you mean 'on_loss'?" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run(VJB + ["check", "--config", str(good)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"{good}: OK" in r.stdout
    assert str(tmp_path / "m.yaml") in r.stdout  # paths relative to the file
    assert str(tmp_path / "models" / "a.onnx") in r.stdout
    # the mapping it names is checked too
    (tmp_path / "m.yaml").write_text("routes: [{signal: rms, osc: {adress: /x}}]\n")
    r = subprocess.run(VJB + ["check", "--config", str(good)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    assert "routes[0].osc.adress: unknown key; did you mean 'address'?" in r.stderr


def test_the_starter_config_is_valid_and_names_every_key():
    import yaml

    text = starter_text()
    cfg = validate_config(yaml.safe_load(text))
    assert cfg["fallback"] == "none" and cfg["mapping"] == "default"
    for opt in RUN_CONFIG.options:
        assert f"{opt.name}:" in text


def test_where_it_is_looked_for(tmp_path, monkeypatch):
    home = Path("/home/u")
    assert user_config_path({"XDG_CONFIG_HOME": "/x"}, "linux", home) == Path(
        "/x/vjbridge/config.yaml")
    assert user_config_path({"XDG_CONFIG_HOME": "rel"}, "linux", home) == Path(
        "/home/u/.config/vjbridge/config.yaml")
    assert user_config_path({}, "darwin", home) == Path(
        "/home/u/Library/Application Support/vjbridge/config.yaml")
    assert user_config_path({"APPDATA": "C:/Users/u/AppData/Roaming"}, "win32", home) == Path(
        "C:/Users/u/AppData/Roaming/vjbridge/config.yaml")
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    monkeypatch.setattr("bridge.runtime.runconfig.SYSTEM_CONFIG", tmp_path / "etc.yaml")
    assert find_config(env) is None
    (tmp_path / "etc.yaml").write_text("demo: true\n")
    assert find_config(env) == tmp_path / "etc.yaml"
    (tmp_path / "vjbridge").mkdir()
    (tmp_path / "vjbridge" / "config.yaml").write_text("demo: true\n")
    assert find_config(env) == tmp_path / "vjbridge" / "config.yaml"


@pytest.mark.slow
def test_a_daemon_runs_from_its_config_and_the_command_line_wins(tmp_path):
    a, b = _listener(), _listener()
    try:
        cfg = tmp_path / "xdg" / "vjbridge" / "config.yaml"
        cfg.parent.mkdir(parents=True)
        cfg.write_text(f"demo: true\nmapping: none\nmodels: none\nrealtime: false\n"
                       f"outputs:\n  osc: 127.0.0.1:{a.getsockname()[1]}\n")
        base = VJB + ["run", "--duration", "1", "--speed", "0"]
        # found in the user's config dir, without --config
        r = subprocess.run(base, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert f"run config {cfg}" in r.stderr
        assert _received(a) > 10 and _received(b) == 0
        # an option on the command line wins over the file
        r = subprocess.run(base + ["--osc", f"127.0.0.1:{b.getsockname()[1]}"],
                           env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert _received(b) > 10 and _received(a) == 0
        # an invalid file stops the run with every problem, before any audio
        bad = tmp_path / "bad.yaml"
        bad.write_text("demo: yes please\non_loss: hodl\n")
        r = subprocess.run(base + ["--config", str(bad)], env=_env(tmp_path),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 1
        assert "demo: expected true or false" in r.stderr
        assert "on_loss: 'hodl' is not one of 'hold', 'idle'; did you mean 'hold'?" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        a.close()
        b.close()
