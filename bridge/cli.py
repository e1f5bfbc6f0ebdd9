"""The ``vjbridge`` command: one sub-command per module in :mod:`bridge.commands`.

Why a registry of module paths: ``vjbridge run`` on a gallery machine must start fast and must not
import the training stack, so each command module imports its heavy dependencies inside ``run()``.
A command module provides ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Errors deriving from :class:`~bridge.errors.BridgeError` print one line and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Sub-command name -> module. A name whose module is missing fails loudly at start-up.
COMMANDS: dict[str, str] = {
    "run": "bridge.commands.run",
    "devices": "bridge.commands.devices",
    "features": "bridge.commands.features",
    "bench": "bridge.commands.bench",
    "check": "bridge.commands.check",
    "status": "bridge.commands.status",
    "schema": "bridge.commands.schema",
    "dataset": "bridge.commands.dataset",
    "study": "bridge.commands.study",
    "export": "bridge.commands.export",
    "predict": "bridge.commands.predict",
    "energy": "bridge.commands.energy",
    "corpus": "bridge.commands.corpus",
    "evaluate": "bridge.commands.evaluate",
    "avs": "bridge.commands.avs",
    "service": "bridge.commands.service",
    "render": "bridge.commands.render",
    "cppn": "bridge.commands.cppn",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (a service log reads them), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from bridge import __version__

    parser = OneLineParser(
        prog="vjbridge",
        description="Live music in, learned visual control signals out (OSC, MIDI, DMX, WLED, OS2L, Ableton Link).")
    parser.add_argument("--version", action="version", version=f"vjbridge {__version__}")
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"], help="logging verbosity")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status; for callers inside Python (tests, a host).

    A stop signal during ``run`` arms a watchdog that ends the process 2 s later (the program's
    guarantee; :func:`bridge.runtime.shutdown.arm_exit_deadline`); a caller that goes on living
    must not inherit it, so it is cancelled here once the command has returned."""
    try:
        return _main(argv)[0]
    finally:
        from bridge.runtime.shutdown import cancel_exit_deadline

        cancel_exit_deadline()


def _main(argv: list[str] | None) -> tuple[int, str]:
    """The exit status and the sub-command it ran."""
    parser = build_parser()
    for token in sys.argv[1:] if argv is None else argv:
        if token == "--":  # what follows is positional
            break
        option, eq, value = token.partition("=")
        if token.startswith("--") and eq and value == "--":
            # argparse drops a "--" value and hands the option an empty list
            parser.error(f"argument {option}: expected one argument")
    args = parser.parse_args(argv)
    return _dispatch(args, argv), args.command


def _dispatch(args, argv) -> int:
    from bridge.errors import BridgeError

    args._argv = list(sys.argv[1:] if argv is None else argv)  # for options a config may not override
    from bridge.runtime.logsetup import configure

    configure(args.log_level)  # timestamps when not on a terminal; the journal's own under systemd
    try:
        return int(args._module.run(args) or 0)
    except BridgeError as exc:
        print(f"vjbridge {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `vjbridge schema | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the trace for a report
        import logging
        import traceback

        logging.getLogger("bridge").debug("%s", "".join(traceback.format_exception(exc)))
        print(f"vjbridge {args.command}: internal error: {type(exc).__name__}: {exc} (a bug in "
              f"vjbridge: please report it with what `vjbridge --log-level debug "
              f"{args.command} ...` prints)", file=sys.stderr)
        return 70  # EX_SOFTWARE


#: Commands that end by leaving the process at once, without the interpreter's teardown.
QUICK_EXIT = frozenset({"run"})


def entry() -> None:
    """The ``vjbridge`` program (``main`` is for callers inside Python, such as the tests).

    Why a quick exit for ``run``: once the show has stopped (idle values out, outputs closed,
    summary printed), tearing down the interpreter frees every module, onnxruntime's sessions and
    numpy's arenas, and runs PortAudio's ``atexit`` terminate; measured on a loaded 2-core box
    (load ~10) that took 0.5-3.5 s *after* the stop itself had finished in 0.3 s, past the 2 s a
    stop signal must take. Nothing is left to do by then but flush the logs and the two streams.
    """
    code, command = _main(None)
    if command in QUICK_EXIT:
        import logging
        import os

        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
