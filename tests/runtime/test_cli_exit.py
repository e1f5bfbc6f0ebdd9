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


def test_a_python_host_outlives_a_run_it_stopped():
    """A host (here: a process named like the program, as a test's patched ``sys.argv`` was) that
    ran ``run`` in-process and stopped it with SIGINT, then takes 2.5 s to exit, exits 0: the stop's
    2 s exit watchdog is cancelled when ``main()`` returns and nothing is left in ``atexit`` to arm
    it again. (It once ended the whole test session with status 1 after every test had passed.)"""
    import subprocess
    import textwrap

    code = textwrap.dedent("""
        import atexit, os, signal, sys, threading, time
        sys.argv = ["vjbridge"]
        atexit.register(time.sleep, 2.5)  # runs after any hook registered later (LIFO)
        from bridge import cli
        def interrupt():  # once the run is inside its stop-signal handlers (the engine runs)
            while not any(t.name == "engine" for t in threading.enumerate()):
                time.sleep(0.05)
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGINT)
        threading.Thread(target=interrupt, daemon=True).start()
        code = cli.main(["run", "--demo", "--no-models", "--mapping", "none", "--osc",
                         "127.0.0.1:9", "--duration", "30", "--no-realtime"])
        time.sleep(2.5)
        print("host alive", code, flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout == "host alive 0\n"
