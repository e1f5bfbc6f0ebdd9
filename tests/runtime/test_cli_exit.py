"""``vjbridge`` the program (``bridge.cli.entry``): ``run`` leaves the process at once after its
clean stop (no interpreter teardown, which took seconds on a loaded box), every other command exits
normally, and ``main()`` called from Python never leaves the process."""

from __future__ import annotations

import logging
import sys

import pytest

from bridge import cli


class Left(Exception):
    """os._exit was called (raised instead, so the test process stays)."""


def _entry(monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", ["vjbridge", *argv])
    flushed = []
    monkeypatch.setattr(logging, "shutdown", lambda: flushed.append("logging"))

    def fake_exit(code):
        raise Left(code)

    monkeypatch.setattr(cli.os if hasattr(cli, "os") else __import__("os"), "_exit", fake_exit)
    return flushed


def test_run_leaves_at_once_with_its_status_and_flushed_logs(monkeypatch, capsys):
    flushed = _entry(monkeypatch, "--log-level", "info", "run", "--demo", "--no-models",
                     "--mapping", "none", "--osc", "127.0.0.1:9", "--duration", "0.3",
                     "--no-realtime")
    with pytest.raises(Left) as left:
        cli.entry()
    assert left.value.args == (0,)
    assert flushed == ["logging"]
    assert "block arrival -> packet sent" in capsys.readouterr().err  # the summary got out


def test_a_failed_run_leaves_with_status_1(monkeypatch, capsys):
    _entry(monkeypatch, "run", "--demo", "--no-models", "--mapping", "defualt")
    with pytest.raises(Left) as left:
        cli.entry()
    assert left.value.args == (1,)
    assert "did you mean" in capsys.readouterr().err


def test_other_commands_exit_normally(monkeypatch, capsys):
    _entry(monkeypatch, "schema", "--json", "--mapping", "none")
    with pytest.raises(SystemExit) as exited:
        cli.entry()
    assert exited.value.code == 0
    assert capsys.readouterr().out.lstrip().startswith("{")


def test_main_from_python_returns(monkeypatch):
    _entry(monkeypatch)
    assert cli.main(["run", "--demo", "--no-models", "--mapping", "none", "--osc",
                     "127.0.0.1:9", "--duration", "0.2", "--no-realtime"]) == 0
