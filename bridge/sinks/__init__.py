"""Sinks: the wire side. Each takes :mod:`.messages` values; see :class:`.base.Sink` for the contract.

``KINDS`` is the registry of output kinds (:class:`.kind.OutputKind`): a mapping's top-level
sections and each route's outputs are whatever kinds it holds, in this order (a plain dict: a kind
that is not here does not exist, and the mapping layer names none). Nothing here imports mido or
opens a socket until a sink is opened.
"""

from bridge.sinks.base import Sink
from bridge.sinks.dmx_kind import DMX_KIND
from bridge.sinks.kind import OutputKind, RouteInfo, RouteOutput
from bridge.sinks.link_kind import LINK_KIND
from bridge.sinks.messages import MidiCC, MidiNote, OscValue
from bridge.sinks.midi import MidiSink
from bridge.sinks.midi_kind import MIDI_KIND
from bridge.sinks.osc import OscSink
from bridge.sinks.os2l_kind import OS2L_KIND
from bridge.sinks.osc_kind import OSC_KIND
from bridge.sinks.wled_kind import WLED_KIND

KINDS: dict[str, OutputKind] = {"osc": OSC_KIND, "midi": MIDI_KIND, "dmx": DMX_KIND,
                                "wled": WLED_KIND, "os2l": OS2L_KIND, "link": LINK_KIND}

__all__ = ["KINDS", "MidiCC", "MidiNote", "MidiSink", "OscSink", "OscValue", "OutputKind",
           "RouteInfo", "RouteOutput", "Sink"]
