"""How log lines look where they go: a terminal, a file or pipe, or systemd's journal.

Why three formats: on a terminal a person reads ``WARNING bridge.x: ...`` as it happens. In a log
file or a pipe (cron, a supervisor, ``nohup``) nothing else records *when*, so each line starts with
an ISO timestamp. Under systemd (``$JOURNAL_STREAM`` names our stderr) the journal stamps every line
itself and reads a ``<N>`` syslog priority prefix, so lines carry that prefix and the level name but no
second timestamp. Rate limiting is not done here: the parts that could flood report through
:mod:`bridge.runtime.events` (one line and a count per repeated message).
"""

from __future__ import annotations

import logging
import os
import sys
import time

#: syslog priorities of the logging levels, for the journal's ``<N>`` prefix (sd-daemon.h)
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


def under_journal(stream=None, environ=None) -> bool:
    """True when ``stream`` (stderr) is the journal stream systemd handed us (``$JOURNAL_STREAM``
    is ``device:inode`` of it; a child that redirected stderr elsewhere is not under the journal)."""
    environ = os.environ if environ is None else environ
    value = environ.get("JOURNAL_STREAM", "")
    stream = sys.stderr if stream is None else stream
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class JournalFormatter(logging.Formatter):
    """``<4>WARNING bridge.x: message``: the journal's priority prefix, no timestamp."""

    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6)
        return "\n".join(f"<{prio}>{line}" for line in super().format(record).splitlines() or [""])


class UtcFormatter(logging.Formatter):
    """``2026-12-01T20:25:10.123Z WARNING bridge.x: message``."""

    converter = time.gmtime

    def formatTime(self, record, datefmt=None):
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + \
            f".{int(record.msecs):03d}Z"


PLAIN = "%(levelname)s %(name)s: %(message)s"


def formatter_for(stream=None, environ=None) -> logging.Formatter:
    """The formatter for ``stream``: journal, terminal (plain) or anything else (timestamped)."""
    stream = sys.stderr if stream is None else stream
    if under_journal(stream, environ):
        return JournalFormatter(PLAIN)
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return logging.Formatter(PLAIN)
    return UtcFormatter("%(asctime)s " + PLAIN)


def configure(level: str, stream=None) -> None:
    """Set up the root logger once, as :func:`logging.basicConfig` would, with the right format."""
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(stream))
    logging.basicConfig(level=level.upper(), handlers=[handler])
