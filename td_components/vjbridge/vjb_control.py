"""Live tuning: the component's Tuning parameters sent to the daemon's OSC control port.

Why here and validated: the daemon opens the control port only with ``--control`` and validates
every message itself (stream protocol v1, /work/protocol.md); validating client-side too means a
slider dragged out of range shows a clear reason in TouchDesigner instead of a stream of refusals.
Only values that changed are sent; a new daemon (a new control endpoint) first gets every value that
differs from the daemon's default. Replies (``/vjbridge/_ack s address, i ok, s message``) are read
without blocking; the last refusal is kept for the status line.
"""

import math
import os
import socket

import vjb_info
import vjb_osc

PREFIX = "/vjbridge/control/"


class Control:
    """One control value: address suffix, the daemon's default, a validator."""

    def __init__(self, key, address, default, check):
        self.key = key
        self.address = PREFIX + address
        self.default = default
        self.check = check  # value -> error text or ""


def _range(lo, hi, unit=""):
    def check(value):
        if not isinstance(value, float) or not math.isfinite(value) or not lo <= value <= hi:
            return f"{value!r} is outside {lo:g}..{hi:g}{unit}"
        return ""
    return check


def _band(value):
    lo, hi = value
    for v in value:
        if not math.isfinite(v) or not 20.0 <= v <= 11025.0:
            return f"{v:g} Hz is outside 20..11025 Hz"
    if not lo < hi:
        return f"band low {lo:g} Hz must be below band high {hi:g} Hz"
    return ""


def _mapping(value):
    if not value:
        return "empty"
    if not os.path.isfile(value):
        return f"mapping file {value!r} does not exist"
    return ""


CONTROLS = (
    Control("gain_low", "gain/low", 1.0, _range(0.0, 8.0)),
    Control("gain_mid", "gain/mid", 1.0, _range(0.0, 8.0)),
    Control("gain_high", "gain/high", 1.0, _range(0.0, 8.0)),
    Control("threshold_kick", "threshold/kick", 6.0, _range(0.5, 40.0, " dB")),
    Control("threshold_snare", "threshold/snare", 6.0, _range(0.5, 40.0, " dB")),
    Control("band_kick", "band/kick", (40.0, 160.0), _band),
    Control("band_snare", "band/snare", (1000.0, 5000.0), _band),
    Control("smoothing", "smoothing", 0.15, _range(0.01, 2.0, " s")),
    Control("rate", "rate", None, _range(1.0, 240.0, " Hz")),  # None: the mapping's rate
    Control("mapping", "mapping", None, _mapping),  # None: the mapping the daemon started with
)
BY_KEY = {c.key: c for c in CONTROLS}


def normalise(key, value):
    """The wire form of a parameter value: float, (float, float) or str; None = leave unset."""
    if key == "rate":
        return None if not value or float(value) <= 0 else float(value)
    if key == "mapping":
        text = str(value or "").strip()
        return None if not text or text.lower() == "none" else text
    if key.startswith("band_"):
        lo, hi = value
        return (float(lo), float(hi))
    return float(value)


class ControlClient:
    """Sends changed tuning values to (host, port) and reads the daemon's acknowledgements."""

    def __init__(self, log=None):
        self.log = log or (lambda text: None)
        self.target = None
        self.sock = None
        self.sent = {}  # key -> last value sent to the current target
        self.last_refusal = ""
        self.last_ack = ""
        self.acks = 0
        self.refusals = 0
        self.problems = {}  # key -> client-side validation error

    def set_target(self, target):
        """(host, port) of the daemon's control port, or None. A new target starts afresh."""
        if target == self.target:
            return
        self.target = target
        self.sent = {}
        if target is not None and self.sock is None:
            try:
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.sock.bind(("127.0.0.1" if target[0] in ("127.0.0.1", "localhost")
                                else "0.0.0.0", 0))
                self.sock.setblocking(False)
            except OSError as exc:
                self.log(f"cannot open the control socket: {exc}")
                self.sock = None

    def update(self, values):
        """``values``: key -> parameter value. Sends what changed; returns the addresses sent."""
        sent = []
        if self.target is None or self.sock is None:
            return sent
        for key, raw in values.items():
            control = BY_KEY.get(key)
            if control is None:
                continue
            try:
                value = normalise(key, raw)
            except (TypeError, ValueError):
                self.problems[key] = f"{key}: {raw!r} is not a valid value"
                continue
            previous = self.sent.get(key, control.default)
            if value is None or value == previous:
                self.problems.pop(key, None)
                continue
            error = control.check(value)
            if error:
                problem = f"{control.address}: {error}"
                if self.problems.get(key) != problem:
                    self.log(f"not sent {problem}")
                self.problems[key] = problem
                continue
            self.problems.pop(key, None)
            args = list(value) if isinstance(value, tuple) else [value]
            if self.send(control.address, args):
                self.sent[key] = value
                sent.append(control.address)
        return sent

    def send(self, address, args=()):
        if self.sock is None or self.target is None:
            return False
        try:
            self.sock.sendto(vjb_osc.encode_message(address, args), self.target)
            return True
        except (OSError, ValueError) as exc:
            self.log(f"cannot send {address} to the daemon: {exc}")
            return False

    def ping(self):
        return self.send(PREFIX + "ping")

    def stop(self):
        """Ask the daemon to stop cleanly over its control port; True when the message went out."""
        return self.send(PREFIX + "stop")

    def poll(self):
        """Read every waiting acknowledgement; returns how many arrived."""
        n = 0
        while self.sock is not None and n < 1000:
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # e.g. Windows' WSAECONNRESET after a send to a closed port
            n += 1
            try:
                messages = vjb_osc.decode(data)
            except vjb_osc.OscError:
                continue
            for address, args in messages:
                if address != vjb_info.ACK_ADDRESS or len(args) < 3:
                    continue
                what, ok, text = args[0], args[1], args[2]
                self.acks += 1
                self.last_ack = f"{what}: {text}"
                if not ok:
                    self.refusals += 1
                    self.last_refusal = f"{what}: {text}"
                    self.log(f"the daemon refused {what}: {text}")
        return n

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        self.target = None
