"""The component's receiver core: a non-blocking UDP socket, drained once per TouchDesigner frame.

Why no TouchDesigner object here: this is the part that talks to the network and must be testable
and robust on its own. It never raises into TouchDesigner: a port that cannot be bound becomes a
clear ``status`` line, a malformed datagram is dropped and counted, a hostile ``_info`` is logged
once. The caller (the Script CHOP callbacks, through vjb_session) calls ``frame()`` once per frame
and gets ``[(channel, value), ...]``: signal channels, the audioAnalysis aliases, then the status
channels ``connected`` (a packet within the last second), ``packets_per_sec``, ``last_packet_age``
(seconds, -1 before the first packet), ``version_match`` (1 match, 0 mismatch, -1 unknown) and
``dropped_packets``.
"""

import collections
import errno
import socket
import time

import vjb_channels
import vjb_info
import vjb_osc

VERSION = vjb_info.VERSION
MAX_DATAGRAM = 65535
MAX_PER_FRAME = 20000  # datagrams read per frame at most, so a flood cannot stall a cook
STATUS_CHANNELS = ("connected", "packets_per_sec", "last_packet_age", "version_match",
                   "dropped_packets")


def port_in_use_message(port):
    return (f"port {port} is in use by another program (another OSC In CHOP/DAT?): "
            "choose another Port on the component and the daemon")


class Receiver:
    """Bind, drain, keep channel state and status. ``log(text)`` receives one-line messages."""

    def __init__(self, host="127.0.0.1", port=7000, prefix="/vjbridge/", log=None,
                 clock=time.monotonic):
        self.host = host
        self.port = int(port)
        self.prefix = prefix
        self.log = log or (lambda text: None)
        self.clock = clock
        self.table = vjb_channels.ChannelTable()
        self.sock = None
        self.status = "closed"
        self.packets = 0
        self.dropped = 0
        self.last_drop_reason = ""
        self.last_packet = None
        self._arrivals = collections.deque(maxlen=4096)
        self.info = None
        self.info_error = ""
        self.genre = ""  # /vjbridge/genre and /vjbridge/style (strings), for a diffusion prompt
        self.style = ""
        self._warned_versions = set()
        self._logged_info_errors = set()
        self._last_frame_time = None

    # -- socket -------------------------------------------------------------------------------
    def open(self):
        """Bind (host, port). Returns True on success; otherwise ``status`` says why."""
        self.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass  # a smaller buffer only matters under floods
        try:
            sock.bind((self.host, self.port))
            sock.setblocking(False)
        except OverflowError:
            sock.close()
            self.status = f"port {self.port} is not a valid UDP port (1..65535)"
            self.log(self.status)
            return False
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1), 10048):
                self.status = port_in_use_message(self.port)
            elif exc.errno in (errno.EACCES, getattr(errno, "WSAEACCES", -1), 10013):
                self.status = (f"port {self.port} is not allowed for this user (permission "
                               "denied): choose a port above 1024")
            elif exc.errno in (errno.EADDRNOTAVAIL, 10049):
                self.status = f"address {self.host} is not an address of this machine"
            else:
                self.status = f"cannot listen on {self.host}:{self.port}: {exc}"
            self.log(self.status)
            return False
        self.sock = sock
        self.status = f"listening on udp://{self.host}:{self.port}"
        return True

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
            self.status = "closed"

    # -- input --------------------------------------------------------------------------------
    def drain(self):
        """Read every datagram waiting; returns how many were read."""
        if self.sock is None:
            return 0
        n = 0
        while n < MAX_PER_FRAME:
            try:
                data = self.sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                # Windows reports an ICMP "port unreachable" of an earlier send as WSAECONNRESET
                # on the next recv; it is not about this socket's input: keep reading.
                if exc.errno in (errno.ECONNRESET, 10054):
                    continue
                self.status = f"receive error: {exc}"
                break
            n += 1
            self.feed(data)
        return n

    def feed(self, data, now=None):
        """Handle one datagram (also the entry point for tests and an OSC In DAT)."""
        now = self.clock() if now is None else now
        self.packets += 1
        self.last_packet = now
        self._arrivals.append(now)
        try:
            messages = vjb_osc.decode(data)
        except vjb_osc.OscError as exc:
            self.dropped += 1
            self.last_drop_reason = str(exc)
            return
        for address, args in messages:
            try:
                self.message(address, args)
            except Exception as exc:  # noqa: BLE001 - never raise into TouchDesigner
                self.dropped += 1
                self.last_drop_reason = f"{address[:60]}: {exc}"

    def message(self, address, args):
        if address == vjb_info.INFO_ADDRESS:
            self._info(args)
            return
        if address == vjb_info.ACK_ADDRESS or address.startswith("/vjbridge/_"):
            return  # protocol messages not meant for channels
        if address in (vjb_info.GENRE_ADDRESS, vjb_info.STYLE_ADDRESS):
            if args and isinstance(args[0], str):  # the genre's name, its style description
                text = args[0][:vjb_info.MAX_STYLE]
                if address == vjb_info.GENRE_ADDRESS:
                    self.genre = text
                else:
                    self.style = text
            return
        name = vjb_channels.channel_name(address, self.prefix)
        if name:
            self.table.update(name, args)

    def _info(self, args):
        try:
            info = vjb_info.parse_info(args)
        except vjb_info.InfoError as exc:
            self.info_error = str(exc)
            if self.info_error not in self._logged_info_errors and len(self._logged_info_errors) < 20:
                self._logged_info_errors.add(self.info_error)
                self.log(f"ignored a bad _info from the daemon: {self.info_error}")
            return
        self.info_error = ""
        changed = self.info is None or self.info.digest != info.digest
        self.info = info
        if changed:
            self.table.apply_schema(info, self.prefix)
        if info.version != VERSION and info.version not in self._warned_versions:
            self._warned_versions.add(info.version)
            self.log(f"version mismatch: the daemon is vjbridge {info.version}, this component is "
                     f"{VERSION}; update one of them (pip install -U vjbridge, or rebuild the .tox)")

    # -- output -------------------------------------------------------------------------------
    def packets_per_sec(self, now):
        while self._arrivals and now - self._arrivals[0] > 1.0:
            self._arrivals.popleft()
        return float(len(self._arrivals))

    def age(self, now):
        return -1.0 if self.last_packet is None else max(0.0, now - self.last_packet)

    def frame(self, settings, now=None):
        """Drain, then ``[(name, value), ...]`` for this frame: signals, aliases, status."""
        now = self.clock() if now is None else now
        self.drain()
        dt = 0.0 if self._last_frame_time is None else now - self._last_frame_time
        self._last_frame_time = now
        age = self.age(now)
        silent = age < 0 or age > settings.timeout
        chans = self.table.frame(min(max(dt, 0.0), 1.0), silent, settings)
        version = vjb_info.version_match(self.info.version if self.info else "")
        chans += [("connected", 1.0 if 0 <= age <= 1.0 else 0.0),
                  ("packets_per_sec", self.packets_per_sec(now)),
                  ("last_packet_age", age),
                  ("version_match", float(version)),
                  ("dropped_packets", float(self.dropped))]
        return chans
