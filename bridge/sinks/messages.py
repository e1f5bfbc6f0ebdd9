"""What the router hands to sinks: small immutable values, independent of any wire format.

Why separate types: the router (mapping) never imports a network or MIDI library, and a sink can be
tested, benchmarked or swapped without a mapping. Channels here are wire channels 0..15; mappings
number them 1..16 as desks do.
"""

from __future__ import annotations

from typing import NamedTuple


class OscValue(NamedTuple):
    """One OSC message: one Python ``float`` (type f) or ``int`` (type i) argument, or a tuple of
    floats (a vector signal such as the mel spectrum: one f argument per value)."""

    address: str
    value: float | int | tuple


class MidiCC(NamedTuple):
    """A control change: ``value`` 0..127 (bits=7) or 0..16383 (bits=14: MSB on control,
    LSB on control + 32)."""

    channel: int
    control: int
    value: int
    bits: int = 7


class MidiNote(NamedTuple):
    """A note on (``on`` True, velocity 1..127) or note off (velocity 0)."""

    channel: int
    note: int
    velocity: int
    on: bool


class MidiClock(NamedTuple):
    """The tempo a MIDI clock runs at (24 timing clocks per beat); 0 = stopped. The sink's own
    clock thread sends the bytes (:mod:`bridge.sinks.midi_clock`), not the router's tick."""

    bpm: float
