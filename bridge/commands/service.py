"""``vjbridge service install|uninstall|status``: run the bridge as a systemd service.

Why a command: a gallery machine must start the show at boot and bring it back when it dies or
stalls, without anyone writing a unit file by hand. ``install`` writes a user unit
(``~/.config/systemd/user/vjbridge.service``, the default) or a system unit
(``/etc/systemd/system/vjbridge.service``, ``--system``; the default as root) that runs
``vjbridge run --config FILE`` with the watchdog on (:mod:`bridge.runtime.unit`); when the run
config does not exist yet, a starter one with every key commented is written first, and an invalid
one stops the install with every problem. ``uninstall`` removes the unit (the config stays);
``status`` prints systemctl's view, or one line where there is no systemctl.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HELP = "install, uninstall or show the systemd service (user or system unit with a watchdog)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "uninstall", "status"])
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--user", dest="scope", action="store_const", const="user",
                       help="a user unit, started with the user's session (default unless root; "
                            "`loginctl enable-linger` starts it at boot)")
    scope.add_argument("--system", dest="scope", action="store_const", const="system",
                       help="a system unit in /etc/systemd/system (default as root)")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="the run config the service uses (default: the user's config dir's "
                             "vjbridge/config.yaml, or /etc/vjbridge/config.yaml for --system)")
    parser.add_argument("--run-as", metavar="USER", default=None,
                        help="--system: the user the daemon runs as (default: $SUDO_USER, else "
                             "the current user)")
    parser.add_argument("--unit-dir", metavar="DIR", default=None,
                        help="write the unit here instead of systemd's folder (to inspect it)")
    parser.add_argument("--no-enable", action="store_true",
                        help="install: write the unit only; do not call systemctl")


def _user(args) -> bool:
    if args.scope is not None:
        return args.scope == "user"
    return not (hasattr(os, "geteuid") and os.geteuid() == 0)


def _systemctl(user: bool, *words: str, capture: bool = True) -> subprocess.CompletedProcess | None:
    """``systemctl [--user] WORDS``, or None when there is no systemctl on this machine."""
    exe = shutil.which("systemctl")
    if exe is None:
        return None
    argv = [exe, *(["--user"] if user else []), *words]
    try:
        return subprocess.run(argv, capture_output=capture, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(argv, 1, "", str(exc))


def _first_line(result: subprocess.CompletedProcess) -> str:
    text = (result.stderr or result.stdout or "").strip()
    return text.splitlines()[0] if text else f"exit {result.returncode}"


def _paths(args, user: bool) -> tuple[Path, Path]:
    from bridge.runtime.runconfig import SYSTEM_CONFIG, user_config_path
    from bridge.runtime.unit import UNIT_NAME, unit_dir

    config = Path(args.config).expanduser().absolute() if args.config else (
        user_config_path() if user else SYSTEM_CONFIG)
    folder = Path(args.unit_dir).expanduser().absolute() if args.unit_dir else unit_dir(user)
    return config, folder / UNIT_NAME


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a half-written unit is worse than none)."""
    from bridge.errors import ConfigError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}"
                          + ("; a system unit needs root (sudo)" if exc.errno == 13 else "")) from None


def install(args, user: bool) -> int:
    import grp
    import pwd

    from bridge.runtime.runconfig import load_config, starter_text
    from bridge.runtime.unit import unit_text

    config, unit = _paths(args, user)
    if not config.exists():
        _write(config, starter_text())
        print(f"vjbridge: wrote a starter run config at {config}: edit it, then "
              f"`vjbridge check --config {config}`")
    load_config(config)  # RunConfigError: every problem; nothing installed
    run_as, groups = None, ()
    if not user:
        run_as = args.run_as or os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
        if run_as == "root":
            run_as = None
            print("vjbridge: the system service will run as root; --run-as USER runs it as a "
                  "user in the audio group instead", file=sys.stderr)
        groups = tuple(g for g in ("audio",) if run_as and _group_exists(grp, g))
    _write(unit, unit_text(config, user=user, run_as=run_as, groups=groups))
    print(f"vjbridge: wrote {unit} (runs `vjbridge run --config {config}`, watchdog on)")
    if args.no_enable or args.unit_dir:
        return 0
    scope = "--user " if user else ""
    reload = _systemctl(user, "daemon-reload")
    if reload is None or reload.returncode != 0:
        why = "no systemctl on this machine" if reload is None else _first_line(reload)
        print(f"vjbridge: could not reach systemd ({why}); on a systemd machine run: "
              f"systemctl {scope}daemon-reload && systemctl {scope}enable --now vjbridge")
        return 0
    enabled = _systemctl(user, "enable", "--now", "vjbridge.service")
    if enabled.returncode != 0:
        print(f"vjbridge: systemctl {scope}enable --now vjbridge failed: {_first_line(enabled)}",
              file=sys.stderr)
        return 1
    print(f"vjbridge: enabled and started; `vjbridge service status{' --user' if user else ''}`, "
          f"`journalctl {scope}-u vjbridge -f` for its log"
          + ("; `loginctl enable-linger` starts it at boot without a login" if user else ""))
    return 0


def _group_exists(grp, name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def uninstall(args, user: bool) -> int:
    _, unit = _paths(args, user)
    if not args.unit_dir:
        _systemctl(user, "disable", "--now", "vjbridge.service")  # fails harmlessly when absent
    if not unit.exists():
        print(f"vjbridge: no unit at {unit}; nothing to remove")
        return 0
    try:
        unit.unlink()
    except OSError as exc:
        from bridge.errors import ConfigError

        raise ConfigError(f"cannot remove {unit}: {exc.strerror or exc}") from None
    if not args.unit_dir:
        _systemctl(user, "daemon-reload")
    print(f"vjbridge: removed {unit} (the run config stays)")
    return 0


def status(args, user: bool) -> int:
    _, unit = _paths(args, user)
    where = f"{unit} {'is installed' if unit.exists() else 'is not installed'}"
    result = _systemctl(user, "status", "--no-pager", "vjbridge.service")
    if result is None:
        print(f"vjbridge: no systemctl on this machine; {where}")
        return 0 if unit.exists() else 3
    sys.stdout.write(result.stdout)
    if result.returncode not in (0, 3, 4) or not result.stdout.strip():
        print(f"vjbridge: systemctl: {_first_line(result)}; {where}")
    return result.returncode


def run(args: argparse.Namespace) -> int:
    user = _user(args)
    return {"install": install, "uninstall": uninstall, "status": status}[args.action](args, user)
