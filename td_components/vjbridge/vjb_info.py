"""The daemon's ``/vjbridge/_info`` message (stream protocol v1): parse, validate, compare versions.

Why a separate module: ``_info`` is the only structured input the component accepts from the
network, so everything hostile about it (wrong types, huge or broken JSON, missing keys) is handled
here, in one place, and turned into :class:`InfoError` with a one-line reason. Unknown extra keys are
ignored, as the protocol requires.
"""

import json
import re

VERSION = "0.1.0"  # the component's version; the daemon's version is compared with this
INFO_ADDRESS = "/vjbridge/_info"
ACK_ADDRESS = "/vjbridge/_ack"
GENRE_ADDRESS = "/vjbridge/genre"  # run --genre / a mapping's genre: (strings, with _info)
STYLE_ADDRESS = "/vjbridge/style"
MAX_STYLE = 2000  # characters kept of a genre or style string
MAGIC = "vjbridge"
KINDS = ("continuous", "trigger", "tempo", "colour", "spectrum")
MAX_JSON = 256 * 1024
MAX_SIGNALS = 1024
_DIGEST = re.compile(r"^[0-9a-f]{16}$")


class InfoError(ValueError):
    """An ``_info`` message that does not follow the protocol."""


class Signal:
    """One entry of the schema's ``signals`` list (only the keys the component uses)."""

    __slots__ = ("address", "signal", "kind", "n", "range", "unit", "live")

    def __init__(self, address, signal, kind, n, range_, unit, live):
        self.address = address
        self.signal = signal
        self.kind = kind
        self.n = n
        self.range = range_
        self.unit = unit
        self.live = live

    def __repr__(self):
        return f"Signal({self.address!r}, kind={self.kind!r}, n={self.n})"


class Info:
    """A validated ``_info``: version, digest, output rate, control endpoint, signals in order."""

    def __init__(self, version, digest, rate, mapping, control, signals):
        self.version = version
        self.digest = digest
        self.rate = rate
        self.mapping = mapping
        self.control = control  # (host, port) or None
        self.signals = signals

    def live_signals(self):
        return [s for s in self.signals if s.live]


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InfoError(f"{what} must be a number")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise InfoError(f"{what} must be finite")
    return value


def _signal(entry, index):
    if not isinstance(entry, dict):
        raise InfoError(f"signals[{index}] is not an object")
    address = entry.get("address")
    if not isinstance(address, str) or not address.startswith("/") or len(address) > 256:
        raise InfoError(f"signals[{index}].address must be an OSC address")
    kind = entry.get("kind", "continuous")
    if kind not in KINDS:
        raise InfoError(f"signals[{index}].kind {str(kind)[:20]!r} is not one of {', '.join(KINDS)}")
    n = entry.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1024:
        raise InfoError(f"signals[{index}].n must be an integer 1..1024")
    rng = entry.get("range", [0.0, 1.0])
    if not isinstance(rng, (list, tuple)) or len(rng) != 2:
        raise InfoError(f"signals[{index}].range must be [lo, hi]")
    lo, hi = (_number(v, f"signals[{index}].range") for v in rng)
    signal = entry.get("signal", "")
    unit = entry.get("unit", "")
    live = entry.get("live", True)
    return Signal(address, signal if isinstance(signal, str) else "", kind, n, (lo, hi),
                  unit if isinstance(unit, str) else "", live is not False)


def parse_info(args):
    """Validate the four string arguments of ``/vjbridge/_info``; raise :class:`InfoError`."""
    if not isinstance(args, (list, tuple)) or len(args) < 4:
        raise InfoError("_info needs 4 string arguments (magic, version, digest, schema JSON)")
    magic, version, digest, text = args[:4]
    if not all(isinstance(a, str) for a in (magic, version, digest, text)):
        raise InfoError("_info arguments must all be OSC strings")
    if magic != MAGIC:
        raise InfoError(f"_info magic is {magic[:20]!r}, not 'vjbridge'")
    if not version or len(version) > 64:
        raise InfoError("_info version is empty or too long")
    if not _DIGEST.match(digest):
        raise InfoError("_info digest is not 16 lower-case hex characters")
    if len(text) > MAX_JSON:
        raise InfoError(f"_info schema JSON is larger than {MAX_JSON} bytes")
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InfoError(f"_info schema is not valid JSON ({str(exc)[:60]})") from None
    if not isinstance(schema, dict):
        raise InfoError("_info schema is not a JSON object")
    signals = schema.get("signals", [])
    if not isinstance(signals, list):
        raise InfoError("_info schema.signals is not a list")
    if len(signals) > MAX_SIGNALS:
        raise InfoError(f"_info schema lists more than {MAX_SIGNALS} signals")
    parsed = [_signal(entry, i) for i, entry in enumerate(signals)]
    rate = schema.get("rate")
    rate = _number(rate, "rate") if rate is not None else None
    control = schema.get("control")
    endpoint = None
    if isinstance(control, dict):
        host, port = control.get("host", "127.0.0.1"), control.get("port")
        if isinstance(host, str) and isinstance(port, int) and not isinstance(port, bool) \
                and 0 < port < 65536:
            endpoint = (host, port)
    mapping = schema.get("mapping")
    return Info(version, digest, rate, mapping if isinstance(mapping, str) else "", endpoint, parsed)


def version_match(daemon_version, own_version=VERSION):
    """1 when the versions are equal, 0 when they differ, -1 when the daemon's is unknown."""
    if not daemon_version:
        return -1
    return 1 if daemon_version == own_version else 0
