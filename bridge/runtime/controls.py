"""The live controls of ``vjbridge run --control``, declared once (protocol v1, "Control").

Why one table: the same declarations validate every incoming message (address, argument count,
types, ranges), word the refusals (with a did-you-mean for a misspelt address), generate the
README section and the ``--help`` text, and let tests, and the TouchDesigner component's tests,
read what the daemon accepts, so none of them can drift apart.

Standard library only, and no import from :mod:`bridge`: a receiver without numpy (the
TouchDesigner component, its tests) can load this file by path. How a change reaches the running
pipeline is :mod:`bridge.runtime.control`; here each control only names the action it asks for.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import NamedTuple

PREFIX = "/vjbridge/control/"
#: The reply to every control message: ``s address``, ``i ok (1|0)``, ``s message``.
ACK_ADDRESS = "/vjbridge/_ack"
#: The longest string argument accepted (a mapping path).
MAX_STRING = 4096


@dataclass(frozen=True)
class Arg:
    """One argument: ``kind`` ``"f"`` (a number: OSC float, double or int) or ``"s"`` (a string);
    numbers must be finite and within ``lo..hi`` (inclusive)."""

    name: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    unit: str = ""

    def describe(self) -> str:
        if self.kind == "s":
            return f"{self.name}: a string"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name}: a number {_num(self.lo)}..{_num(self.hi)}{unit}"


@dataclass(frozen=True)
class Control:
    """One control: its address, arguments, default, what it does, and the action it asks for
    (``action[0]`` is the method of the pipeline's control targets, ``action[1:]`` its leading
    arguments, then the message's values)."""

    name: str
    args: tuple[Arg, ...]
    default: str
    effect: str
    action: tuple[str, ...]

    @property
    def address(self) -> str:
        return PREFIX + self.name

    def usage(self) -> str:
        if not self.args:
            return f"{self.address} takes no arguments"
        n = len(self.args)
        return (f"{self.address} takes {n} argument{'s' if n > 1 else ''} "
                f"({'; '.join(a.describe() for a in self.args)})")


def _gain(band: str, hz: str) -> Control:
    return Control(f"gain/{band}", (Arg("gain", "f", 0.0, 8.0),), "1",
                   f"multiplies the {band} band's ({hz}) auto-gained level before its tanh soft "
                   "clip: 0 silences it, 2 doubles what it reads before clipping",
                   ("set_gain", band))


def _threshold(trigger: str) -> Control:
    return Control(f"threshold/{trigger}", (Arg("rise", "f", 0.5, 40.0, "dB"),), "6 dB",
                   f"the smallest rise (dB above the band's recent minimum) that fires {trigger}: "
                   "higher fires on fewer, bigger hits", ("set_threshold", trigger))


def _band(trigger: str, default: str) -> Control:
    return Control(f"band/{trigger}", (Arg("lo", "f", 20.0, 11025.0, "Hz"),
                                       Arg("hi", "f", 20.0, 11025.0, "Hz")), default,
                   f"the frequency band {trigger} listens to (lo < hi; the mel bands centred in "
                   "it; the trigger's history restarts)", ("set_band", trigger))


#: Every control, in the protocol's order.
CONTROLS: tuple[Control, ...] = (
    _gain("low", "mel bands centred below 250 Hz"), _gain("mid", "250-2000 Hz"),
    _gain("high", "2000 Hz and up"),
    _threshold("kick"), _threshold("snare"),
    _band("kick", "40 160 Hz"), _band("snare", "1000 5000 Hz"),
    Control("smoothing", (Arg("release", "f", 0.01, 2.0, "s"),), "0.15 s",
            "release time of low, mid and high: how long a band takes to fall after a hit",
            ("set_smoothing",)),
    Control("rate", (Arg("rate", "f", 1.0, 240.0, "Hz"),), "the mapping's (60 Hz)",
            "output ticks per second (at most one per analysis frame: above 60 Hz still 60); "
            "the mapping's smoothing and windows keep their length in seconds",
            ("set_rate",)),
    Control("mapping", (Arg("path", "s"),), "the --mapping file",
            "switch to the mapping YAML at this path (as the daemon sees it); an invalid file "
            "is refused with its first problems and the current mapping stays", ("set_mapping",)),
    Control("ping", (), "", "only acknowledged, by the engine thread: a liveness probe",
            ("ping",)),
    Control("stop", (), "", "stop the daemon cleanly, as SIGTERM does (idle values out, notes "
            "off): how a parent without a console (TouchDesigner on Windows) ends it",
            ("stop",)),
)

BY_ADDRESS: dict[str, Control] = {c.address: c for c in CONTROLS}


class Checked(NamedTuple):
    """What :func:`check` made of a message: the control and its values, or why it is refused."""

    control: Control | None
    values: tuple
    problem: str | None


def check(address, args) -> Checked:
    """Validate one message against the table. Never raises: a bad message gets ``problem``, one
    line saying what is wrong and how to send it right."""
    if not isinstance(address, str):
        return Checked(None, (), "not an OSC address")
    control = BY_ADDRESS.get(address)
    if control is None:
        return Checked(None, (), unknown(address))
    args = list(args)
    if len(args) != len(control.args):
        return Checked(control, (), f"got {len(args)} argument{'s' if len(args) != 1 else ''}; "
                                    f"{control.usage()}")
    values = []
    for arg, value in zip(control.args, args):
        ok, v = _value(arg, value)
        if not ok:
            return Checked(control, (), f"{arg.name} {v}; {control.usage()}")
        values.append(v)
    if control.action[0] == "set_band" and not values[0] < values[1]:
        return Checked(control, (), f"lo must be below hi (got {_num(values[0])} "
                                    f"{_num(values[1])}); {control.usage()}")
    return Checked(control, tuple(values), None)


def _value(arg: Arg, value) -> tuple[bool, object]:
    """``(True, value)`` converted, or ``(False, what is wrong with it)``."""
    if arg.kind == "s":
        if not isinstance(value, str):
            return False, f"must be a string, got {_type(value)}"
        if not value.strip():
            return False, "must not be empty"
        if len(value) > MAX_STRING:
            return False, f"is {len(value)} characters long (at most {MAX_STRING})"
        return True, value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False, f"must be a number, got {_type(value)}"
    if isinstance(value, int) and not -2 ** 63 <= value < 2 ** 63:
        return False, "is out of range"
    v = float(value)
    if not math.isfinite(v):
        return False, f"must be a finite number, got {v}"
    if not arg.lo <= v <= arg.hi:
        unit = f" {arg.unit}" if arg.unit else ""
        return False, f"{_num(v)}{unit} is out of range {_num(arg.lo)}..{_num(arg.hi)}{unit}"
    return True, v


def unknown(address: str) -> str:
    """The refusal for an address that is not a control, with the nearest control's address."""
    shown = address if len(address) <= 80 else address[:77] + "..."
    if address.startswith(PREFIX):  # compare what follows the prefix every address shares
        near = difflib.get_close_matches(address[len(PREFIX):], [c.name for c in CONTROLS],
                                         n=1, cutoff=0.6)
        near = [PREFIX + n for n in near]
    else:
        near = difflib.get_close_matches(address, list(BY_ADDRESS), n=1, cutoff=0.6)
    if near:
        return f"unknown control; did you mean {near[0]}?"
    if not address.startswith(PREFIX):
        return (f"{shown!r} is not a control address: they start with {PREFIX} "
                f"(e.g. {CONTROLS[0].address})")
    return f"unknown control; the controls are {', '.join(c.address for c in CONTROLS)}"


def _type(value) -> str:
    names = {str: "a string (s)", int: "an int (i)", float: "a float (f)", bytes: "a blob (b)",
             bool: "a boolean (T/F)", type(None): "nil (N)"}
    return names.get(type(value), f"an OSC {type(value).__name__}")


def _num(x) -> str:
    return f"{x:g}"


def reference_markdown() -> str:
    """The controls as a Markdown table (README's "Live control" section is this text)."""
    lines = ["| address | arguments | default | effect |", "|---|---|---|---|"]
    for c in CONTROLS:
        args = ", ".join(f"`{a.kind}` {a.name}"
                         + (f" {_num(a.lo)}..{_num(a.hi)}{' ' + a.unit if a.unit else ''}"
                            if a.kind == "f" else "") for a in c.args) or "(none)"
        lines.append(f"| `{c.address}` | {args} | {c.default} | {c.effect} |")
    return "\n".join(lines)


def help_text() -> str:
    """One paragraph for ``vjbridge run --help``: every address with its arguments."""
    def short(c: Control) -> str:
        args = " ".join(f"{a.kind}:{a.name}" + (f"[{_num(a.lo)}..{_num(a.hi)}]" if a.kind == "f"
                                                 else "") for a in c.args)
        return f"{c.name}{' ' + args if args else ''}"
    return (f"controls ({PREFIX}...): " + "; ".join(short(c) for c in CONTROLS)
            + f"; every message is answered with {ACK_ADDRESS} (s address, i ok, s message)")


BEGIN = "<!-- control:begin (generated by bridge/runtime/controls.py; do not edit) -->"
END = "<!-- control:end -->"


def update_readme(text: str) -> str:
    """``text`` with the table between :data:`BEGIN` and :data:`END` regenerated."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"no control markers in the README ({BEGIN} ... {END})")
    return f"{head}{BEGIN}\n{reference_markdown()}\n{END}{tail}"


if __name__ == "__main__":  # python -m bridge.runtime.controls README.md: rewrite its section
    import sys

    for name in sys.argv[1:]:
        with open(name, encoding="utf-8") as f:
            old = f.read()
        with open(name, "w", encoding="utf-8") as f:
            f.write(update_readme(old))
