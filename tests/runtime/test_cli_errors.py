"""What a user sees when the command line or vjbridge itself is wrong: one line, never a
traceback. An option given ``=--`` (argparse hands it an empty list instead of refusing it,
found by fuzzing ``vjbridge run``) is a usage error naming the option; a bug inside a command is
one ``internal error`` line and status 70, with the trace only at ``--log-level debug``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bridge import cli
from bridge.commands import check


def _vjbridge(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge.cli", *argv], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("option", ["--block-ms", "--mapping", "--osc", "--duration"])
def test_an_option_given_double_dash_as_its_value_is_a_usage_error(option):
    done = _vjbridge("run", "--demo", f"{option}=--")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == \
        f"vjbridge: error: argument {option}: expected one argument (see vjbridge --help)"
    assert "Traceback" not in done.stderr


def test_a_non_number_reaching_the_range_check_is_one_config_line():
    from types import SimpleNamespace

    from bridge.commands.run_options import check_run_options
    from bridge.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--block-ms needs one number .*got \[\]"):
        check_run_options(SimpleNamespace(block_ms=[]))


def test_a_bug_inside_a_command_is_one_line_and_status_70(monkeypatch, capsys):
    def broken(args):
        raise TypeError("must be real number, not list")

    monkeypatch.setattr(check, "run", broken)
    assert cli.main(["check", "default"]) == 70
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["vjbridge check: internal error: TypeError: must be real number, not list (a "
                   "bug in vjbridge: please report it with what `vjbridge --log-level debug "
                   "check ...` prints)"]
