"""Sinks: the wire side. Each takes :mod:`.messages` values; see :class:`.base.Sink` for the contract.

``SINKS`` maps a mapping's output kind to its sink class (a plain dict: a kind without a sink fails
loudly with KeyError). Nothing here imports mido or opens a socket until a sink is constructed.
"""

from bridge.sinks.base import Sink
from bridge.sinks.messages import MidiCC, MidiNote, OscValue
from bridge.sinks.midi import MidiSink
from bridge.sinks.osc import OscSink

SINKS: dict[str, type[Sink]] = {"osc": OscSink, "midi": MidiSink}

__all__ = ["SINKS", "MidiCC", "MidiNote", "MidiSink", "OscSink", "OscValue", "Sink"]
