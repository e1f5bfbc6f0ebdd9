"""The numeric options of ``vjbridge run``, checked before anything opens.

Why here and not in argparse ``type=``: argparse accepts ``nan``, ``inf`` and ``-5`` as floats, and
its errors print a usage block; a gallery's service log wants one line naming the option, what it
got and the range it takes (a :class:`~bridge.errors.ConfigError`, exit 1). Found by the probe:
``--block-ms 0`` and ``-5`` were accepted, ``--output-rate 0`` silently meant 60, ``--duration nan``
ran for ever, a negative ``--speed`` played on.
"""

from __future__ import annotations

import math

from bridge.errors import ConfigError

#: option -> (attribute, low, high, low included, what the range means); None = not given
RANGES = {
    "--block-ms": ("block_ms", 1.0, 500.0, True, "milliseconds of audio per block"),
    "--output-rate": ("output_rate", 0.0, 1000.0, False, "ticks per second"),
    "--duration": ("duration", 0.0, 1e9, False, "seconds"),
    "--speed": ("speed", 0.0, 1000.0, True, "1 = real time, 0 = as fast as possible"),
    "--status-interval": ("status_interval", 0.0, 86400.0, False, "seconds"),
    "--silence-after": ("silence_after", 0.1, 86400.0, True, "seconds of quiet input"),
    "--silence-floor": ("silence_floor", -200.0, 0.0, True, "dBFS RMS"),
}


def check_run_options(args) -> None:
    """Raise :class:`ConfigError` for the first option outside its range (non-finite included),
    or a malformed ``--osc``, ``--control``, ``--input-latency``, ``--rate`` or ``--genre`` (a
    did-you-mean) (parsed in place);
    opens nothing."""
    for option, (attr, lo, hi, lo_in, meaning) in RANGES.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # argparse turns `--block-ms=--` into [] instead of refusing it
            raise ConfigError(f"{option} needs one number ({meaning}); got {value!r}")
        ok = math.isfinite(value) and (lo <= value if lo_in else lo < value) and value <= hi
        if not ok:
            bracket = "[" if lo_in else "("
            raise ConfigError(f"{option} must be a number in {bracket}{lo:g}, {hi:g}] "
                              f"({meaning}); got {value!r}")
    if getattr(args, "osc", None):
        from bridge.sinks.osc import parse_osc_target

        parse_osc_target(args.osc)
    if getattr(args, "control", None) is not None:
        from bridge.runtime.control import parse_control_target

        parse_control_target(args.control)
    if getattr(args, "input_latency", None) is not None:
        from bridge.commands.run import _latency

        _latency(args.input_latency)
    if getattr(args, "genre", None) is not None:
        from bridge.genres import GenreError, canonical

        try:
            canonical(args.genre)
        except GenreError as exc:
            raise ConfigError(f"--genre: {exc}") from None
    if getattr(args, "morph_segment", None) is not None:
        from bridge.signals.energy import parse_segment

        parse_segment(args.morph_segment)
    from bridge.sources.rate import check_rate_option

    check_rate_option(args)
