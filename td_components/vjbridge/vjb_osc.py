"""OSC 1.0 decode and encode for the vjbridge TouchDesigner component (standard library only).

Why our own codec: the component must need nothing installed inside TouchDesigner's Python, and a
receiver that runs inside TouchDesigner's cook must never raise on a bad datagram. ``decode`` raises
only :class:`OscError` (the receiver counts and drops that packet); ``encode_message`` builds the
small control messages the component sends to the daemon.

Supported argument types: f i s b d h T F N (and I, "impulse", read as True). Bundles may nest up to
``MAX_DEPTH`` levels; deeper or malformed content rejects the whole datagram.
"""

import struct

MAX_DEPTH = 8
MAX_ARGS = 4096

_FLOAT = struct.Struct(">f")
_INT = struct.Struct(">i")
_DOUBLE = struct.Struct(">d")
_LONG = struct.Struct(">q")
#: fixed-size argument tags: how to read each, and its name in an error
_FIXED = {"f": (_FLOAT, "float"), "i": (_INT, "int"), "d": (_DOUBLE, "double"),
          "h": (_LONG, "int64")}
_CONSTANT = {"T": True, "I": True, "F": False, "N": None}


class OscError(ValueError):
    """A datagram that is not valid OSC 1.0 (the message says what was wrong)."""


def _pad4(n):
    return (n + 3) & ~3


def _read_string(data, pos):
    end = data.find(b"\0", pos)
    if end < 0:
        raise OscError("unterminated OSC string")
    try:
        text = data[pos:end].decode("utf-8")
    except UnicodeDecodeError:
        raise OscError("OSC string is not UTF-8") from None
    nxt = pos + _pad4(end - pos + 1)
    if nxt > len(data):
        raise OscError("OSC string padding runs past the packet")
    return text, nxt


def _read_blob(data, pos):
    if pos + 4 > len(data):
        raise OscError("truncated blob size")
    (size,) = _INT.unpack_from(data, pos)
    pos += 4
    if size < 0 or pos + size > len(data):
        raise OscError("blob size runs past the packet")
    return bytes(data[pos:pos + size]), pos + _pad4(size)


def _decode_message(data):
    address, pos = _read_string(data, 0)
    if not address.startswith("/"):
        raise OscError(f"address {address[:40]!r} does not start with '/'")
    if pos >= len(data):
        return address, []  # no type tag string: an OSC 1.0 message with no arguments
    tags, pos = _read_string(data, pos)
    if not tags.startswith(","):
        raise OscError("type tag string does not start with ','")
    if len(tags) - 1 > MAX_ARGS:
        raise OscError(f"more than {MAX_ARGS} arguments")
    args = []
    for tag in tags[1:]:
        fixed = _FIXED.get(tag)
        if fixed is not None:
            kind, name = fixed
            if pos + kind.size > len(data):
                raise OscError(f"truncated {name}")
            args.append(kind.unpack_from(data, pos)[0])
            pos += kind.size
        elif tag == "s":
            text, pos = _read_string(data, pos)
            args.append(text)
        elif tag == "b":
            blob, pos = _read_blob(data, pos)
            args.append(blob)
        elif tag in _CONSTANT:
            args.append(_CONSTANT[tag])
        else:
            raise OscError(f"unsupported OSC type tag {tag!r}")
    return address, args


def _decode(data, depth, out):
    if depth > MAX_DEPTH:
        raise OscError(f"bundles nested deeper than {MAX_DEPTH}")
    if len(data) < 4:
        raise OscError("packet shorter than 4 bytes")
    if data[:8] == b"#bundle\0":
        if len(data) < 16:
            raise OscError("bundle without a time tag")
        pos = 16
        while pos < len(data):
            if pos + 4 > len(data):
                raise OscError("truncated bundle element size")
            (size,) = _INT.unpack_from(data, pos)
            pos += 4
            if size <= 0 or size % 4 or pos + size > len(data):
                raise OscError("bundle element size is invalid")
            _decode(data[pos:pos + size], depth + 1, out)
            pos += size
        return
    if len(data) % 4:
        raise OscError("packet length is not a multiple of 4")
    out.append(_decode_message(data))


def decode(data):
    """All ``(address, args)`` messages of one datagram, bundles flattened in order.

    Raises :class:`OscError` (and nothing else) on any malformed content."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise OscError("a packet must be bytes")
    out = []
    try:
        _decode(memoryview(bytes(data)).tobytes(), 0, out)
    except OscError:
        raise
    except (struct.error, IndexError, ValueError, TypeError) as exc:  # belt and braces
        raise OscError(f"malformed packet: {exc}") from None
    return out


def _string(text):
    raw = text.encode("utf-8") + b"\0"
    return raw + b"\0" * (_pad4(len(raw)) - len(raw))


def encode_message(address, args=()):
    """One OSC message. Python types map to tags: bool T/F, None N, int i (h if it does not fit
    32 bits), float f, str s, bytes b. Raises ValueError for anything else."""
    if not isinstance(address, str) or not address.startswith("/"):
        raise ValueError(f"OSC address must be a str starting with '/': {address!r}")
    tags = ","
    payload = b""
    for arg in args:
        if arg is True:
            tags += "T"
        elif arg is False:
            tags += "F"
        elif arg is None:
            tags += "N"
        elif isinstance(arg, int):
            if -2**31 <= arg < 2**31:
                tags += "i"
                payload += _INT.pack(arg)
            else:
                tags += "h"
                payload += _LONG.pack(arg)
        elif isinstance(arg, float):
            tags += "f"
            payload += _FLOAT.pack(arg)
        elif isinstance(arg, str):
            tags += "s"
            payload += _string(arg)
        elif isinstance(arg, (bytes, bytearray)):
            tags += "b"
            payload += _INT.pack(len(arg)) + bytes(arg) + b"\0" * (_pad4(len(arg)) - len(arg))
        else:
            raise ValueError(f"cannot encode {type(arg).__name__} as an OSC argument")
    return _string(address) + _string(tags) + payload


def encode_bundle(elements, timetag=1):
    """A bundle of already encoded messages/bundles (timetag 1 = immediately)."""
    out = b"#bundle\0" + struct.pack(">Q", timetag)
    for element in elements:
        out += _INT.pack(len(element)) + element
    return out
