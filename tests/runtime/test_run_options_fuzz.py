"""Fuzzing ``vjbridge run``'s options (hypothesis, derandomized): the parser and the option checks
run in-process, without audio. The property: a malformed value ends in one line and exit status 2
(argparse: not a number, an unknown choice) or a :class:`ConfigError` (exit 1: out of range, NaN,
a malformed HOST:PORT); never another exception. Then the known cases of the probe, each by name.
"""

from __future__ import annotations

import contextlib
import io
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.cli import build_parser, main
from bridge.commands.run_options import check_run_options
from bridge.errors import ConfigError

PARSER = build_parser()
FUZZ = settings(max_examples=200, deadline=1000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

OPTIONS = ["--block-ms", "--output-rate", "--duration", "--speed", "--status-interval", "--osc",
           "--control", "--input-latency", "--on-loss", "--midi", "--osc-prefix", "--log-level",
           "--rate", "--silence-after", "--silence-floor", "--fallback"]
texts = st.one_of(
    st.sampled_from(["0", "-5", "-0", "nan", "NaN", "inf", "-inf", "1e400", "1e-400", "9" * 400,
                     "0x10", "", " ", "10", "0.5", "60", "1001", "127.0.0.1:7000", ":0", "[::1]:9",
                     "host:65536", "1:²", "١٢٣", "low", "high", "2.5", "hold", "idle", "-", "--"]),
    st.text(max_size=30),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
)


def parse(argv):
    """(args, None) or (None, exit status) with what argparse printed."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return PARSER.parse_args(["run", *argv]), None, ""
        except SystemExit as exc:
            return None, exc.code, err.getvalue()


@FUZZ
@given(pairs=st.lists(st.tuples(st.sampled_from(OPTIONS), texts), min_size=1, max_size=4))
def test_any_option_values_give_a_config_error_or_a_one_line_usage_error(pairs):
    argv = [f"{option}={value}" for option, value in pairs]  # '=' so '-5' is a value
    args, status, printed = parse(argv)
    if args is None:
        assert status == 2
        assert len(printed.strip().splitlines()) == 1, printed
        return
    try:
        check_run_options(args)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    # accepted: then every number is finite and in range
    for attr in ("block_ms", "output_rate", "duration", "speed", "status_interval", "rate",
                 "silence_after"):
        value = getattr(args, attr)
        assert value is None or (math.isfinite(value) and value >= 0), (attr, value)
    assert args.silence_floor is None or math.isfinite(args.silence_floor), args.silence_floor


@pytest.mark.parametrize("argv, says", [
    (["--block-ms", "0"], "--block-ms must be"),
    (["--block-ms=-5"], "--block-ms must be"),
    (["--output-rate", "0"], "--output-rate must be"),
    (["--duration", "nan"], "--duration must be"),
    (["--duration", "inf"], "--duration must be"),
    (["--speed=-1"], "--speed must be"),
    (["--speed", "nan"], "--speed must be"),
    (["--status-interval", "0"], "--status-interval must be"),
    (["--osc", "1:²"], "--osc:"),
    (["--control", "9" * 400], "--control"),
    (["--input-latency", "nan"], "--input-latency: 'nan' is not low, high, auto or seconds"),
])
def test_the_probes_nonsense_options_are_one_line_and_exit_1(argv, says, capsys):
    assert main(["run", "--demo", "--no-models", *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vjbridge run: error: ") and says in err[0], err


def test_a_usage_error_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--block-ms", "abc"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["vjbridge run: error: argument --block-ms: invalid float value: 'abc' "
                   "(see vjbridge run --help)"]


@pytest.mark.parametrize("samples", [0, 1, 100])
def test_an_empty_or_tiny_wav_is_refused_in_one_line(tmp_path, capsys, samples):
    import numpy as np
    import soundfile as sf

    path = tmp_path / "short.wav"
    sf.write(path, np.zeros(samples), 48000)
    assert main(["run", "--file", str(path), "--no-models", "--mapping", "none", "--speed", "0",
                 "--no-realtime"]) == 1
    err = capsys.readouterr().err
    # refused at open when the file says its length, else when it ended having sent nothing
    assert f"vjbridge run: error: {path}: " in err and "93 ms" in err, err
    assert "Traceback" not in err
