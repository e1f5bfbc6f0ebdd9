"""The systemd unit of an unattended install, written from one function.

Why these settings: ``Type=notify`` with ``WatchdogSec=`` makes systemd wait for READY (the first
packet went out) and restart a daemon whose engine stops pinging (:mod:`bridge.runtime.sdnotify`);
``NotifyAccess=main`` accepts those messages from the daemon's own process only;
``Restart=on-failure`` brings it back after a crash, a watchdog kill or a lost device that ended
it. ``TimeoutStopSec=`` is short because the daemon stops within 2 s by design.

Hardening is chosen so audio still works: no ``PrivateDevices`` (ALSA needs ``/dev/snd``), no
``DeviceAllow``/``DevicePolicy`` or options that imply them (``ProtectClock``,
``ProtectKernelLogs``), no ``MemoryDenyWriteExecute`` (PortAudio's cffi callbacks need executable
memory), no ``RestrictRealtime`` (the engine asks for SCHED_FIFO; a system unit's ``LimitRTPRIO``
allows it, a user unit keeps the user's own limits, e.g. the audio group's rtprio);
``AF_UNIX`` stays for PulseAudio, PipeWire and JACK. A user unit gets only what a user manager can
apply without user namespaces.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

UNIT_NAME = "vjbridge.service"
WATCHDOG_S = 10
RESTART_S = 2


def unit_dir(user: bool, environ=None) -> Path:
    """Where systemd looks for a user's units (``~/.config/systemd/user``) or the admin's
    (``/etc/systemd/system``)."""
    environ = os.environ if environ is None else environ
    if not user:
        return Path("/etc/systemd/system")
    xdg = environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".config"
    return base / "systemd" / "user"


def vjbridge_command() -> list[str]:
    """The installed ``vjbridge`` as an absolute command: the console script beside this Python
    (a venv's bin/), else the one on PATH, else ``python -m bridge.cli``."""
    beside = Path(sys.executable).parent / "vjbridge"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("vjbridge")
    if found:
        return [str(Path(found).resolve())]
    return [str(Path(sys.executable).absolute()), "-m", "bridge.cli"]


def _quote(word: str) -> str:
    """A word for ExecStart=: systemd's quoting is close to the shell's; '%' is its specifier."""
    return shlex.quote(word).replace("%", "%%")


def unit_text(config: Path, *, user: bool, command: list[str] | None = None,
              run_as: str | None = None, groups: tuple[str, ...] = (),
              watchdog_s: int = WATCHDOG_S, restart_s: int = RESTART_S) -> str:
    """The unit file's text for a run config at ``config`` (an absolute path)."""
    command = vjbridge_command() if command is None else command
    exec_start = " ".join(_quote(w) for w in [*command, "run", "--config", str(config)])
    after = ("pipewire.service pipewire-pulse.service pulseaudio.service" if user
             else "network-online.target sound.target")
    lines = [
        "# Written by `vjbridge service install`; `vjbridge service uninstall` removes it.",
        "[Unit]",
        "Description=vjbridge: live audio to visual control signals (OSC/MIDI)",
        f"After={after}",
    ]
    if not user:
        lines.append("Wants=network-online.target")
    lines += [
        "StartLimitIntervalSec=60",
        "StartLimitBurst=10",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={exec_start}",
        f"WatchdogSec={watchdog_s}",
        "Restart=on-failure",
        f"RestartSec={restart_s}",
        "TimeoutStartSec=90",
        "TimeoutStopSec=5",
        "Environment=PYTHONUNBUFFERED=1",
        "NoNewPrivileges=yes",
    ]
    if not user:  # a user manager cannot raise limits past the user's own (the unit would fail)
        lines += ["LimitRTPRIO=50", "LimitNICE=-10"]
        if run_as:
            lines.append(f"User={run_as}")
        if groups:
            lines.append(f"SupplementaryGroups={' '.join(groups)}")
        lines += [
            "ProtectSystem=full",
            "ProtectHome=read-only",
            "PrivateTmp=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectControlGroups=yes",
            "RestrictNamespaces=yes",
            "RestrictSUIDSGID=yes",
            "LockPersonality=yes",
            "SystemCallArchitectures=native",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ]
    lines += [
        "",
        "[Install]",
        f"WantedBy={'default.target' if user else 'multi-user.target'}",
        "",
    ]
    return "\n".join(lines)
