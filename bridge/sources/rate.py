"""The rate a device input opens at, and how it is reported (``vjbridge run --rate HZ``).

Why the device's own default rate unless ``--rate`` says otherwise: the default rate is the one
the device runs at natively (ALSA ``hw``: the card's; CoreAudio: the device's nominal rate; WASAPI
shared mode: the mix format; PulseAudio / PipeWire: the server's rate for that source). Any other
rate is usually converted by the host (PulseAudio's own resampler, ``speex-float-1`` by default,
is not the resampler the models were trained on: at 22,050 Hz it changed the top mel band by
14.9 dB and bands 0-59 by 1.6 dB p99, see the README's "Features"), so vjbridge takes the native
rate and resamples itself with :class:`~bridge.audio.resample.StreamResampler`. A device whose own
rate *is* the spec rate (22,050 Hz) is therefore read directly: no resampling, no filter delay.
``--rate`` forces a rate (e.g. 22050 on a card that offers it in hardware, or 44100 to halve the
resampler's cost); PortAudio refuses a rate the device cannot give, in one line.
"""

from __future__ import annotations

import math

from bridge.errors import ConfigError


def device_rate(device: dict, requested: float | None = None) -> float:
    """The rate to open ``device`` (a ``sd.query_devices()`` dict) at."""
    return float(requested) if requested else float(device["default_samplerate"])


def parse_rate(text: str) -> float:
    """``--rate``'s argument: a whole number of Hz in [4000, 768000]."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value == int(value) and 4000 <= value <= 768000):
        raise ConfigError(f"--rate must be a whole number of Hz between 4000 and 768000 (e.g. "
                          f"48000 or 22050); got {text!r}")
    return value


def check_rate_option(args) -> None:
    """Parse ``args.rate`` in place; ``--rate`` chooses a device's rate: refused with a file or the
    demo (they have their own)."""
    if getattr(args, "rate", None) is None:
        return
    args.rate = parse_rate(str(args.rate))
    if (getattr(args, "file", None) or getattr(args, "demo", False)):
        raise ConfigError("--rate sets an audio device's rate; a --file plays at its own rate and "
                          "--demo at 22,050 Hz: drop --rate or use --device")


def resampling(engine, *, design: bool = True) -> tuple[float | None, float | None]:
    """``(input rate Hz, resampler delay ms)`` of the engine's stream; before its first block, the
    source's rate (``design=False``, on the engine thread: None then, designing a filter takes
    up to ~0.2 s); None while the source has no rate yet."""
    from bridge.audio.resample import StreamResampler

    r = getattr(engine, "resampler", None)
    if r is None:
        rate = getattr(engine.source, "sample_rate", None)
        if not rate or not design:
            return None, None
        r = StreamResampler(rate, engine.spec.sample_rate)  # the filter is cached: cheap
    return r.in_rate, r.delay_seconds * 1e3


def describe_resampling(engine) -> str:
    rate, delay = resampling(engine)
    out = engine.spec.sample_rate
    if rate is None:
        return f"resampled to {out:g} Hz"
    if rate == out:
        return f"input at {rate:g} Hz (the spec rate: no resampling)"
    return f"input at {rate:g} Hz, resampled to {out:g} Hz (filter delay {delay:.2f} ms)"
