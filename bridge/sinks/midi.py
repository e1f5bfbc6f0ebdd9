"""MIDI output through mido + python-rtmidi: a virtual port by default, or a named one.

Why a virtual port by default: TouchDesigner, a DAW or a desk bridge can then connect to "vjbridge"
without the user creating a loopback device. Control changes are sent only when their value
changes (a DIN cable carries ~1000 messages/s, and 60 Hz x many routes would saturate it); blackout
re-sends every idle value. On close: held notes off, idle values, then All Notes Off (CC 123) on
every channel this sink used, so nothing is left hanging on the receiver.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from bridge.errors import SinkError
from bridge.sinks.base import Sink
from bridge.sinks.messages import MidiCC, MidiNote

log = logging.getLogger(__name__)

ALL_NOTES_OFF = 123
#: Windows' MIDI API (WinMM) has no virtual ports; a loopback driver provides one.
NO_VIRTUAL_PORTS = ("Windows has no virtual MIDI ports: create one with loopMIDI (e.g. named "
                    "'vjbridge') and give its name as the mapping's midi port or --midi")


def encode(item: MidiCC | MidiNote) -> list[list[int]]:
    """Raw MIDI bytes for one item: one message, or two for a 14-bit CC (MSB, then LSB on cc+32)."""
    if type(item) is MidiCC:
        ch, cc, v, bits = item
        if bits == 14:
            return [[0xB0 | ch, cc, v >> 7], [0xB0 | ch, cc + 32, v & 0x7F]]
        return [[0xB0 | ch, cc, v]]
    ch, note, vel, on = item
    return [[0x90 | ch, note, vel]] if on else [[0x80 | ch, note, 0]]


def find_output(wanted: str, names: list[str]) -> str:
    """Exact name, else the one name containing ``wanted`` case-insensitively; else SinkError."""
    if wanted in names:
        return wanted
    hits = [n for n in names if wanted.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    shown = ", ".join(repr(n) for n in names) or "none"
    if hits:
        raise SinkError(f"MIDI port {wanted!r} matches several outputs ({', '.join(map(repr, hits))}); "
                        "give more of the name")
    raise SinkError(f"no MIDI output matches {wanted!r}; available: {shown} "
                    "(`vjbridge devices` lists them; leave `port` null for a virtual port)")


class MidiSink(Sink):
    kind = "midi"

    def __init__(self, name: str = "default", *, port: str | None = None,
                 virtual_name: str = "vjbridge") -> None:
        super().__init__(name)
        if port is None and sys.platform == "win32":
            raise SinkError(NO_VIRTUAL_PORTS)
        try:
            import mido
            self._Message = mido.Message
            if port is None:
                self.port_name = virtual_name
                # client_name: the port shows as "vjbridge:vjbridge" (JACK/ALSA), not "RtMidiOut Client"
                self.port = mido.open_output(virtual_name, virtual=True, client_name=virtual_name)
            else:
                self.port_name = find_output(port, mido.get_output_names())
                self.port = mido.open_output(self.port_name)
        except SinkError:
            raise
        except ImportError as exc:
            raise SinkError(f"MIDI needs python-rtmidi ({exc}); install it: pip install "
                            "python-rtmidi (on Python 3.13+ it has no wheel yet and needs a C++ "
                            "compiler: use Python 3.12)") from None
        except Exception as exc:  # rtmidi raises its own SystemError/InvalidPortError types
            what = f"virtual port {virtual_name!r}" if port is None else f"port {port!r}"
            raise SinkError(f"cannot open MIDI {what}: {exc} (is the port in use, or the MIDI "
                            "system (ALSA/JACK/CoreMIDI) not running?)") from None
        self.virtual = port is None
        self.sent = 0
        self.drops = 0
        self._last_cc: dict[tuple[int, int], int] = {}
        self._held: set[tuple[int, int]] = set()
        self._channels: set[int] = set()

    @classmethod
    def from_config(cls, name: str, cfg: dict) -> "MidiSink":
        return cls(name, port=cfg["port"], virtual_name=cfg["virtual_name"])

    def describe(self) -> str:
        return f"{'virtual ' if self.virtual else ''}port {self.port_name!r}"

    def _validate(self, item) -> None:
        t = type(item)
        if t is MidiCC:
            ch, cc, v, bits = item
            top = 31 if bits == 14 else 127
            vmax = 16383 if bits == 14 else 127
            if bits not in (7, 14):
                raise ValueError(f"MIDI CC bits must be 7 or 14, got {bits!r}")
        elif t is MidiNote:
            ch, cc, v, _ = item
            top, vmax = 127, 127
        else:
            raise TypeError(f"midi output {self.name!r} takes MidiCC/MidiNote items, got {item!r}")
        for label, x, hi in (("channel", ch, 15), ("number", cc, top), ("value", v, vmax)):
            if type(x) is not int or not 0 <= x <= hi:
                raise ValueError(f"MIDI {label} must be an int 0..{hi}, got {x!r} in {item!r}")

    def _write(self, raw: list[int]) -> None:
        try:
            self.port.send(self._Message.from_bytes(raw))
            self.sent += 1
        except Exception as exc:  # a vanished port must not stop the engine
            self.drops += 1
            if self.drops == 1:
                log.warning("midi output %r: send failed (%s); counting drops", self.name, exc)

    def _send(self, items: Sequence, force: bool = False) -> None:
        last, held = self._last_cc, self._held
        for item in items:
            if type(item) is MidiCC:
                key = (item.channel, item.control)
                if not force and last.get(key) == item.value:
                    continue
                last[key] = item.value
            elif item.on:
                held.add((item.channel, item.note))
            else:
                held.discard((item.channel, item.note))
            self._channels.add(item.channel)
            for raw in encode(item):
                self._write(raw)

    def _blackout(self, idle: Sequence) -> None:
        offs = [MidiNote(ch, n, 0, False) for ch, n in sorted(self._held)]
        self._send(offs + list(idle), force=True)

    def _close(self) -> None:
        for ch in sorted(self._channels):
            self._write([0xB0 | ch, ALL_NOTES_OFF, 0])
        self.port.close()
