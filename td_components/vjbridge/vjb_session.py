"""One component's live state: receiver, daemon process and control client, driven by parameters.

Why a session object: TouchDesigner calls the Script CHOP's ``onCook`` every frame and the
parameter callbacks now and then; both need the same socket, process and counters, which must
survive across cooks (kept in the operator's storage by vjb_chop_callbacks). The session compares
the parameters with the previous frame's and acts on changes (rebinding on a new Port, resetting
channels on a new Prefix, sending changed Tuning values), so it works the same whether the
parameters live on the Script CHOP (manual setup) or on the .tox's COMP.
"""

import collections
import time

import vjb_channels
import vjb_control
import vjb_daemon
import vjb_params
import vjb_receiver

LOG_LINES = 200


class Session:
    def __init__(self, clock=time.monotonic, daemon=None, printer=print):
        self.clock = clock
        self.printer = printer
        self.messages = collections.deque(maxlen=LOG_LINES)  # component's own log lines
        self.messages_version = 0
        self.values = None
        self.receiver = None
        self.settings = vjb_channels.Settings()
        self.daemon = daemon or vjb_daemon.Daemon(clock=clock)
        self.control = vjb_control.ControlClient(log=self.log)
        self.last_frame_id = None
        self.last_frame = []
        self.closed = False

    def __reduce__(self):
        # TouchDesigner pickles storage when the project is saved: save an empty placeholder
        # instead of sockets and threads (the next cook creates a fresh session).
        return (dict, ())

    # -- logging ------------------------------------------------------------------------------
    def log(self, text):
        line = f"vjbridge: {text}"
        self.messages.append(line)
        self.messages_version += 1
        try:
            self.printer(line)
        except Exception:  # noqa: BLE001 - the textport may be unavailable
            pass

    # -- parameters ---------------------------------------------------------------------------
    def apply(self, values):
        """Act on what changed since the last call (``values`` from vjb_params.read)."""
        old = self.values or {}
        self.values = dict(values)
        port, prefix = values["Port"], values["Prefix"] or "/"
        host = values["Listen"].strip() or "127.0.0.1"
        if self.receiver is None or old.get("Port") != port or old.get("Listen") != values["Listen"]:
            if self.receiver is not None:
                self.receiver.close()
            self.receiver = vjb_receiver.Receiver(host, port, prefix, log=self.log,
                                                  clock=self.clock)
            self.receiver.open()
            if old and old.get("Port") != port and self.daemon.running:
                self.log(f"Port changed to {port}: restarting the daemon to send there")
                self.daemon.restart(values["Executable"], self.daemon_args())
        elif old.get("Prefix") != prefix:
            self.receiver.prefix = prefix
            self.receiver.table.reset()
            self.receiver.info = None
        settings_keys = ("Channels", "Smoothing", "Smoothper", "Silence", "Timeout", "Spectrum")
        if any(old.get(k) != values[k] for k in settings_keys):
            self.settings = vjb_channels.Settings(
                values["Channels"], values["Smoothing"], values["Smoothper"], values["Silence"],
                values["Timeout"], values["Spectrum"])
            if self.settings.bad_overrides:
                self.log("Smoothing per Channel: ignored " + " ".join(self.settings.bad_overrides)
                         + " (use name=seconds)")

    def control_target(self):
        """The control endpoint: the one the daemon announces in _info, else the one we gave the
        daemon we started, else none."""
        info = self.receiver.info if self.receiver is not None else None
        if info is not None and info.control is not None:
            return info.control
        if self.daemon.running and self.values and self.values.get("Controlport"):
            return ("127.0.0.1", int(self.values["Controlport"]))
        return None

    def tuning(self):
        return {vjb_params.TUNING_KEYS[name]: self.values[name]
                for name in vjb_params.TUNING_KEYS if name in self.values}

    # -- pulses -------------------------------------------------------------------------------
    def daemon_args(self):
        v = self.values
        return vjb_daemon.build_args(v["Port"], v["Controlport"] or None, v["Mapping"],
                                     v["Device"], v["Demo"])

    def pulse(self, name):
        """Start / Stop / Restart / Reset; never raises."""
        try:
            if self.values is None:
                return
            if name == "Start":
                if self.daemon.start(self.values["Executable"], self.daemon_args()):
                    self.log(self.daemon.message)
                else:
                    self.log(self.daemon.message)
            elif name == "Stop":
                self.daemon.stop(ask=self.control.stop)
                self.log(self.daemon.message)
            elif name == "Restart":
                self.daemon.restart(self.values["Executable"], self.daemon_args())
                self.log(self.daemon.message)
            elif name == "Reset" and self.receiver is not None:
                self.receiver.table.reset()
                self.receiver.info = None
                self.receiver.dropped = 0
                self.log("channels reset")
        except Exception as exc:  # noqa: BLE001 - never raise into TouchDesigner
            self.log(f"{name} failed: {exc}")

    # -- per frame ----------------------------------------------------------------------------
    def frame(self, frame_id, values):
        """The channels for TouchDesigner frame ``frame_id``; a second cook in the same frame
        returns the same values (a trigger stays 1 for the whole frame)."""
        if frame_id is not None and frame_id == self.last_frame_id:
            return self.last_frame
        self.apply(values)
        before = self.daemon.message
        self.daemon.poll()
        if self.daemon.message != before and self.daemon.proc is None:
            self.log(self.daemon.message)
        self.control.set_target(self.control_target())
        self.control.poll()
        self.control.update(self.tuning())
        chans = self.receiver.frame(self.settings)
        chans.append(("daemon_running", 1.0 if self.daemon.running else 0.0))
        self.last_frame_id = frame_id
        self.last_frame = chans
        return chans

    def status_line(self):
        r = self.receiver
        parts = [r.status if r is not None else "not started"]
        if r is not None and r.info is not None:
            parts.append(f"daemon {r.info.version}, schema {r.info.digest}, "
                         f"{len(r.info.live_signals())} live signals")
        if r is not None and r.genre:
            parts.append(f"genre {r.genre}")
        if r is not None and r.info_error:
            parts.append(f"bad _info: {r.info_error}")
        parts.append(f"daemon: {self.daemon.message}")
        if self.control.last_refusal:
            parts.append(f"refused: {self.control.last_refusal}")
        problems = list(self.control.problems.values())
        if problems:
            parts.append("not sent: " + "; ".join(problems))
        return " | ".join(parts)

    def log_text(self):
        lines = self.daemon.tail() + list(self.messages)
        return "\n".join(lines[-LOG_LINES:])

    def close(self, stop_daemon=True):
        if self.closed:
            return
        self.closed = True
        if stop_daemon:
            self.daemon.stop(wait=True, ask=self.control.stop)
        if self.receiver is not None:
            self.receiver.close()
        self.control.close()
